/**
 * The listener's own pages (src/web): an overview of their state and the few changes the
 * pages make. State comes from the domain fold (src/domain/state.ts) of the user's stream, the
 * same fold sync decides with and the read models mirror; changes are ordinary user actions
 * appended through {@link UserEventService}, so the pages add no rule of their own.
 */
import type { Privacy, UserEvent } from '../domain/events.js';
import { streams } from '../domain/events.js';
import type { PlayStatusState, PrivacyState, UserState } from '../domain/state.js';
import { isSubscribed, recordAt, StateFold } from '../domain/state.js';
import { episodeKey } from '../domain/episode-keys.js';
import type { RecordedEvent } from '../stores/event-store.js';
import { readStreamPages } from '../stores/event-store.js';
import { PUBLIC_EVENTS } from '../../projections/public-events.js';
import { cutAfterStates, stateEventsOf } from './codec.js';
import type { Principal } from './accounts.js';
import type { ReadModelService } from './read-models.js';
import type { UserEventService } from './user-events.js';
import { PodcastMetadata } from './podcast-metadata.js';
import { episodeDocKey, feedKey } from '../domain/feeds.js';
import { PODCAST_EPISODES, PODCASTS } from '../../projections/podcasts.js';
import { newEventId } from '../domain/ids.js';
import { sanitizeChanges } from '../domain/gpodder.js';
import type { GpodderContext } from '../domain/gpodder-commands.js';
import { decideForgetDevice, decideSubscriptionUpload } from '../domain/gpodder-commands.js';
import { handleCommand } from './command-handler.js';

export interface SubscriptionView {
  readonly feed: string;
  /** The feed's title as a client sent it, else as the feed says; the pages show the URL otherwise. */
  readonly title: string | null;
  /** A cover an app sent with one of the feed's episodes, else the feed's own. */
  readonly cover: string | null;
  /** The latest of: its events still in the stream (as recorded), its latest play and its subscription (as dated by the device). */
  readonly lastActivity: string | null;
}

export interface ListeningView {
  readonly feed: string;
  readonly guid: string;
  readonly feedTitle: string | null;
  readonly title: string | null;
  readonly position: number;
  readonly duration: number | null;
  readonly cover: string | null;
  readonly played: boolean;
  readonly updatedAt: string;
}

export interface PlaylistView {
  readonly id: string;
  readonly name: string;
  readonly items: readonly { readonly feed: string; readonly guid: string; readonly title: string | null; readonly feedTitle: string | null }[];
}

export interface DeviceView {
  readonly id: string;
  readonly caption: string;
  readonly type: string | null;
  /** When the server last recorded an event from this device, among the events retention keeps. */
  readonly lastSync: string | null;
  /** When the device was created (gpodder devices; null for a device known by its events only). */
  readonly createdAt: string | null;
}

export interface Overview {
  readonly subscriptions: SubscriptionView[];
  readonly recent: ListeningView[];
  readonly playlists: PlaylistView[];
  readonly devices: DeviceView[];
  /**
   * When the oldest event retention kept was recorded, once it has removed older ones (null while
   * the stream holds the whole history): what is known from events (a device's last sync) starts there.
   */
  readonly retainedFrom: string | null;
  readonly syncGroups: string[][];
  readonly privacy: PrivacyState;
}

/** An episode on a podcast's page, with the listener's play of it (null: never played). */
export interface EpisodeView {
  readonly guid: string;
  readonly title: string | null;
  readonly published: string | null;
  readonly duration: number | null;
  /** `guid`: the id the play was recorded under (the app's guid, or the media URL), which erasing it names. */
  readonly play: { readonly guid: string; readonly position: number; readonly played: boolean; readonly updatedAt: string } | null;
}

/** One podcast as the listener sees it: what its feed says, and how far they are through it. */
export interface PodcastView {
  readonly feed: string;
  readonly title: string | null;
  readonly author: string | null;
  readonly description: string | null;
  readonly link: string | null;
  readonly cover: string | null;
  readonly subscribed: boolean;
  /** When the feed was last fetched; null while it never was (its episodes are then not known). */
  readonly fetchedAt: string | null;
  /** The feed's episodes, newest first (at most {@link PODCAST_PAGE_EPISODES}), each with the listener's play. */
  readonly episodes: EpisodeView[];
  /** The listener's plays of the podcast's episodes the feed does not list (any more), latest first. */
  readonly otherPlays: EpisodeView[];
}

/** What a change of subscriptions made of the feeds it named. */
export interface SubscriptionChange {
  readonly subscribed: number;
  readonly unsubscribed: number;
  /** Feeds already as asked: nothing recorded for them. */
  readonly unchanged: number;
  /** Entries that are not http(s) URLs (as the gpodder API skips them). */
  readonly rejected: readonly string[];
}

/** What to erase: everything, a feed, or one episode of a feed (docs/design.md, "Erasure"). */
export type EraseScope = { readonly feed?: undefined } | { readonly feed: string; readonly guid?: string | undefined };

const RECENT = 20;
/** The newest episodes a podcast's page lists (a feed may list thousands). */
export const PODCAST_PAGE_EPISODES = 100;
const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const later = (a: string | undefined, b: string) => (a !== undefined && a > b ? a : b);

export class ListenerService {
  constructor(
    private readonly userEvents: UserEventService,
    private readonly readModels: ReadModelService,
  ) {}

  /**
   * The user's state folded from their stream, read in pages with other requests served between
   * them: a heavy user's stream (tens of thousands of events) read and folded at once held every
   * request a quarter of a second. `visit` sees each page's events as recorded.
   */
  private async fold(userId: string, visit: (page: readonly RecordedEvent[]) => void = () => undefined): Promise<UserState> {
    const folded = new StateFold();
    for await (const page of cutAfterStates(readStreamPages(this.userEvents.store, streams.user(userId)))) {
      folded.add(stateEventsOf(page));
      visit(page);
    }
    return folded.state;
  }

  async overview(userId: string): Promise<Overview> {
    const feedActivity = new Map<string, string>();
    const deviceSync = new Map<string, string>();
    let retainedFrom: string | null | undefined;
    const state = await this.fold(userId, (page) => {
      // A stream retention has cut starts with the checkpoint that says from when it holds events.
      retainedFrom ??= page[0]?.type === 'checkpoint' ? ((page[0].data['data'] as { retained_from?: string } | undefined)?.retained_from ?? null) : null;
      for (const event of page) {
        const at = event.recordedAt.toISOString();
        const data = event.data as { object?: { rss_source_feed?: unknown } | null; data?: { device?: unknown } };
        const feed = data.object?.rss_source_feed;
        if (typeof feed === 'string') feedActivity.set(feed, later(feedActivity.get(feed), at));
        const device = data.data?.device;
        if (typeof device === 'string') deviceSync.set(device, later(deviceSync.get(device), at));
      }
    });
    const statuses = Object.values(state.play_statuses).sort((a, b) => b.updated_at.localeCompare(a.updated_at));
    // A feed's last activity: its latest event still in the stream (when the server recorded it);
    // past retention's window, its latest play and its subscription (as the device dated them),
    // which checkpoints keep, so a long-held subscription never reads "never".
    for (const sub of Object.values(state.subscriptions)) {
      if (sub.subscribed_at !== null) feedActivity.set(sub.rss_source_feed, later(feedActivity.get(sub.rss_source_feed), sub.subscribed_at));
    }
    const covers = new Map<string, string>();
    for (const status of statuses) {
      feedActivity.set(status.rss_source_feed, later(feedActivity.get(status.rss_source_feed), status.updated_at));
      const src = status.rss_enclosure?.cover?.src;
      if (src !== undefined && !covers.has(status.rss_source_feed)) covers.set(status.rss_source_feed, src);
    }
    // What a client sent wins; the feed fills what it did not (docs/design.md, "Feeds").
    const metadata = new PodcastMetadata(this.readModels.readModel);
    const recentStatuses = statuses.slice(0, RECENT);
    const livePlaylists = Object.values(state.playlists).filter((playlist) => playlist.deleted_at === null);
    const itemsOf = (playlist: (typeof livePlaylists)[number]) =>
      Object.values(playlist.items)
        .filter((item) => item.deleted_at === null)
        .sort((a, b) => a.created_at.localeCompare(b.created_at));
    const subscribed = Object.values(state.subscriptions).filter(isSubscribed);
    const [podcasts, episodes] = await Promise.all([
      metadata.podcasts([
        ...subscribed.map((sub) => sub.rss_source_feed),
        ...recentStatuses.map((status) => status.rss_source_feed),
        ...livePlaylists.flatMap((playlist) => itemsOf(playlist).map((item) => item.rss_source_feed)),
      ]),
      metadata.episodes([
        ...recentStatuses.map((status) => [status.rss_source_feed, status.rss_source_id] as const),
        ...livePlaylists.flatMap((playlist) => itemsOf(playlist).map((item) => [item.rss_source_feed, item.rss_source_id] as const)),
      ]),
    ]);
    // A title one event carried names the podcast or episode everywhere on the page: the
    // subscription's for the podcast, the play status's for the episode, else the feed's.
    const feedTitle = (feed: string) => recordAt(state.subscriptions, feed)?.rss_feed_title ?? text(podcasts.get(feed)?.['title']);
    const playedTitle = (feed: string, guid: string) => recordAt(state.play_statuses, episodeKey(feed, guid))?.rss_item_title ?? null;
    const feedCover = (feed: string) => text((podcasts.get(feed)?.['cover'] as { src?: unknown } | null | undefined)?.src);
    const episode = (feed: string, guid: string) => episodes.get(episodeDocKey(feed, guid));
    const subscriptions = subscribed
      .map((sub) => ({
        feed: sub.rss_source_feed,
        title: feedTitle(sub.rss_source_feed),
        cover: covers.get(sub.rss_source_feed) ?? feedCover(sub.rss_source_feed),
        lastActivity: feedActivity.get(sub.rss_source_feed) ?? null,
      }))
      .sort((a, b) => (b.lastActivity ?? '').localeCompare(a.lastActivity ?? ''));
    const recent = recentStatuses.map((status) => {
      const listed = episode(status.rss_source_feed, status.rss_source_id);
      const duration = listed?.['duration'];
      return {
        feed: status.rss_source_feed,
        guid: status.rss_source_id,
        feedTitle: status.rss_feed_title ?? feedTitle(status.rss_source_feed),
        title: status.rss_item_title ?? text(listed?.['title']),
        position: status.position,
        duration: status.rss_enclosure?.duration ?? (typeof duration === 'number' ? duration : null),
        cover: status.rss_enclosure?.cover?.src ?? feedCover(status.rss_source_feed),
        played: status.played,
        updatedAt: status.updated_at,
      };
    });
    const playlists = livePlaylists.map((playlist) => ({
      id: playlist.id,
      name: playlist.name,
      items: itemsOf(playlist).map((item) => ({
        feed: item.rss_source_feed,
        guid: item.rss_source_id,
        title: item.item_title ?? playedTitle(item.rss_source_feed, item.rss_source_id) ?? text(episode(item.rss_source_feed, item.rss_source_id)?.['title']),
        feedTitle: item.feed_title ?? feedTitle(item.rss_source_feed),
      })),
    }));
    // gpodder devices by their caption, plus the native API's devices, known by their events only.
    const devices = new Map<string, DeviceView>();
    for (const device of Object.values(state.devices))
      devices.set(device.id, {
        id: device.id,
        caption: device.caption,
        type: device.type,
        lastSync: deviceSync.get(device.id) ?? null,
        createdAt: device.created_at,
      });
    for (const [id, lastSync] of deviceSync) if (!devices.has(id)) devices.set(id, { id, caption: '', type: null, lastSync, createdAt: null });
    return {
      subscriptions,
      recent,
      playlists,
      devices: [...devices.values()],
      retainedFrom: retainedFrom ?? null,
      syncGroups: state.sync_groups,
      privacy: state.privacy,
    };
  }

  /**
   * One podcast's page: the feed's facts and newest episodes (the `podcasts` read model, as
   * `GET /v1/podcasts` answers), each with the listener's play of it, and their plays of episodes
   * the feed no longer lists. A play names its episode by the guid its app sent, else by the
   * media URL (gpodder clients), so either finds it in the feed. Titles an app sent win, as on the
   * home page.
   */
  async podcast(userId: string, feed: string): Promise<PodcastView> {
    const key = feedKey(feed);
    const [state, doc, listed] = await Promise.all([
      this.fold(userId),
      this.readModels.readModel.get(PODCASTS, key),
      this.readModels.readModel.find(PODCAST_EPISODES, {
        where: { feed_key: key },
        orderBy: [{ field: 'published', direction: 'desc' }],
        limit: PODCAST_PAGE_EPISODES,
      }),
    ]);
    const fetchedAt = doc ? text(doc['fetched_at']) : null;
    const plays = Object.values(state.play_statuses)
      .filter((status) => status.rss_source_feed === feed)
      .sort((a, b) => b.updated_at.localeCompare(a.updated_at));
    const byIdentity = new Map<string, PlayStatusState>();
    for (const status of plays) {
      for (const identity of [status.rss_source_id, status.rss_enclosure?.url]) if (identity && !byIdentity.has(identity)) byIdentity.set(identity, status);
    }
    const playOf = (status: PlayStatusState | undefined) =>
      status ? { guid: status.rss_source_id, position: status.position, played: status.played, updatedAt: status.updated_at } : null;
    const shown = new Set<PlayStatusState>();
    const episodes = (fetchedAt === null ? [] : listed).map(({ doc: episode }) => {
      const url = text(episode['url']);
      const status = byIdentity.get(String(episode['guid'])) ?? (url === null ? undefined : byIdentity.get(url));
      if (status) shown.add(status);
      const duration = episode['duration'];
      return {
        guid: String(episode['guid']),
        title: status?.rss_item_title ?? text(episode['title']),
        published: text(episode['published']),
        duration: status?.rss_enclosure?.duration ?? (typeof duration === 'number' ? duration : null),
        play: playOf(status),
      };
    });
    const otherPlays = plays
      .filter((status) => !shown.has(status))
      .map((status) => ({
        guid: status.rss_source_id,
        title: status.rss_item_title,
        published: null,
        duration: status.rss_enclosure?.duration ?? null,
        play: playOf(status),
      }));
    const subscription = recordAt(state.subscriptions, feed);
    const cover = plays.find((status) => status.rss_enclosure?.cover?.src)?.rss_enclosure?.cover?.src;
    return {
      feed,
      title: subscription?.rss_feed_title ?? plays.find((status) => status.rss_feed_title)?.rss_feed_title ?? text(doc?.['title']),
      author: text(doc?.['author']),
      description: text(doc?.['description']),
      link: text(doc?.['link']),
      cover: cover ?? text((doc?.['cover'] as { src?: unknown } | null | undefined)?.src),
      subscribed: subscription !== undefined && isSubscribed(subscription),
      fetchedAt,
      episodes,
      otherPlays,
    };
  }

  /**
   * Sets the account's privacy (feed null) or one feed's; `privacy` null takes the choice back (the
   * feed follows the account's again, the account the server's default). The public timeline follows.
   */
  async setPrivacy(principal: Principal, feed: string | null, privacy: Privacy | null): Promise<void> {
    const timestamp = new Date().toISOString();
    await this.userEvents.appendActions(principal, [
      { type: 'privacy', timestamp, object: feed === null ? null : { rss_source_feed: feed }, data: { privacy } },
    ]);
    await this.readModels.catchUpWithUser(principal.userId, [PUBLIC_EVENTS]);
  }

  /**
   * Subscribes to `add` and unsubscribes from `remove` on every device (the home page's forms,
   * an OPML file's import), by the decision of a Nextcloud upload, which names no device: a feed
   * already subscribed, or not, as asked records nothing (src/domain/gpodder-commands.ts).
   */
  async changeSubscriptions(principal: Principal, add: readonly string[], remove: readonly string[] = []): Promise<SubscriptionChange> {
    const changes = sanitizeChanges(add, remove);
    const events = await this.decideGpodder(principal, (state, ctx) => decideSubscriptionUpload(state, { device: undefined, changes }, ctx));
    const subscribed = events.filter((event) => event.type === 'subscribe').length;
    const unsubscribed = events.length - subscribed;
    return {
      subscribed,
      unsubscribed,
      unchanged: changes.add.length + changes.remove.length - events.length,
      rejected: changes.updateUrls.filter(([, used]) => used === '').map(([sent]) => sent),
    };
  }

  /** Forgets one of the account's gpodder devices; whether it had one by that id. */
  async forgetDevice(principal: Principal, device: string): Promise<boolean> {
    const events = await this.decideGpodder(principal, (state, ctx) => decideForgetDevice(state, device, ctx));
    return events.length > 0;
  }

  /** Appends what a gpodder decision (src/domain/gpodder-commands.ts) makes of the user's state, through the one write path; the events decided. */
  private async decideGpodder(principal: Principal, decide: (state: UserState, ctx: GpodderContext) => UserEvent[]): Promise<readonly UserEvent[]> {
    const ctx = { user: principal.userId, newId: newEventId, now: new Date().toISOString() };
    const { events } = await handleCommand(this.userEvents, principal, (user) => ({ events: decide(user.state, ctx), result: undefined }));
    return events;
  }

  /** Erases listening data for real (docs/design.md, "Erasure"): a `remove` action, carried out at once. */
  async erase(principal: Principal, scope: EraseScope): Promise<void> {
    const object = scope.feed === undefined ? null : { rss_source_feed: scope.feed, ...(scope.guid !== undefined ? { rss_source_id: scope.guid } : {}) };
    await this.userEvents.appendActions(principal, [{ type: 'remove', timestamp: new Date().toISOString(), object, data: {} }]);
  }
}
