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
  const feedOnly = scope.rss_source_id === undefined;
  const privacy = feedOnly
    ? { account: state.privacy.account, feeds: Object.fromEntries(Object.entries(state.privacy.feeds).filter(([feed]) => feed !== scope.rss_source_feed)) }
    : state.privacy;
  const subscriptions = feedOnly
    ? Object.fromEntries(Object.entries(state.subscriptions).filter(([feed]) => feed !== scope.rss_source_feed))
    : state.subscriptions;
  const play_statuses = Object.fromEntries(Object.entries(state.play_statuses).filter(([, p]) => !scopeCovers(scope, p.rss_source_feed, p.rss_source_id)));
  const playlists = Object.fromEntries(
    Object.entries(state.playlists).map(([id, playlist]) => [
      id,
      {
        ...playlist,
        items: Object.fromEntries(Object.entries(playlist.items).filter(([, item]) => !scopeCovers(scope, item.rss_source_feed, item.rss_source_id))),
      },
    ]),
  );
  return {
    subscriptions,
    play_statuses,
    playlists,
    privacy,
    devices: state.devices,
    sync_groups: state.sync_groups,
    settings: settingsWithout(state.settings, scope),
  };
}

/**
 * gpodder settings left after erasing `scope`: podcast and episode settings are about
 * listening (they name a feed), so they go with it; account and device settings are not
 * listening data.
 */
export function settingsWithout(settings: Record<string, SettingsState>, scope: EventObject | null): Record<string, SettingsState> {
  return Object.fromEntries(
    Object.entries(settings).filter(([, entry]) => entry.podcast === null || !scopeCovers(scope, entry.podcast, entry.episode ?? undefined)),
  );
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
  switch (event.type) {
    case 'sync':
    case 'snapshot':
    case 'checkpoint':
    case 'account_deleted':
      return false;
    case 'playlist':
      return scope === null;
    case 'privacy':
    case 'remove':
      return event.object !== null ? scopeCovers(scope, event.object.rss_source_feed, event.object.rss_source_id) : scope === null && event.type === 'remove';
    default:
      return event.object !== null && scopeCovers(scope, event.object.rss_source_feed, event.object.rss_source_id);
  }
}

/**
 * Ids of the events that the `remove` events of a stream (in stream order) delete: each
 * `remove` itself (it names the scope), the earlier events it covers, and the earlier
 * checkpoints (the checkpoint taken after the erasure supersedes them).
 */
export function erasedEventIds(events: readonly (ErasableEvent & { readonly id: string })[]): Set<string> {
  const ids = new Set<string>();
  for (const [index, event] of events.entries()) {
    if (event.type !== 'remove') continue;
    ids.add(event.id);
    for (const earlier of events.slice(0, index)) {
      if (earlier.type === 'checkpoint' || erasureCovers(event.object, earlier)) ids.add(earlier.id);
    }
  }
  return ids;
}
