/**
 * Retention and erasure decisions (docs/design.md, "Retention", 8). Pure.
 */
import type { EventObject } from './events.js';
import type { UserState } from './state.js';
import { scopeCovers } from './state.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export const daysBefore = (now: Date, days: number): Date => new Date(now.getTime() - days * DAY_MS);

/**
 * The state a retention checkpoint carries: everything, except playlist items deleted and
 * subscriptions unsubscribed more than `forgetAfterDays` ago (and deleted playlists emptied of
 * such items once they are themselves older than that).
 */
export function checkpointState(state: UserState, now: Date, forgetAfterDays: number): UserState {
  const cutoff = daysBefore(now, forgetAfterDays).toISOString();
  const longGone = (at: string | null) => at !== null && at < cutoff;
  const subscriptions = Object.fromEntries(
    Object.entries(state.subscriptions).filter(([, sub]) => {
      const unsubscribed = sub.unsubscribed_at !== null && (sub.subscribed_at === null || sub.unsubscribed_at > sub.subscribed_at);
      return !(unsubscribed && longGone(sub.unsubscribed_at));
    }),
  );
  const playlists = Object.fromEntries(
    Object.entries(state.playlists)
      .map(([id, playlist]) => [id, { ...playlist, items: Object.fromEntries(Object.entries(playlist.items).filter(([, item]) => !longGone(item.deleted_at))) }] as const)
      .filter(([, playlist]) => !(longGone(playlist.deleted_at) && Object.keys(playlist.items).length === 0)),
  );
  return { ...state, subscriptions, playlists };
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
 * any scope (checkpoints are superseded by the one taken after the erasure).
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
