/** JSON values (src/domain/json.ts): equality as `isDeepStrictEqual` answers it for JSON. */
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'chai';
import fc from 'fast-check';
import type { JsonValue } from '../../src/domain/json.js';
import { jsonEqual, jsonPieces } from '../../src/domain/json.js';

/** The same value with its objects' keys in reverse order. */
function reordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reordered);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([key, inner]) => [key, reordered(inner)]),
  );
}

/** The value with one change at the `pick`-th object or array met (a key added or dropped, a value or an element changed). */
function changed(value: unknown, pick: number): unknown {
  let seen = 0;
  const walk = (node: unknown): unknown => {
    if (typeof node !== 'object' || node === null) return node;
    const mine = seen++ === pick;
    if (Array.isArray(node)) {
      const copy = node.map(walk);
      if (mine) return copy.length > 0 ? [...copy.slice(1), 'changed'] : ['added'];
      return copy;
    }
    const copy = Object.fromEntries(Object.entries(node).map(([key, inner]) => [key, walk(inner)]));
    if (!mine) return copy;
    const keys = Object.keys(copy);
    if (keys.length === 0) return { added: null };
    if (pick % 2 === 0) {
      const { [keys[0]!]: _dropped, ...rest } = copy;
      return rest;
    }
    return { ...copy, [keys[0]!]: ['a different value', copy[keys[0]!]] };
  };
  return walk(value);
}

describe('jsonEqual', () => {
  it('answers what isDeepStrictEqual answers for JSON values, their copies, reorderings and changed copies', () => {
    let equalPairs = 0;
    let unequalPairs = 0;
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), fc.nat(20), (a, other, pick) => {
        const copy = JSON.parse(JSON.stringify(a)) as unknown;
        for (const b of [other, copy, reordered(a), changed(a, pick)]) {
          const expected = isDeepStrictEqual(a, b);
          expect(jsonEqual(a, b), JSON.stringify([a, b])).to.equal(expected);
          expect(jsonEqual(b, a), JSON.stringify([b, a])).to.equal(expected);
          if (expected) equalPairs++;
          else unequalPairs++;
        }
      }),
      { numRuns: 1000 },
    );
    // Both answers were exercised, the one that skips a write above all.
    expect(equalPairs).to.be.above(1000);
    expect(unequalPairs).to.be.above(500);
  });

  it('tells apart what storing would tell apart', () => {
    expect(jsonEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).to.equal(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: null })).to.equal(false);
    expect(jsonEqual({ a: undefined }, {})).to.equal(false);
    expect(jsonEqual([1, 2], { 0: 1, 1: 2 })).to.equal(false);
    expect(jsonEqual({ 0: 1 }, [1])).to.equal(false);
    expect(jsonEqual('1', 1)).to.equal(false);
    expect(jsonEqual(null, {})).to.equal(false);
    expect(jsonEqual([[1], { x: 'y' }], [[1], { x: 'y' }])).to.equal(true);
    expect(jsonEqual([[1], { x: 'y' }], [[1], { x: 'z' }])).to.equal(false);
  });
});

describe('jsonPieces', () => {
  it('joined, is JSON.stringify of any JSON value, for any piece size (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue() as fc.Arbitrary<JsonValue>, fc.integer({ min: 1, max: 4 }), (value, size) => {
        expect([...jsonPieces(value, size)].join('')).to.equal(JSON.stringify(value));
      }),
      { numRuns: 1000 },
    );
  });

  it('leaves out what JSON.stringify leaves out: undefined fields, and undefined items as null', () => {
    const value = { a: undefined, b: [undefined, 1, 2, 3], c: { d: undefined, e: 1, f: 2, g: 3 } } as unknown as JsonValue;
    expect([...jsonPieces(value, 1)].join('')).to.equal(JSON.stringify(value));
  });

  it('writes a large map a piece of `size` entries at a time, a large map inside it too', () => {
    const records = Object.fromEntries(Array.from({ length: 2_500 }, (_, n) => [`k${n}`, { position: n }]));
    const value: JsonValue = { small: [1, 2], records, after: 'x' };
    const pieces = [...jsonPieces(value, 1_000)];
    expect(pieces.join('')).to.equal(JSON.stringify(value));
    // The head, three pieces of the map (1,000, 1,000 and 500 entries), the tail.
    expect(pieces).to.have.length(5);
    expect(pieces[0]).to.equal('{"small":[1,2],"records":');
    expect(pieces[4]).to.equal(',"after":"x"}');
    expect(Math.max(...pieces.map((piece) => piece.length))).to.be.below(JSON.stringify(value).length / 2);
  });
});
