/**
 * The projector: feeds projections from `$all`, in batches, from each projection's stored
 * checkpoint, committing documents and checkpoint together (so a crash neither loses nor
 * double-counts an event). Used live (catch-up subscription, then live), by the replay
 * script (read `$all` to the head) and by tests.
 *
 * - Batches are bounded by size and by a short delay, and the subscription is only read
 *   when the previous batch is committed (backpressure). A batch is one commit for all the
 *   projections (their documents and checkpoints together).
 * - Store errors are retried with exponential backoff and logged; a batch is all or nothing.
 * - An event whose `evolve` throws (a poison event) is logged and parked in the
 *   `parked_events` collection, in the same commit, never silently dropped.
 * - So is an event whose documents the store refuses ({@link InvalidDocumentError}) or whose
 *   commit keeps failing while the store takes others: a failed batch is retried event by
 *   event, projection by projection ({@link Projector.processIsolated}), so one user's event
 *   parks alone and never holds back the others.
 * - Events hidden by truncation never arrive: the event store port filters them.
 * - One active projector per projection across processes, by a lease in the read-model store.
 */
import { isMainThread } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import type { EventStore, Position, RecordedEvent } from '../stores/event-store.js';
import { comparePositions, formatPosition, START } from '../stores/event-store.js';
import { isStorageFull, isStoreBusy, isStoreUnavailable } from '../stores/store-errors.js';
import { InvalidDocumentError, type CommitOptions, type DocChange, type ProjectionCommit, type ReadModelStore } from '../stores/read-model.js';
import { leaseOwner } from '../stores/lease-owner.js';
import type { ProjectedEvent, Projection, ProjectionContext, ProjectionView } from '../../projections/projection.js';
import { StagedView } from '../../projections/staged-view.js';
import { LoadingView } from './loading-view.js';
import { toProjectedEvent, PROJECTED_STREAM_PREFIXES, userHistory } from './projected-event.js';
import { fillBatch, type PendingRead } from './live-batch.js';
import { LeaseKeeper, LeaseLostError } from './lease-keeper.js';
import { builtVersion, INTERNAL_COLLECTIONS, PARKED_EVENTS, resetProjection, versionOf, versionRecord, withdrawalRecord } from './internal-collections.js';
import { isWithdrawal } from '../domain/withdrawals.js';
import { yieldToEventLoop } from '../concurrency.js';

export { LeaseLostError };
const MAX_LOAD_ROUNDS = 16;
/** Passes of {@link Projector.prefetch}: in the benchmarks' mix a third one left 20 of 20,000 events to load on their own instead of 0. */
const PREFETCH_PASSES = 2;
/**
 * Tries of one event in one projection, in isolation, before it is parked: a store that is down
 * fails the parking commit too (the batch is then retried as a whole, nothing parked), so an
 * event parked this way failed while the store took other writes.
 */
const DEFAULT_POISON_ATTEMPTS = 3;

export interface ProjectorOptions {
  readonly eventStore: EventStore;
  readonly readModel: ReadModelStore;
  readonly projections: readonly Projection[];
  readonly context: ProjectionContext;
  readonly logger: Logger;
  readonly batchSize?: number;
  /** How long a batch waits for more events before it is committed. */
  readonly batchDelayMs?: number;
  readonly leaseTtlMs?: number;
  /** Documents each projection keeps loaded across batches (memory against reads). */
  readonly cachedDocs?: number;
  readonly owner?: string;
  /** Called after each committed batch (metrics, progress bars). */
  readonly onBatch?: (info: { events: number; position: Position }) => void;
  /**
   * Where commits go: the read model's own commitAll by default, or a background committer
   * (ReadModelStore.openBackgroundCommitter) so that commits run off this thread. Either is
   * fenced on the leases once they are held (see {@link Projector.commit}).
   */
  readonly commitAll?: (commits: readonly ProjectionCommit[], options?: CommitOptions) => Promise<void>;
  /**
   * Catch-up and the live loop decide batch N+1 while batch N is being committed (see
   * {@link InFlight}). Worth it with commits that run elsewhere (a background committer, a
   * database server).
   */
  readonly pipeline?: boolean;
  /**
   * Tell absent documents without asking the store (LoadingView.trackAbsence): each collection
   * read by id reads its ids once, then notes the ids it commits (about 10 bits per document, in
   * memory; a collection past 4M documents is not tracked). On by default: most documents a
   * projection asks for are ones it is about to write first, and each such read cost as much as
   * deciding the event (bench/RESULTS.md, "Fewer copies in the read models, and absent documents known live").
   */
  readonly trackAbsence?: boolean;
  /**
   * Before projecting a batch, load what its events will ask for in one read per collection
   * (see {@link Projector.prefetch}). By default when the read model's reads are round trips
   * (ReadModelStore.remoteReads: MongoDB): otherwise each event that asks for a document not
   * loaded waits for its own read. In-process (SQLite) a read costs about what the extra pass
   * of `evolve` does, so it is off there.
   */
  readonly prefetch?: boolean;
  /**
   * A turn of the event loop after each projection's part of a batch, for the HTTP requests
   * that share this thread. By default on the main thread only: on the projector's own thread
   * nothing waits for it (its one turn per batch serves the lease timer and its messages), and
   * a live batch of a few events paid a dozen turns.
   */
  readonly yieldBetweenProjections?: boolean;
  /** Failed tries of one event in one projection (isolated) before it is parked; 3 by default. */
  readonly poisonAttempts?: number;
  /** Backoff base of the retries, in ms (doubling, at most 5 s); 100 by default. */
  readonly retryDelayMs?: number;
}

/**
 * A batch handed to the committer and not yet known to have landed. The next batch is decided
 * over `overlays`: each projection's view with this batch's changes laid over it. Those are
 * exactly the documents the commit writes, so anything else may be read from the store while it
 * runs (the commit does not change it), and nothing the next batch sees depends on when the
 * commit lands. Checkpoints move only once it has: a failure anywhere resumes from the stored
 * checkpoints, so nothing is lost or applied twice.
 */
interface InFlight {
  readonly done: Promise<void>;
  readonly staged: readonly { readonly runner: Runner; readonly changes: DocChange[] }[];
  readonly overlays: ReadonlyMap<Runner, StagedView>;
  readonly events: number;
  readonly position: Position;
}

interface Runner {
  readonly projection: Projection;
  readonly view: LoadingView;
  checkpoint: Position;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export class Projector {
  private readonly runners: Runner[];
  private readonly owner: string;
  private readonly batchSize: number;
  private readonly prefetches: boolean;
  private readonly yieldsBetweenProjections: boolean;
  /** The user histories read for the batch in progress (see the constructor's readHistory). */
  private readonly batchHistories = new Map<string, Promise<readonly ProjectedEvent[]>>();
  private readonly batchDelayMs: number;
  private readonly leases: LeaseKeeper;
  private running: Promise<void> | undefined;
  private stopping = false;
  private unsubscribe: (() => Promise<void>) | undefined;
  private inFlight: InFlight | undefined;
  /**
   * A pipelined projector renews the leases between its commits (LeaseKeeper.ensure); the timer stands
   * down while one of its commits is in flight (a renewal is a write: it would wait for it).
   */
  private renewsPerBatch = false;
  /** Pipelined commits handed over and not yet ended. */
  private commitsInFlight = 0;
  /** Where the checkpoints stood at the last failure (see failuresInARow). */
  private lastFailureAt: Position | undefined;
  parkedCount = 0;
  /** Document changes (puts and deletes) committed so far (the rebuild benchmark's raw ceiling writes as many). */
  documentsWritten = 0;

  constructor(private readonly options: ProjectorOptions) {
    // Shared by the projections within a batch: a privacy change has two of them (public
    // events, popularity) read the same history.
    const readHistory = (user: string, through: number) => {
      const key = `${user}\u0000${through}`;
      let history = this.batchHistories.get(key);
      if (!history) this.batchHistories.set(key, (history = userHistory(options.eventStore, user, through)));
      return history;
    };
    this.runners = options.projections.map((projection) => ({
      projection,
      view: new LoadingView(options.readModel, options.cachedDocs, readHistory),
      checkpoint: START,
    }));
    this.owner = options.owner ?? leaseOwner('projector');
    this.batchSize = options.batchSize ?? 500;
    this.prefetches = options.prefetch ?? options.readModel.remoteReads === true;
    this.yieldsBetweenProjections = options.yieldBetweenProjections ?? isMainThread;
    this.batchDelayMs = options.batchDelayMs ?? 5;
    this.leases = new LeaseKeeper({
      readModel: options.readModel,
      names: this.runners.map((runner) => runner.projection.name),
      owner: this.owner,
      ttlMs: options.leaseTtlMs ?? 15_000,
      logger: options.logger,
      holder: 'projector',
      lostMessage: 'projection lease lost',
      skipTimerTick: () => this.renewsPerBatch && this.commitsInFlight > 0,
    });
  }

  get names(): string[] {
    return this.runners.map((runner) => runner.projection.name);
  }

  /** Creates the collections and loads the checkpoints. */
  async prepare(): Promise<void> {
    await this.ensureCollections();
    for (const runner of this.runners) {
      runner.checkpoint = (await this.options.readModel.getCheckpoint(runner.projection.name))?.position ?? START;
      runner.view.clear();
      if (this.options.trackAbsence ?? true) runner.view.trackAbsence();
    }
  }

  /** Every collection with its indexes, all at once: an adapter drops the indexes no spec of a collection declares. */
  private async ensureCollections(): Promise<void> {
    await this.options.readModel.ensureCollections([...this.runners.flatMap((runner) => runner.projection.collections), ...INTERNAL_COLLECTIONS]);
  }

  /** The lowest checkpoint: where reading `$all` must resume. */
  lowestCheckpoint(): Position {
    return (
      this.runners.reduce<Position | undefined>(
        (low, runner) => (low === undefined || comparePositions(runner.checkpoint, low) < 0 ? runner.checkpoint : low),
        undefined,
      ) ?? START
    );
  }

  checkpoints(): Record<string, Position> {
    return Object.fromEntries(this.runners.map((runner) => [runner.projection.name, runner.checkpoint]));
  }

  /** Starts the live loop in the background: leases, catch-up, then live. */
  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.liveLoop().catch((error: unknown) => {
      this.options.logger.error('projector stopped on an unexpected error', { error: error instanceof Error ? error.stack : String(error) });
    });
  }

  /** Stops at a checkpoint: the batch in progress is committed (or abandoned whole). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.leases.cancelStandby();
    await this.unsubscribe?.();
    await this.running;
    this.running = undefined;
    await this.leases.release();
  }

  /** Acquires every projection's lease, waiting while another process holds one (see lease-keeper.ts). */
  async acquireLeases(wait = true): Promise<boolean> {
    return this.leases.acquire(wait, () => this.stopping);
  }

  private async liveLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        // Inside the try: a lease store that fails to answer, or a failed prepare (the store
        // unreachable, an index another process dropped first, an interrupted reset) is retried
        // like a failed subscription, rather than ending the projector for the life of the process.
        if (!(await this.acquireLeases())) return;
        await this.prepare();
        await this.rebuildOutdated();
        if (this.options.pipeline) await this.followAllPipelined();
        else await this.followAll();
      } catch (error) {
        if (this.stopping) return;
        this.options.logger.error('projector failed; resuming from the checkpoint', { error: error instanceof Error ? error.message : String(error) });
        await sleep(1000);
      }
    }
  }

  private async followAll(): Promise<void> {
    const subscription = this.options.eventStore.subscribeToAll({ after: this.lowestCheckpoint(), filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } });
    this.unsubscribe = () => subscription.unsubscribe();
    const iterator = subscription[Symbol.asyncIterator]();
    let pending = iterator.next();
    try {
      while (!this.stopping) {
        const batch = await this.nextBatch(iterator, pending);
        pending = batch.pending;
        if (batch.events.length === 0) return;
        await this.leases.ensure();
        await this.processWithRetry(batch.events);
        await yieldToEventLoop();
      }
    } finally {
      await subscription.unsubscribe();
    }
  }

  /**
   * The live loop with one commit in flight while the next batch is decided (see
   * {@link catchUpPipelined}, whose failure handling this shares): on a failure the pipeline is
   * drained, the checkpoints are read back from the store and `$all` is followed again from
   * there, the first batch after it event by event. A commit in flight when no event comes is
   * settled as soon as it lands, so its checkpoint moves and a failure shows at once.
   */
  private async followAllPipelined(): Promise<void> {
    let failures = 0;
    let isolate = false;
    this.renewsPerBatch = true;
    try {
      while (!this.stopping) {
        const subscription = this.options.eventStore.subscribeToAll({ after: this.lowestCheckpoint(), filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } });
        this.unsubscribe = () => subscription.unsubscribe();
        const iterator = subscription[Symbol.asyncIterator]();
        try {
          let pending = iterator.next();
          while (!this.stopping) {
            const batch = await this.nextBatch(iterator, pending);
            pending = batch.pending;
            if (batch.events.length === 0) return;
            if (isolate) await this.processIsolated(batch.events);
            else await this.processBatch(batch.events, true);
            isolate = false;
            await yieldToEventLoop();
          }
        } catch (error) {
          if (error instanceof LeaseLostError) throw error;
          await this.drain();
          if (this.stopping) throw error;
          failures = this.failuresInARow(failures);
          ({ failures, isolate } = await this.resumeAfterFailure(error, failures));
        } finally {
          await subscription.unsubscribe();
        }
      }
    } finally {
      this.renewsPerBatch = false;
      await this.drain();
    }
  }

  /**
   * The next live batch: waits for a first event (settling the commit in flight if it lands
   * meanwhile), then takes what comes within batchDelayMs, up to batchSize. Empty: the
   * subscription ended.
   */
  private async nextBatch(iterator: AsyncIterator<RecordedEvent>, pending: PendingRead): Promise<{ events: RecordedEvent[]; pending: PendingRead }> {
    const landed = Symbol('landed');
    let first: IteratorResult<RecordedEvent>;
    for (;;) {
      const flight = this.inFlight;
      if (!flight) {
        first = await pending;
        break;
      }
      const next = await Promise.race([
        pending,
        flight.done.then(
          () => landed,
          () => landed,
        ),
      ]);
      if (typeof next !== 'symbol') {
        first = next;
        break;
      }
      // Throws if it failed: the caller resumes from the stored checkpoints.
      if (this.inFlight === flight) await this.settle();
    }
    if (first.done) return { events: [], pending };
    return fillBatch(first.value, iterator, { size: this.batchSize, delayMs: this.batchDelayMs });
  }

  /**
   * Resets each projection whose documents another version of it built (Projection.version),
   * so that following `$all` from its (now absent) checkpoint rebuilds them; records the
   * version of those that have none yet. Under the leases: nobody else writes them meanwhile.
   */
  private async rebuildOutdated(): Promise<void> {
    await this.leases.ensure();
    const { readModel, logger } = this.options;
    const unrecorded: Runner[] = [];
    let reset = false;
    for (const runner of this.runners) {
      const { projection } = runner;
      const built = await builtVersion(readModel, projection, runner.checkpoint);
      if (built === versionOf(projection)) continue;
      unrecorded.push(runner);
      if (built === undefined) continue;
      logger.warn('read model built by another version of its projection: rebuilding it from the events', {
        projection: projection.name,
        built,
        version: versionOf(projection),
      });
      await resetProjection(readModel, projection);
      reset = true;
      runner.checkpoint = START;
      runner.view.clear();
    }
    if (unrecorded.length === 0) return;
    // MongoDB's reset drops the collections, and their indexes with them.
    if (reset) await this.ensureCollections();
    // Fenced like any of its commits: recorded only while the leases are this projector's.
    await this.commit(unrecorded.map(({ projection, checkpoint }) => ({ projection: projection.name, changes: [versionRecord(projection)], checkpoint })));
  }

  /** Reads `$all` to its current head and projects it (replay, tests). Returns events read. */
  async catchUp(): Promise<number> {
    await this.rebuildOutdated();
    if (this.options.pipeline) return this.catchUpPipelined();
    let after = this.lowestCheckpoint();
    let total = 0;
    for (;;) {
      const page = await this.options.eventStore.readAll({ after, maxCount: this.batchSize, filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } });
      if (page.length === 0) return total;
      await this.leases.ensure();
      await this.processWithRetry(page);
      total += page.length;
      after = page.at(-1)!.position;
      await yieldToEventLoop();
    }
  }

  /**
   * Catch-up with one commit in flight while the next batch is decided. On a failure the
   * pipeline is drained, the checkpoints are read back from the store (they say exactly which
   * batches landed) and reading resumes from there, with the same backoff as processWithRetry.
   * Returns the events read, counting again those read again after a failure.
   */
  private async catchUpPipelined(): Promise<number> {
    let after = this.lowestCheckpoint();
    let total = 0;
    let failures = 0;
    let isolate = false;
    this.renewsPerBatch = true;
    try {
      for (;;) {
        try {
          const page = await this.options.eventStore.readAll({ after, maxCount: this.batchSize, filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } });
          if (page.length === 0) {
            await this.settle();
            return total;
          }
          // After a failure, the page from the stored checkpoints is projected event by event
          // (see processWithRetry): a poison event among them is parked, then batches resume.
          if (isolate) await this.processIsolated(page);
          else await this.processBatch(page, true);
          total += page.length;
          after = page.at(-1)!.position;
          isolate = false;
        } catch (error) {
          if (error instanceof LeaseLostError) throw error;
          await this.drain();
          failures = this.failuresInARow(failures);
          if (this.stopping && failures > 0) throw error;
          ({ failures, isolate } = await this.resumeAfterFailure(error, failures));
          after = this.lowestCheckpoint();
        }
        await yieldToEventLoop();
      }
    } finally {
      this.renewsPerBatch = false;
      await this.drain();
    }
  }

  /** Waits for the commit in flight and moves the checkpoints and caches past it. */
  private async settle(): Promise<void> {
    const flight = this.inFlight;
    if (!flight) return;
    this.inFlight = undefined;
    await flight.done;
    this.committed(flight.staged, flight.position, flight.events);
  }

  /** Lets the commit in flight end, whatever its outcome (a failure is dealt with by re-reading checkpoints). */
  private async drain(): Promise<void> {
    const flight = this.inFlight;
    this.inFlight = undefined;
    await flight?.done.catch(() => undefined);
  }

  private committed(staged: readonly { readonly runner: Runner; readonly changes: DocChange[] }[], position: Position, events: number): void {
    for (const { runner, changes } of staged) {
      runner.view.committed(changes);
      runner.checkpoint = position;
      this.documentsWritten += changes.length;
    }
    this.options.onBatch?.({ events, position });
  }

  /**
   * A batch that fails is retried whole once (most failures are transient: a busy database, a
   * network error), then — or at once when the store refused a document — event by event
   * ({@link processIsolated}), where a poison event is parked and the rest go on.
   */
  private async processWithRetry(batch: readonly RecordedEvent[]): Promise<void> {
    let isolate = false;
    for (let attempt = 0; ; attempt++) {
      try {
        if (isolate) await this.processIsolated(batch);
        else await this.processBatch(batch);
        return;
      } catch (error) {
        // Retrying cannot get a lease back: the caller stands by until it is free again.
        if (error instanceof LeaseLostError || (this.stopping && attempt > 0)) throw error;
        for (const runner of this.runners) runner.view.clear();
        const refused = error instanceof InvalidDocumentError;
        isolate = refused || attempt >= 1;
        if (refused && attempt === 0) continue;
        const delay = this.retryDelay(attempt);
        this.options.logger.warn('projection batch failed; retrying', {
          attempt: attempt + 1,
          delayMs: delay,
          isolated: isolate,
          error: error instanceof Error ? error.message : String(error),
        });
        await sleep(delay);
      }
    }
  }

  /**
   * After a pipelined batch failed and the pipeline was drained: backs off (at once for a first
   * refused commit), reads the checkpoints back from the store, and says how many failures in a
   * row this makes and whether the next batch is projected event by event (see processWithRetry).
   */
  private async resumeAfterFailure(error: unknown, failures: number): Promise<{ failures: number; isolate: boolean }> {
    const refused = error instanceof InvalidDocumentError;
    const isolate = refused || failures >= 1;
    const delay = refused && failures === 0 ? 0 : this.retryDelay(failures);
    this.options.logger.warn('projection batch failed; resuming from the checkpoints', {
      attempt: failures + 1,
      delayMs: delay,
      isolated: isolate,
      error: error instanceof Error ? error.message : String(error),
    });
    await sleep(delay);
    await this.prepare();
    return { failures: failures + 1, isolate };
  }

  /**
   * The failures in a row before this one: none if a commit landed since the last failure. A
   * pipelined batch fails when its commit does, after the next batch was decided, so a batch
   * that returned says nothing yet: only a checkpoint that moved does. Counted so, a store that
   * refuses every commit (a full disk) is retried ever more slowly, and a commit that keeps
   * failing gets its batch projected event by event.
   */
  private failuresInARow(failures: number): number {
    const reached = this.lowestCheckpoint();
    const progressed = this.lastFailureAt === undefined || comparePositions(reached, this.lastFailureAt) > 0;
    this.lastFailureAt = reached;
    return progressed ? 0 : failures;
  }

  private retryDelay(attempt: number): number {
    return Math.min(5000, (this.options.retryDelayMs ?? 100) * 2 ** attempt);
  }

  /**
   * A batch that failed, projected one event and one projection per commit: an event whose
   * commit the store refuses ({@link InvalidDocumentError}), or that keeps failing
   * (poisonAttempts), is parked for that projection alone and the projection moves past it.
   * Throws when even parking fails (the store itself is failing): the caller retries later,
   * from the checkpoints this left.
   */
  async processIsolated(batch: readonly RecordedEvent[]): Promise<void> {
    const last = batch.at(-1);
    if (!last) return;
    await this.settle();
    for (const recorded of batch) {
      const event = toProjectedEvent(recorded);
      if (event === undefined) continue;
      for (const runner of this.runners) {
        if (comparePositions(recorded.position, runner.checkpoint) <= 0) continue;
        await this.leases.ensure();
        await this.projectAlone(runner, event, recorded);
      }
      await yieldToEventLoop();
    }
    const behind = this.runners.filter((runner) => comparePositions(last.position, runner.checkpoint) > 0);
    if (behind.length > 0) await this.commit(behind.map((runner) => ({ projection: runner.projection.name, changes: [], checkpoint: last.position })));
    for (const runner of behind) runner.checkpoint = last.position;
    this.options.onBatch?.({ events: batch.length, position: last.position });
  }

  private async projectAlone(runner: Runner, event: ProjectedEvent, recorded: RecordedEvent): Promise<void> {
    const attempts = this.options.poisonAttempts ?? DEFAULT_POISON_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      let changes: DocChange[];
      try {
        const view = new StagedView(runner.view, { keepLog: false });
        view.apply(this.evolveLoaded(runner, event, view, recorded) ?? (await this.evolve(runner, event, view, recorded)));
        changes = view.netChanges();
        const withdrawal = changes.length > 0 && isWithdrawal(recorded.type) ? recorded.position : undefined;
        await this.commit([
          { projection: runner.projection.name, changes: withWithdrawal(runner.projection, changes, withdrawal), checkpoint: recorded.position },
        ]);
      } catch (error) {
        runner.view.clear();
        // A full disk, a lock held elsewhere or a server out of reach is the store's condition,
        // not the event's: parked, the event would be missing from the read model for good, yet
        // the parking may go through (a smaller write, a server back). The caller backs off and
        // projects it once writes go through.
        if (isStorageFull(error) || isStoreBusy(error) || isStoreUnavailable(error)) throw error;
        if (!(error instanceof InvalidDocumentError) && attempt < attempts) {
          if (this.stopping) throw error;
          await sleep(this.retryDelay(attempt - 1));
          continue;
        }
        changes = [this.park(runner, recorded, error)];
        // A withdrawal parked still moves the projection past it: answers made before cannot tell what it would have taken back.
        const withdrawal = isWithdrawal(recorded.type) ? recorded.position : undefined;
        await this.commit([
          { projection: runner.projection.name, changes: withWithdrawal(runner.projection, changes, withdrawal), checkpoint: recorded.position },
        ]);
      }
      runner.view.committed(changes);
      runner.checkpoint = recorded.position;
      this.documentsWritten += changes.length;
      return;
    }
  }

  /**
   * Projects a batch into every projection that has not seen it, and commits all their
   * documents and checkpoints in one transaction: one commit per batch rather than one per
   * read model keeps the event loop (shared with HTTP requests) and the disk free sooner.
   */
  async processBatch(batch: readonly RecordedEvent[], pipelined = false): Promise<void> {
    const last = batch.at(-1);
    if (!last) return;
    // Also left by a batch that failed before its end (a rejected read among them) or by one
    // projected event by event (processIsolated): none may serve this batch.
    this.batchHistories.clear();
    // Made once for every projection: each takes those after its checkpoint, a tail of the batch
    // (positions grow along it), rather than a filtered copy per projection.
    const projected: { recorded: RecordedEvent; event: ProjectedEvent }[] = [];
    for (const recorded of batch) {
      const event = toProjectedEvent(recorded);
      if (event !== undefined) projected.push({ recorded, event });
    }
    const staged: { runner: Runner; changes: DocChange[]; withdrawal: Position | undefined }[] = [];
    for (const runner of this.runners) {
      if (comparePositions(last.position, runner.checkpoint) <= 0) continue;
      const base = this.inFlight?.overlays.get(runner) ?? runner.view;
      const first = projected.findIndex(({ recorded }) => comparePositions(recorded.position, runner.checkpoint) > 0);
      const events = first < 0 ? [] : first === 0 ? projected : projected.slice(first);
      if (this.prefetches && events.length > 1) await this.prefetch(runner, events, base);
      const view = new StagedView(base, { keepLog: false });
      // The last withdrawal that changed this projection's documents: one that changed none took nothing out of them.
      let withdrawal: Position | undefined;
      for (const { recorded, event } of events) {
        // Most events find every document they need loaded (or known absent): no await for them.
        const changes = this.evolveLoaded(runner, event, view, recorded) ?? (await this.evolve(runner, event, view, recorded));
        view.apply(changes);
        if (changes.length > 0 && isWithdrawal(recorded.type)) withdrawal = recorded.position;
      }
      staged.push({ runner, changes: view.netChanges(), withdrawal });
      // Live on the HTTP thread, let the requests in between read models rather than after the
      // whole batch (its commit is one block either way).
      if (this.yieldsBetweenProjections) await yieldToEventLoop();
    }
    // Read for this batch's projections only (LoadingView keeps what each of them asked for).
    this.batchHistories.clear();
    const commits = staged.map(({ runner, changes, withdrawal }) => ({
      projection: runner.projection.name,
      changes: withWithdrawal(runner.projection, changes, withdrawal),
      checkpoint: last.position,
    }));
    if (!pipelined) {
      await this.settle();
      if (commits.length > 0) await this.commit(commits);
      this.committed(staged, last.position, batch.length);
      return;
    }
    // Commits land in order: the previous one first (it may fail: the caller then resumes from
    // the stored checkpoints, and this batch's changes, decided over its overlays, are dropped).
    await this.settle();
    // The leases are checked (and renewed when due) here, the one moment the committer is idle:
    // a renewal is a write, and anywhere else it waits for the commit in flight (the renewal
    // timer stands down meanwhile, see renewsPerBatch).
    await this.leases.ensure();
    const overlays = new Map<Runner, StagedView>();
    for (const { runner, changes } of staged) {
      const overlay = new StagedView(runner.view, { keepLog: false });
      overlay.apply(changes);
      overlays.set(runner, overlay);
    }
    const done = commits.length > 0 ? this.commit(commits) : Promise.resolve();
    // Observed by settle() or drain(); never an unhandled rejection meanwhile.
    this.commitsInFlight += 1;
    void done.catch(() => undefined).finally(() => (this.commitsInFlight -= 1));
    this.inFlight = { done, staged, overlays, events: batch.length, position: last.position };
  }

  /**
   * Loads what a batch's events will ask for, a read per collection (and per query, per user
   * history) at once instead of one read per event that asks: passes of `evolve` over the
   * batch whose changes serve the events after them and are then dropped. A second pass finds
   * what depends on what the first one loaded (a popularity contribution, once the user's
   * privacy is known). Whatever the passes missed, the projecting pass loads as without them;
   * what `evolve` throws here is left to that pass too.
   */
  private async prefetch(runner: Runner, events: readonly { event: ProjectedEvent }[], base: ProjectionView): Promise<void> {
    for (let pass = 0; pass < PREFETCH_PASSES; pass++) {
      const dry = new StagedView(base, { keepLog: false });
      for (const { event } of events) {
        try {
          dry.apply(runner.projection.evolve(event, dry, this.options.context));
        } catch {
          // left to the projecting pass
        }
      }
      if (!runner.view.hasMissing()) return;
      await runner.view.loadMissing();
    }
  }

  /**
   * Once the leases were taken, commits are fenced on them, the read model's own and a
   * background committer's alike (a commit that would land after another process took over
   * fails instead and writes nothing: with pipelined commits, the lease is checked in the
   * commit's transaction, not only before it was handed over). A projector driven batch by
   * batch without leases (tests) commits unfenced.
   */
  private async commit(commits: readonly ProjectionCommit[]): Promise<void> {
    const commitAll =
      this.options.commitAll ?? ((batch: readonly ProjectionCommit[], options?: CommitOptions) => this.options.readModel.commitAll(batch, options));
    if (!this.leases.acquired) return commitAll(commits);
    await this.leases.fenced(() => commitAll(commits, { leaseOwner: this.owner }));
  }

  /**
   * Runs `evolve` once; undefined if it asked for documents not loaded yet, whether it returned
   * or threw (the view answered those as absent: projections/projection.ts, "the contract"), so
   * an event is parked only for what `evolve` does with everything it asked for loaded.
   */
  private evolveLoaded(runner: Runner, event: ProjectedEvent, staged: StagedView, recorded: RecordedEvent): DocChange[] | undefined {
    let changes: DocChange[];
    try {
      changes = runner.projection.evolve(event, staged, this.options.context);
    } catch (error) {
      return runner.view.hasMissing() ? undefined : [this.park(runner, recorded, error)];
    }
    return runner.view.hasMissing() ? undefined : changes;
  }

  /**
   * After {@link evolveLoaded} asked for documents: loads them and runs `evolve` again, until it
   * had everything. Load failures propagate (the batch is retried); only errors from `evolve` itself park.
   */
  private async evolve(runner: Runner, event: ProjectedEvent, staged: StagedView, recorded: RecordedEvent): Promise<DocChange[]> {
    for (let round = 0; round < MAX_LOAD_ROUNDS; round++) {
      await runner.view.loadMissing();
      const changes = this.evolveLoaded(runner, event, staged, recorded);
      if (changes) return changes;
    }
    return [this.park(runner, recorded, new Error(`evolve still needed more documents after ${MAX_LOAD_ROUNDS} loads`))];
  }

  private park(runner: Runner, recorded: RecordedEvent, error: unknown): DocChange {
    const message = error instanceof Error ? error.message : String(error);
    this.parkedCount++;
    this.options.logger.error('poison event parked', {
      projection: runner.projection.name,
      stream: recorded.stream,
      revision: String(recorded.revision),
      type: recorded.type,
      error: message,
    });
    return {
      op: 'put',
      collection: PARKED_EVENTS,
      id: `${runner.projection.name}|${recorded.id}`,
      doc: {
        projection: runner.projection.name,
        event_id: recorded.id,
        stream: recorded.stream,
        revision: recorded.revision.toString(),
        type: recorded.type,
        position: formatPosition(recorded.position),
        error: message,
        parked_at: new Date().toISOString(),
      },
    };
  }
}

/**
 * A commit's changes, with the projection's last withdrawal recorded when one changed its
 * documents (internal-collections.ts; docs/architecture.md, "Withdrawals": most change nothing of
 * most projections).
 */
function withWithdrawal(projection: Projection, changes: DocChange[], withdrawal: Position | undefined): DocChange[] {
  return withdrawal === undefined ? changes : [...changes, withdrawalRecord(projection, withdrawal)];
}
