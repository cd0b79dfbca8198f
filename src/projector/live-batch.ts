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

/** What {@link nextWithin} answers when no event came in time. */
export const NOTHING_YET = Symbol('nothing yet');

/**
 * The pending read's result if it comes within `ms`, else {@link NOTHING_YET}; the timer is
 * cleared either way (a reader that waits for its first event this way on every batch would
 * otherwise leave one timer pending per batch).
 */
export async function nextWithin(pending: PendingRead, ms: number): Promise<IteratorResult<RecordedEvent> | typeof NOTHING_YET> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([pending, new Promise<typeof NOTHING_YET>((resolve) => (timer = setTimeout(() => resolve(NOTHING_YET), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
