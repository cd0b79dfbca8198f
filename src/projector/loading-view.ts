/**
 * The view the projector hands to `evolve` (through a StagedView): it answers from documents
 * already loaded from the read-model store, and notes what it was asked for and did not have,
 * answering it as absent (undefined, []): the projection contract (ProjectionView,
 * projections/projection.ts). While {@link hasMissing}, the projector discards what `evolve`
 * returned or threw, loads the missing documents and queries ({@link loadMissing}) and runs
 * `evolve` again, so projections stay synchronous and pure while the I/O is batched (and
 * asynchronous for MongoDB); an event is parked only for an error thrown with nothing missing.
 * Known absent (no store read): a document loaded as missing, or, while absence is tracked
 * ({@link trackAbsence}), an id that neither the collection's ids when it was first read by id
 * nor any commit since hold.
 */
import type { Doc, Query, ReadModelStore, StoredDoc } from '../stores/read-model.js';
import type { ProjectedEvent, ProjectionView } from '../../projections/projection.js';
import { WrittenIds } from './written-ids.js';

/**
 * Past this many ids, a collection's absence tracking stops (~10 bits per id, twice that while
 * the filter grows): its documents are looked up in the store again, as without tracking.
 */
const MAX_TRACKED_IDS = 4_000_000;
/** Ids read per request while a collection's ids are learnt. */
const ID_PAGE = 10_000;

const queryKey = (collection: string, query: Query) => `${collection}\u0000${JSON.stringify(query)}`;
const historyKey = (user: string, through: number) => `${user}\u0000${through}`;

/** Reads a user's history for {@link LoadingView.history} (the projector's: its event store). */
export type HistoryReader = (user: string, through: number) => Promise<readonly ProjectedEvent[]>;
const noHistory: HistoryReader = () => Promise.reject(new Error('this view reads no history'));

type DocCache = Map<string, Map<string, Doc | null>>;

export class LoadingView implements ProjectionView {
  /**
   * Documents kept across batches, in two generations: when the young one is full it becomes
   * the old one and the previous old one is dropped, so memory stays bounded while documents
   * in use (found in the old generation, moved back to the young) stay. A rebuild of a large
   * store touches far more documents than fit.
   */
  private young: DocCache = new Map();
  private old: DocCache = new Map();
  private youngSize = 0;
  /** Collections read by id: only theirs are worth keeping after a commit (others, e.g. public events, are write-once). */
  private readonly readById = new Set<string>();
  private readonly queries = new Map<string, StoredDoc[]>();
  private missingDocs = new Map<string, Set<string>>();
  private missingQueries = new Map<string, { collection: string; query: Query }>();
  private readonly histories = new Map<string, readonly ProjectedEvent[]>();
  private missingHistories = new Map<string, { user: string; through: number }>();
  /** Whether absence is tracked ({@link trackAbsence}). */
  private tracking = false;
  /**
   * Per collection read by id while absence is tracked: the ids it held when first read by id
   * and those committed to it since (a document whose id is not there does not exist, no need to
   * ask), or null where there are too many to keep. No entry: not learnt yet.
   */
  private written = new Map<string, WrittenIds | null>();
  /** Collections whose ids are to be learnt with the next load. */
  private missingIds = new Set<string>();

  constructor(
    private readonly store: ReadModelStore,
    /** At most about this many documents are kept across batches. */
    private readonly maxCachedDocs = 5_000,
    private readonly readHistory: HistoryReader = noHistory,
  ) {}

  get(collection: string, id: string): Doc | undefined {
    this.readById.add(collection);
    const cached = this.lookup(collection, id);
    if (cached !== undefined) return cached ?? undefined;
    if (this.tracking) {
      const written = this.written.get(collection);
      if (written === undefined) this.missingIds.add(collection);
      else if (written !== null && !written.mayHave(id)) return undefined;
    }
    let missing = this.missingDocs.get(collection);
    if (!missing) this.missingDocs.set(collection, (missing = new Set()));
    missing.add(id);
    return undefined;
  }

  /** A cached document (null: known absent), or undefined if not cached. */
  private lookup(collection: string, id: string): Doc | null | undefined {
    const young = this.young.get(collection)?.get(id);
    if (young !== undefined) return young;
    const old = this.old.get(collection)?.get(id);
    if (old !== undefined) this.remember(collection, id, old);
    return old;
  }

  private remember(collection: string, id: string, doc: Doc | null): void {
    let cache = this.young.get(collection);
    if (!cache) this.young.set(collection, (cache = new Map()));
    const size = cache.size;
    cache.set(id, doc);
    this.youngSize += cache.size - size;
  }

  find(collection: string, query: Query): StoredDoc[] {
    const key = queryKey(collection, query);
    const cached = this.queries.get(key);
    if (cached) return cached;
    this.missingQueries.set(key, { collection, query });
    return [];
  }

  history(user: string, through: number): readonly ProjectedEvent[] {
    const key = historyKey(user, through);
    const cached = this.histories.get(key);
    if (cached) return cached;
    this.missingHistories.set(key, { user, through });
    return [];
  }

  hasMissing(): boolean {
    return this.missingDocs.size > 0 || this.missingQueries.size > 0 || this.missingHistories.size > 0 || this.missingIds.size > 0;
  }

  /** Loads everything asked for and not found since the last load. */
  async loadMissing(): Promise<void> {
    const docs = this.missingDocs;
    const queries = this.missingQueries;
    const histories = this.missingHistories;
    const idsOf = this.missingIds;
    this.missingDocs = new Map();
    this.missingQueries = new Map();
    this.missingHistories = new Map();
    this.missingIds = new Set();
    // At once: against a server, the reads overlap (the driver's connection pool) rather than
    // queue one round trip behind another.
    await Promise.all([
      ...[...docs].map(async ([collection, ids]) => {
        const found = await this.store.getMany(collection, [...ids]);
        for (const id of ids) this.remember(collection, id, found.get(id) ?? null);
      }),
      ...[...queries].map(async ([key, { collection, query }]) => this.queries.set(key, await this.store.find(collection, query))),
      ...[...histories].map(async ([key, { user, through }]) => this.histories.set(key, await this.readHistory(user, through))),
      ...[...idsOf].map(async (collection) => this.learnIds(collection)),
    ]);
  }

  /**
   * The ids a collection holds, read once, the first time it is read by id: with the commits
   * noted after, they tell which documents do not exist. Only this projector writes the
   * collection (it holds the projection's lease), and a commit handed over meanwhile is noted
   * once it has landed ({@link committed}, after this batch's loads), so no id is missed.
   */
  private async learnIds(collection: string): Promise<void> {
    const ids = new WrittenIds();
    for (
      let page = await this.store.idsAfter(collection, undefined, ID_PAGE);
      page.length > 0;
      page = await this.store.idsAfter(collection, page.at(-1), ID_PAGE)
    ) {
      if (ids.size + page.length > MAX_TRACKED_IDS) {
        this.written.set(collection, null);
        return;
      }
      for (const id of page) ids.add(id);
      if (page.length < ID_PAGE) break;
    }
    this.written.set(collection, ids);
  }

  /**
   * Only this projector writes its collections (it holds the projection's lease): each
   * collection read by id learns its ids from the store once ({@link learnIds}), then from each
   * commit this view is told of, so the view knows which documents cannot exist (most of what
   * a projection asks for is a document it is about to write first: a user's first play of an
   * episode). Learnt again after {@link clear}: after a failure, what landed is read back from
   * the store and this view may have missed a commit.
   */
  trackAbsence(): void {
    this.tracking = true;
  }

  /** After a commit: documents now hold what was written; query results may be stale. */
  committed(changes: readonly { op: 'put' | 'delete'; collection: string; id: string; doc?: Doc }[]): void {
    this.queries.clear();
    // Histories do not go stale (an erasure's deletions are applied by the projection itself),
    // but each is needed once: kept no longer than a batch.
    this.histories.clear();
    // Generations turn over between batches only: a document loaded for the batch in progress
    // must stay until its evolve has run again.
    if (this.youngSize >= this.maxCachedDocs / 2) {
      this.old = this.young;
      this.young = new Map();
      this.youngSize = 0;
    }
    for (const change of changes) {
      if (this.readById.has(change.collection)) this.remember(change.collection, change.id, change.op === 'put' ? (change.doc ?? null) : null);
      if (change.op === 'put') this.noteWritten(change.collection, change.id);
    }
  }

  private noteWritten(collection: string, id: string): void {
    const ids = this.written.get(collection);
    if (!ids) return;
    if (ids.size >= MAX_TRACKED_IDS) this.written.set(collection, null);
    else ids.add(id);
  }

  /** Forget everything (after a reset or on a lost lease). */
  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.youngSize = 0;
    this.queries.clear();
    this.histories.clear();
    this.missingDocs = new Map();
    this.missingQueries = new Map();
    this.missingHistories = new Map();
    this.missingIds = new Set();
    this.written = new Map();
  }
}
