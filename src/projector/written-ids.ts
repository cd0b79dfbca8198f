/**
 * The ids written to one collection since it was empty, as a Bloom filter: "not written" is
 * certain, "written" only probable. The projector's loading view uses it to answer "absent"
 * without asking the store (see LoadingView.trackAbsence): a rebuild asks for documents that do
 * not exist yet for most events (a user's first play of an episode), and asking SQLite for each
 * cost more than deciding the documents.
 *
 * Blocked (every key's bits in one 64-byte block: one cache miss per operation) and scalable (a
 * new, twice larger filter when the current one holds its capacity: nobody knows in advance how
 * many documents a rebuild writes). About 10 bits per id, ~1% false "written" (a needless load).
 * Hand-written: npm's Bloom filters hash with pure-JS 64-bit arithmetic that costs more per key
 * than the lookup it saves, and pull in half a dozen dependencies.
 */

import { fmix32, stringHashes as hashes } from '../domain/string-hash.js';

const WORDS_PER_BLOCK = 16;
const BITS_PER_KEY = 10;
const PROBES = 7;
const FIRST_CAPACITY = 1 << 14;

class Layer {
  readonly words: Uint32Array;
  readonly blocks: number;
  size = 0;

  constructor(readonly capacity: number) {
    this.blocks = Math.max(1, Math.ceil((capacity * BITS_PER_KEY) / (WORDS_PER_BLOCK * 32)));
    this.words = new Uint32Array(this.blocks * WORDS_PER_BLOCK);
  }

  /** Sets (or, with `set` false, tests) the key's bits; true if they were all set already. */
  probe(h1: number, h2: number, set: boolean): boolean {
    const base = (h1 % this.blocks) * WORDS_PER_BLOCK;
    let all = true;
    let bits = h2;
    for (let probe = 0; probe < PROBES; probe++) {
      // 9 bits of the second hash pick one of the block's 512 bits; re-mixed once they run out.
      if (probe === 3) bits = fmix32(h2 ^ h1);
      const bit = bits & 511;
      bits >>>= 9;
      const index = base + (bit >>> 5);
      const mask = 1 << (bit & 31);
      if ((this.words[index]! & mask) === 0) {
        all = false;
        if (!set) return false;
        this.words[index]! |= mask;
      }
    }
    return all;
  }
}

export class WrittenIds {
  private readonly layers: Layer[] = [new Layer(FIRST_CAPACITY)];
  private readonly scratch = new Uint32Array(2);

  add(id: string): void {
    hashes(id, this.scratch);
    const h1 = this.scratch[0]!;
    const h2 = this.scratch[1]!;
    // Already (probably) there: adding it again would only fill the newest layer.
    for (const layer of this.layers) if (layer.probe(h1, h2, false)) return;
    let layer = this.layers.at(-1)!;
    if (layer.size >= layer.capacity) this.layers.push((layer = new Layer(layer.capacity * 2)));
    layer.probe(h1, h2, true);
    layer.size += 1;
  }

  /** false: certainly never added; true: probably added. */
  mayHave(id: string): boolean {
    hashes(id, this.scratch);
    const h1 = this.scratch[0]!;
    const h2 = this.scratch[1]!;
    for (const layer of this.layers) if (layer.probe(h1, h2, false)) return true;
    return false;
  }

  /** Ids added (those found already there not counted twice, nor, rarely, a new one mistaken for one). */
  get size(): number {
    return this.layers.reduce((sum, layer) => sum + layer.size, 0);
  }

  /** Bytes held by the filter. */
  get bytes(): number {
    return this.layers.reduce((sum, layer) => sum + layer.words.byteLength, 0);
  }
}
