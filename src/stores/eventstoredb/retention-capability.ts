/**
 * Retention and erasure on EventStoreDB (src/stores/retention-capability.ts), through the event
 * store port alone: `$tb` hides what goes (a scavenge removes it from disk), and an erasure
 * rewrites the stream without the erased events (src/retention/history.ts). Nothing here needs
 * the EventStoreDB client, so the tests run it on the embedded store as well.
 */
import { isUserEventType } from '../../domain/events.js';
import { planErasureRewrite } from '../../retention/history.js';
import type { EventStore, RecordedEvent } from '../event-store.js';
import { truncateStream } from '../event-store.js';
import { forEachConcurrently } from '../../concurrency.js';
import type { CountedTruncation, ErasureClosing, ErasurePlan, RetentionCapability } from '../retention-capability.js';

/** Streams truncated through the port at once. */
const WRITE_CONCURRENCY = 8;

export class RewritingRetention implements RetentionCapability {
  /** Users snapshotted at once: EventStoreDB round trips overlap. */
  readonly userConcurrency = 8;

  constructor(private readonly store: EventStore) {}

  /** `$tb` for each stream; the events it hides count as removed (gone at the next scavenge). */
  async truncate(truncations: readonly CountedTruncation[]): Promise<number> {
    // A few at a time; the first failure stops the rest (the next pass finishes them).
    await forEachConcurrently(truncations, WRITE_CONCURRENCY, async ({ stream, truncateBefore }) => {
      await truncateStream(this.store, stream, truncateBefore);
    });
    return truncations.reduce((sum, { hidden }) => sum + hidden, 0);
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

  async checkpointWal(): Promise<void> {}
}
