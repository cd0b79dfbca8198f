/**
 * What retention and erasure (docs/design.md, "Retention", "Erasure") need from an event store,
 * beside the {@link EventStore} port itself: one implementation per adapter, so the retention
 * service (src/retention/retention-service.ts) calls one interface and never asks which store
 * it runs on.
 *
 * - The embedded store deletes rows for real: truncation purges what `$tb` hides at once, and
 *   erasure deletes the erased events in place (src/stores/embedded/retention-capability.ts).
 * - EventStoreDB cannot delete single events: truncation is `$tb` alone (a scavenge removes the
 *   events from disk), and erasure rewrites the stream without them and truncates before the
 *   rewrite (src/stores/eventstoredb/retention-capability.ts, src/retention/history.ts). That
 *   implementation uses nothing but the port, so the tests run it on the embedded store too.
 */
import type { EventToAppend, RecordedEvent, StreamTruncation } from './event-store.js';

/** A truncation of a retention pass, with how many events it hides. */
export interface CountedTruncation extends StreamTruncation {
  /** Events the truncation hides (rows to delete, in the embedded store). */
  readonly hidden: number;
}

/** The `snapshot` and `checkpoint` that close an erasure, built by the retention service. */
export type ErasureClosing = (plan: {
  /** The checkpoint's `truncate_before`: null when nothing is truncated (the events are deleted in place). */
  readonly truncateBefore: bigint | null;
  /** The events the stream keeps (their ages give the checkpoint's `retained_from`). */
  readonly kept: readonly RecordedEvent[];
}) => { readonly checkpointId: string; readonly events: readonly EventToAppend[] };

/** An erasure as a store carries it out: one append, then {@link complete}. */
export interface ErasurePlan {
  /** Appended in one append at the stream's last revision read. */
  readonly events: readonly EventToAppend[];
  /**
   * After the append: the erased events go (rows deleted; or `$tb` moved past the originals,
   * hidden until a scavenge). Returns how many events were erased. Safe to run again.
   */
  complete(options: { checkpointWal: boolean }): Promise<number>;
}

/** How worker threads reach a store to snapshot users in parallel (src/retention/snapshot-workers.ts). */
export interface ParallelSnapshots {
  /** The store's file, for a connection of each thread. */
  readonly file: string;
  /** The store's clock: the recording time of what the threads append. */
  readonly clock: () => Date;
  /** The store's connection leaves WAL checkpoints to a checkpointer thread: the threads' connections too. */
  readonly checkpointsElsewhere: boolean;
  /** The store's limit on one append: the threads' checkpoints are held to it too. */
  readonly maxAppendBytes: number;
}

export interface RetentionCapability {
  /** Users a retention pass handles at once (overlapping round trips; 1 for a synchronous store). */
  readonly userConcurrency: number;
  /**
   * Where worker threads can open connections of their own to snapshot the users of a large
   * pass (the embedded store's file; not an in-memory one). Absent: the pass's thread does it all
   * (EventStoreDB's round trips overlap already, see {@link userConcurrency}).
   */
  readonly parallelSnapshots?: ParallelSnapshots;
  /**
   * Moves each stream's `$tb` (never back) and removes what it hides where the store can.
   * `touch` is called between batches (a scheduler's lock). Returns the events removed
   * (hidden, where the store only hides them).
   */
  truncate(truncations: readonly CountedTruncation[], touch?: () => Promise<void>): Promise<number>;
  /** After a stream was deleted or truncated through the port: its hidden events go for real, where the store can. */
  purge(stream: string): void;
  /** How this store erases `erased` from a stream whose visible events are `events`. */
  planErasure(stream: string, events: readonly RecordedEvent[], erased: ReadonlySet<string>, closing: ErasureClosing): ErasurePlan;
  /** Writes back what deletions left in a write-ahead log (no old page image of a deleted row stays); a no-op elsewhere. */
  checkpointWal(): Promise<void>;
}
