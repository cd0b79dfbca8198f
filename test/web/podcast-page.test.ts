/** A podcast's page (src/web/podcast-page.ts): the feed's facts and episodes, each with how far the listener got. */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import type { FeedServer } from '../feeds/feed-server.js';
import { fixture, startFeedServer, xml } from '../feeds/feed-server.js';
import { WebClient, sendEvents } from './web-client.js';
import { HOSTILE_STRINGS } from '../support/hostile.js';

/** Every byte of the text's UTF-8 percent-encoded (a lone surrogate, which encodeURIComponent refuses, as U+FFFD). */
const percentEncoded = (text: string) => [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');

describe('web pages: a podcast', function () {
  this.timeout(20_000);
  let service: TestService;
  let server: FeedServer;
  let feed: string;
  let other: string;
  const web = () => new WebClient(service.app);
  const pageOf = (url: string) => `/podcast?feed=${encodeURIComponent(url)}`;

  before(async () => {
    service = await startTestService({ FEEDS_ALLOW_PRIVATE_NETWORKS: 'true', DEFAULT_PRIVACY: 'private' });
    server = await startFeedServer();
    feed = `${server.origin}/feed.xml`;
    other = `${server.origin}/other.xml`;
    server.route('/feed.xml', xml(fixture('rss-podcast.xml')));
    server.route('/other.xml', xml(fixture('rss-podcast.xml')));
  });
  after(async () => {
    await server.close();
    await service.stop();
  });

  it("lists the feed's episodes, newest first, each with the listener's play, and the plays the feed does not list", async () => {
    const listener = web();
    await listener.signUp('podcast-listener');
    await sendEvents(service, 'podcast-listener', [
      // As gpodder clients send them: no titles.
      { type: 'subscribe', timestamp: '2026-03-01T00:00:00Z', object: { rss_source_feed: feed }, data: {} },
      // By its guid, half-way, no length sent: the feed's length is used.
      {
        type: 'play',
        timestamp: '2026-03-01T00:01:00Z',
        object: { rss_source_feed: feed, rss_source_id: 'fixture-ep-2' },
        data: { played: false, position: 1800 },
      },
      // By its media URL (a gpodder action without a guid), finished.
      {
        type: 'play',
        timestamp: '2026-03-01T00:02:00Z',
        object: { rss_source_feed: feed, rss_source_id: 'https://fixture.example/ep1.mp3' },
        data: { played: true, position: 754 },
      },
      // An episode the feed no longer lists, with the title the app sent.
      {
        type: 'play',
        timestamp: '2026-03-01T00:03:00Z',
        object: { rss_source_feed: feed, rss_source_id: 'long-gone' },
        data: { played: true, position: 60, rss_item_title: 'An episode from long ago' },
      },
    ]);

    const unread = await listener.get(pageOf(feed));
    expect(unread.status).to.equal(200);
    expect(unread.text).to.include('The server has not read this feed yet');
    const alsoBefore = unread.text.slice(unread.text.indexOf('Also played'));
    for (const played of ['fixture-ep-2', 'https://fixture.example/ep1.mp3', 'An episode from long ago']) expect(alsoBefore, played).to.include(played);

    expect(await service.feeds.refresh(feed)).to.include({ outcome: 'fetched' });
    await service.settle();
    const page = await listener.get(pageOf(feed));
    expect(page.status).to.equal(200);
    expect(page.text).to.include('<h1>Fixture Radio</h1>').and.include('By Ada Fixture').and.include('A fixture podcast &amp; friends');
    expect(page.text).to.include('src="https://fixture.example/cover-itunes.jpg"');
    const episodes = page.text.slice(page.text.indexOf('id="episodes"'), page.text.indexOf('id="other-plays"'));
    const order = ['Episode 2: Second', 'Episode 1: First', 'No guid, only an enclosure'].map((title) => episodes.indexOf(title));
    expect(order.every((at) => at >= 0)).to.equal(true);
    expect([...order].sort((a, b) => a - b)).to.deep.equal(order);
    const card = (title: string) => episodes.slice(episodes.indexOf(title), episodes.indexOf('</li>', episodes.indexOf(title)));
    expect(card('Episode 2: Second')).to.include('30:00 of 1:02:03').and.include('value="1800"').and.not.include('played</strong>');
    expect(card('Episode 1: First')).to.include('12:34 of 12:34').and.include('<strong>played</strong>');
    expect(card('No guid, only an enclosure')).to.include('Not played');
    const also = page.text.slice(page.text.indexOf('id="other-plays"'));
    expect(also).to.include('An episode from long ago').and.not.include('fixture-ep-2').and.not.include('ep1.mp3');
    expect(page.text, 'subscribed: the button unsubscribes').to.include('action="/unsubscribe"');

    // Erasing a play from the page names it as it was recorded (here its media URL); after it, the episode reads unplayed.
    expect(card('Episode 1: First')).to.include('name="guid" value="https://fixture.example/ep1.mp3"');
    expect(card('No guid, only an enclosure'), 'nothing to erase').not.to.include('/data/erase');
    const erased = await listener.submit(pageOf(feed), '/data/erase', { feed, guid: 'https://fixture.example/ep1.mp3', confirm: 'yes' });
    expect(erased.status).to.equal(303);
    await service.settle();
    const after = await listener.get(pageOf(feed));
    const firstAfter = after.text.slice(after.text.indexOf('Episode 1: First'));
    expect(firstAfter.slice(0, firstAfter.indexOf('</li>'))).to.include('Not played');

    const home = await listener.get('/');
    expect(home.text, 'the home page links to it').to.include(`href="${pageOf(feed).replaceAll('&', '&amp;')}"`);
  });

  it('offers to subscribe to a feed the listener is not subscribed to, and shows only their own plays', async () => {
    const stranger = web();
    await stranger.signUp('podcast-stranger');
    const page = await stranger.get(pageOf(feed));
    expect(page.status).to.equal(200);
    expect(page.text).to.include('action="/subscribe"').and.not.include('action="/unsubscribe"');
    expect(page.text, "another listener's plays are not here").not.to.include('30:00 of').and.not.include('<strong>played</strong>');
    expect(page.text).not.to.include('Also played');
    const unknown = await stranger.get(pageOf(other));
    expect(unknown.status).to.equal(200);
    expect(unknown.text).to.include('The server has not read this feed yet');
  });

  it('answers an address that is not a feed with a 400 naming the field, hostile text without a fault, and a visitor signed out with the sign-in page', async () => {
    const visitor = web();
    await visitor.signUp('podcast-visitor');
    for (const bad of ['/podcast', '/podcast?feed=not%20a%20url', '/podcast?feed=ftp%3A%2F%2Fexample.com%2Ffeed']) {
      const answer = await visitor.get(bad);
      expect(answer.status, bad).to.equal(400);
      expect(answer.text, bad).to.include('feed: give the address of a podcast feed');
    }
    // Hostile text as the address, alone and as a feed's path or query: a 4xx, or the page of a
    // feed nobody reads, never a fault.
    for (const hostile of HOSTILE_STRINGS) {
      for (const value of [hostile, `https://feeds.example.com/${hostile}`, `https://feeds.example.com/feed?q=${hostile}`]) {
        const answer = await visitor.get(`/podcast?feed=${percentEncoded(value)}`);
        // (431 from Node's parser for the longest: an address past what it reads.)
        expect(answer.status, value.slice(0, 80)).to.satisfy((status: number) => status === 200 || (status >= 400 && status < 500));
      }
    }
    const repeated = await visitor.get(`/podcast?feed=${encodeURIComponent(feed)}&feed=${encodeURIComponent(other)}`);
    expect(repeated.status, 'the address given twice').to.equal(400);
    const signedOut = await web().get(pageOf(feed));
    expect(signedOut.status).to.equal(303);
    expect(signedOut.headers['location']).to.match(/^\/signin\?next=/);
  });
});
