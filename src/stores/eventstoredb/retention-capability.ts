/**
 * Retention and erasure on EventStoreDB (src/stores/retention-capability.ts), through the event
 * store port alone: `$tb` hides what goes (a scavenge removes it from disk), and an erasure
 * rewrites the stream without the erased events (src/retention/history.ts). Nothing here needs
 * the EventStoreDB client, so the tests run it on the embedded store as well.
 */
import { isUserEventType } from '../../domain/events.js';
import { planErasureRewrite } from '../../retention/history.js';
import type { AppendResult, EventStore, EventToAppend, RecordedEvent } from '../event-store.js';
import { truncateStream } from '../event-store.js';
import type { CountedTruncation, ErasureClosing, ErasurePlan, RetentionCapability, StreamAppend } from '../retention-capability.js';

/** Streams truncated through the port at once. */
const WRITE_CONCURRENCY = 8;

export class RewritingRetention implements RetentionCapability {
  /** Users snapshotted at once: EventStoreDB round trips overlap. */
  readonly userConcurrency = 8;
  /** Each user's snapshot appended on its own (the round trips overlap across users instead). */
  readonly appendBatch = 1;

  constructor(private readonly store: EventStore) {}

  /** `$tb` for each stream; the events it hides count as removed (gone at the next scavenge). */
  async truncate(truncations: readonly CountedTruncation[]): Promise<number> {
    // A few at a time; the first failure stops the rest (the next pass finishes them).
    await eachConcurrently(truncations, async ({ stream, truncateBefore }) => truncateStream(this.store, stream, truncateBefore));
    return truncations.reduce((sum, { hidden }) => sum + hidden, 0);
  }

  /** Each through the port, a few at a time; an append's failure is its own answer. */
  async appendEach(appends: readonly StreamAppend[]): Promise<(AppendResult | Error)[]> {
    const results: (AppendResult | Error)[] = new Array(appends.length);
    let next = 0;
    const worker = async () => {
      while (next < appends.length) {
        const index = next++;
        const { stream, events, expectedRevision } = appends[index]!;
        try {
          results[index] = await this.store.append(stream, events, { expectedRevision });
        } catch (error) {
          if (!(error instanceof Error)) throw error;
          results[index] = error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, appends.length) }, worker));
    return results;
  }

  /** Each: the append, then `$tb` at its revision (the earlier events go at the next scavenge). */
  async replaceStreams(replacements: readonly { readonly stream: string; readonly event: EventToAppend }[]): Promise<void> {
    await eachConcurrently(replacements, async ({ stream, event }) => {
      const appended = await this.store.append(stream, [event], { expectedRevision: 'any' });
      await truncateStream(this.store, stream, appended.nextRevision);
    });
  }

  /** Nothing to do: the scavenge removes what the port hid. */
  purge(): void {}

  /**
   * The rewrite: copies of the kept user events, the snapshot and the checkpoint (which
   * truncates before the first copy) in one append; then `$tb` moves to the first copy.
   */
  planErasure(stream: string, events: readonly RecordedEvent[], erased: ReadonlySet<string>, closing: ErasureClosing): ErasurePlan {
    const rewrite = planErasureRewrite(events, erased, isUserEventType, ({ truncateBefore, kept }) => closing({ truncateBefore, kept }));
    return {
      events: rewrite.events,
      complete: async () => {
        await truncateStream(this.store, stream, rewrite.truncateBefore);
        return erased.size;
      },
    };
  }

  checkpointWal(): void {}
}

/** `work` on every item, {@link WRITE_CONCURRENCY} at a time; the first failure stops the rest. */
async function eachConcurrently<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
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
  const results = await Promise.allSettled(Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, worker));
  const rejected = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (rejected) throw rejected.reason;
}
