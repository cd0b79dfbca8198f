/** Helpers shared by the projector tests and their child-process fixture. */
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import type { ProjectedEvent, Projection, ProjectionContext } from '../../projections/projection.js';
import { emptyView, StagedView } from '../../projections/staged-view.js';
import { PROJECTED_STREAM_PREFIXES, toProjectedEvent } from '../../src/projector/projected-event.js';
import { START, type EventStore, type Position } from '../../src/stores/event-store.js';
import { SqliteReadModelStore } from '../../src/stores/embedded/sqlite-read-model.js';
import { SqliteEventStore } from '../../src/stores/embedded/index.js';
import type { ReadModelStore, StoredDoc } from '../../src/stores/read-model.js';
import type { UserEvent } from '../../src/domain/events.js';
import { allProjections } from '../../projections/index.js';
import { Projector } from '../../src/projector/projector.js';
import { silentLogger } from '../../src/logger.js';

/** The service's projector (every read model, private by default), prepared; not started. */
export async function preparedProjector(stores: { eventStore: EventStore; readModel: ReadModelStore }): Promise<Projector> {
  const projector = new Projector({ ...stores, projections: allProjections, context: { defaultPrivacy: 'private' }, logger: silentLogger() });
  await projector.prepare();
  return projector;
}

let ids = 0;
/** A user's `subscribe` with a distinct, UUID-shaped id: the smallest event every projector test can append. */
export const subscribeEvent = (user: string): UserEvent => ({
  id: `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`,
  timestamp: '2026-01-01T00:00:00.000Z',
  user,
  type: 'subscribe',
  object: { rss_source_feed: 'https://example.com/feed.xml' },
  data: {},
});

/** Every collection of every projection, internal ones included, in one object to deep-compare. */
export async function dumpDocs(readModel: ReadModelStore, projections: readonly Projection[]): Promise<Record<string, StoredDoc[]>> {
  const dump: Record<string, StoredDoc[]> = {};
  for (const projection of projections) {
    for (const { name } of projection.collections) dump[name] = await readModel.find(name);
  }
  return dump;
}

/** An in-memory event store and read model, for projector tests (both closed by `close`). */
export function memoryStores(): { eventStore: SqliteEventStore; readModel: SqliteReadModelStore; close: () => Promise<void> } {
  const eventStore = new SqliteEventStore({ path: ':memory:' });
  const { readModel, close } = memoryReadModel();
  return {
    eventStore,
    readModel,
    close: async () => {
      await eventStore.close();
      close();
    },
  };
}

/** A read model in its own in-memory database (closed with the returned function). */
export type MemoryStores = ReturnType<typeof memoryStores>;

/** Runs `run` on fresh {@link memoryStores}, closed after it whatever its outcome. */
export async function withMemoryStores(run: (stores: MemoryStores) => Promise<void>): Promise<void> {
  const stores = memoryStores();
  try {
    await run(stores);
  } finally {
    await stores.close();
  }
}

export function memoryReadModel(): { readModel: SqliteReadModelStore; close: () => void } {
  const database = new BetterSqlite3(':memory:');
  return { readModel: new SqliteReadModelStore(database), close: () => database.close() };
}

/**
 * A document as JSON with its keys sorted at every level: the read-model stores do not keep a
 * document's key order (the embedded one puts fields kept apart back after the others).
 */
function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

/** The documents that differ between two dumps, readably (chai's diff of the whole dump is not). */
export function docDifferences(actual: Record<string, StoredDoc[]>, expected: Record<string, StoredDoc[]>): string[] {
  const differences: string[] = [];
  for (const collection of new Set([...Object.keys(actual), ...Object.keys(expected)])) {
    const a = new Map((actual[collection] ?? []).map(({ id, doc }) => [id, sortedJson(doc)]));
    const b = new Map((expected[collection] ?? []).map(({ id, doc }) => [id, sortedJson(doc)]));
    for (const id of new Set([...a.keys(), ...b.keys()])) {
      if (a.get(id) !== b.get(id)) differences.push(`${collection} ${id}:\n    live:    ${a.get(id) ?? '(absent)'}\n    rebuilt: ${b.get(id) ?? '(absent)'}`);
    }
  }
  return differences;
}

/** Equal documents, listing the differing ones in full when not (chai truncates big diffs). */
export function expectSameDocs(live: Record<string, StoredDoc[]>, rebuilt: Record<string, StoredDoc[]>): void {
  const differences = docDifferences(live, rebuilt);
  if (differences.length > 0) expect.fail(`documents differ:\n${differences.join('\n')}`);
  // Also in order: find() without a sort is by id in every adapter.
  expect(live).to.deep.equal(rebuilt);
}

/**
 * The documents the projections give for every event of `$all`, computed the plainest way: each
 * event through each projection's `evolve` over an in-memory view, in order. No store, no
 * loading, no cache, no batches: the oracle for what the projector must write.
 */
export async function foldInMemory(
  eventStore: EventStore,
  projections: readonly Projection[],
  context: ProjectionContext,
): Promise<Record<string, StoredDoc[]>> {
  // The users' streams as read so far: what ProjectionView.history answers.
  const streams = new Map<string, ProjectedEvent[]>();
  const history = (user: string, through: number) => (streams.get(user) ?? []).filter(({ revision }) => revision <= through);
  const view = new StagedView({ ...emptyView, history }, { keepLog: false });
  let after: Position = START;
  for (;;) {
    const page = await eventStore.readAll({ after, maxCount: 1000, filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } });
    if (page.length === 0) break;
    for (const recorded of page) {
      const projected = toProjectedEvent(recorded);
      if (projected === undefined) continue;
      if (projected.user !== '') {
        let stream = streams.get(projected.user);
        if (!stream) streams.set(projected.user, (stream = []));
        stream.push(projected);
      }
      for (const projection of projections) view.apply(projection.evolve(projected, view, context));
    }
    after = page.at(-1)!.position;
  }
  const dump: Record<string, StoredDoc[]> = {};
  for (const projection of projections) {
    for (const { name } of projection.collections) dump[name] = view.find(name, {});
  }
  return dump;
}
