/**
 * Sync (docs/design.md, "Sync"): a client posts its whole state; the server emits one event per difference.
 * Pure: ids and the clock come in through the context.
 *
 * Every rule compares the client's record with the server's and emits an event only when the
 * client's is strictly newer, so folding the emitted events into the server state makes a
 * second sync of the same request emit nothing (ties and older client records emit nothing).
 */
import { z } from 'zod';
import {
  LIMITS,
  USER_EVENT_TYPES,
  actionSchema,
  boundedString,
  enclosure,
  episodeObject,
  httpUrl,
  isoTimestamp,
  playData,
  playlistData,
  syncData,
} from './events.js';
import type { UserEvent, UserEventOf } from './events.js';
import type { PlaylistState, SubscriptionState, UserState } from './state.js';
import { episodeKey, fold, isSubscribed, recordAt } from './state.js';
import type { ActionContext } from './decide.js';
import { actionToEvent, byTimestamp, newEvent } from './decide.js';
import type { Steps } from './steps.js';
import { finish } from './steps.js';

export const SYNC_LIMITS = {
  subscriptions: 5_000,
  play_statuses: 50_000,
  playlists: 1_000,
  itemsPerPlaylist: 5_000,
  /** All playlists together: bounds the work of one request even with many full playlists. */
  playlistItems: 50_000,
  tasks: 1_000,
  since: 1_024,
} as const;

// ---- request schema -----------------------------------------------------------------------

/**
 * The key of the server's record each element of a request is compared with: what makes the
 * elements unique within a request, what the decision reads, and {@link syncReads}.
 */
const subscriptionKey = (sub: { rss_source_feed: string }) => sub.rss_source_feed;
const playStatusKey = (status: { rss_source_feed: string; rss_source_id: string }) => episodeKey(status.rss_source_feed, status.rss_source_id);
const playlistKey = (playlist: { id: string }) => playlist.id;

// Optional fields also accept null: clients echo the read models, which use null for "unknown".
const optionalTitle = boundedString(LIMITS.title).nullish();
const optionalTimestamp = isoTimestamp.nullish();
const guid = episodeObject.shape.rss_source_id;

/**
 * An array of at most `max` elements whose `key` is unique; a duplicate is reported at its
 * own index and field (e.g. `subscriptions.3.rss_source_feed`), naming the first occurrence.
 */
function uniqueArray<T extends z.ZodType>(
  element: T,
  options: { max: number; noun: string; field: readonly string[]; key: (value: z.output<T>) => string | undefined },
) {
  return z
    .array(element)
    .max(options.max, `at most ${options.max} ${options.noun}`)
    .superRefine((values, ctx) => {
      const firstIndex = new Map<string, number>();
      values.forEach((value, index) => {
        const key = options.key(value);
        if (key === undefined) return;
        const first = firstIndex.get(key);
        if (first === undefined) firstIndex.set(key, index);
        else
          ctx.addIssue({
            code: 'custom',
            path: [index, ...options.field],
            message: `duplicate ${options.field.join('.')}: already given at index ${first}`,
          });
      });
    });
}

export const syncSubscription = z
  .object({
    rss_source_feed: httpUrl,
    rss_feed_title: optionalTitle,
    subscribed_at: isoTimestamp,
    unsubscribed_at: optionalTimestamp,
  })
  .strict();

export const syncPlayStatus = z
  .object({
    rss_source_feed: httpUrl,
    rss_source_id: guid,
    played: playData.shape.played,
    position: playData.shape.position,
    updated_at: isoTimestamp,
    rss_feed_title: optionalTitle,
    rss_item_title: optionalTitle,
    enclosure: enclosure.nullish(),
  })
  .strict();

export const syncPlaylistItem = z
  .object({
    item_id: boundedString(LIMITS.id).min(1),
    rss_source_feed: httpUrl,
    rss_source_id: guid,
    item_title: optionalTitle,
    feed_title: optionalTitle,
    created_at: isoTimestamp,
    updated_at: isoTimestamp,
    deleted_at: optionalTimestamp,
  })
  .strict();

export const syncPlaylist = z
  .object({
    id: playlistData.shape.playlist_id,
    name: boundedString(LIMITS.title).min(1),
    description: boundedString(LIMITS.text).nullish(),
    created_at: optionalTimestamp,
    updated_at: isoTimestamp,
    deleted_at: optionalTimestamp,
    items: uniqueArray(syncPlaylistItem, {
      max: SYNC_LIMITS.itemsPerPlaylist,
      noun: 'items per playlist',
      field: ['item_id'],
      key: (item) => item.item_id,
    }),
  })
  .strict();

/** Queued tasks: the `privacy` and `remove` actions of `POST /v1/events`, same shape. */
export const syncTask = z.discriminatedUnion('type', [actionSchema('privacy', USER_EVENT_TYPES.privacy), actionSchema('remove', USER_EVENT_TYPES.remove)]);

export type SyncSubscription = z.output<typeof syncSubscription>;
export type SyncPlayStatus = z.output<typeof syncPlayStatus>;
export type SyncPlaylist = z.output<typeof syncPlaylist>;
export type SyncPlaylistItem = z.output<typeof syncPlaylistItem>;

/**
 * The request, with the schemas of its three long lists' elements given: the real ones for
 * {@link syncRequest}, pass-throughs of elements already checked for {@link pacedSyncRequest}.
 */
function syncRequestOf<
  Subscription extends z.ZodType<SyncSubscription>,
  PlayStatus extends z.ZodType<SyncPlayStatus>,
  Playlist extends z.ZodType<SyncPlaylist>,
>(elements: { subscription: Subscription; playStatus: PlayStatus; playlist: Playlist }) {
  return z
    .object({
      device: syncData.shape.device,
      request_id: syncData.shape.request_id,
      /** Opaque token from the previous answer; absent on a first sync. */
      since: z
        .string()
        .regex(/^\d{1,16}$/, 'must be the `since` token of an earlier sync answer')
        .nullish(),
      subscriptions: uniqueArray(elements.subscription, {
        max: SYNC_LIMITS.subscriptions,
        noun: 'subscriptions',
        field: ['rss_source_feed'],
        key: subscriptionKey,
      }),
      play_statuses: uniqueArray(elements.playStatus, {
        max: SYNC_LIMITS.play_statuses,
        noun: 'play statuses',
        field: ['rss_source_id'],
        key: playStatusKey,
      }),
      playlists: uniqueArray(elements.playlist, {
        max: SYNC_LIMITS.playlists,
        noun: 'playlists',
        field: ['id'],
        key: playlistKey,
      }),
      tasks: uniqueArray(syncTask, {
        max: SYNC_LIMITS.tasks,
        noun: 'tasks',
        field: ['id'],
        key: (task) => task.id,
      }).default([]),
    })
    .strict()
    .superRefine((request, ctx) => {
      const total = request.playlists.reduce((sum, playlist: SyncPlaylist) => sum + playlist.items.length, 0);
      if (total > SYNC_LIMITS.playlistItems)
        ctx.addIssue({ code: 'custom', path: ['playlists'], message: `at most ${SYNC_LIMITS.playlistItems} playlist items in all` });
    });
}

export const syncRequest = syncRequestOf({ subscription: syncSubscription, playStatus: syncPlayStatus, playlist: syncPlaylist });

/**
 * {@link syncRequest} checked a slice of its long lists at a time (a first sync carries up to
 * 50,000 play statuses: about 10 µs each, which at once would hold every other request for
 * half a second): each element by its own schema, then the rest of the request by
 * `rest`, the same schema taking the elements as checked. What it answers is what
 * {@link syncRequest} answers for the same input (src/http/validate.ts, `parseInputPaced`).
 */
export const pacedSyncRequest = {
  whole: syncRequest,
  rest: syncRequestOf({ subscription: checked<SyncSubscription>(), playStatus: checked<SyncPlayStatus>(), playlist: checked<SyncPlaylist>() }),
  lists: [
    { key: 'subscriptions', element: syncSubscription },
    { key: 'play_statuses', element: syncPlayStatus },
    // A playlist weighs its items: it is checked whole, with them.
    { key: 'playlists', element: syncPlaylist, weight: (value: unknown) => 1 + itemCount(value) },
  ],
} as const;

/** An element its own schema has already parsed: taken as it is. */
function checked<T>() {
  return z.custom<T>(() => true);
}

function itemCount(playlist: unknown): number {
  const items = typeof playlist === 'object' && playlist !== null ? (playlist as { items?: unknown }).items : undefined;
  return Array.isArray(items) ? items.length : 0;
}

export type SyncRequest = z.output<typeof syncRequest>;

export interface SyncContext extends ActionContext {
  /** When the sync is processed: the timestamp of the closing `sync` event. */
  readonly now: string;
}

// ---- decision -----------------------------------------------------------------------------

/**
 * The events one sync request adds, in this order:
 *
 * 1. the tasks, sorted by timestamp (stable), as docs/design.md, "Sync" asks;
 * 2. the differences, computed against the state *as the tasks leave it*: subscriptions,
 *    then play statuses, then playlists (each playlist's own event before its items).
 *
 * Tasks go first so that the state after this sync agrees with the client: a `remove` of a
 * feed the client has since re-subscribed to erases the old data and the diff re-adds what
 * the client holds now, in one append. Had the diff gone first, the `remove` would erase
 * the client's newer records too and the next sync would add them back. (`privacy` tasks
 * do not change any record the diff looks at, so for them the order is immaterial.)
 *
 * The closing `sync` event is left to the caller ({@link syncClosingEvent}).
 */
export function decideSync(state: UserState, request: SyncRequest, ctx: SyncContext): UserEvent[] {
  return finish(decideSyncSteps(state, request, ctx));
}

/** Records (a playlist's items each one) {@link decideSyncSteps} compares between two pauses. */
export const DECIDE_STEP = 2_000;

/**
 * {@link decideSync}, pausing (`yield`) after every {@link DECIDE_STEP} records compared, so
 * that a caller can serve other work between the steps of a long request. Pure all the same:
 * it reads only its arguments, which do not change while it pauses.
 */
export function* decideSyncSteps(state: UserState, request: SyncRequest, ctx: SyncContext): Steps<UserEvent[]> {
  const tasks = byTimestamp(request.tasks).map((task) => actionToEvent(task, ctx));
  const server = fold(tasks, state);
  // Loops rather than flatMap: a resync of tens of thousands of unchanged records would
  // otherwise allocate as many empty arrays.
  const events: UserEvent[] = [...tasks];
  let compared = 0;
  for (const sub of request.subscriptions) {
    events.push(...decideSubscription(recordAt(server.subscriptions, subscriptionKey(sub)), sub, request.device, ctx));
    if (++compared % DECIDE_STEP === 0) yield;
  }
  for (const status of request.play_statuses) {
    events.push(...decidePlayStatus(server, status, request.device, ctx));
    if (++compared % DECIDE_STEP === 0) yield;
  }
  for (const playlist of request.playlists) {
    events.push(...decidePlaylist(recordAt(server.playlists, playlistKey(playlist)), playlist, ctx));
    const before = compared;
    compared += 1 + playlist.items.length;
    if (Math.floor(compared / DECIDE_STEP) > Math.floor(before / DECIDE_STEP)) yield;
  }
  return events;
}

/** The records of each synced slice a sync's decision reads (see {@link syncReads}). */
export interface SyncReads {
  readonly subscriptions: readonly string[];
  readonly play_statuses: readonly string[];
  readonly playlists: readonly string[];
}

/**
 * The records {@link decideSyncSteps} reads, by slice, for a request without tasks: those at
 * the keys of the request's elements and nothing else, so a state holding only them decides
 * the same (test/domain/sync.test.ts), and a resync of a few records need not fold a user's
 * whole slices (src/services/sync.ts). Undefined with tasks (they are folded onto the whole
 * state first, and a `remove` changes records the request does not name), and for a request
 * with more than `limit` elements in a list (a caller that reads by key only for few records
 * is spared making the keys of thousands).
 */
export function syncReads(request: SyncRequest, limit = Infinity): SyncReads | undefined {
  if (request.tasks.length > 0) return undefined;
  if (Math.max(request.subscriptions.length, request.play_statuses.length, request.playlists.length) > limit) return undefined;
  return {
    subscriptions: request.subscriptions.map(subscriptionKey),
    play_statuses: request.play_statuses.map(playStatusKey),
    playlists: request.playlists.map(playlistKey),
  };
}

/** `a` is strictly newer than `b`; a missing date is older than any date. */
function newer(a: string, b: string | null | undefined): boolean {
  return b == null || a > b;
}

/** The later of two timestamps, `b` optional. */
function latest(a: string, b: string | null | undefined): string {
  return b != null && b > a ? b : a;
}

/**
 * docs/design.md, "Sync" subscription rules. The client's record and the server's are read
 * with the one rule, {@link isSubscribed} (a tie of the two dates is unsubscribed); a client
 * date equal to the server's date emits nothing.
 */
export function decideSubscription(server: SubscriptionState | undefined, client: SyncSubscription, device: string, ctx: ActionContext): UserEvent[] {
  const { subscribed_at: cSub, unsubscribed_at: cUnsub } = client;
  const clientSubscribed = isSubscribed(client);
  const object = { rss_source_feed: client.rss_source_feed };
  const subscribe = () => newEvent(ctx, 'subscribe', cSub, object, { ...compact({ rss_feed_title: client.rss_feed_title }), device });
  const unsubscribe = (at: string) => newEvent(ctx, 'unsubscribe', at, object, { device });

  // Rule 1: unknown feed. An unsubscribed client's unsubscribe date is not null (a null one is subscribed).
  if (server === undefined) return clientSubscribed || cUnsub == null ? [subscribe()] : [subscribe(), unsubscribe(cUnsub)];

  // Rules 2 and 3: compare the client's deciding date with the date that made the server's status.
  const serverDate = isSubscribed(server) ? server.subscribed_at : server.unsubscribed_at;
  if (clientSubscribed) return newer(cSub, serverDate) ? [subscribe()] : [];
  return cUnsub != null && newer(cUnsub, serverDate) ? [unsubscribe(cUnsub)] : [];
}

/** Newer `updated_at` wins; an episode the server has never seen always wins. */
const NOTHING: readonly UserEvent[] = Object.freeze([]);

export function decidePlayStatus(server: UserState, client: SyncPlayStatus, device: string, ctx: ActionContext): readonly UserEvent[] {
  const known = recordAt(server.play_statuses, playStatusKey(client));
  if (!newer(client.updated_at, known?.updated_at)) return NOTHING;
  const data: UserEventOf<'play'>['data'] = {
    played: client.played,
    position: client.position,
    ...compact({ rss_feed_title: client.rss_feed_title, rss_item_title: client.rss_item_title, enclosure: client.enclosure }),
    device,
  };
  return [newEvent(ctx, 'play', client.updated_at, { rss_source_feed: client.rss_source_feed, rss_source_id: client.rss_source_id }, data)];
}

/**
 * The version of a playlist or item record: its `updated_at`, or its `deleted_at` if a
 * client stamped the deletion later. It is both what is compared with the server's
 * `updated_at` and the timestamp of the emitted event, which the fold stores as
 * `updated_at` (and as `deleted_at` for a deletion), so the comparison is stable.
 */
function version(record: { updated_at: string; deleted_at?: string | null | undefined }): string {
  return latest(record.updated_at, record.deleted_at);
}

/** Newer version wins per playlist and, independently, per item; deletions are tombstones. */
export function decidePlaylist(server: PlaylistState | undefined, client: SyncPlaylist, ctx: ActionContext): UserEvent[] {
  const clientVersion = version(client);
  const events: UserEvent[] = newer(clientVersion, server?.updated_at) ? [playlistEvent(client, clientVersion, ctx)] : [];
  // Items are compared one by one, even when the server's playlist record is the newer one.
  for (const item of client.items) {
    const itemVersion = version(item);
    if (!newer(itemVersion, server ? recordAt(server.items, item.item_id)?.updated_at : undefined)) continue;
    events.push(
      newEvent(
        ctx,
        'save',
        itemVersion,
        { rss_source_feed: item.rss_source_feed, rss_source_id: item.rss_source_id },
        {
          playlist: client.id,
          item_id: item.item_id,
          ...compact({ item_title: item.item_title, feed_title: item.feed_title }),
          created_at: item.created_at,
          removed: item.deleted_at != null,
        },
      ),
    );
  }
  return events;
}

function playlistEvent(client: SyncPlaylist, timestamp: string, ctx: ActionContext): UserEventOf<'playlist'> {
  return newEvent(ctx, 'playlist', timestamp, null, {
    playlist_id: client.id,
    action: client.deleted_at != null ? 'delete' : 'upsert',
    name: client.name,
    ...compact({ description: client.description, created_at: client.created_at }),
  });
}

/** Drops null and undefined fields: stored events omit unknown optional values. */
function compact<T extends Record<string, unknown>>(record: T): { [K in keyof T]?: NonNullable<T[K]> } {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value != null)) as { [K in keyof T]?: NonNullable<T[K]> };
}

// ---- closing event ------------------------------------------------------------------------

/** How many events of a sync fall in each category (recorded in the closing `sync` event). */
export interface SyncCounts {
  subscriptions: number;
  play_statuses: number;
  playlists: number;
  tasks: number;
}

const CATEGORY: Partial<Record<UserEvent['type'], keyof SyncCounts>> = {
  subscribe: 'subscriptions',
  unsubscribe: 'subscriptions',
  play: 'play_statuses',
  playlist: 'playlists',
  save: 'playlists',
  privacy: 'tasks',
  remove: 'tasks',
};

export function syncCounts(events: readonly UserEvent[]): SyncCounts {
  const counts: SyncCounts = { subscriptions: 0, play_statuses: 0, playlists: 0, tasks: 0 };
  for (const event of events) {
    const category = CATEGORY[event.type];
    if (category) counts[category] += 1;
  }
  return counts;
}

/** The `sync` event that closes the append of one sync request (docs/design.md, "Events and streams", 5). */
export function syncClosingEvent(request: Pick<SyncRequest, 'device' | 'request_id'>, counts: SyncCounts, ctx: SyncContext): UserEventOf<'sync'> {
  return newEvent(ctx, 'sync', ctx.now, null, {
    device: request.device,
    request_id: request.request_id,
    counts: { ...counts },
  });
}
