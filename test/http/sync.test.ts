/** `POST /v1/sync` end to end (docs/design.md, "Sync"): rules, atomicity, retries, concurrency, the cursor. */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { playlistOfDoc, presentPlaylists } from '../../projections/playlists.js';
import { playStatusesProjection } from '../../projections/play-statuses.js';
import { subscriptionsProjection } from '../../projections/subscriptions.js';

const FEED = 'https://sync.example.com/feed.xml';
const OTHER = 'https://sync.example.com/other.xml';
let requests = 0;

interface SyncBody {
  device?: string;
  request_id?: string;
  since?: string;
  subscriptions?: unknown[];
  play_statuses?: unknown[];
  playlists?: unknown[];
  tasks?: unknown[];
}

describe('POST /v1/sync', function () {
  let service: TestService;
  let token: string;
  const sync = (body: SyncBody, as = token) =>
    service.http
      .post('/v1/sync')
      .set('Authorization', `Bearer ${as}`)
      .send({ device: 'phone', request_id: `req-${++requests}`, subscriptions: [], play_statuses: [], playlists: [], ...body });

  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    ({ token } = await service.login());
  });

  it('a first sync lands every record and answers them with a cursor', async () => {
    const response = await sync({
      subscriptions: [{ rss_source_feed: FEED, rss_feed_title: 'Feed', subscribed_at: '2026-04-01T00:00:00Z' }],
      play_statuses: [{ rss_source_feed: FEED, rss_source_id: 'e1', played: true, position: 30, updated_at: '2026-04-02T00:00:00Z' }],
      playlists: [
        {
          id: 'queue',
          name: 'Queue',
          updated_at: '2026-04-03T00:00:00Z',
          items: [{ item_id: 'i1', rss_source_feed: FEED, rss_source_id: 'e1', created_at: '2026-04-03T00:00:00Z', updated_at: '2026-04-03T00:00:00Z' }],
        },
      ],
    });
    expect(response.status).to.equal(200);
    expect(response.body.since).to.match(/^\d+$/);
    expect(response.body.subscriptions).to.have.length(1);
    expect(response.body.play_statuses[0]).to.include({ played: true, position: 30 });
    expect(response.body.playlists[0].items.map((item: { item_id: string }) => item.item_id)).to.deep.equal(['i1']);
    expect(response.body.applied).to.deep.equal({ events: 5, duplicate: false });
  });

  // Subscription rules (docs/design.md, "Sync"), as (server history, client record) → events emitted.
  const at = (day: number) => `2026-05-${String(day).padStart(2, '0')}T00:00:00Z`;
  const cases: { name: string; server: object | null; client: object; emits: number; subscribed: boolean }[] = [
    { name: 'unknown, client subscribed → subscribe', server: null, client: { subscribed_at: at(2) }, emits: 1, subscribed: true },
    {
      name: 'unknown, client unsubscribed → subscribe + unsubscribe',
      server: null,
      client: { subscribed_at: at(2), unsubscribed_at: at(3) },
      emits: 2,
      subscribed: false,
    },
    { name: 'both subscribed, client newer → subscribe', server: { subscribed_at: at(2) }, client: { subscribed_at: at(3) }, emits: 1, subscribed: true },
    { name: 'both subscribed, client older → nothing', server: { subscribed_at: at(3) }, client: { subscribed_at: at(2) }, emits: 0, subscribed: true },
    { name: 'both subscribed, tie → nothing', server: { subscribed_at: at(3) }, client: { subscribed_at: at(3) }, emits: 0, subscribed: true },
    {
      name: 'server unsubscribed, client subscribed later → subscribe',
      server: { subscribed_at: at(1), unsubscribed_at: at(2) },
      client: { subscribed_at: at(3) },
      emits: 1,
      subscribed: true,
    },
    {
      name: 'server unsubscribed, client subscribed earlier → nothing',
      server: { subscribed_at: at(1), unsubscribed_at: at(4) },
      client: { subscribed_at: at(3) },
      emits: 0,
      subscribed: false,
    },
    {
      name: 'both unsubscribed, client newer → unsubscribe',
      server: { subscribed_at: at(1), unsubscribed_at: at(2) },
      client: { subscribed_at: at(1), unsubscribed_at: at(3) },
      emits: 1,
      subscribed: false,
    },
    {
      name: 'server subscribed, client unsubscribed later → unsubscribe',
      server: { subscribed_at: at(2) },
      client: { subscribed_at: at(1), unsubscribed_at: at(3) },
      emits: 1,
      subscribed: false,
    },
    {
      name: 'server subscribed, client unsubscribed earlier → nothing',
      server: { subscribed_at: at(4) },
      client: { subscribed_at: at(1), unsubscribed_at: at(3) },
      emits: 0,
      subscribed: true,
    },
  ];
  for (const testCase of cases) {
    it(`subscriptions: ${testCase.name}`, async () => {
      if (testCase.server) expect((await sync({ subscriptions: [{ rss_source_feed: FEED, ...testCase.server }] })).status).to.equal(200);
      const response = await sync({ subscriptions: [{ rss_source_feed: FEED, ...testCase.client }] });
      expect(response.status).to.equal(200);
      expect(response.body.applied.events - 1, 'events besides the closing sync').to.equal(testCase.emits);
      const listed = await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${token}`);
      const sub = listed.body.subscriptions[0];
      const isSubscribed = sub.unsubscribed_at === null || sub.subscribed_at > sub.unsubscribed_at;
      expect(isSubscribed).to.equal(testCase.subscribed);
    });
  }

  it('play statuses: newer wins, older and equal are ignored', async () => {
    const status = (updated_at: string, position: number) => ({ rss_source_feed: FEED, rss_source_id: 'e1', played: false, position, updated_at });
    await sync({ play_statuses: [status(at(5), 100)] });
    const older = await sync({ play_statuses: [status(at(4), 50)] });
    const equal = await sync({ play_statuses: [status(at(5), 70)] });
    const newer = await sync({ play_statuses: [status(at(6), 200)] });
    expect([older.body.applied.events, equal.body.applied.events, newer.body.applied.events]).to.deep.equal([1, 1, 2]);
    const statuses = await service.http.get('/v1/play-statuses').set('Authorization', `Bearer ${token}`);
    expect(statuses.body.play_statuses[0]).to.include({ position: 200 });
  });

  it('playlist items: tombstones win over older updates and are kept', async () => {
    const playlist = (item: object) => ({
      id: 'p',
      name: 'P',
      updated_at: at(1),
      items: [{ item_id: 'i', rss_source_feed: FEED, rss_source_id: 'e', created_at: at(1), ...item }],
    });
    await sync({ playlists: [playlist({ updated_at: at(1) })] });
    await sync({ playlists: [playlist({ updated_at: at(3), deleted_at: at(3) })] });
    const stale = await sync({ playlists: [playlist({ updated_at: at(2) })] });
    expect(stale.body.applied.events).to.equal(1);
    const lists = await service.http.get('/v1/playlists?include_deleted=true').set('Authorization', `Bearer ${token}`);
    expect(lists.body.playlists[0].items[0].deleted_at).to.equal('2026-05-03T00:00:00.000Z');
    const visible = await service.http.get('/v1/playlists').set('Authorization', `Bearer ${token}`);
    expect(visible.body.playlists[0].items).to.deep.equal([]);
  });

  it('a retried request (same request_id) adds nothing', async () => {
    const body = { request_id: 'retry-me', subscriptions: [{ rss_source_feed: FEED, subscribed_at: at(1) }] };
    const first = await sync(body);
    const count = await service.eventCount();
    const retry = await sync(body);
    expect(first.body.applied).to.deep.equal({ events: 2, duplicate: false });
    expect(retry.status).to.equal(200);
    expect(retry.body.applied).to.deep.equal({ events: 0, duplicate: true });
    expect(await service.eventCount()).to.equal(count);
    expect(retry.body.subscriptions).to.deep.equal(first.body.subscriptions);
  });

  it('two devices syncing at once both land', async () => {
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        sync({ device: `d${i}`, subscriptions: [{ rss_source_feed: `https://sync.example.com/${i}.xml`, subscribed_at: at(1) }] }),
      ),
    );
    expect(responses.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200, 200]);
    const listed = await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${token}`);
    expect(listed.body.subscriptions).to.have.length(6);
  });

  it('the cursor is a server sequence: a late upload with an old timestamp still reaches a device syncing from an earlier cursor', async () => {
    const phone = await sync({ device: 'phone', subscriptions: [{ rss_source_feed: FEED, subscribed_at: at(10) }] });
    const cursor = phone.body.since;
    // The tablet uploads a play from long ago, after the phone's sync.
    await sync({
      device: 'tablet',
      play_statuses: [{ rss_source_feed: OTHER, rss_source_id: 'old', played: true, position: 1, updated_at: '2026-01-01T00:00:00Z' }],
    });
    const again = await sync({ device: 'phone', since: cursor });
    expect(again.body.play_statuses.map((s: { rss_source_id: string }) => s.rss_source_id)).to.deep.equal(['old']);
    expect(again.body.subscriptions).to.deep.equal([]);
    expect(Number(again.body.since)).to.be.greaterThan(Number(cursor));
  });

  it('answers what the read models hold for the records changed after the cursor', async () => {
    const user = await service.login();
    const first = await sync(
      {
        subscriptions: [
          { rss_source_feed: FEED, subscribed_at: at(1) },
          { rss_source_feed: OTHER, subscribed_at: at(1) },
        ],
        play_statuses: [1, 2, 3].map((n) => ({ rss_source_feed: FEED, rss_source_id: `e${n}`, played: false, position: n, updated_at: at(1) })),
        playlists: [
          {
            id: 'q',
            name: 'Q',
            updated_at: at(1),
            items: [{ item_id: 'i1', rss_source_feed: FEED, rss_source_id: 'e1', created_at: at(1), updated_at: at(1) }],
          },
        ],
      },
      user.token,
    );
    // Another device changes some records through the events API. (No `remove`: its erasure
    // writes a checkpoint, after which every record counts as changed.)
    const episode = (guid: string) => ({ rss_source_feed: FEED, rss_source_id: guid });
    const events = await service.http
      .post('/v1/events')
      .set('Authorization', `Bearer ${user.token}`)
      .send({
        events: [
          { type: 'unsubscribe', timestamp: at(2), object: { rss_source_feed: OTHER }, data: {} },
          { type: 'play', timestamp: at(2), object: episode('e2'), data: { played: true, position: 99 } },
          { type: 'position', timestamp: at(2), object: episode('e9'), data: { position: 5 } },
          { type: 'save', timestamp: at(2), object: episode('e2'), data: { playlist: 'q', item_id: 'i2' } },
        ],
      });
    expect(events.status).to.equal(201);
    const again = await sync({ device: 'phone', since: first.body.since }, user.token);
    expect(again.status).to.equal(200);

    await service.settle();
    const store = service.stores.readModel;
    /** The records the documents hold (a play status's feed and guid are in its id alone). */
    const records = async (slice: 'subscriptions' | 'play_statuses', query: { greaterThan?: { field: string; value: number } } = {}) =>
      (await store.find(slice, { where: { user: user.userId }, ...query })).map(({ id, doc }) =>
        (slice === 'subscriptions' ? subscriptionsProjection : playStatusesProjection).recordOfDoc(user.userId, id, doc),
      );
    /** The playlists a document of (the playlist's own, or an item's) changed after the cursor: whole, as a sync answers them. */
    const changedPlaylists = async () => {
      const docs = await store.find('playlists', { where: { user: user.userId } });
      const changed = new Set(docs.filter(({ doc }) => Number(doc['seq']) > Number(first.body.since)).map(({ id }) => playlistOfDoc(user.userId, id)));
      return presentPlaylists(
        user.userId,
        docs.filter(({ id }) => changed.has(playlistOfDoc(user.userId, id))),
        { includeDeleted: true },
      );
    };
    const since = { greaterThan: { field: 'seq', value: Number(first.body.since) } };
    const sorted = (records: object[]) => records.map((record) => JSON.stringify(record, Object.keys(record).sort())).sort();
    expect(sorted(again.body.subscriptions)).to.deep.equal(sorted(await records('subscriptions', since)));
    expect(sorted(again.body.play_statuses)).to.deep.equal(sorted(await records('play_statuses', since)));
    expect(again.body.playlists).to.deep.equal(await changedPlaylists());
    // And what that is: the unsubscribed feed, the changed and the new episode, the playlist.
    expect(again.body.subscriptions.map((sub: { rss_source_feed: string }) => sub.rss_source_feed)).to.deep.equal([OTHER]);
    expect(again.body.play_statuses.map((status: { rss_source_id: string }) => status.rss_source_id).sort()).to.deep.equal(['e2', 'e9']);
    expect(again.body.playlists[0].items.map((item: { item_id: string }) => item.item_id)).to.deep.equal(['i1', 'i2']);

    // A new device (no cursor) gets the user's whole state, as the read models list it.
    const tablet = await sync({ device: 'tablet' }, user.token);
    expect(sorted(tablet.body.subscriptions)).to.deep.equal(sorted(await records('subscriptions')));
    expect(sorted(tablet.body.play_statuses)).to.deep.equal(sorted(await records('play_statuses')));
    expect(tablet.body.play_statuses).to.have.length(4);
  });

  it('applies queued tasks (privacy, remove) with the sync', async () => {
    await sync({ play_statuses: [{ rss_source_feed: FEED, rss_source_id: 'e1', played: true, position: 5, updated_at: at(1) }] });
    const response = await sync({
      tasks: [
        { type: 'remove', timestamp: at(2), object: { rss_source_feed: FEED }, data: {} },
        { type: 'privacy', timestamp: at(2), object: null, data: { privacy: 'public' } },
      ],
    });
    expect(response.status).to.equal(200);
    const statuses = await service.http.get('/v1/play-statuses').set('Authorization', `Bearer ${token}`);
    expect(statuses.body.play_statuses).to.deep.equal([]);
  });

  it('treats playlist and item ids such as "__proto__" and "constructor" as ids like any other', async () => {
    for (const id of ['__proto__', 'constructor', 'toString']) {
      const item = { item_id: id, rss_source_feed: FEED, rss_source_id: 'e1', created_at: at(1), updated_at: at(2) };
      const response = await sync({ playlists: [{ id, name: `list ${id}`, updated_at: at(2), items: [item] }] });
      expect(response.status, id).to.equal(200);
      expect(response.body.applied.events, id).to.equal(3);
    }
    const lists = await service.http.get('/v1/playlists').set('Authorization', `Bearer ${token}`);
    expect(lists.body.playlists.map((list: { id: string; items: { item_id: string }[] }) => [list.id, list.items.map((item) => item.item_id)])).to.deep.equal([
      ['__proto__', ['__proto__']],
      ['constructor', ['constructor']],
      ['toString', ['toString']],
    ]);
    expect(({} as Record<string, unknown>)['name'], 'Object.prototype is untouched').to.equal(undefined);
  });

  it('rejects bad bodies naming the field, writing nothing', async () => {
    const before = await service.eventCount();
    const bad = await sync({ subscriptions: [{ rss_source_feed: 'file:///etc/passwd', subscribed_at: at(1) }] });
    expect(bad.status).to.equal(400);
    expect(bad.body.details.issues[0].path).to.equal('subscriptions.0.rss_source_feed');
    const badSince = await sync({ since: 'yesterday' });
    expect(badSince.status).to.equal(400);
    expect(badSince.body.details.issues[0].path).to.equal('since');
    const duplicate = await sync({
      subscriptions: [
        { rss_source_feed: FEED, subscribed_at: at(1) },
        { rss_source_feed: FEED, subscribed_at: at(2) },
      ],
    });
    expect(duplicate.status).to.equal(400);
    expect(await service.eventCount()).to.equal(before);
  });

  it('keeps users apart', async () => {
    await sync({ subscriptions: [{ rss_source_feed: FEED, subscribed_at: at(1) }] });
    const other = await service.login();
    const response = await sync({}, other.token);
    expect(response.body.subscriptions).to.deep.equal([]);
    expect(response.body.play_statuses).to.deep.equal([]);
  });
});
