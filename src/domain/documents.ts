/**
 * The read models' document vocabulary: JSON documents by id in named collections, their
 * index declarations, the portable query shape and its in-memory semantics. Pure. Shared by
 * the projections, which decide document changes, and the read-model port
 * (src/stores/read-model.ts re-exports all of it), whose adapters store them.
 */
import type { JsonObject, JsonValue } from './json.js';

export type Scalar = string | number | boolean | null;
export type Doc = JsonObject;

export interface CollectionSpec {
  /**
   * An identifier, `[A-Za-z_][A-Za-z0-9_]{0,62}`, enforced by both adapters. In MongoDB it is the
   * collection's own name, so `checkpoints`, `leases`, `accounts`, `tokens` and `agendaJobs` are
   * reserved there.
   */
  readonly name: string;
  /**
   * Indexes: each a compound index on fields (dot paths allowed), given as the list of fields or
   * as an {@link IndexSpec} (for a partial index). The collection's indexes are exactly these:
   * an index an earlier version declared and this one does not is dropped.
   */
  readonly indexes: readonly (readonly string[] | IndexSpec)[];
  /**
   * Top-level fields that readers take whole, as stored ({@link RawFieldDoc}, the read-model
   * port's `findRaw`): a store may keep them apart from the rest of the document, so that such a
   * read neither parses nor serializes them (the embedded store keeps each in a column of its
   * own). Queries on paths inside them work as on any field. A projection that starts keeping a
   * field apart changes its version, so its documents are written again that way; a field once
   * kept apart stays so in the embedded store (docs/architecture.md, "Fields kept apart").
   */
  readonly apart?: readonly string[];
  /**
   * Top-level fields every document holds a string or a number in, in the order a store may keep
   * the documents (then by id): a query with equality on the first ones and a range or order on
   * the next reads consecutive documents, with no index between (the embedded store makes them
   * its table's primary key, and refuses a document without them: docs/architecture.md,
   * "Collections clustered by their reads"). MongoDB keeps its documents by id: its indexes,
   * which the spec declares as for any store, serve these reads there.
   */
  readonly clusteredBy?: readonly string[];
  /**
   * Every document's id is the string its first clustering field holds, `|`, then the rest (a
   * per-user document: `<user>|<key>`, projections/projection.ts `userDocId`), and that string
   * holds no `|`. The embedded store then keeps only the rest of the id beside the key (the user's
   * id is not stored twice in every row and every index entry: docs/architecture.md,
   * "Collections clustered by their reads"). Both adapters refuse a document that breaks it.
   */
  readonly idPrefixedByKey?: boolean;
}

/** A document found with one of its fields as its stored JSON text (`raw`, undefined when absent), left out of `doc`. */
export interface RawFieldDoc {
  readonly id: string;
  readonly doc: Doc;
  readonly raw: string | undefined;
}

/**
 * One field of many documents as their stored JSON texts joined with commas (the inside of a
 * JSON array), in the order they were found, and how many documents `bytes` holds (those without
 * the field are left out). UTF-8 bytes, not a string: the answer is written out as it is, and a
 * JavaScript string of megabytes (a first sync's download) costs a decoding, a copy into the
 * answer and an encoding again, about a third of such a download's time (bench/RESULTS.md,
 * "The gpodder download as bytes").
 */
export interface JoinedRaw {
  readonly bytes: Buffer;
  readonly count: number;
  /** With {@link JoinOptions.numbers}: that field of every document found, in order (null where it holds no number). */
  readonly numbers?: readonly (number | null)[];
}

/**
 * What a join reads besides the field: the numbers of another field of every document found
 * (a page's positions, for the gpodder download), and which documents are joined (`only`:
 * those whose fields hold these values, as a query's `where` matches them; the others are
 * found, and counted in `numbers`, but not joined). One read instead of two.
 */
export interface JoinOptions {
  readonly numbers?: string;
  readonly only?: Readonly<Record<string, Scalar>>;
}

/**
 * A partial index holds only the documents whose fields have the given values (MongoDB's
 * `partialFilterExpression`, SQLite's `CREATE INDEX … WHERE`): an index that serves one query
 * shape, e.g. "public users who played this episode, most recent first", costs nothing for the
 * documents that shape never asks for. A query uses it when its `where` asks for exactly these
 * values (and the indexed fields).
 */
export interface IndexSpec {
  readonly fields: readonly string[];
  readonly where?: Readonly<Record<string, string | boolean>>;
  /**
   * The direction the queries this index serves sort its fields in (default `asc`; fields a
   * query matches by equality may be listed first, their direction does not matter). Ties are
   * ordered by id ascending (see {@link Query.orderBy}), so MongoDB builds the index as these
   * fields in this direction followed by `_id` ascending: only then can a sort such as
   * `plays desc, likes desc, _id asc` read the index in order instead of sorting the whole
   * collection in memory. The index's name ({@link indexName}) does not depend on it.
   */
  readonly sort?: 'asc' | 'desc';
}

/** How a collection is clustered: the fields ({@link CollectionSpec.clusteredBy}), and whether its ids begin with the first one's value ({@link CollectionSpec.idPrefixedByKey}). */
export interface Clustering {
  readonly keys: readonly string[];
  readonly idPrefixedByKey?: boolean | undefined;
}

/** What separates the key from the rest of an id in a collection whose ids are prefixed by it ({@link CollectionSpec.idPrefixedByKey}). */
export const ID_KEY_SEPARATOR = '|';

/** An id of a collection whose ids are prefixed by their key, split there; undefined when it has no separator (no document has that id). */
export function splitKeyedId(id: string): { key: string; rest: string } | undefined {
  const at = id.indexOf(ID_KEY_SEPARATOR);
  return at < 0 ? undefined : { key: id.slice(0, at), rest: id.slice(at + 1) };
}

/**
 * Why a document cannot go into a collection clustered as `clustering` says
 * ({@link CollectionSpec.clusteredBy}): a key that holds no string or finite number, or, where
 * ids are prefixed by the first key, an id that is not that key's string, `|` and the rest. Both
 * adapters refuse such a document, so a projection that breaks the rule finds out in either store.
 */
export function clusteringProblem(collection: string, id: string, doc: Doc, { keys, idPrefixedByKey }: Clustering): string | undefined {
  for (const field of keys) {
    const value = doc[field];
    if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) continue;
    return `${collection} is clustered by ${field}: every document must hold a string or a number in it`;
  }
  const [first] = keys;
  if (idPrefixedByKey && first !== undefined) {
    const key = doc[first];
    // Checked for every document written: no string made for it.
    if (typeof key !== 'string' || id.charAt(key.length) !== ID_KEY_SEPARATOR || !id.startsWith(key) || key.includes(ID_KEY_SEPARATOR)) {
      return `${collection} ids begin with their ${first} and ${ID_KEY_SEPARATOR}: ${JSON.stringify(id)} does not (${first} ${JSON.stringify(key)})`;
    }
  }
  return undefined;
}

/** Either form of an index declaration, as an {@link IndexSpec}. */
export function indexSpec(index: readonly string[] | IndexSpec): IndexSpec {
  return 'fields' in index ? index : { fields: index as readonly string[] };
}

/**
 * One spec per collection, with the indexes of every spec naming it, each index once (each
 * collection's index set is replaced whole, and MongoDB refuses one index twice in a call).
 */
export function mergeSpecs(specs: readonly CollectionSpec[]): CollectionSpec[] {
  const merged = new Map<string, { indexes: Map<string, IndexSpec>; apart: Set<string>; clusteredBy?: readonly string[]; idPrefixedByKey?: boolean }>();
  for (const spec of specs) {
    let entry = merged.get(spec.name);
    if (!entry) merged.set(spec.name, (entry = { indexes: new Map(), apart: new Set() }));
    for (const index of spec.indexes.map(indexSpec)) entry.indexes.set(indexName(index), index);
    for (const field of spec.apart ?? []) entry.apart.add(field);
    if (spec.clusteredBy !== undefined) {
      // A collection has one order: two specs asking for different ones is a programming error.
      if (entry.clusteredBy !== undefined && entry.clusteredBy.join() !== spec.clusteredBy.join())
        throw new Error(`Collection ${spec.name} clustered by ${entry.clusteredBy.join(', ')} and by ${spec.clusteredBy.join(', ')}`);
      entry.clusteredBy = spec.clusteredBy;
    }
    if (spec.idPrefixedByKey !== undefined) {
      if (entry.idPrefixedByKey !== undefined && entry.idPrefixedByKey !== spec.idPrefixedByKey)
        throw new Error(`Collection ${spec.name} declared with ids prefixed by its key and without`);
      entry.idPrefixedByKey = spec.idPrefixedByKey;
    }
  }
  return [...merged].map(([name, { indexes, apart, clusteredBy, idPrefixedByKey }]) => ({
    name,
    indexes: [...indexes.values()],
    ...(apart.size > 0 ? { apart: [...apart] } : {}),
    ...(clusteredBy !== undefined && clusteredBy.length > 0 ? { clusteredBy, ...(idPrefixedByKey ? { idPrefixedByKey } : {}) } : {}),
  }));
}

/** `doc` without `field` (and with only `fields`, if given), and the field as JSON text (what a store answers `findRaw` with when it keeps the field inside). */
export function splitField(id: string, doc: Doc, field: string, fields?: readonly string[]): RawFieldDoc {
  const raw = Object.hasOwn(doc, field) ? JSON.stringify(doc[field]) : undefined;
  // fromEntries, not assignment: a parsed document may have its own "__proto__" key.
  const kept = (fields ?? Object.keys(doc)).filter((key) => key !== field && Object.hasOwn(doc, key));
  return { id, doc: Object.fromEntries(kept.map((key) => [key, doc[key]!])), raw };
}

/**
 * An index's name, the same in both adapters: its fields, then its filter's fields and values
 * (`feed__play_seq__where__level_public__played_true`). Dots become underscores.
 */
export function indexName(index: IndexSpec): string {
  for (const value of Object.values(index.where ?? {})) {
    // Declared in code; a name part, and inlined in SQLite's query text (see the adapter).
    if (typeof value === 'string' && !/^[A-Za-z0-9_]{1,40}$/.test(value)) throw new Error(`Invalid partial index value: ${value}`);
  }
  const fields = index.fields.join('__');
  const where = Object.entries(index.where ?? {}).map(([field, value]) => `${field}_${String(value)}`);
  return (where.length > 0 ? `${fields}__where__${where.join('__')}` : fields).replaceAll('.', '_');
}

/**
 * Field paths are dot-joined identifiers (`a.b`, never `_id`), enforced by both adapters.
 * Equality, bounds and orders are only portable between values of one JSON type per field
 * (plus null / missing): across types each store has its own order (MongoDB by BSON type;
 * SQLite with booleans as 0/1 among the numbers), neither being JavaScript's `<` in
 * {@link compareDocs}; strings compare by UTF-8 bytes in both, which differs from `<` only
 * outside the Basic Multilingual Plane. Paths do not traverse arrays here, while MongoDB would
 * match array elements: queried fields should hold scalars.
 */
export interface Query {
  /** Equality on fields (dot paths allowed). */
  readonly where?: Readonly<Record<string, Scalar>>;
  /** Strict upper / lower bounds, for cursors (`before=`, `since=`). */
  readonly lessThan?: { readonly field: string; readonly value: string | number };
  readonly greaterThan?: { readonly field: string; readonly value: string | number };
  /** Ties (and queries without an order) are ordered by id ascending, in every adapter. */
  readonly orderBy?: readonly { readonly field: string; readonly direction: 'asc' | 'desc' }[];
  /**
   * Keyset paging: only the documents after this one (its value of the order's field, its id) in
   * the query's order, which must be one `orderBy` field, ties by id ascending. So a page ends
   * with a document and the next starts right after it, without a stored cursor field made of
   * both (`{timestamp desc, after: {value: t, id}}`: timestamp < t, or timestamp = t and id > id).
   */
  readonly after?: { readonly value: string | number; readonly id: string };
  /**
   * Only the documents whose id starts with this text: a range of the id's own index in both
   * stores, so a collection whose ids begin with what it is queried by (a user's documents,
   * `user|…`) needs no index of its own for that query. It must end with an ASCII character
   * ({@link idPrefixRange}).
   */
  readonly idPrefix?: string;
  /** At most this many (floored; 0 or less: none, unlike MongoDB's native `limit(0)`). */
  readonly limit?: number;
}

export type DocChange =
  | { readonly op: 'put'; readonly collection: string; readonly id: string; readonly doc: Doc }
  | { readonly op: 'delete'; readonly collection: string; readonly id: string };

export interface StoredDoc {
  readonly id: string;
  readonly doc: Doc;
}

/** Reads a dot path of a document (`a.b.c`). */
export function fieldValue(doc: Doc, path: string): JsonValue | undefined {
  // Most paths are one field: no split (this runs for every staged document and index).
  if (!path.includes('.')) return doc[path];
  let current: JsonValue | undefined = doc;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = current[part];
  }
  return current;
}

/** A query's keyset bound ({@link Query.after}) with its order's field and direction; throws when the order is not one field. */
export function keysetOf(query: Query | undefined): { field: string; direction: 'asc' | 'desc'; value: string | number; id: string } | undefined {
  if (query?.after === undefined) return undefined;
  const [order, ...rest] = query.orderBy ?? [];
  if (order === undefined || rest.length > 0) throw new Error('A query with `after` orders by exactly one field');
  return { field: order.field, direction: order.direction, value: query.after.value, id: query.after.id };
}

/**
 * The ids that start with `prefix` as a range, `from <= id < to`: the prefix, and the prefix with
 * its last character's successor. Both stores order ids by their UTF-8 bytes (SQLite's BINARY
 * collation, MongoDB's default), in which every id with the prefix, and only those, falls in it.
 * The last character is ASCII so that its successor is one character too (a prefix ending in
 * U+D7FF would need a lone surrogate): every prefix is made by code (`user|`, `user|["feed",`).
 */
export function idPrefixRange(prefix: string): { from: string; to: string } {
  const last = prefix.charCodeAt(prefix.length - 1);
  if (!(last >= 0x20 && last < 0x7f)) throw new Error(`An id prefix ends with a printable ASCII character: ${JSON.stringify(prefix)}`);
  return { from: prefix, to: prefix.slice(0, -1) + String.fromCharCode(last + 1) };
}

/**
 * The query semantics both adapters implement, for in-memory use (tests, batch overlays). `id`
 * is the document's, needed only by a query with `after` or `idPrefix`.
 */
export function matches(doc: Doc, query: Query, id?: string): boolean {
  if (query.idPrefix !== undefined) {
    if (id === undefined) throw new Error('matches: a query with `idPrefix` needs the document id');
    idPrefixRange(query.idPrefix);
    if (!id.startsWith(query.idPrefix)) return false;
  }
  for (const [field, value] of Object.entries(query.where ?? {})) {
    if ((fieldValue(doc, field) ?? null) !== value) return false;
  }
  if (query.lessThan) {
    const value = fieldValue(doc, query.lessThan.field);
    if (value === undefined || value === null || !(value < query.lessThan.value)) return false;
  }
  if (query.greaterThan) {
    const value = fieldValue(doc, query.greaterThan.field);
    if (value === undefined || value === null || !(value > query.greaterThan.value)) return false;
  }
  const keyset = keysetOf(query);
  if (keyset) {
    if (id === undefined) throw new Error('matches: a query with `after` needs the document id');
    const value = fieldValue(doc, keyset.field);
    if (value === undefined || value === null) return false;
    if (value === keyset.value) return id > keyset.id;
    return keyset.direction === 'desc' ? value < keyset.value : value > keyset.value;
  }
  return true;
}

export function compareDocs(orderBy: Query['orderBy']): (a: StoredDoc, b: StoredDoc) => number {
  return (a, b) => {
    for (const { field, direction } of orderBy ?? []) {
      const x = fieldValue(a.doc, field) ?? null;
      const y = fieldValue(b.doc, field) ?? null;
      if (x === y) continue;
      // nulls sort first ascending, as in MongoDB.
      const less = x === null ? true : y === null ? false : (x as Scalar)! < (y as Scalar)!;
      return (less ? -1 : 1) * (direction === 'asc' ? 1 : -1);
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  };
}
