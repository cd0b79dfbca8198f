import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { ListenerService } from '../../src/services/listener.js';
import { PublicViews } from '../../src/services/public-views.js';
import { ReadModelService } from '../../src/services/read-models.js';
import { UserEventService } from '../../src/services/user-events.js';

const A = 'https://a.example.com/feed.xml';
const B = 'https://b.example.com/feed.xml';
const C = 'https://c.example.com/feed.xml';

describe('ListenerService and PublicViews (what the pages show)', function () {
  this.timeout(20_000);
  let service: TestService;
  let listener: ListenerService;
  before(async () => {
    service = await startTestService({ DEFAULT_PRIVACY: 'private' });
    const readModels = new ReadModelService(service.stores.eventStore, service.stores.readModel);
    listener = new ListenerService(new UserEventService(service.stores.eventStore), readModels);
  });
  after(async () => service.stop());

  const post = async (token: string, events: unknown[]) => service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events }).expect(201);

  it('overview: current subscriptions only, title or URL, cover from a play, newest plays first, devices with their last sync', async () => {
    const user = await service.login();
    await post(user.token, [
      { type: 'subscribe', timestamp: '2026-01-01T10:00:00Z', object: { rss_source_feed: A }, data: { rss_feed_title: 'Show A', device: 'phone' } },
      { type: 'subscribe', timestamp: '2026-01-01T10:01:00Z', object: { rss_source_feed: B }, data: {} },
      { type: 'subscribe', timestamp: '2026-01-01T10:02:00Z', object: { rss_source_feed: C }, data: {} },
      { type: 'unsubscribe', timestamp: '2026-01-01T10:03:00Z', object: { rss_source_feed: C }, data: { device: 'laptop' } },
      {
        type: 'play',
        timestamp: '2026-01-01T11:00:00Z',
        object: { rss_source_feed: A, rss_source_id: 'a1' },
        data: { played: false, position: 30, enclosure: { duration: 60, cover: { src: 'https://a.example.com/cover.jpg' } } },
      },
      { type: 'play', timestamp: '2026-01-01T12:00:00Z', object: { rss_source_feed: B, rss_source_id: 'b1' }, data: { played: true, position: 10 } },
    ]);
    const overview = await listener.overview(user.userId);
    expect(overview.subscriptions.map((sub) => [sub.feed, sub.title, sub.cover])).to.have.deep.members([
      [A, 'Show A', 'https://a.example.com/cover.jpg'],
      [B, null, null],
    ]);
    expect(overview.recent.map((play) => play.guid)).to.deep.equal(['b1', 'a1']);
    expect(overview.recent[1]).to.include({ position: 30, duration: 60, played: false });
    expect(overview.devices.map((device) => device.id)).to.have.members(['phone', 'laptop']);
    expect(overview.devices.every((device) => typeof device.lastSync === 'string')).to.equal(true);
  });

  it("names a podcast and an episode by a title any event carried: a play's podcast by its subscription, a saved episode by its play", async () => {
    const user = await service.login();
    const episode = { rss_source_feed: A, rss_source_id: 'a1' };
    await post(user.token, [
      { type: 'subscribe', timestamp: '2026-01-03T10:00:00Z', object: { rss_source_feed: A }, data: { rss_feed_title: 'Show A' } },
      { type: 'play', timestamp: '2026-01-03T11:00:00Z', object: episode, data: { played: false, position: 30, rss_item_title: 'Episode one' } },
      { type: 'save', timestamp: '2026-01-03T12:00:00Z', object: episode, data: {} },
      { type: 'save', timestamp: '2026-01-03T12:00:01Z', object: { rss_source_feed: B, rss_source_id: 'b9' }, data: {} },
    ]);
    const overview = await listener.overview(user.userId);
    expect(overview.recent.map((play) => [play.title, play.feedTitle])).to.deep.equal([['Episode one', 'Show A']]);
    expect(overview.playlists.flatMap((playlist) => playlist.items.map((item) => [item.guid, item.title, item.feedTitle]))).to.deep.equal([
      ['a1', 'Episode one', 'Show A'],
      ['b9', null, null],
    ]);
  });

  it("a subscription's last activity outlives retention: its latest play, else its subscription, once its events are gone", async () => {
    const user = await service.login();
    await post(user.token, [
      { type: 'subscribe', timestamp: '2026-01-04T10:00:00Z', object: { rss_source_feed: A }, data: {} },
      { type: 'subscribe', timestamp: '2026-01-04T10:01:00Z', object: { rss_source_feed: B }, data: {} },
      { type: 'play', timestamp: '2026-01-05T09:00:00Z', object: { rss_source_feed: A, rss_source_id: 'a1' }, data: { played: false, position: 30 } },
    ]);
    const recorded = (await listener.overview(user.userId)).subscriptions.map((sub) => sub.lastActivity);
    expect(
      recorded.every((at) => at !== null && at > '2026-06-01'),
      'while the events are there: when they were recorded',
    ).to.equal(true);
    // A pass 60 days on: every event older than 31 days goes, the checkpoint holding the state stays.
    // The pass finds its users through a read model: the projections first.
    await service.settle();
    await service.retention.run(new Date(Date.now() + 60 * 86_400_000));
    const activity = Object.fromEntries((await listener.overview(user.userId)).subscriptions.map((sub) => [sub.feed, sub.lastActivity]));
    expect(activity).to.deep.equal({ [A]: '2026-01-05T09:00:00.000Z', [B]: '2026-01-04T10:01:00.000Z' });
  });

  it("seenOf: exactly the user's public documents, with the username when public and without it when anonymous", async () => {
    const user = await service.login();
    const other = await service.login();
    const views = new PublicViews(service.stores.readModel);
    await post(user.token, [
      { type: 'subscribe', timestamp: '2026-01-02T10:00:00Z', object: { rss_source_feed: A }, data: {} },
      { type: 'subscribe', timestamp: '2026-01-02T10:01:00Z', object: { rss_source_feed: B }, data: {} },
    ]);
    await post(other.token, [
      { type: 'privacy', timestamp: '2026-01-02T09:00:00Z', object: null, data: { privacy: 'public' } },
      { type: 'subscribe', timestamp: '2026-01-02T10:02:00Z', object: { rss_source_feed: C }, data: {} },
    ]);
    await service.settle();
    expect(await views.seenOf(user.userId, 10), 'private by default').to.deep.equal([]);
    await post(user.token, [
      { type: 'privacy', timestamp: '2026-01-02T11:00:00Z', object: null, data: { privacy: 'public' } },
      { type: 'privacy', timestamp: '2026-01-02T11:00:01Z', object: { rss_source_feed: B }, data: { privacy: 'anonymous' } },
    ]);
    await service.settle();
    const seen = await views.seenOf(user.userId, 10);
    expect(seen.map((event) => [(event.object as { rss_source_feed: string }).rss_source_feed, 'user' in event ? event.user : null])).to.deep.equal([
      [B, null],
      [A, user.username],
    ]);
    expect(JSON.stringify(seen)).not.to.include(other.username);
  });
});
