/**
 * What a projection is: a name, the collections it owns, and one pure function
 * `evolve(event, view, context) → changes`. The same function serves the live projector, the
 * replay script and retention's roll-ups.
 *
 * A projection reads the documents it needs through a {@link ProjectionView}. The runtime
 * (src/projector) runs `evolve` against what it has loaded; if `evolve` asked for something
 * not loaded yet, the view says so, the runtime loads it and runs `evolve` again. So evolve
 * stays a plain deterministic function of (event, documents), testable with an in-memory
 * view, while the runtime batches the I/O.
 *
 * A projection reads only its own collections: projections are rebuilt independently, so a
 * read of another projection's documents would not be reproducible.
 */
import type { Privacy, UserEvent } from '../src/domain/events.js';
import type { FeedEvent } from '../src/domain/feeds.js';
import type { CheckpointEvent, RollStatsEvent } from '../src/domain/system-events.js';
import type { Position } from '../src/domain/position.js';
import type { CollectionSpec, Doc, DocChange, Query, StoredDoc } from '../src/domain/documents.js';

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

export interface ProjectionView {
  get(collection: string, id: string): Doc | undefined;
  find(collection: string, query: Query): StoredDoc[];
}

export interface Projection {
  readonly name: string;
  readonly collections: readonly CollectionSpec[];
  evolve(event: ProjectedEvent, view: ProjectionView, context: ProjectionContext): DocChange[];
}

export const put = (collection: string, id: string, doc: Doc): DocChange => ({ op: 'put', collection, id, doc });
export const del = (collection: string, id: string): DocChange => ({ op: 'delete', collection, id });

/** When the store recorded the event, in whole unix seconds (the server's clock, never the device's). */
export const recordedSeconds = (projected: ProjectedEvent): number => Math.floor(Date.parse(projected.recordedAt) / 1000);

/** Document id of a per-user record: user id and the record's key. */
export const userDocId = (user: string, key: string): string => `${user}|${key}`;
