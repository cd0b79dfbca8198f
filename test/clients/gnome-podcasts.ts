/**
 * A replica of GNOME Podcasts's sync (the GNOME app, Rust; it syncs through the Nextcloud gPodder
 * Sync API only), request for request, read from its source (gitlab.gnome.org/World/podcasts,
 * mirrored as alatiera/gnome-podcasts, commit 55e2e0e8, August 2026) rather than from API
 * documentation:
 *
 * - podcasts-data/src/nextcloud_sync/login.rs: two ways to connect. "Log in with browser": Login
 *   Flow v2, `POST {server}/index.php/login/v2` without a body (any status: the body must read as
 *   `{poll: {token, endpoint}, login}`), the login URL opened, then `POST poll.endpoint` with the
 *   form `token=…` in a loop without pause for 20 minutes (404 and other statuses: poll again; a
 *   200 must read as `{server, loginName, appPassword}`, all strings); the answer's `server` is
 *   what it keeps. "Log in" with a password: `GET {server}/ocs/v2.php/core/getapppassword` with
 *   Basic and `OCS-APIRequest: true`; a 403 means the password already is an app password (kept
 *   as it is), any other answer is read as XML for the text of an `<apppassword>` element (none:
 *   the login fails). Logout: `DELETE /ocs/v2.php/core/apppassword` (Basic, `OCS-APIRequest`),
 *   whose failure is only logged; the settings go either way.
 * - nextcloud_sync/mod.rs `sync_for_login`: `now` is the device's clock at the start. A first
 *   sync (no `last_sync`) builds its post from the local database, downloads everything (no
 *   `since`), drops the subscriptions the download added and the plays the server has at the
 *   same or a later position, and uploads the rest; a later one downloads `since=last_sync`,
 *   applies it, and uploads the deltas. Then the deltas up to `now` are deleted and `last_sync`
 *   becomes `now` in unix seconds (models/sync/mod.rs `delete_deltas`): its next `since` is its
 *   own clock, never an answer's `timestamp` (which it never reads).
 * - nextcloud_sync/download.rs: `GET /index.php/apps/gpoddersync/subscriptions[?since=]` (404:
 *   `NoSubscriptionApi`; any other status: the body is parsed); removals and additions applied
 *   unless the local delta of that feed is newer than the answer's `timestamp`; added feeds
 *   fetched. `GET …/episode_action[?since=]` (the body parsed whatever the status); each action
 *   applied to every local episode whose guid equals the action's (`None == None` included) or
 *   whose media URL is its `episode`, the podcast not compared; a play skipped when the episode
 *   has a local delta newer than the action and the play is not a finish; a play sets the
 *   position, and a finish (`finished_play`) marks played at the action's time. An action
 *   matching no local episode fails the sync with `CancelOnMissingEpisodes`.
 * - nextcloud_sync/data.rs: how answers are read (serde, reqwest's `json()`): the subscription
 *   answer needs `add` and `remove` (strings) and an integer `timestamp`; the episode answer
 *   `actions` and an integer `timestamp`; an action needs `podcast`, `episode` (strings),
 *   `action` (any case of download, delete, play, new, flattr), `timestamp` (`%Y-%m-%dT%H:%M:%S`
 *   read as UTC, else RFC 3339 with a zone), and `started`, `position`, `total` as 32-bit
 *   integers, all three, for every action; `guid` may be absent or null. One unreadable action
 *   fails the whole sync. Uploads: action in upper case, timestamp without a zone, -1 for the
 *   numbers of a download or delete; a POST fails unless answered 200. User-Agent
 *   `Gnome Podcasts - Nextcloud Sync` (lib.rs), Basic (UTF-8) on every request, a new reqwest
 *   client each time (no cookies).
 * - nextcloud_sync/upload.rs: the initial post (every feed; per episode a download if the file is
 *   there, a play at the duration if played, a play at the position if not 0), the delta post
 *   (local plays dropped when the download holds a newer action of that episode), what a delta
 *   becomes (a finish: a play at the duration, 0 of 0 when unknown).
 * - models/sync/{episode,show,settings}.rs: deltas stored only after a first sync, keyed by
 *   episode and kind (a new play replaces the position and time, keeps the start) and by feed;
 *   times in unix seconds of the device's clock.
 * - podcasts-gtk (player.rs, utils.rs, show_menu.rs, app.rs, sync_preferences.rs): what stores
 *   a delta (a pause or an episode change: a play from where it was restored; the end of the
 *   stream: position 0, a finish, marked played; subscribing and unsubscribing), that marking
 *   played or unplayed from a menu stores none, the quick sync after each
 *   (`CancelOnMissingEpisodes`, falling back to a refresh of every feed and a sync with
 *   `IgnoreMissingEpisodes`), "Synchronize now" (every feed refreshed, then
 *   `IgnoreMissingEpisodes`), the first sync after a login (`IgnoreMissingEpisodes`).
 *
 * Not replicated: feed fetching (a catalog stands for the feeds, read when a feed is refreshed),
 * feeds moved by a permanent redirect (the `Moved` delta and the resent actions), the player (a
 * test says where playback stopped), downloads of media files (a test says which are on disk),
 * the keyring, the GTK main loop (each step is awaited in order), concurrent syncs. The browser
 * login polls without pause in the app; here a pause can be given, so as not to spin the test's
 * two cores.
 */
import type { Exchange } from './okhttp.js';

export const GNOME_PODCASTS_USER_AGENT = 'Gnome Podcasts - Nextcloud Sync';
const API = '/index.php/apps/gpoddersync';
const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

// ---- errors ------------------------------------------------------------------------------------

/** `SyncError`'s variants (data.rs), and `anyhow` failures of the login (`Login`). */
export type GnomeErrorKind = 'UrlParseError' | 'RequestError' | 'UnexpectedResponse' | 'DownloadedUpdateForEpisodeNotInDb' | 'NoSubscriptionApi' | 'Login';

export class GnomeSyncError extends Error {
  override readonly name = 'GnomeSyncError';
  constructor(
    readonly kind: GnomeErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(`${kind}: ${message}`);
  }
}

// ---- serde_json and chrono ------------------------------------------------------------------------

/**
 * `JSON.parse`, except that a number written with a fraction or an exponent becomes an object:
 * serde_json gives such a number to an integer field as a float, which it refuses, while it
 * ignores it in a field the struct does not have (as it ignores any unknown field).
 */
export function parseSerdeJson(text: string): unknown {
  let out = '';
  for (let i = 0; i < text.length;) {
    const char = text[i]!;
    if (char === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      out += text.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    const number = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if ((char === '-' || (char >= '0' && char <= '9')) && number) {
      out += number[1] !== undefined || number[2] !== undefined ? `{"$float":${number[0]}}` : number[0];
      i += number[0].length;
      continue;
    }
    out += char;
    i++;
  }
  try {
    return JSON.parse(out) as unknown;
  } catch (error) {
    throw new GnomeSyncError('RequestError', `error decoding response body: ${(error as Error).message}`);
  }
}

const decodeError = (message: string) => new GnomeSyncError('RequestError', `error decoding response body: ${message}`);
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function struct(value: unknown, name: string): Record<string, unknown> {
  if (!isObject(value) || '$float' in value) throw decodeError(`invalid type: expected struct ${name}`);
  return value;
}

function stringField(raw: Record<string, unknown>, field: string): string {
  if (!(field in raw)) throw decodeError(`missing field \`${field}\``);
  const value = raw[field];
  if (typeof value !== 'string') throw decodeError(`invalid type: ${JSON.stringify(value)}, expected a string (\`${field}\`)`);
  return value;
}

function integerField(raw: Record<string, unknown>, field: string, min: number, max: number): number {
  if (!(field in raw)) throw decodeError(`missing field \`${field}\``);
  const value = raw[field];
  if (typeof value !== 'number' || !Number.isInteger(value)) throw decodeError(`invalid type: ${JSON.stringify(value)}, expected an integer (\`${field}\`)`);
  if (value < min || value > max) throw decodeError(`invalid value: integer \`${value}\`, out of range (\`${field}\`)`);
  return value;
}

function stringList(raw: Record<string, unknown>, field: string): string[] {
  if (!(field in raw)) throw decodeError(`missing field \`${field}\``);
  const value = raw[field];
  if (!Array.isArray(value)) throw decodeError(`invalid type: expected a sequence (\`${field}\`)`);
  return value.map((item) => {
    if (typeof item !== 'string') throw decodeError(`invalid type: ${JSON.stringify(item)}, expected a string (\`${field}\`)`);
    return item;
  });
}

const validDate = (y: number, m: number, d: number, h: number, mi: number, s: number) => {
  const date = new Date(Date.UTC(y, m - 1, d, h, mi, Math.min(s, 59)));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d && h < 24 && mi < 60 && s <= 60;
};

/**
 * data.rs `from_iso`: `NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")` read as UTC,
 * else `DateTime::parse_from_rfc3339` (a zone required); epoch ms, or undefined when neither
 * reads it (fraction without a zone, a space, a missing second, trailing text).
 */
export function parseChronoTimestamp(text: string): number | undefined {
  const naive = /^([+-]?\d{4,})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})$/.exec(text);
  if (naive) {
    const [y, m, d, h, mi, s] = naive.slice(1).map(Number) as [number, number, number, number, number, number];
    if (validDate(y, m, d, h, mi, s)) return Date.UTC(y, m - 1, d, h, mi, Math.min(s, 59));
  }
  const rfc = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(text);
  if (!rfc) return undefined;
  const [y, m, d, h, mi, s] = rfc.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (!validDate(y, m, d, h, mi, s)) return undefined;
  const zone = rfc[8]!.toUpperCase();
  const offsetMin = zone === 'Z' ? 0 : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  return Date.UTC(y, m - 1, d, h, mi, Math.min(s, 59)) + Math.floor(Number(`0${rfc[7] ?? ''}`) * 1000) - offsetMin * MINUTE_MS;
}

/** data.rs `to_iso`: `%Y-%m-%dT%H:%M:%S` of UTC, no zone (sub-seconds dropped). */
export const chronoIso = (ms: number) => new Date(ms).toISOString().slice(0, 19);
const MINUTE_MS = 60_000;
const seconds = (ms: number) => Math.floor(ms / 1000);

// ---- the wire --------------------------------------------------------------------------------------

export const GNOME_ACTIONS = ['DOWNLOAD', 'DELETE', 'PLAY', 'NEW', 'FLATTR'] as const;
export type GnomeAction = (typeof GNOME_ACTIONS)[number];

/** data.rs `EpisodeAction`, as read or to be written. */
export interface GnomeEpisodeAction {
  readonly podcast: string;
  readonly episode: string;
  readonly guid: string | undefined;
  readonly action: GnomeAction;
  /** Epoch ms (whole seconds when read from the naive form). */
  readonly timestamp: number;
  readonly started: number;
  readonly position: number;
  readonly total: number;
}

export interface SubscriptionGet {
  readonly add: string[];
  readonly remove: string[];
  readonly timestamp: number;
}

export interface EpisodeGet {
  readonly actions: GnomeEpisodeAction[];
  readonly timestamp: number;
}

/** serde's `SubscriptionGet`. */
export function parseSubscriptionGet(text: string): SubscriptionGet {
  const raw = struct(parseSerdeJson(text), 'SubscriptionGet');
  return { add: stringList(raw, 'add'), remove: stringList(raw, 'remove'), timestamp: integerField(raw, 'timestamp', -(2 ** 63), 2 ** 63) };
}

/** serde's `EpisodeAction` (data.rs): every field but `guid` required. */
export function parseGnomeAction(value: unknown): GnomeEpisodeAction {
  const raw = struct(value, 'EpisodeAction');
  const podcast = stringField(raw, 'podcast');
  const episode = stringField(raw, 'episode');
  const guid = raw['guid'];
  if (guid !== undefined && guid !== null && typeof guid !== 'string') throw decodeError(`invalid type: ${JSON.stringify(guid)}, expected a string (\`guid\`)`);
  const tag = stringField(raw, 'action').toUpperCase();
  const action = GNOME_ACTIONS.find((kind) => kind === tag);
  if (action === undefined) throw decodeError('failed to deserialize gpodder-Action');
  const timestampText = stringField(raw, 'timestamp');
  const timestamp = parseChronoTimestamp(timestampText);
  if (timestamp === undefined) throw decodeError(`input contains invalid characters (\`timestamp\`: ${JSON.stringify(timestampText)})`);
  return {
    podcast,
    episode,
    guid: typeof guid === 'string' ? guid : undefined,
    action,
    timestamp,
    started: integerField(raw, 'started', I32_MIN, I32_MAX),
    position: integerField(raw, 'position', I32_MIN, I32_MAX),
    total: integerField(raw, 'total', I32_MIN, I32_MAX),
  };
}

/** serde's `EpisodeGet`. */
export function parseEpisodeGet(text: string): EpisodeGet {
  const raw = struct(parseSerdeJson(text), 'EpisodeGet');
  if (!('actions' in raw)) throw decodeError('missing field `actions`');
  if (!Array.isArray(raw['actions'])) throw decodeError('invalid type: expected a sequence (`actions`)');
  const actions = raw['actions'].map(parseGnomeAction);
  return { actions, timestamp: integerField(raw, 'timestamp', -(2 ** 63), 2 ** 63) };
}

/** data.rs `finished_play`, as written (its "5 %" compares against twenty times the total). */
export function finishedPlay(action: Pick<GnomeEpisodeAction, 'position' | 'total'>): boolean {
  const diff = action.total - action.position;
  if (action.total < 420) return diff < 35;
  return action.total - action.position < 90 || action.position > action.total / 0.05;
}

/** data.rs `already_on_server`: a local play the server has at the same or a later position. */
function alreadyOnServer(action: GnomeEpisodeAction, server: EpisodeGet): boolean {
  return action.action === 'PLAY' && server.actions.some((other) => isSameEpisode(action, other) && action.position <= other.position);
}

function isSameEpisode(action: GnomeEpisodeAction, other: GnomeEpisodeAction): boolean {
  return (action.episode !== '' && action.episode === other.episode) || (action.guid !== undefined && action.guid === other.guid);
}

/** How serde writes an action: fields in declaration order, `guid` null when unknown. */
const wire = (action: GnomeEpisodeAction) => ({
  podcast: action.podcast,
  episode: action.episode,
  guid: action.guid ?? null,
  action: action.action,
  timestamp: chronoIso(action.timestamp),
  started: action.started,
  position: action.position,
  total: action.total,
});

// ---- reqwest ----------------------------------------------------------------------------------------

export interface ReqwestResponse {
  readonly status: number;
  readonly body: string;
}

/** A reqwest `Client` as `client_builder()` makes one: its User-Agent, no cookie store, redirects followed. */
export class ReqwestClient {
  readonly log: Exchange[] = [];
  private readonly interludes: { when: (method: string, url: URL) => boolean; run: () => Promise<unknown> }[] = [];

  /** Before the next request matching `when` is sent, `run` runs (another app syncing, say). */
  beforeNext(when: (method: string, url: URL) => boolean, run: () => Promise<unknown>): void {
    this.interludes.push({ when, run });
  }

  async send(
    method: 'GET' | 'POST' | 'DELETE',
    url: URL,
    options: { basic?: { user: string; password: string }; headers?: Record<string, string>; json?: unknown; form?: Record<string, string> } = {},
  ): Promise<ReqwestResponse> {
    const interlude = this.interludes.findIndex((entry) => entry.when(method, url));
    if (interlude >= 0) await this.interludes.splice(interlude, 1)[0]!.run();
    const headers: Record<string, string> = { 'user-agent': GNOME_PODCASTS_USER_AGENT, accept: '*/*', ...options.headers };
    // RequestBuilder::basic_auth: `user:password` in UTF-8, base64.
    if (options.basic) headers['authorization'] = `Basic ${Buffer.from(`${options.basic.user}:${options.basic.password}`, 'utf8').toString('base64')}`;
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    } else if (options.form !== undefined) {
      body = new URLSearchParams(options.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body, redirect: 'follow' });
    } catch (error) {
      throw new GnomeSyncError('RequestError', `error sending request for url (${url.href}): ${(error as Error).message}`);
    }
    const text = await response.text();
    this.log.push({ method, url: url.href, requestHeaders: headers, requestBody: body, status: response.status, responseBody: text });
    return { status: response.status, body: text };
  }
}

/** data.rs `parse_url_without_scheme`: as given, else with `https://` before it. */
export function parseUrlWithoutScheme(text: string): URL {
  try {
    return new URL(text);
  } catch {
    try {
      return new URL(`https://${text}`);
    } catch {
      throw new GnomeSyncError('UrlParseError', `Url parse error: ${text}`);
    }
  }
}

// ---- the local database ------------------------------------------------------------------------------

export interface GnomeCatalogEpisode {
  readonly guid?: string | undefined;
  /** The enclosure's URL (`Episode.uri`). */
  readonly url?: string | undefined;
  /** Seconds; undefined when the feed gives none. */
  readonly durationSeconds?: number | undefined;
}
/** The feeds as their servers publish them; read each time a feed is refreshed. */
export type GnomeCatalog = ReadonlyMap<string, readonly GnomeCatalogEpisode[]>;

/** The `episodes` table's columns the sync uses. */
export interface LocalEpisode {
  readonly id: number;
  readonly feed: string;
  readonly guid: string | undefined;
  readonly uri: string | undefined;
  readonly duration: number | undefined;
  /** `played`: epoch ms (a NaiveDateTime in UTC), undefined for unplayed. */
  played: number | undefined;
  /** `play_position`, seconds. */
  playPosition: number;
  localUri: string | undefined;
}

type EpisodeDeltaKind = 'P' | 'F' | 'D' | 'R';
/** `episodes_sync`. */
interface EpisodeDelta {
  readonly epId: number;
  readonly action: EpisodeDeltaKind;
  timestamp: number;
  readonly start: number | undefined;
  position: number | undefined;
}

/** `shows_sync` (no `Moved` here: feed redirects are not replicated). */
interface ShowDelta {
  readonly uri: string;
  action: 'A' | 'R';
  timestamp: number;
}

/** `settings_sync`, and the keyring's password. */
export interface SyncSettings {
  readonly server: string;
  readonly user: string;
  active: boolean;
  /** Unix seconds of the device's clock at the start of the last sync that completed. */
  lastSync: number | undefined;
}

export type SyncPolicy = 'IgnoreMissingEpisodes' | 'CancelOnMissingEpisodes';

export type SyncResult =
  { readonly kind: 'Skipped' } | { readonly kind: 'Done'; readonly episodeUpdatesDownloaded: number; readonly subscriptionUpdatesDownloaded: number };

interface Login {
  readonly server: URL;
  readonly user: string;
  readonly password: string;
}

// ---- the app -------------------------------------------------------------------------------------------

export class GnomePodcasts {
  readonly http = new ReqwestClient();
  settings: SyncSettings | undefined;
  private password: string | undefined;
  private readonly catalog: GnomeCatalog;
  private readonly clock: () => number;
  private nextId = 1;
  /** Subscribed feeds (`source` joined with `shows`), in the order they were added. */
  private readonly shows = new Set<string>();
  private readonly episodes = new Map<number, LocalEpisode>();
  private readonly episodeDeltas = new Map<string, EpisodeDelta>();
  private readonly showDeltas = new Map<string, ShowDelta>();
  /** Errors the app only logs (`error!`), newest last. */
  readonly logged: string[] = [];

  /** `clock`: the device's clock (epoch ms); the machine's by default. */
  constructor(options: { catalog: GnomeCatalog; clock?: () => number }) {
    this.catalog = options.catalog;
    this.clock = options.clock ?? (() => Date.now());
  }

  get feeds(): string[] {
    return [...this.shows];
  }

  episode(feed: string, guid: string): LocalEpisode | undefined {
    return [...this.episodes.values()].find((episode) => episode.feed === feed && episode.guid === guid);
  }

  /** The deltas waiting for upload, as `kind feed guid`. */
  get pendingDeltas(): string[] {
    const shows = [...this.showDeltas.values()].map((delta) => `${delta.action} ${delta.uri}`);
    const episodes = [...this.episodeDeltas.values()].map((delta) => {
      const episode = this.episodes.get(delta.epId);
      return `${delta.action} ${episode?.feed ?? '?'} ${episode?.guid ?? episode?.uri ?? delta.epId}`;
    });
    return [...shows, ...episodes];
  }

  private didFirstSync(): boolean {
    return this.settings?.lastSync !== undefined;
  }

  // ---- feeds (FEED_MANAGER.refresh: the catalog stands for the feed) ----

  /** A feed fetched and indexed: its show created, new episodes added; false when the feed cannot be fetched. */
  private refreshFeed(feed: string): boolean {
    const published = this.catalog.get(feed);
    if (!published) {
      this.logged.push(`failed to refresh ${feed}`);
      return false;
    }
    this.shows.add(feed);
    for (const item of published) {
      const known = [...this.episodes.values()].some(
        (episode) => episode.feed === feed && (item.guid !== undefined ? episode.guid === item.guid : episode.uri === item.url),
      );
      if (known) continue;
      const id = this.nextId++;
      this.episodes.set(id, {
        id,
        feed,
        guid: item.guid,
        uri: item.url,
        duration: item.durationSeconds,
        played: undefined,
        playPosition: 0,
        localUri: undefined,
      });
    }
    return true;
  }

  /** `FEED_MANAGER.full_refresh()`: every subscribed feed fetched again. */
  fullRefresh(): void {
    for (const feed of this.shows) this.refreshFeed(feed);
  }

  private removeFeed(feed: string): void {
    if (!this.shows.delete(feed)) throw new Error(`NotFound: ${feed}`);
    for (const [id, episode] of this.episodes) if (episode.feed === feed) this.episodes.delete(id);
  }

  // ---- what the user does (podcasts-gtk); each is followed by a quick sync in the app ----

  /** utils.rs `subscribe`: the feed fetched, then an `Added` delta. */
  subscribe(feed: string): void {
    if (!this.refreshFeed(feed)) return;
    this.storeShowDelta(feed, 'A');
  }

  /** show_menu.rs: a `Removed` delta, then the show and its episodes deleted. */
  unsubscribe(feed: string): void {
    if (!this.shows.has(feed)) return;
    this.storeShowDelta(feed, 'R');
    this.removeFeed(feed);
  }

  /** player.rs `store_position_and_sync` (a pause, another episode): a play from where playback was restored. */
  play(feed: string, guid: string, toSecond: number): void {
    const episode = this.mustFind(feed, guid);
    this.storeEpisodeDelta(episode.id, 'P', [episode.playPosition, toSecond]);
    episode.playPosition = toSecond;
  }

  /** player.rs `connect_end_of_stream`: position 0, a `Finished` delta, marked played now. */
  finish(feed: string, guid: string): void {
    const episode = this.mustFind(feed, guid);
    episode.playPosition = 0;
    this.storeEpisodeDelta(episode.id, 'F', undefined);
    episode.played = this.clock();
  }

  /** The episode menu's "Mark as played" (app.rs `MarkAsPlayed`): no delta is stored. */
  markPlayed(feed: string, guid: string): void {
    this.mustFind(feed, guid).played = this.clock();
  }

  /** A media file on disk (no delta either: nothing stores `Downloaded`). */
  downloaded(feed: string, guid: string): void {
    this.mustFind(feed, guid).localUri = `/home/user/.local/share/gnome-podcasts/Downloads/${guid}.mp3`;
  }

  private mustFind(feed: string, guid: string): LocalEpisode {
    const episode = this.episode(feed, guid);
    if (!episode) throw new Error(`no episode ${guid} of ${feed} here`);
    return episode;
  }

  /** models/sync/show.rs `store_by_uri`. */
  private storeShowDelta(uri: string, action: 'A' | 'R'): void {
    if (!this.didFirstSync()) return;
    this.showDeltas.set(uri, { uri, action, timestamp: seconds(this.clock()) });
  }

  /** models/sync/episode.rs `store` and its upsert: a new one of a kind replaces position and time, keeps the start. */
  private storeEpisodeDelta(epId: number, action: EpisodeDeltaKind, times: [number, number] | undefined): void {
    if (!this.didFirstSync()) return;
    const key = `${epId}\n${action}`;
    const timestamp = seconds(this.clock());
    const known = this.episodeDeltas.get(key);
    if (known) {
      known.position = times?.[1];
      known.timestamp = timestamp;
    } else {
      this.episodeDeltas.set(key, { epId, action, timestamp, start: times?.[0], position: times?.[1] });
    }
  }

  // ---- connecting (login.rs, sync_preferences.rs) ----

  /**
   * "Log in with browser": Login Flow v2, `openBrowser` standing for the desktop's browser (the
   * app does not wait for it), then the first sync. `pollDelayMs`: a pause between polls, which
   * the app does not make.
   */
  async connectWithBrowser(
    server: string,
    openBrowser: (loginUrl: string) => unknown,
    options: { pollDelayMs?: number; timeoutMs?: number } = {},
  ): Promise<SyncResult> {
    const started = await this.http.send('POST', new URL('/index.php/login/v2', parseUrlWithoutScheme(server)));
    const flow = parseLoginFlow(started.body);
    const browser = Promise.resolve().then(() => openBrowser(flow.login));
    browser.catch(() => undefined);
    const endpoint = new URL(flow.poll.endpoint);
    const deadline = Date.now() + (options.timeoutMs ?? 20 * 60_000);
    while (Date.now() <= deadline) {
      let polled: ReqwestResponse | undefined;
      try {
        polled = await this.http.send('POST', endpoint, { form: { token: flow.poll.token } });
      } catch {
        polled = undefined;
      }
      if (polled?.status === 200) {
        const success = parseLoginSuccess(polled.body);
        await browser;
        return this.doFirstSync(success.server, success.loginName, success.appPassword);
      }
      if (polled !== undefined && polled.status !== 404) this.logged.push(`Unexpected response code during nextcloud login flow v2 ${polled.status}`);
      await new Promise((resolve) => setTimeout(resolve, options.pollDelayMs ?? 0));
    }
    throw new GnomeSyncError('Login', 'nextcloud login flow v2 failed, by expiring the 20min limit');
  }

  /** "Log in" with the server, username and password typed: `retrive_app_password`, then the first sync. */
  async connectWithPassword(server: string, user: string, password: string): Promise<SyncResult> {
    const url = new URL('/ocs/v2.php/core/getapppassword', parseUrlWithoutScheme(server));
    const response = await this.http.send('GET', url, { basic: { user, password }, headers: { 'OCS-APIRequest': 'true' } });
    const appPassword = response.status === 403 ? password : parseAppPasswordXml(response.body);
    return this.doFirstSync(server, user, appPassword);
  }

  /** sync_preferences.rs `do_first_sync`: settings stored (same server: `last_sync` kept), then a sync. */
  private async doFirstSync(server: string, user: string, appPassword: string): Promise<SyncResult> {
    this.password = appPassword;
    this.settings = { server, user, active: true, lastSync: this.settings?.server === server ? this.settings.lastSync : undefined };
    return this.sync('IgnoreMissingEpisodes');
  }

  /** "Log out": the app password deleted on the server (a failure only logged), the settings removed. */
  async logout(): Promise<boolean> {
    if (!this.settings || this.password === undefined) return false;
    let deleted = false;
    try {
      const url = new URL('/ocs/v2.php/core/apppassword', parseUrlWithoutScheme(this.settings.server));
      const response = await this.http.send('DELETE', url, {
        basic: { user: this.settings.user, password: this.password },
        headers: { 'OCS-APIRequest': 'true' },
      });
      deleted = response.status === 200;
      if (!deleted) this.logged.push('nextcloud: failed to remove app password during logout.');
    } catch (error) {
      this.logged.push(String(error));
    }
    this.settings = undefined;
    this.password = undefined;
    return deleted;
  }

  // ---- syncing (app.rs, sync_preferences.rs) ----

  /** Action::QuickSyncNextcloud: a sync that cancels on a missing episode, then every feed refreshed and a sync that does not. */
  async quickSync(): Promise<{ result: SyncResult; fullRefresh: boolean }> {
    try {
      return { result: await this.sync('CancelOnMissingEpisodes'), fullRefresh: false };
    } catch (error) {
      if (!(error instanceof GnomeSyncError) || error.kind !== 'DownloadedUpdateForEpisodeNotInDb') throw error;
      this.fullRefresh();
      return { result: await this.sync('IgnoreMissingEpisodes'), fullRefresh: true };
    }
  }

  /** "Synchronize now": every feed refreshed, then a sync that ignores missing episodes. */
  syncNow(): Promise<SyncResult> {
    this.fullRefresh();
    return this.sync('IgnoreMissingEpisodes');
  }

  /** nextcloud_sync/mod.rs `sync` and `sync_for_login`. */
  async sync(policy: SyncPolicy): Promise<SyncResult> {
    const settings = this.settings;
    if (!settings || this.password === undefined || !settings.active) return { kind: 'Skipped' };
    const login: Login = { server: parseUrlWithoutScheme(settings.server), user: settings.user, password: this.password };
    const now = this.clock();
    let subscriptions: { add: string[]; remove: string[] };
    let actions: GnomeEpisodeAction[];
    let downloaded: { subs: SubscriptionGet; eps: EpisodeGet };
    if (settings.lastSync !== undefined) {
      downloaded = await this.downloadChanges(login, settings.lastSync, policy);
      ({ subscriptions, actions } = this.makeDeltaPost(downloaded.eps));
    } else {
      const initial = this.makeInitialPost(now);
      downloaded = await this.downloadChanges(login, undefined, policy);
      subscriptions = {
        add: initial.subscriptions.add.filter((uri) => !downloaded.subs.add.includes(uri)),
        remove: initial.subscriptions.remove.filter((uri) => !downloaded.subs.remove.includes(uri)),
      };
      actions = initial.actions.filter((action) => !alreadyOnServer(action, downloaded.eps));
    }
    await this.uploadChanges(login, subscriptions, actions);
    // models/sync/mod.rs `delete_deltas(now)`.
    const nowS = seconds(now);
    for (const [key, delta] of this.episodeDeltas) if (delta.timestamp <= nowS) this.episodeDeltas.delete(key);
    for (const [key, delta] of this.showDeltas) if (delta.timestamp <= nowS) this.showDeltas.delete(key);
    settings.lastSync = nowS;
    return {
      kind: 'Done',
      episodeUpdatesDownloaded: downloaded.eps.actions.length,
      subscriptionUpdatesDownloaded: downloaded.subs.add.length + downloaded.subs.remove.length,
    };
  }

  // ---- download.rs ----

  private async downloadChanges(login: Login, lastSync: number | undefined, policy: SyncPolicy): Promise<{ subs: SubscriptionGet; eps: EpisodeGet }> {
    const subs = await this.fetch(login, 'subscriptions', lastSync, parseSubscriptionGet, true);
    this.updateSubscriptions(subs);
    const eps = await this.fetch(login, 'episode_action', lastSync, parseEpisodeGet, false);
    this.updateEpisodes(eps, policy);
    return { subs, eps };
  }

  private async fetch<T>(login: Login, path: string, lastSync: number | undefined, parse: (text: string) => T, notFoundIsNoApi: boolean): Promise<T> {
    const url = new URL(`${API}/${path}`, login.server);
    if (lastSync !== undefined) url.search = `since=${lastSync}`;
    const response = await this.http.send('GET', url, { basic: { user: login.user, password: login.password } });
    if (notFoundIsNoApi && response.status === 404)
      throw new GnomeSyncError('NoSubscriptionApi', 'API not found, GPodder Sync extension may not be active on the Nextcloud Server.', 404);
    return parse(response.body);
  }

  private updateSubscriptions(data: SubscriptionGet): void {
    const localNewer = (uri: string) => {
      const delta = this.showDeltas.get(uri);
      return delta !== undefined && delta.timestamp > data.timestamp;
    };
    for (const uri of data.remove) {
      if (localNewer(uri)) continue;
      try {
        this.removeFeed(uri);
      } catch (error) {
        this.logged.push(`failed to unsubscribe from ${uri}: ${String(error)}`);
      }
    }
    // The feed refresh and its two retries: the catalog answers the same each time.
    for (const uri of data.add) if (!localNewer(uri)) this.refreshFeed(uri);
  }

  private updateEpisodes(data: EpisodeGet, policy: SyncPolicy): void {
    const urls = new Set(data.actions.map((action) => action.episode));
    const guids = new Set(data.actions.flatMap((action) => (action.guid === undefined ? [] : [action.guid])));
    const localDeltas = [...this.episodeDeltas.values()];
    // Copies, saved together at the end (dbqueries::update_episodes): a failure saves none.
    const candidates = [...this.episodes.values()]
      .filter((episode) => (episode.uri !== undefined && urls.has(episode.uri)) || (episode.guid !== undefined && guids.has(episode.guid)))
      .map((episode) => ({ ...episode }));
    for (const action of data.actions) {
      const matched = candidates.filter((episode) => action.guid === episode.guid || (episode.uri !== undefined && action.episode === episode.uri));
      for (const episode of matched) {
        const local = localDeltas.find((delta) => delta.epId === episode.id);
        if (local && local.timestamp > seconds(action.timestamp) && action.action === 'PLAY' && !finishedPlay(action)) continue;
        if (action.action === 'PLAY') {
          episode.playPosition = action.position;
          if (finishedPlay(action)) episode.played = action.timestamp;
        }
      }
      if (matched.length === 0) {
        this.logged.push(`Sync: Episode not found locally, failed to update it. ACTION ${JSON.stringify(wire(action))}`);
        if (policy === 'CancelOnMissingEpisodes')
          throw new GnomeSyncError('DownloadedUpdateForEpisodeNotInDb', 'Downloaded update for episode that is not in db.');
      }
    }
    for (const episode of candidates) if (this.episodes.has(episode.id)) this.episodes.set(episode.id, episode);
  }

  // ---- upload.rs ----

  private async uploadChanges(login: Login, subscriptions: { add: string[]; remove: string[] }, actions: GnomeEpisodeAction[]): Promise<void> {
    if (subscriptions.add.length > 0 || subscriptions.remove.length > 0) await this.postJson(login, `${API}/subscription_change/create`, subscriptions);
    if (actions.length > 0) await this.postJson(login, `${API}/episode_action/create`, actions.map(wire));
  }

  private async postJson(login: Login, path: string, body: unknown): Promise<void> {
    const response = await this.http.send('POST', new URL(path, login.server), { basic: { user: login.user, password: login.password }, json: body });
    if (response.status !== 200) throw new GnomeSyncError('UnexpectedResponse', `Unexpected server response: ${response.status}`, response.status);
  }

  private makeInitialPost(now: number): { subscriptions: { add: string[]; remove: string[] }; actions: GnomeEpisodeAction[] } {
    const actions = [...this.episodes.values()].flatMap((episode) => actionsForEpisode(now, episode, this.shows.has(episode.feed) ? episode.feed : undefined));
    return { subscriptions: { add: [...this.shows], remove: [] }, actions };
  }

  private makeDeltaPost(downloaded: EpisodeGet): { subscriptions: { add: string[]; remove: string[] }; actions: GnomeEpisodeAction[] } {
    const actions: GnomeEpisodeAction[] = [];
    for (const delta of this.episodeDeltas.values()) {
      // The inner join with `episodes`: deltas of deleted episodes go unsent.
      const episode = this.episodes.get(delta.epId);
      if (!episode) continue;
      const episodeUri = episode.uri ?? '';
      const position = delta.position ?? 0;
      const newer = downloaded.actions.some(
        (remote) =>
          ((episodeUri !== '' && remote.episode === episodeUri) || (episode.guid !== undefined && remote.guid === episode.guid)) &&
          seconds(remote.timestamp) > delta.timestamp &&
          delta.action === 'P',
      );
      if (newer) continue;
      const common = { podcast: episode.feed, episode: episodeUri, guid: episode.guid, timestamp: delta.timestamp * 1000 };
      if (delta.action === 'P') actions.push({ ...common, action: 'PLAY', started: delta.start ?? 0, position, total: episode.duration ?? position });
      else if (delta.action === 'F')
        actions.push({ ...common, action: 'PLAY', started: delta.start ?? 0, position: episode.duration ?? 0, total: episode.duration ?? position });
      else actions.push({ ...common, action: delta.action === 'D' ? 'DOWNLOAD' : 'DELETE', started: -1, position: -1, total: -1 });
    }
    const shows = [...this.showDeltas.values()];
    return {
      subscriptions: {
        add: shows.filter((delta) => delta.action === 'A').map((delta) => delta.uri),
        remove: shows.filter((delta) => delta.action === 'R').map((delta) => delta.uri),
      },
      actions,
    };
  }
}

/** upload.rs `actions_for_ep`: what the initial post says of one episode. */
function actionsForEpisode(now: number, episode: LocalEpisode, showUri: string | undefined): GnomeEpisodeAction[] {
  if (showUri === undefined && episode.guid === undefined) return [];
  const common = { podcast: showUri ?? '', episode: episode.uri ?? '', guid: episode.guid, timestamp: now };
  const result: GnomeEpisodeAction[] = [];
  if (episode.localUri !== undefined) result.push({ ...common, action: 'DOWNLOAD', started: -1, position: -1, total: -1 });
  if (episode.played !== undefined) {
    const end = episode.duration ?? episode.playPosition;
    result.push({ ...common, action: 'PLAY', started: 0, position: end, total: end });
  }
  if (episode.playPosition !== 0) {
    result.push({ ...common, action: 'PLAY', started: 0, position: episode.playPosition, total: episode.duration ?? episode.playPosition });
  }
  return result;
}

// ---- login.rs's readers ----------------------------------------------------------------------------

function parseLoginFlow(text: string): { poll: { token: string; endpoint: string }; login: string } {
  const raw = struct(parseSerdeJson(text), 'LoginFlowV2');
  if (!('poll' in raw)) throw decodeError('missing field `poll`');
  const poll = struct(raw['poll'], 'LoginFlowV2Poll');
  return { poll: { token: stringField(poll, 'token'), endpoint: stringField(poll, 'endpoint') }, login: stringField(raw, 'login') };
}

function parseLoginSuccess(text: string): { server: string; loginName: string; appPassword: string } {
  try {
    const raw = struct(parseSerdeJson(text), 'LoginFlowV2Success');
    return { server: stringField(raw, 'server'), loginName: stringField(raw, 'loginName'), appPassword: stringField(raw, 'appPassword') };
  } catch (error) {
    throw new GnomeSyncError('Login', `Failed to parse nextcloud login flow v2 code 200 response ${(error as Error).message}`);
  }
}

/**
 * login.rs `parse_app_password_xml` with xml-rs: the first text inside an `<apppassword>`
 * element (any namespace prefix); the reader stops at the first error (text before the root
 * element, as a JSON or plain-text body has), and then nothing is found.
 */
export function parseAppPasswordXml(body: string): string {
  const text = body.replace(/^\uFEFF/, '');
  if (/^\s*</.test(text)) {
    const found = /<(?:[\w.-]+:)?apppassword(?:\s[^>]*)?>([^<]+)</.exec(text);
    if (found) return found[1]!;
  }
  throw new GnomeSyncError('Login', 'No apppassword found');
}
