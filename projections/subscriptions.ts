/** `subscriptions` read model: one document per user and feed (docs/design.md, "Read models"). */
import { defineUserRecordProjection } from './user-records.js';

export const SUBSCRIPTIONS = 'subscriptions';

export const subscriptionsProjection = defineUserRecordProjection({
  name: 'subscriptions',
  // 2: the record's key only in the document id.
  version: 2,
  collection: SUBSCRIPTIONS,
  slice: 'subscriptions',
  // GET /v1/subscriptions and gpodder's subscription list, oldest first.
  listedBy: ['created_at'],
  touches(event) {
    switch (event.type) {
      case 'subscribe':
      case 'unsubscribe':
        return [event.object.rss_source_feed];
      case 'remove':
        // Erasing one episode leaves the subscription alone.
        if (event.object === null) return 'all';
        return event.object.rss_source_id === undefined ? [event.object.rss_source_feed] : 'none';
      case 'checkpoint':
      case 'account_deleted':
        return 'all';
      default:
        return 'none';
    }
  },
});
