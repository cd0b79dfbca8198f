/**
 * Reading the read models, with read-your-writes: before answering a user, wait (bounded)
 * until the projections serving the answer have reached the user's latest event. The
 * user's latest position is read from their stream, so this holds across stateless HTTP
 * workers with no shared memory.
 */
import { streams } from '../domain/events.js';
import type { EventStore, Position, RecordedEvent, StreamTail } from '../stores/event-store.js';
import { comparePositions, START } from '../stores/event-store.js';
import type { Checkpoint, ReadModelStore } from '../stores/read-model.js';

/**
 * The read models did not reach the user's own writes in time: answering now would show the
 * user stale data as if it were current (their writes missing), so the request fails (503 with
 * Retry-After, src/http/errors.ts) instead.
 */
export class ReadModelsBehindError extends Error {
  override readonly name = 'ReadModelsBehindError';
  constructor() {
    super('The read models have not caught up with your latest writes yet; retry shortly');
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function reached(checkpoints: ReadonlyMap<string, Position | undefined>, projections: readonly string[], position: Position): boolean {
  return projections.every((name) => {
    const checkpoint = checkpoints.get(name);
    return checkpoint !== undefined && comparePositions(checkpoint, position) >= 0;
  });
}

/** How often the shared watch reads the checkpoints while someone waits. */
const WATCH_INTERVAL_MS = 4;

interface Waiter {
  readonly projections: readonly string[];
  readonly position: Position;
  readonly deadline: number;
  readonly resolve: (reached: boolean) => void;
  readonly reject: (error: unknown) => void;
}

export class ReadModelService {
  /** Reads waiting for the read models, all served by one loop of checkpoint reads ({@link watch}). */
  private readonly waiters = new Set<Waiter>();
  private watching = false;
  /** The checkpoints read in this turn of the event loop ({@link checkpointThisTurn}). */
  private readonly turnCheckpoints = new Map<string, Promise<Checkpoint | undefined>>();

  constructor(
    readonly eventStore: EventStore,
    readonly readModel: ReadModelStore,
    private readonly waitLimitMs = 2000,
  ) {}

  /**
   * A projection's checkpoint as first read in this turn of the event loop. For a read that
   * bounds what it takes from a read model by the checkpoint it read and makes the rest from
   * the user's events (a gpodder download ahead of the projector): a checkpoint a little older
   * than the store's only moves more of the answer to the events, never changes it. The
   * downloads after one group commit's appends run in one turn (up to 32 of them): one read of
   * each checkpoint for all (bench/RESULTS.md, "Checkpoints read once a turn"). Not for a read
   * that checks whether the projector moved meanwhile: that needs the store's own.
   */
  checkpointThisTurn(projection: string): Promise<Checkpoint | undefined> {
    let read = this.turnCheckpoints.get(projection);
    if (read === undefined) {
      if (this.turnCheckpoints.size === 0) setImmediate(() => this.turnCheckpoints.clear());
      read = this.readModel.getCheckpoint(projection);
      this.turnCheckpoints.set(projection, read);
    }
    return read;
  }

  /** Position of the user's latest event, or undefined if they have none. */
  latestPosition(userId: string): Promise<Position | undefined> {
    return this.eventStore.lastPosition(streams.user(userId));
  }

  /**
   * Where `projection` stands with the user: its checkpoint and, unless it has reached the
   * user's latest event, that event's position and the user's events it has not applied
   * ({@link userEventsAfter}, reading stops past about `limit`: `complete` false).
   */
  async behindUser(
    user: string,
    projection: string,
    limit = Infinity,
  ): Promise<{ checkpoint: Position | undefined; behind: { latest: Position; events: RecordedEvent[]; complete: boolean } | undefined }> {
    const checkpoint = (await this.readModel.getCheckpoint(projection))?.position;
    const latest = await this.latestPosition(user);
    if (latest === undefined || (checkpoint !== undefined && comparePositions(checkpoint, latest) >= 0)) return { checkpoint, behind: undefined };
    return { checkpoint, behind: { latest, ...(await this.userEventsAfter(user, checkpoint ?? START, { limit })) } };
  }

  /**
   * The user's events after `after` (a projection's checkpoint: those it has not applied), in
   * stream order (EventStore.readStreamTail): none at or before commit `from` (a download's
   * cursor), at most the newest `limit`; `complete` tells whether they are all of them.
   */
  userEventsAfter(user: string, after: Position, { from = 0, limit = Infinity }: { from?: number; limit?: number } = {}): Promise<StreamTail> {
    return this.eventStore.readStreamTail(streams.user(user), after, { from, maxCount: limit });
  }

  /**
   * Waits until every named projection has reached `position`; false if the bound ran out.
   * Checked at once; then every {@link WATCH_INTERVAL_MS} by one loop shared by every waiting
   * read, which reads each checkpoint once per round however many reads wait: under a write
   * load that outruns the projector, hundreds of reads wait at once, and each polling on its
   * own (it did, backing off to 50 ms) took the HTTP thread's CPU from the reads it answers,
   * and the projector's, on a small machine.
   */
  async waitFor(projections: readonly string[], position: Position, limitMs = this.waitLimitMs): Promise<boolean> {
    const deadline = Date.now() + limitMs;
    if (reached(await this.readCheckpoints(projections), projections, position)) return true;
    if (Date.now() >= deadline) return false;
    return new Promise<boolean>((resolve, reject) => {
      this.waiters.add({ projections, position, deadline, resolve, reject });
      if (!this.watching) void this.watch();
    });
  }

  private async readCheckpoints(names: Iterable<string>): Promise<Map<string, Position | undefined>> {
    // At once: against MongoDB each is a round trip, and they overlap on the driver's pool.
    const unique = [...new Set(names)];
    const positions = await Promise.all(unique.map(async (name) => (await this.readModel.getCheckpoint(name))?.position));
    return new Map(unique.map((name, index) => [name, positions[index]]));
  }

  /** Until no read waits: read the checkpoints the waiting reads need, answer those reached or out of time. */
  private async watch(): Promise<void> {
    this.watching = true;
    try {
      while (this.waiters.size > 0) {
        await sleep(WATCH_INTERVAL_MS);
        let checkpoints: Map<string, Position | undefined>;
        try {
          checkpoints = await this.readCheckpoints([...this.waiters].flatMap((waiter) => waiter.projections));
        } catch (error) {
          // As a read waiting on its own would have: the store's error is the reads' answer.
          for (const waiter of this.waiters) waiter.reject(error);
          this.waiters.clear();
          return;
        }
        const now = Date.now();
        for (const waiter of [...this.waiters]) {
          const done = reached(checkpoints, waiter.projections, waiter.position);
          if (!done && now < waiter.deadline) continue;
          this.waiters.delete(waiter);
          waiter.resolve(done);
        }
      }
    } finally {
      this.watching = false;
    }
  }

  /** Read-your-writes for one user over the named projections; throws {@link ReadModelsBehindError} when the wait runs out. */
  async catchUpWithUser(userId: string, projections: readonly string[]): Promise<void> {
    const position = await this.latestPosition(userId);
    if (position !== undefined && !(await this.waitFor(projections, position))) throw new ReadModelsBehindError();
  }
}
