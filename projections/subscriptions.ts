/** `subscriptions` read model: one document per user and feed (docs/design.md, "Read models"). */
import { feedsErasedBy } from '../src/domain/erasure.js';
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
        return feedsErasedBy(event.object);
      case 'checkpoint':
      case 'account_deleted':
        return 'all';
      default:
        return 'none';
    }
  },
});
