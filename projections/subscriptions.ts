/** `subscriptions` read model: one document per user and feed (docs/design.md, "Read models"). */
import { defineUserRecordProjection, feedRecordsTouchedBy } from './user-records.js';

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
    return event.type === 'subscribe' || event.type === 'unsubscribe' ? [event.object.rss_source_feed] : feedRecordsTouchedBy(event);
  },
});
