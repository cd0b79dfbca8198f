import type { AllSubscription, Position, RecordedEvent } from '../event-store.js';

/** One page of `$all` as seen by a subscription. */
export interface SubscriptionPage {
  readonly events: RecordedEvent[];
  /** Everything up to here (inclusive) has been examined, delivered or hidden. */
  readonly scannedUpTo: bigint;
}

/** What a subscription needs from its store. */
export interface SubscriptionSource {
  /** Visible events strictly after `after`, at most `limit`, read in one snapshot. */
  fetchPage(after: bigint, limit: number): SubscriptionPage;
  /** Changes whenever something may have hidden already-fetched events (truncation, deletes). */
  hidingGeneration(): number;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * A catch-up subscription over the embedded store: pages through history, then sleeps until an
 * in-process append wakes it or the poll interval elapses (the poll is what notices appends made
 * by another process on the same file).
 *
 * It is its own async iterator, so `for await` + `break` calls {@link return}, which unsubscribes.
 */
export class SqliteAllSubscription implements AllSubscription, AsyncIterator<RecordedEvent, undefined> {
  /** Every event at or before this position has been delivered or deliberately skipped. */
  private cursor: bigint;
  private buffer: RecordedEvent[] = [];
  /** Where `cursor` may jump once `buffer` is drained. */
  private bufferEnd = 0n;
  private bufferGeneration = 0;
  private closed = false;
  /** Asleep with an empty buffer: everything up to `cursor` handed out. */
  private idle = false;
  private wakeUp: (() => void) | undefined;
  /** Serialises concurrent `next()` calls so events are handed out once and in order. */
  private pending: Promise<unknown> = Promise.resolve();
  /** The types it is handed, if filtered on them (AllFilter.eventTypes). */
  private readonly eventTypes: ReadonlySet<string> | undefined;

  constructor(
    private readonly source: SubscriptionSource,
    after: bigint,
    private readonly pageSize: number,
    private readonly pollIntervalMs: number,
    private readonly onEnd: (subscription: SqliteAllSubscription) => void,
    eventTypes?: readonly string[],
  ) {
    this.cursor = after;
    this.eventTypes = eventTypes && eventTypes.length > 0 ? new Set(eventTypes) : undefined;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<RecordedEvent, undefined>> {
    const result = this.pending.then(() => this.pull());
    // The caller owns `result`'s rejection; the chain itself must never reject.
    this.pending = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorReturnResult<undefined>> {
    await this.unsubscribe();
    return DONE;
  }

  async unsubscribe(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.buffer = [];
    this.onEnd(this);
    this.wake();
  }

  idlePosition(): Position | undefined {
    return this.idle && !this.closed ? { commit: this.cursor, prepare: this.cursor } : undefined;
  }

  /**
   * Called by the store after a commit; cheap when the subscription is busy or already awake.
   * With the events this process appended, a subscription filtered on types none of them has
   * sleeps on: it finds nothing in them, and each look is a read transaction on the thread that
   * appended (the erasure reactor's, for every request that writes). Its next poll scans them,
   * so how far it has read ({@link idlePosition}) lags by at most the poll interval.
   */
  wake(appended?: readonly { readonly type: string }[]): void {
    const types = this.eventTypes;
    if (types && appended && !appended.some((event) => types.has(event.type))) return;
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private async pull(): Promise<IteratorResult<RecordedEvent, undefined>> {
    for (;;) {
      if (this.closed) return DONE;
      const buffered = this.takeBuffered();
      if (buffered) return { done: false, value: buffered };
      let page: SubscriptionPage;
      try {
        page = this.source.fetchPage(this.cursor, this.pageSize);
      } catch (error) {
        await this.unsubscribe();
        throw error;
      }
      if (page.events.length > 0) {
        this.buffer = page.events;
        this.bufferEnd = page.scannedUpTo;
        this.bufferGeneration = this.source.hidingGeneration();
        continue;
      }
      // Nothing visible up to the head: skip past hidden/filtered events so the next poll does not
      // rescan them, then sleep.
      if (page.scannedUpTo > this.cursor) this.cursor = page.scannedUpTo;
      this.idle = true;
      try {
        await this.sleep();
      } finally {
        this.idle = false;
      }
    }
  }

  private takeBuffered(): RecordedEvent | undefined {
    if (this.buffer.length > 0 && this.bufferGeneration !== this.source.hidingGeneration()) {
      // Something was truncated or deleted since the page was read: re-read from the last delivered
      // event so delivery applies the hiding rules as they are now. (Only this process's changes are
      // seen here; another process's truncation takes effect from the next page.)
      this.buffer = [];
      return undefined;
    }
    const event = this.buffer.shift();
    if (event) {
      this.cursor = event.position.commit;
      if (this.buffer.length === 0 && this.bufferEnd > this.cursor) this.cursor = this.bufferEnd;
    }
    return event;
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined = undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      this.wakeUp = done;
      timer = setTimeout(done, this.pollIntervalMs);
    });
  }
}
