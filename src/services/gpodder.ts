/**
 * The gpodder.net API v2 (docs/design.md, "Clients and their APIs") over the user's events and read models: devices,
 * subscriptions (advanced and simple API), sync groups, settings, favorites and updates.
 * Episode actions are in gpodder-episodes.ts.
 *
 * Subscriptions are the account's, shared by all its devices (as in the gpodder servers most
 * used with AntennaPod and Kasts): a device's add/remove becomes `subscribe`/`unsubscribe`
 * with `data.device`, and every device — and the native API — sees the one list. That is what
 * makes native and gpodder reads agree; sync groups are kept and reported as clients set them.
 *
 * Every `timestamp` / `since` is a commit position of `$all` (as the native sync's cursor), so
 * a change uploaded late, whatever its own time, reaches devices syncing from an earlier one.
 */
import { newEventId } from '../domain/ids.js';
import type { JsonValue, Position } from '../stores/event-store.js';
import { StreamNotFoundError } from '../stores/event-store.js';
import type { Doc, Query, StoredDoc } from '../stores/read-model.js';
import type { ProjectionView } from '../../projections/projection.js';
import type { DeviceType, SettingScope, UserEvent } from '../domain/events.js';
import { streams } from '../domain/events.js';
import type { SettingsTarget } from '../domain/gpodder-state.js';
import { settingsKey } from '../domain/gpodder-state.js';
import type { ListedPodcast } from '../domain/gpodder-formats.js';
import { effectiveSince, sanitizeChanges, sanitizeUrl } from '../domain/gpodder.js';
import type { GpodderContext } from '../domain/gpodder-commands.js';
import {
  decideSettings,
  decideSubscriptionList,
  decideSubscriptionUpload,
  decideSyncGroups,
  decideUpdateDevice,
  GpodderInputError,
  USER_LIMITS,
} from '../domain/gpodder-commands.js';
import { episodeKey, isSubscribed } from '../domain/state.js';
import { SINCE_MARGIN_S, gpodderTimestamp, positionOfSince } from '../domain/cursors.js';
import { recordedFrom } from '../domain/nextcloud.js';
import type { SubscriptionState, UserState } from '../domain/state.js';
import type { Principal } from './accounts.js';
import type { FoldedUser } from './folded-user.js';
import { handleCommand } from './command-handler.js';
import type { ReadModelService } from './read-models.js';
import type { UserEventService } from './user-events.js';
import { SUBSCRIPTIONS, subscriptionsProjection } from '../../projections/subscriptions.js';
import { ownDocuments, ownRecords } from './own-records.js';
import { playlistsProjection, presentPlaylists } from '../../projections/playlists.js';
import { PLAY_STATUSES, playStatusesProjection } from '../../projections/play-statuses.js';
import { GPODDER_DEVICES, GPODDER_SETTINGS, GPODDER_SYNC_GROUPS, gpodderDevicesProjection, gpodderRecordOf } from '../../projections/gpodder-devices.js';
import { userDocId } from '../../projections/projection.js';
import { PODCAST_EPISODES, podcastsProjection } from '../../projections/podcasts.js';
import { feedKey } from '../domain/feeds.js';
import { fromJson } from '../domain/json.js';
import { PodcastMetadata } from './podcast-metadata.js';
import { mapInSlices } from '../concurrency.js';

/** Moved to the domain with the decisions that check them; re-exported for the HTTP layer and tests. */
export { GpodderInputError, USER_LIMITS };

export interface GpodderDevice {
  id: string;
  caption: string;
  type: DeviceType;
  subscriptions: number;
}

export interface SubscriptionDiff {
  add: string[];
  remove: string[];
  timestamp: number;
}

export interface SyncStatus {
  synchronized: string[][];
  'not-synchronized': string[];
}

/** gpodder's episode object (favorites); fields it has no value for are null. */
export interface GpodderEpisode {
  title: string | null;
  url: string;
  podcast_title: string | null;
  podcast_url: string;
  description: string | null;
  website: string | null;
  released: string | null;
  mygpo_link: string | null;
  guid: string;
}

/** gpodder's podcast object (updates): what the client sent, and the feed's fields where it sent none (null until fetched). */
export interface GpodderPodcast {
  url: string;
  title: string | null;
  description: string | null;
  website: string | null;
  logo_url: string | null;
  mygpo_link: string | null;
  subscribers: number;
  subscribers_last_week: number;
}

/** gpodder's episode object in `updates`: an episode a subscribed feed listed since the cursor. */
export interface GpodderEpisodeUpdate extends GpodderEpisode {
  status: 'new';
}

/** At most this many new episodes per feed in one `updates` answer (a first sync of a feed with a long back catalogue). */
export const UPDATES_PER_FEED = 50;

/** Feeds whose new episodes are read together in an `updates` answer, other requests served between slices. */
const FEEDS_A_SLICE = 100;
const PODCASTS_PROJECTION = podcastsProjection.name;
/** The user's events not projected yet an upload looks through for one older than its cursor's margin; past them it waits. */
const PENDING_RECENT_LIMIT = 1_000;

/** A `since` further ahead of the server's clock than this (seconds) is no device's clock. */
export const CLOCK_AHEAD_LIMIT_S = 24 * 3600;

export class GpodderService {
  private readonly metadata: PodcastMetadata;
  /** The store's head commit as last read: a `since` at or below it is a cursor, not a clock. */
  private headSeen = 0;

  constructor(
    readonly userEvents: UserEventService,
    readonly readModels: ReadModelService,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.metadata = new PodcastMetadata(readModels.readModel);
  }

  // ---- shared helpers --------------------------------------------------------------------

  /**
   * Runs a gpodder decision (src/domain/gpodder-commands.ts) on the user's folded state through
   * the one write path (src/services/command-handler.ts); the position of the user's last event
   * appended (undefined when nothing was decided).
   */
  /** Appends what `decide` makes of the user's state (and the folded user, for a few of its records without the whole state). */
  async write(principal: Principal, decide: (state: UserState, ctx: GpodderContext, user: FoldedUser) => UserEvent[]): Promise<Position | undefined> {
    const ctx = this.context(principal);
    const outcome = await handleCommand(this.userEvents, principal, (user) => ({ events: decide(user.state, ctx, user), result: undefined }));
    return outcome.appended?.position;
  }

  /**
   * The cursor an upload answers (docs/design.md, "Upload cursors"). Clients take it as their
   * next `since`, so it must not pass what another device wrote after this client's last read:
   * it is the position of the user's last change recorded more than {@link SINCE_MARGIN_S}
   * before now (0 if none). What came since is read again, the uploader's own changes
   * included, which clients apply idempotently. The read model need only hold the user's
   * changes recorded before the margin ({@link projectedBefore}): positions grow with
   * recording time, so no document of the caught-up read model lies between the cursor it
   * answers meanwhile and the one it answers once caught up.
   */
  async uploadCursor(userId: string, collection: string): Promise<number> {
    return this.cursorBefore(userId, collection, this.uploadCutoff());
  }

  /**
   * The store position a gpodder `since`, as a client sends it, reads from in `collection`
   * (docs/design.md, "Clock cursors"). One within the store's sequence is a cursor this server
   * answered. One beyond its head cannot be: it is a clock, unix seconds — PinePods sends its own
   * clock, taken at the end of its last sync, as every `since`; a client moving from gpodder.net
   * keeps its last unix-time cursor. It is read as the Nextcloud API reads its cursor
   * ({@link recordedFrom}): from what the store recorded {@link SINCE_MARGIN_S} before it (a
   * device clock ahead of the server's, a change written during the client's sync), by the
   * search an upload's cursor makes; read as 0, it would give no removals, ever.
   */
  async positionOfClientSince(userId: string, collection: string, since: number | undefined): Promise<number | undefined> {
    const position = positionOfSince(since, this.positionGap);
    if (position === undefined || position === 0 || position <= this.headSeen) return position;
    // The head only grows: asked only for a since past the last one seen (a round trip to
    // EventStoreDB), which is rare but for clocks.
    this.headSeen = Math.max(this.headSeen, await this.headCommit());
    if (position <= this.headSeen) return position;
    const now = Math.floor(this.clock().getTime() / 1000);
    // Nor a clock: no device's runs a day ahead. A cursor of another server, or of an older
    // version of this one (an EventStoreDB log offset), reads from the start: nothing is lost so.
    if (since! > now + CLOCK_AHEAD_LIMIT_S) return 0;
    const cutoff = recordedFrom(since, now)!;
    await this.projectedBefore(userId, collection, cutoff);
    return this.cursorBefore(userId, collection, cutoff);
  }

  /**
   * The position of the user's last change in `collection` recorded before `cutoff` (unix
   * seconds): what is read after it is what was recorded from the cutoff on. The read model
   * must hold the user's changes recorded before the cutoff ({@link projectedBefore}).
   */
  private async cursorBefore(userId: string, collection: string, cutoff: number): Promise<number> {
    const older = await this.newestBefore(userId, collection, cutoff);
    if (older !== undefined) return older;
    // All of the user's changes are recent (or not projected yet): from just before the user's
    // first event, where an append before it would be (so that its cursor plus one still names a
    // position before it: src/domain/cursors.ts); 0 would read as "from the start", which leaves
    // removals out.
    const [first] = await this.userEvents.store.readStream(streams.user(userId), { maxCount: 1 }).catch((error: unknown) => {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    });
    return first ? Math.max(0, Number(first.position.commit) - this.positionGap) : 0;
  }

  /** Unix seconds: an upload's cursor is the user's last change recorded before it. */
  private uploadCutoff(): number {
    return Math.floor(this.clock().getTime() / 1000) - SINCE_MARGIN_S;
  }

  /**
   * Waits (bounded) until `projection` has applied every event of the user recorded before
   * `cutoff` (unix seconds), which an upload's cursor is read from; the user's events recorded
   * since (the usual lag of the projector: milliseconds) move no change of the caught-up read
   * model across it ({@link uploadCursor}), so the upload does not wait for them.
   */
  private async projectedBefore(userId: string, projection: string, cutoff: number): Promise<void> {
    const { behind } = await this.readModels.behindUser(userId, projection, PENDING_RECENT_LIMIT);
    if (behind === undefined || (behind.complete && behind.events.every((event) => event.recordedAt.getTime() >= cutoff * 1000))) return;
    await this.readModels.catchUpWithUser(userId, [projection]);
  }

  /**
   * The `seq` of the user's newest document recorded before `cutoff` (unix seconds), if any.
   * Positions grow with recording time, so the documents older than the cutoff are a prefix of
   * the user's documents in `seq` order: a binary search over `seq` by the `(user, seq)` index
   * finds its end in a few dozen point reads, however many documents were recorded since (a
   * walk back from the newest one read every document of the margin: after 10,000 actions
   * uploaded in a few minutes, each upload's cursor read them all).
   */
  private async newestBefore(userId: string, collection: string, cutoff: number): Promise<number | undefined> {
    const { readModel } = this.readModels;
    const one = async (query: Pick<Query, 'lessThan' | 'greaterThan'>, direction: 'asc' | 'desc') => {
      const [found] = await readModel.find(collection, { where: { user: userId }, ...query, orderBy: [{ field: 'seq', direction }], limit: 1 });
      return found === undefined ? undefined : { seq: Number(found.doc['seq']), old: Number(found.doc['at']) < cutoff };
    };
    type Found = { seq: number; old: boolean };
    const newest = await one({}, 'desc');
    if (newest === undefined || newest.old) return newest?.seq;
    const oldest = await one({}, 'asc');
    if (oldest === undefined || !oldest.old) return undefined;
    let lo: Found = oldest;
    let hi: Found = newest;
    // lo is old, hi is recent: the last old document is lo or one between them.
    for (;;) {
      const mid: number = lo.seq + Math.floor((hi.seq - lo.seq) / 2);
      const next: Found | undefined =
        (await one({ greaterThan: { field: 'seq', value: mid }, lessThan: { field: 'seq', value: hi.seq } }, 'asc')) ??
        (await one({ greaterThan: { field: 'seq', value: lo.seq }, lessThan: { field: 'seq', value: mid + 1 } }, 'desc'));
      if (next === undefined) return lo.seq;
      if (next.old) lo = next;
      else hi = next;
    }
  }

  /** What the API's cursors are scaled by (src/domain/cursors.ts). */
  get positionGap(): number {
    return this.userEvents.store.positionGap;
  }

  async headCommit(): Promise<number> {
    return Number((await this.userEvents.store.headPosition()).commit);
  }

  async checkpointCommit(projection: string): Promise<number> {
    return Number((await this.readModels.readModel.getCheckpoint(projection))?.position.commit ?? 0n);
  }

  context(principal: Principal) {
    return { user: principal.userId, newId: newEventId, now: this.clock().toISOString() };
  }

  /** The user's devices by id, with their writes (src/services/own-records.ts). */
  private async knownDevices(userId: string): Promise<Map<string, Doc>> {
    const docs = await ownDocuments(this.readModels, gpodderDevicesProjection, userId, (view) => devicesOf(view, userId));
    return new Map(docs.map(({ doc }) => [String(doc['key']), gpodderRecordOf(doc)]));
  }

  /** The user's subscription records, changed after `since` in the order of their changes (all of them, oldest first, without it), and their cursor. */
  private async subscriptionRecords(userId: string, since?: number): Promise<{ records: SubscriptionState[]; cursor: number }> {
    const { docs, cursor } = await ownRecords(this.readModels, subscriptionsProjection, userId, {
      where: { user: userId },
      ...(since !== undefined ? { greaterThan: { field: 'seq', value: since } } : {}),
      orderBy: since !== undefined ? [{ field: 'seq', direction: 'asc' }] : [{ field: 'created_at', direction: 'asc' }],
    });
    return { records: docs.map(({ doc }) => fromJson<SubscriptionState>(doc)), cursor };
  }

  private async subscribedFeeds(userId: string): Promise<SubscriptionState[]> {
    return (await this.subscriptionRecords(userId)).records.filter(isSubscribed);
  }

  // ---- devices ---------------------------------------------------------------------------

  async listDevices(principal: Principal): Promise<GpodderDevice[]> {
    const [devices, subscribed] = await Promise.all([this.knownDevices(principal.userId), this.subscribedFeeds(principal.userId)]);
    return [...devices.values()].map((device) => ({
      id: String(device['id']),
      caption: String(device['caption'] ?? ''),
      type: device['type'] as DeviceType,
      subscriptions: subscribed.length,
    }));
  }

  /** Creates the device, or changes what is given; a request that changes nothing writes nothing. */
  async updateDevice(principal: Principal, deviceId: string, changes: { caption?: string | undefined; type?: DeviceType | undefined }): Promise<void> {
    await this.write(principal, (state, ctx) => decideUpdateDevice(state, { device: deviceId, ...changes }, ctx));
  }

  // ---- subscriptions ---------------------------------------------------------------------

  /** `GET /api/2/subscriptions/{u}/{device}.json?since=`: the account's changes after `since`. */
  async subscriptionChanges(principal: Principal, since: number | undefined): Promise<SubscriptionDiff> {
    const { records, from, timestamp } = await this.subscriptionsSince(principal, await this.positionOfClientSince(principal.userId, SUBSCRIPTIONS, since));
    // From the start, removals mean nothing to a device: it only needs what to subscribe to.
    return {
      add: records.filter(isSubscribed).map((record) => record.rss_source_feed),
      remove: from === 0 ? [] : records.filter((record) => !isSubscribed(record)).map((record) => record.rss_source_feed),
      timestamp: gpodderTimestamp(timestamp, this.positionGap),
    };
  }

  private async subscriptionsSince(principal: Principal, since: number | undefined) {
    const from = effectiveSince(since, await this.headCommit());
    const { records, cursor } = await this.subscriptionRecords(principal.userId, from);
    return { records, from, timestamp: Math.max(cursor, from) };
  }

  /**
   * `POST /api/2/subscriptions/{u}/{device}.json`, and the Nextcloud API's change upload, which
   * names no device (`device` undefined: none is created or recorded).
   */
  async uploadSubscriptionChanges(
    principal: Principal,
    device: string | undefined,
    add: readonly string[],
    remove: readonly string[],
  ): Promise<{ timestamp: number; update_urls: [string, string][] }> {
    const changes = sanitizeChanges(add, remove);
    await this.projectedBefore(principal.userId, SUBSCRIPTIONS, this.uploadCutoff());
    await this.write(principal, (state, ctx) => decideSubscriptionUpload(state, { device, changes }, ctx));
    return { timestamp: gpodderTimestamp(await this.uploadCursor(principal.userId, SUBSCRIPTIONS), this.positionGap), update_urls: changes.updateUrls };
  }

  /** The simple API's lists: the account's current subscriptions. */
  async currentSubscriptions(principal: Principal): Promise<ListedPodcast[]> {
    return (await this.subscribedFeeds(principal.userId)).map((sub) => ({ url: sub.rss_source_feed, title: sub.rss_feed_title }));
  }

  /** The simple API's PUT: the uploaded list becomes the subscriptions (URLs that are not http(s) are skipped). */
  async replaceSubscriptions(principal: Principal, device: string, urls: readonly string[]): Promise<void> {
    const wanted = urls.map(sanitizeUrl).filter((url) => url !== undefined);
    await this.write(principal, (state, ctx) => decideSubscriptionList(state, { device, urls: wanted }, ctx));
  }

  /**
   * `GET /api/2/updates/{u}/{device}.json`: subscription changes as podcast objects, and the
   * episodes of the subscribed feeds first listed by their feeds after `since` (a store position,
   * as every gpodder cursor: docs/design.md, "Feeds"), at most {@link UPDATES_PER_FEED} per feed.
   */
  async updates(
    principal: Principal,
    since: number | undefined,
  ): Promise<{ add: GpodderPodcast[]; remove: string[]; updates: GpodderEpisodeUpdate[]; timestamp: number }> {
    // The cursor is no further than the `podcasts` projection (below): until it has the user's
    // own changes, they would come back in the next answer.
    await this.readModels.catchUpWithUser(principal.userId, [PODCASTS_PROJECTION]);
    const { records, from, timestamp } = await this.subscriptionsSince(principal, await this.positionOfClientSince(principal.userId, SUBSCRIPTIONS, since));
    // Episodes are only as far as the `podcasts` projection: the next cursor is no further, so
    // none it has not reached yet is skipped (subscription changes in between come again, harmlessly).
    const episodesCursor = await this.checkpointCommit(PODCASTS_PROJECTION);
    const subscribed = (await this.subscribedFeeds(principal.userId)).map((sub) => sub.rss_source_feed);
    const podcasts = await this.metadata.podcasts([...records.map((record) => record.rss_source_feed), ...subscribed]);
    const updates = (await mapInSlices(subscribed, FEEDS_A_SLICE, (feed) => this.newEpisodes(feed, from, podcasts.get(feed)))).flat();
    return {
      add: records.filter(isSubscribed).map((record) => podcastObject(record, podcasts.get(record.rss_source_feed))),
      remove: from === 0 ? [] : records.filter((record) => !isSubscribed(record)).map((record) => record.rss_source_feed),
      updates,
      timestamp: gpodderTimestamp(Math.max(from, Math.min(timestamp, episodesCursor)), this.positionGap),
    };
  }

  private async newEpisodes(feed: string, from: number, podcast: Doc | undefined): Promise<GpodderEpisodeUpdate[]> {
    const docs = await this.readModels.readModel.find(PODCAST_EPISODES, {
      where: { feed_key: feedKey(feed) },
      greaterThan: { field: 'first_seq', value: from },
      orderBy: [{ field: 'first_seq', direction: 'desc' }],
      limit: UPDATES_PER_FEED,
    });
    return docs
      .filter(({ doc }) => typeof doc['url'] === 'string')
      .map(({ doc }) => ({
        title: (doc['title'] as string | null) ?? null,
        url: doc['url'] as string,
        podcast_title: (podcast?.['title'] as string | null | undefined) ?? null,
        podcast_url: feed,
        description: null,
        website: null,
        mygpo_link: null,
        released: typeof doc['published'] === 'string' ? doc['published'].slice(0, 19) : null,
        guid: doc['guid'] as string,
        status: 'new',
      }));
  }

  // ---- sync groups -----------------------------------------------------------------------

  async syncStatus(principal: Principal): Promise<SyncStatus> {
    return this.readSyncStatus(principal.userId);
  }

  private async readSyncStatus(userId: string): Promise<SyncStatus> {
    const { devices, groupsDoc } = await ownDocuments(this.readModels, gpodderDevicesProjection, userId, (view) => ({
      devices: devicesOf(view, userId),
      groupsDoc: view.get(GPODDER_SYNC_GROUPS, userId),
    }));
    const groups = (groupsDoc?.['groups'] ?? []) as string[][];
    const grouped = new Set(groups.flat());
    const ids = devices.map(({ doc }) => String(doc['key']));
    return { synchronized: groups, 'not-synchronized': ids.filter((id) => !grouped.has(id)).sort() };
  }

  /** Starts and stops synchronisation; every device named must exist (400 naming it otherwise). */
  async updateSyncGroups(principal: Principal, synchronize: readonly (readonly string[])[], stop: readonly string[]): Promise<SyncStatus> {
    await this.write(principal, (state, ctx) => decideSyncGroups(state, { synchronize, stop }, ctx));
    return this.readSyncStatus(principal.userId);
  }

  // ---- settings --------------------------------------------------------------------------

  async settings(principal: Principal, target: SettingsTarget): Promise<Record<string, JsonValue>> {
    return this.readSettings(principal.userId, target);
  }

  private async readSettings(userId: string, target: SettingsTarget): Promise<Record<string, JsonValue>> {
    const id = userDocId(userId, settingsKey(target));
    const doc = await ownDocuments(this.readModels, gpodderDevicesProjection, userId, (view) => view.get(GPODDER_SETTINGS, id));
    return (doc?.['values'] ?? {}) as Record<string, JsonValue>;
  }

  /** Sets then removes keys (gpodder.net's order); answers the scope's settings after the change. */
  async updateSettings(
    principal: Principal,
    target: SettingsTarget & { scope: SettingScope },
    set: Record<string, JsonValue>,
    remove: readonly string[],
  ): Promise<Record<string, JsonValue>> {
    await this.write(principal, (state, ctx) => decideSettings(state, { target, set, remove }, ctx));
    return this.readSettings(principal.userId, target);
  }

  // ---- favorites -------------------------------------------------------------------------

  /** Favorites are the episodes saved in the user's playlists (a save is a like). */
  async favorites(principal: Principal): Promise<GpodderEpisode[]> {
    const user = principal.userId;
    const { docs } = await ownRecords(this.readModels, playlistsProjection, user, { where: { user } });
    const saved = new Map<string, { feed: string; guid: string; title: string | null; feedTitle: string | null }>();
    for (const playlist of presentPlaylists(user, docs, { includeDeleted: false })) {
      for (const item of fromJson<{ rss_source_feed: string; rss_source_id: string; item_title: string | null; feed_title: string | null }[]>(
        playlist['items'],
      )) {
        const key = episodeKey(item.rss_source_feed, item.rss_source_id);
        if (!saved.has(key)) saved.set(key, { feed: item.rss_source_feed, guid: item.rss_source_id, title: item.item_title, feedTitle: item.feed_title });
      }
    }
    // The media URL, when a play status knows it; else the guid (often a URL itself).
    const ids = [...saved.keys()].map((key) => userDocId(user, key));
    const statuses = await ownDocuments(this.readModels, playStatusesProjection, user, (view) => ids.map((id) => view.get(PLAY_STATUSES, id)));
    return [...saved].map(([, episode], index) => {
      const status = statuses[index];
      const enclosure = status?.['rss_enclosure'] as { url?: string } | null | undefined;
      return {
        title: episode.title ?? (status?.['rss_item_title'] as string | null | undefined) ?? null,
        url: enclosure?.url ?? episode.guid,
        podcast_title: episode.feedTitle ?? (status?.['rss_feed_title'] as string | null | undefined) ?? null,
        podcast_url: episode.feed,
        description: null,
        website: null,
        released: null,
        mygpo_link: null,
        guid: episode.guid,
      };
    });
  }
}

function podcastObject(record: SubscriptionState, podcast: Doc | undefined): GpodderPodcast {
  const text = (field: string) => (typeof podcast?.[field] === 'string' ? (podcast[field] as string) : null);
  const cover = podcast?.['cover'] as { src?: string } | null | undefined;
  return {
    url: record.rss_source_feed,
    title: record.rss_feed_title ?? text('title'),
    description: text('description'),
    website: text('link'),
    logo_url: cover?.src ?? null,
    mygpo_link: null,
    subscribers: 0,
    subscribers_last_week: 0,
  };
}

/** The user's device documents, by id. */
function devicesOf(view: ProjectionView, userId: string): StoredDoc[] {
  return view.find(GPODDER_DEVICES, { where: { user: userId }, orderBy: [{ field: 'key', direction: 'asc' }] });
}
