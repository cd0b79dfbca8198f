/**
 * A native play that names its episode by guid alone reaches gpodder and Nextcloud clients on
 * the enclosure URL its feed lists for that guid, once the feed is fetched; before, it is left
 * out (docs/design.md, "What gpodder clients see").
 */
import { expect } from 'chai';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import type { FeedServer } from '../../feeds/feed-server.js';
import { fixture, startFeedServer, xml } from '../../feeds/feed-server.js';
import type { GpodderTestUser } from './support.js';
import { gpodderUser } from './support.js';

describe('gpodder API: native plays on their feed enclosure', function () {
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

  it('is left out until the feed lists the guid, then served on its enclosure URL', async () => {
    const feed = `${server.origin}/enclosures.xml`;
    server.route('/enclosures.xml', xml(fixture('rss-podcast.xml')));
    const play = (guid: string) => ({ type: 'play', timestamp: '2026-03-01T00:00:00Z', object: { rss_source_feed: feed, rss_source_id: guid }, data: { played: false, position: 42, device: 'native' } });
    const written = await service.http.post('/v1/events').set('Authorization', `Bearer ${user.token}`).send({ events: [play('fixture-ep-2'), play('not-in-the-feed')] });
    expect(written.status).to.equal(201);
    const gpodder = async () => (await service.http.get(`/api/2/episodes/${user.username}.json?since=0`).set('Authorization', user.basic)).body.actions as Record<string, unknown>[];
    const nextcloud = async () => (await service.http.get('/index.php/apps/gpoddersync/episode_action?since=0').set('Authorization', user.basic)).body.actions as Record<string, unknown>[];

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
