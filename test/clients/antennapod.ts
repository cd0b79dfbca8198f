/**
 * A replica of AntennaPod's synchronisation, request for request, read from AntennaPod's
 * source (master b7ee12cc, July 2026) rather than from API documentation:
 *
 * - net/sync/service/SyncService.java: the worker's order (login, subscriptions, wait for the
 *   refresh of new feeds, episode actions, logout), the cursors, first-sync uploads;
 * - net/sync/service/EpisodeActionFilter.java, GuidValidator.java: which remote actions apply;
 * - net/sync/service/SynchronizationQueueStorage.java, SynchronizationQueueImpl.java: the
 *   local queue, stored as JSON and read back through EpisodeAction's parser (hence a PLAY
 *   with position 0 or total 0 is uploaded as -1/-1/-1), `enqueueEpisodePlayed`;
 * - net/sync/service-interface/EpisodeAction.java: what is written and what is read;
 * - net/sync/gpoddernet/GpodnetService.java, mapper/ResponseMapper.java, model/*: the
 *   gpodder.net provider (Basic only on login, then the `sessionid` cookie; batches of 30);
 * - net/sync/gpoddernet/nextcloud/NextcloudSyncService.java: the Nextcloud gPodder Sync
 *   provider (Basic with the app password on every request; batches of 30; after an upload,
 *   the next `since` is the phone's own clock);
 * - ui/preferences/…/GpodderAuthenticationFragment.java, NextcloudAuthenticationFragment.java:
 *   account set-up (device creation; clearing the queue and the cursors on connect).
 *
 * Not replicated: feed downloads (a test gives each device a catalog of feeds), permanent
 * redirect checks of feed URLs (no network: every feed URL is final), WorkManager's scheduling
 * (a test calls {@link AntennaPodDevice.sync}; a throw is what WorkManager would retry).
 */
import type { JsonObject } from './android-json.js';
import {
  JSONException,
  asArray,
  asObject,
  elementString,
  getInt,
  getJSONArray,
  getLong,
  getString,
  optInt,
  optString,
  parseArray,
  parseObject,
} from './android-json.js';
import { HttpClient, NetworkError, basicCredentials } from './okhttp.js';

export const ANTENNAPOD_USER_AGENT = 'AntennaPod/3.9.0';
export const UPLOAD_BULK_SIZE = 30;
/** UserPreferences.getSmartMarkAsPlayedSecs() default. */
const SMART_MARK_AS_PLAYED_SECS = 30;

// ---- EpisodeAction.java ---------------------------------------------------------------------

export type ActionName = 'NEW' | 'DOWNLOAD' | 'PLAY' | 'DELETE';
const ACTION_NAMES: readonly ActionName[] = ['NEW', 'DOWNLOAD', 'PLAY', 'DELETE'];

export interface EpisodeAction {
  readonly podcast: string;
  readonly episode: string;
  readonly guid: string | null;
  readonly action: ActionName;
  /** `java.util.Date` as epoch milliseconds, or null when absent or unparseable. */
  readonly timestamp: number | null;
  /** Seconds; -1 = unknown (and always -1 for anything but PLAY). */
  readonly started: number;
  readonly position: number;
  readonly total: number;
}

/** `new EpisodeAction.Builder(…)…build()`: started/position/total stay -1 unless the action is PLAY. */
export function buildAction(fields: {
  podcast: string;
  episode: string;
  action: ActionName;
  guid?: string | null;
  timestamp?: number | null;
  started?: number;
  position?: number;
  total?: number;
}): EpisodeAction {
  const play = fields.action === 'PLAY';
  return {
    podcast: fields.podcast,
    episode: fields.episode,
    guid: fields.guid ?? null,
    action: fields.action,
    timestamp: fields.timestamp ?? null,
    started: play && fields.started !== undefined ? fields.started : -1,
    position: play && fields.position !== undefined ? fields.position : -1,
    total: play && fields.total !== undefined ? fields.total : -1,
  };
}

/** Java's integer division of non-negative millis: `ms / 1000`. */
const seconds = (ms: number) => Math.trunc(ms / 1000);

/** SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss") in UTC, lenient, ignoring anything after the seconds. */
export function parseActionTimestamp(text: string): number | null {
  const match = /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)/.exec(text);
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

export function formatActionTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** EpisodeAction.readFromJsonObject: null when podcast, episode or action is missing or unknown. */
export function readEpisodeAction(object: JsonObject): EpisodeAction | null {
  const podcast = optString(object, 'podcast', null);
  const episode = optString(object, 'episode', null);
  const actionString = optString(object, 'action', null);
  if (!podcast || !episode || !actionString) return null;
  const action = ACTION_NAMES.find((name) => name === actionString.toUpperCase());
  if (action === undefined) return null;
  const utcTimestamp = optString(object, 'timestamp', null);
  const timestamp = utcTimestamp ? parseActionTimestamp(utcTimestamp) : null;
  const guid = optString(object, 'guid', null);
  let started = -1;
  let position = -1;
  let total = -1;
  if (action === 'PLAY') {
    const s = optInt(object, 'started', -1);
    const p = optInt(object, 'position', -1);
    const t = optInt(object, 'total', -1);
    if (s >= 0 && p > 0 && t > 0) {
      started = s;
      position = p;
      total = t;
    }
  }
  return { podcast, episode, guid: guid ? guid : null, action, timestamp, started, position, total };
}

/** EpisodeAction.writeToJsonObject: guid left out when null, action in lower case, PLAY always with its three numbers. */
export function writeEpisodeAction(action: EpisodeAction): JsonObject {
  if (action.timestamp === null) throw new Error('NullPointerException: EpisodeAction without a timestamp cannot be written');
  return {
    podcast: action.podcast,
    episode: action.episode,
    ...(action.guid !== null ? { guid: action.guid } : {}),
    action: action.action.toLowerCase(),
    timestamp: formatActionTimestamp(action.timestamp),
    ...(action.action === 'PLAY' ? { started: action.started, position: action.position, total: action.total } : {}),
  };
}

const isValidGuid = (guid: string | null): guid is string => guid !== null && guid.trim() !== '' && guid !== 'null';

// ---- EpisodeActionFilter.java ------------------------------------------------------------------

/** `secondActionOverridesFirstAction`: the second has a timestamp strictly after the first's (or the first has none). */
function overrides(first: EpisodeAction, second: EpisodeAction | undefined): boolean {
  return second !== undefined && second.timestamp !== null && (first.timestamp === null || second.timestamp > first.timestamp);
}

/**
 * The remote PLAY actions to apply, one per (podcast, episode): those not older than the
 * device's most recent queued action of the episode (of any kind: the Java map is not limited
 * to PLAYs) nor than another remote PLAY of it. NEW, DOWNLOAD and DELETE are never applied.
 */
export function remoteActionsOverridingLocalActions(remote: readonly EpisodeAction[], queued: readonly EpisodeAction[]): Map<string, EpisodeAction> {
  const key = (action: EpisodeAction) => JSON.stringify([action.podcast, action.episode]);
  const localMostRecent = new Map<string, EpisodeAction>();
  for (const action of queued) {
    const mostRecent = localMostRecent.get(key(action));
    if (mostRecent === undefined || mostRecent.timestamp === null) localMostRecent.set(key(action), action);
    else if (action.timestamp !== null && mostRecent.timestamp < action.timestamp) localMostRecent.set(key(action), action);
  }
  const result = new Map<string, EpisodeAction>();
  for (const action of remote) {
    if (action.action !== 'PLAY') continue;
    if (overrides(action, localMostRecent.get(key(action)))) continue;
    if (overrides(action, result.get(key(action)))) continue;
    result.set(key(action), action);
  }
  return result;
}

// ---- ISyncService and its two implementations ------------------------------------------------

export class SyncServiceException extends Error {
  override readonly name: string = 'SyncServiceException';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class GpodnetServiceAuthenticationException extends SyncServiceException {
  override readonly name = 'GpodnetServiceAuthenticationException';
}

export interface SubscriptionChanges {
  readonly added: string[];
  readonly removed: string[];
  readonly timestamp: number;
}

export interface EpisodeActionChanges {
  readonly actions: EpisodeAction[];
  readonly timestamp: number;
}

export interface ISyncService {
  login(): Promise<void>;
  getSubscriptionChanges(lastSync: number): Promise<SubscriptionChanges>;
  uploadSubscriptionChanges(added: readonly string[], removed: readonly string[]): Promise<{ timestamp: number }>;
  getEpisodeActionChanges(lastSync: number): Promise<EpisodeActionChanges>;
  uploadEpisodeActions(actions: readonly EpisodeAction[]): Promise<{ timestamp: number }>;
  logout(): Promise<void>;
}

/** ResponseMapper.readSubscriptionChangesFromJsonObject (both providers). */
function readSubscriptionChanges(text: string): SubscriptionChanges {
  const object = parseObject(text);
  // "gpodder escapes colons unnecessarily"
  const urls = (name: string) => {
    const list = getJSONArray(object, name);
    return list.map((_, i) => elementString(list, i).replaceAll('%3A', ':'));
  };
  const added = urls('add');
  const removed = urls('remove');
  return { added, removed, timestamp: getLong(object, 'timestamp') };
}

/** ResponseMapper.readEpisodeActionsFromJsonObject (both providers): unreadable actions are dropped. */
function readEpisodeActionChanges(text: string): EpisodeActionChanges {
  const object = parseObject(text);
  const timestamp = getLong(object, 'timestamp');
  const list = getJSONArray(object, 'actions');
  const actions: EpisodeAction[] = [];
  list.forEach((item, i) => {
    const action = readEpisodeAction(asObject(item, i));
    if (action !== null) actions.push(action);
  });
  return { actions, timestamp };
}

/** GpodnetUploadChangesResponse / GpodnetEpisodeActionPostResponse: `timestamp` and `update_urls` pairs are required. */
function readUploadResponse(text: string): { timestamp: number; updatedUrls: Map<string, string> } {
  const object = parseObject(text);
  const timestamp = getLong(object, 'timestamp');
  const urls = getJSONArray(object, 'update_urls');
  const updatedUrls = new Map<string, string>();
  urls.forEach((pair, i) => {
    const list = asArray(pair, i);
    updatedUrls.set(elementString(list, 0), elementString(list, 1));
  });
  return { timestamp, updatedUrls };
}

/** HostnameParser.java: scheme, host, port and sub-folder of the URL the user typed (or Nextcloud returned). */
export function parseHostUrl(hostUrl: string): { scheme: string; host: string; port: number; subfolder: string } {
  const match = /^(?:(https?):\/\/)?([^:/]+)(?::(\d+))?(.+)?$/.exec(hostUrl);
  let scheme: string | undefined;
  let host: string;
  let port: number;
  let subfolder = '';
  if (match) {
    scheme = match[1];
    host = new URL(`http://${match[2]}`).hostname;
    port = match[3] === undefined ? -1 : Number(match[3]);
    subfolder = (match[4] ?? '').replace(/\/+$/, '');
  } else {
    scheme = 'https';
    host = hostUrl;
    port = 443;
  }
  if (scheme === undefined) scheme = port === 80 ? 'http' : 'https';
  if (port === -1) port = scheme === 'https' ? 443 : 80;
  return { scheme, host, port, subfolder };
}

/** `new URI(scheme, null, host, port, path, query, null)`: illegal characters of the path are quoted. */
function uriOf(base: ReturnType<typeof parseHostUrl>, path: string, query?: string): string {
  return `${base.scheme}://${base.host}:${base.port}${encodeURI(path)}${query !== undefined ? `?${query}` : ''}`;
}

export interface GpodnetDevice {
  readonly id: string;
  readonly caption: string;
  readonly type: string;
  readonly subscriptions: number;
}

/** GpodnetService.java. A new instance per sync run, as SyncService.getActiveSyncProvider() makes one. */
export class GpodnetService implements ISyncService {
  private readonly base: ReturnType<typeof parseHostUrl>;
  private loggedIn = false;

  constructor(
    private readonly http: HttpClient,
    hostUrl: string,
    private readonly deviceId: string,
    private readonly username: string,
    private readonly password: string,
  ) {
    this.base = parseHostUrl(hostUrl);
  }

  private url(path: string, query?: string): string {
    return uriOf(this.base, `${this.base.subfolder}${path}`, query);
  }

  private requireLoggedIn(): void {
    if (!this.loggedIn) throw new Error('IllegalStateException: Not logged in');
  }

  private checkStatusCode(status: number): void {
    if (status === 200) return;
    if (status === 401) throw new GpodnetServiceAuthenticationException('Wrong username or password');
    throw new SyncServiceException(
      status >= 500 ? `${this.base.host} is currently unavailable (code ${status})` : `Unable to connect to ${this.base.host} (code ${status})`,
    );
  }

  /** executeRequest: no Authorization header: the session cookie authenticates. */
  private async executeRequest(method: 'GET' | 'POST', url: string, json?: string): Promise<string> {
    let response;
    try {
      response = await this.http.execute(method, url, json === undefined ? {} : { headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: json });
    } catch (error) {
      throw new SyncServiceException(`IOException: ${(error as Error).message}`, { cause: error });
    }
    this.checkStatusCode(response.status);
    return response.body;
  }

  /** JSONExceptions become GpodnetServiceExceptions (SyncServiceExceptions): the sync is retried. */
  private async mapped<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof JSONException) throw new SyncServiceException(`JSONException: ${error.message}`, { cause: error });
      throw error;
    }
  }

  async login(): Promise<void> {
    let response;
    try {
      response = await this.http.execute('POST', this.url(`/api/2/auth/${this.username}/login.json`), {
        headers: { 'Content-Type': 'plain/text; charset=utf-8', Authorization: basicCredentials(this.username, this.password, 'utf8') },
        body: '',
      });
    } catch (error) {
      throw new SyncServiceException(`IOException: ${(error as Error).message}`, { cause: error });
    }
    this.checkStatusCode(response.status);
    this.loggedIn = true;
  }

  async getDevices(): Promise<GpodnetDevice[]> {
    this.requireLoggedIn();
    return this.mapped(async () => {
      const devices = parseArray(await this.executeRequest('GET', this.url(`/api/2/devices/${this.username}.json`)));
      return devices.map((item, i) => {
        const object = asObject(item, i);
        return {
          id: getString(object, 'id'),
          caption: getString(object, 'caption'),
          type: getString(object, 'type'),
          subscriptions: getInt(object, 'subscriptions'),
        };
      });
    });
  }

  async configureDevice(deviceId: string, caption: string | null, type: 'desktop' | 'laptop' | 'mobile' | 'server' | 'other' | null): Promise<void> {
    this.requireLoggedIn();
    const content = caption !== null || type !== null ? JSON.stringify({ ...(caption !== null ? { caption } : {}), ...(type !== null ? { type } : {}) }) : '';
    await this.executeRequest('POST', this.url(`/api/2/devices/${this.username}/${deviceId}.json`), content);
  }

  async getSubscriptionChanges(timestamp: number): Promise<SubscriptionChanges> {
    this.requireLoggedIn();
    return this.mapped(async () =>
      readSubscriptionChanges(await this.executeRequest('GET', this.url(`/api/2/subscriptions/${this.username}/${this.deviceId}.json`, `since=${timestamp}`))),
    );
  }

  async uploadSubscriptionChanges(added: readonly string[], removed: readonly string[]): Promise<{ timestamp: number }> {
    this.requireLoggedIn();
    return this.mapped(async () =>
      readUploadResponse(
        await this.executeRequest(
          'POST',
          this.url(`/api/2/subscriptions/${this.username}/${this.deviceId}.json`),
          JSON.stringify({ add: added, remove: removed }),
        ),
      ),
    );
  }

  async getEpisodeActionChanges(timestamp: number): Promise<EpisodeActionChanges> {
    this.requireLoggedIn();
    return this.mapped(async () =>
      readEpisodeActionChanges(await this.executeRequest('GET', this.url(`/api/2/episodes/${this.username}.json`, `since=${timestamp}`))),
    );
  }

  /** Batches of 30; each action carries `device`; the LAST batch's timestamp is returned. */
  async uploadEpisodeActions(actions: readonly EpisodeAction[]): Promise<{ timestamp: number }> {
    this.requireLoggedIn();
    let response: { timestamp: number } | undefined;
    for (let i = 0; i < actions.length; i += UPLOAD_BULK_SIZE) {
      const list = actions.slice(i, Math.min(actions.length, i + UPLOAD_BULK_SIZE)).map((action) => ({ ...writeEpisodeAction(action), device: this.deviceId }));
      response = await this.mapped(async () =>
        readUploadResponse(await this.executeRequest('POST', this.url(`/api/2/episodes/${this.username}.json`), JSON.stringify(list))),
      );
    }
    return response!;
  }

  async logout(): Promise<void> {}
}

/** NextcloudSyncService.java. */
export class NextcloudSyncService implements ISyncService {
  private readonly base: ReturnType<typeof parseHostUrl>;

  constructor(
    private readonly http: HttpClient,
    hostUrl: string,
    private readonly username: string,
    private readonly password: string,
    /** `System.currentTimeMillis()` of the phone. */
    private readonly clock: () => number,
  ) {
    this.base = parseHostUrl(hostUrl);
  }

  /** makeUrl: scheme, host, port, then the sub-folder and path as path segments. */
  private url(path: string, since?: number): string {
    const segments = `${this.base.subfolder}${path}`.replace(/^\/+/, '');
    return `${this.base.scheme}://${this.base.host}:${this.base.port}/${encodeURI(segments)}${since !== undefined ? `?since=${since}` : ''}`;
  }

  /** performRequest: Basic (OkHttp's default ISO-8859-1) and Accept: application/json on every call; anything but 200 throws. */
  private async performRequest(method: 'GET' | 'POST', url: string, json?: string): Promise<string> {
    const headers: Record<string, string> = { Authorization: basicCredentials(this.username, this.password, 'latin1'), Accept: 'application/json' };
    if (json !== undefined) headers['Content-Type'] = 'application/json; charset=utf-8';
    let response;
    try {
      response = await this.http.execute(method, url, json === undefined ? { headers } : { headers, body: json });
    } catch (error) {
      throw new SyncServiceException(`IOException: ${(error as Error).message}`, { cause: error });
    }
    if (response.status !== 200) throw new SyncServiceException(`IOException: Response code: ${response.status}`);
    return response.body;
  }

  private async mapped<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof SyncServiceException) throw error;
      throw new SyncServiceException(`${(error as Error).name}: ${(error as Error).message}`, { cause: error });
    }
  }

  async login(): Promise<void> {}

  getSubscriptionChanges(lastSync: number): Promise<SubscriptionChanges> {
    return this.mapped(async () => readSubscriptionChanges(await this.performRequest('GET', this.url('/index.php/apps/gpoddersync/subscriptions', lastSync))));
  }

  /** The answer is not read: the next `since` is the phone's clock, in seconds. */
  async uploadSubscriptionChanges(added: readonly string[], removed: readonly string[]): Promise<{ timestamp: number }> {
    await this.mapped(() =>
      this.performRequest('POST', this.url('/index.php/apps/gpoddersync/subscription_change/create'), JSON.stringify({ add: added, remove: removed })),
    );
    return { timestamp: Math.floor(this.clock() / 1000) };
  }

  getEpisodeActionChanges(timestamp: number): Promise<EpisodeActionChanges> {
    return this.mapped(async () =>
      readEpisodeActionChanges(await this.performRequest('GET', this.url('/index.php/apps/gpoddersync/episode_action', timestamp))),
    );
  }

  /** Batches of 30, without `device`; the answers are not read: the next `since` is the phone's clock. */
  async uploadEpisodeActions(actions: readonly EpisodeAction[]): Promise<{ timestamp: number }> {
    for (let i = 0; i < actions.length; i += UPLOAD_BULK_SIZE) {
      const list = actions.slice(i, Math.min(actions.length, i + UPLOAD_BULK_SIZE)).map(writeEpisodeAction);
      await this.mapped(() => this.performRequest('POST', this.url('/index.php/apps/gpoddersync/episode_action/create'), JSON.stringify(list)));
    }
    return { timestamp: Math.floor(this.clock() / 1000) };
  }

  async logout(): Promise<void> {}
}

// ---- the phone's database ----------------------------------------------------------------------

/** An episode as a feed lists it. */
export interface CatalogEpisode {
  readonly guid: string;
  readonly url: string;
  /** Milliseconds; 0 when the feed does not say (AntennaPod learns it on playback). */
  readonly duration: number;
}

/** What refreshing a feed yields: the test's stand-in for the podcast hosts. */
export type FeedCatalog = ReadonlyMap<string, readonly CatalogEpisode[]>;

export interface LocalItem {
  readonly feed: string;
  /** FeedItem.getItemIdentifier(): the RSS guid. */
  readonly guid: string;
  readonly mediaUrl: string;
  /** FeedMedia, in milliseconds. */
  duration: number;
  position: number;
  startPosition: number;
  played: boolean;
}

export interface LocalFeed {
  readonly downloadUrl: string;
  /** 0 until the feed was refreshed once (SyncService waits for that before episode actions). */
  lastRefreshAttempt: number;
  items: LocalItem[];
}

/** UrlChecker.urlEquals: same host (any case), same non-empty path segments (any case), same query. */
export function urlEquals(a: string, b: string): boolean {
  let first: URL;
  let second: URL;
  try {
    first = new URL(a);
    second = new URL(b);
  } catch {
    return a === b;
  }
  if (first.hostname.toLowerCase() !== second.hostname.toLowerCase()) return false;
  const segments = (url: URL) =>
    url.pathname
      .split('/')
      .filter((segment) => segment !== '')
      .map((segment) => segment.toLowerCase());
  if (JSON.stringify(segments(first)) !== JSON.stringify(segments(second))) return false;
  if (first.search === '' || first.search === '?') return second.search === '' || second.search === '?';
  return first.search === second.search;
}

// ---- the device ----------------------------------------------------------------------------------

export type Connection =
  | { readonly provider: 'gpodder.net'; readonly hostUrl: string; readonly username: string; readonly password: string; readonly deviceId: string }
  | { readonly provider: 'nextcloud'; readonly hostUrl: string; readonly username: string; readonly password: string };

/** What one sync run did (for assertions). */
export interface SyncRun {
  outcome: 'success' | 'waiting-for-feed-refresh';
  subscriptionChanges?: SubscriptionChanges;
  uploadedFeeds?: { added: string[]; removed: string[] };
  episodeActionChanges?: EpisodeActionChanges;
  applied: EpisodeAction[];
  uploadedActions: EpisodeAction[];
}

export interface DeviceOptions {
  readonly name: string;
  readonly catalog: FeedCatalog;
  /** The phone's clock (`System.currentTimeMillis()`); the real clock unless a test skews it. */
  readonly clock?: () => number;
  readonly userAgent?: string;
}

export class AntennaPodDevice {
  readonly name: string;
  readonly http: HttpClient;
  readonly clock: () => number;
  private readonly catalog: FeedCatalog;
  readonly feeds = new Map<string, LocalFeed>();
  connection: Connection | undefined;
  /** SynchronizationSettings: the two cursors. */
  lastSubscriptionSync = 0;
  lastEpisodeActionSync = 0;
  /** SynchronizationQueueStorage, as stored: JSON texts (one per action; the Java list is one JSON array). */
  private queuedEpisodeActions: string[] = [];
  private queuedAddedFeeds: string[] = [];
  private queuedRemovedFeeds: string[] = [];
  /** Every remote action read, over all runs (what reached this device). */
  readonly received: EpisodeAction[] = [];
  readonly runs: SyncRun[] = [];

  constructor(options: DeviceOptions) {
    this.name = options.name;
    this.catalog = options.catalog;
    this.clock = options.clock ?? (() => Date.now());
    this.http = new HttpClient(options.userAgent ?? ANTENNAPOD_USER_AGENT);
  }

  // ---- account set-up --------------------------------------------------------------------------

  /**
   * GpodderAuthenticationFragment: host chosen (credentials and queue cleared, cursors reset),
   * login and device list, a new device named `deviceName` (id: every `[^a-zA-Z0-9]` → `_`,
   * lower case) unless one with that id or caption exists; then "Sync now".
   */
  async connectGpodder(hostUrl: string, username: string, password: string, deviceName: string): Promise<SyncRun> {
    this.connection = undefined;
    this.clearQueue();
    const deviceId = deviceName.replace(/[^a-zA-Z0-9]/g, '_').toLowerCase();
    const service = new GpodnetService(this.http, hostUrl, deviceId, username, password);
    await service.login();
    const devices = await service.getDevices();
    const existing = devices.find((device) => device.id === deviceId || device.caption === deviceName);
    if (existing === undefined) await service.configureDevice(deviceId, deviceName, 'mobile');
    this.connection = { provider: 'gpodder.net', hostUrl, username, password, deviceId: existing?.id ?? deviceId };
    return this.sync();
  }

  /** NextcloudAuthenticationFragment.onNextcloudAuthenticated: queue cleared, credentials stored, fullSync (cursors reset). */
  async connectNextcloud(server: string, loginName: string, appPassword: string): Promise<SyncRun> {
    this.connection = undefined;
    this.clearQueue();
    this.connection = { provider: 'nextcloud', hostUrl: server, username: loginName, password: appPassword };
    this.lastSubscriptionSync = 0;
    this.lastEpisodeActionSync = 0;
    return this.sync();
  }

  private provider(): ISyncService {
    const connection = this.connection;
    if (connection === undefined) throw new Error('no sync provider selected');
    return connection.provider === 'gpodder.net'
      ? new GpodnetService(this.http, connection.hostUrl, connection.deviceId, connection.username, connection.password)
      : new NextcloudSyncService(this.http, connection.hostUrl, connection.username, connection.password, this.clock);
  }

  // ---- SynchronizationQueueStorage / SynchronizationQueueImpl ----------------------------------

  private clearQueue(): void {
    this.lastSubscriptionSync = 0;
    this.lastEpisodeActionSync = 0;
    this.queuedEpisodeActions = [];
    this.queuedAddedFeeds = [];
    this.queuedRemovedFeeds = [];
  }

  private enqueueFeedAdded(url: string): void {
    if (this.connection === undefined) return;
    this.queuedAddedFeeds.push(url);
    const index = this.queuedRemovedFeeds.indexOf(url);
    if (index >= 0) this.queuedRemovedFeeds.splice(index, 1);
  }

  private enqueueFeedRemoved(url: string): void {
    if (this.connection === undefined) return;
    this.queuedRemovedFeeds.push(url);
    const index = this.queuedAddedFeeds.indexOf(url);
    if (index >= 0) this.queuedAddedFeeds.splice(index, 1);
  }

  /** Stored as JSON: what is uploaded later is this JSON read back through EpisodeAction's parser. */
  enqueueEpisodeAction(action: EpisodeAction): void {
    if (this.connection === undefined) return;
    this.queuedEpisodeActions.push(JSON.stringify(writeEpisodeAction(action)));
  }

  /** getQueuedEpisodeActions: each stored object read back (a PLAY with position 0 or total 0 comes back as -1/-1/-1). */
  queuedActions(): (EpisodeAction | null)[] {
    return this.queuedEpisodeActions.map((json) => readEpisodeAction(parseObject(json)));
  }

  queuedFeeds(): { added: string[]; removed: string[] } {
    return { added: [...this.queuedAddedFeeds], removed: [...this.queuedRemovedFeeds] };
  }

  private removeLegacyConflictingFeedEntries(localSubscriptions: readonly string[]): void {
    const removed = this.queuedRemovedFeeds.filter((url) => !localSubscriptions.includes(url));
    this.queuedAddedFeeds = this.queuedAddedFeeds.filter((url) => !removed.includes(url));
    this.queuedRemovedFeeds = removed;
  }

  // ---- what the user does -----------------------------------------------------------------------

  private now(at?: Date): number {
    return at?.getTime() ?? this.clock();
  }

  item(feed: string, guid: string): LocalItem {
    const found = this.feeds.get(feed)?.items.find((item) => item.guid === guid);
    if (!found) throw new Error(`${this.name} has no episode ${guid} of ${feed}`);
    return found;
  }

  private itemFromCatalog(feed: string, episode: CatalogEpisode): LocalItem {
    return { feed, guid: episode.guid, mediaUrl: episode.url, duration: episode.duration, position: 0, startPosition: -1, played: false };
  }

  /** Subscribing from the app: the feed is downloaded, added (DBWriter.addNewFeed → enqueueFeedAdded). */
  subscribe(url: string): void {
    if (this.feeds.has(url)) return;
    this.feeds.set(url, {
      downloadUrl: url,
      lastRefreshAttempt: this.clock(),
      items: (this.catalog.get(url) ?? []).map((episode) => this.itemFromCatalog(url, episode)),
    });
    this.enqueueFeedAdded(url);
  }

  /** DBWriter.deleteFeed → enqueueFeedRemoved. */
  unsubscribe(url: string): void {
    if (!this.feeds.delete(url)) return;
    this.enqueueFeedRemoved(url);
  }

  /**
   * Playback from `from` to `to` seconds, then pause (or the end, `completed`): the playback
   * service calls SynchronizationQueueImpl.enqueueEpisodePlayed(media, completed). `duration`
   * (seconds) is what the player learnt of the media (0: unknown, as for some streams); `at`
   * is the phone's clock at that moment.
   */
  play(feed: string, guid: string, options: { from: number; to: number; completed?: boolean; duration?: number; at?: Date }): void {
    const item = this.item(feed, guid);
    if (options.duration !== undefined) item.duration = options.duration * 1000;
    item.startPosition = options.from * 1000;
    item.position = options.to * 1000;
    const completed = options.completed ?? false;
    this.enqueueEpisodePlayed(item, completed, options.at);
    if (completed) {
      item.played = true;
      item.position = 0;
    }
  }

  private enqueueEpisodePlayed(item: LocalItem, completed: boolean, at?: Date): void {
    if (this.connection === undefined) return;
    if (!this.feeds.has(item.feed)) return;
    if (item.startPosition < 0 || (!completed && item.startPosition >= item.position)) return;
    this.enqueueEpisodeAction(
      buildAction({
        podcast: item.feed,
        episode: item.mediaUrl,
        guid: item.guid,
        action: 'PLAY',
        timestamp: this.now(at),
        started: seconds(item.startPosition),
        position: seconds(completed ? item.duration : item.position),
        total: seconds(item.duration),
      }),
    );
  }

  /** EpisodeMultiSelectActionHandler.markedCheckedPlayed: PLAY duration/duration/duration. */
  markPlayed(feed: string, guid: string, at?: Date): void {
    const item = this.item(feed, guid);
    item.played = true;
    const total = seconds(item.duration);
    this.enqueueEpisodeAction(
      buildAction({ podcast: feed, episode: item.mediaUrl, guid, action: 'PLAY', timestamp: this.now(at), started: total, position: total, total }),
    );
  }

  /** markedCheckedUnplayed: NEW. */
  markUnplayed(feed: string, guid: string, at?: Date): void {
    const item = this.item(feed, guid);
    item.played = false;
    this.enqueueEpisodeAction(buildAction({ podcast: feed, episode: item.mediaUrl, guid, action: 'NEW', timestamp: this.now(at) }));
  }

  /** MediaDownloadedHandler: DOWNLOAD; DBWriter.deleteFeedMediaOfItem: DELETE. */
  downloaded(feed: string, guid: string, at?: Date): void {
    const item = this.item(feed, guid);
    this.enqueueEpisodeAction(buildAction({ podcast: feed, episode: item.mediaUrl, guid, action: 'DOWNLOAD', timestamp: this.now(at) }));
  }

  deletedDownload(feed: string, guid: string, at?: Date): void {
    const item = this.item(feed, guid);
    this.enqueueEpisodeAction(buildAction({ podcast: feed, episode: item.mediaUrl, guid, action: 'DELETE', timestamp: this.now(at) }));
  }

  // ---- SyncService.doWork ---------------------------------------------------------------------------

  /**
   * One run of the sync worker, and when it stopped to let new feeds be refreshed, the
   * refresh and the run FeedUpdateWorker then starts (`syncImmediately`). Throws what the
   * worker would fail with; WorkManager retries a SyncServiceException (a test calls again).
   */
  async sync(): Promise<SyncRun> {
    const first = await this.doWork();
    if (first.outcome !== 'waiting-for-feed-refresh') return first;
    this.refreshNewFeeds();
    return this.doWork();
  }

  private async doWork(): Promise<SyncRun> {
    const run: SyncRun = { outcome: 'success', applied: [], uploadedActions: [] };
    this.runs.push(run);
    const provider = this.provider();
    await provider.login();
    await this.syncSubscriptions(provider, run);
    if ([...this.feeds.values()].some((feed) => feed.lastRefreshAttempt === 0)) {
      run.outcome = 'waiting-for-feed-refresh';
      return run;
    }
    await this.syncEpisodeActions(provider, run);
    await provider.logout();
    return run;
  }

  /** FeedUpdateManager.runOnce: every feed never refreshed gets its episodes. */
  private refreshNewFeeds(): void {
    for (const feed of this.feeds.values()) {
      if (feed.lastRefreshAttempt !== 0) continue;
      feed.lastRefreshAttempt = this.clock();
      const known = new Set(feed.items.map((item) => item.guid));
      for (const episode of this.catalog.get(feed.downloadUrl) ?? [])
        if (!known.has(episode.guid)) feed.items.push(this.itemFromCatalog(feed.downloadUrl, episode));
    }
  }

  private async syncSubscriptions(provider: ISyncService, run: SyncRun): Promise<void> {
    const lastSync = this.lastSubscriptionSync;
    const localSubscriptions = [...this.feeds.keys()];
    const changes = await provider.getSubscriptionChanges(lastSync);
    run.subscriptionChanges = changes;
    let newTimeStamp = changes.timestamp;
    const queuedRemovedFeeds = [...this.queuedRemovedFeeds];
    let queuedAddedFeeds = [...this.queuedAddedFeeds];

    for (const downloadUrl of changes.added) {
      if (!downloadUrl.startsWith('http')) continue;
      if (localSubscriptions.some((url) => urlEquals(url, downloadUrl)) || queuedRemovedFeeds.includes(downloadUrl)) continue;
      // RedirectChecker: no redirects here. FeedDatabaseWriter.updateFeed → DBWriter.addNewFeed → enqueueFeedAdded
      // (run at once: the sync lock is free at this point).
      if (!this.feeds.has(downloadUrl)) {
        this.feeds.set(downloadUrl, { downloadUrl, lastRefreshAttempt: 0, items: [] });
        this.enqueueFeedAdded(downloadUrl);
      }
    }
    for (const downloadUrl of changes.removed) {
      if (!queuedAddedFeeds.includes(downloadUrl) && this.feeds.has(downloadUrl)) {
        // DBWriter.removeFeedWithDownloadUrl → deleteFeed → enqueueFeedRemoved.
        this.feeds.delete(downloadUrl);
        this.enqueueFeedRemoved(downloadUrl);
      }
    }

    if (lastSync === 0) queuedAddedFeeds = [...localSubscriptions];
    const added = queuedAddedFeeds.filter((url) => !changes.added.includes(url));
    const removed = queuedRemovedFeeds.filter((url) => !changes.removed.includes(url));

    if (added.length === 0 && removed.length === 0) {
      this.clearFeedQueues();
    } else {
      try {
        const response = await provider.uploadSubscriptionChanges(added, removed);
        run.uploadedFeeds = { added, removed };
        this.clearFeedQueues();
        newTimeStamp = response.timestamp;
      } catch (error) {
        this.removeLegacyConflictingFeedEntries(localSubscriptions);
        throw error;
      }
    }
    this.lastSubscriptionSync = newTimeStamp;
  }

  private clearFeedQueues(): void {
    this.queuedAddedFeeds = [];
    this.queuedRemovedFeeds = [];
  }

  private async syncEpisodeActions(provider: ISyncService, run: SyncRun): Promise<void> {
    const lastSync = this.lastEpisodeActionSync;
    const response = await provider.getEpisodeActionChanges(lastSync);
    run.episodeActionChanges = response;
    let newTimeStamp = response.timestamp;
    this.received.push(...response.actions);
    this.processEpisodeActions(response.actions, run);

    const queued = this.queuedActions();
    if (lastSync === 0) {
      // First sync: one PLAY per played episode, added as built (not read back from JSON).
      for (const feed of this.feeds.values()) {
        for (const item of feed.items) {
          if (!item.played) continue;
          const total = seconds(item.duration);
          queued.push(
            buildAction({
              podcast: item.feed,
              episode: item.mediaUrl,
              guid: item.guid,
              action: 'PLAY',
              timestamp: this.clock(),
              started: total,
              position: total,
              total,
            }),
          );
        }
      }
    }
    if (queued.length > 0) {
      if (queued.some((action) => action === null)) throw new Error('NullPointerException: an unreadable action in the queue');
      const actions = queued as EpisodeAction[];
      const uploaded = await provider.uploadEpisodeActions(actions);
      run.uploadedActions = actions;
      newTimeStamp = uploaded.timestamp;
      this.queuedEpisodeActions = [];
    }
    this.lastEpisodeActionSync = newTimeStamp;
  }

  /** SyncService.processEpisodeActions. */
  private processEpisodeActions(remote: readonly EpisodeAction[], run: SyncRun): void {
    if (remote.length === 0) return;
    const queued = this.queuedActions().filter((action): action is EpisodeAction => action !== null);
    for (const action of remoteActionsOverridingLocalActions(remote, queued).values()) {
      const item = this.findItem(isValidGuid(action.guid) ? action.guid : null, action.episode);
      if (item === undefined) continue;
      item.position = action.position * 1000;
      const almostEnded = item.duration > 0 && item.position >= item.duration - SMART_MARK_AS_PLAYED_SECS * 1000;
      if (almostEnded) {
        item.played = true;
        item.position = 0;
      }
      run.applied.push(action);
    }
  }

  /** DBReader.getFeedItemByGuidOrEpisodeUrl: by guid when there is a valid one, else by media URL. */
  private findItem(guid: string | null, episodeUrl: string): LocalItem | undefined {
    for (const feed of this.feeds.values()) {
      const item = feed.items.find((candidate) => (guid !== null ? candidate.guid === guid : candidate.mediaUrl === episodeUrl));
      if (item) return item;
    }
    return undefined;
  }
}

export { HttpClient, NetworkError };
