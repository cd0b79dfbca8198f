/**
 * The gpodder API with fetched feeds (docs/design.md, "Feeds"):
 * - `GET /api/2/updates/{u}/{device}.json?since=`: the podcast objects carry the feed's title,
 *   description, website and logo; `updates` lists the episodes the subscribed feeds listed
 *   after `since`, and only those;
 * - a native play that names its episode by guid alone reaches gpodder and Nextcloud clients on
 *   the enclosure URL its feed lists for that guid, once the feed is fetched; before, it is left
 *   out (docs/design.md, "What gpodder clients see").
 */
import { expect } from 'chai';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import type { FeedServer } from '../../feeds/feed-server.js';
import { fixture, startFeedServer, xml } from '../../feeds/feed-server.js';
import type { GpodderTestUser } from './support.js';
import { gpodderUser } from './support.js';

describe('gpodder API with fetched feeds', function () {
  this.timeout(20_000);
  let service: TestService;
  let server: FeedServer;
  let user: GpodderTestUser;

  before(async () => {
    service = await startTestService({ FEEDS_ALLOW_PRIVATE_NETWORKS: 'true' });
    server = await startFeedServer();
    user = await gpodderUser(service);
  });
  after(async () => {
    await server.close();
    await service.stop();
  });

  it('lists the episodes published since the cursor, with the feed-filled podcast objects', async () => {
    const feed = `${server.origin}/updates.xml`;
    server.route('/updates.xml', xml(fixture('rss-podcast.xml')));
    const uploaded = await service.http
      .post(`/api/2/subscriptions/${user.username}/phone.json`)
      .set('Authorization', user.basic)
      .send({ add: [feed], remove: [] });
    expect(uploaded.status).to.equal(200);
    await service.feeds.refresh(feed);
    await service.settle();
    const updates = (since: number) => service.http.get(`/api/2/updates/${user.username}/phone.json?since=${since}`).set('Authorization', user.basic);

    const first = await updates(0);
    expect(first.status).to.equal(200);
    expect(first.body.add).to.deep.equal([
      {
        url: feed,
        title: 'Fixture Radio',
        description: 'A fixture podcast & friends',
        website: 'https://fixture.example/',
        logo_url: 'https://fixture.example/cover-itunes.jpg',
        mygpo_link: null,
        subscribers: 0,
        subscribers_last_week: 0,
      },
    ]);
    expect(first.body.updates.map((episode: { url: string }) => episode.url)).to.have.members([
      'https://fixture.example/ep2.mp3',
      'https://fixture.example/ep1.mp3',
      'https://fixture.example/ep0.mp3',
    ]);
    expect(first.body.updates.find((episode: { url: string }) => episode.url === 'https://fixture.example/ep2.mp3')).to.deep.equal({
      title: 'Episode 2: Second',
      url: 'https://fixture.example/ep2.mp3',
      podcast_title: 'Fixture Radio',
      podcast_url: feed,
      description: null,
      website: null,
      mygpo_link: null,
      released: '2026-02-03T10:00:00',
      guid: 'fixture-ep-2',
      status: 'new',
    });

    expect((await updates(first.body.timestamp)).body.updates, 'nothing new yet').to.deep.equal([]);

    server.route(
      '/updates.xml',
      xml(
        fixture('rss-podcast.xml').replace(
          '<item>',
          '<item><title>Episode 3</title><guid>fixture-ep-3</guid><pubDate>Wed, 04 Feb 2026 10:00:00 GMT</pubDate><enclosure url="https://fixture.example/ep3.mp3" type="audio/mpeg"/></item><item>',
        ),
      ),
    );
    await service.feeds.refresh(feed);
    await service.settle();
    const later = await updates(first.body.timestamp);
    expect(later.body.updates.map((episode: { guid: string }) => episode.guid)).to.deep.equal(['fixture-ep-3']);
    expect(later.body.timestamp).to.be.greaterThan(first.body.timestamp);
  });

  it('is left out until the feed lists the guid, then served on its enclosure URL', async () => {
    const feed = `${server.origin}/enclosures.xml`;
    server.route('/enclosures.xml', xml(fixture('rss-podcast.xml')));
    const play = (guid: string) => ({
      type: 'play',
      timestamp: '2026-03-01T00:00:00Z',
      object: { rss_source_feed: feed, rss_source_id: guid },
      data: { played: false, position: 42, device: 'native' },
    });
    const written = await service.http
      .post('/v1/events')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ events: [play('fixture-ep-2'), play('not-in-the-feed')] });
    expect(written.status).to.equal(201);
    const gpodder = async () =>
      (await service.http.get(`/api/2/episodes/${user.username}.json?since=0`).set('Authorization', user.basic)).body.actions as Record<string, unknown>[];
    const nextcloud = async () =>
      (await service.http.get('/index.php/apps/gpoddersync/episode_action?since=0').set('Authorization', user.basic)).body.actions as Record<string, unknown>[];

    expect(await gpodder(), 'before the feed is fetched').to.deep.equal([]);
    expect(await nextcloud()).to.deep.equal([]);

    await service.feeds.refresh(feed);
    await service.settle();
    const actions = await gpodder();
    expect(actions).to.have.length(1);
    expect(actions[0]).to.deep.include({ podcast: feed, episode: 'https://fixture.example/ep2.mp3', guid: 'fixture-ep-2', action: 'play', position: 42 });
    const fromNextcloud = await nextcloud();
    expect(fromNextcloud).to.have.length(1);
    expect(fromNextcloud[0]).to.deep.include({ podcast: feed, episode: 'https://fixture.example/ep2.mp3', guid: 'fixture-ep-2', position: 42 });
  });
});
