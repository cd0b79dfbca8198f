/**
 * A view with pending changes laid over it: reads see the changes already decided. The
 * projector uses it for a batch (events later in a batch see the documents earlier events
 * changed, before anything is committed), and projections use it within one event when
 * a later step must see an earlier one (e.g. a privacy change re-ranking people lists).
 * Pure, in memory.
 *
 * It keeps the projection contract (ProjectionView, projections/projection.ts): what it does
 * not hold it asks of its base, so a read the base cannot answer yet ("not loaded", answered
 * as absent) is noted there, and the runtime discards the whole run of `evolve` and runs it
 * again once the base has loaded it.
 */
import type { JsonValue } from '../src/domain/json.js';
import type { Doc, DocChange, Query, StoredDoc } from '../src/domain/documents.js';
import { compareDocs, fieldValue, matches } from '../src/domain/documents.js';
import type { ProjectedEvent, ProjectionView } from './projection.js';
import { USER_DOC_SEPARATOR } from './projection.js';

/**
 * Below this many pending documents a find scans them; above, equality queries go through an
 * index. The projector stages a whole batch (thousands of documents) in one view, and a
 * privacy change's find over a user's documents must not scan all of them.
 */
const INDEX_THRESHOLD = 64;
/** Extra rows first asked of the base for a limited find (see findInBase). */
const LIMIT_PADDING = 8;

/** Pending documents of one collection grouped by the values of some fields (one `where` shape). */
interface PendingIndex {
  readonly fields: readonly string[];
  /** Values key → ids. */
  readonly buckets: Map<string, Set<string>>;
}

/**
 * A bucket key for some field values: equal values (strict, absent = null, as `matches`
 * compares) give equal keys. Two different values may rarely share a key (a string holding
 * the separator): a bucket is only a candidate list, every candidate is matched afterwards.
 * Computed for every index of a collection on every change staged, so kept cheap (no JSON
 * for the strings, numbers and booleans that documents are queried by).
 */
function valueKey(value: JsonValue | undefined): string {
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'number':
      return `n${value}`;
    case 'boolean':
      return value ? 't' : 'f';
    default:
      return value === undefined || value === null ? '0' : `j${JSON.stringify(value)}`;
  }
}

function keyOf(values: readonly (JsonValue | undefined)[]): string {
  let key = valueKey(values[0]);
  for (let index = 1; index < values.length; index++) key += `\u0000${valueKey(values[index])}`;
  return key;
}

const valuesKey = (doc: Doc, fields: readonly string[]) => keyOf(fields.map((field) => fieldValue(doc, field)));

function reindexOne({ fields, buckets }: PendingIndex, id: string, before: Doc | null, after: Doc | null): void {
  if (before !== null) buckets.get(valuesKey(before, fields))?.delete(id);
  if (after === null) return;
  const key = valuesKey(after, fields);
  let bucket = buckets.get(key);
  if (!bucket) buckets.set(key, (bucket = new Set()));
  bucket.add(id);
}

/**
 * An id's text up to its first {@link USER_DOC_SEPARATOR}, the separator included: the user a
 * per-user document id names (`user|…`: userDocId, projections/projection.ts). Undefined without one. Every id that
 * starts with a prefix holding the separator has the prefix's part, so that part's ids are the
 * candidates for the prefix, whatever the ids hold after it.
 */
function userPart(id: string): string | undefined {
  const end = id.indexOf(USER_DOC_SEPARATOR);
  return end < 0 ? undefined : id.slice(0, end + USER_DOC_SEPARATOR.length);
}

function addToUser(users: Map<string, Set<string>>, id: string): void {
  const user = userPart(id);
  if (user === undefined) return;
  let ids = users.get(user);
  if (!ids) users.set(user, (ids = new Set()));
  ids.add(id);
}

export class StagedView implements ProjectionView {
  /** collection → id → document, or null for a pending delete. */
  private readonly pending = new Map<string, Map<string, Doc | null>>();
  /**
   * collection → `where` shape → index, built on first use and kept up to date by apply(). This
   * map and the next are made when first needed: projections make a view per event (popularity,
   * public events), most never query one.
   */
  private indexes: Map<string, Map<string, PendingIndex>> | undefined;
  /**
   * collection → user part of the id → ids ever staged (deleted ones too: candidates are matched
   * afterwards), for `idPrefix` queries of one user's documents; built on first use, kept up to
   * date by apply().
   */
  private byUser: Map<string, Map<string, Set<string>>> | undefined;
  private readonly log: DocChange[] = [];

  /**
   * `keepLog: false` when only {@link netChanges} will be asked for: the projector stages a
   * whole batch, and a log of every intermediate document would only keep them all alive.
   */
  constructor(
    private readonly base: ProjectionView,
    private readonly options: { readonly keepLog?: boolean } = {},
  ) {}

  apply(changes: readonly DocChange[]): void {
    for (const change of changes) {
      let collection = this.pending.get(change.collection);
      if (!collection) this.pending.set(change.collection, (collection = new Map()));
      const doc = change.op === 'put' ? change.doc : null;
      const indexes = this.indexes?.get(change.collection);
      if (indexes) this.reindex(indexes, change.id, collection.get(change.id) ?? null, doc);
      const users = this.byUser?.get(change.collection);
      if (users) addToUser(users, change.id);
      collection.set(change.id, doc);
      if (this.options.keepLog !== false) this.log.push(change);
    }
  }

  private reindex(indexes: Map<string, PendingIndex>, id: string, before: Doc | null, after: Doc | null): void {
    for (const index of indexes.values()) reindexOne(index, id, before, after);
  }

  /** The pending documents that may match `query`: all of them, or an index bucket. */
  private candidates(collection: string, staged: Map<string, Doc | null>, query: Query): Iterable<string> {
    if (staged.size < INDEX_THRESHOLD) return staged.keys();
    const user = query.idPrefix === undefined ? undefined : userPart(query.idPrefix);
    if (user !== undefined) {
      this.byUser ??= new Map();
      let users = this.byUser.get(collection);
      if (!users) {
        this.byUser.set(collection, (users = new Map()));
        for (const id of staged.keys()) addToUser(users, id);
      }
      return users.get(user) ?? [];
    }
    const fields = Object.keys(query.where ?? {}).sort();
    if (fields.length === 0) return staged.keys();
    const shape = fields.join('\u0000');
    this.indexes ??= new Map();
    let indexes = this.indexes.get(collection);
    if (!indexes) this.indexes.set(collection, (indexes = new Map()));
    let index = indexes.get(shape);
    if (!index) {
      index = { fields, buckets: new Map() };
      indexes.set(shape, index);
      for (const [id, doc] of staged) if (doc !== null) reindexOne(index, id, null, doc);
    }
    return index.buckets.get(keyOf(fields.map((field) => query.where![field]))) ?? [];
  }

  /**
   * The base's documents matching `query` that no pending change replaces. With a limit, the
   * base is asked for a few extra rows, to make up for those that drop out because a pending
   * change replaces them, and for more only when too many did. (Padding by every pending
   * document was exact at once, but the projector stages a whole batch, thousands of documents:
   * a people list of ten read back hundreds of rows each time.) The rows kept are the base's
   * best after the dropped ones; they are enough once they number `limit` or the base ran out.
   */
  private findInBase(collection: string, query: Query, staged: Map<string, Doc | null>): StoredDoc[] {
    const unstaged = (rows: StoredDoc[]) => rows.filter(({ id }) => !staged.has(id));
    if (query.limit === undefined) return unstaged(this.base.find(collection, query));
    let padding = Math.min(staged.size, LIMIT_PADDING);
    for (;;) {
      const asked = query.limit + padding;
      const rows = this.base.find(collection, { ...query, limit: asked });
      const kept = unstaged(rows);
      if (rows.length < asked || kept.length >= query.limit || padding >= staged.size) return kept;
      padding = Math.min(staged.size, padding * 4 + rows.length - kept.length);
    }
  }

  /** Every change applied, in order. */
  changes(): DocChange[] {
    if (this.options.keepLog === false) throw new Error('StagedView: changes() on a view made with keepLog: false');
    return [...this.log];
  }

  /** The net effect: one change per document (the last), for a compact commit. */
  netChanges(): DocChange[] {
    const result: DocChange[] = [];
    for (const [collection, docs] of this.pending) {
      for (const [id, doc] of docs) result.push(doc === null ? { op: 'delete', collection, id } : { op: 'put', collection, id, doc });
    }
    return result;
  }

  pendingCount(): number {
    let count = 0;
    for (const docs of this.pending.values()) count += docs.size;
    return count;
  }

  get(collection: string, id: string): Doc | undefined {
    const staged = this.pending.get(collection)?.get(id);
    if (staged !== undefined) return staged ?? undefined;
    return this.base.get(collection, id);
  }

  history(user: string, through: number): readonly ProjectedEvent[] {
    return this.base.history(user, through);
  }

  find(collection: string, query: Query): StoredDoc[] {
    const staged = this.pending.get(collection);
    if (!staged || staged.size === 0) return this.base.find(collection, query);
    const fromBase = this.findInBase(collection, query, staged);
    const fromStaged: StoredDoc[] = [];
    for (const id of this.candidates(collection, staged, query)) {
      const doc = staged.get(id) ?? null;
      if (doc !== null && matches(doc, query, id)) fromStaged.push({ id, doc });
    }
    const merged = [...fromBase, ...fromStaged];
    merged.sort(compareDocs(query.orderBy));
    return query.limit === undefined ? merged : merged.slice(0, query.limit);
  }
}

/** A view over nothing: what a projection sees on an empty read model. */
export const emptyView: ProjectionView = { get: () => undefined, find: () => [], history: () => [] };
