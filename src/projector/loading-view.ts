/**
 * The view the projector hands to `evolve`: it answers from documents already loaded from the
 * read-model store, and notes what it was asked for and did not have. The projector then
 * loads those and runs `evolve` again, so projections stay synchronous and pure while the
 * I/O is batched (and asynchronous for MongoDB).
 */
import type { Doc, Query, ReadModelStore, StoredDoc } from '../stores/read-model.js';
import type { ProjectionView } from '../../projections/projection.js';

const queryKey = (collection: string, query: Query) => `${collection}\u0000${JSON.stringify(query)}`;

export class LoadingView implements ProjectionView {
  private readonly docs = new Map<string, Map<string, Doc | null>>();
  private readonly queries = new Map<string, StoredDoc[]>();
  private missingDocs = new Map<string, Set<string>>();
  private missingQueries = new Map<string, { collection: string; query: Query }>();

  constructor(
    private readonly store: ReadModelStore,
    /** Loaded documents kept across batches; beyond this many the cache starts over. */
    private readonly maxCachedDocs = 200_000,
  ) {}

  get(collection: string, id: string): Doc | undefined {
    const cached = this.docs.get(collection)?.get(id);
    if (cached !== undefined) return cached ?? undefined;
    let missing = this.missingDocs.get(collection);
    if (!missing) this.missingDocs.set(collection, (missing = new Set()));
    missing.add(id);
    return undefined;
  }

  find(collection: string, query: Query): StoredDoc[] {
    const key = queryKey(collection, query);
    const cached = this.queries.get(key);
    if (cached) return cached;
    this.missingQueries.set(key, { collection, query });
    return [];
  }

  hasMissing(): boolean {
    return this.missingDocs.size > 0 || this.missingQueries.size > 0;
  }

  /** Loads everything asked for and not found since the last load. */
  async loadMissing(): Promise<void> {
    const docs = this.missingDocs;
    const queries = this.missingQueries;
    this.missingDocs = new Map();
    this.missingQueries = new Map();
    for (const [collection, ids] of docs) {
      const found = await this.store.getMany(collection, [...ids]);
      let cache = this.docs.get(collection);
      if (!cache) this.docs.set(collection, (cache = new Map()));
      for (const id of ids) cache.set(id, found.get(id) ?? null);
    }
    for (const [key, { collection, query }] of queries) this.queries.set(key, await this.store.find(collection, query));
  }

  /** After a commit: documents now hold what was written; query results may be stale. */
  committed(changes: readonly { op: 'put' | 'delete'; collection: string; id: string; doc?: Doc }[]): void {
    this.queries.clear();
    let size = 0;
    for (const cache of this.docs.values()) size += cache.size;
    if (size > this.maxCachedDocs) {
      this.docs.clear();
      return;
    }
    for (const change of changes) {
      let cache = this.docs.get(change.collection);
      if (!cache) this.docs.set(change.collection, (cache = new Map()));
      cache.set(change.id, change.op === 'put' ? (change.doc ?? null) : null);
    }
  }

  /** Forget everything (after a reset or on a lost lease). */
  clear(): void {
    this.docs.clear();
    this.queries.clear();
    this.missingDocs = new Map();
    this.missingQueries = new Map();
  }
}
