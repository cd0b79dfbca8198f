/**
 * Batching a live `$all` subscription, as the projector and the erasure reactor both read it:
 * a burst of events goes in one batch (one commit), a lone event waits at most a short delay.
 */
import type { RecordedEvent } from '../stores/event-store.js';

export type PendingRead = Promise<IteratorResult<RecordedEvent>>;

/**
 * The batch that starts with `first`: the events that come within `delayMs` after it, up to
 * `size` in all. Returns it with the read still pending after it (the next call starts there).
 */
export async function fillBatch(
  first: RecordedEvent,
  iterator: AsyncIterator<RecordedEvent>,
  options: { size: number; delayMs: number },
): Promise<{ events: RecordedEvent[]; pending: PendingRead }> {
  const events: RecordedEvent[] = [first];
  let pending: PendingRead = iterator.next();
  const timeout = Symbol('timeout');
  const deadline = Date.now() + options.delayMs;
  while (events.length < options.size) {
    const wait = deadline - Date.now();
    const next = wait > 0 ? await Promise.race([pending, new Promise<symbol>((resolve) => setTimeout(() => resolve(timeout), wait))]) : timeout;
    if (typeof next === 'symbol' || next.done) break;
    events.push(next.value);
    pending = iterator.next();
  }
  return { events, pending };
}
