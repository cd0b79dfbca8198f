/**
 * Retention decisions (docs/design.md, "Retention"). Pure. What an erasure covers is in erasure.ts.
 */
import type { UserState } from './state.js';
import { isSubscribed } from './state.js';

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
  const subscriptions = Object.fromEntries(Object.entries(state.subscriptions).filter(([, sub]) => isSubscribed(sub) || !longGone(sub.unsubscribed_at)));
  const playlists = Object.fromEntries(
    Object.entries(state.playlists)
      .map(
        ([id, playlist]) =>
          [id, { ...playlist, items: Object.fromEntries(Object.entries(playlist.items).filter(([, item]) => !longGone(item.deleted_at))) }] as const,
      )
      .filter(([, playlist]) => !(longGone(playlist.deleted_at) && Object.keys(playlist.items).length === 0)),
  );
  return { ...state, subscriptions, playlists };
}
