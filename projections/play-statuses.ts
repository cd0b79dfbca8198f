/** `play_statuses` read model: one document per user and episode (docs/design.md, "Read models"). */
import { episodeKey, episodeOfKey } from '../src/domain/state.js';
import { defineUserRecordProjection } from './user-records.js';

export const PLAY_STATUSES = 'play_statuses';

export const playStatusesProjection = defineUserRecordProjection({
  name: 'play_statuses',
  // 2: the record's key only in the document id.
  // 3: nor the feed and guid the key is made of (~110 bytes a document in the benchmarks' mix).
  // 4: gpodder's `new` marks an episode unplayed.
  version: 4,
  collection: PLAY_STATUSES,
  slice: 'play_statuses',
  // Not written while null (no version change: a document written with them reads the same).
  nullable: ['rss_feed_title', 'rss_item_title', 'rss_enclosure'],
  keyFields: {
    names: new Set(['rss_source_feed', 'rss_source_id']),
    of(key) {
      const { feed, guid } = episodeOfKey(key);
      return { rss_source_feed: feed, rss_source_id: guid };
    },
  },
  touches(event) {
    switch (event.type) {
      case 'play':
      case 'position':
        return [episodeKey(event.object.rss_source_feed, event.object.rss_source_id)];
      case 'episode_action':
        // gpodder's `new` marks an episode unplayed (src/domain/state.ts).
        return event.data.action === 'new' ? [episodeKey(event.object.rss_source_feed, event.object.rss_source_id)] : 'none';
      case 'remove':
        // One episode's erasure touches its status alone (a batch of them must not read all of
        // the user's statuses each); a feed's or everything's, any of them.
        return event.object?.rss_source_id !== undefined ? [episodeKey(event.object.rss_source_feed, event.object.rss_source_id)] : 'all';
      case 'checkpoint':
      case 'account_deleted':
        return 'all';
      default:
        return 'none';
    }
  },
});
