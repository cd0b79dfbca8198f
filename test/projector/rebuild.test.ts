/**
 * docs/design.md, "Read models": "Rebuilding any read model from the store gives the same documents as the live one",
 * and "a crash neither loses nor double-counts an event".
 *
 * 1. A property: for random event sequences of a few users, the documents a projector produces
 *    live (random-sized batches interleaved with appends, with restarts that drop its caches)
 *    equal those of a clean rebuild, in every collection of every projection; and the final
 *    public views honour each user's current privacy (docs/design.md, "Privacy"). The same
 *    steps through the projector as the service runs it (pipelined, a background committer
 *    writing on files) give the same documents too.
 * 2. A crash: a child process projecting a pre-filled store is SIGKILLed mid-way and restarted;
 *    its documents must equal a clean rebuild's.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import fc from 'fast-check';
import { allProjections } from '../../projections/index.js';
import { EPISODE_POPULARITY, PODCAST_POPULARITY } from '../../projections/popularity.js';
import { PUBLIC_EVENTS } from '../../projections/public-events.js';
import type { Privacy, UserEvent } from '../../src/domain/events.js';
import { PRIVACY_LEVELS, streams, userEvent } from '../../src/domain/events.js';
import type { UserState } from '../../src/domain/state.js';
import { effectivePrivacy, emptyState, episodeKey, evolve } from '../../src/domain/state.js';
import { scopeCovers } from '../../src/domain/erasure.js';
import { silentLogger } from '../../src/logger.js';
import { PROJECTED_STREAM_PREFIXES } from '../../src/projector/projected-event.js';
import { Projector } from '../../src/projector/projector.js';
import { PARKED_EVENTS } from '../../src/projector/internal-collections.js';
import { LeaseHeldError, rebuildProjections } from '../../src/projector/rebuild.js';
import { EMBEDDED_FILE, openStores, READ_MODEL_FILE } from '../../src/runtime.js';
import { toStoreEvent } from '../../src/services/codec.js';
import { START, type EventStore } from '../../src/stores/event-store.js';
import { SqliteEventStore } from '../../src/stores/embedded/index.js';
import { SqliteReadModelStore } from '../../src/stores/embedded/sqlite-read-model.js';
import type { StoredDoc } from '../../src/stores/read-model.js';
import { DEFAULT_WORKLOAD, generateWorkload } from '../../scripts/bench/workload.js';
import { dumpDocs, expectSameDocs, memoryReadModel } from './support.js';

// ---- the model of a few users' activity ----------------------------------------------------

const USERS = ['u1', 'u2', 'u3', 'u4'] as const;
const FEEDS = ['https://a.example.com/rss', 'https://b.example.com/rss', 'https://c.example.com/rss'] as const;
const GUIDS = ['g1', 'g2', 'g3'] as const;
const usernameOf = (user: string) => `name-${user}`;

type Body = Omit<UserEvent, 'id' | 'user' | 'timestamp'>;

const feed = fc.constantFrom(...FEEDS);
const episode = fc.record({ rss_source_feed: feed, rss_source_id: fc.constantFrom(...GUIDS) });
const level = fc.constantFrom(...PRIVACY_LEVELS);
/** An optional field, absent (not undefined) when not drawn, as JSON would carry it. */
const maybe = <K extends string, V>(key: K, value: fc.Arbitrary<V>) =>
  fc.option(value, { nil: undefined }).map((v) => (v === undefined ? {} : ({ [key]: v } as Record<K, V>)));
const title = fc.constantFrom('Title A', 'Title B', 'Title C');

const body: fc.Arbitrary<Body> = fc.oneof(
  fc.record({ type: fc.constant('subscribe' as const), object: feed.map((f) => ({ rss_source_feed: f })), data: maybe('rss_feed_title', title) }),
  fc.record({ type: fc.constant('unsubscribe' as const), object: feed.map((f) => ({ rss_source_feed: f })), data: maybe('device', fc.constant('phone')) }),
  {
    arbitrary: fc.record({
      type: fc.constant('play' as const),
      object: episode,
      data: fc
        .tuple(
          fc.boolean(),
          fc.nat(100),
          maybe('rss_feed_title', title),
          maybe('rss_item_title', title),
          maybe('device', fc.constantFrom('phone', 'laptop')),
          maybe(
            'enclosure',
            fc.record({ duration: fc.nat(4000), cover: fc.record({ src: fc.constantFrom('https://img.example.com/1.jpg', 'https://img.example.com/2.jpg') }) }),
          ),
        )
        .map(([played, position, ...rest]) => Object.assign({ played, position }, ...rest) as Extract<UserEvent, { type: 'play' }>['data']),
    }),
    weight: 3,
  },
  fc.record({ type: fc.constant('position' as const), object: episode, data: fc.nat(100).map((position) => ({ position })) }),
  {
    arbitrary: fc.record({
      type: fc.constant('save' as const),
      object: episode,
      data: fc
        .tuple(maybe('playlist', fc.constantFrom('saved', 'later')), maybe('removed', fc.boolean()), maybe('item_title', title))
        .map((parts) => Object.assign({}, ...parts) as Extract<UserEvent, { type: 'save' }>['data']),
    }),
    weight: 2,
  },
  fc.record({ type: fc.constant('share' as const), object: episode, data: maybe('message', fc.constant('listen')) }),
  {
    arbitrary: fc.record({
      type: fc.constant('privacy' as const),
      object: fc.option(
        feed.map((f) => ({ rss_source_feed: f })),
        { nil: null },
      ),
      data: level.map((privacy) => ({ privacy })),
    }),
    weight: 2,
  },
  fc.record({
    type: fc.constant('remove' as const),
    object: fc.oneof(
      fc.constant(null),
      feed.map((f) => ({ rss_source_feed: f })),
      episode,
    ),
    data: fc.constant({}),
  }),
  fc.record({ type: fc.constant('account_deleted' as const), object: fc.constant(null), data: fc.constant({}) }),
  fc.record({
    type: fc.constant('playlist' as const),
    object: fc.constant(null),
    data: fc
      .tuple(fc.constantFrom('saved', 'later'), fc.constantFrom('upsert' as const, 'delete' as const), maybe('name', title))
      .map(([playlist_id, action, name]) => ({ playlist_id, action, ...name })),
  }),
) as fc.Arbitrary<Body>;

/** One append: a user's burst of 1-3 events, each at some minute (so timestamps may go backwards). */
const append = fc.record({
  kind: fc.constant('append' as const),
  user: fc.constantFrom(...USERS),
  events: fc.array(fc.tuple(fc.nat(60), body), { minLength: 1, maxLength: 3 }),
});
const project = fc.record({ kind: fc.constant('project' as const), maxCount: fc.integer({ min: 1, max: 8 }) });
/** A projector restart: same read model, cold caches (what a service restart does). */
const restart = fc.constant({ kind: 'restart' as const });
const step = fc.oneof({ arbitrary: append, weight: 5 }, { arbitrary: project, weight: 3 }, { arbitrary: restart, weight: 1 });
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

function toEvent(user: string, id: number, minute: number, eventBody: Body): UserEvent {
  const candidate = {
    id: `00000000-0000-4000-8000-${id.toString(16).padStart(12, '0')}`,
    user,
    timestamp: new Date(Date.UTC(2026, 0, 1) + minute * 60_000).toISOString(),
    ...eventBody,
  };
  // The generator must only make events the API would accept; a mistake here should say so.
  const parsed = userEvent.safeParse(candidate);
  if (!parsed.success) throw new Error(`generator made an invalid event: ${JSON.stringify(candidate)}: ${parsed.error.message}`);
  return candidate as UserEvent;
}

// ---- what docs/design.md, "Privacy" says the public views must hold --------------------------------------------

interface Oracle {
  /** Each user's state by the domain fold: the privacy the views must honour (docs/design.md, "Privacy"). */
  readonly states: Map<string, UserState>;
  /** Shareable events not erased, by event id. */
  readonly shared: Map<string, { user: string; feed: string; guid: string | undefined }>;
  /** Per user, episodes played and not erased. */
  readonly played: Map<string, Map<string, { feed: string; guid: string }>>;
}

const SHAREABLE = new Set(['subscribe', 'unsubscribe', 'play', 'save', 'share']);

function observe(oracle: Oracle, event: UserEvent): void {
  const user = event.user;
  oracle.states.set(user, evolve(oracle.states.get(user) ?? emptyState(), event));
  if (event.type === 'account_deleted' || event.type === 'remove') {
    const scope = event.type === 'remove' ? event.object : null;
    for (const [id, source] of oracle.shared) if (source.user === user && scopeCovers(scope, source.feed, source.guid)) oracle.shared.delete(id);
    for (const [key, pair] of oracle.played.get(user) ?? []) if (scopeCovers(scope, pair.feed, pair.guid)) oracle.played.get(user)!.delete(key);
  } else if (SHAREABLE.has(event.type) && event.object !== null) {
    oracle.shared.set(event.id, { user, feed: event.object.rss_source_feed, guid: event.object.rss_source_id });
  }
  if (event.type === 'play') {
    const { rss_source_feed: f, rss_source_id: guid } = event.object;
    if (!oracle.played.has(user)) oracle.played.set(user, new Map());
    oracle.played.get(user)!.set(episodeKey(f, guid), { feed: f, guid });
  }
}

function checkPrivacy(oracle: Oracle, docs: Record<string, StoredDoc[]>, defaultPrivacy: Privacy): void {
  const levelOf = (user: string, f: string) => effectivePrivacy((oracle.states.get(user) ?? emptyState()).privacy, f, defaultPrivacy);
  const published = new Map(docs[PUBLIC_EVENTS]!.map(({ id, doc }) => [id, doc]));
  for (const [id, source] of oracle.shared) {
    const visibility = levelOf(source.user, source.feed);
    const doc = published.get(id);
    if (visibility === 'private') expect(doc, `event ${id} of a private user is public`).to.equal(undefined);
    else if (visibility === 'anonymous') expect(doc?.['user'], `event ${id} of an anonymous user names them`).to.equal(null);
    else expect(doc?.['user'], `event ${id} of a public user`).to.equal(usernameOf(source.user));
  }
  const expectedIds = [...oracle.shared].filter(([, source]) => levelOf(source.user, source.feed) !== 'private').map(([id]) => id);
  expect([...published.keys()].sort(), 'public events are exactly the retained, non-private shareable events').to.deep.equal(expectedIds.sort());

  const episodes = new Map(docs[EPISODE_POPULARITY]!.map(({ id, doc }) => [id, doc]));
  const podcasts = new Map(docs[PODCAST_POPULARITY]!.map(({ id, doc }) => [id, doc]));
  for (const f of FEEDS) {
    let podcastPlays = 0;
    for (const guid of GUIDS) {
      const key = episodeKey(f, guid);
      const plays = USERS.filter((user) => oracle.played.get(user)?.has(key) && levelOf(user, f) !== 'private').length;
      expect(episodes.get(key)?.['plays'] ?? 0, `plays of ${key}`).to.equal(plays);
      podcastPlays += plays;
    }
    expect(podcasts.get(f)?.['plays'] ?? 0, `plays of ${f}`).to.equal(podcastPlays);
  }
}

// ---- the property -----------------------------------------------------------------------------

/** An `append` step's events appended to its user's stream, their ids counted on from `next`; returns them. */
async function appendStep(eventStore: EventStore, s: Extract<Step, { kind: 'append' }>, next: { id: number }): Promise<UserEvent[]> {
  const events = s.events.map(([minute, eventBody]) => toEvent(s.user, next.id++, minute, eventBody));
  await eventStore.append(
    streams.user(s.user),
    events.map((event) => toStoreEvent(event, { username: usernameOf(s.user) })),
  );
  return events;
}

async function runScenario(steps: readonly Step[], defaultPrivacy: Privacy): Promise<void> {
  const eventStore = new SqliteEventStore({ path: ':memory:' });
  const live = memoryReadModel();
  const rebuilt = memoryReadModel();
  const context = { defaultPrivacy };
  const newProjector = async () => {
    const projector = new Projector({ eventStore, readModel: live.readModel, projections: allProjections, context, logger: silentLogger() });
    await projector.prepare();
    return projector;
  };
  const oracle: Oracle = { states: new Map(), shared: new Map(), played: new Map() };
  try {
    let projector = await newProjector();
    const next = { id: 1 };
    let parked = 0;
    for (const s of steps) {
      if (s.kind === 'append') {
        for (const event of await appendStep(eventStore, s, next)) observe(oracle, event);
      } else if (s.kind === 'project') {
        const page = await eventStore.readAll({
          after: projector.lowestCheckpoint(),
          maxCount: s.maxCount,
          filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES },
        });
        await projector.processBatch(page);
      } else {
        parked += projector.parkedCount;
        projector = await newProjector();
      }
    }
    await projector.catchUp();
    parked += projector.parkedCount;

    const summary = await rebuildProjections({ eventStore, readModel: rebuilt.readModel }, allProjections, { context, batchSize: 7 });
    expect(parked, 'events parked live').to.equal(0);
    expect(summary.parked, 'events parked by the rebuild').to.equal(0);
    const liveDocs = await dumpDocs(live.readModel, allProjections);
    const rebuiltDocs = await dumpDocs(rebuilt.readModel, allProjections);
    expectSameDocs(liveDocs, rebuiltDocs);
    checkPrivacy(oracle, liveDocs, defaultPrivacy);
  } finally {
    await eventStore.close();
    live.close();
    rebuilt.close();
  }
}

/**
 * The same steps through the projector as the service runs it: pipelined (batch N+1 decided over
 * batch N's changes while a background committer writes them), on files. Each `project` step is a
 * pipelined catch-up in batches of `batchSize`; a restart stops it and starts another over the
 * same read model with a committer of its own.
 */
async function runPipelinedScenario(steps: readonly Step[], defaultPrivacy: Privacy, batchSize: number): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'podsync-pipelined-property-'));
  const stores = await openStores({ DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded' });
  const rebuilt = memoryReadModel();
  const context = { defaultPrivacy };
  let committer = (await stores.readModel.openBackgroundCommitter?.())!;
  expect(committer, 'a background committer').to.not.equal(undefined);
  const newProjector = async () => {
    const projector = new Projector({
      eventStore: stores.eventStore,
      readModel: stores.readModel,
      projections: allProjections,
      context,
      logger: silentLogger(),
      batchSize,
      pipeline: true,
      commitAll: (commits, options) => committer.commitAll(commits, options),
    });
    expect(await projector.acquireLeases(false)).to.equal(true);
    await projector.prepare();
    return projector;
  };
  try {
    let projector = await newProjector();
    const next = { id: 1 };
    let parked = 0;
    for (const s of steps) {
      if (s.kind === 'append') {
        await appendStep(stores.eventStore, s, next);
      } else if (s.kind === 'project') {
        await projector.catchUp();
      } else {
        parked += projector.parkedCount;
        await projector.stop();
        await committer.close();
        committer = (await stores.readModel.openBackgroundCommitter?.())!;
        projector = await newProjector();
      }
    }
    await projector.catchUp();
    parked += projector.parkedCount;
    await projector.stop();
    const summary = await rebuildProjections({ eventStore: stores.eventStore, readModel: rebuilt.readModel }, allProjections, { context, batchSize: 7 });
    expect(parked, 'events parked live').to.equal(0);
    expect(summary.parked, 'events parked by the rebuild').to.equal(0);
    expectSameDocs(await dumpDocs(stores.readModel, allProjections), await dumpDocs(rebuilt.readModel, allProjections));
  } finally {
    await committer.close();
    await stores.close();
    rebuilt.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('projector: live documents equal a clean rebuild', function () {
  this.timeout(120_000);

  it('for random event sequences, batchings and restarts; public views honour current privacy', async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), level, (steps, defaultPrivacy) => runScenario(steps, defaultPrivacy)),
      { numRuns: Number(process.env['PROPERTY_RUNS'] ?? 50) },
    );
  });

  it('pipelined through a background committer, as the service projects: the same documents', async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), level, fc.integer({ min: 1, max: 6 }), (steps, defaultPrivacy, batchSize) =>
        runPipelinedScenario(steps, defaultPrivacy, batchSize),
      ),
      { numRuns: Number(process.env['PROPERTY_RUNS'] ?? 20) },
    );
  });
});

// ---- the crash ----------------------------------------------------------------------------------

const CHILD = fileURLToPath(new URL('./fixtures/project-child.ts', import.meta.url));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Child {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
}

function startChild(dataDir: string, mode: 'live' | 'pipelined' | 'live-pipelined'): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, mode], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { exited, kill: () => child.kill('SIGKILL') };
}

/** The lowest checkpoint over all projections, read through a separate connection as an operator would. */
function lowestCheckpoint(path: string): bigint {
  const database = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  try {
    const rows = database.prepare('SELECT projection, commit_position FROM rm_checkpoints').all() as { projection: string; commit_position: string }[];
    if (rows.length < allProjections.length) return 0n;
    return rows.reduce((low, row) => (BigInt(row.commit_position) < low ? BigInt(row.commit_position) : low), BigInt(Number.MAX_SAFE_INTEGER));
  } catch {
    return 0n; // the tables do not exist yet
  } finally {
    database.close();
  }
}

describe('projector: a crash neither loses nor double-counts an event', function () {
  this.timeout(180_000);
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'podsync-crash-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  for (const mode of ['live', 'pipelined', 'live-pipelined'] as const)
    it(`a projector (${mode}) killed (SIGKILL) mid-way and restarted ends with the documents of a clean rebuild`, async function () {
      const config = { DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded' } as const;
      const stores = await openStores(config);
      let head: bigint;
      try {
        const workload = { ...DEFAULT_WORKLOAD, events: 20_000, users: 300, feeds: 120, episodesPerFeed: 10, seed: 7 };
        for (const { stream, events } of generateWorkload(workload)) await stores.eventStore.append(stream, events);
        head = (await stores.eventStore.headPosition()).commit;
      } finally {
        await stores.close();
      }
      const file = join(dataDir, READ_MODEL_FILE);

      // Two kills, at random points, so the restart resumes from a checkpoint left by a killed run.
      const kills: bigint[] = [];
      for (let round = 0; round < 2; round++) {
        const from = lowestCheckpoint(file);
        const target = from + BigInt(Math.floor(Number(head - from) * (0.1 + Math.random() * 0.3)));
        const child = startChild(dataDir, mode);
        while (lowestCheckpoint(file) < target) {
          const done = await Promise.race([child.exited.then(() => true), sleep(5).then(() => false)]);
          if (done) throw new Error('the child finished before it could be killed');
        }
        child.kill();
        const { signal } = await child.exited;
        expect(signal).to.equal('SIGKILL');
        kills.push(lowestCheckpoint(file));
      }
      expect(
        kills.every((at) => at > 0n && at < head),
        `killed mid-way (checkpoints ${kills.join(', ')} of ${head})`,
      ).to.equal(true);

      const { code } = await startChild(dataDir, mode).exited;
      expect(code, 'the restarted child completes').to.equal(0);
      expect(lowestCheckpoint(file)).to.equal(head);

      const eventStore = new SqliteEventStore({ path: join(dataDir, EMBEDDED_FILE) });
      const readModelFile = new BetterSqlite3(file);
      const afterCrash = new SqliteReadModelStore(readModelFile);
      const clean = memoryReadModel();
      try {
        const summary = await rebuildProjections({ eventStore, readModel: clean.readModel }, allProjections, { context: { defaultPrivacy: 'private' } });
        expect(summary.parked).to.equal(0);
        const crashed = await dumpDocs(afterCrash, allProjections);
        const rebuilt = await dumpDocs(clean.readModel, allProjections);
        expect(crashed[PUBLIC_EVENTS]!.length, 'the workload publishes something').to.be.greaterThan(0);
        expectSameDocs(crashed, rebuilt);
      } finally {
        await eventStore.close();
        readModelFile.close();
        clean.close();
      }
    });
});

// ---- the rebuild's own duties ---------------------------------------------------------------------

describe('rebuildProjections', function () {
  it('refuses while another process holds a lease, names the projection, and leaves every lease as it was', async function () {
    const eventStore = new SqliteEventStore({ path: ':memory:' });
    const { readModel, close } = memoryReadModel();
    try {
      expect((await readModel.tryAcquireLeases(['popularity'], 'the-service', 60_000))[0]).to.equal(true);
      const error = await rebuildProjections({ eventStore, readModel }, allProjections, { context: { defaultPrivacy: 'private' } }).catch(
        (caught: unknown) => caught,
      );
      expect(error).to.be.instanceOf(LeaseHeldError);
      expect((error as LeaseHeldError).message).to.contain('stop the service first (lease held)');
      expect((error as LeaseHeldError).projections).to.deep.equal(['popularity']);
      // The leases it took on the way are released; the service's is untouched.
      expect((await readModel.tryAcquireLeases(['subscriptions'], 'someone-else', 60_000))[0]).to.equal(true);
      expect((await readModel.tryAcquireLeases(['popularity'], 'someone-else', 60_000))[0]).to.equal(false);
    } finally {
      await eventStore.close();
      close();
    }
  });

  it('drops the documents, checkpoint and parked events of the projections it rebuilds, and only theirs', async function () {
    const eventStore = new SqliteEventStore({ path: ':memory:' });
    const { readModel, close } = memoryReadModel();
    const [subscriptions, playStatuses] = [allProjections.find((p) => p.name === 'subscriptions')!, allProjections.find((p) => p.name === 'play_statuses')!];
    try {
      const stale = (projection: string) => ({ op: 'put' as const, collection: PARKED_EVENTS, id: `${projection}|x`, doc: { projection } });
      await readModel.ensureCollections([...subscriptions.collections, ...playStatuses.collections, { name: PARKED_EVENTS, indexes: [['projection']] }]);
      await readModel.commit(
        'subscriptions',
        [stale('subscriptions'), { op: 'put', collection: 'subscriptions', id: 'nobody|ghost', doc: { user: 'nobody' } }],
        {
          commit: 99n,
          prepare: 99n,
        },
      );
      await readModel.commit('play_statuses', [stale('play_statuses')], { commit: 99n, prepare: 99n });
      const summary = await rebuildProjections({ eventStore, readModel }, [subscriptions], { context: { defaultPrivacy: 'private' } });
      expect(summary.events).to.equal(0);
      expect(await readModel.find('subscriptions')).to.deep.equal([]);
      expect((await readModel.find(PARKED_EVENTS)).map(({ id }) => id)).to.deep.equal(['play_statuses|x']);
      expect((await readModel.getCheckpoint('subscriptions'))?.position ?? START).to.deep.equal(START);
      expect((await readModel.getCheckpoint('play_statuses'))?.position).to.deep.equal({ commit: 99n, prepare: 99n });
    } finally {
      await eventStore.close();
      close();
    }
  });
});
