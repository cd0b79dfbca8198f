/**
 * `episode_actions` read model (docs/design.md, "Clients and their APIs"): the user's episode actions as gpodder clients read
 * them, one document per event, stamped with its `$all` position (`seq`), which is what
 * `GET /api/2/episodes/{u}.json?since=` pages by. Native `play` and `position` events appear
 * here too, so gpodder clients see what native clients did.
 *
 * Documents are keyed by event id, and an uploaded action's event id is derived from the
 * action (src/domain/gpodder.ts): the upload checks these ids to ignore exact duplicates.
 *
 * Retention (docs/design.md, "Retention"): a checkpoint that truncates the stream drops the documents of the
 * removed events, and carries each retained play status whose episode has no action left as
 * one `play` action, so a device syncing from 0 afterwards still learns every position (once),
 * and a rebuild from the retained stream gives the same documents as the live projection.
 */
import { hash } from 'node:crypto';
import type { UserEvent } from '../src/domain/events.js';
import type { ActionServing, GpodderAction } from '../src/domain/gpodder.js';
import { presentAction, servingOf } from '../src/domain/gpodder.js';
import type { PlayStatusState } from '../src/domain/state.js';
import { episodeKey } from '../src/domain/state.js';
import type { Doc, DocChange } from '../src/domain/documents.js';
import type { ProjectedEvent, Projection, ProjectionView } from './projection.js';
import { del, put, recordedSeconds, userDocId } from './projection.js';
import { fromJson, toJsonObject } from '../src/domain/json.js';

export const EPISODE_ACTIONS = 'episode_actions';

/**
 * The action's podcast and device are queried inside it (`action.podcast`, `action.device`):
 * copies beside it would be written for every action and read only by filtered downloads and
 * erasures.
 */
export interface EpisodeActionDoc {
  user: string;
  seq: number;
  /** Stream revision of the event (retention truncates by revision). */
  revision: number;
  /** The episode's identity (`rss_source_id`), for erasure of one episode. */
  guid: string;
  /** When the store recorded the event (unix seconds): the Nextcloud API's `since` reads by it. */
  at: number;
  /**
   * Whether and how the action is served (src/domain/gpodder.ts), so a download tells without
   * reading the action; absent for `as-is` (most actions: 18 bytes each saved).
   */
  serving?: Exclude<ActionServing, 'as-is'>;
  /**
   * `episode` is "" when the event named no media URL: readers resolve it (src/services/gpodder-episodes.ts).
   * Kept apart by the store ({@link EPISODE_ACTIONS}' spec): a download serves it as stored.
   */
  action: GpodderAction;
}

export const episodeActionDocId = (user: string, eventId: string) => userDocId(user, eventId);

/** Field path of an action's podcast (feed URL), for queries. */
export const ACTION_FEED = 'action.podcast';

function actionDoc(projected: ProjectedEvent, action: GpodderAction, guid: string): Doc {
  const serving = servingOf(action);
  const doc: EpisodeActionDoc = {
    user: projected.user,
    seq: projected.seq,
    revision: projected.revision,
    guid,
    at: recordedSeconds(projected),
    ...(serving === 'as-is' ? {} : { serving }),
    action,
  };
  return toJsonObject(doc);
}

function deleteAll(view: ProjectionView, where: Record<string, string>, lessThanRevision?: number): DocChange[] {
  return view
    .find(EPISODE_ACTIONS, { where, ...(lessThanRevision === undefined ? {} : { lessThan: { field: 'revision', value: lessThanRevision } }) })
    .map(({ id }) => del(EPISODE_ACTIONS, id));
}

/** A retained play status as the `play` action it amounts to (an id per episode, so a later checkpoint replaces it). */
function statusAction(projected: ProjectedEvent, status: PlayStatusState): DocChange {
  const event: UserEvent = {
    id: projected.event.id,
    user: projected.user,
    timestamp: status.updated_at,
    type: 'play',
    object: { rss_source_feed: status.rss_source_feed, rss_source_id: status.rss_source_id },
    data: { played: status.played, position: status.position, ...(status.rss_enclosure ? { enclosure: status.rss_enclosure } : {}) },
  };
  return put(EPISODE_ACTIONS, statusActionId(projected.user, status), actionDoc(projected, presentAction(event)!, status.rss_source_id));
}

const STATE_PREFIX = 'state-';

function statusActionId(user: string, status: PlayStatusState): string {
  return userDocId(user, `${STATE_PREFIX}${hash('sha256', episodeKey(status.rss_source_feed, status.rss_source_id), 'hex')}`);
}

/**
 * The event types whose documents `evolve` cannot make from the event alone: they change or
 * delete documents already there (and so read them). Every other type's documents are new ones
 * made from the event alone, which is what lets a download answer actions the projection has
 * not reached yet from the stream (src/services/gpodder-episodes.ts). Pinned against `evolve`
 * by a property test (test/projections/episode-actions.test.ts).
 */
const CHANGES_EXISTING = new Set(['remove', 'account_deleted', 'checkpoint']);
export const changesExistingActions = (type: string): boolean => CHANGES_EXISTING.has(type);

/** The fields of an action's document a download does not read (it reads {@link DOWNLOAD_READS} and the action). */
const DOWNLOAD_SKIPS = ['user', 'revision', 'guid', 'at'] as const satisfies readonly (keyof EpisodeActionDoc)[];
export const DOWNLOAD_READS = ['seq', 'serving'] as const satisfies readonly (keyof EpisodeActionDoc)[];

export const episodeActionsProjection: Projection = {
  name: 'episode_actions',
  // 2: the podcast and device only inside the action. 3: `serving`, and the action kept apart.
  // 4: what a download does not read kept apart too.
  version: 4,
  // One order, the user's actions in `$all` order: it pages every download, and a download
  // filtered by podcast, an erasure or a truncation walks the user's actions in it. (An index by
  // podcast would cost index writes on every action for those rare reads.)
  // The documents are kept in that order (clustered: a download reads consecutive rows, not an
  // index and then each row where it lies; bench/RESULTS.md, "Actions kept in the order they
  // are downloaded"); MongoDB's index on the same fields serves it there.
  // The action is kept apart: a download answers it as stored, without parsing it or
  // serializing it again (about half of what reading a page of 5,000 cost in the service). So
  // are the fields a download does not read, which the store then leaves unread: the document
  // itself holds only `serving` (bench/RESULTS.md, "Downloads read only what they serve").
  // Every id is the user's (`userDocId`): the embedded store keeps the user once a row.
  collections: [
    { name: EPISODE_ACTIONS, indexes: [['user', 'seq']], clusteredBy: ['user', 'seq'], idPrefixedByKey: true, apart: [...DOWNLOAD_SKIPS, 'action'] },
  ],
  evolve(projected, view) {
    const { event } = projected;
    const user = projected.user;
    switch (event.type) {
      case 'play':
      case 'position':
      case 'episode_action':
        return [put(EPISODE_ACTIONS, episodeActionDocId(user, event.id), actionDoc(projected, presentAction(event)!, event.object.rss_source_id))];
      case 'remove': {
        const scope = event.object;
        if (scope === null) return deleteAll(view, { user });
        // An episode's actions are picked from its feed's: a batch of erasures of episodes of a
        // feed then reads the feed's actions once (one query, which the projector keeps for the
        // batch), not the user's actions once per episode (no index leads to an episode: three
        // index writes per action for this rare read; bench/RESULTS.md, "Erasures of many episodes").
        const ofFeed = view.find(EPISODE_ACTIONS, { where: { user, [ACTION_FEED]: scope.rss_source_feed } });
        const guid = scope.rss_source_id;
        return (guid === undefined ? ofFeed : ofFeed.filter(({ doc }) => doc['guid'] === guid)).map(({ id }) => del(EPISODE_ACTIONS, id));
      }
      case 'account_deleted':
        return deleteAll(view, { user });
      case 'checkpoint': {
        const truncateBefore = (event.data as { truncate_before?: unknown }).truncate_before;
        const dropped = typeof truncateBefore === 'number' ? deleteAll(view, { user }, truncateBefore) : [];
        // An episode whose actions are still there (retained events: an erasure's checkpoint
        // truncates nothing) needs no status action: it would list its play twice.
        const kept = new Set(
          view
            .find(EPISODE_ACTIONS, { where: { user } })
            .filter(
              ({ id, doc }) =>
                !id.startsWith(userDocId(user, STATE_PREFIX)) && (typeof truncateBefore !== 'number' || Number(doc['revision']) >= truncateBefore),
            )
            .map(({ doc }) => {
              const { action, guid } = fromJson<EpisodeActionDoc>(doc);
              return episodeKey(action.podcast, guid);
            }),
        );
        return [
          ...dropped,
          ...Object.values(event.data.state.play_statuses ?? {}).map((status) =>
            kept.has(episodeKey(status.rss_source_feed, status.rss_source_id))
              ? del(EPISODE_ACTIONS, statusActionId(user, status))
              : statusAction(projected, status),
          ),
        ];
      }
      default:
        return [];
    }
  },
};
