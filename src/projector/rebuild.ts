/**
 * Rebuilding read models from the event store (docs/design.md, "Read models", 11): the code behind `npm run replay`,
 * the rebuild benchmark and the tests that compare live documents with rebuilt ones, so all
 * three exercise exactly the same path.
 *
 * A rebuild takes the projections' leases first (never waiting: a running service holds them,
 * and wiping documents under a live projector would mix two histories), drops the projections'
 * documents, checkpoints and parked events, then runs an ordinary {@link Projector} over `$all`
 * up to the head. The leases are released at the end, whatever happens.
 */
import { leaseOwner } from '../stores/lease-owner.js';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { EventStore, Position } from '../stores/event-store.js';
import type { ReadModelStore } from '../stores/read-model.js';
import type { Projection, ProjectionContext } from '../../projections/projection.js';
import { Projector } from './projector.js';
import { resetProjection } from './internal-collections.js';

const DEFAULT_LEASE_TTL_MS = 15_000;
/**
 * Bigger than the live projector's batches: nobody waits for a rebuild's documents, and a
 * commit writes each touched page once however many of the batch's documents it holds, so
 * larger batches write fewer pages per event (scripts/bench/rebuild.ts measures it).
 */
export const REBUILD_BATCH_SIZE = 2000;
/**
 * Documents kept loaded across batches, per projection: fewer than live (the projector's
 * default). A rebuild walks the users' histories interleaved, so a document is rarely read
 * again soon, and what it did not find cached it mostly knows to be absent (LoadingView); a
 * bigger cache only gave the garbage collector more to trace. 200k-event rebuild: 5,000 → 1,000
 * documents, 32.8 → 30.5 s, RSS −20 MB.
 */
export const REBUILD_CACHED_DOCS = 1000;

export interface RebuildStores {
  readonly eventStore: EventStore;
  readonly readModel: ReadModelStore;
}

export interface RebuildProgress {
  /** Events read so far (all user-stream events, including those no projection uses). */
  readonly events: number;
  /** Position of the last event committed. */
  readonly position: Position;
}

export interface RebuildOptions {
  readonly context: ProjectionContext;
  readonly logger?: Logger;
  /** Events per read and per commit (default {@link REBUILD_BATCH_SIZE}). */
  readonly batchSize?: number;
  /** Documents each projection keeps loaded across batches (default {@link REBUILD_CACHED_DOCS}). */
  readonly cachedDocs?: number;
  readonly leaseTtlMs?: number;
  readonly owner?: string;
  /** Called once the leases are held and the projections reset, before the first event. */
  readonly onStart?: (info: { head: Position }) => void;
  /** Called after each committed batch. */
  readonly onProgress?: (progress: RebuildProgress) => void;
  /** false: commit on this thread even where the read model offers a background committer. */
  readonly backgroundCommits?: boolean;
}

export interface RebuildSummary {
  readonly projections: readonly string[];
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Events that some projection could not apply (see `parked_events`). */
  readonly parked: number;
  /** Document puts and deletes committed (after each batch's changes to one document were merged). */
  readonly documents: number;
  /** Where every rebuilt projection's checkpoint now stands. */
  readonly position: Position;
}

/** Another process (normally the running service) holds a projection's lease. */
export class LeaseHeldError extends Error {
  override readonly name = 'LeaseHeldError';
  constructor(readonly projections: readonly string[]) {
    super(`stop the service first (lease held): another process projects ${projections.join(', ')}`);
  }
}

/** Rebuilds `projections` from the whole of `$all`; throws {@link LeaseHeldError} if one is busy. */
export async function rebuildProjections(stores: RebuildStores, projections: readonly Projection[], options: RebuildOptions): Promise<RebuildSummary> {
  const owner = options.owner ?? leaseOwner('rebuild');
  const leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  // Commits off this thread where the adapter offers it (embedded SQLite): the next batch is
  // decided while the last one is written (about half a rebuild's time each).
  const committer = options.backgroundCommits === false ? undefined : await stores.readModel.openBackgroundCommitter?.();
  const projector = new Projector({
    eventStore: stores.eventStore,
    readModel: stores.readModel,
    projections,
    context: options.context,
    logger: options.logger ?? silentLogger(),
    batchSize: options.batchSize ?? REBUILD_BATCH_SIZE,
    cachedDocs: options.cachedDocs ?? REBUILD_CACHED_DOCS,
    leaseTtlMs,
    owner,
    onBatch: countProgress(options.onProgress),
    pipeline: true,
    trackAbsence: true,
    ...(committer ? { commitAll: (commits, commitOptions) => committer.commitAll(commits, commitOptions) } : {}),
  });
  try {
    const busy = await tryLeases(stores.readModel, projector.names, owner, leaseTtlMs);
    if (busy.length > 0) throw new LeaseHeldError(busy);
    // Held now; this renews them and keeps renewing them while the rebuild runs.
    if (!(await projector.acquireLeases(false))) throw new LeaseHeldError(projector.names);
    // prepare() twice: first so the collections exist to be reset, then to reload the (now absent) checkpoints.
    await projector.prepare();
    for (const projection of projections) await resetProjection(stores.readModel, projection);
    await projector.prepare();
    options.onStart?.({ head: await stores.eventStore.headPosition() });
    const started = performance.now();
    const events = await projector.catchUp();
    const seconds = (performance.now() - started) / 1000;
    return {
      projections: projector.names,
      events,
      seconds,
      eventsPerSecond: seconds > 0 ? events / seconds : 0,
      parked: projector.parkedCount,
      documents: projector.documentsWritten,
      position: projector.lowestCheckpoint(),
    };
  } finally {
    // Releases only the leases this rebuild's owner holds, so a failed acquisition frees what it took.
    await projector.stop();
    await committer?.close();
  }
}

/** onBatch reports each batch; progress bars want the running total. */
function countProgress(onProgress: RebuildOptions['onProgress']): ((info: { events: number; position: Position }) => void) | undefined {
  if (!onProgress) return undefined;
  let events = 0;
  return (batch) => {
    events += batch.events;
    onProgress({ events, position: batch.position });
  };
}

/** Tries every lease (all, so the error names every busy projection); returns those held by others. */
async function tryLeases(readModel: ReadModelStore, names: readonly string[], owner: string, ttlMs: number): Promise<string[]> {
  const held = await readModel.tryAcquireLeases(names, owner, ttlMs);
  return names.filter((_, index) => !held[index]);
}
