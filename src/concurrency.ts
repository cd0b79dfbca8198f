/**
 * Bounded concurrency for store writes that overlap round trips (retention on EventStoreDB), and
 * long work on the HTTP thread done in slices.
 */
import type { Steps } from './domain/steps.js';

/** Runs `work` on every item, at most `limit` at a time; the first failure stops the rest. */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const rejected = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (rejected) throw rejected.reason;
}

/**
 * Lets the event loop serve what is waiting (I/O, timers) before going on. Long work on the HTTP
 * thread is done in slices with this between them, so that no request holds the others for
 * longer than a slice (docs/architecture.md, "Writes: one command handler"). Passes over many
 * events need it too: with the embedded store every await resolves as a microtask, so a
 * projector's catch-up or a retention pass would otherwise never give timers and I/O a turn
 * (lease renewals missed, so another process takes over mid-batch; requests and progress
 * stalled). A turn costs microseconds.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Runs `steps` (src/domain/steps.ts) to its end, yielding to the event loop at each of its pauses. */
export async function runPaced<T>(steps: Steps<T>): Promise<T> {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await yieldToEventLoop();
  }
}

/** Items mapped between two yields of {@link mapPaced}. */
const MAP_STEP = 2_000;

/** `items.map(map)`, yielding to the event loop every {@link MAP_STEP} items (an answer of 20,000 records shaped). */
export async function mapPaced<T, U>(items: readonly T[], map: (item: T) => U): Promise<U[]> {
  const mapped: U[] = [];
  for (let from = 0; from < items.length; from += MAP_STEP) {
    if (from > 0) await yieldToEventLoop();
    for (let index = from; index < Math.min(items.length, from + MAP_STEP); index++) mapped.push(map(items[index]!));
  }
  return mapped;
}

/**
 * `Promise.all(items.map(map))` a slice of `size` items at a time, yielding to the event loop
 * between slices: with the embedded store each call resolves as a microtask, so thousands of
 * reads together (a gpodder `updates` of 2,000 feeds) would otherwise hold every other request.
 */
export async function mapInSlices<T, U>(items: readonly T[], size: number, map: (item: T) => Promise<U>): Promise<U[]> {
  const mapped: U[] = [];
  for (let from = 0; from < items.length; from += size) {
    if (from > 0) await yieldToEventLoop();
    mapped.push(...(await Promise.all(items.slice(from, from + size).map(map))));
  }
  return mapped;
}
