/**
 * `episode_actions` read model (SPEC 10): the user's episode actions as gpodder clients read
 * them, one document per event, stamped with its `$all` position (`seq`), which is what
 * `GET /api/2/episodes/{u}.json?since=` pages by. Native `play` and `position` events appear
 * here too, so gpodder clients see what native clients did.
 *
 * Documents are keyed by event id, and an uploaded action's event id is derived from the
 * action (src/domain/gpodder.ts): the upload checks these ids to ignore exact duplicates.
 *
 * Retention (SPEC 7): a checkpoint that truncates the stream drops the documents of the
 * removed events, and carries each retained play status as one `play` action, so a device
 * syncing from 0 afterwards still learns every position, and a rebuild from the retained
 * stream gives the same documents as the live projection.
 */
import { createHash } from 'node:crypto';
import type { UserEvent } from '../src/domain/events.js';
import type { GpodderAction } from '../src/domain/gpodder.js';
import { pendingAction, presentAction } from '../src/domain/gpodder.js';
import type { PlayStatusState } from '../src/domain/state.js';
import { episodeKey } from '../src/domain/state.js';
import type { Doc, DocChange } from '../src/stores/read-model.js';
import type { ProjectedEvent, Projection, ProjectionView } from './projection.js';
import { del, put, recordedSeconds, userDocId } from './projection.js';

export const EPISODE_ACTIONS = 'episode_actions';
/**
 * The media URL last seen for each of a user's episodes, so a native event that names its
 * episode by guid alone still reads as an action on that URL (src/domain/gpodder.ts,
 * presentAction). Erased with the episode.
 */
export const EPISODE_MEDIA_URLS = 'episode_media_urls';

export interface EpisodeActionDoc {
  user: string;
  seq: number;
  /** Stream revision of the event (retention truncates by revision). */
  revision: number;
  feed: string;
  /** The episode's identity (`rss_source_id`), for erasure of one episode. */
  guid: string;
  device: string | null;
  /** When the store recorded the event (unix seconds): the Nextcloud API's `since` reads by it. */
  at: number;
  action: GpodderAction;
  /**
   * A native play or position whose media URL no event made known: `action.episode` is `''`
   * until filled at read time from the feed's enclosure for its guid, and it is left out while
   * the feed does not list one (docs/design.md, "What gpodder clients see").
   */
  media_unknown?: true;
}

export const episodeActionDocId = (user: string, eventId: string) => userDocId(user, eventId);

function actionDoc(projected: ProjectedEvent, action: GpodderAction, guid: string, mediaUnknown = false): Doc {
  const doc: EpisodeActionDoc = {
    user: projected.user,
    seq: projected.seq,
    revision: projected.revision,
    feed: action.podcast,
    guid,
    device: action.device ?? null,
    at: recordedSeconds(projected),
    action,
    ...(mediaUnknown ? { media_unknown: true as const } : {}),
  };
  return doc as unknown as Doc;
}

/** The document of an event's action: on its media URL, or pending one (see {@link EpisodeActionDoc.media_unknown}). */
function eventActionDoc(projected: ProjectedEvent, event: UserEvent, id: string, mediaUrl: string | undefined): DocChange[] {
  if (event.object === null || event.object.rss_source_id === undefined) return [];
  const action = presentAction(event, mediaUrl);
  if (action !== undefined) return [put(EPISODE_ACTIONS, id, actionDoc(projected, action, event.object.rss_source_id))];
  const pending = pendingAction(event);
  return pending === undefined ? [] : [put(EPISODE_ACTIONS, id, actionDoc(projected, pending, event.object.rss_source_id, true))];
}

function deleteAll(view: ProjectionView, where: Record<string, string>, lessThanRevision?: number): DocChange[] {
  return view
    .find(EPISODE_ACTIONS, { where, ...(lessThanRevision === undefined ? {} : { lessThan: { field: 'revision', value: lessThanRevision } }) })
    .map(({ id }) => del(EPISODE_ACTIONS, id));
}

const mediaUrlDocId = (user: string, feed: string, guid: string) => userDocId(user, createHash('sha256').update(episodeKey(feed, guid)).digest('hex'));

/** The media URL of the event's episode: the event's own, else the last one seen for it. */
function mediaUrlOf(projected: ProjectedEvent & { event: UserEvent }, view: ProjectionView): { url: string | undefined; changes: DocChange[] } {
  const { event, user } = projected;
  if (event.object === null) return { url: undefined, changes: [] };
  const { rss_source_feed: feed, rss_source_id: guid } = event.object;
  if (guid === undefined) return { url: undefined, changes: [] };
  const id = mediaUrlDocId(user, feed, guid);
  const own = event.type === 'play' || event.type === 'episode_action' ? event.data.enclosure?.url : undefined;
  if (own === undefined) return { url: view.get(EPISODE_MEDIA_URLS, id)?.['url'] as string | undefined, changes: [] };
  const known = view.get(EPISODE_MEDIA_URLS, id);
  return { url: own, changes: known?.['url'] === own ? [] : [put(EPISODE_MEDIA_URLS, id, { user, feed, guid, url: own })] };
}

function deleteMediaUrls(view: ProjectionView, where: Record<string, string>): DocChange[] {
  return view.find(EPISODE_MEDIA_URLS, { where }).map(({ id }) => del(EPISODE_MEDIA_URLS, id));
}

/** A retained play status as the `play` action it amounts to (an id per episode, so a later checkpoint replaces it). */
function statusAction(projected: ProjectedEvent, status: PlayStatusState): DocChange[] {
  const event: UserEvent = {
    id: projected.event.id,
    user: projected.user,
    timestamp: status.updated_at,
    type: 'play',
    object: { rss_source_feed: status.rss_source_feed, rss_source_id: status.rss_source_id },
    data: { played: status.played, position: status.position, ...(status.rss_enclosure ? { enclosure: status.rss_enclosure } : {}) },
  };
  const key = createHash('sha256').update(episodeKey(status.rss_source_feed, status.rss_source_id)).digest('hex');
  return eventActionDoc(projected, event, userDocId(projected.user, `state-${key}`), undefined);
}

export const episodeActionsProjection: Projection = {
  name: 'episode_actions',
  // One index, the user's actions in `$all` order: it pages every download, and a download
  // filtered by podcast or device, an erasure or a truncation walks the user's actions with it.
  // (Indexes by podcast and by device cost three index writes per action for those rare reads.)
  collections: [
    { name: EPISODE_ACTIONS, indexes: [['user', 'seq']] },
    { name: EPISODE_MEDIA_URLS, indexes: [['user', 'feed', 'guid']] },
  ],
  evolve(projected, view) {
    const { event } = projected;
    const user = projected.user;
    switch (event.type) {
      case 'play':
      case 'position':
      case 'episode_action': {
        const media = mediaUrlOf({ ...projected, event }, view);
        return [...media.changes, ...eventActionDoc(projected, event, episodeActionDocId(user, event.id), media.url)];
      }
      case 'remove': {
        const scope = event.object;
        const where: Record<string, string> = scope === null ? { user } : scope.rss_source_id === undefined ? { user, feed: scope.rss_source_feed } : { user, feed: scope.rss_source_feed, guid: scope.rss_source_id };
        return [...deleteAll(view, where), ...deleteMediaUrls(view, where)];
      }
      case 'account_deleted':
        return [...deleteAll(view, { user }), ...deleteMediaUrls(view, { user })];
      case 'checkpoint': {
        const truncateBefore = (event.data as { truncate_before?: unknown }).truncate_before;
        const dropped = typeof truncateBefore === 'number' ? deleteAll(view, { user }, truncateBefore) : [];
        const statuses = Object.values(event.data.state.play_statuses ?? {});
        // Known media URLs restart from the checkpoint's own, as a rebuild from it would.
        const urls = statuses.flatMap((status) => {
          const url = status.rss_enclosure?.url;
          const { rss_source_feed: feed, rss_source_id: guid } = status;
          return url === undefined ? [] : [put(EPISODE_MEDIA_URLS, mediaUrlDocId(user, feed, guid), { user, feed, guid, url })];
        });
        const reset = deleteMediaUrls(view, { user }).filter((change) => !urls.some((put) => put.id === change.id));
        return [...dropped, ...reset, ...urls, ...statuses.flatMap((status) => statusAction(projected, status))];
      }
      default:
        return [];
    }
  },
};
