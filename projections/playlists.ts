/** `playlists` read model: one document per user and playlist, items inside (docs/design.md, "Read models"). */
import { DEFAULT_PLAYLIST } from '../src/domain/events.js';
import type { Doc } from '../src/domain/documents.js';
import { defineUserRecordProjection, recordOf } from './user-records.js';
import { fromJson, toJsonObject } from '../src/domain/json.js';

export const PLAYLISTS = 'playlists';

export const playlistsProjection = defineUserRecordProjection({
  name: 'playlists',
  // 2: the record's key only in the document id.
  version: 2,
  collection: PLAYLISTS,
  slice: 'playlists',
  // GET /v1/playlists, oldest first.
  listedBy: ['created_at'],
  touches(event) {
    switch (event.type) {
      case 'save':
        return [event.data.playlist ?? DEFAULT_PLAYLIST];
      case 'playlist':
        return [event.data.playlist_id];
      case 'remove':
      case 'checkpoint':
      case 'account_deleted':
        return 'all';
      default:
        return 'none';
    }
  },
});

interface PlaylistItemRecord {
  item_id: string;
  created_at: string;
  deleted_at: string | null;
}

/**
 * A playlist document as the APIs present it: items as a list in creation order. Tombstones
 * (deleted playlists and items) are kept for sync answers and hidden from plain listings.
 */
export function presentPlaylist(doc: Doc, options: { includeDeleted: boolean }): Doc | undefined {
  const record = recordOf(doc);
  if (!options.includeDeleted && record['deleted_at'] !== null) return undefined;
  const items = Object.values(fromJson<Record<string, PlaylistItemRecord>>(record['items']))
    .filter((item) => options.includeDeleted || item.deleted_at === null)
    .sort((a, b) => (a.created_at === b.created_at ? (a.item_id < b.item_id ? -1 : 1) : a.created_at < b.created_at ? -1 : 1));
  return { ...record, items: items.map(toJsonObject) };
}
