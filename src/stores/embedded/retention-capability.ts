/**
 * Retention and erasure on the embedded store (src/stores/retention-capability.ts): rows are
 * deleted for real, at once.
 */
import type { RecordedEvent } from '../event-store.js';
import type { CountedTruncation, ErasureClosing, ErasurePlan, ParallelSnapshots, RetentionCapability } from '../retention-capability.js';
import type { Database } from 'better-sqlite3';
import type { SqliteEventStore } from './sqlite-event-store.js';
import { yieldToEventLoop } from '../../concurrency.js';

/**
 * Rows deleted per transaction (whole streams; ~0.3 s), between which the event loop gets a
 * turn.
 */
const PURGE_BATCH_ROWS = 50_000;

export class EmbeddedRetention implements RetentionCapability {
  /** The store is synchronous: users one by one. */
  readonly userConcurrency = 1;

  constructor(
    private readonly store: SqliteEventStore,
    /**
     * Where deletions leave old page images: the events' file, and the read models' when
     * embedded too (the projections deleted the erased documents there; secure_delete overwrote
     * them, but their older images stay in its WAL until it is written back and truncated).
     * `truncateWal` does that off the caller's thread where a WAL checkpointer runs (runtime.ts).
     */
    private readonly wal: { readonly truncateWal: (file: Database) => Promise<void>; readonly files: readonly Database[] },
  ) {}

  get parallelSnapshots(): ParallelSnapshots | undefined {
    const { database } = this.store;
    if (database.memory) return undefined;
    return {
      file: database.name,
      clock: () => this.store.recordingTime(),
      checkpointsElsewhere: Number(database.pragma('wal_autocheckpoint', { simple: true })) === 0,
      maxAppendBytes: this.store.maxAppendBytes,
    };
  }

  async truncate(truncations: readonly CountedTruncation[], touch?: () => Promise<void>): Promise<number> {
    this.store.truncateStreams(truncations);
    // Many streams per transaction (each a bounded number of rows, so the event loop gets a turn
    // between them), and the WAL written back once at the end of the pass, not at every commit.
    const resume = this.store.pauseWalCheckpoints();
    let purged = 0;
    try {
      for (let start = 0; start < truncations.length;) {
        let rows = 0;
        let end = start;
        while (end < truncations.length && (end === start || rows + truncations[end]!.hidden <= PURGE_BATCH_ROWS)) rows += truncations[end++]!.hidden;
        purged += this.store.purgeStreams(truncations.slice(start, end).map(({ stream }) => stream));
        start = end;
        await touch?.();
        await yieldToEventLoop();
      }
    } finally {
      resume();
    }
    return purged;
  }

  purge(stream: string): void {
    this.store.purgeStreams([stream]);
  }

  /** An erasure checkpoint (no truncation), then the erased rows deleted in place. */
  planErasure(stream: string, events: readonly RecordedEvent[], erased: ReadonlySet<string>, closing: ErasureClosing): ErasurePlan {
    const { events: appended } = closing({ truncateBefore: null, kept: events.filter((event) => !erased.has(event.id)) });
    return {
      events: appended,
      complete: async ({ checkpointWal }) => {
        const removed = this.store.eraseEvents(
          stream,
          events.filter((event) => erased.has(event.id)),
        );
        if (checkpointWal) await this.checkpointWal();
        return removed;
      },
    };
  }

  async checkpointWal(): Promise<void> {
    for (const file of this.wal.files) await this.wal.truncateWal(file);
  }
}
