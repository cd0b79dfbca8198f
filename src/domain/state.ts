/**
 * A user's state, folded from the events of their stream (pure). This is what sync decisions
 * are made against, what a `checkpoint` carries, and what retention must preserve.
 *
 * Folding is last-writer-wins by event timestamp for every record (subscription dates,
 * play statuses, playlists and their items), so the state does not depend on the order in
 * which devices happened to upload; on a tie a play status, playlist or item takes the later
 * event, and a subscription keeps both dates, a tie reading as unsubscribed ({@link
 * isSubscribed}, docs/design.md, "Events and streams"). Exceptions follow the stream
 * order instead: `privacy`, `sync_group` and `setting` (the last applied edit wins) and `remove`
 * (it erases what was folded before it); decisions therefore append each batch in timestamp
 * order. Devices, sync groups and settings (the gpodder API's) fold in gpodder-state.ts.
 */
import { hash } from 'node:crypto';
import type { Enclosure, Privacy, UserEvent, UserEventOf } from './events.js';
import { DEFAULT_PLAYLIST } from './events.js';
import type { DeviceState, SettingsState } from './gpodder-state.js';
import { withDevice, withSetting, withSyncGroup } from './gpodder-state.js';
import { withEntry, withoutEntries, withOwnedCopies, withSlice } from './owned-copies.js';
import { withoutScope } from './erasure.js';
import { episodeKey } from './episode-keys.js';

export { episodeKey, episodeKeyPrefixOf, episodeOfKey } from './episode-keys.js';
import type { FoldedCheckpoint } from './system-events.js';

export interface SubscriptionState {
  rss_source_feed: string;
  rss_feed_title: string | null;
  subscribed_at: string | null;
  unsubscribed_at: string | null;
  created_at: string;
}

export interface PlayStatusState {
  rss_source_feed: string;
  rss_source_id: string;
  rss_feed_title: string | null;
  rss_item_title: string | null;
  rss_enclosure: Enclosure | null;
  played: boolean;
  position: number;
  updated_at: string;
}

export interface PlaylistItemState {
  item_id: string;
  rss_source_feed: string;
  rss_source_id: string;
  item_title: string | null;
  feed_title: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface PlaylistState {
  id: string;
  name: string;
  description: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  items: Record<string, PlaylistItemState>;
}

export interface PrivacyState {
  account: Privacy | null;
  feeds: Record<string, Privacy>;
}

export interface UserState {
  subscriptions: Record<string, SubscriptionState>;
  /** Keyed by {@link episodeKey}. */
  play_statuses: Record<string, PlayStatusState>;
  playlists: Record<string, PlaylistState>;
  privacy: PrivacyState;
  /** gpodder devices, by device id. */
  devices: Record<string, DeviceState>;
  /** gpodder sync groups: sorted device ids per group, groups sorted. */
  sync_groups: string[][];
  /** gpodder settings, keyed by `settingsKey`. */
  settings: Record<string, SettingsState>;
}

export function emptyState(): UserState {
  return { subscriptions: {}, play_statuses: {}, playlists: {}, privacy: { account: null, feeds: {} }, devices: {}, sync_groups: [], settings: {} };
}

/**
 * The default playlist item id of an episode, when the client gives none. Hashed because
 * item ids travel back to clients and are validated at `LIMITS.id` characters, which a feed
 * URL plus a guid can exceed; the same episode always gets the same id.
 */
export function defaultItemId(feed: string, guid: string): string {
  return `ep-${hash('sha256', episodeKey(feed, guid), 'hex')}`;
}

/**
 * Subscribed or not (docs/design.md, "Events and streams"): the one rule, for the folded
 * state, the read models, retention and a sync client's record alike. Subscribed when there
 * is a subscribe date and no unsubscribe date, or the subscribe date is later. A tie (a
 * subscribe and an unsubscribe with the same timestamp) is **unsubscribed**, in whichever
 * order they came: the fold keeps each date (the latest of each kind), not the order of the
 * events, so that it does not depend on the order devices uploaded in.
 */
export function isSubscribed(sub: { readonly subscribed_at: string | null; readonly unsubscribed_at?: string | null | undefined }): boolean {
  if (sub.subscribed_at === null) return false;
  return sub.unsubscribed_at == null || sub.subscribed_at > sub.unsubscribed_at;
}

/**
 * The record stored under `key`, if any. Own properties only: playlist and item ids are
 * client strings, and a plain lookup of "constructor" or "__proto__" would find
 * Object.prototype's members instead of nothing.
 */
export function recordAt<T>(records: Readonly<Record<string, T>>, key: string): T | undefined {
  const record = records[key];
  // Only names Object.prototype has need the own-property check (Object.hasOwn is several
  // times slower than a lookup, and a sync makes tens of thousands of these).
  return record !== undefined && key in Object.prototype && !Object.hasOwn(records, key) ? undefined : record;
}

/** Effective privacy of an event about `feed` (docs/design.md, "Privacy"): feed override, account, default. */
export function effectivePrivacy(privacy: PrivacyState, feed: string | null, deploymentDefault: Privacy): Privacy {
  return (feed !== null ? recordAt(privacy.feeds, feed) : undefined) ?? privacy.account ?? deploymentDefault;
}

const maxIso = (a: string | null, b: string): string => (a !== null && a > b ? a : b);

/** Events that change a user's state; `checkpoint` replaces it wholesale. */
export type StateEvent = UserEvent | FoldedCheckpoint;

export function evolve(state: UserState, event: StateEvent): UserState {
  switch (event.type) {
    case 'subscribe':
      return withSubscription(state, event, 'subscribed_at');
    case 'unsubscribe':
      return withSubscription(state, event, 'unsubscribed_at');
    case 'play':
    case 'position':
      return withPlayStatus(state, event);
    case 'save':
      return withSave(state, event);
    case 'playlist':
      return withPlaylist(state, event);
    case 'privacy':
      return withPrivacy(state, event);
    case 'remove':
      return withoutScope(state, event.object);
    case 'checkpoint':
      // Parts added to the state later are empty in checkpoints taken before them. Its maps are
      // taken, not copied (a heavy user's state cloned whole held the folding thread 70–100 ms):
      // the fold copies a map before its first write to it (owned-copies.ts), and records are
      // replaced, never changed (test/domain/state.test.ts pins that a checkpoint's state stays).
      return { ...emptyState(), ...event.data.state };
    case 'account_deleted':
      return emptyState();
    case 'device':
      return withDevice(state, event);
    case 'sync_group':
      return withSyncGroup(state, event);
    case 'setting':
      return withSetting(state, event);
    case 'episode_action':
      return event.data.action === 'new' ? withUnplayed(state, event) : state;
    case 'share':
    case 'sync':
      return state;
  }
}

export function fold(events: Iterable<StateEvent>, initial: UserState = emptyState()): UserState {
  return new StateFold(initial).add(events).state;
}

/**
 * A fold fed in pieces (a stream read a page at a time, other work done between pages): its
 * state is what one {@link fold} of all the pieces gives, and the maps it made stay its own
 * from one piece to the next, so a map is copied once, not once a piece (a fold of each page
 * onto the last one's state copied a heavy user's 20,000 play statuses per page). The state
 * it hands out is its caller's alone: the next piece may update it in place.
 */
export class StateFold {
  private readonly owned = new WeakSet<object>();

  constructor(private current: UserState = emptyState()) {}

  add(events: Iterable<StateEvent>): this {
    this.current = withOwnedCopies(() => {
      let state = this.current;
      for (const event of events) state = evolve(state, event);
      return state;
    }, this.owned);
    return this;
  }

  get state(): UserState {
    return this.current;
  }
}

/** The parts of a user's state, each folded on its own when read alone (see {@link slicesChangedBy}). */
export type StateSlice = keyof UserState;
export const STATE_SLICES: readonly StateSlice[] = ['subscriptions', 'play_statuses', 'playlists', 'privacy', 'devices', 'sync_groups', 'settings'];

/**
 * The slices {@link evolve} may change for `event`; it returns every other slice as it was, and
 * each slice it changes depends only on that slice, the event and the slices
 * {@link SLICES_READ_BY} names for it. So a slice can be folded from the events that change it
 * (and those slices) alone ({@link foldSlice}), which lets a cached user fold a large slice only
 * when it is read (src/services/folded-user.ts: the synced slices, which read no other). Pinned
 * against {@link fold} by test/domain/state-slices.test.ts; a new event type, or one that reads
 * across slices, is stated here.
 */
export function slicesChangedBy(event: StateEvent): readonly StateSlice[] {
  switch (event.type) {
    case 'subscribe':
    case 'unsubscribe':
      return ['subscriptions'];
    case 'play':
    case 'position':
      return ['play_statuses'];
    case 'save':
    case 'playlist':
      return ['playlists'];
    case 'privacy':
      return ['privacy'];
    case 'device':
      return event.data.forgotten === true ? ['devices', 'sync_groups', 'settings'] : ['devices'];
    case 'sync_group':
      return ['sync_groups'];
    case 'setting':
      return ['settings'];
    case 'remove':
    case 'checkpoint':
    case 'account_deleted':
      return STATE_SLICES;
    case 'episode_action':
      return event.data.action === 'new' ? ['play_statuses'] : [];
    case 'share':
    case 'sync':
      return [];
  }
}

/**
 * The other slices a slice's fold reads: forgetting a device takes it out of its sync group and
 * its settings only if the device's last change is not newer than the forgetting (a device made
 * again since stays), which the devices slice holds.
 */
export const SLICES_READ_BY: Readonly<Partial<Record<StateSlice, readonly StateSlice[]>>> = { sync_groups: ['devices'], settings: ['devices'] };

/**
 * Slice `slice` of `fold(events, state)`, given only that slice of `state`, for a slice that reads
 * no other ({@link SLICES_READ_BY}; see {@link slicesChangedBy}).
 */
export function foldSlice<S extends StateSlice>(slice: S, events: Iterable<StateEvent>, base: UserState[S]): UserState[S] {
  const state: UserState = { ...emptyState(), [slice]: base };
  return fold(events, state)[slice];
}

function withSubscription(
  state: UserState,
  event: UserEventOf<'subscribe'> | UserEventOf<'unsubscribe'>,
  field: 'subscribed_at' | 'unsubscribed_at',
): UserState {
  const feed = event.object.rss_source_feed;
  const current = recordAt(state.subscriptions, feed);
  // A subscribe older than the one already folded must not overwrite its (newer) title.
  const stale = current?.subscribed_at != null && current.subscribed_at > event.timestamp;
  const title = event.type === 'subscribe' && !stale ? event.data.rss_feed_title : undefined;
  const next: SubscriptionState = {
    rss_source_feed: feed,
    rss_feed_title: title ?? current?.rss_feed_title ?? null,
    subscribed_at: current?.subscribed_at ?? null,
    unsubscribed_at: current?.unsubscribed_at ?? null,
    created_at: current?.created_at ?? event.timestamp,
  };
  next[field] = maxIso(current?.[field] ?? null, event.timestamp);
  return withSlice(state, 'subscriptions', withEntry(state.subscriptions, feed, next));
}

/**
 * Play and position share newer-wins on the episode's record; each builds the record it leaves
 * whole (an object literal, no intermediate one: a sync folds tens of thousands of these).
 */
function withPlayStatus(state: UserState, event: UserEventOf<'play'> | UserEventOf<'position'>): UserState {
  const { rss_source_feed: feed, rss_source_id: guid } = event.object;
  const key = episodeKey(feed, guid);
  const current = recordAt(state.play_statuses, key);
  if (current && current.updated_at > event.timestamp) return state;
  const next = event.type === 'play' ? playedStatus(event, current) : positionStatus(event, current);
  return withSlice(state, 'play_statuses', withEntry(state.play_statuses, key, next));
}

function playedStatus(event: UserEventOf<'play'>, current: PlayStatusState | undefined): PlayStatusState {
  return {
    rss_source_feed: event.object.rss_source_feed,
    rss_source_id: event.object.rss_source_id,
    rss_feed_title: event.data.rss_feed_title ?? current?.rss_feed_title ?? null,
    rss_item_title: event.data.rss_item_title ?? current?.rss_item_title ?? null,
    // Merged: a play carrying only the media URL (gpodder's) keeps the known duration and cover.
    rss_enclosure: event.data.enclosure ? { ...current?.rss_enclosure, ...event.data.enclosure } : (current?.rss_enclosure ?? null),
    played: event.data.played,
    position: event.data.position,
    updated_at: event.timestamp,
  };
}

function positionStatus(event: UserEventOf<'position'>, current: PlayStatusState | undefined): PlayStatusState {
  return {
    rss_source_feed: event.object.rss_source_feed,
    rss_source_id: event.object.rss_source_id,
    rss_feed_title: current?.rss_feed_title ?? null,
    rss_item_title: current?.rss_item_title ?? null,
    rss_enclosure: current?.rss_enclosure ?? null,
    played: current?.played ?? false,
    position: event.data.position,
    updated_at: event.timestamp,
  };
}

/**
 * gpodder's `new`: the episode marked as new, not played (AntennaPod's "mark as unplayed", Music
 * Assistant's position 0), newer-wins like a play: not played, back at the start, as Music
 * Assistant applies it. An episode with no status has nothing to undo.
 */
function withUnplayed(state: UserState, event: UserEventOf<'episode_action'>): UserState {
  const key = episodeKey(event.object.rss_source_feed, event.object.rss_source_id);
  const current = recordAt(state.play_statuses, key);
  if (!current || current.updated_at > event.timestamp) return state;
  const next: PlayStatusState = { ...current, played: false, position: 0, updated_at: event.timestamp };
  return withSlice(state, 'play_statuses', withEntry(state.play_statuses, key, next));
}

function playlistOrNew(state: UserState, id: string, at: string): PlaylistState {
  return (
    recordAt(state.playlists, id) ?? {
      id,
      name: id === DEFAULT_PLAYLIST ? 'Saved' : id,
      description: null,
      created_at: at,
      updated_at: at,
      deleted_at: null,
      items: {},
    }
  );
}

/** The playlist and the item of it a `save` changes. */
export function savedItemOf(event: UserEventOf<'save'>): { playlist: string; item: string } {
  return {
    playlist: event.data.playlist ?? DEFAULT_PLAYLIST,
    item: event.data.item_id ?? defaultItemId(event.object.rss_source_feed, event.object.rss_source_id),
  };
}

function withSave(state: UserState, event: UserEventOf<'save'>): UserState {
  const { rss_source_feed: feed, rss_source_id: guid } = event.object;
  const { playlist: playlistId, item: itemId } = savedItemOf(event);
  const playlist = playlistOrNew(state, playlistId, event.timestamp);
  const current = recordAt(playlist.items, itemId);
  if (current && current.updated_at > event.timestamp) return state;
  const item: PlaylistItemState = {
    item_id: itemId,
    rss_source_feed: feed,
    rss_source_id: guid,
    item_title: event.data.item_title ?? current?.item_title ?? null,
    feed_title: event.data.feed_title ?? current?.feed_title ?? null,
    created_at: current?.created_at ?? event.data.created_at ?? event.timestamp,
    updated_at: event.timestamp,
    deleted_at: event.data.removed ? event.timestamp : null,
  };
  const nextPlaylist: PlaylistState = { ...playlist, items: withEntry(playlist.items, itemId, item) };
  return withSlice(state, 'playlists', withEntry(state.playlists, playlistId, nextPlaylist));
}

function withPlaylist(state: UserState, event: UserEventOf<'playlist'>): UserState {
  const { playlist_id: id } = event.data;
  const current = playlistOrNew(state, id, event.data.created_at ?? event.timestamp);
  if (recordAt(state.playlists, id) && current.updated_at > event.timestamp) return state;
  // A delete may carry the name too (a sync can tombstone a playlist the server never saw).
  const next: PlaylistState = {
    ...current,
    name: event.data.name ?? current.name,
    description: event.data.description ?? current.description,
    updated_at: event.timestamp,
    deleted_at: event.data.action === 'delete' ? event.timestamp : null,
  };
  return withSlice(state, 'playlists', withEntry(state.playlists, id, next));
}

function withPrivacy(state: UserState, event: UserEventOf<'privacy'>): UserState {
  const level = event.data.privacy;
  if (event.object === null) return withSlice(state, 'privacy', { ...state.privacy, account: level });
  const feed = event.object.rss_source_feed;
  // null: the feed's own choice taken back, so it follows the account's again.
  const feeds = level === null ? withoutEntries(state.privacy.feeds, [feed]) : withEntry(state.privacy.feeds, feed, level);
  return withSlice(state, 'privacy', { ...state.privacy, feeds });
}
