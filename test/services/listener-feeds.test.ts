/** The listener's home with fetched feeds: what a client sent wins, the feed fills the rest (docs/design.md, "Feeds"). */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import type { FeedServer } from '../feeds/feed-server.js';
import { fixture, startFeedServer, xml } from '../feeds/feed-server.js';
import { ListenerService } from '../../src/services/listener.js';
import { ReadModelService } from '../../src/services/read-models.js';
import { UserEventService } from '../../src/services/user-events.js';

describe('ListenerService with fetched feeds', function () {
  this.timeout(20_000);
  let service: TestService;
  let server: FeedServer;
  before(async () => {
    service = await startTestService({ FEEDS_ALLOW_PRIVATE_NETWORKS: 'true' });
    server = await startFeedServer();
  });
  after(async () => {
    await server.close();
    await service.stop();
  });

  it('shows the feed’s title, cover and episode titles where the apps sent none, and the apps’ own where they did', async () => {
    const feed = `${server.origin}/home.xml`;
    const named = `${server.origin}/named.xml`;
    server.route('/home.xml', xml(fixture('rss-podcast.xml')));
    server.route('/named.xml', xml(fixture('rss-podcast.xml')));
    const user = await service.login();
    const events = [
      { type: 'subscribe', timestamp: '2026-01-01T10:00:00Z', object: { rss_source_feed: feed }, data: {} },
      { type: 'subscribe', timestamp: '2026-01-01T10:00:00Z', object: { rss_source_feed: named }, data: { rss_feed_title: 'My own name' } },
      {
        type: 'play',
        timestamp: '2026-01-01T11:00:00Z',
        object: { rss_source_feed: feed, rss_source_id: 'fixture-ep-2' },
        data: { played: false, position: 30 },
      },
    ];
    await service.http.post('/v1/events').set('Authorization', `Bearer ${user.token}`).send({ events }).expect(201);
    const listener = new ListenerService(
      new UserEventService(service.stores.eventStore),
      new ReadModelService(service.stores.eventStore, service.stores.readModel),
    );
    const before = await listener.overview(user.userId);
    expect(before.subscriptions.find((sub) => sub.feed === feed)).to.include({ title: null, cover: null });

    await service.feeds.refresh(feed);
    await service.feeds.refresh(named);
    await service.settle();
    const after = await listener.overview(user.userId);
    expect(after.subscriptions.find((sub) => sub.feed === feed)).to.include({ title: 'Fixture Radio', cover: 'https://fixture.example/cover-itunes.jpg' });
    expect(after.subscriptions.find((sub) => sub.feed === named)?.title, 'the app’s own title wins').to.equal('My own name');
    expect(after.recent[0]).to.include({ feedTitle: 'Fixture Radio', title: 'Episode 2: Second' });
  });
});
