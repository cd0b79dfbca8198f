/**
 * The rows a connection appended last to each stream, kept once committed, so that a read of a
 * stream's newest events takes them from memory instead of the table. That read is the common
 * one of read-your-writes ahead of the projector (`readStreamTail`, docs/design.md, "Read
 * models"): a download right after an upload reads back the events the projector has not
 * applied yet, which lie scattered in the write-ahead log among other users' (reading them was
 * an eighth of such a download's time: bench/RESULTS.md, "Events read back from memory").
 *
 * It holds no truth. The store answers from it only what the table holds at that moment
 * (SqliteEventStore.readStreamTail): the stream's last revision is the last one kept (no other
 * connection appended since), and every revision asked for is still a row (none erased since,
 * by any connection or process). Rows are never updated in place, so a row still there is the
 * row kept. Bounded by rows: the least recently appended streams go first.
 */
import type { EventRow } from './rows.js';

export class RecentTails {
  // A Map iterates in insertion order: re-inserting on append keeps the least recent first.
  private readonly tails = new Map<string, EventRow[]>();
  private held = 0;

  constructor(
    /** At most this many rows in all (a stream keeps at most as many of its last ones). */
    private readonly maxRows: number,
  ) {}

  /** Rows committed to `stream` by this connection, in revision order. */
  appended(stream: string, rows: readonly EventRow[]): void {
    if (rows.length === 0 || this.maxRows === 0) return;
    const before = this.tails.get(stream);
    const follows = before !== undefined && before[before.length - 1]!.revision + 1n === rows[0]!.revision;
    let tail = follows ? before.concat(rows) : [...rows];
    if (tail.length > this.maxRows) tail = tail.slice(tail.length - this.maxRows);
    this.forget(stream);
    this.tails.set(stream, tail);
    this.held += tail.length;
    for (const [oldest, dropped] of this.tails) {
      if (this.held <= this.maxRows) break;
      this.tails.delete(oldest);
      this.held -= dropped.length;
    }
  }

  /**
   * The rows of revisions `start` to `last` of `stream`, when the tail kept ends at `last` and
   * reaches back to `start`; the caller checks that the table still holds them all.
   */
  rows(stream: string, start: bigint, last: bigint): readonly EventRow[] | undefined {
    const tail = this.tails.get(stream);
    if (tail === undefined || tail[tail.length - 1]!.revision !== last) return undefined;
    const first = tail[0]!.revision;
    return start < first ? undefined : tail.slice(Number(start - first));
  }

  /** Drops what is kept of `stream` (of every stream without one): its rows may be gone. */
  forget(stream?: string): void {
    if (stream === undefined) {
      this.tails.clear();
      this.held = 0;
      return;
    }
    const tail = this.tails.get(stream);
    if (tail === undefined) return;
    this.tails.delete(stream);
    this.held -= tail.length;
  }

  /** Rows kept, in all. */
  get size(): number {
    return this.held;
  }
}
