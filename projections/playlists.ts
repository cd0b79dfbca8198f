/**
 * `playlists` read model (docs/design.md, "Read models"): per user, a document for each playlist
 * (its name, description and dates) and one for each of its items, so that a save writes its
 * item alone. With the items inside their playlist's document, each save copied, compared and
 * rewrote all of them: a sync of a playlist of 5,000 items (within the sync's limits) took the
 * projector, and a read ahead of it, seconds.
 */
import type { Doc, DocChange, StoredDoc } from '../src/domain/documents.js';
import type { PlaylistItemState, PlaylistState } from '../src/domain/state.js';
import { emptyState, evolve, savedItemOf } from '../src/domain/state.js';
import type { ProjectedEvent, ProjectionView } from './projection.js';
import { userDocId, userDocKey } from './projection.js';
import type { RecordLayout, UserRecordProjection } from './user-records.js';
import { isStateEvent, recordChanges, recordOf, recordOfDoc } from './user-records.js';
import { fromJson, toJsonObject } from '../src/domain/json.js';

export const PLAYLISTS = 'playlists';

/**
 * Joins a playlist's id and an item's in the item's document key: a playlist's key has none,
 * and no id can hold it (ids are validated without control characters: src/domain/events.ts).
 */
const ITEM_SEPARATOR = '\u001f';
const itemKey = (playlist: string, item: string): string => `${playlist}${ITEM_SEPARATOR}${item}`;

/** A document's key: a playlist's id, or its playlist's and its own. */
function partsOf(key: string): { playlist: string; item?: string } {
  const at = key.indexOf(ITEM_SEPARATOR);
  return at < 0 ? { playlist: key } : { playlist: key.slice(0, at), item: key.slice(at + ITEM_SEPARATOR.length) };
}

/** The ids are only in the documents' keys. */
const PLAYLIST_LAYOUT: RecordLayout = { keyFields: { names: new Set(['id']), of: (key) => ({ id: key }) } };
const ITEM_LAYOUT: RecordLayout = { keyFields: { names: new Set(['item_id']), of: (key) => ({ item_id: partsOf(key).item ?? '' }) } };

/** The playlists an event changes (sync answers restamp these: src/services/folded-user.ts). */
function touches(event: ProjectedEvent['event']): readonly string[] | 'all' | 'none' {
  switch (event.type) {
    case 'save':
      return [savedItemOf(event).playlist];
    case 'playlist':
      return [event.data.playlist_id];
    case 'remove':
    case 'checkpoint':
    case 'account_deleted':
      return 'all';
    default:
      return 'none';
  }
}

/** The documents an event may change: its playlists', and a save's item's. */
function docKeys(event: ProjectedEvent['event']): readonly string[] | 'all' | 'none' {
  if (event.type !== 'save') return touches(event);
  const { playlist, item } = savedItemOf(event);
  return [playlist, itemKey(playlist, item)];
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The user's playlists that `docs` hold, each with those of its items among them, oldest first
 * (ties by id, as the read-model port orders them). Built from entries, not assignment: ids are
 * client strings, and assigning "__proto__" would set a prototype instead of adding a record.
 */
function assemble(user: string, docs: readonly StoredDoc[]): Map<string, PlaylistState> {
  const playlists = new Map<string, Doc>();
  const items = new Map<string, [string, PlaylistItemState][]>();
  for (const { id, doc } of docs) {
    const key = userDocKey(user, id);
    const { playlist, item } = partsOf(key);
    if (item === undefined) playlists.set(playlist, recordOfDoc(PLAYLIST_LAYOUT, key, doc));
    else {
      const entry: [string, PlaylistItemState] = [item, fromJson<PlaylistItemState>(recordOfDoc(ITEM_LAYOUT, key, doc))];
      const list = items.get(playlist);
      if (list === undefined) items.set(playlist, [entry]);
      else list.push(entry);
    }
  }
  const assembled = new Map<string, PlaylistState>();
  for (const [id, record] of [...playlists].sort(
    ([a, left], [b, right]) => compareText(String(left['created_at']), String(right['created_at'])) || compareText(a, b),
  )) {
    assembled.set(id, Object.assign(fromJson<Omit<PlaylistState, 'items'>>(record), { items: Object.fromEntries(items.get(id) ?? []) }));
  }
  return assembled;
}

/** The documents of `keys` (all of the user's for 'all') as the state's playlists. */
function loadPlaylists(view: ProjectionView, user: string, keys: readonly string[] | 'all'): Record<string, PlaylistState> {
  const docs: StoredDoc[] =
    keys === 'all'
      ? view.find(PLAYLISTS, { where: { user } })
      : keys.flatMap((key) => {
          const id = userDocId(user, key);
          const doc = view.get(PLAYLISTS, id);
          return doc === undefined ? [] : [{ id, doc }];
        });
  return Object.fromEntries(assemble(user, docs));
}

/** The playlists' own records, by their keys. */
const playlistRecords = (playlists: Record<string, PlaylistState>): Record<string, Omit<PlaylistState, 'items'>> =>
  Object.fromEntries(Object.entries(playlists).map(([id, { items: _items, ...playlist }]) => [id, playlist]));

/** The playlists' items, by their keys. */
const itemRecords = (playlists: Record<string, PlaylistState>): Record<string, PlaylistItemState> =>
  Object.fromEntries(Object.entries(playlists).flatMap(([id, { items }]) => Object.entries(items).map(([item, record]) => [itemKey(id, item), record])));

export const playlistsProjection: UserRecordProjection = {
  name: 'playlists',
  // 2: the record's key only in the document id.
  // 3: a document per item beside its playlist's, not the items inside it.
  version: 3,
  collection: PLAYLISTS,
  touches,
  docKeys,
  // Clustered by user (the user's id kept once a row): every read of the collection is of one
  // user's documents, all of them (playlists are listed in creation order by playlistsOf), so no
  // index is written beside it. Its documents are few per event: taking the user out of each
  // document written and putting it back in each read costs the projector nothing to measure
  // (the per-user records of projections/user-records.ts, many per event, are not clustered so).
  collections: [{ name: PLAYLISTS, indexes: [['user']], clusteredBy: ['user'], idPrefixedByKey: true }],
  evolve(projected, view): DocChange[] {
    if (!isStateEvent(projected.event)) return [];
    const keys = docKeys(projected.event);
    if (keys === 'none') return [];
    // Of a playlist only the items the event may change are loaded (a save's one): the domain's
    // `evolve` reads no other, and the documents of the others stay as they are.
    const before = loadPlaylists(view, projected.user, keys);
    const after = evolve({ ...emptyState(), playlists: before }, projected.event).playlists;
    // Stamped with a checkpoint, changed or not, as the other per-user records (projections/user-records.ts).
    const restampAll = projected.event.type === 'checkpoint';
    return [
      ...recordChanges(PLAYLISTS, projected, playlistRecords(before), playlistRecords(after), restampAll, PLAYLIST_LAYOUT),
      ...recordChanges(PLAYLISTS, projected, itemRecords(before), itemRecords(after), restampAll, ITEM_LAYOUT),
    ];
  },
};

interface PlaylistItemRecord {
  item_id: string;
  created_at: string;
  deleted_at: string | null;
}

/**
 * A playlist record as the APIs present it: items as a list in creation order. Tombstones
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

/** The playlist a document of the user's belongs to, by its id: a playlist's own, or an item's. */
export const playlistOfDoc = (user: string, id: string): string => partsOf(userDocKey(user, id)).playlist;

/** The user's playlists that their documents hold (all of them, from the read model), oldest first. */
export function playlistsOf(user: string, docs: readonly StoredDoc[]): PlaylistState[] {
  return [...assemble(user, docs).values()];
}

/** The user's playlists as the APIs present them, from their documents, oldest first. */
export function presentPlaylists(user: string, docs: readonly StoredDoc[], options: { includeDeleted: boolean }): Doc[] {
  return playlistsOf(user, docs)
    .map((playlist) => presentPlaylist(toJsonObject(playlist), options))
    .filter((playlist): playlist is Doc => playlist !== undefined);
}
