/**
 * `retention_index` read model (internal): for each user, when the store recorded the oldest
 * event still in their stream, so the retention pass (docs/design.md, "Retention") finds the users with events
 * older than 45 days without scanning every stream. Also: users with a `remove` not carried out
 * yet, and users whose stream an EventStoreDB erasure rewrote (`rewritten_before`: the `$tb` the
 * rewrite sets), which each pass checks until the user's next checkpoint, so a rewrite whose
 * `$tb` write failed is finished (src/retention/history.ts).
 */
import type { Projection } from './projection.js';
import { del, put } from './projection.js';
import { isFeedEvent } from '../src/domain/feeds.js';

export const RETENTION_INDEX = 'retention_index';

export const retentionIndexProjection: Projection = {
  name: 'retention_index',
  collections: [{ name: RETENTION_INDEX, indexes: [['oldest_recorded_at'], ['pending_erasure'], ['rewrite_unconfirmed']] }],
  evolve(projected, view) {
    const { event } = projected;
    if (event.type === 'roll_stats' || isFeedEvent(event)) return [];
    if (event.type === 'account_deleted') return [del(RETENTION_INDEX, projected.user)];
    const current = view.get(RETENTION_INDEX, projected.user);
    // A checkpoint says what the stream keeps from now on; an erasure checkpoint also means
    // every `remove` before it has been carried out.
    if (event.type === 'checkpoint') {
      const pending = event.data.reason !== 'erasure' && current?.['pending_erasure'] === true;
      // An erasure that truncates is a rewrite (EventStoreDB); one that does not deleted rows.
      const rewrite = event.data.reason === 'erasure' && typeof event.data.truncate_before === 'number';
      return [
        put(RETENTION_INDEX, projected.user, {
          oldest_recorded_at: event.data.retained_from,
          ...(pending ? { pending_erasure: true } : {}),
          ...(rewrite ? { rewrite_unconfirmed: true, rewritten_before: event.data.truncate_before } : {}),
        }),
      ];
    }
    // A `remove` is projected at once; its events are deleted for real by the erasure step,
    // which the retention pass retries for users whose erasure is still pending.
    if (event.type === 'remove')
      return [
        put(RETENTION_INDEX, projected.user, {
          ...current,
          oldest_recorded_at: current?.['oldest_recorded_at'] ?? projected.recordedAt,
          pending_erasure: true,
        }),
      ];
    if (current) return [];
    return [put(RETENTION_INDEX, projected.user, { oldest_recorded_at: projected.recordedAt })];
  },
};
