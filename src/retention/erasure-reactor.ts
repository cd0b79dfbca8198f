/**
 * Erasure as a reactor (docs/design.md, "Erasure"): a subscriber to `$all` with its own
 * checkpoint and lease in the read-model store, as a projection has. For each `remove` it reads,
 * it waits until the projections have seen the user's stream (the scope is gone from every read
 * model), carries out the erasure for real (src/retention/retention-service.ts, `eraseScopes`),
 * and only then moves its checkpoint past the event. So a request that appends a `remove`
 * returns at once, and a process that stops between an erasure and its checkpoint erases again
 * from the checkpoint at its next start: a second run finds nothing left to erase.
 *
 * - One reactor runs across processes: the lease (named {@link ERASURE_REACTOR}) is taken before
 *   reading, renewed while running, and every checkpoint commit is fenced on it.
 * - It reads the same streams as the projections (users', `roll_stats`, feeds'), so its lag is
 *   counted the same way (src/admin/status.ts), but is handed only their `remove`s (it runs on
 *   the HTTP thread). A batch with a `remove` is checkpointed at once; how far the subscription
 *   read past it ({@link AllSubscription.idlePosition}) once that stood still for a moment
 *   ({@link IDLE_CHECKPOINT_MS}), or, while events keep coming, at most once a
 *   {@link ErasureReactorOptions.checkpointEveryMs}: such checkpoints only measure lag, and must
 *   not add a write per request.
 * - An erasure that keeps failing is logged and left to the retention job, which erases every
 *   user whose `remove` is still pending (the `retention_index` read model): the reactor moves on
 *   rather than hold back the erasures after it.
 */
import { userIdFromStream } from '../domain/events.js';
import type { Logger } from '../logger.js';
import type { AllSubscription, EventStore, Position, RecordedEvent } from '../stores/event-store.js';
import { comparePositions, START, StreamDeletedError } from '../stores/event-store.js';
import type { ReadModelStore } from '../stores/read-model.js';
import { leaseOwner } from '../stores/lease-owner.js';
import { LeaseKeeper, LeaseLostError } from '../projector/lease-keeper.js';
import { PROJECTED_STREAM_PREFIXES } from '../projector/projected-event.js';
import { fillBatch, NOTHING_YET, WatchedRead } from '../projector/live-batch.js';
import type { ReadModelService } from '../services/read-models.js';
import { yieldToEventLoop } from '../concurrency.js';

/** The reactor's checkpoint and lease name in the read-model store (no projection has it). */
export const ERASURE_REACTOR = 'erasure_reactor';

/** The event type the reactor carries out. */
const REMOVE = 'remove';

/** Quiet time after which the position reached is checkpointed (ms). */
const IDLE_CHECKPOINT_MS = 250;

export interface ErasureReactorOptions {
  readonly eventStore: EventStore;
  readonly readModel: ReadModelStore;
  readonly readModels: ReadModelService;
  /** Projections that must have seen a user's stream before its `remove` is carried out. */
  readonly projections: readonly string[];
  /**
   * Erases every `remove` of the user's stream up to `seen` (a position every projection has
   * reached); returns how many events went. Idempotent: nothing left, nothing done.
   */
  readonly erase: (user: string, seen: Position) => Promise<number>;
  readonly logger: Logger;
  readonly owner?: string;
  readonly leaseTtlMs?: number;
  readonly batchSize?: number;
  /** How long a batch waits for more events (ms). */
  readonly batchDelayMs?: number;
  /** At most one checkpoint write per this many ms while no `remove` comes by (default 1000). */
  readonly checkpointEveryMs?: number;
  /** Tries of one user's erasure before it is left to the retention job (default 5). */
  readonly attempts?: number;
  /** Backoff base between tries, in ms (doubling, at most 5 s); 200 by default. */
  readonly retryDelayMs?: number;
  /** How long one wait for the projections lasts before the user's latest event is read again (ms; 1000). */
  readonly projectionWaitMs?: number;
}

/** Stopping while waiting: the event is left for the next run, from the checkpoint. */
class StoppingError extends Error {
  override readonly name = 'StoppingError';
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ErasureReactor {
  readonly owner: string;
  private readonly leases: LeaseKeeper;
  private readonly batchSize: number;
  private readonly batchDelayMs: number;
  private readonly checkpointEveryMs: number;
  private checkpoint: Position = START;
  /** Read and reacted to, not yet committed. */
  private uncommitted: Position | undefined;
  private lastCommitAt = 0;
  private lastEventAt = 0;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private unsubscribe: (() => Promise<void>) | undefined;
  /** Users whose erasure was left to the retention job after failing (tests, logs). */
  skipped = 0;

  constructor(private readonly options: ErasureReactorOptions) {
    this.owner = options.owner ?? leaseOwner('erasure');
    this.leases = new LeaseKeeper({
      readModel: options.readModel,
      names: [ERASURE_REACTOR],
      owner: this.owner,
      ttlMs: options.leaseTtlMs ?? 15_000,
      logger: options.logger,
      holder: 'erasure reactor',
    });
    this.batchSize = options.batchSize ?? 500;
    this.batchDelayMs = options.batchDelayMs ?? 5;
    this.checkpointEveryMs = options.checkpointEveryMs ?? 1000;
  }

  /** The stored checkpoint: everything up to it has been reacted to. */
  async storedCheckpoint(): Promise<Position> {
    return (await this.options.readModel.getCheckpoint(ERASURE_REACTOR))?.position ?? START;
  }

  /**
   * Waits until the reactor's stored checkpoint has reached `position` (every `remove` up to it
   * erased for real), as ReadModelService.waitFor does for the projections; false if `limitMs`
   * ran out. Any process sharing the stores can wait so.
   */
  async waitFor(position: Position, limitMs = 10_000): Promise<boolean> {
    return this.options.readModels.waitFor([ERASURE_REACTOR], position, limitMs);
  }

  /** Whether it was started and not stopped (it may be on standby, another process holding the lease). */
  get running(): boolean {
    return this.loop !== undefined;
  }

  /** Starts in the background: lease, catch-up from the checkpoint, then live. */
  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.liveLoop().catch((error: unknown) => {
      this.options.logger.error('erasure reactor stopped on an unexpected error', { error: error instanceof Error ? error.stack : String(error) });
    });
  }

  /** Stops: an erasure in progress ends first, the position reached is committed, the lease freed. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.leases.cancelStandby();
    await this.unsubscribe?.();
    await this.loop;
    this.loop = undefined;
    this.leases.stopRenewing();
    if (this.uncommitted && this.leases.held) await this.commit().catch(() => undefined);
    await this.leases.release();
  }

  /**
   * For tests: ends as a crash would, at once: nothing more is committed, an erasure in progress
   * is abandoned where it stands, and the lease is left to expire.
   */
  async kill(): Promise<void> {
    this.stopping = true;
    this.leases.stopRenewing({ lost: true });
    await this.unsubscribe?.();
    this.loop = undefined;
  }

  /**
   * Reads `$all` from the stored checkpoint to the head and reacts to it, under the lease
   * (false, and nothing done, if another reactor holds it). For tests and scripts: a lease taken
   * here is released at the end, one held before (see {@link acquireLease}) is kept.
   */
  async catchUp(): Promise<boolean> {
    const held = this.leases.held;
    if (!(await this.acquireLease(false))) return false;
    if (held) {
      this.checkpoint = await this.storedCheckpoint();
      await this.readToHead();
      return true;
    }
    try {
      this.checkpoint = await this.storedCheckpoint();
      await this.readToHead();
      return true;
    } finally {
      await this.leases.release();
    }
  }

  private async readToHead(): Promise<void> {
    for (;;) {
      const page = await this.options.eventStore.readAll({
        after: this.checkpoint,
        maxCount: this.batchSize,
        filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES },
      });
      if (page.length === 0) return;
      await this.react(page);
      await this.commit();
    }
  }

  /**
   * Takes the lease (renewed from then on), waiting while another reactor holds it if `wait`;
   * false if it could not. {@link start} takes it itself; tests that drive the reactor with
   * {@link catchUp} take it first to hold it between calls.
   */
  async acquireLease(wait = false): Promise<boolean> {
    return this.leases.acquire(wait, () => this.stopping);
  }

  private async liveLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        // Inside the try: a store that fails to answer (say SQLITE_BUSY) is retried, not the end of the reactor.
        if (!(await this.acquireLease(true))) return;
        this.checkpoint = await this.storedCheckpoint();
        this.uncommitted = undefined;
        await this.follow();
      } catch (error) {
        if (this.stopping) return;
        this.options.logger.error('erasure reactor failed; resuming from its checkpoint', { error: error instanceof Error ? error.message : String(error) });
        await sleep(1000);
      }
    }
  }

  private async follow(): Promise<void> {
    // Handed only the `remove`s: every other event costs the HTTP thread nothing but the store's
    // scan; how far that scan went comes from idlePosition.
    const subscription = this.options.eventStore.subscribeToAll({
      after: this.checkpoint,
      filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES, eventTypes: [REMOVE] },
    });
    this.unsubscribe = () => subscription.unsubscribe();
    const iterator = subscription[Symbol.asyncIterator]();
    let pending = new WatchedRead(iterator.next());
    try {
      while (!this.stopping) {
        // While a checkpoint is owed, wait for the next event only until it is due: after a quiet
        // moment, or a while after the last one while events keep coming. Otherwise look every
        // quiet moment at how far the subscription has read.
        const due = this.uncommitted
          ? Math.max(0, Math.min(this.lastEventAt + IDLE_CHECKPOINT_MS, this.lastCommitAt + this.checkpointEveryMs) - Date.now())
          : IDLE_CHECKPOINT_MS;
        const first = await pending.within(due);
        if (first === NOTHING_YET) {
          const moved = this.passIdle(subscription);
          const now = Date.now();
          if (this.uncommitted && ((!moved && now - this.lastEventAt >= IDLE_CHECKPOINT_MS) || now - this.lastCommitAt >= this.checkpointEveryMs)) {
            await this.leases.ensure();
            await this.commit();
          }
          continue;
        }
        if (first.done) return;
        const batch = await fillBatch(first.value, iterator, { size: this.batchSize, delayMs: this.batchDelayMs });
        pending = new WatchedRead(batch.pending);
        await this.leases.ensure();
        this.lastEventAt = Date.now();
        const erased = await this.react(batch.events);
        if (erased || Date.now() - this.lastCommitAt >= this.checkpointEveryMs) await this.commit();
        await yieldToEventLoop();
      }
    } finally {
      await subscription.unsubscribe();
    }
  }

  /**
   * Moves the checkpoint to where the subscription has read, when it waits with every `remove`
   * up to there handed out, and all of them were reacted to (only called between batches, with
   * nothing taken from it unprocessed). Returns whether it moved.
   */
  private passIdle(subscription: AllSubscription): boolean {
    const idle = subscription.idlePosition();
    if (idle === undefined || comparePositions(idle, this.checkpoint) <= 0) return false;
    this.checkpoint = idle;
    this.uncommitted = idle;
    this.lastEventAt = Date.now();
    return true;
  }

  /** Carries out the erasures a batch calls for; returns whether there was any. */
  private async react(batch: readonly RecordedEvent[]): Promise<boolean> {
    const users = new Set<string>();
    for (const event of batch) {
      if (comparePositions(event.position, this.checkpoint) <= 0) continue;
      const user = event.type === REMOVE ? userIdFromStream(event.stream) : undefined;
      if (user !== undefined) users.add(user);
    }
    // One erasure per user erases every `remove` of the stream the projections have seen.
    for (const user of users) {
      if (this.stopping) throw new StoppingError('stopping');
      await this.leases.ensure();
      await this.eraseWithRetry(user);
    }
    const last = batch.at(-1)!.position;
    if (comparePositions(last, this.checkpoint) > 0) {
      this.checkpoint = last;
      this.uncommitted = last;
    }
    return users.size > 0;
  }

  private async eraseWithRetry(user: string): Promise<void> {
    const attempts = this.options.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.eraseOnce(user);
        return;
      } catch (error) {
        if (error instanceof StoppingError || error instanceof LeaseLostError || this.stopping) throw error;
        const message = error instanceof Error ? error.message : String(error);
        if (attempt >= attempts) {
          this.skipped++;
          this.options.logger.error('erasure failed; the retention job tries again', { user, error: message });
          return;
        }
        const delay = Math.min(5000, (this.options.retryDelayMs ?? 200) * 2 ** (attempt - 1));
        this.options.logger.warn('erasure failed; retrying', { user, attempt, delayMs: delay, error: message });
        await sleep(delay);
      }
    }
  }

  /** Waits (as long as it takes) for the projections to reach the user's latest event, then erases. */
  private async eraseOnce(user: string): Promise<void> {
    try {
      for (let round = 1; ; round++) {
        const position = await this.options.readModels.latestPosition(user);
        if (position === undefined) return;
        // Short waits, so a stop is not held up by projections that are behind.
        if (await this.options.readModels.waitFor(this.options.projections, position, this.options.projectionWaitMs ?? 1000)) {
          await this.options.erase(user, position);
          return;
        }
        if (this.stopping) throw new StoppingError('stopping');
        if (round % 10 === 0) this.options.logger.warn('erasure waits: the projections are behind', { user });
        await this.leases.ensure();
      }
    } catch (error) {
      // The account was deleted (its stream tombstoned): nothing of it is left to erase.
      if (error instanceof StreamDeletedError) return;
      throw error;
    }
  }

  private async commit(): Promise<void> {
    const position = this.uncommitted;
    if (!position) return;
    await this.leases.fenced(() =>
      this.options.readModel.commitAll([{ projection: ERASURE_REACTOR, changes: [], checkpoint: position }], { leaseOwner: this.owner }),
    );
    this.lastCommitAt = Date.now();
    if (this.uncommitted === position) this.uncommitted = undefined;
  }
}
