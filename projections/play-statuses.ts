/** `play_statuses` read model: one document per user and episode (docs/design.md, "Read models"). */
import { episodeKey } from '../src/domain/state.js';
import { defineUserRecordProjection } from './user-records.js';

export const PLAY_STATUSES = 'play_statuses';

export const playStatusesProjection = defineUserRecordProjection({
  name: 'play_statuses',
  // 2: the record's key only in the document id.
  version: 2,
  collection: PLAY_STATUSES,
  slice: 'play_statuses',
  touches(event) {
    switch (event.type) {
      case 'play':
      case 'position':
        return [episodeKey(event.object.rss_source_feed, event.object.rss_source_id)];
      case 'remove':
      case 'checkpoint':
      case 'account_deleted':
        return 'all';
      default:
        return 'none';
    }
  },
});
