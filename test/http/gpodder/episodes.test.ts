/**
 * Episode actions: upload → `{timestamp, update_urls}`; download `?since=&podcast=&aggregated=` (`device` ignored)
 * → `{actions, timestamp}`; the client quirks (formats, duplicates, late uploads, big uploads).
 */
import { expect } from 'chai';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import { EPISODE_ACTIONS_PAGE } from '../../../src/services/gpodder-episodes.js';
import { actionToEvent, gpodderActionInput, prepareUpload } from '../../../src/domain/gpodder.js';
import { streams } from '../../../src/domain/events.js';
import { toStoreEvent } from '../../../src/services/codec.js';
import type { GpodderTestUser } from './support.js';
import { action, FEED_A, FEED_B, gpodderUser } from './support.js';

interface Action {
  podcast: string;
  episode: string;
  guid?: string;
  device?: string;
  action: string;
  timestamp: string;
  started?: number;
  position?: number;
  total?: number;
}

describe('gpodder API: episode actions', function () {
  let service: TestService;
  let user: GpodderTestUser;
  const upload = (actions: unknown, contentType = 'application/json') =>
    service.http.post(`/api/2/episodes/${user.username}.json`).set('Authorization', user.basic).set('Content-Type', contentType).send(JSON.stringify(actions));
  const download = (query = '') => service.http.get(`/api/2/episodes/${user.username}.json${query}`).set('Authorization', user.basic);

  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    user = await gpodderUser(service);
  });

  it('uploads a list (JSON sent as form-urlencoded) and answers {timestamp, update_urls}', async () => {
    const response = await upload([action(), action({ action: 'play', started: 0, position: 120, total: 500 })], 'application/x-www-form-urlencoded');
    expect(response.status).to.equal(200);
    expect(response.body).to.have.keys(['timestamp', 'update_urls']);
    expect(response.body.timestamp).to.satisfy(Number.isInteger);
    expect(response.body.update_urls).to.deep.equal([]);
  });

  it('accepts plays without a usable position (gPodder: none; AntennaPod: -1/-1/-1), keeps them, never serves them, never lets them move a position', async () => {
    const played = action({ action: 'play', started: 0, position: 300, total: 1200, timestamp: '2026-02-01T10:00:00', device: 'laptop' });
    const later = ['2026-02-01T11:00:00', '2026-02-01T11:05:00'];
    const response = await upload([
      played,
      action({ action: 'play', timestamp: later[0], device: 'gpodder' }),
      action({ action: 'play', started: -1, position: -1, total: -1, timestamp: later[1], device: 'antennapod' }),
    ]);
    expect(response.status, JSON.stringify(response.body)).to.equal(200);
    // Served, AntennaPod would apply them as position -1 s: only the real play is answered.
    const actions = (await download('?since=0')).body.actions as Action[];
    expect(actions).to.have.length(1);
    expect(actions[0]).to.include({ action: 'play', position: 300, device: 'laptop' });
    const exported = await service.http.get('/v1/me/export').set('Authorization', `Bearer ${user.token}`);
    const starts = (exported.body.events as { type: string; data: { action?: string } }[]).filter(
      (event) => event.type === 'episode_action' && event.data.action === 'play',
    );
    expect(starts, 'kept in the history').to.have.length(2);
    const statuses = await service.http.get('/v1/play-statuses').set('Authorization', `Bearer ${user.token}`);
    expect(statuses.body.play_statuses).to.have.length(1);
    expect(statuses.body.play_statuses[0]).to.include({ position: 300, played: false });
  });

  it("reads 0 of a total of 0 as a finish of unknown length (AntennaPod's first sync, GNOME Podcasts), served as position = total", async () => {
    const response = await upload([
      action({ action: 'play', started: 0, position: 300, total: 1200, timestamp: '2026-02-01T10:00:00', device: 'laptop' }),
      action({ action: 'play', started: 0, position: 0, total: 0, timestamp: '2026-02-01T11:00:00', device: 'antennapod' }),
    ]);
    expect(response.status).to.equal(200);
    const actions = (await download('?since=0')).body.actions as Action[];
    expect(actions.map((a) => [a.device, a.position, a.total])).to.deep.equal([
      ['laptop', 300, 1200],
      ['antennapod', 1, 1],
    ]);
    const statuses = await service.http.get('/v1/play-statuses').set('Authorization', `Bearer ${user.token}`);
    expect(statuses.body.play_statuses[0]).to.include({ played: true });
  });

  it('answers actions with gpodder timestamps, lowercase actions, started/position/total only on play', async () => {
    await upload([
      action({ action: 'DOWNLOAD', device: 'phone', position: 5 }),
      action({ action: 'Play', started: 15, position: 120, total: 500, timestamp: '2026-02-01T11:00:00+01:00', guid: 'ep-1' }),
      action({ action: 'delete' }),
      action({ action: 'new', timestamp: '2026-02-01T12:00:00.250Z' }),
    ]);
    const response = await download('?since=0');
    expect(response.status).to.equal(200);
    expect(response.body).to.have.keys(['actions', 'timestamp']);
    const actions = response.body.actions as Action[];
    expect(actions.map((a) => a.action)).to.deep.equal(['download', 'play', 'delete', 'new']);
    for (const a of actions) {
      expect(a.timestamp).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
      if (a.action !== 'play') expect(a).not.to.have.any.keys('started', 'position', 'total');
    }
    expect(actions[0]).to.deep.equal({
      podcast: FEED_A,
      episode: 'https://cdn.example.com/a/1.mp3',
      device: 'phone',
      action: 'download',
      timestamp: '2026-02-01T10:00:00',
    });
    expect(actions[1]).to.deep.equal({
      podcast: FEED_A,
      episode: 'https://cdn.example.com/a/1.mp3',
      guid: 'ep-1',
      action: 'play',
      timestamp: '2026-02-01T10:00:00',
      started: 15,
      position: 120,
      total: 500,
    });
    expect(actions[3]!.timestamp).to.equal('2026-02-01T12:00:00');
  });

  it('an action without a timestamp happened when it was uploaded', async () => {
    const { timestamp: _t, ...untimed } = action();
    await upload([untimed]);
    const [only] = (await download()).body.actions as Action[];
    expect(Date.parse(`${only!.timestamp}Z`)).to.be.closeTo(Date.now(), 60_000);
  });

  it('since is the server sequence: an upload with old action times still reaches a device syncing from an earlier cursor', async () => {
    await upload([action({ timestamp: '2026-03-01T00:00:00' })]);
    const phone = await download('?since=0');
    // Another device uploads late: its action happened long before the phone's last sync.
    await upload([action({ episode: 'https://cdn.example.com/a/old.mp3', timestamp: '2020-01-01T00:00:00', device: 'laptop' })]);
    const next = await download(`?since=${phone.body.timestamp}`);
    expect((next.body.actions as Action[]).map((a) => a.episode)).to.deep.equal(['https://cdn.example.com/a/old.mp3']);
    expect(next.body.timestamp).to.be.greaterThan(phone.body.timestamp);
    expect((await download(`?since=${next.body.timestamp}`)).body.actions).to.deep.equal([]);
  });

  it('ignores exact duplicates, within an upload and across uploads', async () => {
    const play = action({ action: 'play', position: 10, device: 'phone' });
    const first = await upload([play, play, action()]);
    const count = await service.eventCount();
    const again = await upload([play, action()]);
    expect(again.status).to.equal(200);
    expect(await service.eventCount()).to.equal(count);
    expect(again.body.timestamp).to.equal(first.body.timestamp);
    const mixed = await upload([play, action({ action: 'play', position: 11, device: 'phone' })]);
    expect(mixed.status).to.equal(200);
    expect(await service.eventCount()).to.equal(count + 1);
    expect((await download()).body.actions).to.have.length(3);
  });

  it('ignores an action uploaded again from further back than the store recognises retries, while the projector is behind', async () => {
    // No projector: the read model knows none of the actions, only the user's stream does.
    const behind = await startTestService({}, { runProjector: false });
    try {
      const someone = await gpodderUser(behind);
      const send = (actions: unknown) =>
        behind.http
          .post(`/api/2/episodes/${someone.username}.json`)
          .set('Authorization', someone.basic)
          .send(actions as object);
      const episode = (n: number) => action({ episode: `https://cdn.example.com/a/${n}.mp3`, device: 'phone' });
      const early = Array.from({ length: 50 }, (_unused, n) => episode(n));
      expect((await send(early)).status).to.equal(200);
      // More than the stream's last ids the store keeps (RECENT_IDS, 64) after them.
      expect((await send(Array.from({ length: 100 }, (_unused, n) => episode(1000 + n)))).status).to.equal(200);
      const count = await behind.eventCount();
      expect((await send(early)).status).to.equal(200);
      expect(await behind.eventCount(), 'the early actions again: nothing added').to.equal(count);
      expect((await send([...early.slice(0, 5), episode(5000)])).status).to.equal(200);
      expect(await behind.eventCount(), 'with a new one: only it').to.equal(count + 1);
    } finally {
      await behind.stop();
    }
  });

  it('recognises an action stored under its former id (before ids were ordered by time) when it is uploaded again', async () => {
    const play = action({ action: 'play', position: 42 });
    // Stored as the service stored actions before: under the id from the content alone.
    const { actions } = prepareUpload(user.userId, [gpodderActionInput.parse(play)], new Date().toISOString());
    const { formerId, record } = actions[0]!;
    await service.stores.eventStore.append(streams.user(user.userId), [toStoreEvent(actionToEvent(user.userId, formerId, record))]);
    await service.settle();
    const count = await service.eventCount();
    const again = await upload([play]);
    expect(again.status).to.equal(200);
    expect(await service.eventCount(), 'the re-uploaded action is not stored again').to.equal(count);
    expect((await download()).body.actions).to.have.length(1);
  });

  it('creates a device named by actions once, however fast the first uploads come', async () => {
    for (let n = 0; n < 5; n++) await upload([action({ device: 'new-phone', episode: `https://cdn.example.com/a/${n}.mp3` })]);
    const exported = await service.http.get('/v1/me/export').set('Authorization', `Bearer ${user.token}`);
    expect(exported.body.events.filter((event: { type: string }) => event.type === 'device')).to.have.length(1);
    const devices = await service.http.get(`/api/2/devices/${user.username}.json`).set('Authorization', user.basic);
    expect(devices.body).to.deep.equal([{ id: 'new-phone', caption: '', type: 'other', subscriptions: 0 }]);
  });

  it('uses the guid as the episode identity when present', async () => {
    await upload([action({ action: 'play', position: 10, guid: 'guid-1', episode: 'https://cdn.example.com/old-url.mp3' })]);
    await upload([action({ action: 'play', position: 20, guid: 'guid-1', episode: 'https://cdn.example.com/new-url.mp3', timestamp: '2026-02-02T00:00:00' })]);
    const statuses = await service.http.get('/v1/play-statuses').set('Authorization', `Bearer ${user.token}`);
    expect(statuses.body.play_statuses).to.have.length(1);
    expect(statuses.body.play_statuses[0]).to.include({ rss_source_id: 'guid-1', position: 20 });
    const aggregated = await download('?aggregated=true');
    expect((aggregated.body.actions as Action[]).map((a) => [a.episode, a.position])).to.deep.equal([['https://cdn.example.com/new-url.mp3', 20]]);
  });
  it('answers text beyond ASCII as the UTF-8 it was uploaded in, its length counted in bytes', async () => {
    const guid = 'épisode “1” 🎧';
    await upload([action({ action: 'play', position: 10, guid })]);
    for (const answer of [await download(), (await service.settle(), await download()), await download('?aggregated=true')]) {
      expect(answer.headers['content-type']).to.equal('application/json; charset=utf-8');
      expect(Number(answer.headers['content-length'])).to.equal(Buffer.byteLength(JSON.stringify(answer.body)));
      expect((answer.body.actions as Action[]).map((a) => a.guid)).to.deep.equal([guid]);
    }
  });

  it('sanitises URLs: update_urls maps trimmed ones, rejects non-http(s) ones (those actions are not stored)', async () => {
    const response = await upload([action({ podcast: ` ${FEED_A} ` }), action({ episode: 'file:///home/me/x.mp3' })]);
    expect(response.status).to.equal(200);
    expect(response.body.update_urls).to.deep.equal([
      [` ${FEED_A} `, FEED_A],
      ['file:///home/me/x.mp3', ''],
    ]);
    expect((await download()).body.actions).to.have.length(1);
  });

  it('filters by podcast; ignores device (Music Assistant names its own); aggregated keeps the latest action of each episode', async () => {
    await upload([
      action({ device: 'phone', timestamp: '2026-02-01T10:00:00' }),
      action({ action: 'play', position: 50, device: 'laptop', timestamp: '2026-02-01T12:00:00' }),
      action({ podcast: FEED_B, episode: 'https://cdn.example.com/b/1.mp3', device: 'phone' }),
    ]);
    expect(((await download(`?podcast=${encodeURIComponent(FEED_B)}`)).body.actions as Action[]).map((a) => a.podcast)).to.deep.equal([FEED_B]);
    // Every device's actions, whatever device is named, even one that never uploaded or a name no device could have.
    const all = (await download()).body.actions as Action[];
    expect(all).to.have.length(3);
    for (const device of ['laptop', 'music-assistant', 'Music Assistant']) {
      expect((await download(`?device=${encodeURIComponent(device)}`)).body.actions, device).to.deep.equal(all);
    }
    expect(((await download('?since=0&aggregated=true')).body.actions as Action[]).map((a) => [a.podcast, a.action])).to.have.deep.members([
      [FEED_A, 'play'],
      [FEED_B, 'download'],
    ]);
  });

  it('400 naming the field for bad actions or queries, nothing written; never a 500', async () => {
    const before = await service.eventCount();
    const bad = await upload([
      action(),
      action({ action: 'play', position: 'later' }),
      action({ action: 'flattr' }),
      action({ timestamp: 'noon' }),
      action({ device: 'my device' }),
    ]);
    expect(bad.status).to.equal(400);
    expect(bad.body.details.issues.map((issue: { path: string }) => issue.path)).to.include.members(['1.position', '2.action', '3.timestamp', '4.device']);
    for (const body of ['{"podcast":', '"x"', '42']) {
      const response = await service.http.post(`/api/2/episodes/${user.username}.json`).set('Authorization', user.basic).send(body);
      expect(response.status, body).to.equal(400);
    }
    expect((await upload({ not: 'a list' })).status).to.equal(400);
    expect((await download('?since=-1')).status).to.equal(400);
    expect((await download('?aggregated=maybe')).body.details.issues[0].path).to.equal('query.aggregated');
    expect(await service.eventCount()).to.equal(before);
  });

  it('accepts 10,000 actions in one request quickly and atomically, and answers them back in one page, in order', async function () {
    this.timeout(60_000);
    const actions = Array.from({ length: 10_000 }, (_, i) =>
      action({
        podcast: `https://feeds.example.com/show-${i % 40}.xml`,
        episode: `https://cdn.example.com/show-${i % 40}/${i}.mp3`,
        guid: `guid-${i}`,
        action: i % 4 === 0 ? 'download' : 'play',
        ...(i % 4 === 0 ? {} : { started: 0, position: i % 3000, total: 3000 }),
        timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString().slice(0, 19),
        device: 'phone',
      }),
    );
    // Atomic: one bad action at the very end and nothing of the other 9,999 lands.
    const before = await service.eventCount();
    const rejected = await upload([...actions.slice(0, 9_999), action({ action: 'play', total: 'long' })]);
    expect(rejected.status).to.equal(400);
    expect(rejected.body.details.issues[0].path).to.equal('9999.total');
    expect(await service.eventCount()).to.equal(before);

    const started = performance.now();
    const response = await upload(actions);
    const ms = performance.now() - started;
    expect(response.status).to.equal(200);
    expect(ms, `10,000 actions took ${Math.round(ms)} ms`).to.be.lessThan(10_000);
    // 10,000 actions and the device they name, in one append.
    expect(await service.eventCount()).to.equal(before + 10_001);
    // Projecting 10,001 events may take longer than a read waits for them (it then answers 503
    // with Retry-After rather than a page without them): this test is about paging.
    await service.settle();

    // gPodder and AntennaPod download once per sync: one upload's worth comes back in one answer,
    // in upload order, and the next sync from its cursor brings nothing again.
    expect(EPISODE_ACTIONS_PAGE).to.be.at.least(10_000);
    const page = await download('?since=0');
    expect(page.status).to.equal(200);
    expect((page.body.actions as Action[]).map((a) => a.guid)).to.deep.equal(actions.map((a) => a.guid));
    const next = await download(`?since=${page.body.timestamp}`);
    expect(next.body.actions).to.deep.equal([]);
    expect(next.body.timestamp).to.equal(page.body.timestamp);
  });
});

describe('gpodder API: episode-action upload cursors over time', function () {
  let now = Date.UTC(2026, 5, 1, 12);
  let service: TestService;
  let user: GpodderTestUser;
  before(async () => {
    service = await startTestService({}, { clock: () => new Date(now) });
  });
  after(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    user = await gpodderUser(service);
  });
  const episode = (i: number) => `https://cdn.example.com/a/${i}.mp3`;
  const upload = async (i: number) => {
    const response = await service.http
      .post(`/api/2/episodes/${user.username}.json`)
      .set('Authorization', user.basic)
      .send([action({ action: 'play', episode: episode(i), started: 0, position: i + 1, total: 600 })]);
    expect(response.status, JSON.stringify(response.body)).to.equal(200);
    await service.settle();
    return response.body.timestamp as number;
  };
  const episodesSince = async (since: number) =>
    ((await service.http.get(`/api/2/episodes/${user.username}.json?since=${since}`).set('Authorization', user.basic)).body.actions as Action[]).map(
      (served) => served.episode,
    );

  it('answers the newest action recorded more than ten minutes before: what came within the margin is read again, nothing older', async () => {
    const start = now;
    for (let i = 0; i < 40; i++) {
      now = start + i * 60_000;
      await upload(i);
    }
    // Actions recorded at minutes 0..39; at minute 51 the margin starts at minute 41: all are older.
    now = start + 51 * 60_000;
    expect(await episodesSince(await upload(100))).to.deep.equal([episode(100)]);
    // At minute 45, the margin starts at minute 35: minutes 35..39 and the new one are read again.
    for (const [minute, first] of [
      [45, 35],
      [30.5, 21],
      [10.5, 1],
    ] as const) {
      now = start + minute * 60_000;
      const since = await upload(200 + first);
      expect(await episodesSince(since), `at minute ${minute}`).to.deep.equal([
        ...Array.from({ length: 40 - first }, (_, k) => episode(first + k)),
        ...(minute === 45 ? [episode(100)] : minute === 30.5 ? [episode(100), episode(235)] : [episode(100), episode(235), episode(221)]),
        episode(200 + first),
      ]);
    }
  });

  it('answers just before the first event when every action is within the margin', async () => {
    const start = now;
    for (let i = 0; i < 5; i++) {
      now = start + i * 1000;
      await upload(i);
    }
    expect(await episodesSince(await upload(5))).to.deep.equal([0, 1, 2, 3, 4, 5].map(episode));
  });
});
