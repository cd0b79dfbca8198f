/**
 * The ids of a stream's last events, as the stream's row keeps them (`streams.recent_ids`,
 * schema.ts): 8 bytes per id, its two 32-bit hashes (src/domain/string-hash.ts), in revision
 * order, the last ending at the stream's last revision. Hashes, not the ids: 64 ids of 36
 * characters would not fit in the row's page (SQLite moves what does not into overflow pages,
 * written with it on every append). A hash rules an id out for certain; an id it matches is confirmed from the stream
 * before an append is answered as a retry (sqlite-event-store.ts, `findRetry`).
 */

import { stringHashes } from '../../domain/string-hash.js';

const HASH_BYTES = 8;

/** The id's two 32-bit hashes, written at `at`. */
function hashInto(id: string, into: Buffer, at: number): void {
  stringHashes(id, scratch);
  into.writeUInt32LE(scratch[0]!, at);
  into.writeUInt32LE(scratch[1]!, at + 4);
}

const scratch = new Uint32Array(2);

export class RecentIds {
  private constructor(private readonly hashes: Buffer) {}

  /** From the row's column (null or empty: none kept). */
  static of(stored: Buffer | null | undefined): RecentIds {
    return new RecentIds(stored ?? Buffer.alloc(0));
  }

  /** How many ids it keeps. */
  get length(): number {
    return Math.floor(this.hashes.length / HASH_BYTES);
  }

  /** The index of the last kept id whose hash is the id's (0 the oldest kept), or -1: then the id is not among them. */
  lastIndexOf(id: string): number {
    stringHashes(id, scratch);
    const low = scratch[0]!;
    const high = scratch[1]!;
    for (let index = this.length - 1; index >= 0; index--) {
      const at = index * HASH_BYTES;
      if (this.hashes.readUInt32LE(at) === low && this.hashes.readUInt32LE(at + 4) === high) return index;
    }
    return -1;
  }

  /** The column's value after appending `ids`: the last `keep` of the kept ones and these. */
  appended(ids: readonly string[], keep: number): Buffer {
    const added = Buffer.allocUnsafe(ids.length * HASH_BYTES);
    ids.forEach((id, index) => hashInto(id, added, index * HASH_BYTES));
    const all = Buffer.concat([this.hashes, added]);
    return all.subarray(Math.max(0, all.length - keep * HASH_BYTES));
  }
}
