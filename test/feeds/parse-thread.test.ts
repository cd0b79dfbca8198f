/** Feeds read on a thread of their own (src/feeds/parse-thread.ts). */
import { expect } from 'chai';
import { silentLogger } from '../../src/logger.js';
import { FeedParseThread, inlineFeedParser } from '../../src/feeds/parse-thread.js';
import { FeedParseError } from '../../src/feeds/parse.js';
import { fixture } from './feed-server.js';

/** A feed of `episodes` items with show notes: 3,000 make about 7 MB, what large podcasts serve. */
function largeFeed(episodes: number): Buffer {
  const notes = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(40);
  const items = Array.from(
    { length: episodes },
    (_, i) =>
      `<item><title>Episode ${i}</title><guid>ep-${i}</guid><enclosure url="https://cdn.example.com/${i}.mp3" length="1" type="audio/mpeg"/><description><![CDATA[<p>${notes}</p>]]></description></item>`,
  );
  return Buffer.from(`<rss version="2.0"><channel><title>Large</title>${items.join('')}</channel></rss>`);
}

describe('the feed parser thread', function () {
  this.timeout(30_000);
  const threads: FeedParseThread[] = [];
  const started = (heapLimitMb?: number) => {
    const thread = new FeedParseThread(silentLogger(), heapLimitMb === undefined ? {} : { heapLimitMb });
    threads.push(thread);
    return thread;
  };
  after(async () => Promise.all(threads.map((thread) => thread.close())));

  it('reads a feed as the caller’s thread does', async () => {
    const body = Buffer.from(fixture('rss-podcast.xml'));
    expect(await started().parse(body)).to.deep.equal(await inlineFeedParser.parse(body));
  });

  it('refuses what is no feed with the FeedParseError the caller’s thread gives', async () => {
    const thread = started();
    for (const body of ['<rss><channel>', '<html><body>Not here</body></html>', '']) {
      const inline = await inlineFeedParser.parse(Buffer.from(body)).catch((error: unknown) => error);
      const threaded = await thread.parse(Buffer.from(body)).catch((error: unknown) => error);
      expect(threaded, body).to.be.instanceOf(FeedParseError);
      expect((threaded as Error).message).to.equal((inline as Error).message);
    }
  });

  it('leaves the caller’s thread free while it reads a large feed', async () => {
    const body = largeFeed(3_000);
    const thread = started();
    await thread.parse(Buffer.from(fixture('rss-podcast.xml'))); // started
    const order: string[] = [];
    const timer = new Promise<void>((resolve) => setTimeout(() => resolve(void order.push('timer')), 5));
    const read = thread.parse(body).then((facts) => order.push(`read ${facts.episodes.length}`));
    await Promise.all([timer, read]);
    expect(order).to.deep.equal(['timer', 'read 2000']);
    // On the caller's thread, the same read holds the timer until it ends.
    order.length = 0;
    const heldTimer = new Promise<void>((resolve) => setTimeout(() => resolve(void order.push('timer')), 5));
    await inlineFeedParser.parse(body).then(() => order.push('read'));
    await heldTimer;
    expect(order).to.deep.equal(['read', 'timer']);
  });

  it('a feed that takes the thread past its heap fails as malformed; the feeds queued behind it are read on a new thread', async () => {
    const thread = started(32);
    const small = Buffer.from(fixture('rss-podcast.xml'));
    // A million items, an object each: far past 32 MB.
    const items = Buffer.from(`<rss version="2.0"><channel><title>Many</title>${'<item><guid>x</guid></item>'.repeat(1_000_000)}</channel></rss>`);
    const huge = thread.parse(items).catch((error: unknown) => error);
    const queued = [thread.parse(small), thread.parse(small)];
    const failure = await huge;
    expect(failure).to.be.instanceOf(FeedParseError);
    expect((failure as Error).message).to.include('could not be read within 32 MB');
    const expected = await inlineFeedParser.parse(small);
    for (const facts of await Promise.all(queued)) expect(facts).to.deep.equal(expected);
    expect(await thread.parse(small), 'and the next one too').to.deep.equal(expected);
  });

  it('refuses to read once closed', async () => {
    const thread = started();
    await thread.parse(Buffer.from(fixture('rss-podcast.xml')));
    await thread.close();
    await thread.parse(Buffer.from(fixture('rss-podcast.xml'))).then(
      () => expect.fail('read after close'),
      (error: unknown) => expect((error as Error).message).to.equal('the feed parser is closed'),
    );
    await new FeedParseThread(silentLogger()).close(); // never started: nothing to end
  });
});
