/**
 * Batching a live `$all` subscription, as the projector and the erasure reactor both read it:
 * a burst of events goes in one batch (one commit), a lone event waits at most a short delay.
 */
import type { RecordedEvent } from '../stores/event-store.js';

export type PendingRead = Promise<IteratorResult<RecordedEvent>>;

/**
 * The batch that starts with `first`: the events that come within `delayMs` after it, up to
 * `size` in all. Returns it with the read still pending after it (the next call starts there).
 * One timer per batch, cleared when the batch is full: a catch-up fills batches of hundreds of
 * events that are already read, and a timer per event left hundreds pending each time.
 */
export async function fillBatch(
  first: RecordedEvent,
  iterator: AsyncIterator<RecordedEvent>,
  options: { size: number; delayMs: number },
): Promise<{ events: RecordedEvent[]; pending: PendingRead }> {
  const events: RecordedEvent[] = [first];
  let pending: PendingRead = iterator.next();
  if (options.size <= 1 || options.delayMs <= 0) return { events, pending };
  const timeout = Symbol('timeout');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<symbol>((resolve) => {
    timer = setTimeout(() => resolve(timeout), options.delayMs);
  });
  try {
    while (events.length < options.size) {
      const next = await Promise.race([pending, deadline]);
      if (typeof next === 'symbol' || next.done) break;
      events.push(next.value);
      pending = iterator.next();
    }
  } finally {
    clearTimeout(timer);
  }
  return { events, pending };
}

/** What {@link WatchedRead.within} answers when no event came in time. */
export const NOTHING_YET = Symbol('nothing yet');

/**
 * A pending read, watched once, that {@link within} waits for up to a time as often as needed
 * without adding anything to it. `Promise.race` leaves a reaction on each contender until that
 * contender settles: racing one read that stays pending (the erasure reactor's, while no `remove`
 * comes, which can be days) against a timer at every quiet moment kept one more reaction, and
 * what it holds, for every look, ten a second (bench/RESULTS.md, "Soak").
 */
export class WatchedRead {
  private outcome: { readonly value: IteratorResult<RecordedEvent> } | { readonly error: unknown } | undefined;
  private wake: (() => void) | undefined;

  constructor(read: PendingRead) {
    read.then(
      (value) => this.settle({ value }),
      (error: unknown) => this.settle({ error }),
    );
  }

  /** The read's result if it comes within `ms`, else {@link NOTHING_YET}; the timer is cleared either way. */
  async within(ms: number): Promise<IteratorResult<RecordedEvent> | typeof NOTHING_YET> {
    if (this.outcome === undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.wake?.(), ms);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
      });
    }
    const outcome = this.outcome;
    if (outcome === undefined) return NOTHING_YET;
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }

  /** Records the read's outcome and ends the wait in progress, if any. */
  private settle(outcome: NonNullable<WatchedRead['outcome']>): void {
    this.outcome = outcome;
    this.wake?.();
  }
}
