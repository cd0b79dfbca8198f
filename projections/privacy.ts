/**
 * `privacy_settings` read model: a user's account-wide and per-feed privacy choices.
 *
 * The public projections keep their own copy of these choices (through {@link privacyChange}
 * on their own collection), because a projection may only read what it owns.
 */
import { isDeepStrictEqual } from 'node:util';
import type { PrivacyState } from '../src/domain/state.js';
import { emptyState, evolve } from '../src/domain/state.js';
import type { Doc } from '../src/stores/read-model.js';
import type { ProjectedEvent, Projection, ProjectionView } from './projection.js';
import { del, put } from './projection.js';

export const PRIVACY_SETTINGS = 'privacy_settings';

export function privacyOf(view: ProjectionView, collection: string, user: string): PrivacyState {
  const doc = view.get(collection, user);
  if (!doc) return { account: null, feeds: {} };
  return { account: (doc['account'] ?? null) as PrivacyState['account'], feeds: (doc['feeds'] ?? {}) as PrivacyState['feeds'] };
}

/** The privacy before and after an event, or undefined if the event does not change it. */
export function privacyChange(view: ProjectionView, collection: string, projected: ProjectedEvent): { before: PrivacyState; after: PrivacyState } | undefined {
  const { event } = projected;
  if (event.type !== 'privacy' && event.type !== 'checkpoint') return undefined;
  const before = privacyOf(view, collection, projected.user);
  const after = evolve({ ...emptyState(), privacy: before }, event).privacy;
  return isDeepStrictEqual(before, after) ? undefined : { before, after };
}

export const privacyDoc = (projected: ProjectedEvent, privacy: PrivacyState): Doc => ({
  user: projected.user,
  account: privacy.account,
  feeds: privacy.feeds,
  seq: projected.seq,
});

export const privacySettingsProjection: Projection = {
  name: 'privacy_settings',
  collections: [{ name: PRIVACY_SETTINGS, indexes: [] }],
  evolve(projected, view) {
    if (projected.event.type === 'account_deleted') return [del(PRIVACY_SETTINGS, projected.user)];
    const change = privacyChange(view, PRIVACY_SETTINGS, projected);
    return change ? [put(PRIVACY_SETTINGS, projected.user, privacyDoc(projected, change.after))] : [];
  },
};
