/**
 * Feed metadata where clients sent none (docs/design.md, "Feeds"): `GET /v1/podcasts?url=`,
 * and the popularity and public-event answers joined with the `podcasts` read model at read
 * time (what a client sent still wins).
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import type { FeedServer } from '../feeds/feed-server.js';
import { fixture, startFeedServer, xml } from '../feeds/feed-server.js';

describe('podcast metadata from the feeds', function () {
  this.timeout(20_000);
  let service: TestService;
  let server: FeedServer;
  let token: string;
  let feed: string;
  let titled: string;
  const as = () => ({ Authorization: `Bearer ${token}` });
  const post = (events: unknown[]) => service.http.post('/v1/events').set(as()).send({ events });

  before(async () => {
    service = await startTestService({ FEEDS_ALLOW_PRIVATE_NETWORKS: 'true' });
    server = await startFeedServer();
    feed = `${server.origin}/feed.xml`;
    titled = `${server.origin}/titled.xml`;
    server.route('/feed.xml', xml(fixture('rss-podcast.xml')));
    server.route('/titled.xml', xml(fixture('rss-podcast.xml')));
    ({ token } = await service.login('public-listener'));
    const written = await post([
      { type: 'privacy', timestamp: '2026-03-01T00:00:00Z', object: null, data: { privacy: 'public' } },
      // No titles: gpodder clients send only URLs.
      { type: 'subscribe', timestamp: '2026-03-01T00:00:01Z', object: { rss_source_feed: feed }, data: {} },
      {
        type: 'play',
        timestamp: '2026-03-01T00:00:02Z',
        object: { rss_source_feed: feed, rss_source_id: 'fixture-ep-2' },
        data: { played: true, position: 10 },
      },
      // Titles the client sent win over the feed's.
      {
        type: 'play',
        timestamp: '2026-03-01T00:00:03Z',
        object: { rss_source_feed: titled, rss_source_id: 'fixture-ep-2' },
        data: { played: true, position: 10, rss_feed_title: 'My own name', rss_item_title: 'My episode name' },
      },
    ]);
    expect(written.status).to.equal(201);
    for (const url of [feed, titled]) expect(await service.feeds.refresh(url)).to.include({ outcome: 'fetched' });
    await service.settle();
  });
  after(async () => {
    await server.close();
    await service.stop();
  });

  it('GET /v1/podcasts?url= answers the feed and its episodes, newest first', async () => {
    const response = await service.http.get('/v1/podcasts').query({ url: feed, episodes: 2 }).set(as());
    expect(response.status).to.equal(200);
    expect(response.body.podcast).to.include({
      url: feed,
      title: 'Fixture Radio',
      author: 'Ada Fixture',
      podcast_guid: '917393e3-1b1e-5cef-ace4-edaa54e1f810',
      failing: false,
    });
    expect(response.body.podcast.cover).to.deep.equal({
      src: 'https://fixture.example/cover-itunes.jpg',
      srcset: 'https://fixture.example/cover-1500.jpg 1500w, https://fixture.example/cover-600.jpg 600w',
    });
    expect(response.body.podcast).to.not.have.any.keys('subscribers', 'last_error', 'etag');
    expect(response.body.episodes).to.deep.equal([
      {
        guid: 'fixture-ep-2',
        title: 'Episode 2: Second',
        url: 'https://fixture.example/ep2.mp3',
        type: 'audio/mpeg',
        size: 2345678,
        duration: 3723,
        published: '2026-02-03T10:00:00.000Z',
      },
      {
        guid: 'https://fixture.example/ep1',
        title: 'Episode 1: First',
        url: 'https://fixture.example/ep1.mp3',
        type: 'audio/mpeg',
        size: 1234,
        duration: 754,
        published: '2026-02-02T08:30:00.000Z',
      },
    ]);
  });

  it('GET /v1/podcasts: 404 for a feed never fetched, 400 for a bad URL, 401 without a token', async () => {
    expect((await service.http.get('/v1/podcasts').query({ url: 'https://never.example/feed' }).set(as())).status).to.equal(404);
    for (const url of ['file:///etc/passwd', 'not a url', '']) {
      const response = await service.http.get('/v1/podcasts').query({ url }).set(as());
      expect(response.status, url).to.equal(400);
    }
    expect((await service.http.get('/v1/podcasts').query({ url: feed })).status).to.equal(401);
  });

  it('popular podcasts and episodes show the feed titles and cover where clients sent none', async () => {
    const podcasts = (await service.http.get('/v1/popular/podcasts')).body.podcasts as Record<string, unknown>[];
    expect(podcasts.find((podcast) => podcast['rss_source_feed'] === feed)).to.deep.include({
      title: 'Fixture Radio',
      author: 'Ada Fixture',
      cover: {
        src: 'https://fixture.example/cover-itunes.jpg',
        srcset: 'https://fixture.example/cover-1500.jpg 1500w, https://fixture.example/cover-600.jpg 600w',
      },
    });
    expect(podcasts.find((podcast) => podcast['rss_source_feed'] === titled)).to.include({ title: 'My own name' });
    const episodes = (await service.http.get('/v1/popular/episodes')).body.episodes as Record<string, unknown>[];
    expect(episodes.find((episode) => episode['rss_source_feed'] === feed)).to.include({ title: 'Episode 2: Second', feed_title: 'Fixture Radio' });
    expect(episodes.find((episode) => episode['rss_source_feed'] === titled)).to.include({ title: 'My episode name', feed_title: 'My own name' });
  });

  it('public events show the feed titles and cover where clients sent none', async () => {
    const events = (await service.http.get('/v1/public/events')).body.events as {
      type: string;
      object: Record<string, string>;
      data: Record<string, unknown>;
      cover?: unknown;
    }[];
    const subscribe = events.find((event) => event.type === 'subscribe')!;
    expect(subscribe.data).to.include({ rss_feed_title: 'Fixture Radio' });
    expect(subscribe.cover).to.deep.include({ src: 'https://fixture.example/cover-itunes.jpg' });
    const plays = events.filter((event) => event.type === 'play');
    expect(plays.find((event) => event.object['rss_source_feed'] === feed)!.data).to.include({
      rss_feed_title: 'Fixture Radio',
      rss_item_title: 'Episode 2: Second',
    });
    expect(plays.find((event) => event.object['rss_source_feed'] === titled)!.data).to.include({
      rss_feed_title: 'My own name',
      rss_item_title: 'My episode name',
    });
  });
});
