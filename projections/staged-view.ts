/**
 * A view with pending changes laid over it: reads see the changes already decided. The
 * projector uses it for a batch (events later in a batch see the documents earlier events
 * changed, before anything is committed), and projections use it within one event when
 * a later step must see an earlier one (e.g. a privacy change re-ranking people lists).
 * Pure, in memory.
 */
import type { Doc, DocChange, Query, StoredDoc } from '../src/stores/read-model.js';
import { compareDocs, fieldValue, matches } from '../src/stores/read-model.js';
import type { ProjectionView } from './projection.js';

/**
 * Below this many pending documents a find scans them; above, equality queries go through an
 * index. The projector stages a whole batch (thousands of documents) in one view, and a
 * privacy change's find over a user's documents must not scan all of them.
 */
const INDEX_THRESHOLD = 64;

/** Pending documents of one collection grouped by the values of some fields (one `where` shape). */
interface PendingIndex {
  readonly fields: readonly string[];
  /** Values key → ids. */
  readonly buckets: Map<string, Set<string>>;
}

/** The same equality `matches` applies (strict, absent = null), as one string per doc. */
const valuesKey = (doc: Doc, fields: readonly string[]) => JSON.stringify(fields.map((field) => fieldValue(doc, field) ?? null));

export class StagedView implements ProjectionView {
  /** collection → id → document, or null for a pending delete. */
  private readonly pending = new Map<string, Map<string, Doc | null>>();
  /** collection → `where` shape → index, built on first use and kept up to date by apply(). */
  private readonly indexes = new Map<string, Map<string, PendingIndex>>();
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
      const indexes = this.indexes.get(change.collection);
      if (indexes) this.reindex(indexes, change.id, collection.get(change.id) ?? null, doc);
      collection.set(change.id, doc);
      if (this.options.keepLog !== false) this.log.push(change);
    }
  }

  private reindex(indexes: Map<string, PendingIndex>, id: string, before: Doc | null, after: Doc | null): void {
    for (const { fields, buckets } of indexes.values()) {
      if (before !== null) buckets.get(valuesKey(before, fields))?.delete(id);
      if (after === null) continue;
      const key = valuesKey(after, fields);
      let bucket = buckets.get(key);
      if (!bucket) buckets.set(key, (bucket = new Set()));
      bucket.add(id);
    }
  }

  /** The pending documents that may match `query`: all of them, or an index bucket. */
  private candidates(collection: string, staged: Map<string, Doc | null>, query: Query): Iterable<string> {
    const fields = Object.keys(query.where ?? {}).sort();
    if (fields.length === 0 || staged.size < INDEX_THRESHOLD) return staged.keys();
    const shape = fields.join('\u0000');
    let indexes = this.indexes.get(collection);
    if (!indexes) this.indexes.set(collection, (indexes = new Map()));
    let index = indexes.get(shape);
    if (!index) {
      index = { fields, buckets: new Map() };
      indexes.set(shape, index);
      for (const [id, doc] of staged) if (doc !== null) this.reindex(new Map([[shape, index]]), id, null, doc);
    }
    const wanted = fields.map((field) => query.where![field] ?? null);
    return index.buckets.get(JSON.stringify(wanted)) ?? [];
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

  find(collection: string, query: Query): StoredDoc[] {
    const staged = this.pending.get(collection);
    if (!staged || staged.size === 0) return this.base.find(collection, query);
    // Ask the base for enough extra rows to make up for staged documents that drop out.
    const limit = query.limit === undefined ? undefined : query.limit + staged.size;
    const fromBase = this.base.find(collection, { ...query, ...(limit === undefined ? {} : { limit }) }).filter(({ id }) => !staged.has(id));
    const fromStaged: StoredDoc[] = [];
    for (const id of this.candidates(collection, staged, query)) {
      const doc = staged.get(id) ?? null;
      if (doc !== null && matches(doc, query)) fromStaged.push({ id, doc });
    }
    const merged = [...fromBase, ...fromStaged];
    merged.sort(compareDocs(query.orderBy));
    return query.limit === undefined ? merged : merged.slice(0, query.limit);
  }
}

/** A view over nothing: what a projection sees on an empty read model. */
export const emptyView: ProjectionView = { get: () => undefined, find: () => [] };
