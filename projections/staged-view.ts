/**
 * A view with pending changes laid over it: reads see the changes already decided. The
 * projector uses it for a batch (events later in a batch see the documents earlier events
 * changed, before anything is committed), and projections use it within one event when
 * a later step must see an earlier one (e.g. a privacy change re-ranking people lists).
 * Pure, in memory.
 */
import type { Doc, DocChange, Query, StoredDoc } from '../src/stores/read-model.js';
import { compareDocs, matches } from '../src/stores/read-model.js';
import type { ProjectionView } from './projection.js';

export class StagedView implements ProjectionView {
  /** collection → id → document, or null for a pending delete. */
  private readonly pending = new Map<string, Map<string, Doc | null>>();
  private readonly log: DocChange[] = [];

  constructor(private readonly base: ProjectionView) {}

  apply(changes: readonly DocChange[]): void {
    for (const change of changes) {
      let collection = this.pending.get(change.collection);
      if (!collection) this.pending.set(change.collection, (collection = new Map()));
      collection.set(change.id, change.op === 'put' ? change.doc : null);
      this.log.push(change);
    }
  }

  /** Every change applied, in order. */
  changes(): DocChange[] {
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
    for (const [id, doc] of staged) if (doc !== null && matches(doc, query)) fromStaged.push({ id, doc });
    const merged = [...fromBase, ...fromStaged];
    merged.sort(compareDocs(query.orderBy));
    return query.limit === undefined ? merged : merged.slice(0, query.limit);
  }
}

/** A view over nothing: what a projection sees on an empty read model. */
export const emptyView: ProjectionView = { get: () => undefined, find: () => [] };
