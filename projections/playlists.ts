/** `playlists` read model: one document per user and playlist, items inside (SPEC 6). */
import { DEFAULT_PLAYLIST } from '../src/domain/events.js';
import { defineUserRecordProjection } from './user-records.js';

export const PLAYLISTS = 'playlists';

export const playlistsProjection = defineUserRecordProjection({
  name: 'playlists',
  collection: PLAYLISTS,
  slice: 'playlists',
  touches(event) {
    switch (event.type) {
      case 'save':
        return [event.data.playlist ?? DEFAULT_PLAYLIST];
      case 'playlist':
        return [event.data.playlist_id];
      case 'remove':
      case 'checkpoint':
        return 'all';
      default:
        return 'none';
    }
  },
});
