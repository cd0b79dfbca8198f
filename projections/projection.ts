/**
 * What a projection is: a name, the collections it owns, and one pure function
 * `evolve(event, view, context) → changes`. The same function serves the live projector, the
 * replay script and retention's roll-ups.
 *
 * A projection reads the documents it needs through a {@link ProjectionView}: see there for the
 * contract between `evolve` and the runtime that feeds it. So evolve stays a plain deterministic
 * function of (event, documents), testable with an in-memory view, while the runtime batches
 * the I/O.
 *
 * A projection reads only its own collections: projections are rebuilt independently, so a
 * read of another projection's documents would not be reproducible.
 */
import type { Privacy, UserEvent } from '../src/domain/events.js';
import type { FeedEvent } from '../src/domain/feeds.js';
import type { CheckpointEvent, RollStatsEvent } from '../src/domain/system-events.js';
import type { Position } from '../src/domain/position.js';
import type { CollectionSpec, Doc, DocChange, Query, StoredDoc } from '../src/domain/documents.js';
import { ID_KEY_SEPARATOR } from '../src/domain/documents.js';

/** Everything a projection may see of an event. */
export interface ProjectedEvent {
  readonly event: UserEvent | CheckpointEvent | RollStatsEvent | FeedEvent;
  /** The stream's user; empty for events of podcast streams (`roll_stats`) and feed streams (docs/design.md, "Feeds"). */
  readonly user: string;
  /** The username at write time, for public views of public users. */
  readonly username: string | null;
  readonly position: Position;
  /** Revision of the event in the user's stream (retention truncates by revision). */
  readonly revision: number;
  /** The commit position as a number, stored on documents for `since` queries. */
  readonly seq: number;
  readonly recordedAt: string;
}

export interface ProjectionContext {
  /** The deployment's default privacy (docs/design.md, "Privacy"). */
  readonly defaultPrivacy: Privacy;
}

/**
 * The documents `evolve` reads. The contract (docs/architecture.md, "Read models"):
 * - A view answers **"not loaded yet" exactly as "absent"**: `get` gives undefined and `find`
 *   gives []. `evolve` cannot tell them apart and must not try: it treats undefined as "no
 *   such document".
 * - The runtime's view (src/projector/loading-view.ts) notes every read it could not answer.
 *   If `evolve` made one, what it returned **or threw** is discarded: the runtime loads what
 *   was missing and runs `evolve` again on the same event, until a run asked for nothing it
 *   lacked (after 16 rounds that still lacked something, the event is parked). Only then do its changes count, and only then is an error it
 *   threw a poison event that the runtime parks: **an event is never parked for a document
 *   that was merely not loaded yet** (test/projector/loading-contract.test.ts).
 * - So `evolve` must be pure and repeatable: no side effects, no state kept between calls, the
 *   same changes for the same event and documents; it may throw on a document it needs and
 *   finds absent, and it is run again if that document only was not loaded.
 * - Reads see the changes decided earlier in the same batch (the runtime lays them over the
 *   store through a StagedView, projections/staged-view.ts), never another projection's
 *   collections.
 * An in-memory view (tests) has everything loaded: its undefined is absent.
 */
export interface ProjectionView {
  /** The document, or undefined if it does not exist or is not loaded yet (see above). */
  get(collection: string, id: string): Doc | undefined;
  /** The documents matching `query`, or [] if none match or the query is not loaded yet. */
  find(collection: string, query: Query): StoredDoc[];
  /**
   * The user's events in stream order, from the first the store still holds through revision
   * `through` (the projected form, as `evolve` gets them), or [] if not loaded yet. For a
   * projection that re-evaluates a user's history (a retroactive privacy change) instead of
   * keeping a copy of every event. The store may still hold events an erasure or a truncation
   * is about to delete, or no longer hold them (a projector behind reads them after the
   * deletion, which an EventStoreDB erasure makes with its rewrite, at later revisions): the
   * projection applies the `remove` and `checkpoint` events it reads itself, and the checkpoint
   * that ends each deletion drops what came from the deleted events, so live and replay end
   * with the same documents.
   */
  history(user: string, through: number): readonly ProjectedEvent[];
}

export interface Projection {
  readonly name: string;
  /**
   * The shape of the projection's documents, 1 when absent. Raise it with a change that
   * documents already written would contradict (a field moved, renamed or dropped, a document
   * split or merged): the projector then drops the documents built by the other version and
   * rebuilds them from the events before it follows `$all` (src/projector/internal-collections.ts).
   */
  readonly version?: number;
  readonly collections: readonly CollectionSpec[];
  /**
   * Collections earlier versions kept and this one does not: dropped with the projection's
   * documents when another version's are rebuilt, so no stale copy of erased data outlives them.
   */
  readonly retiredCollections?: readonly string[];
  evolve(event: ProjectedEvent, view: ProjectionView, context: ProjectionContext): DocChange[];
}

export const put = (collection: string, id: string, doc: Doc): DocChange => ({ op: 'put', collection, id, doc });
export const del = (collection: string, id: string): DocChange => ({ op: 'delete', collection, id });

/** When the store recorded the event, in whole unix seconds (the server's clock, never the device's). */
export const recordedSeconds = (projected: ProjectedEvent): number => Math.floor(Date.parse(projected.recordedAt) / 1000);

/**
 * What ends the user's part of a per-user document id ({@link userDocId}): the separator of a
 * collection whose ids begin with their key (`CollectionSpec.idPrefixedByKey`), so that the
 * per-user collections clustered by user can declare theirs so.
 */
export const USER_DOC_SEPARATOR = ID_KEY_SEPARATOR;
/** Document id of a per-user record: user id and the record's key. */
export const userDocId = (user: string, key: string): string => `${user}${USER_DOC_SEPARATOR}${key}`;
/** The record's key back from its document id ({@link userDocId}): documents need not repeat it. */
export const userDocKey = (user: string, id: string): string => id.slice(user.length + USER_DOC_SEPARATOR.length);
