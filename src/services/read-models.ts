/**
 * Reading the read models, with read-your-writes: before answering a user, wait (bounded)
 * until the projections serving the answer have reached the user's latest event. The
 * user's latest position is read from their stream, so this holds across stateless HTTP
 * workers with no shared memory.
 */
import { streams } from '../domain/events.js';
import type { EventStore, Position } from '../stores/event-store.js';
import { comparePositions, StreamNotFoundError } from '../stores/event-store.js';
import type { ReadModelStore } from '../stores/read-model.js';

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

export class ReadModelService {
  constructor(
    readonly eventStore: EventStore,
    readonly readModel: ReadModelStore,
    private readonly waitLimitMs = 2000,
  ) {}

  /** Position of the user's latest event, or undefined if they have none. */
  async latestPosition(userId: string): Promise<Position | undefined> {
    try {
      const [last] = await this.eventStore.readStream(streams.user(userId), { direction: 'backwards', fromRevision: 'end', maxCount: 1 });
      return last?.position;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
  }

  /** Waits until every named projection has reached `position`; false if the bound ran out. */
  async waitFor(projections: readonly string[], position: Position, limitMs = this.waitLimitMs): Promise<boolean> {
    const deadline = Date.now() + limitMs;
    for (let delay = 2; ; delay = Math.min(50, delay * 2)) {
      let behind = false;
      for (const name of projections) {
        const checkpoint = await this.readModel.getCheckpoint(name);
        if (!checkpoint || comparePositions(checkpoint.position, position) < 0) behind = true;
      }
      if (!behind) return true;
      if (Date.now() >= deadline) return false;
      await sleep(delay);
    }
  }

  /** Read-your-writes for one user over the named projections; throws {@link ReadModelsBehindError} when the wait runs out. */
  async catchUpWithUser(userId: string, projections: readonly string[]): Promise<void> {
    const position = await this.latestPosition(userId);
    if (position !== undefined && !(await this.waitFor(projections, position))) throw new ReadModelsBehindError();
  }
}
