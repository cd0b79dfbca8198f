import { expect } from 'chai';
import fc from 'fast-check';
import type { z } from 'zod';
import type { UserEvent } from '../../src/domain/events.js';
import { userEvent } from '../../src/domain/events.js';
import type { UserState } from '../../src/domain/state.js';
import { episodeKey, fold, isSubscribed } from '../../src/domain/state.js';
import type { SyncRequest } from '../../src/domain/sync.js';
import { DECIDE_STEP, SYNC_LIMITS, decideSync, decideSyncSteps, syncClosingEvent, syncCounts, syncReads, syncRequest } from '../../src/domain/sync.js';
import { NOW, USER, assertWellFormed, deciderSpec, ev, t, testContext, uuidOf, withoutId } from './spec.js';

const FEED = 'https://example.com/feed.xml';
const OTHER = 'https://other.example/rss';
const DEVICE = 'phone';
const spec = deciderSpec(decideSync);

type RequestInput = Partial<z.input<typeof syncRequest>>;

function request(partial: RequestInput = {}): SyncRequest {
  return syncRequest.parse({ device: DEVICE, request_id: 'req-1', subscriptions: [], play_statuses: [], playlists: [], ...partial });
}

const sub = (subscribed_at: string, unsubscribed_at?: string | null) => request({ subscriptions: [{ rss_source_feed: FEED, subscribed_at, unsubscribed_at }] });
const subscribed = (at: string) => ev.subscribe(FEED, at, { device: DEVICE });
const unsubscribed = (at: string) => ev.unsubscribe(FEED, at, { device: DEVICE });

/** After a sync, the same request again emits nothing. */
function assertConverged(state: UserState, req: SyncRequest): void {
  expect(decideSync(state, { ...req, tasks: [] }, testContext())).to.deep.equal([]);
}

describe('decideSync: subscriptions (docs/design.md, "Sync")', () => {
  describe('rule 1: unknown feed', () => {
    it('client subscribed: subscribe at its date, with title and device', () => {
      const req = request({ subscriptions: [{ rss_source_feed: FEED, rss_feed_title: 'Show', subscribed_at: t(5) }] });
      const { state } = spec
        .given([])
        .when(req)
        .then([ev.subscribe(FEED, t(5), { rss_feed_title: 'Show', device: DEVICE })]);
      expect(state.subscriptions[FEED]).to.include({ subscribed_at: t(5), unsubscribed_at: null, rss_feed_title: 'Show' });
      assertConverged(state, req);
    });

    it('client subscribed after an older unsubscribe: subscribe only', () => {
      const { state } = spec
        .given([])
        .when(sub(t(5), t(2)))
        .then([subscribed(t(5))]);
      expect(isSubscribed(state.subscriptions[FEED]!)).to.equal(true);
    });

    it('client unsubscribed: subscribe, then unsubscribe after it', () => {
      const { events, state } = spec
        .given([])
        .when(sub(t(2), t(5)))
        .then([subscribed(t(2)), unsubscribed(t(5))]);
      expect(events.map((event) => event.type)).to.deep.equal(['subscribe', 'unsubscribe']);
      expect(state.subscriptions[FEED]).to.include({ subscribed_at: t(2), unsubscribed_at: t(5) });
      expect(isSubscribed(state.subscriptions[FEED]!)).to.equal(false);
      assertConverged(state, sub(t(2), t(5)));
    });

    it('client tie (subscribed_at = unsubscribed_at) is unsubscribed (the one rule): subscribe, then unsubscribe at the same time', () => {
      const { state } = spec
        .given([])
        .when(sub(t(3), t(3)))
        .then([subscribed(t(3)), unsubscribed(t(3))]);
      expect(isSubscribed(state.subscriptions[FEED]!)).to.equal(false);
      assertConverged(state, sub(t(3), t(3)));
    });
  });

  describe('rule 2: client subscribed', () => {
    describe('server subscribed', () => {
      const given = () => spec.given([ev.subscribe(FEED, t(5), { rss_feed_title: 'Old' })]);
      it('client newer: subscribe (refreshes date and title)', () => {
        const req = request({ subscriptions: [{ rss_source_feed: FEED, rss_feed_title: 'New', subscribed_at: t(6) }] });
        const { state } = given()
          .when(req)
          .then([ev.subscribe(FEED, t(6), { rss_feed_title: 'New', device: DEVICE })]);
        expect(state.subscriptions[FEED]).to.include({ subscribed_at: t(6), rss_feed_title: 'New' });
        assertConverged(state, req);
      });
      it('client older: nothing', () =>
        given()
          .when(sub(t(4)))
          .thenNothing());
      it('tie: nothing', () =>
        given()
          .when(sub(t(5)))
          .thenNothing());
    });

    describe('server unsubscribed', () => {
      const given = () => spec.given([ev.subscribe(FEED, t(1)), ev.unsubscribe(FEED, t(5))]);
      it('client subscribed after the server unsubscribed: subscribe', () => {
        const { state } = given()
          .when(sub(t(6), t(0)))
          .then([subscribed(t(6))]);
        expect(isSubscribed(state.subscriptions[FEED]!)).to.equal(true);
        assertConverged(state, sub(t(6), t(0)));
      });
      it('client subscribed before the server unsubscribed: nothing', () =>
        given()
          .when(sub(t(4)))
          .thenNothing());
      it('tie with the server unsubscribe: nothing', () =>
        given()
          .when(sub(t(5)))
          .thenNothing());
    });
  });

  describe('rule 3: client unsubscribed', () => {
    describe('server unsubscribed', () => {
      const given = () => spec.given([ev.subscribe(FEED, t(1)), ev.unsubscribe(FEED, t(5))]);
      it('client unsubscribed later: unsubscribe (refreshes date)', () => {
        const { state } = given()
          .when(sub(t(1), t(7)))
          .then([unsubscribed(t(7))]);
        expect(state.subscriptions[FEED]).to.include({ subscribed_at: t(1), unsubscribed_at: t(7) });
        assertConverged(state, sub(t(1), t(7)));
      });
      it('client unsubscribed earlier: nothing', () =>
        given()
          .when(sub(t(1), t(4)))
          .thenNothing());
      it('tie: nothing', () =>
        given()
          .when(sub(t(1), t(5)))
          .thenNothing());
    });

    describe('server subscribed', () => {
      const given = () => spec.given([ev.subscribe(FEED, t(5))]);
      it('client unsubscribed after the server subscribed: unsubscribe', () => {
        const { state } = given()
          .when(sub(t(2), t(6)))
          .then([unsubscribed(t(6))]);
        expect(isSubscribed(state.subscriptions[FEED]!)).to.equal(false);
        assertConverged(state, sub(t(2), t(6)));
      });
      it('client unsubscribed before the server subscribed: nothing', () =>
        given()
          .when(sub(t(2), t(4)))
          .thenNothing());
      it('tie with the server subscribe: nothing', () =>
        given()
          .when(sub(t(2), t(5)))
          .thenNothing());
    });
  });

  describe('client tie on a known feed: unsubscribed (the one rule), so rule 3', () => {
    it('server subscribed earlier: unsubscribe', () => {
      const { state } = spec
        .given([ev.subscribe(FEED, t(1))])
        .when(sub(t(3), t(3)))
        .then([unsubscribed(t(3))]);
      expect(isSubscribed(state.subscriptions[FEED]!)).to.equal(false);
      assertConverged(state, sub(t(3), t(3)));
    });
    it('server unsubscribed earlier: unsubscribe (refreshes the date)', () => {
      spec
        .given([ev.subscribe(FEED, t(1)), ev.unsubscribe(FEED, t(2))])
        .when(sub(t(3), t(3)))
        .then([unsubscribed(t(3))]);
    });
    it('server unsubscribed at the same time: nothing', () => {
      spec
        .given([ev.subscribe(FEED, t(1)), ev.unsubscribe(FEED, t(3))])
        .when(sub(t(3), t(3)))
        .thenNothing();
    });
  });

  describe('server with a null subscribed_at (only an unsubscribe was seen)', () => {
    const given = () => spec.given([ev.unsubscribe(FEED, t(5))]);
    it('is treated as unsubscribed: a later client subscribe wins', () => {
      const { state } = given()
        .when(sub(t(6)))
        .then([subscribed(t(6))]);
      expect(state.subscriptions[FEED]).to.include({ subscribed_at: t(6), unsubscribed_at: t(5) });
      assertConverged(state, sub(t(6)));
    });
    it('an earlier client subscribe loses', () =>
      given()
        .when(sub(t(4)))
        .thenNothing());
    it('a later client unsubscribe refreshes the date', () => {
      const { state } = given()
        .when(sub(t(1), t(8)))
        .then([unsubscribed(t(8))]);
      assertConverged(state, sub(t(1), t(8)));
    });
  });

  it('a checkpoint holding neither date counts as older than anything', () => {
    const state: UserState = {
      ...fold([]),
      subscriptions: { [FEED]: { rss_source_feed: FEED, rss_feed_title: null, subscribed_at: null, unsubscribed_at: null, created_at: t(0) } },
    };
    spec
      .given(state)
      .when(sub(t(1)))
      .then([subscribed(t(1))]);
  });

  it('handles several feeds independently, in request order', () => {
    const req = request({
      subscriptions: [
        { rss_source_feed: OTHER, subscribed_at: t(9) },
        { rss_source_feed: FEED, subscribed_at: t(1) },
      ],
    });
    spec
      .given([ev.subscribe(FEED, t(5))])
      .when(req)
      .then([ev.subscribe(OTHER, t(9), { device: DEVICE })]);
  });
});

describe('decideSync: play statuses', () => {
  const GUID = 'episode-1';
  const status = (updated_at: string, extra: Record<string, unknown> = {}) =>
    request({ play_statuses: [{ rss_source_feed: FEED, rss_source_id: GUID, played: true, position: 42, updated_at, ...extra }] });
  const given = () => spec.given([ev.play(FEED, GUID, t(5), { played: false, position: 10, rss_item_title: 'Ep' })]);

  it('unknown episode: play with everything the client sent', () => {
    const enclosure = { url: 'https://cdn.example/ep.mp3', duration: 1800, size: 1234, cover: { src: 'https://cdn.example/c.jpg' } };
    const req = status(t(3), { rss_feed_title: 'Show', rss_item_title: 'Ep 1', enclosure });
    const { state } = spec
      .given([])
      .when(req)
      .then([ev.play(FEED, GUID, t(3), { played: true, position: 42, rss_feed_title: 'Show', rss_item_title: 'Ep 1', enclosure, device: DEVICE })]);
    expect(state.play_statuses[episodeKey(FEED, GUID)]).to.deep.include({ played: true, position: 42, updated_at: t(3), rss_enclosure: enclosure });
    assertConverged(state, req);
  });

  it('client newer: play; the fold keeps the title the client did not send', () => {
    const { state } = given()
      .when(status(t(6)))
      .then([ev.play(FEED, GUID, t(6), { played: true, position: 42, device: DEVICE })]);
    expect(state.play_statuses[episodeKey(FEED, GUID)]).to.include({ played: true, position: 42, rss_item_title: 'Ep' });
    assertConverged(state, status(t(6)));
  });
  it('client older: nothing', () =>
    given()
      .when(status(t(4)))
      .thenNothing());
  it('equal: nothing', () =>
    given()
      .when(status(t(5)))
      .thenNothing());
  it('null optional fields are accepted and left out of the event', () => {
    spec
      .given([])
      .when(status(t(1), { rss_feed_title: null, rss_item_title: null, enclosure: null }))
      .then([ev.play(FEED, GUID, t(1), { played: true, position: 42, device: DEVICE })]);
  });
  it('a position-only update on the server counts by its date', () => {
    spec
      .given([ev.position(FEED, GUID, t(7), 99)])
      .when(status(t(6)))
      .thenNothing();
  });
});

describe('decideSync: playlists and items', () => {
  const G1 = 'guid-1';
  const G2 = 'guid-2';
  type PlaylistInput = z.input<typeof syncRequest>['playlists'][number];
  type ItemInput = PlaylistInput['items'][number];
  const item = (item_id: string, guid: string, updated_at: string, extra: Partial<ItemInput> = {}): ItemInput => ({
    item_id,
    rss_source_feed: FEED,
    rss_source_id: guid,
    created_at: t(1),
    updated_at,
    ...extra,
  });
  const playlist = (updated_at: string, items: ItemInput[] = [], extra: Partial<PlaylistInput> = {}) =>
    request({ playlists: [{ id: 'p1', name: 'Commute', created_at: t(1), updated_at, items, ...extra }] });
  const playlistEvent = (at: string, action: 'upsert' | 'delete' = 'upsert', name = 'Commute') =>
    ev.playlist(at, { playlist_id: 'p1', action, name, created_at: t(1) });
  const saveEvent = (itemId: string, guid: string, at: string, removed = false) =>
    ev.save(FEED, guid, at, { playlist: 'p1', item_id: itemId, created_at: t(1), removed });
  const serverPlaylist = () => [
    ev.playlist(t(5), { playlist_id: 'p1', action: 'upsert', name: 'Server name', created_at: t(1) }),
    ev.save(FEED, G1, t(5), { playlist: 'p1', item_id: 'i1', created_at: t(1) }),
  ];

  it('unknown playlist: the playlist event, then its items', () => {
    const req = playlist(t(3), [item('i1', G1, t(2)), item('i2', G2, t(3), { item_title: 'Two' })], { description: 'Daily' });
    const { state } = spec
      .given([])
      .when(req)
      .then([
        ev.playlist(t(3), { playlist_id: 'p1', action: 'upsert', name: 'Commute', description: 'Daily', created_at: t(1) }),
        saveEvent('i1', G1, t(2)),
        ev.save(FEED, G2, t(3), { playlist: 'p1', item_id: 'i2', item_title: 'Two', created_at: t(1), removed: false }),
      ]);
    expect(state.playlists['p1']).to.include({ name: 'Commute', description: 'Daily', created_at: t(1), updated_at: t(3), deleted_at: null });
    expect(Object.keys(state.playlists['p1']!.items)).to.deep.equal(['i1', 'i2']);
    assertConverged(state, req);
  });

  it('client playlist newer: upsert (rename)', () => {
    const { state } = spec
      .given(serverPlaylist())
      .when(playlist(t(6)))
      .then([playlistEvent(t(6))]);
    expect(state.playlists['p1']).to.include({ name: 'Commute', updated_at: t(6) });
  });
  it('client playlist older or equal: nothing', () => {
    spec
      .given(serverPlaylist())
      .when(playlist(t(4)))
      .thenNothing();
    spec
      .given(serverPlaylist())
      .when(playlist(t(5)))
      .thenNothing();
  });

  it('client deleted the playlist later: delete; the server keeps a tombstone', () => {
    const req = playlist(t(6), [], { deleted_at: t(6) });
    const { state } = spec
      .given(serverPlaylist())
      .when(req)
      .then([playlistEvent(t(6), 'delete')]);
    expect(state.playlists['p1']).to.include({ deleted_at: t(6), updated_at: t(6) });
    expect(state.playlists['p1']!.items).to.have.key('i1');
    assertConverged(state, req);
  });

  it('a deletion stamped after updated_at is dated by deleted_at', () => {
    const req = playlist(t(4), [], { deleted_at: t(7) });
    const { state } = spec
      .given(serverPlaylist())
      .when(req)
      .then([playlistEvent(t(7), 'delete')]);
    assertConverged(state, req);
  });

  it('a playlist the server never saw can arrive as a tombstone, with its name', () => {
    const { state } = spec
      .given([])
      .when(playlist(t(2), [], { deleted_at: t(2) }))
      .then([playlistEvent(t(2), 'delete')]);
    expect(state.playlists['p1']).to.include({ name: 'Commute', deleted_at: t(2) });
  });

  it('a newer client playlist resurrects a tombstoned one', () => {
    const given = [...serverPlaylist(), ev.playlist(t(6), { playlist_id: 'p1', action: 'delete' })];
    const { state } = spec
      .given(given)
      .when(playlist(t(7)))
      .then([playlistEvent(t(7))]);
    expect(state.playlists['p1']!.deleted_at).to.equal(null);
  });

  describe('items (compared one by one, even when the playlist record is older)', () => {
    it('newer item: save', () => {
      const { state } = spec
        .given(serverPlaylist())
        .when(playlist(t(4), [item('i1', G1, t(6))]))
        .then([saveEvent('i1', G1, t(6))]);
      expect(state.playlists['p1']!.items['i1']).to.include({ updated_at: t(6), deleted_at: null });
    });
    it('older or equal item: nothing', () => {
      spec
        .given(serverPlaylist())
        .when(playlist(t(4), [item('i1', G1, t(4))]))
        .thenNothing();
      spec
        .given(serverPlaylist())
        .when(playlist(t(4), [item('i1', G1, t(5))]))
        .thenNothing();
    });
    it('unknown item: save', () => {
      spec
        .given(serverPlaylist())
        .when(playlist(t(4), [item('i2', G2, t(1))]))
        .then([saveEvent('i2', G2, t(1))]);
    });

    describe('tombstones', () => {
      const deleted = () => [...serverPlaylist(), ev.save(FEED, G1, t(8), { playlist: 'p1', item_id: 'i1', removed: true })];

      it('a client deletion: save removed; the item stays as a tombstone', () => {
        const req = playlist(t(4), [item('i1', G1, t(7), { deleted_at: t(7) })]);
        const { state } = spec
          .given(serverPlaylist())
          .when(req)
          .then([saveEvent('i1', G1, t(7), true)]);
        expect(state.playlists['p1']!.items['i1']).to.include({ deleted_at: t(7), updated_at: t(7) });
        assertConverged(state, req);
      });
      it('an older client update of a tombstoned item does not resurrect it', () => {
        spec
          .given(deleted())
          .when(playlist(t(4), [item('i1', G1, t(7))]))
          .thenNothing();
      });
      it('an equal client update does not resurrect it either', () => {
        spec
          .given(deleted())
          .when(playlist(t(4), [item('i1', G1, t(8))]))
          .thenNothing();
      });
      it('a newer client update resurrects it', () => {
        const { state } = spec
          .given(deleted())
          .when(playlist(t(4), [item('i1', G1, t(9))]))
          .then([saveEvent('i1', G1, t(9))]);
        expect(state.playlists['p1']!.items['i1']!.deleted_at).to.equal(null);
      });
      it('a client tombstone dated by deleted_at after updated_at', () => {
        const req = playlist(t(4), [item('i1', G1, t(6), { deleted_at: t(9) })]);
        const { state } = spec
          .given(deleted())
          .when(req)
          .then([saveEvent('i1', G1, t(9), true)]);
        assertConverged(state, req);
      });
    });
  });
});

describe('decideSync: tasks', () => {
  const privacyTask = (id: number, at: string, privacy: 'public' | 'anonymous' | 'private') => ({
    id: uuidOf(id),
    type: 'privacy' as const,
    timestamp: at,
    object: null,
    data: { privacy },
  });
  const removeTask = (id: number, at: string) => ({ id: uuidOf(id), type: 'remove' as const, timestamp: at, object: { rss_source_feed: FEED }, data: {} });

  it('are emitted first, in timestamp order, stable on ties, keeping their ids', () => {
    const req = request({
      tasks: [privacyTask(1, t(9), 'private'), privacyTask(2, t(3), 'public'), privacyTask(3, t(9), 'anonymous'), privacyTask(4, t(1), 'private')],
      subscriptions: [{ rss_source_feed: OTHER, subscribed_at: t(2) }],
    });
    const { events, state } = spec
      .given([])
      .when(req)
      .then([
        ev.privacy(t(1), 'private'),
        ev.privacy(t(3), 'public'),
        ev.privacy(t(9), 'private'),
        ev.privacy(t(9), 'anonymous'),
        ev.subscribe(OTHER, t(2), { device: DEVICE }),
      ]);
    expect(events.slice(0, 4).map((event) => event.id)).to.deep.equal([uuidOf(4), uuidOf(2), uuidOf(1), uuidOf(3)]);
    expect(state.privacy.account).to.equal('anonymous');
  });

  it('a task without an id gets a fresh one', () => {
    const { id: _id, ...task } = privacyTask(1, t(1), 'public');
    const { events } = spec
      .given([])
      .when(request({ tasks: [task] }))
      .then([ev.privacy(t(1), 'public')]);
    expect(events[0]!.id).to.not.equal(uuidOf(1));
  });

  it('the diff is computed against the state the tasks leave: remove, then the client data is re-added', () => {
    const given = [ev.subscribe(FEED, t(1)), ev.play(FEED, 'g', t(2), { played: true, position: 5 })];
    const req = request({ tasks: [removeTask(1, t(3))], subscriptions: [{ rss_source_feed: FEED, subscribed_at: t(4) }] });
    const { state } = spec
      .given(given)
      .when(req)
      .then([ev.remove(t(3), { rss_source_feed: FEED }), ev.subscribe(FEED, t(4), { device: DEVICE })]);
    expect(state.subscriptions[FEED]).to.include({ subscribed_at: t(4) });
    expect(state.play_statuses).to.deep.equal({});
    assertConverged(state, req);
  });

  it('a client record the server already has is re-added after a remove of its scope', () => {
    const req = request({ tasks: [removeTask(1, t(3))], subscriptions: [{ rss_source_feed: FEED, subscribed_at: t(1) }] });
    spec
      .given([ev.subscribe(FEED, t(1))])
      .when(req)
      .then([ev.remove(t(3), { rss_source_feed: FEED }), ev.subscribe(FEED, t(1), { device: DEVICE })]);
  });
});

describe('syncClosingEvent and syncCounts', () => {
  it('counts the events of a sync per category and builds the closing event', () => {
    const req = request({
      subscriptions: [{ rss_source_feed: FEED, subscribed_at: t(1), unsubscribed_at: t(2) }],
      play_statuses: [{ rss_source_feed: FEED, rss_source_id: 'g', played: false, position: 1, updated_at: t(1) }],
      playlists: [
        { id: 'p', name: 'P', updated_at: t(1), items: [{ item_id: 'i', rss_source_feed: FEED, rss_source_id: 'g', created_at: t(1), updated_at: t(1) }] },
      ],
      tasks: [{ type: 'privacy', timestamp: t(1), object: null, data: { privacy: 'public' } }],
    });
    const ctx = testContext();
    const events = decideSync(fold([]), req, ctx);
    const counts = syncCounts(events);
    expect(counts).to.deep.equal({ subscriptions: 2, play_statuses: 1, playlists: 2, tasks: 1 });
    const closing = syncClosingEvent(req, counts, ctx);
    assertWellFormed([...events, closing]);
    expect(withoutId(closing)).to.deep.equal({
      user: USER,
      timestamp: NOW,
      type: 'sync',
      object: null,
      data: { device: DEVICE, request_id: 'req-1', counts },
    });
  });
});

describe('decideSyncSteps (a long sync decided in steps)', () => {
  const statuses = (count: number) =>
    Array.from({ length: count }, (_, i) => ({ rss_source_feed: FEED, rss_source_id: `g${i}`, played: false, position: i, updated_at: t(1) }));
  const items = (count: number) =>
    Array.from({ length: count }, (_, i) => ({ item_id: `i${i}`, rss_source_feed: FEED, rss_source_id: `g${i}`, created_at: t(1), updated_at: t(1) }));

  it(`pauses after every ${DECIDE_STEP} records compared (a playlist's items each count) and decides what decideSync decides`, () => {
    const req = request({
      play_statuses: statuses(2 * DECIDE_STEP + 500),
      playlists: [{ id: 'queue', name: 'Queue', updated_at: t(1), items: items(DECIDE_STEP) }],
    });
    const given = fold([ev.play(FEED, 'g1', t(2), { played: true, position: 5, device: DEVICE })]);
    const steps = decideSyncSteps(given, req, testContext());
    let pauses = 0;
    let next = steps.next();
    for (; !next.done; next = steps.next()) pauses++;
    // Two pauses among the statuses, one in the playlist that takes the count past 3 steps.
    expect(pauses).to.equal(3);
    expect(next.value).to.deep.equal(decideSync(given, req, testContext()));
    // The status the server holds newer is not emitted: the steps compare against the state.
    expect(next.value.filter((event) => event.type === 'play')).to.have.length(2 * DECIDE_STEP + 499);
  });
});

describe('syncRequest schema', () => {
  const base = { device: DEVICE, request_id: 'r', subscriptions: [], play_statuses: [], playlists: [] };
  const issues = (input: unknown) => {
    const result = syncRequest.safeParse(input);
    expect(result.success, 'expected the request to be rejected').to.equal(false);
    return result.error!.issues.map((issue) => ({ path: issue.path, message: issue.message }));
  };
  const subscription = { rss_source_feed: FEED, subscribed_at: t(1) };
  const status = { rss_source_feed: FEED, rss_source_id: 'g', played: true, position: 0, updated_at: t(1) };

  it('accepts a minimal request and defaults tasks to none', () => {
    expect(syncRequest.parse(base).tasks).to.deep.equal([]);
  });

  it('normalises timestamps to UTC', () => {
    const parsed = syncRequest.parse({ ...base, subscriptions: [{ rss_source_feed: FEED, subscribed_at: '2026-01-01T02:00:00+02:00' }] });
    expect(parsed.subscriptions[0]!.subscribed_at).to.equal('2026-01-01T00:00:00.000Z');
  });

  it('rejects the same feed twice, naming the duplicate', () => {
    const found = issues({ ...base, subscriptions: [subscription, { ...subscription, subscribed_at: t(2) }] });
    expect(found).to.have.length(1);
    expect(found[0]!.path).to.deep.equal(['subscriptions', 1, 'rss_source_feed']);
    expect(found[0]!.message).to.match(/duplicate rss_source_feed.*index 0/);
  });

  it('counts feeds as equal after trimming', () => {
    expect(issues({ ...base, subscriptions: [subscription, { ...subscription, rss_source_feed: ` ${FEED} ` }] })[0]!.path).to.deep.equal([
      'subscriptions',
      1,
      'rss_source_feed',
    ]);
  });

  it('rejects the same episode twice but accepts the same guid in two feeds', () => {
    expect(issues({ ...base, play_statuses: [status, status] })[0]!.path).to.deep.equal(['play_statuses', 1, 'rss_source_id']);
    expect(syncRequest.safeParse({ ...base, play_statuses: [status, { ...status, rss_source_feed: OTHER }] }).success).to.equal(true);
  });

  it('rejects the same playlist twice and the same item twice in a playlist', () => {
    const item = { item_id: 'i', rss_source_feed: FEED, rss_source_id: 'g', created_at: t(1), updated_at: t(1) };
    const playlist = { id: 'p', name: 'P', updated_at: t(1), items: [] };
    expect(issues({ ...base, playlists: [playlist, playlist] })[0]!.path).to.deep.equal(['playlists', 1, 'id']);
    expect(issues({ ...base, playlists: [{ ...playlist, items: [item, item] }] })[0]!.path).to.deep.equal(['playlists', 0, 'items', 1, 'item_id']);
  });

  it('rejects two tasks with the same id', () => {
    const task = { id: uuidOf(1), type: 'privacy', timestamp: t(1), object: null, data: { privacy: 'public' } };
    expect(issues({ ...base, tasks: [task, task] })[0]!.path).to.deep.equal(['tasks', 1, 'id']);
  });

  it('accepts only privacy and remove as tasks', () => {
    const play = { type: 'play', timestamp: t(1), object: { rss_source_feed: FEED, rss_source_id: 'g' }, data: { played: true, position: 0 } };
    expect(issues({ ...base, tasks: [play] })[0]!.path).to.deep.equal(['tasks', 0, 'type']);
  });

  it('rejects unknown keys at every level', () => {
    expect(issues({ ...base, extra: 1 })[0]!.path).to.deep.equal([]);
    expect(issues({ ...base, subscriptions: [{ ...subscription, extra: 1 }] })[0]!.path).to.deep.equal(['subscriptions', 0]);
  });

  it('names the bad field', () => {
    expect(issues({ ...base, play_statuses: [{ ...status, position: -1 }] })[0]!.path).to.deep.equal(['play_statuses', 0, 'position']);
    expect(issues({ ...base, subscriptions: [{ ...subscription, rss_source_feed: 'ftp://x' }] })[0]!.path).to.deep.equal([
      'subscriptions',
      0,
      'rss_source_feed',
    ]);
    expect(issues({ ...base, device: '' })[0]!.path).to.deep.equal(['device']);
  });

  it('bounds the arrays and the since token', () => {
    const many = Array.from({ length: SYNC_LIMITS.subscriptions + 1 }, (_, i) => ({ ...subscription, rss_source_feed: `${FEED}?${i}` }));
    expect(issues({ ...base, subscriptions: many })[0]!.message).to.equal(`at most ${SYNC_LIMITS.subscriptions} subscriptions`);
    expect(issues({ ...base, since: 'x'.repeat(SYNC_LIMITS.since + 1) })[0]!.path).to.deep.equal(['since']);
  });

  it('bounds the playlist items of a request in all', () => {
    const items = (p: number) =>
      Array.from({ length: SYNC_LIMITS.itemsPerPlaylist }, (_, i) => ({
        item_id: `i${i}`,
        rss_source_feed: FEED,
        rss_source_id: `g${p}-${i}`,
        created_at: t(1),
        updated_at: t(1),
      }));
    const count = SYNC_LIMITS.playlistItems / SYNC_LIMITS.itemsPerPlaylist + 1;
    const playlists = Array.from({ length: count }, (_, p) => ({ id: `p${p}`, name: 'P', updated_at: t(1), items: items(p) }));
    expect(issues({ ...base, playlists })).to.deep.equal([{ path: ['playlists'], message: `at most ${SYNC_LIMITS.playlistItems} playlist items in all` }]);
  });
});

// ---- properties -----------------------------------------------------------------------------

describe('decideSync properties', () => {
  const FEEDS = [FEED, OTHER, 'http://third.example/podcast'];
  const GUIDS = ['a', 'b'];
  const PLAYLISTS = ['p1', 'p2'];
  const ITEMS = ['i1', 'i2'];
  // Few distinct instants, so that ties are frequent.
  const time = fc.integer({ min: 0, max: 6 }).map(t);
  const maybeTime = fc.option(time, { nil: null });
  const feed = fc.constantFrom(...FEEDS);
  const guid = fc.constantFrom(...GUIDS);
  const title = fc.option(fc.constantFrom('A', 'B'), { nil: undefined });

  const serverEvent: fc.Arbitrary<UserEvent> = fc.oneof(
    fc.tuple(feed, time, title).map(([f, at, rss_feed_title]) => ev.subscribe(f, at, rss_feed_title ? { rss_feed_title } : {})),
    fc.tuple(feed, time).map(([f, at]) => ev.unsubscribe(f, at)),
    fc.tuple(feed, guid, time, fc.boolean(), fc.nat(100)).map(([f, g, at, played, position]) => ev.play(f, g, at, { played, position })),
    fc.tuple(feed, guid, time, fc.nat(100)).map(([f, g, at, position]) => ev.position(f, g, at, position)),
    fc
      .tuple(feed, guid, time, fc.constantFrom(...PLAYLISTS), fc.constantFrom(...ITEMS), fc.boolean())
      .map(([f, g, at, playlist, item_id, removed]) => ev.save(f, g, at, { playlist, item_id, removed })),
    fc
      .tuple(time, fc.constantFrom(...PLAYLISTS), fc.constantFrom('upsert', 'delete') as fc.Arbitrary<'upsert' | 'delete'>)
      .map(([at, playlist_id, action]) => ev.playlist(at, { playlist_id, action, name: 'Server' })),
    fc.tuple(time, fc.option(feed, { nil: null })).map(([at, f]) => ev.remove(at, f === null ? null : { rss_source_feed: f })),
  );

  const clientSubscription = fc.record({ rss_source_feed: feed, rss_feed_title: title, subscribed_at: time, unsubscribed_at: maybeTime });
  const clientStatus = fc.record({
    rss_source_feed: feed,
    rss_source_id: guid,
    played: fc.boolean(),
    position: fc.nat(100),
    updated_at: time,
    rss_item_title: title,
  });
  const clientItem = fc.record({
    item_id: fc.constantFrom(...ITEMS),
    rss_source_feed: feed,
    rss_source_id: guid,
    created_at: time,
    updated_at: time,
    deleted_at: maybeTime,
  });
  const clientPlaylist = fc.record({
    id: fc.constantFrom(...PLAYLISTS),
    name: fc.constantFrom('X', 'Y'),
    updated_at: time,
    deleted_at: maybeTime,
    items: fc.uniqueArray(clientItem, { selector: (item) => item.item_id, maxLength: ITEMS.length }),
  });
  const task = fc.oneof(
    fc
      .tuple(time, fc.constantFrom('public', 'anonymous', 'private') as fc.Arbitrary<'public' | 'anonymous' | 'private'>, fc.option(feed, { nil: null }))
      .map(([timestamp, privacy, f]) => ({ type: 'privacy' as const, timestamp, object: f === null ? null : { rss_source_feed: f }, data: { privacy } })),
    fc.tuple(time, fc.option(feed, { nil: null }), fc.option(guid, { nil: undefined })).map(([timestamp, f, g]) => ({
      type: 'remove' as const,
      timestamp,
      object: f === null ? null : g === undefined ? { rss_source_feed: f } : { rss_source_feed: f, rss_source_id: g },
      data: {},
    })),
  );
  const clientRequest = fc
    .record({
      subscriptions: fc.uniqueArray(clientSubscription, { selector: (s) => s.rss_source_feed, maxLength: FEEDS.length }),
      play_statuses: fc.uniqueArray(clientStatus, { selector: (s) => episodeKey(s.rss_source_feed, s.rss_source_id), maxLength: 6 }),
      playlists: fc.uniqueArray(clientPlaylist, { selector: (p) => p.id, maxLength: PLAYLISTS.length }),
      tasks: fc.array(task, { maxLength: 3 }),
    })
    .map((parts) => request(parts));

  it('emits valid events, and a second sync of the same request emits nothing', () => {
    fc.assert(
      fc.property(fc.array(serverEvent, { maxLength: 25 }), clientRequest, (history, req) => {
        const before = fold(history);
        const events = decideSync(before, req, testContext());
        for (const event of events) expect(userEvent.safeParse(event).success, JSON.stringify(event)).to.equal(true);
        const after = fold(events, before);
        // Tasks are commands, not state: a retried request is deduplicated by request id
        // upstream, so convergence is about the diff.
        expect(decideSync(after, { ...req, tasks: [] }, testContext())).to.deep.equal([]);
      }),
      { numRuns: 500 },
    );
  });

  it('after a sync, the server agrees with every client record that was newer', () => {
    fc.assert(
      fc.property(fc.array(serverEvent, { maxLength: 25 }), clientRequest, (history, req) => {
        const before = fold(history);
        const events = decideSync(before, { ...req, tasks: [] }, testContext());
        const after = fold(events, before);
        for (const client of req.subscriptions) {
          const emitted = events.some(
            (event) => (event.type === 'subscribe' || event.type === 'unsubscribe') && event.object.rss_source_feed === client.rss_source_feed,
          );
          // One rule for both sides, ties included.
          if (emitted) expect(isSubscribed(after.subscriptions[client.rss_source_feed]!)).to.equal(isSubscribed(client));
        }
        for (const client of req.play_statuses) {
          const prior = before.play_statuses[episodeKey(client.rss_source_feed, client.rss_source_id)];
          const now = after.play_statuses[episodeKey(client.rss_source_feed, client.rss_source_id)]!;
          if (!prior || client.updated_at > prior.updated_at) expect(now).to.include({ played: client.played, position: client.position });
          else expect(now).to.deep.equal(prior);
        }
        for (const client of req.playlists) {
          for (const item of client.items) {
            const version = item.deleted_at != null && item.deleted_at > item.updated_at ? item.deleted_at : item.updated_at;
            const prior = before.playlists[client.id]?.items[item.item_id];
            const now = after.playlists[client.id]!.items[item.item_id]!;
            if (!prior || version > prior.updated_at) expect(now.deleted_at !== null).to.equal(item.deleted_at != null);
            else expect(now).to.deep.equal(prior);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('without tasks reads only the records syncReads names: a state holding those alone decides the same', () => {
    fc.assert(
      fc.property(fc.array(serverEvent, { maxLength: 25 }), clientRequest, (history, req) => {
        const whole = fold(history);
        const reads = syncReads(req);
        if (req.tasks.length > 0) {
          expect(reads, 'tasks read the whole state').to.equal(undefined);
          return;
        }
        const only = (records: Record<string, unknown>, keys: readonly string[]) =>
          Object.fromEntries(Object.entries(records).filter(([key]) => keys.includes(key)));
        const partial = {
          ...whole,
          subscriptions: only(whole.subscriptions, reads!.subscriptions),
          play_statuses: only(whole.play_statuses, reads!.play_statuses),
          playlists: only(whole.playlists, reads!.playlists),
        } as UserState;
        expect(decideSync(partial, req, testContext())).to.deep.equal(decideSync(whole, req, testContext()));
      }),
      { numRuns: 500 },
    );
  });

  it('emits the tasks first, sorted by timestamp', () => {
    fc.assert(
      fc.property(clientRequest, (req) => {
        const events = decideSync(fold([]), req, testContext());
        const tasks = events.slice(0, req.tasks.length);
        expect(tasks.every((event) => event.type === 'privacy' || event.type === 'remove')).to.equal(true);
        const stamps = tasks.map((event) => event.timestamp);
        expect(stamps).to.deep.equal([...stamps].sort());
        expect(events.slice(req.tasks.length).some((event) => event.type === 'privacy' || event.type === 'remove')).to.equal(false);
      }),
    );
  });
});
