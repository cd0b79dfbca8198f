/**
 * `retention_index` read model (internal): for each user, when the store recorded the oldest
 * event still in their stream, so the retention pass (docs/design.md, "Retention") finds the users with events
 * older than 45 days without scanning every stream. Also: users with a `remove` not carried out
 * yet, and users whose stream an EventStoreDB erasure rewrote (`rewritten_before`: the `$tb` the
 * rewrite sets), which each pass checks until the user's next checkpoint, so a rewrite whose
 * `$tb` write failed is finished (src/retention/history.ts). And after a retention checkpoint,
 * until a day after it (`truncation_check_until`), the truncation it asks for
 * (`truncation_before`): a pass that stopped between the two leaves a user whose oldest retained
 * event is recent by the checkpoint but whose old events are still there, which the next passes
 * check for and finish (docs/design.md, "Retention").
 */
import type { Projection } from './projection.js';
import { del, put } from './projection.js';
import { isFeedEvent } from '../src/domain/feeds.js';

export const RETENTION_INDEX = 'retention_index';
/** How long after a retention checkpoint passes check that its truncation was carried out. */
export const TRUNCATION_CHECK_MS = 24 * 60 * 60 * 1000;

export const retentionIndexProjection: Projection = {
  name: 'retention_index',
  // 2: retention checkpoints' truncations checked for a day.
  version: 2,
  collections: [{ name: RETENTION_INDEX, indexes: [['oldest_recorded_at'], ['pending_erasure'], ['rewrite_unconfirmed'], ['truncation_check_until']] }],
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
      const truncation = event.data.reason === 'retention' && typeof event.data.truncate_before === 'number';
      return [
        put(RETENTION_INDEX, projected.user, {
          oldest_recorded_at: event.data.retained_from,
          ...(pending ? { pending_erasure: true } : {}),
          ...(rewrite ? { rewrite_unconfirmed: true, rewritten_before: event.data.truncate_before } : {}),
          ...(truncation
            ? {
                truncation_before: event.data.truncate_before,
                truncation_check_until: new Date(Date.parse(projected.recordedAt) + TRUNCATION_CHECK_MS).toISOString(),
              }
            : {}),
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
