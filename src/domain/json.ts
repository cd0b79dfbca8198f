/** JSON values, as events and documents hold them (the stores' ports re-export these). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * A JSON-shaped value as a JsonObject, to be stored (an event's data, a document). The values
 * passed are JSON by construction (parsed by a zod schema, or built from JSON values), but an
 * interface carries no index signature, so TypeScript assigns none to JsonObject: this is the
 * one place that says so.
 */
export function toJsonObject(value: object): JsonObject {
  return value as unknown as JsonObject;
}

/**
 * Stored JSON read back as the type it was written as: an event's data (validated when it was
 * appended) or a document (written by the projection code of the read model it is read from).
 * The store cannot carry the type, so this is the one place that trusts the writer.
 */
export function fromJson<T>(value: JsonValue | undefined): T {
  return value as unknown as T;
}

/**
 * Whether two JSON values are equal: the same primitive (as `Object.is`), arrays element by
 * element, objects with the same own keys holding equal values (in any order). What
 * `isDeepStrictEqual` answers for JSON values, without the cost of its generality (prototypes,
 * symbols, property descriptors): in the projections, which compare documents and records to
 * skip writes that change nothing, it was ~14 % of the popularity projection's time.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  let keys = 0;
  for (const key in left) {
    if (!Object.hasOwn(left, key)) continue;
    if (!Object.hasOwn(right, key) || !jsonEqual(left[key], right[key])) return false;
    keys++;
  }
  for (const key in right) if (Object.hasOwn(right, key)) keys--;
  return keys === 0;
}

/**
 * `JSON.stringify(value)` as pieces of text, for a value too large to serialise in one go
 * without holding everything else (an export's state: 20,000 play statuses are 8 MB of JSON).
 * A value holding more than `size` items and entries (nested ones counted) is written an item
 * or entry at a time, `size` of them to a piece, and those holding more than `size` themselves
 * in pieces the same way. Joined, the pieces
 * are exactly `JSON.stringify(value)` for a JSON value.
 */
export function* jsonPieces(value: JsonValue, size = 1_000): Generator<string> {
  if (!isLarge(value, size)) {
    yield JSON.stringify(value);
    return;
  }
  const array = Array.isArray(value);
  const entries: [string, JsonValue][] = array ? value.map((item, index) => [String(index), item]) : Object.entries(value);
  let text = array ? '[' : '{';
  let written = 0;
  let separator = '';
  for (const [key, item] of entries) {
    // As JSON.stringify: an entry it would leave out (undefined, a function) is left out, and
    // such an item of an array is null. (A JsonValue holds none, but answers are built as
    // objects whose optional fields may be undefined.)
    const omitted = typeof item === 'undefined' || typeof item === 'function' || typeof item === 'symbol';
    if (omitted && !array) continue;
    text += `${separator}${array ? '' : `${JSON.stringify(key)}:`}`;
    separator = ',';
    if (!omitted && isLarge(item, size)) {
      yield text;
      text = '';
      written = 0;
      yield* jsonPieces(item, size);
      continue;
    }
    text += omitted ? 'null' : JSON.stringify(item);
    if (++written === size) {
      yield text;
      text = '';
      written = 0;
    }
  }
  yield `${text}${array ? ']' : '}'}`;
}

/** Does `value` hold more than `size` items and entries, its own and theirs? */
function isLarge(value: JsonValue, size: number): value is JsonValue[] | JsonObject {
  let budget = size;
  const within = (node: JsonValue): boolean => {
    if (node === null || typeof node !== 'object') return true;
    for (const item of Array.isArray(node) ? node : Object.values(node)) if (--budget < 0 || !within(item)) return false;
    return true;
  };
  return !within(value);
}
