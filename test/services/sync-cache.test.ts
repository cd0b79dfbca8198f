/**
 * The cache of folded users (src/services/user-state-cache.ts) that syncs start from must
 * never change an answer. Random scenarios of one user — syncs through a service with the
 * cache and through one without (another process), other devices' writes, retried request
 * ids, queued `remove` tasks (erasure for real), retention passes (checkpoint, `$tb`, purge)
 * as simulated days go by, account deletion — check after every step that the user loaded
 * through the cache equals
 *   - the user folded cold from the whole stream (the same code without the cache), and
 *   - a reference that folds and scans the whole stream the way sync did before the cache,
 * in state, revision, position and sync request ids, and in the records answered for every
 * cursor handed out so far; and that each sync's answer is the reference's for its cursor.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { allProjections } from '../../projections/index.js';
import type { ProjectedEvent } from '../../projections/projection.js';
import { presentPlaylist } from '../../projections/playlists.js';
import type { ActionInput } from '../../src/domain/events.js';
import { actionInput, streams } from '../../src/domain/events.js';
import type { StateEvent, UserState } from '../../src/domain/state.js';
import { fold } from '../../src/domain/state.js';
import type { SyncRequest } from '../../src/domain/sync.js';
import { syncRequest } from '../../src/domain/sync.js';
import { silentLogger } from '../../src/logger.js';
import { Projector } from '../../src/projector/projector.js';
import { createRetentionPass } from '../../src/retention/retention-service.js';
import { ErasureReactor } from '../../src/retention/erasure-reactor.js';
import type { Stores } from '../../src/runtime.js';
import { openStores } from '../../src/runtime.js';
import type { Principal } from '../../src/services/accounts.js';
import { fromStoreEvent, toStoreEvent } from '../../src/services/codec.js';
import type { FoldedUser, SyncedSlice } from '../../src/services/folded-user.js';
import { SYNCED_SLICES, changedRecords, emptyFoldedUser, foldOnto, recordCounts, totalRecords } from '../../src/services/folded-user.js';
import { MeService } from '../../src/services/me.js';
import { ReadModelService } from '../../src/services/read-models.js';
import type { SyncAnswer } from '../../src/services/sync.js';
import { SyncService } from '../../src/services/sync.js';
import { UserEventService } from '../../src/services/user-events.js';
import { UserStateCache } from '../../src/services/user-state-cache.js';
import type { Doc } from '../../src/stores/read-model.js';
import type { EventStore, Position } from '../../src/stores/event-store.js';
import { readStreamOrEmpty } from '../../src/stores/event-store.js';
import { turnCounter } from '../support/turns.js';

const DAY = 24 * 60 * 60 * 1000;
const MINUTE = 60 * 1000;
const START = Date.UTC(2026, 0, 1);
const SLICES = Object.keys(SYNCED_SLICES) as SyncedSlice[];

// ---- the reference: the whole stream folded and scanned, as sync did before the cache ------------

interface Reference {
  readonly state: UserState;
  readonly revision: bigint | 'no_stream';
  readonly position: Position | undefined;
  readonly syncRequestIds: ReadonlySet<string>;
  answer(slice: SyncedSlice, since: bigint | undefined): unknown[];
}

async function reference(store: EventStore, userId: string): Promise<Reference> {
  const recorded = await readStreamOrEmpty(store, streams.user(userId));
  const history: { event: StateEvent; position: Position }[] = [];
  const syncRequestIds = new Set<string>();
  for (const stored of recorded) {
    const event = fromStoreEvent(stored);
    if (!event) continue;
    if (event.type === 'sync') syncRequestIds.add(event.data.request_id);
    history.push({ event, position: stored.position });
  }
  const state = fold(history.map(({ event }) => event));
  return {
    state,
    revision: recorded.at(-1)?.revision ?? 'no_stream',
    position: recorded.at(-1)?.position,
    syncRequestIds,
    answer(slice, since) {
      const lastTouch = new Map<string, number>();
      let allTouched = -1;
      history.forEach(({ event, position }, index) => {
        if (since !== undefined && position.commit <= since) return;
        const keys = SYNCED_SLICES[slice].touches(event as ProjectedEvent['event']);
        if (keys === 'all') allTouched = index;
        else if (keys !== 'none') for (const key of keys) lastTouch.set(key, index);
      });
      const records = state[slice] as Record<string, unknown>;
      const changed: { at: number; record: unknown }[] = [];
      if (allTouched < 0 && since !== undefined) {
        for (const [key, at] of lastTouch) if (Object.hasOwn(records, key)) changed.push({ at, record: records[key] });
      } else {
        for (const [key, record] of Object.entries(records)) changed.push({ at: Math.max(lastTouch.get(key) ?? -1, allTouched), record });
      }
      return changed.sort((a, b) => a.at - b.at).map(({ record }) => record);
    },
  };
}

const present = (slice: SyncedSlice, records: unknown[]) =>
  slice === 'playlists' ? records.map((playlist) => presentPlaylist(playlist as Doc, { includeDeleted: true })) : records;

// ---- scenarios -----------------------------------------------------------------------------------

const FEEDS = ['https://a.example.com/rss', 'https://b.example.com/rss', 'https://c.example.com/rss'];
const GUIDS = ['g1', 'g2', 'g3'];
const PLAYLISTS = ['saved', 'p1', 'constructor'];

/** Minutes before the simulated now: up to 60 days, so retention forgets some tombstones. */
const ago = fc.integer({ min: 0, max: 60 * 24 * 60 });
const feed = fc.constantFrom(...FEEDS);
const guid = fc.constantFrom(...GUIDS);

const subscription = fc.record({ feed, subscribed: ago, unsubscribed: fc.option(ago, { nil: undefined }) });
const playStatus = fc.record({ feed, guid, played: fc.boolean(), position: fc.nat(3600), updated: ago });
const playlist = fc.record({
  id: fc.constantFrom(...PLAYLISTS),
  updated: ago,
  deleted: fc.option(ago, { nil: undefined }),
  items: fc.uniqueArray(fc.record({ feed, guid, updated: ago, removed: fc.boolean() }), { maxLength: 3, selector: (item) => `${item.feed} ${item.guid}` }),
});
const scope = fc.oneof(
  fc.constant(null),
  feed.map((f) => ({ rss_source_feed: f })),
  fc.tuple(feed, guid).map(([f, g]) => ({ rss_source_feed: f, rss_source_id: g })),
);
const task = fc.oneof(
  fc.record({ type: fc.constant('remove' as const), scope, at: ago }),
  fc.record({ type: fc.constant('privacy' as const), scope, at: ago, privacy: fc.constantFrom('public' as const, 'private' as const) }),
);
const action = fc.oneof(
  fc.record({ type: fc.constantFrom('subscribe' as const, 'unsubscribe' as const), feed, at: ago }),
  fc.record({ type: fc.constant('play' as const), feed, guid, at: ago, played: fc.boolean() }),
  fc.record({ type: fc.constant('position' as const), feed, guid, at: ago }),
  fc.record({ type: fc.constant('save' as const), feed, guid, at: ago, playlist: fc.constantFrom(...PLAYLISTS), removed: fc.boolean() }),
  fc.record({ type: fc.constant('playlist' as const), at: ago, playlist: fc.constantFrom(...PLAYLISTS), del: fc.boolean() }),
  task.map((t) => ({ ...t, kind: 'task' as const })),
);

const step = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('sync' as const),
      /** Through the service with the cache, or through another one without (another process). */
      cached: fc.boolean(),
      device: fc.constantFrom('phone', 'laptop'),
      /** The device's last cursor, none (a first sync), or any cursor handed out so far. */
      since: fc.oneof(fc.constant('last' as const), fc.constant('none' as const), fc.nat(20)),
      /** A new request, or a retry of an earlier one (its id again). */
      retry: fc.option(fc.nat(20), { nil: undefined, freq: 5 }),
      subscriptions: fc.uniqueArray(subscription, { maxLength: 3, selector: (s) => s.feed }),
      plays: fc.uniqueArray(playStatus, { maxLength: 4, selector: (p) => `${p.feed} ${p.guid}` }),
      playlists: fc.uniqueArray(playlist, { maxLength: 2, selector: (p) => p.id }),
      tasks: fc.array(task, { maxLength: 1 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('events' as const), actions: fc.array(action, { minLength: 1, maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('days' as const), days: fc.integer({ min: 1, max: 60 }) }) },
  /** `midway`: a sync loads the user between the pass's checkpoints and its truncations. */
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('retention' as const), midway: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete_account' as const) }) },
);
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;
type Action = typeof action extends fc.Arbitrary<infer A> ? A : never;

class Scenario {
  now = START + 100 * DAY;
  readonly clock = () => new Date(this.now);
  readonly cache = new UserStateCache(10_000);
  user: Principal = { userId: randomUUID(), username: 'alice', tokenId: null };
  readonly cursors: bigint[] = [];
  readonly lastCursor = new Map<string, string>();
  readonly requestIds: string[] = [];
  readonly cachedEvents: UserEventService;
  readonly coldEvents: UserEventService;
  readonly cachedSync: SyncService;
  readonly coldSync: SyncService;
  readonly me: MeService;
  readonly readModels: ReadModelService;
  readonly retention;
  /** Erases each `remove` after the request that appended it, as the service's reactor does. */
  readonly erasure: ErasureReactor;

  constructor(
    readonly stores: Stores,
    readonly projector: Projector,
  ) {
    this.readModels = new ReadModelService(stores.eventStore, stores.readModel);
    this.retention = createRetentionPass(stores, { defaultPrivacy: 'private', logger: silentLogger(), projections: projector.names });
    this.erasure = new ErasureReactor({
      eventStore: stores.eventStore,
      readModel: stores.readModel,
      readModels: this.readModels,
      projections: projector.names,
      erase: (userId, seen) => this.retention.eraseScopes(userId, this.clock(), { waitForProjections: false, upTo: seen }),
      logger: silentLogger(),
    });
    // Small pages: a whole stream folded page by page (src/stores/event-store.ts readStreamPages) must equal the reference too.
    this.cachedEvents = new UserEventService(stores.eventStore, this.cache, 5);
    this.coldEvents = new UserEventService(stores.eventStore, undefined, 3);
    this.cachedSync = new SyncService(this.cachedEvents, this.clock);
    this.coldSync = new SyncService(this.coldEvents, this.clock);
    const purge = (stream: string) => stores.embedded?.eventStore?.purgeTruncated(stream);
    this.me = new MeService(stores.eventStore, stores.accounts, this.readModels, {
      projections: projector.names,
      purge,
      rollFeeds: (feeds) => this.retention.rollFeeds(feeds, this.clock()),
      forgetUser: (userId) => this.cache.delete(userId),
    });
  }

  at(minutesAgo: number): string {
    return new Date(this.now - minutesAgo * MINUTE).toISOString();
  }

  async settle(): Promise<void> {
    const head = await this.stores.eventStore.headPosition();
    if (head.commit === 0n) return;
    if (!(await this.readModels.waitFor(this.projector.names, head, 10_000))) throw new Error('projections did not catch up');
  }

  /** The erasure reactor's turn after a request: every `remove` appended so far is erased for real. */
  async erase(): Promise<void> {
    if (!(await this.erasure.catchUp())) throw new Error('the erasure reactor lease is held elsewhere');
  }

  async run(s: Step): Promise<void> {
    switch (s.kind) {
      case 'sync':
        await this.sync(s);
        return this.erase();
      case 'events': {
        const actions: ActionInput[] = s.actions.map((a) => actionInput.parse(this.actionOf(a)));
        await this.coldEvents.appendActions(this.user, actions);
        return this.erase();
      }
      case 'days':
        this.now += s.days * DAY;
        return;
      case 'retention':
        await this.settle();
        await this.retention.run(this.clock(), s.midway ? { touch: async () => void (await this.cachedEvents.loadUser(this.user.userId)) } : {});
        return;
      case 'delete_account':
        await this.me.deleteAccount(this.user);
        expect(this.cache.peek(this.user.userId), "a deleted user's state leaves the cache with the account").to.equal(undefined);
        // The deleted user can never write again (its stream is tombstoned): the scenario goes
        // on as a new account under the freed username.
        this.user = { userId: randomUUID(), username: this.user.username, tokenId: null };
        return;
    }
  }

  private actionOf(a: Action): Record<string, unknown> {
    const timestamp = this.at(a.at);
    switch (a.type) {
      case 'subscribe':
      case 'unsubscribe':
        return { type: a.type, timestamp, object: { rss_source_feed: a.feed }, data: {} };
      case 'play':
        return {
          type: 'play',
          timestamp,
          object: { rss_source_feed: a.feed, rss_source_id: a.guid },
          data: { played: a.played, position: 10, rss_item_title: `title at ${timestamp}` },
        };
      case 'position':
        return { type: 'position', timestamp, object: { rss_source_feed: a.feed, rss_source_id: a.guid }, data: { position: 20 } };
      case 'save':
        return { type: 'save', timestamp, object: { rss_source_feed: a.feed, rss_source_id: a.guid }, data: { playlist: a.playlist, removed: a.removed } };
      case 'playlist':
        return {
          type: 'playlist',
          timestamp,
          object: null,
          data: { playlist_id: a.playlist, action: a.del ? 'delete' : 'upsert', name: `${a.playlist} list` },
        };
      case 'remove':
        return { type: 'remove', timestamp, object: a.scope, data: {} };
      case 'privacy':
        return { type: 'privacy', timestamp, object: a.scope, data: { privacy: a.privacy } };
    }
  }

  private async sync(s: Extract<Step, { kind: 'sync' }>): Promise<void> {
    const since =
      s.since === 'none'
        ? undefined
        : s.since === 'last'
          ? this.lastCursor.get(s.device)
          : this.cursors[s.since % Math.max(1, this.cursors.length)]?.toString();
    const retried = s.retry === undefined ? undefined : this.requestIds[s.retry % Math.max(1, this.requestIds.length)];
    const requestId = retried ?? randomUUID();
    this.requestIds.push(requestId);
    const request: SyncRequest = syncRequest.parse({
      device: s.device,
      request_id: requestId,
      ...(since === undefined ? {} : { since }),
      subscriptions: s.subscriptions.map((sub) => ({
        rss_source_feed: sub.feed,
        rss_feed_title: `title of ${sub.feed}`,
        subscribed_at: this.at(sub.subscribed),
        ...(sub.unsubscribed === undefined ? {} : { unsubscribed_at: this.at(sub.unsubscribed) }),
      })),
      play_statuses: s.plays.map((p) => ({
        rss_source_feed: p.feed,
        rss_source_id: p.guid,
        played: p.played,
        position: p.position,
        updated_at: this.at(p.updated),
      })),
      playlists: s.playlists.map((p) => ({
        id: p.id,
        name: `${p.id} list`,
        updated_at: this.at(p.updated),
        ...(p.deleted === undefined ? {} : { deleted_at: this.at(p.deleted) }),
        items: p.items.map((item) => ({
          item_id: `${item.feed}#${item.guid}`,
          rss_source_feed: item.feed,
          rss_source_id: item.guid,
          created_at: this.at(item.updated + 10),
          updated_at: this.at(item.updated),
          ...(item.removed ? { deleted_at: this.at(item.updated) } : {}),
        })),
      })),
      tasks: s.tasks.map((t) => this.actionOf({ ...t, kind: 'task' })),
    });
    const answer = await (s.cached ? this.cachedSync : this.coldSync).sync(this.user, request);
    this.cursors.push(BigInt(answer.since));
    this.lastCursor.set(s.device, answer.since);
    // A `remove` is erased for real after the answer (a checkpoint, events deleted): the
    // answer was computed before, so it is compared only when nothing was erased.
    if (!s.tasks.some((t) => t.type === 'remove')) await this.expectAnswer(answer, since === undefined ? undefined : BigInt(since));
  }

  private async expectAnswer(answer: SyncAnswer, since: bigint | undefined): Promise<void> {
    const ref = await reference(this.stores.eventStore, this.user.userId);
    if (!answer.applied.duplicate) expect(answer.since, 'the cursor is the position of the append').to.equal(String(ref.position?.commit));
    for (const slice of SLICES) expect(answer[slice], `answered ${slice} since ${since}`).to.deep.equal(present(slice, ref.answer(slice, since)));
  }

  /** The user through the cache, cold, and as the reference sees them: the same, for every cursor. */
  async check(context: string): Promise<void> {
    const cached = await this.cachedEvents.loadUser(this.user.userId);
    const cold = await this.coldEvents.loadUser(this.user.userId);
    const ref = await reference(this.stores.eventStore, this.user.userId);
    for (const [name, user] of [
      ['cached', cached],
      ['cold', cold],
    ] as const) {
      const what = `${name} user after ${context}`;
      expect(user.state, `${what}: state`).to.deep.equal(ref.state);
      expect(user.revision, `${what}: revision`).to.equal(ref.revision);
      expect(user.position, `${what}: position`).to.deep.equal(ref.position);
      expect([...user.syncRequestIds].sort(), `${what}: sync request ids`).to.deep.equal([...ref.syncRequestIds].sort());
      const head = (await this.stores.eventStore.headPosition()).commit;
      for (const since of [undefined, 0n, ...this.cursors, head, head + 5n]) {
        for (const slice of SLICES) expect(changedRecords(user, slice, since), `${what}: ${slice} since ${since}`).to.deep.equal(ref.answer(slice, since));
      }
    }
  }
}

async function runScenario(steps: readonly Step[], totals: { hits: number; stale: number }): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-sync-cache-'));
  let now = START;
  const stores = await openStores(
    { DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded', EVENTSTORE_URL: undefined, MONGO_URL: undefined },
    { clock: () => new Date(now) },
  );
  const projector = new Projector({
    eventStore: stores.eventStore,
    readModel: stores.readModel,
    projections: allProjections,
    context: { defaultPrivacy: 'private' },
    logger: silentLogger(),
  });
  await projector.prepare();
  projector.start();
  try {
    const scenario = new Scenario(stores, projector);
    now = scenario.now;
    for (const [index, s] of steps.entries()) {
      await scenario.run(s);
      now = scenario.now;
      await scenario.check(`step ${index} (${s.kind})`);
    }
    const { hits, stale } = scenario.cache.stats();
    totals.hits += hits;
    totals.stale += stale;
  } finally {
    await projector.stop();
    await stores.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('sync from the cache of folded users', function () {
  this.timeout(300_000);

  it('answers as a cold fold and as the whole stream scanned, over syncs, other writers, retries, erasure, retention and account deletion', async function () {
    const totals = { hits: 0, stale: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), (steps) => runScenario(steps, totals)),
      { numRuns: Number(process.env['PROPERTY_RUNS'] ?? 100) },
    );
    // The scenarios went through both paths: entries used, and entries found invalid.
    expect(totals.hits, 'cache hits').to.be.greaterThan(0);
    expect(totals.stale, 'stale entries dropped').to.be.greaterThan(0);
  });

  const sync = (over: Partial<Extract<Step, { kind: 'sync' }>> = {}): Step => ({
    kind: 'sync',
    cached: true,
    device: 'phone',
    since: 'last',
    retry: undefined,
    subscriptions: [{ feed: FEEDS[0]!, subscribed: 10, unsubscribed: undefined }],
    plays: [{ feed: FEEDS[0]!, guid: 'g1', played: true, position: 60, updated: 5 }],
    playlists: [],
    tasks: [],
    ...over,
  });

  // The first fails when loadUser does not compare the stream's metadata revision. After an
  // erasure the answers agree even without dropping the entry at a checkpoint (a checkpoint
  // replaces the state and touches every record); the case pins that they agree.
  const cases: { name: string; steps: Step[] }[] = [
    {
      // The pass checkpoints every user, then truncates them all: a sync in between folds the
      // checkpoint into the entry, and only the metadata says the sync events before it went.
      name: "a sync between retention's checkpoint and its truncation (the stream's metadata revision)",
      steps: [sync(), sync({ retry: 0 }), { kind: 'days', days: 50 }, sync(), { kind: 'retention', midway: true }, sync({ retry: 0 })],
    },
    {
      name: 'an erasure: the scope is deleted from the stream behind the cache (a checkpoint)',
      steps: [sync(), sync({ tasks: [{ type: 'remove', scope: { rss_source_feed: FEEDS[0]! }, at: 1 }] }), sync({ since: 'none' })],
    },
    {
      name: 'account deletion, then a new account of the same name syncing',
      steps: [sync(), { kind: 'delete_account' }, sync({ since: 'none' }), sync()],
    },
    {
      name: 'another device writing between two syncs (the events after the cached revision)',
      steps: [
        sync(),
        { kind: 'events', actions: [{ type: 'play', feed: FEEDS[1]!, guid: 'g2', at: 1, played: false }] },
        sync({ cached: false, device: 'laptop' }),
        sync(),
      ],
    },
  ];
  for (const { name, steps } of cases) {
    it(`answers as a cold fold after ${name}`, async () => {
      const totals = { hits: 0, stale: 0 };
      await runScenario(steps, totals);
      expect(totals.hits, 'cache hits').to.be.greaterThan(0);
    });
  }
});

describe('a long append folded into the cached user', function () {
  it('in steps, other work served in between, to the user a cold load folds from the stream', async function () {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-long-append-'));
    const stores = await openStores({ DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded', EVENTSTORE_URL: undefined, MONGO_URL: undefined });
    try {
      const cache = new UserStateCache(1_000_000);
      const cached = new UserEventService(stores.eventStore, cache);
      const user = 'u-long';
      const feed = (n: number) => `https://feeds.example.org/${n % 40}.xml`;
      const play = (n: number, at: string): StateEvent =>
        ({
          id: randomUUID(),
          user,
          timestamp: at,
          type: 'play',
          object: { rss_source_feed: feed(n), rss_source_id: `g${n}` },
          data: { played: false, position: n },
        }) as StateEvent;
      const before = await cached.loadUser(user);
      const events = Array.from({ length: 5_001 }, (_, n) => play(n % 4_000, `2026-01-01T10:${String(Math.floor(n / 100)).padStart(2, '0')}:00.000Z`));
      const result = await stores.eventStore.append(
        streams.user(user),
        events.map((event) => toStoreEvent(event as never, { username: user })),
        { expectedRevision: 'no_stream' },
      );
      const counter = turnCounter();
      const after = await cached.appended(user, before, events as never, result);
      // 5,001 events in steps of 2,000: a turn after each of the first two.
      expect(counter.stop()).to.be.at.least(2);
      const cold = await new UserEventService(stores.eventStore).loadUser(user);
      const seenOf = (folded: FoldedUser) => ({
        state: structuredClone(folded.state),
        revision: folded.revision,
        answers: SLICES.map((slice) => [undefined, 0n].map((since) => changedRecords(folded, slice, since))),
      });
      expect(seenOf(after)).to.deep.equal(seenOf(cold));
      expect(cache.peek(user)?.folded, 'kept in the cache').to.equal(after);
      expect(Object.keys(after.state.play_statuses)).to.have.length(4_000);
    } finally {
      await stores.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('UserStateCache', function () {
  /** A folded user holding `plays` play statuses (and one sync request id). */
  const userWith = (plays: number, revision = 0n): FoldedUser => {
    const events = Array.from({ length: plays }, (_, n) => ({
      event: {
        id: `e${n}`,
        user: 'u',
        type: 'play' as const,
        timestamp: '2026-01-01T00:00:00.000Z',
        object: { rss_source_feed: FEEDS[0]!, rss_source_id: `g${n}` },
        data: { played: true, position: n },
      },
      revision: BigInt(n),
      position: { commit: BigInt(n + 1), prepare: BigInt(n + 1) },
    }));
    const sync = {
      event: {
        id: 'sync',
        user: 'u',
        type: 'sync' as const,
        timestamp: '2026-01-01T00:00:00.000Z',
        object: null,
        data: { device: 'd', request_id: 'r', counts: {} },
      },
      revision: BigInt(plays),
      position: { commit: BigInt(plays + 1), prepare: BigInt(plays + 1) },
    };
    const folded = foldOnto(emptyFoldedUser(), [...events, sync]);
    // A plain object: the folded user's state and touches are getters, which a spread would drop.
    return { state: folded.state, touches: folded.touches, syncRequestIds: folded.syncRequestIds, position: folded.position, revision };
  };

  it('weighs entries by their records and drops the least recently used beyond the budget', () => {
    const cache = new UserStateCache(30);
    cache.set('a', { folded: userWith(8), metaRevision: 'no_stream' }); // 8 plays + 1 request id + 1
    cache.set('b', { folded: userWith(8), metaRevision: 'no_stream' });
    cache.set('c', { folded: userWith(8), metaRevision: 'no_stream' });
    expect(cache.stats()).to.include({ users: 3, records: 30 });
    expect(cache.get('a')).to.not.equal(undefined); // now the most recent
    cache.set('d', { folded: userWith(3), metaRevision: 'no_stream' });
    expect(cache.get('b'), 'least recently used').to.equal(undefined);
    expect(cache.get('a')).to.not.equal(undefined);
    expect(cache.get('c')).to.not.equal(undefined);
    expect(cache.stats()).to.include({ users: 3, records: 25 });
  });

  it('weighs a later version of a user as a fresh count would', () => {
    const cache = new UserStateCache(1000);
    let user = userWith(8, 8n);
    cache.set('u', { folded: user, metaRevision: 'no_stream' });
    const stamp = { timestamp: '2026-01-02T00:00:00.000Z', user: 'u' };
    const later: StateEvent[] = [
      { ...stamp, id: 's2', type: 'sync', object: null, data: { device: 'd', request_id: 'r2', counts: {} } },
      { ...stamp, id: 'p9', type: 'play', object: { rss_source_feed: FEEDS[1]!, rss_source_id: 'g9' }, data: { played: false, position: 1 } },
      { ...stamp, id: 'l1', type: 'save', object: { rss_source_feed: FEEDS[1]!, rss_source_id: 'g9' }, data: { playlist: 'p1' } },
      { ...stamp, id: 'rm', type: 'remove', object: { rss_source_feed: FEEDS[0]! }, data: {} },
    ];
    for (const [index, event] of later.entries()) {
      const revision = 9n + BigInt(index);
      user = foldOnto(user, [{ event, revision, position: { commit: revision + 1n, prepare: revision + 1n } }]);
      cache.set('u', { folded: user, metaRevision: 'no_stream' });
      expect(cache.stats().records, `after ${event.type}`).to.equal(totalRecords(recordCounts(user)));
    }
    expect(cache.stats().records).to.equal(1 + 1 + 2 + 2); // the entry, the play left, a playlist with one item, two sync ids
  });

  it('counts gpodder devices and settings in the budget, settings by their size', () => {
    const cache = new UserStateCache(1000);
    const stamp = { timestamp: '2026-01-02T00:00:00.000Z', user: 'u' };
    const events: StateEvent[] = [
      ...Array.from({ length: 5 }, (_, n): StateEvent => ({
        ...stamp,
        id: `d${n}`,
        type: 'device',
        object: null,
        data: { device_id: `dev${n}`, caption: 'x'.repeat(100) },
      })),
      { ...stamp, id: 's1', type: 'setting', object: null, data: { scope: 'account', set: { big: 'y'.repeat(10_000) }, remove: [] } },
    ];
    const user = foldOnto(
      emptyFoldedUser(),
      events.map((event, index) => ({ event, revision: BigInt(index), position: { commit: BigInt(index + 1), prepare: BigInt(index + 1) } })),
    );
    cache.set('u', { folded: user, metaRevision: 'no_stream' });
    // The entry, five devices, and the settings: one record plus one per 512 bytes of JSON.
    expect(cache.stats().records).to.be.at.least(1 + 5 + 1 + Math.ceil(10_000 / 512));
    const small = new UserStateCache(10);
    small.set('u', { folded: user, metaRevision: 'no_stream' });
    expect(small.get('u'), 'heavier than the whole budget').to.equal(undefined);
  });

  it('keeps no entry heavier than the whole budget, and never a user older than the one kept', () => {
    const cache = new UserStateCache(20);
    cache.set('big', { folded: userWith(25), metaRevision: 'no_stream' });
    expect(cache.get('big')).to.equal(undefined);
    const later = userWith(2, 7n);
    cache.set('u', { folded: later, metaRevision: 'no_stream' });
    cache.set('u', { folded: userWith(2, 5n), metaRevision: 'no_stream' });
    expect(cache.get('u')?.folded).to.equal(later);
    cache.delete('u');
    expect(cache.stats()).to.include({ users: 0, records: 0 });
  });
});
