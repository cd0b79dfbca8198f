/**
 * The gpodder API and the native API are two views of the same events and read models:
 * gpodder writes show in native reads and native writes in gpodder reads.
 */
import { expect } from 'chai';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import type { GpodderTestUser } from './support.js';
import { action, FEED_A, FEED_B, gpodderUser } from './support.js';

describe('gpodder API ↔ native API', function () {
  let service: TestService;
  let user: GpodderTestUser;
  const bearer = () => `Bearer ${user.token}`;
  const nativeEvents = (events: unknown[]) => service.http.post('/v1/events').set('Authorization', bearer()).send({ events });

  before(async () => {
    service = await startTestService({ DEFAULT_PRIVACY: 'public' });
  });
  after(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    user = await gpodderUser(service);
  });

  it('gpodder subscription changes are native subscribe/unsubscribe events with the device', async () => {
    await service.http
      .post(`/api/2/subscriptions/${user.username}/phone.json`)
      .set('Authorization', user.basic)
      .send({ add: [FEED_A, FEED_B] });
    await service.http
      .post(`/api/2/subscriptions/${user.username}/phone.json`)
      .set('Authorization', user.basic)
      .send({ remove: [FEED_B] });
    const subscriptions = await service.http.get('/v1/subscriptions').set('Authorization', bearer());
    const byFeed = Object.fromEntries(subscriptions.body.subscriptions.map((sub: { rss_source_feed: string }) => [sub.rss_source_feed, sub]));
    expect(byFeed[FEED_A].unsubscribed_at).to.equal(null);
    expect(byFeed[FEED_B].unsubscribed_at > byFeed[FEED_B].subscribed_at).to.equal(true);
    const exported = await service.http.get('/v1/me/export').set('Authorization', bearer());
    const types = exported.body.events.map((event: { type: string; data: { device?: string } }) => [event.type, event.data.device]);
    expect(types).to.deep.include.members([
      ['device', undefined],
      ['subscribe', 'phone'],
      ['unsubscribe', 'phone'],
    ]);
  });

  it('gpodder plays are native play statuses; download/delete/new are recorded events', async () => {
    await service.http
      .post(`/api/2/episodes/${user.username}.json`)
      .set('Authorization', user.basic)
      .send([
        action({ action: 'play', guid: 'g1', started: 0, position: 300, total: 600, device: 'phone' }),
        action({ action: 'play', guid: 'g2', position: 600, total: 600 }),
        action({ guid: 'g1', device: 'phone' }),
      ]);
    const statuses = await service.http.get('/v1/play-statuses').set('Authorization', bearer());
    const byGuid = Object.fromEntries(statuses.body.play_statuses.map((status: { rss_source_id: string }) => [status.rss_source_id, status]));
    expect(byGuid['g1']).to.include({ played: false, position: 300, updated_at: '2026-02-01T10:00:00.000Z' });
    expect(byGuid['g1'].rss_enclosure).to.deep.equal({ url: 'https://cdn.example.com/a/1.mp3' });
    expect(byGuid['g2']).to.include({ played: true, position: 600 });
    const exported = await service.http.get('/v1/me/export').set('Authorization', bearer());
    const download = exported.body.events.find((event: { type: string }) => event.type === 'episode_action');
    expect(download).to.deep.include({ type: 'episode_action', object: { rss_source_feed: FEED_A, rss_source_id: 'g1' } });
    expect(download.data).to.deep.equal({ action: 'download', device: 'phone', enclosure: { url: 'https://cdn.example.com/a/1.mp3' } });
  });

  it("a gpodder `new` (AntennaPod's mark as unplayed) marks the native play status unplayed, and is served as it came", async () => {
    const upload = (actions: unknown[]) => service.http.post(`/api/2/episodes/${user.username}.json`).set('Authorization', user.basic).send(actions);
    await upload([action({ action: 'play', guid: 'g1', position: 600, total: 600, timestamp: '2026-02-01T10:00:00' })]);
    await upload([action({ action: 'NEW', guid: 'g1', timestamp: '2026-02-01T11:00:00' })]);
    const statuses = await service.http.get('/v1/play-statuses').set('Authorization', bearer());
    expect(statuses.body.play_statuses).to.have.length(1);
    expect(statuses.body.play_statuses[0]).to.include({ rss_source_id: 'g1', played: false, position: 0, updated_at: '2026-02-01T11:00:00.000Z' });
    const served = await service.http.get(`/api/2/episodes/${user.username}.json?since=0`).set('Authorization', user.basic);
    expect((served.body.actions as { action: string }[]).map((a) => a.action)).to.deep.equal(['play', 'new']);
  });

  it('native subscriptions and plays show in gpodder reads', async () => {
    const start = await service.http.get(`/api/2/subscriptions/${user.username}/phone.json?since=0`).set('Authorization', user.basic);
    const actionsStart = await service.http.get(`/api/2/episodes/${user.username}.json`).set('Authorization', user.basic);
    expect(
      (
        await nativeEvents([
          { type: 'subscribe', timestamp: '2026-03-01T10:00:00Z', object: { rss_source_feed: FEED_A }, data: { rss_feed_title: 'Show A' } },
          {
            type: 'play',
            timestamp: '2026-03-02T10:00:00Z',
            object: { rss_source_feed: FEED_A, rss_source_id: 'g9' },
            data: { played: false, position: 42.4, enclosure: { url: 'https://cdn.example.com/9.mp3', duration: 1800 }, device: 'web' },
          },
          { type: 'position', timestamp: '2026-03-02T11:00:00Z', object: { rss_source_feed: FEED_A, rss_source_id: 'g9' }, data: { position: 99 } },
        ])
      ).status,
    ).to.equal(201);
    const subs = await service.http.get(`/api/2/subscriptions/${user.username}/phone.json?since=${start.body.timestamp}`).set('Authorization', user.basic);
    expect(subs.body.add).to.deep.equal([FEED_A]);
    const opml = await service.http.get(`/subscriptions/${user.username}.opml`).set('Authorization', user.basic);
    expect(opml.text).to.contain('title="Show A"');
    const actions = await service.http.get(`/api/2/episodes/${user.username}.json?since=${actionsStart.body.timestamp}`).set('Authorization', user.basic);
    expect(actions.body.actions).to.deep.equal(
      [
        {
          podcast: FEED_A,
          episode: 'https://cdn.example.com/9.mp3',
          guid: 'g9',
          device: 'web',
          timestamp: '2026-03-02T10:00:00',
          action: 'play',
          position: 42,
          total: 1800,
        },
        // A position names no media URL: it reads on the one the play made known.
        { podcast: FEED_A, episode: 'https://cdn.example.com/9.mp3', guid: 'g9', timestamp: '2026-03-02T11:00:00', action: 'play', position: 99 },
      ].map((a) => JSON.parse(JSON.stringify(a))),
    );
  });

  it('a native sync and a gpodder device see each other’s changes', async () => {
    const sync = await service.http
      .post('/v1/sync')
      .set('Authorization', bearer())
      .send({
        device: 'native-phone',
        request_id: 'r1',
        subscriptions: [{ rss_source_feed: FEED_B, subscribed_at: '2026-03-01T00:00:00Z' }],
        play_statuses: [
          {
            rss_source_feed: FEED_B,
            rss_source_id: 'b1',
            played: true,
            position: 0,
            updated_at: '2026-03-01T00:00:00Z',
            enclosure: { url: 'https://cdn.example.com/b1.mp3' },
          },
          // No media URL known: gpodder clients would file it under "b2", which is no URL.
          { rss_source_feed: FEED_B, rss_source_id: 'b2', played: false, position: 10, updated_at: '2026-03-01T00:00:00Z' },
        ],
        playlists: [],
      });
    expect(sync.status).to.equal(200);
    const subs = await service.http.get(`/api/2/subscriptions/${user.username}/laptop.json?since=0`).set('Authorization', user.basic);
    expect(subs.body.add).to.deep.equal([FEED_B]);
    const actions = await service.http.get(`/api/2/episodes/${user.username}.json?since=0`).set('Authorization', user.basic);
    // Played reads as position = total, how AntennaPod and gPodder mark an episode finished.
    expect(actions.body.actions).to.have.length(1);
    expect(actions.body.actions[0]).to.include({
      podcast: FEED_B,
      episode: 'https://cdn.example.com/b1.mp3',
      guid: 'b1',
      action: 'play',
      position: 1,
      total: 1,
    });

    await service.http
      .post(`/api/2/subscriptions/${user.username}/laptop.json`)
      .set('Authorization', user.basic)
      .send({ add: [FEED_A], remove: [FEED_B] });
    const next = await service.http
      .post('/v1/sync')
      .set('Authorization', bearer())
      .send({ device: 'native-phone', request_id: 'r2', since: sync.body.since, subscriptions: [], play_statuses: [], playlists: [] });
    const changed = Object.fromEntries(
      next.body.subscriptions.map((sub: { rss_source_feed: string; subscribed_at: string; unsubscribed_at: string | null }) => [
        sub.rss_source_feed,
        sub.unsubscribed_at === null || sub.subscribed_at > sub.unsubscribed_at,
      ]),
    );
    expect(changed).to.deep.equal({ [FEED_A]: true, [FEED_B]: false });
  });

  it('gpodder plays of a public user are public activity, without the device', async () => {
    await service.http
      .post(`/api/2/episodes/${user.username}.json`)
      .set('Authorization', user.basic)
      .send([action({ podcast: 'https://public.example.com/feed.xml', action: 'play', position: 10, device: 'phone' })]);
    await service.settle();
    const events = await service.http.get('/v1/public/events?feed=https://public.example.com/feed.xml');
    expect(events.body.events).to.have.length(1);
    expect(events.body.events[0]).to.include({ type: 'play', user: user.username });
    expect(events.body.events[0].data).not.to.have.property('device');
  });

  it('erasing a feed natively erases it from gpodder reads', async () => {
    await service.http
      .post(`/api/2/subscriptions/${user.username}/phone.json`)
      .set('Authorization', user.basic)
      .send({ add: [FEED_A, FEED_B] });
    await service.http
      .post(`/api/2/episodes/${user.username}.json`)
      .set('Authorization', user.basic)
      .send([action(), action({ podcast: FEED_B, episode: 'https://cdn.example.com/b/1.mp3' })]);
    expect((await nativeEvents([{ type: 'remove', timestamp: '2026-03-05T00:00:00Z', object: { rss_source_feed: FEED_A }, data: {} }])).status).to.equal(201);
    const actions = await service.http.get(`/api/2/episodes/${user.username}.json`).set('Authorization', user.basic);
    expect(actions.body.actions.map((a: { podcast: string }) => a.podcast)).to.deep.equal([FEED_B]);
    const list = await service.http.get(`/subscriptions/${user.username}.json`).set('Authorization', user.basic);
    expect(list.body).to.deep.equal([FEED_B]);
  });
});
