/**
 * The shape shared by the per-user read models (subscriptions, play statuses, playlists):
 * one document per record of the user's state, kept equal to what the domain fold
 * (src/domain/state.ts) gives. The projection loads the records an event touches, runs the
 * domain's own `evolve` on them, and writes back what changed, so the read models can never
 * disagree with the state that sync decisions are made against.
 */
import type { StateEvent, UserState } from '../src/domain/state.js';
import { emptyState, evolve, recordAt } from '../src/domain/state.js';
import { isFeedEvent } from '../src/domain/feeds.js';
import { feedsErasedBy } from '../src/domain/erasure.js';
import type { Doc, DocChange } from '../src/domain/documents.js';
import type { ProjectedEvent, Projection, ProjectionView } from './projection.js';
import { del, put, recordedSeconds, userDocId, userDocKey } from './projection.js';
import { fromJson, toJsonObject, jsonEqual } from '../src/domain/json.js';

type Slice = 'subscriptions' | 'play_statuses' | 'playlists';
type SliceRecord = UserState[Slice][string];

export interface UserRecordProjectionOptions {
  readonly name: string;
  /** See Projection.version. */
  readonly version?: number;
  readonly collection: string;
  readonly slice: Slice;
  /** The record keys an event touches, or 'all' when it may touch any record of the user. */
  readonly touches: (event: ProjectedEvent['event']) => readonly string[] | 'all' | 'none';
  /** Record fields a user's list is also sorted by (besides `seq`), each indexed after `user`. */
  readonly listedBy?: readonly string[];
  /**
   * Record fields its key determines: kept only in the document id ({@link userDocId}), not
   * written again inside, and put back when a document is read as a record
   * ({@link UserRecordProjection.recordOfDoc}).
   */
  readonly keyFields?: KeyFields;
  /**
   * Record fields not written while null (a play status without titles or enclosure: most
   * `position` events name none), put back as null when a document is read as a record.
   */
  readonly nullable?: readonly string[];
}

/** Record fields a record's key determines: their names, and their values for a key. */
export interface KeyFields {
  readonly names: ReadonlySet<string>;
  readonly of: (key: string) => Doc;
}

/**
 * Fields the projection adds to each record: owner and the `$all` position, stream revision and
 * recording time of the event that last changed it (`seq` answers sync's `since`; `at` answers
 * the Nextcloud API's clock-based `since`). The record's key is in the document id ({@link userDocKey}).
 */
interface RecordEnvelope {
  user: string;
  seq: number;
  rev: number;
  at: number;
}

/** A per-user document without the projection's bookkeeping: the record as the domain has it. */
export function recordOf(doc: Doc): Doc {
  const { user: _user, seq: _seq, rev: _rev, at: _at, ...record } = doc;
  return record;
}

/** How a projection's documents hold its records: what only the id holds, and what is not written while null. */
export interface RecordLayout {
  readonly keyFields?: KeyFields | undefined;
  readonly nullable?: readonly string[] | undefined;
}

/**
 * A document's record: without the projection's bookkeeping, with the fields its key determines
 * and the null ones not written (before the others: a record keeps its fields' order).
 */
export function recordOfDoc(layout: RecordLayout, key: string, doc: Doc): Doc {
  const { keyFields, nullable } = layout;
  if (keyFields === undefined && nullable === undefined) return recordOf(doc);
  const record: Doc = keyFields === undefined ? {} : keyFields.of(key);
  for (const name of nullable ?? []) record[name] = null;
  return Object.assign(record, recordOf(doc));
}

function loadRecords(view: ProjectionView, options: UserRecordProjectionOptions, user: string, keys: readonly string[] | 'all'): Record<string, SliceRecord> {
  // Built with fromEntries, not assignment: keys are client strings (playlist ids), and
  // assigning "__proto__" would set the prototype instead of adding a record.
  const entries: [string, SliceRecord][] = [];
  if (keys === 'all') {
    for (const { id, doc } of view.find(options.collection, { where: { user } })) {
      const key = userDocKey(user, id);
      entries.push([key, fromJson<SliceRecord>(recordOfDoc(options, key, doc))]);
    }
  } else {
    for (const key of keys) {
      const doc = view.get(options.collection, userDocId(user, key));
      if (doc) entries.push([key, fromJson<SliceRecord>(recordOfDoc(options, key, doc))]);
    }
  }
  return Object.fromEntries(entries);
}

/** The record's fields but those its key determines and the null ones not written, then the envelope: the stored document. */
function docOfRecord(record: object, envelope: RecordEnvelope, layout: RecordLayout): Doc {
  const fields = toJsonObject(record);
  const { keyFields, nullable } = layout;
  // Object.assign rather than `{ ...record, ...envelope }`: Node 20's V8 adds keys to a spread
  // copy slowly (µs each), and every changed record of every event passes here (bench/RESULTS.md,
  // "Object copies in the projections").
  if (keyFields === undefined && nullable === undefined) return Object.assign({}, fields, envelope);
  const doc: Doc = {};
  for (const name in fields) {
    const value = fields[name]!;
    if (keyFields?.names.has(name) || (value === null && nullable?.includes(name))) continue;
    doc[name] = value;
  }
  return Object.assign(doc, envelope);
}

/** Diffs the records before and after, as document changes stamped with the event's position. */
export function recordChanges(
  collection: string,
  projected: ProjectedEvent,
  before: Readonly<Record<string, object>>,
  after: Readonly<Record<string, object>>,
  restampAll = false,
  layout: RecordLayout = {},
): DocChange[] {
  const changes: DocChange[] = [];
  for (const key of Object.keys(before)) {
    // Own keys only: a playlist id is a client string, and "constructor" is `in` every object.
    if (!Object.hasOwn(after, key)) changes.push(del(collection, userDocId(projected.user, key)));
  }
  for (const [key, record] of Object.entries(after)) {
    if (!restampAll && jsonEqual(recordAt(before, key), record)) continue;
    const envelope: RecordEnvelope = { user: projected.user, seq: projected.seq, rev: projected.revision, at: recordedSeconds(projected) };
    changes.push(put(collection, userDocId(projected.user, key), docOfRecord(record, envelope, layout)));
  }
  return changes;
}

/** A per-user record projection; `touches` is shared with sync answers (src/services/sync.ts). */
export interface UserRecordProjection extends Projection {
  /** The one collection it writes. */
  readonly collection: string;
  readonly touches: UserRecordProjectionOptions['touches'];
  /**
   * The keys ({@link userDocId}) of the documents an event may change: its records' keys where
   * a record is one document; a playlist's items are documents of their own (projections/playlists.ts).
   */
  readonly docKeys: UserRecordProjectionOptions['touches'];
}

/** A per-user record projection whose records are one document each. */
export interface SingleDocRecordProjection extends UserRecordProjection {
  /** The record a stored document holds (its id names the user and the record's key). */
  recordOfDoc(user: string, id: string, doc: Doc): Doc;
}

/** An event of the user's own (not a system event: `roll_stats`, a feed's), which the state folds. */
export const isStateEvent = (event: ProjectedEvent['event']): event is Extract<ProjectedEvent['event'], StateEvent> =>
  event.type !== 'roll_stats' && !isFeedEvent(event);

/**
 * Of a user's records kept by feed (subscriptions, privacy choices), those an event other than
 * their own kind touches: an erasure's feeds (src/domain/erasure.ts), all of them with a
 * checkpoint (which replaces them) or an account deletion, none with anything else.
 */
export function feedRecordsTouchedBy(event: ProjectedEvent['event']): readonly string[] | 'all' | 'none' {
  switch (event.type) {
    case 'remove':
      return feedsErasedBy(event.object);
    case 'checkpoint':
    case 'account_deleted':
      return 'all';
    default:
      return 'none';
  }
}

/** Builds the per-user projection described by `options`. */
export function defineUserRecordProjection(options: UserRecordProjectionOptions): SingleDocRecordProjection {
  return {
    name: options.name,
    ...(options.version === undefined ? {} : { version: options.version }),
    collection: options.collection,
    touches: options.touches,
    docKeys: options.touches,
    recordOfDoc: (user, id, doc) => recordOfDoc(options, userDocKey(user, id), doc),
    // ['user', 'seq'] also serves queries on `user` alone: a separate ['user'] index would only
    // cost a page write per document written.
    // Not clustered by user with ids prefixed by it (as `episode_actions`): that saved ~90 bytes
    // a play status of a real account, but took the user out of every document written and put
    // it back in every one read, and the projector applied 4–6 % fewer events a second
    // (bench/RESULTS.md, "The user's id once a row").
    collections: [{ name: options.collection, indexes: [['user', 'seq'], ...(options.listedBy ?? []).map((field) => ['user', field])] }],
    evolve(projected, view) {
      if (!isStateEvent(projected.event)) return [];
      const keys = options.touches(projected.event);
      if (keys === 'none') return [];
      const before = loadRecords(view, options, projected.user, keys);
      const state = evolve({ ...emptyState(), [options.slice]: before }, projected.event);
      const after = state[options.slice] as Record<string, SliceRecord>;
      // A checkpoint carries the user's whole state; other events only the touched records.
      const relevant = keys === 'all' ? after : Object.fromEntries(Object.entries(after).filter(([key]) => Object.hasOwn(before, key) || keys.includes(key)));
      // Every record is stamped with a checkpoint, changed or not: a rebuild after retention
      // or erasure, which never sees the events gone since, stamps them so too. (Syncing
      // devices get the user's records once more after a checkpoint: a superset, harmless.)
      return recordChanges(options.collection, projected, before, relevant, projected.event.type === 'checkpoint', options);
    },
  };
}
