/**
 * Fetching feeds end to end on the embedded store, against a local server: a subscribed feed
 * becomes due, a fetch lands a `feed_fetched` event in `feed-<hash>` carrying what changed and
 * the `podcasts` read model shows the last state; 304s, failures with backoff (facts kept),
 * malformed XML, timeouts and the cap are recorded failures; a periodic full event truncates
 * the older ones.
 */
import { expect } from 'chai';
import { silentLogger } from '../../src/logger.js';
import type { FeedEvent } from '../../src/domain/feeds.js';
import { feedKey, feedStream, SNAPSHOT_EVERY } from '../../src/domain/feeds.js';
import type { FeedServiceOptions } from '../../src/services/feeds.js';
import { FeedService } from '../../src/services/feeds.js';
import { readStreamOrEmpty } from '../../src/stores/event-store.js';
import { PODCAST_EPISODES, PODCASTS } from '../../projections/podcasts.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import type { FeedServer } from '../feeds/feed-server.js';
import { fixture, startFeedServer, xml } from '../feeds/feed-server.js';

const OPTIONS: FeedServiceOptions = {
  refreshHours: 6,
  concurrency: 4,
  fetcher: { allowPrivateNetworks: true, userAgent: 'podsync-test', connectTimeoutMs: 1000, totalTimeoutMs: 500, maxBytes: 256 * 1024, maxRedirects: 5 },
};

describe('feed service', function () {
  this.timeout(20_000);
  let service: TestService;
  let server: FeedServer;
  let now: Date;
  let feeds: FeedService;

  const streamEvents = async (url: string) =>
    (await readStreamOrEmpty(service.stores.eventStore, feedStream(url))).map((event) => event.data as unknown as FeedEvent);
  const podcast = async (url: string) => {
    await service.settle();
    return service.stores.readModel.get(PODCASTS, feedKey(url));
  };

  before(async () => {
    service = await startTestService({ FEEDS_ALLOW_PRIVATE_NETWORKS: 'true' });
  });
  after(() => service.stop());
  beforeEach(async () => {
    server = await startFeedServer();
    now = new Date('2026-03-01T00:00:00Z');
    feeds = new FeedService(
      service.stores.eventStore,
      service.stores.readModel,
      { ...OPTIONS, purgeTruncated: (stream) => service.stores.embedded!.eventStore!.purgeTruncated(stream) },
      silentLogger(),
      () => now,
    );
  });
  afterEach(() => server.close());

  it('a subscribed feed is due at once; its fetch lands a full event and the podcasts read model shows it', async () => {
    const url = `${server.origin}/subscribed.xml`;
    server.route('/subscribed.xml', xml(fixture('rss-podcast.xml'), '"v1"'));
    const { token } = await service.login();
    const subscribed = await service.http
      .post('/v1/events')
      .set('Authorization', `Bearer ${token}`)
      .send({ events: [{ type: 'subscribe', timestamp: '2026-02-01T00:00:00Z', object: { rss_source_feed: url }, data: {} }] });
    expect(subscribed.status).to.be.oneOf([200, 201]);
    await service.settle();
    // Due from the subscription's recording time on (the store's clock).
    now = new Date(Date.now() + 1000);
    expect(await feeds.due()).to.include(url);

    const summary = await feeds.refreshMany([url]);
    expect(summary).to.include({ due: 1, fetched: 1, failed: 0 });
    const [event] = await streamEvents(url);
    expect(event).to.include({ type: 'feed_fetched' });
    expect(event!.data).to.include({ full: true, etag: '"v1"' });
    const doc = await podcast(url);
    expect(doc).to.include({
      title: 'Fixture Radio',
      author: 'Ada Fixture',
      subscribers: 1,
      failures: 0,
      next_fetch_at: new Date(now.getTime() + 6 * 3600_000).toISOString(),
    });
    expect(await feeds.due(), 'not due again before FEED_REFRESH_HOURS').to.not.include(url);
    const episodes = await service.stores.readModel.find(PODCAST_EPISODES, { where: { feed_key: feedKey(url) } });
    expect(episodes.map(({ doc: episode }) => episode['guid'])).to.have.members([
      'fixture-ep-2',
      'https://fixture.example/ep1',
      'https://fixture.example/ep0.mp3',
    ]);
  });

  it('reads Atom feeds too', async () => {
    const url = `${server.origin}/atom.xml`;
    server.route('/atom.xml', xml(fixture('atom.xml')));
    expect(await feeds.refresh(url)).to.include({ outcome: 'fetched' });
    expect(await podcast(url)).to.include({ title: 'Atom Fixture', author: 'Grace Atom', subscribers: 0 });
  });

  it('a feed that changes: the event carries only what changed; a 304 carries nothing and keeps the validators', async () => {
    const url = `${server.origin}/changing.xml`;
    server.route('/changing.xml', xml(fixture('rss-podcast.xml'), '"v1"'));
    await feeds.refresh(url);
    const changed = fixture('rss-podcast.xml')
      .replace('<title>Fixture Radio</title>', '<title>Fixture Radio, renamed</title>')
      .replace(
        '<item>',
        '<item><title>Episode 3</title><guid>fixture-ep-3</guid><enclosure url="https://fixture.example/ep3.mp3" type="audio/mpeg"/></item><item>',
      );
    server.route('/changing.xml', xml(changed, '"v2"'));
    expect(await feeds.refresh(url)).to.include({ outcome: 'fetched', full: false, changed: true });
    expect(server.requests.at(-1)!.headers['if-none-match']).to.equal('"v1"');
    const second = (await streamEvents(url)).at(-1)!;
    expect(second.type === 'feed_fetched' && second.data).to.deep.include({
      full: false,
      podcast: { title: 'Fixture Radio, renamed' },
      removed: [],
      etag: '"v2"',
    });
    expect(second.type === 'feed_fetched' && second.data.episodes.map((episode) => episode.guid)).to.deep.equal(['fixture-ep-3']);

    expect(await feeds.refresh(url)).to.include({ outcome: 'not_modified' });
    const third = (await streamEvents(url)).at(-1)!;
    expect(third.type === 'feed_fetched' && third.data).to.deep.include({ not_modified: true, podcast: {}, episodes: [], etag: '"v2"' });
    expect(await podcast(url)).to.include({ title: 'Fixture Radio, renamed', etag: '"v2"' });
  });

  it('a feed that disappears: failures recorded with exponential backoff, its facts kept', async () => {
    const url = `${server.origin}/vanishing.xml`;
    server.route('/vanishing.xml', xml(fixture('rss-podcast.xml')));
    await feeds.refresh(url);
    server.route('/vanishing.xml', (_req, res) => res.writeHead(410).end());
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      const outcome = await feeds.refresh(url);
      expect(outcome).to.include({ outcome: 'failed', reason: 'http_status', failures: attempt });
      const last = (await streamEvents(url)).at(-1)!;
      delays.push((Date.parse(last.data.next_fetch_at) - now.getTime()) / 3600_000);
    }
    expect(delays).to.deep.equal([5 / 60, 6, 12, 24]);
    const doc = await podcast(url);
    expect(doc).to.include({ title: 'Fixture Radio', failures: 4 });
    expect(doc!['last_error']).to.include({ error: 'http_status', message: 'HTTP 410' });
    // Back again: the failures reset.
    server.route('/vanishing.xml', xml(fixture('rss-podcast.xml')));
    expect(await feeds.refresh(url)).to.include({ outcome: 'fetched' });
    expect(await podcast(url)).to.include({ failures: 0, last_error: null });
  });

  it('malformed XML, a slow feed, a huge feed and a redirect loop are recorded failures, never crashes', async () => {
    server.route('/malformed.xml', xml(fixture('malformed.xml')));
    server.route('/slow.xml', (_req, res) => void res.writeHead(200).write('<rss>'));
    server.route('/huge.xml', (_req, res) => res.writeHead(200).end(`<rss><channel><title>${'x'.repeat(300 * 1024)}</title></channel></rss>`));
    server.route('/loop.xml', (_req, res) => res.writeHead(302, { Location: '/loop.xml' }).end());
    const expected = { 'malformed.xml': 'malformed', 'slow.xml': 'timeout', 'huge.xml': 'too_large', 'loop.xml': 'too_many_redirects' };
    const summary = await feeds.refreshMany(Object.keys(expected).map((name) => `${server.origin}/${name}`));
    expect(summary).to.include({ due: 4, failed: 4 });
    for (const [name, reason] of Object.entries(expected)) {
      const [event] = await streamEvents(`${server.origin}/${name}`);
      expect(event, name).to.deep.include({ type: 'feed_fetch_failed' });
      expect(event!.data, name).to.include({ error: reason, failures: 1 });
    }
  });

  it('a private address is a recorded failure unless FEEDS_ALLOW_PRIVATE_NETWORKS', async () => {
    const strict = new FeedService(
      service.stores.eventStore,
      service.stores.readModel,
      { ...OPTIONS, fetcher: { ...OPTIONS.fetcher, allowPrivateNetworks: false } },
      silentLogger(),
      () => now,
    );
    server.route('/private.xml', xml(fixture('rss-podcast.xml')));
    expect(await strict.refresh(`${server.origin}/private.xml`)).to.include({ outcome: 'failed', reason: 'refused_address' });
    expect(server.requests).to.have.length(0);
  });

  it(`writes a full event every ${SNAPSHOT_EVERY} events, fetched unconditionally, and truncates the stream before it`, async () => {
    const url = `${server.origin}/steady.xml`;
    server.route('/steady.xml', xml(fixture('rss-podcast.xml'), '"same"'));
    await feeds.refresh(url);
    for (let index = 0; index < SNAPSHOT_EVERY; index++) expect(await feeds.refresh(url)).to.include({ outcome: 'not_modified' });
    expect(await streamEvents(url)).to.have.length(SNAPSHOT_EVERY + 1);
    expect(await feeds.refresh(url)).to.include({ outcome: 'fetched', full: true });
    expect(server.requests.at(-1)!.headers['if-none-match'], 'unconditional').to.equal(undefined);
    const events = await streamEvents(url);
    expect(events).to.have.length(1);
    expect(events[0]!.type === 'feed_fetched' && events[0]!.data.full).to.equal(true);
    const rows = service.stores
      .embedded!.database.prepare('SELECT count(*) AS n FROM events WHERE stream_id = (SELECT id FROM streams WHERE name = ?)')
      .get(feedStream(url)) as { n: number };
    expect(rows.n, 'the truncated events are deleted').to.equal(1);
    expect(await podcast(url)).to.include({ title: 'Fixture Radio' });
  });
});
