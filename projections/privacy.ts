/**
 * `privacy_settings` read model: a user's account-wide and per-feed privacy choices.
 *
 * The public projections keep their own copy of these choices (through {@link privacyChange}
 * on their own collection), because a projection may only read what it owns.
 */
import type { PrivacyState } from '../src/domain/state.js';
import { emptyState, evolve } from '../src/domain/state.js';
import type { Doc } from '../src/domain/documents.js';
import type { ProjectedEvent, Projection, ProjectionView } from './projection.js';
import { del, put } from './projection.js';
import { jsonEqual } from '../src/domain/json.js';

export const PRIVACY_SETTINGS = 'privacy_settings';

export function privacyOf(view: ProjectionView, collection: string, user: string): PrivacyState {
  const doc = view.get(collection, user);
  if (!doc) return { account: null, feeds: {} };
  return { account: (doc['account'] ?? null) as PrivacyState['account'], feeds: (doc['feeds'] ?? {}) as PrivacyState['feeds'] };
}

/** The privacy before and after an event, or undefined if the event does not change it. */
export function privacyChange(view: ProjectionView, collection: string, projected: ProjectedEvent): { before: PrivacyState; after: PrivacyState } | undefined {
  const { event } = projected;
  // Erasure drops per-feed overrides of the erased feeds, so `remove` can change privacy too.
  if (event.type !== 'privacy' && event.type !== 'checkpoint' && event.type !== 'remove') return undefined;
  const before = privacyOf(view, collection, projected.user);
  const after = evolve({ ...emptyState(), privacy: before }, event).privacy;
  return jsonEqual(before, after) ? undefined : { before, after };
}

/** No position on this document: a rebuild after retention learns the same choice from a later event. */
export const privacyDoc = (projected: ProjectedEvent, privacy: PrivacyState): Doc => ({
  user: projected.user,
  account: privacy.account,
  feeds: sortedKeys(privacy.feeds),
});

/** Documents are compared as JSON, so objects used as maps keep their keys sorted. */
export function sortedKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export const privacySettingsProjection: Projection = {
  name: 'privacy_settings',
  collections: [{ name: PRIVACY_SETTINGS, indexes: [] }],
  evolve(projected, view) {
    if (projected.event.type === 'account_deleted') return [del(PRIVACY_SETTINGS, projected.user)];
    const change = privacyChange(view, PRIVACY_SETTINGS, projected);
    return change ? [put(PRIVACY_SETTINGS, projected.user, privacyDoc(projected, change.after))] : [];
  },
};
