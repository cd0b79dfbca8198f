/**
 * Two independent 32-bit hashes of a string (FNV-1a and a multiply-rotate, over its UTF-16 code
 * units), finalised by murmur3's fmix32: 64 bits between them, for filters that rule a key out
 * for certain and confirm a match elsewhere (the projector's Bloom filter of written ids,
 * src/projector/written-ids.ts; the event store's hashes of a stream's last ids,
 * src/stores/embedded/recent-ids.ts). Plain 32-bit arithmetic: no BigInt, no hash object.
 */
export function stringHashes(key: string, out: Uint32Array): void {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let index = 0; index < key.length; index++) {
    const code = key.charCodeAt(index);
    h1 = Math.imul(h1 ^ code, 0x01000193);
    h2 = Math.imul(h2 ^ code, 0x5bd1e995);
    h2 = (h2 << 13) | (h2 >>> 19);
  }
  out[0] = fmix32(h1);
  out[1] = fmix32(h2 ^ key.length);
}

/** murmur3's finaliser: every input bit flips about half the output bits. */
export function fmix32(value: number): number {
  let h = value;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
