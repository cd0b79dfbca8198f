/**
 * The ids of a stream's last events, as the stream's row keeps them (`streams.recent_ids`,
 * schema.ts): 8 bytes per id, two 32-bit FNV-1a hashes of it, in revision order, the last ending
 * at the stream's last revision. Hashes, not the ids: 64 ids of 36 characters would not fit in
 * the row's page (SQLite moves what does not into overflow pages, written with it on every
 * append). A hash rules an id out for certain; an id it matches is confirmed from the stream
 * before an append is answered as a retry (sqlite-event-store.ts, `findRetry`).
 */

const HASH_BYTES = 8;

/** Two FNV-1a hashes of the id's UTF-16 code units with different primes: 64 bits between them. */
function hashInto(id: string, into: Buffer, at: number): void {
  let first = 0x811c9dc5;
  let second = 0x050c5d1f;
  for (let index = 0; index < id.length; index++) {
    const unit = id.charCodeAt(index);
    first = Math.imul(first ^ unit, 0x01000193);
    second = Math.imul(second ^ unit, 0x5bd1e995);
  }
  into.writeUInt32LE(first >>> 0, at);
  into.writeUInt32LE(second >>> 0, at + 4);
}

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
    const wanted = Buffer.allocUnsafe(HASH_BYTES);
    hashInto(id, wanted, 0);
    const low = wanted.readUInt32LE(0);
    const high = wanted.readUInt32LE(4);
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
