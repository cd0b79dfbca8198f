/**
 * A user's stream folded into what a sync needs, and advanced event by event: the state, the
 * revision it reflects, the request ids of the syncs it holds, and for each record of the
 * three synced slices the last event that touched it (the read models' own `touches`
 * functions), so a sync can answer the records changed after any cursor without the events.
 *
 * {@link foldOnto} never changes the user it is given (maps are copied on their first write),
 * so a folded user can be kept in a cache and shared by concurrent requests; nothing may
 * mutate a folded user or its state.
 */
import type { StateEvent, UserState } from '../domain/state.js';
import { emptyState, fold } from '../domain/state.js';
import type { Position, RecordedEvent } from '../stores/event-store.js';
import type { ProjectedEvent } from '../../projections/projection.js';
import type { UserRecordProjection } from '../../projections/user-records.js';
import { subscriptionsProjection } from '../../projections/subscriptions.js';
import { playStatusesProjection } from '../../projections/play-statuses.js';
import { playlistsProjection } from '../../projections/playlists.js';
import { fromStoreEvent } from './codec.js';

export type SyncedSlice = 'subscriptions' | 'play_statuses' | 'playlists';

/** The read model of each synced slice: its `touches` says which records an event restamps. */
export const SYNCED_SLICES: Readonly<Record<SyncedSlice, UserRecordProjection>> = {
  subscriptions: subscriptionsProjection,
  play_statuses: playStatusesProjection,
  playlists: playlistsProjection,
};

/**
 * An event that touched a record: its stream revision (which orders touches, as the read
 * models order records by `seq`) and its `$all` commit position (compared with cursors).
 */
export interface Touch {
  readonly revision: bigint;
  readonly commit: bigint;
}

export interface SliceTouches {
  /** Per record key, the last retained event that touched it. */
  readonly keys: ReadonlyMap<string, Touch>;
  /** The last retained event that touched every record (`remove`, `checkpoint`, `account_deleted`). */
  readonly all: Touch | undefined;
}

export interface FoldedUser {
  readonly state: UserState;
  /** Revision of the last event folded (for an optimistic append); 'no_stream' with none. */
  readonly revision: bigint | 'no_stream';
  /** `$all` position of the last event folded; undefined with none. */
  readonly position: Position | undefined;
  /** Request ids of the `sync` events folded, so a retried sync is recognised. */
  readonly syncRequestIds: ReadonlySet<string>;
  readonly touches: Readonly<Record<SyncedSlice, SliceTouches>>;
}

/** The next event of a stream: a state event (undefined for other types) at its place. */
export interface StreamEvent {
  readonly event: StateEvent | undefined;
  readonly revision: bigint;
  readonly position: Position;
}

const noTouches = (): SliceTouches => ({ keys: new Map(), all: undefined });

export function emptyFoldedUser(): FoldedUser {
  return {
    state: emptyState(),
    revision: 'no_stream',
    position: undefined,
    syncRequestIds: new Set(),
    touches: { subscriptions: noTouches(), play_statuses: noTouches(), playlists: noTouches() },
  };
}

export function streamEventOf(recorded: RecordedEvent): StreamEvent {
  return { event: fromStoreEvent(recorded), revision: recorded.revision, position: recorded.position };
}

/**
 * `user` with the next events of its stream folded on top, oldest first. `user` itself is
 * not changed: the maps it holds are copied on their first write, once per call.
 */
export function foldOnto(user: FoldedUser, events: readonly StreamEvent[]): FoldedUser {
  const last = events.at(-1);
  if (last === undefined) return user;
  let syncRequestIds: Set<string> | undefined;
  const touched: Partial<Record<SyncedSlice, { keys: Map<string, Touch>; all: Touch | undefined }>> = {};
  const sliceTouches = (slice: SyncedSlice) => (touched[slice] ??= { keys: new Map(user.touches[slice].keys), all: user.touches[slice].all });
  const stateEvents: StateEvent[] = [];
  for (const { event, revision, position } of events) {
    if (event === undefined) continue;
    stateEvents.push(event);
    if (event.type === 'sync') (syncRequestIds ??= new Set(user.syncRequestIds)).add(event.data.request_id);
    const touch: Touch = { revision, commit: position.commit };
    for (const slice of Object.keys(SYNCED_SLICES) as SyncedSlice[]) {
      // Stored events are projected events: the same data the projector hands `touches`.
      const keys = SYNCED_SLICES[slice].touches(event as ProjectedEvent['event']);
      if (keys === 'none') continue;
      const target = sliceTouches(slice);
      if (keys === 'all') target.all = touch;
      else for (const key of keys) target.keys.set(key, touch);
    }
  }
  return {
    state: fold(stateEvents, user.state),
    revision: last.revision,
    position: last.position,
    syncRequestIds: syncRequestIds ?? user.syncRequestIds,
    touches: { ...user.touches, ...touched },
  };
}

/** The records of a synced slice held in a folded user's state. */
type SliceRecord<S extends SyncedSlice> = UserState[S][string];

/**
 * The records of one slice touched by an event after `since` (all of them without a cursor),
 * in the order of their last touch, as the read model orders them by `seq`; records last
 * touched by the same event (a checkpoint restamps them all) keep the state's order.
 */
export function changedRecords<S extends SyncedSlice>(user: FoldedUser, slice: S, since: bigint | undefined): SliceRecord<S>[] {
  const { keys, all } = user.touches[slice];
  const after = (touch: Touch | undefined): touch is Touch => touch !== undefined && (since === undefined || touch.commit > since);
  const records = user.state[slice] as Record<string, SliceRecord<S>>;
  const changed: { at: bigint; record: SliceRecord<S> }[] = [];
  if (!after(all) && since !== undefined) {
    // The usual resync: only the few records touched since the cursor (erased ones are gone).
    for (const [key, touch] of keys) {
      if (touch.commit <= since) continue;
      const record = records[key];
      if (record !== undefined && Object.hasOwn(records, key)) changed.push({ at: touch.revision, record });
    }
  } else {
    const allAt = after(all) ? all.revision : -1n;
    for (const [key, record] of Object.entries(records)) {
      const touch = keys.get(key);
      const at = after(touch) && touch.revision > allAt ? touch.revision : allAt;
      changed.push({ at, record });
    }
  }
  return changed.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)).map(({ record }) => record);
}

/** How many records each part of a folded user holds: what a bounded cache weighs. */
export interface RecordCounts {
  readonly subscriptions: number;
  readonly play_statuses: number;
  /** Playlists and their items. */
  readonly playlists: number;
  readonly syncRequestIds: number;
  /**
   * gpodder devices, sync groups and settings: a device or group one record, settings one
   * record per {@link SETTINGS_RECORD_BYTES} of JSON (a value may be up to 16 KiB), so that a
   * user with megabytes of settings weighs what they hold.
   */
  readonly gpodder: number;
}

export const SETTINGS_RECORD_BYTES = 512;

function gpodderRecords(state: FoldedUser['state']): number {
  let records = Object.keys(state.devices).length + state.sync_groups.length;
  for (const settings of Object.values(state.settings)) records += 1 + Math.ceil(JSON.stringify(settings).length / SETTINGS_RECORD_BYTES);
  return records;
}

/**
 * The records `user` holds. Given the counts of an earlier version of the same user, the
 * parts it shares with that version (maps are copied on write, so an unchanged part is the
 * same object) are not counted again: a no-op resync changes none of them.
 */
export function recordCounts(user: FoldedUser, earlier?: { user: FoldedUser; counts: RecordCounts }): RecordCounts {
  const same = (slice: SyncedSlice) => earlier !== undefined && earlier.user.state[slice] === user.state[slice];
  const { subscriptions, play_statuses, playlists } = user.state;
  let playlistRecords = 0;
  if (!same('playlists')) for (const playlist of Object.values(playlists)) playlistRecords += 1 + Object.keys(playlist.items).length;
  return {
    subscriptions: same('subscriptions') ? earlier!.counts.subscriptions : Object.keys(subscriptions).length,
    play_statuses: same('play_statuses') ? earlier!.counts.play_statuses : Object.keys(play_statuses).length,
    playlists: same('playlists') ? earlier!.counts.playlists : playlistRecords,
    syncRequestIds: user.syncRequestIds.size,
    gpodder:
      earlier !== undefined &&
      earlier.user.state.devices === user.state.devices &&
      earlier.user.state.settings === user.state.settings &&
      earlier.user.state.sync_groups === user.state.sync_groups
        ? earlier.counts.gpodder
        : gpodderRecords(user.state),
  };
}

export function totalRecords(counts: RecordCounts): number {
  return 1 + counts.subscriptions + counts.play_statuses + counts.playlists + counts.syncRequestIds + counts.gpodder;
}
