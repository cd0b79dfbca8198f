/**
 * System events (docs/design.md, "Events and streams", "Retention"): the events the service
 * writes itself, never a client. Their types and their builders, in one place.
 * - `snapshot` and `checkpoint`, in user streams (retention and erasure): the checkpoint
 *   carries the user's state and is a source of truth for the fold and every projection;
 * - `roll_stats`, in `podcast_stats-<feed hash>` streams: recount one podcast's popularity.
 * Pure: the caller gives the ids and the time.
 */
import type { UserState } from './state.js';

export const SYSTEM_EVENT_TYPES = ['snapshot', 'checkpoint', 'roll_stats'] as const;
export type SystemEventType = (typeof SYSTEM_EVENT_TYPES)[number];

/** Why a checkpoint (and its snapshot) was taken. */
export type CheckpointReason = 'retention' | 'erasure';

/** `snapshot`: marks that a checkpoint follows; no projection reads it. */
export interface SnapshotEvent {
  readonly type: 'snapshot';
  readonly id: string;
  readonly timestamp: string;
  readonly user: string;
  readonly object: null;
  readonly data: SnapshotData;
}

export interface SnapshotData {
  readonly reason: CheckpointReason;
  /** Whether the checkpoint after it truncates the stream. */
  readonly truncate: boolean;
}

/** A checkpoint (docs/design.md, "Retention"): the user's state, a source of truth for every projection. */
export interface CheckpointEvent {
  readonly type: 'checkpoint';
  readonly id: string;
  readonly timestamp: string;
  readonly user: string;
  readonly object: null;
  readonly data: CheckpointData;
}

export interface CheckpointData {
  readonly state: UserState;
  /** Events of the stream before this revision are being removed (retention); null if none. */
  readonly truncate_before: number | null;
  /** When the store recorded the oldest event that stays in the stream. */
  readonly retained_from: string;
  readonly reason: CheckpointReason;
}

/** What the fold reads of a checkpoint. */
export type FoldedCheckpoint = Pick<CheckpointEvent, 'type' | 'timestamp'> & { readonly data: Pick<CheckpointData, 'state'> };

/** `roll_stats` (docs/design.md, "Retention"): recompute one podcast's popularity; carries its descriptive fields. */
export interface RollStatsEvent {
  readonly type: 'roll_stats';
  readonly id: string;
  readonly timestamp: string;
  readonly data: RollStatsData;
}

export interface RollStatsData {
  readonly feed: string;
  readonly podcast: Descriptive;
  /** By episode guid. */
  readonly episodes: Readonly<Record<string, Descriptive>>;
}

export interface Descriptive {
  readonly title: string | null;
  readonly feed_title?: string | null;
  readonly author?: string | null;
  readonly description?: string | null;
  readonly cover: { readonly src?: string; readonly srcset?: string } | null;
}

export type SystemEvent = SnapshotEvent | CheckpointEvent | RollStatsEvent;

/** The `snapshot` and `checkpoint` appended together (snapshot first) for `user` at `at`. */
export function checkpointEvents(
  ids: { readonly snapshot: string; readonly checkpoint: string },
  user: string,
  at: Date,
  data: CheckpointData,
): [SnapshotEvent, CheckpointEvent] {
  const timestamp = at.toISOString();
  return [
    { id: ids.snapshot, timestamp, user, type: 'snapshot', object: null, data: { reason: data.reason, truncate: data.truncate_before !== null } },
    { id: ids.checkpoint, timestamp, user, type: 'checkpoint', object: null, data },
  ];
}

export function rollStatsEvent(id: string, at: Date, data: RollStatsData): RollStatsEvent {
  return { id, timestamp: at.toISOString(), type: 'roll_stats', data };
}
