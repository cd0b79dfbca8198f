/**
 * What an erasure covers (docs/design.md, "Erasure"), in one place. Pure.
 *
 * A `remove` names a scope: `null` (all listening data), a feed, or a feed + episode. This
 * module says, for that scope:
 * - which episodes and feeds it covers ({@link scopeCovers});
 * - which parts of a user's state go ({@link withoutScope}, folded by `remove` and used for the
 *   checkpoint taken after the erasure; gpodder settings: {@link settingsWithout});
 * - which stored events are deleted ({@link erasureCovers}, {@link erasedEventIds}).
 * The projections drop the same scope from their documents with {@link scopeCovers}.
 */
import type { EventObject } from './events.js';
import type { SettingsState } from './gpodder-state.js';
import type { UserState } from './state.js';
import { withEntry, withoutEntries, withSlice } from './owned-copies.js';
import { episodeKey } from './episode-keys.js';

/** Does `scope` (null = everything, a feed, or a feed + episode) cover this episode (or, without a guid, this feed)? */
export function scopeCovers(scope: EventObject | null, feed: string, guid?: string): boolean {
  if (scope === null) return true;
  if (scope.rss_source_feed !== feed) return false;
  return scope.rss_source_id === undefined || scope.rss_source_id === guid;
}

/**
 * The feeds an erasure of `scope` takes whole (their subscription, their privacy choice): every
 * feed, the scope's feed, or none (one episode's erasure leaves its feed's).
 */
export function feedsErasedBy(scope: EventObject | null): readonly string[] | 'all' | 'none' {
  if (scope === null) return 'all';
  return scope.rss_source_id === undefined ? [scope.rss_source_feed] : 'none';
}

/**
 * The state without the scope's listening data. The account-wide privacy choice is not
 * listening data and stays; a per-feed override of an erased feed goes, since the events that
 * set it name the feed and are erased with it. Devices, sync groups and account or device
 * settings are not listening data either. Every part of the state is named here, so a part
 * added to {@link UserState} must say whether an erasure takes it.
 */
export function withoutScope(state: UserState, scope: EventObject | null): UserState {
  if (scope === null) {
    return {
      subscriptions: {},
      play_statuses: {},
      playlists: {},
      privacy: { account: state.privacy.account, feeds: {} },
      devices: state.devices,
      sync_groups: state.sync_groups,
      settings: settingsWithout(state.settings, null),
    };
  }
  // Only what the scope covers is copied and dropped: a batch of episode erasures folds one
  // `remove` each, and rebuilding every map per `remove` made such a fold quadratic in the
  // user's records (1,000 episode erasures against 5,000 play statuses took seconds).
  const { rss_source_feed: feed, rss_source_id: guid } = scope;
  let next = state;
  if (guid === undefined) {
    if (Object.hasOwn(state.privacy.feeds, feed))
      next = withSlice(next, 'privacy', { account: state.privacy.account, feeds: withoutEntries(state.privacy.feeds, [feed]) });
    if (Object.hasOwn(state.subscriptions, feed)) next = withSlice(next, 'subscriptions', withoutEntries(state.subscriptions, [feed]));
  }
  // Play statuses are keyed by their episode: one episode's is found, not searched for.
  const statuses = guid === undefined ? coveredKeys(state.play_statuses, scope) : ownKeysOf(state.play_statuses, [episodeKey(feed, guid)]);
  if (statuses.length > 0) next = withSlice(next, 'play_statuses', withoutEntries(state.play_statuses, statuses));
  let playlists = state.playlists;
  for (const id of Object.keys(state.playlists)) {
    const playlist = state.playlists[id]!;
    const items = coveredKeys(playlist.items, scope);
    if (items.length > 0) playlists = withEntry(playlists, id, { ...playlist, items: withoutEntries(playlist.items, items) });
  }
  if (playlists !== state.playlists) next = withSlice(next, 'playlists', playlists);
  const settings = settingsWithout(state.settings, scope);
  return settings === state.settings ? next : withSlice(next, 'settings', settings);
}

/** Those of `keys` that `records` holds. */
const ownKeysOf = (records: object, keys: readonly string[]): string[] => keys.filter((key) => Object.hasOwn(records, key));

/** Keys of the records of `records` (play statuses, a playlist's items) the scope covers, matched on their own fields. */
function coveredKeys(records: Readonly<Record<string, { rss_source_feed: string; rss_source_id: string }>>, scope: EventObject): string[] {
  const keys: string[] = [];
  for (const key in records) {
    if (!Object.hasOwn(records, key)) continue;
    const record = records[key]!;
    if (scopeCovers(scope, record.rss_source_feed, record.rss_source_id)) keys.push(key);
  }
  return keys;
}

/**
 * gpodder settings left after erasing `scope`: podcast and episode settings are about
 * listening (they name a feed), so they go with it; account and device settings are not
 * listening data.
 */
export function settingsWithout(settings: Record<string, SettingsState>, scope: EventObject | null): Record<string, SettingsState> {
  const covered = Object.keys(settings).filter((key) => {
    const { podcast, episode } = settings[key]!;
    return podcast !== null && scopeCovers(scope, podcast, episode ?? undefined);
  });
  return withoutEntries(settings, covered);
}

/** The part of a stored event that decides whether an erasure covers it. */
export interface ErasableEvent {
  readonly type: string;
  readonly object: EventObject | null;
}

/**
 * Does erasing `scope` delete this event? Events about a covered feed or episode do; so do
 * older erasures of a narrower scope, and for the whole account (`null`) the playlist
 * definitions too. Account-wide privacy choices, `sync` records and checkpoints are not in
 * any scope (checkpoints are superseded by the one taken after the erasure: see
 * {@link erasedEventIds}).
 */
export function erasureCovers(scope: EventObject | null, event: ErasableEvent): boolean {
  return coveredBy(event, scope === null, (feed, guid) => scopeCovers(scope, feed, guid));
}

/** {@link erasureCovers} for erasures whose scopes `covers` matches (of which one is everything when `everything`). */
function coveredBy(event: ErasableEvent, everything: boolean, covers: (feed: string, guid: string | undefined) => boolean): boolean {
  switch (event.type) {
    case 'sync':
    case 'snapshot':
    case 'checkpoint':
    case 'account_deleted':
      return false;
    case 'playlist':
      return everything;
    case 'privacy':
    case 'remove':
      return event.object !== null ? covers(event.object.rss_source_feed, event.object.rss_source_id) : everything && event.type === 'remove';
    default:
      return event.object !== null && covers(event.object.rss_source_feed, event.object.rss_source_id);
  }
}

/** The scopes of several erasures, asked at once whether any covers an event. */
export class ErasureScopes {
  private everything = false;
  private readonly feeds = new Set<string>();
  /** Episodes' guids by feed (no key built per event asked about: streams hold tens of thousands). */
  private readonly episodes = new Map<string, Set<string>>();

  get any(): boolean {
    return this.everything || this.feeds.size > 0 || this.episodes.size > 0;
  }

  add(scope: EventObject | null): void {
    if (scope === null) this.everything = true;
    else if (scope.rss_source_id === undefined) this.feeds.add(scope.rss_source_feed);
    else {
      const guids = this.episodes.get(scope.rss_source_feed);
      if (guids === undefined) this.episodes.set(scope.rss_source_feed, new Set([scope.rss_source_id]));
      else guids.add(scope.rss_source_id);
    }
  }

  /** Does any of the scopes cover the event ({@link erasureCovers})? */
  coverEvent(event: ErasableEvent): boolean {
    return coveredBy(
      event,
      this.everything,
      (feed, guid) => this.everything || this.feeds.has(feed) || (guid !== undefined && this.episodes.get(feed)?.has(guid) === true),
    );
  }
}

/**
 * Ids of the events that the `remove` events of a stream (in stream order) delete: each
 * `remove` itself (it names the scope), the earlier events it covers, and the earlier
 * checkpoints (the checkpoint taken after the erasure supersedes them). One pass from the end,
 * each event matched against the scopes of the removes after it at once: matching each remove
 * against every earlier event took seconds for a stream with a batch of episode erasures.
 */
export function erasedEventIds(events: readonly (ErasableEvent & { readonly id: string })[]): Set<string> {
  const ids = new Set<string>();
  const later = new ErasureScopes();
  for (let index = events.length - 1; index >= 0; index--) {
    const event = events[index]!;
    if (event.type === 'remove') {
      ids.add(event.id);
      later.add(event.object);
    } else if (event.type === 'checkpoint' ? later.any : later.coverEvent(event)) ids.add(event.id);
  }
  return ids;
}
