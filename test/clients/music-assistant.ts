/**
 * A replica of Music Assistant's gPodder provider (the podcast sync of the Home Assistant
 * community's music server), request for request, read from its source
 * (music-assistant/server, `music_assistant/providers/gpodder/`, December 2026) rather than from
 * API documentation:
 *
 * - setup_flow.py: two ways to connect. gpodder: the server's URL, username, password and a
 *   device id the user types, checked by loading the provider. Nextcloud: Login Flow v2,
 *   `POST {url}/index.php/login/v2` with `User-Agent: Music Assistant` and no body, the login
 *   URL opened by the user, then `POST poll.endpoint` with the form `token=…` once a second
 *   (200 or 404, anything else fails the setup); the `appPassword` is kept as its token.
 * - client.py (aiohttp): gpodder requests carry Basic credentials (aiohttp encodes them as
 *   ISO-8859-1), Nextcloud ones `Authorization: Bearer <app password>`; a POST fails on any
 *   status but 200; a GET's body is used only with status 200 and a JSON content type, a 404
 *   reads as nothing, anything else fails. `init_gpodder` posts `auth/{u}/login.json`.
 *   Subscriptions are always asked `since=0`; episode actions `since=` the kept timestamp, with
 *   `device=<its own device id>` on the gpodder API (its uploads name no device). Answers are
 *   read by mashumaro: each action by its `action` tag (lower or upper case of download, delete,
 *   new, flattr, play: any other fails the whole answer), `podcast` and `episode` required,
 *   `started`/`position`/`total` 0 when absent; then sorted newest first by
 *   `datetime.fromisoformat(timestamp)` (an unreadable one leaves the server's order; zoned
 *   and unzoned ones mixed raise). `update_progress`: position 0 uploads `new` (marked
 *   unplayed), any other a `play` with `started` 0 and whole seconds, timestamped in UTC without
 *   a zone; the guid only through Nextcloud (the media URL where the feed gives none).
 * - helpers.py: actions indexed per podcast by guid and by episode URL, the newest of each;
 *   an episode takes the newest action found by its guid or its media URL.
 * - __init__.py: the library sync (`get_library_podcasts`): the subscriptions added to its feeds
 *   and the removed ones dropped; the actions since its actions timestamp, plus the whole
 *   history of a feed that is new to it; each episode's action written to the playlog (`new`:
 *   unplayed; `play`: played to its position, fully when the position reached the total);
 *   then both timestamps kept. `get_resume_position`: the actions since the actions timestamp
 *   (`new` and `delete`: from the start; `play`: its position; none: the playlog's).
 *   `on_played`: nothing within 5 s of a playlog write (the sync's own), else `update_progress`.
 *
 * Not replicated: feed parsing (a catalog stands for the feeds), Music Assistant's cache and
 * database (fields here), its player (a test says what was played). aiohttp's default cookie jar
 * refuses cookies from IP addresses, and the tests' server is 127.0.0.1: no cookie is kept.
 */
import { isIP } from 'node:net';
import { CookieJar } from './okhttp.js';
import type { Exchange } from './okhttp.js';

export const MA_USER_AGENT = 'Python/3.13 aiohttp/3.12.15';
const NEXTCLOUD_PREFIX = 'index.php/apps/gpoddersync';
/** `on_played` ignores calls this soon after a playlog write (`progress_guard_timestamp`). */
const GUARD_MS = 5_000;

export interface MaCatalogEpisode {
  readonly guid: string | undefined;
  readonly url: string;
  readonly durationSeconds: number;
}
export type MaCatalog = ReadonlyMap<string, readonly MaCatalogEpisode[]>;

export const ACTION_KINDS = ['download', 'delete', 'new', 'flattr', 'play'] as const;
export type MaActionKind = (typeof ACTION_KINDS)[number];

/** An episode action as mashumaro builds it. */
export interface MaAction {
  readonly kind: MaActionKind;
  readonly podcast: string;
  readonly episode: string;
  readonly timestamp: string;
  readonly guid: string | undefined;
  readonly started: number;
  readonly position: number;
  readonly total: number;
}

export interface PlaylogEntry {
  readonly fullyPlayed: boolean;
  readonly secondsPlayed: number;
}

/** What Music Assistant raises; `kind` names the Python exception. */
export class MaError extends Error {
  override readonly name = 'MaError';
  constructor(
    readonly kind: 'RuntimeError' | 'LoginFailed' | 'ResourceTemporarilyUnavailable' | 'MissingField' | 'SuitableVariantNotFoundError' | 'TypeError',
    message: string,
  ) {
    super(`${kind}: ${message}`);
  }
}

// ---- aiohttp ------------------------------------------------------------------------------------

interface AiohttpResponse {
  readonly status: number;
  /** aiohttp's `content_type`: the media type without its parameters. */
  readonly contentType: string;
  readonly body: string;
}

/** A `ClientSession` with its default cookie jar (no cookies from IP addresses), logging every exchange. */
export class AiohttpSession {
  readonly log: Exchange[] = [];
  private readonly cookies = new CookieJar();

  async request(method: 'GET' | 'POST', url: string, options: { headers?: Record<string, string>; json?: unknown; form?: Record<string, string> } = {}) {
    const target = new URL(url);
    const headers: Record<string, string> = { 'User-Agent': MA_USER_AGENT, Accept: '*/*', ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['Content-Type'] = 'application/json';
    } else if (options.form !== undefined) {
      body = new URLSearchParams(options.form).toString();
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    const cookie = this.cookies.header(target);
    if (cookie !== undefined) headers['Cookie'] = cookie;
    const response = await fetch(target, { method, headers, body, redirect: 'follow' });
    const text = await response.text();
    if (isIP(target.hostname.replace(/^\[|\]$/g, '')) === 0) this.cookies.store(target, response.headers.getSetCookie());
    this.log.push({ method, url: target.href, requestHeaders: headers, requestBody: body, status: response.status, responseBody: text });
    const contentType = (response.headers.get('content-type') ?? 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
    return { status: response.status, contentType, body: text } satisfies AiohttpResponse;
  }
}

/** `aiohttp.BasicAuth(login, password)`: ISO-8859-1 unless told otherwise. */
export function aiohttpBasic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'latin1').toString('base64')}`;
}

// ---- mashumaro and Python --------------------------------------------------------------------------

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function requiredString(raw: Record<string, unknown>, field: string): string {
  if (!(field in raw)) throw new MaError('MissingField', `Field "${field}" is required`);
  return raw[field] as string;
}

/** A number field of a `play`: absent reads as the default 0; one a comparison could not use raises where it is used. */
function playNumber(raw: Record<string, unknown>, field: string): number {
  const value = raw[field];
  if (value === undefined) return 0;
  if (typeof value !== 'number') throw new MaError('TypeError', `${field} is ${JSON.stringify(value)}, not a number`);
  return value;
}

/** `EpisodeAction.from_dict`: the subclass whose tag (lower or upper case) the `action` names. */
export function parseMaAction(raw: unknown): MaAction {
  if (!isObject(raw)) throw new MaError('TypeError', `an action that is not an object: ${JSON.stringify(raw)}`);
  const tag = raw['action'];
  const kind = ACTION_KINDS.find((candidate) => tag === candidate || tag === candidate.toUpperCase());
  if (kind === undefined) throw new MaError('SuitableVariantNotFoundError', `no action type for ${JSON.stringify(tag)}`);
  const guid = raw['guid'];
  return {
    kind,
    podcast: requiredString(raw, 'podcast'),
    episode: requiredString(raw, 'episode'),
    timestamp: typeof raw['timestamp'] === 'string' ? raw['timestamp'] : '',
    guid: typeof guid === 'string' ? guid : undefined,
    started: kind === 'play' ? playNumber(raw, 'started') : 0,
    position: kind === 'play' ? playNumber(raw, 'position') : 0,
    total: kind === 'play' ? playNumber(raw, 'total') : 0,
  };
}

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** `datetime.fromisoformat` (Python 3.11+, the forms servers send): epoch ms and whether it has a zone; undefined for a ValueError. */
export function fromIsoFormat(text: string): { ms: number; aware: boolean } | undefined {
  const match = ISO_DATE_TIME.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', zone] = match;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${zone === undefined ? 'Z' : zone === 'Z' ? 'Z' : zone.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')}`);
  return Number.isNaN(ms) ? undefined : { ms, aware: zone !== undefined };
}

/**
 * `sorted(actions, key=lambda x: fromisoformat(x.timestamp))[::-1]` under
 * `suppress(ValueError)`: newest first (of equal times, the later in the answer first), or the
 * answer's order when one time cannot be read; unzoned and zoned times cannot be compared.
 */
export function newestFirst(actions: readonly MaAction[]): MaAction[] {
  const times = actions.map((action) => fromIsoFormat(action.timestamp));
  if (times.some((time) => time === undefined)) return [...actions];
  if (new Set(times.map((time) => time!.aware)).size > 1) throw new MaError('TypeError', "can't compare offset-naive and offset-aware datetimes");
  return actions
    .map((action, index) => ({ action, ms: times[index]!.ms }))
    .sort((a, b) => a.ms - b.ms)
    .reverse()
    .map(({ action }) => action);
}

/** helpers.py `index_actions`: per podcast, guid and episode URL → the newest action and its rank. */
type ActionIndex = Map<string, { rank: number; action: MaAction }>;

export function indexActions(actions: readonly MaAction[]): Map<string, ActionIndex> {
  const index = new Map<string, ActionIndex>();
  actions.forEach((action, rank) => {
    const ofPodcast = index.get(action.podcast) ?? new Map<string, { rank: number; action: MaAction }>();
    index.set(action.podcast, ofPodcast);
    for (const key of [action.guid, action.episode]) if (key && !ofPodcast.has(key)) ofPodcast.set(key, { rank, action });
  });
  return index;
}

/** helpers.py `find_action`: the newest action known by the guid or by the media URL. */
function findAction(actions: ActionIndex | undefined, guid: string | undefined, streamUrl: string | undefined): MaAction | undefined {
  if (!actions) return undefined;
  const found = [guid, streamUrl].flatMap((key) => (key !== undefined && actions.has(key) ? [actions.get(key)!] : []));
  return found.sort((a, b) => a.rank - b.rank)[0]?.action;
}

/** `datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat()`. */
const utcTimestamp = (ms: number) => new Date(ms).toISOString().slice(0, 19);

// ---- the provider ----------------------------------------------------------------------------------

export type MaProvider = 'gpodder' | 'nextcloud';

export class MusicAssistant {
  readonly http = new AiohttpSession();
  /** The playlog: what Music Assistant's players resume from, by item id (`{feed} {guid or media URL}`). */
  readonly playlog = new Map<string, PlaylogEntry>();
  feeds = new Set<string>();
  timestampSubscriptions = 0;
  timestampActions = 0;
  private progressGuard = 0;
  private provider: MaProvider = 'gpodder';
  private baseUrl = '';
  private username = '';
  private device = '';
  private authorization = '';

  constructor(private readonly catalog: MaCatalog) {}

  /** The gpodder method of the setup flow: the provider loads, logging in. */
  async connectGpodder(url: string, username: string, password: string, deviceId: string): Promise<void> {
    this.provider = 'gpodder';
    this.baseUrl = url.replace(/\/+$/, '');
    this.username = username;
    this.device = deviceId;
    this.authorization = aiohttpBasic(username, password);
    try {
      await this.post(`api/2/auth/${username}/login.json`);
    } catch (error) {
      if (error instanceof MaError && error.kind === 'RuntimeError') throw new MaError('LoginFailed', 'Login failed.');
      throw error;
    }
  }

  /** The Nextcloud method: Login Flow v2, `approve` standing for the user in the browser. */
  async connectNextcloud(
    url: string,
    approve: (loginUrl: string) => Promise<unknown>,
    options: { pollIntervalMs?: number; timeoutMs?: number } = {},
  ): Promise<void> {
    const started = await this.http.request('POST', `${url.replace(/\/+$/, '')}/index.php/login/v2`, { headers: { 'User-Agent': 'Music Assistant' } });
    const data = JSON.parse(started.body) as { login: string; poll: { endpoint: string; token: string } };
    await approve(data.login);
    const deadline = Date.now() + (options.timeoutMs ?? 180_000);
    for (;;) {
      const polled = await this.http.request('POST', data.poll.endpoint, { form: { token: data.poll.token } });
      if (polled.status !== 200 && polled.status !== 404) throw new MaError('LoginFailed', 'The specified url seems not to belong to a nextcloud instance.');
      if (polled.status === 200) {
        this.useNextcloudToken(url, String((JSON.parse(polled.body) as { appPassword: unknown }).appPassword));
        return;
      }
      if (Date.now() > deadline) throw new MaError('LoginFailed', 'nextcloud_login_timeout');
      await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? 1000));
    }
  }

  /** `init_nc`: a token kept from an earlier setup. */
  useNextcloudToken(url: string, token: string): void {
    this.provider = 'nextcloud';
    this.baseUrl = url.replace(/\/+$/, '');
    this.authorization = `Bearer ${token}`;
  }

  // ---- client.py ----

  private async post(endpoint: string, json?: unknown): Promise<string> {
    const response = await this.http.request('POST', `${this.baseUrl}/${endpoint}`, {
      headers: { Authorization: this.authorization },
      ...(json === undefined ? {} : { json }),
    });
    if (response.status >= 400) throw new MaError('RuntimeError', `API POST call to ${endpoint} failed. (${response.status})`);
    if (response.status !== 200) throw new MaError('RuntimeError', `Api post call failed to ${endpoint} failed! (${response.status})`);
    return response.body;
  }

  private async get(endpoint: string, params: Record<string, string | number>): Promise<string | undefined> {
    const query = new URLSearchParams(Object.entries(params).map(([key, value]): [string, string] => [key, String(value)])).toString();
    const response = await this.http.request('GET', `${this.baseUrl}/${endpoint}?${query}`, { headers: { Authorization: this.authorization } });
    if (response.contentType === 'application/json' && response.status === 200) return response.body;
    if (response.status === 404) return undefined;
    throw new MaError('RuntimeError', `API GET call to ${endpoint} failed. (${response.status})`);
  }

  async getSubscriptions(): Promise<{ add: string[]; remove: string[]; timestamp: number } | undefined> {
    const endpoint = this.provider === 'nextcloud' ? `${NEXTCLOUD_PREFIX}/subscriptions` : `api/2/subscriptions/${this.username}/${this.device}.json`;
    const body = await this.get(endpoint, { since: 0 });
    if (!body) return undefined;
    const raw = JSON.parse(body) as Record<string, unknown>;
    if (!('timestamp' in raw)) throw new MaError('MissingField', 'Field "timestamp" is required');
    return { add: (raw['add'] as string[] | undefined) ?? [], remove: (raw['remove'] as string[] | undefined) ?? [], timestamp: raw['timestamp'] as number };
  }

  /** `get_episode_actions`: plays, news and deletes, newest first, and the answer's timestamp. */
  async getEpisodeActions(since = 0): Promise<{ actions: MaAction[]; timestamp: number | undefined }> {
    const params: Record<string, string | number> = { since };
    let endpoint = `${NEXTCLOUD_PREFIX}/episode_action`;
    if (this.provider === 'gpodder') {
      endpoint = `api/2/episodes/${this.username}.json`;
      params['device'] = this.device;
    }
    const body = await this.get(endpoint, params);
    if (!body) return { actions: [], timestamp: undefined };
    const raw = JSON.parse(body) as Record<string, unknown>;
    if (!Array.isArray(raw['actions'])) throw new MaError('MissingField', 'Field "actions" is required');
    if (!('timestamp' in raw)) throw new MaError('MissingField', 'Field "timestamp" is required');
    const actions = raw['actions'].map(parseMaAction).filter((action) => action.kind === 'play' || action.kind === 'new' || action.kind === 'delete');
    return { actions: newestFirst(actions), timestamp: raw['timestamp'] as number };
  }

  private async updateProgress(podcast: string, episodeUrl: string, guid: string, positionSeconds: number, durationSeconds: number): Promise<void> {
    const timestamp = utcTimestamp(Date.now());
    const action: Record<string, unknown> =
      positionSeconds === 0
        ? { podcast, episode: episodeUrl, timestamp, action: 'new' }
        : { podcast, episode: episodeUrl, timestamp, action: 'play', started: 0, position: Math.trunc(positionSeconds), total: Math.trunc(durationSeconds) };
    if (this.provider === 'nextcloud') {
      // Set after construction: mashumaro serialises it after the fields of the subclass.
      action['guid'] = guid;
      await this.post(`${NEXTCLOUD_PREFIX}/episode_action/create`, [action]);
    } else {
      await this.post(`api/2/episodes/${this.username}.json`, [action]);
    }
  }

  // ---- __init__.py ----

  private episodesOf(feed: string): { item: string; streamUrl: string; guid: string | undefined; episode: MaCatalogEpisode }[] {
    return (this.catalog.get(feed) ?? []).map((episode) => ({
      item: `${feed} ${episode.guid ?? episode.url}`,
      streamUrl: episode.url,
      guid: episode.guid,
      episode,
    }));
  }

  private writePlaylog(item: string, action: MaAction): void {
    this.progressGuard = Date.now();
    if (action.kind === 'new') this.playlog.set(item, { fullyPlayed: false, secondsPlayed: 0 });
    else if (action.kind === 'play') this.playlog.set(item, { fullyPlayed: action.position >= action.total, secondsPlayed: action.position });
  }

  /** `get_library_podcasts`: the feeds of the library, after their episodes' actions went to the playlog. */
  async librarySync(): Promise<string[]> {
    let subscriptions;
    try {
      subscriptions = await this.getSubscriptions();
    } catch (error) {
      if (error instanceof MaError && error.kind === 'RuntimeError') throw new MaError('ResourceTemporarilyUnavailable', `backoff 30 s (${error.message})`);
      throw error;
    }
    if (!subscriptions) return [];
    const feeds = new Set([...this.feeds, ...subscriptions.add]);
    for (const removed of subscriptions.remove) feeds.delete(removed);
    const found = await this.getEpisodeActions(this.timestampActions);
    let actions = found.actions;
    const newFeeds = [...feeds].filter((feed) => !this.feeds.has(feed));
    if (this.timestampActions && newFeeds.length > 0) {
      const history = await this.getEpisodeActions();
      actions = [...actions, ...history.actions.filter((action) => newFeeds.includes(action.podcast))];
    }
    const byPodcast = indexActions(actions);
    const library: string[] = [];
    for (const feed of feeds) {
      if (!this.catalog.has(feed)) continue;
      for (const { item, streamUrl, guid } of this.episodesOf(feed)) {
        const action = findAction(byPodcast.get(feed), guid, streamUrl);
        if (action?.kind === 'new' || action?.kind === 'play') this.writePlaylog(item, action);
      }
      library.push(feed);
    }
    this.feeds = feeds;
    this.timestampSubscriptions = subscriptions.timestamp;
    if (found.timestamp !== undefined) this.timestampActions = found.timestamp;
    return library;
  }

  /** `get_resume_position`: (fully played, position in ms), or the playlog's when nothing newer is found. */
  async resumePosition(feed: string, guidOrUrl: string): Promise<{ fullyPlayed: boolean; positionMs: number; source: 'server' | 'playlog' }> {
    const { actions } = await this.getEpisodeActions(this.timestampActions);
    const streamUrl = this.episodesOf(feed).find((episode) => (episode.guid ?? episode.streamUrl) === guidOrUrl)?.streamUrl;
    const action = findAction(indexActions(actions).get(feed), guidOrUrl, streamUrl);
    if (action?.kind === 'new' || action?.kind === 'delete') return { fullyPlayed: false, positionMs: 0, source: 'server' };
    if (action?.kind === 'play') return { fullyPlayed: action.position >= action.total, positionMs: Math.max(action.position * 1000, 0), source: 'server' };
    const logged = this.playlog.get(`${feed} ${guidOrUrl}`);
    return { fullyPlayed: logged?.fullyPlayed ?? false, positionMs: (logged?.secondsPlayed ?? 0) * 1000, source: 'playlog' };
  }

  /** `on_played`: the player reports a position (seconds; 0 when marked unplayed). Whether it was sent. */
  async played(feed: string, guidOrUrl: string, positionSeconds: number): Promise<boolean> {
    if (Date.now() - this.progressGuard <= GUARD_MS) return false;
    const episode = this.episodesOf(feed).find((candidate) => (candidate.guid ?? candidate.streamUrl) === guidOrUrl);
    if (!episode) throw new Error(`no episode ${guidOrUrl} in ${feed}`);
    this.playlog.set(episode.item, { fullyPlayed: positionSeconds >= episode.episode.durationSeconds, secondsPlayed: positionSeconds });
    try {
      await this.updateProgress(feed, episode.streamUrl, guidOrUrl, positionSeconds, episode.episode.durationSeconds);
    } catch (error) {
      // Logged at debug level and dropped: the position stays in the playlog only.
      if (error instanceof MaError && error.kind === 'RuntimeError') return false;
      throw error;
    }
    return true;
  }

  /** `mark_item_unplayed` from the UI: the provider is told position 0. */
  markUnplayed(feed: string, guidOrUrl: string): Promise<boolean> {
    return this.played(feed, guidOrUrl, 0);
  }
}
