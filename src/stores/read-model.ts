/**
 * The read-model port: named collections of JSON documents keyed by id, plus one checkpoint
 * per projection. Shaped on what MongoDB does natively (replace/delete by id, equality
 * queries on indexed fields, sort + limit) so the MongoDB adapter is a thin mapping and the
 * embedded SQLite adapter can offer the same semantics.
 *
 * The one rule that makes projections exact: {@link ReadModelStore.commit} writes a batch of
 * document changes *and* the projection's checkpoint atomically, so a crash neither loses
 * nor double-counts an event.
 */
import type { Position } from './event-store.js';

export type {
  Clustering,
  CollectionSpec,
  Doc,
  DocChange,
  IndexSpec,
  JoinedRaw,
  JoinOptions,
  Query,
  RawFieldDoc,
  Scalar,
  StoredDoc,
} from '../domain/documents.js';
export {
  clusteringProblem,
  compareDocs,
  ID_KEY_SEPARATOR,
  fieldValue,
  idPrefixRange,
  indexName,
  indexSpec,
  keysetOf,
  matches,
  mergeSpecs,
  splitField,
  splitKeyedId,
} from '../domain/documents.js';
import type { CollectionSpec, Doc, DocChange, JoinedRaw, JoinOptions, Query, RawFieldDoc, Scalar, StoredDoc } from '../domain/documents.js';

/** One projection's share of a commit: its document changes and its new checkpoint. */
export interface ProjectionCommit {
  readonly projection: string;
  readonly changes: readonly DocChange[];
  readonly checkpoint: Position;
}

export interface Checkpoint {
  readonly position: Position;
  readonly updatedAt: string;
}

export interface ReadModelStore {
  /**
   * Each read is a round trip to a server (MongoDB), not a call into this process: readers
   * that can gather their reads do (the projector: ProjectorOptions.prefetch).
   */
  readonly remoteReads?: boolean;
  /** Creates collections and their indexes if missing (idempotent; run at start). */
  ensureCollections(specs: readonly CollectionSpec[]): Promise<void>;
  get(collection: string, id: string): Promise<Doc | undefined>;
  getMany(collection: string, ids: readonly string[]): Promise<Map<string, Doc>>;
  find(collection: string, query?: Query): Promise<StoredDoc[]>;
  /**
   * As {@link find}, with `field` of each document as its stored JSON text, left out of the
   * document: a reader that answers with the field as it is (the gpodder download) neither parses
   * nor serializes it. Cheapest for a field the collection keeps apart ({@link CollectionSpec.apart}).
   * With `fields`, the document holds only those of its top-level fields (those it has): a
   * store that keeps the others apart does not read them.
   */
  findRaw(collection: string, query: Query | undefined, field: string, fields?: readonly string[]): Promise<RawFieldDoc[]>;
  /**
   * The numbers a numeric field holds in the documents {@link find} would answer, in its order
   * (null where a document has none): a reader that needs one field of many documents (the
   * gpodder download's positions, to cut a page) gets no document per row, and an index that
   * holds the field answers it alone. Booleans read as 1 and 0 in the embedded store: not for
   * boolean fields.
   */
  findNumbers(collection: string, query: Query | undefined, field: string): Promise<(number | null)[]>;
  /**
   * `field` (top-level) of the documents {@link find} would answer, as their stored JSON texts
   * joined with commas, in its order: a reader that answers a list of the field as stored (the
   * gpodder download's page of actions) makes one string, no object or string per document, and
   * the embedded store joins them in SQLite. Documents without the field are left out (`count`
   * says how many are in). With `options`, the same read also answers {@link findNumbers} of
   * another field, and joins only some of the documents found ({@link JoinOptions}).
   */
  joinRaw(collection: string, query: Query | undefined, field: string, options?: JoinOptions): Promise<JoinedRaw>;
  count(collection: string, where?: Readonly<Record<string, Scalar>>): Promise<number>;
  /**
   * Up to `limit` ids of a collection's documents, after `after` (from the first if undefined),
   * in id order, reading no document where the store can help it: what a projector learns
   * which documents exist from (ProjectorOptions.trackAbsence). In a collection whose ids begin
   * with their key ({@link CollectionSpec.idPrefixedByKey}) a store may walk them by key, then
   * by the rest of the id (the embedded store does: its index holds them so), `after` a place
   * in that order.
   */
  idsAfter(collection: string, after: string | undefined, limit: number): Promise<string[]>;
  /** Applies the changes in order and sets the checkpoint, atomically. */
  commit(projection: string, changes: readonly DocChange[], checkpoint: Position): Promise<void>;
  /**
   * Several projections' commits as one atomic unit (the projector's batch): every change and
   * every checkpoint lands, or none. One transaction instead of one per projection is what keeps
   * a live projector's commits short (the HTTP requests share its event loop and disk).
   */
  commitAll(commits: readonly ProjectionCommit[], options?: CommitOptions): Promise<void>;
  /**
   * Optional: commits that run off the caller's thread, for a caller that decides its next batch
   * while the previous one is written (a rebuild, the live projector thread:
   * src/projector/projector.ts, pipelined commits). Same semantics as
   * {@link commitAll}; commits land in the order they were handed over. Adapters whose commits
   * are already asynchronous I/O (MongoDB) need not offer it. Undefined when not available (an
   * in-memory SQLite database has no second connection).
   */
  openBackgroundCommitter?(): Promise<BackgroundCommitter | undefined>;
  getCheckpoint(projection: string): Promise<Checkpoint | undefined>;
  /** Drops every document of the collections and the projection's checkpoint (for a rebuild). */
  reset(projection: string, collections: readonly string[]): Promise<void>;
  /**
   * Leases, so that one projector per projection is active across processes. For each name,
   * true if `owner` holds the lease until `now + ttlMs` (acquired, renewed, or taken over after
   * expiry); one result per name, in order. In one round (one transaction where the store has
   * them): a projector renews all its projections' leases every few seconds, and each write
   * waits its turn behind the rebuild's commits.
   */
  tryAcquireLeases(names: readonly string[], owner: string, ttlMs: number): Promise<boolean[]>;
  releaseLease(name: string, owner: string): Promise<void>;
  /**
   * Optional: for each name, whether a live process holds its lease now (unexpired, and not held
   * by a process known dead). `/readyz` is not ready while no projector runs: reads would wait
   * for projections that nobody moves.
   */
  liveLeases?(names: readonly string[]): Promise<boolean[]>;
  close(): Promise<void>;
}

export interface CommitOptions {
  /**
   * Fencing: the commit lands only if this owner holds, unexpired, the lease named after each
   * committed projection, checked inside the commit's transaction; otherwise it throws
   * {@link LeaseNotHeldError} and writes nothing. A commit delayed past its lease (a stalled
   * process, a transaction retried for longer than the lease lives) cannot then land after
   * another process has taken over and applied the same events.
   */
  readonly leaseOwner?: string;
}

/** A fenced commit found its projection's lease held by another owner, or expired. */
export class LeaseNotHeldError extends Error {
  override readonly name = 'LeaseNotHeldError';
  constructor(readonly lease: string) {
    super(`the lease ${lease} is not held by this owner: commit refused`);
  }
}

export interface BackgroundCommitter {
  /** As {@link ReadModelStore.commitAll}, fenced the same way when given a lease owner. */
  commitAll(commits: readonly ProjectionCommit[], options?: CommitOptions): Promise<void>;
  /** Waits for the commits handed over, then releases the thread. */
  close(): Promise<void>;
}

/** The store refused a document for what it holds: retrying the same commit cannot succeed. */
export class InvalidDocumentError extends Error {
  override readonly name = 'InvalidDocumentError';
}
