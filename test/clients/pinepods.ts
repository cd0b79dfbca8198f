/**
 * A replica of PinePods's sync with an external gpodder server and with Nextcloud gPodder Sync
 * (PinePods: a self-hosted podcast server and web app; its server syncs one user's podcasts as a
 * client of those APIs), request for request, read from its source at
 * madeofpendletonwool/PinePods 4b8785b555aac67ece420478a83b3ee28b718c22 (July 2026) rather than
 * from documentation. Its Rust API (`rust-api/`) does the syncing; the Go `gpodder-api/` is its
 * own internal gpodder server, not replicated.
 *
 * - rust-api/src/handlers/settings.rs: `verify_gpodder_auth` (`POST {url}/api/2/auth/{u}/login.json`
 *   with Basic, any 2xx passes), `add_gpodder_server`, `initiate_nextcloud_login`,
 *   `add_nextcloud_server` and `poll_for_auth_completion`: the poll endpoint is posted a JSON body
 *   `{"token": …}` every 5 s for up to 20 minutes, 200 → the credentials, 404 → not yet, any other
 *   status fails; then `save_nextcloud_credentials` (no sync of its own).
 * - rust-api/src/database.rs (line numbers of that commit):
 *   - `create_gpodder_session_with_password` (15257): every request to a gpodder server is
 *     preceded by a login on a new client with a cookie store (reqwest's, which keeps the
 *     `sessionid` of an IP host); after a 2xx login the request goes with the cookie alone, else
 *     with Basic;
 *   - `add_gpodder_server` (14747) / `get_first_device_from_server`: the first device the server
 *     lists becomes the default device; then `call_gpodder_initial_full_sync` (15664) is spawned;
 *   - `create_device_via_gpodder_api` (26353): the device list, then `POST devices/{u}/{d}.json`
 *     `{caption: "PinePods Internal Device <last part of the name>", type: "server"}`;
 *   - `call_gpodder_service_sync` (15361): devices; each device's subscriptions `?since=`; the
 *     episode actions `?since=` (no device), next page only after a page of 25,000; adds and
 *     removes applied; the local subscription delta against a snapshot (echoes of what was just
 *     downloaded left out) uploaded to the default device; the local actions since the last sync
 *     uploaded; then `update_last_sync_timestamp` (27060): **its own clock** (`Utc::now()`, unix
 *     seconds at the next sync), taken after the uploads — the answers' `timestamp`s are used only
 *     to page;
 *   - `apply_remote_episode_actions` (16341): `play` only (lower case); needs `episode`, `action`,
 *     an integer `position` (`as_i64`) and a `timestamp` (integer seconds, RFC 3339, or
 *     `%Y-%m-%dT%H:%M:%S` exactly); the episode found by its media URL among the user's podcasts
 *     (no guid); within 60 s of its duration it is marked completed (`mark_episode_completed`:
 *     history at the duration, dated **now**), else `update_episode_progress`: the listened
 *     duration only grows (`GREATEST`) and the history is dated **the action's time**;
 *   - `get_user_episode_actions_since` (27104): every episode with a history row (or downloaded)
 *     whose history date is after the cursor: `play` (listened > 0; `started` 0, `position`,
 *     `total` when the duration is known), `download` or `new`; timestamps `to_rfc3339()`
 *     (`…+00:00`); keys in serde_json's order (sorted); no `device`, no `guid`;
 *   - `get_user_podcast_feeds` (16225): only http(s) feeds without credentials are uploaded;
 *   - `sync_with_nextcloud_for_user` (27266, both the scheduled and the "sync now" Nextcloud
 *     sync): Basic with the login name and app password; `subscriptions?since=` and
 *     `episode_action?since=` its own clock (0 at first), adds and removes applied as they come,
 *     actions through `process_nextcloud_episode_action` (27455): `play`/`download`/`delete` in
 *     lower case only; `play` → `save_episode_history`, which writes columns PinePods's schema
 *     lacks (`episodecompleted`, `episodeprogress`: database_functions/migration_definitions.py
 *     creates `UserEpisodeHistory` without them), so on PostgreSQL it fails, logged; `download` →
 *     marked completed; then the delta upload (`subscription_change/create`) and the local actions
 *     since the last sync (`episode_action/create`), then its own clock;
 *   - `call_nextcloud_initial_full_sync` (15875): reached only from the force-sync handler
 *     (handlers/sync.rs), which passes the *stored, encrypted* token as the password.
 * - rust-api/src/services/scheduler.rs: the sync runs with the podcast refresh, every 30 minutes
 *   (`PINEPODS_REFRESH_CRON`); handlers/refresh.rs: external gpodder through `gpodder_sync` (the
 *   default device, an error without one), Nextcloud through `sync_with_nextcloud_for_user`;
 *   handlers/sync.rs `gpodder_sync` ("sync now") through `refresh_gpodder_subscription_background`,
 *   whose device for an external server is `pinepods-internal-{user id}` (it looks in a table only
 *   internal sync fills). The web UI (web/src/components/setting_components/nextcloud_options.rs)
 *   runs a refresh with sync right after either provider is added.
 * - Errors: a non-2xx download is skipped (the devices list's ends the sync), an upload's only
 *   logged; an answer that is not JSON ends the sync with an error (no new cursor); the cursor
 *   advances whatever the uploads answered.
 * - HTTP (reqwest 0.13 with cookie_store 0.22, rust-api/Cargo.lock): no User-Agent, `accept`
 *   any type, Basic in UTF-8, redirects followed; the cookie store keeps host-only cookies of IP
 *   hosts and sends a `Secure` one over https only. serde_json reads numbers with a fraction or
 *   exponent as f64, which `as_i64` refuses (so does the replica: {@link parseSerdeJson}).
 *
 * Not replicated: feed fetching (a catalog stands for the feeds), the database (fields here: one
 * user, PostgreSQL's behaviour; listen dates in milliseconds where PostgreSQL keeps
 * microseconds), Fernet encryption (the stored token is a stand-in string), the internal gpodder
 * server and the "both" sync type, YouTube channels, the statistics page, the spawned initial sync
 * racing the UI's first sync (here one after the other), tracing (warnings collected as text),
 * network failures (none is injected: a refused request ends the replica's sync, where PinePods
 * skips a refused download and logs a refused upload).
 * `gpodder_force_sync` in database.rs and `sync_with_nextcloud` (16898) are not called by any
 * handler (the force handler of the same name runs the initial full syncs).
 */
import http from 'node:http';
import { CookieJar } from './okhttp.js';
import type { Exchange } from './okhttp.js';

export const PINEPODS_COMMIT = '4b8785b555aac67ece420478a83b3ee28b718c22';
/** `MAX_ACTIONS_PER_BATCH`: a download page this full asks for the next. */
export const PINEPODS_PAGE = 25_000;
/** A remote play this close to the end (seconds) marks the episode completed. */
const COMPLETE_WITHIN_S = 60;
const NEXTCLOUD_PREFIX = '/index.php/apps/gpoddersync';

// ---- serde_json ---------------------------------------------------------------------------------

/** A JSON number written with a fraction or an exponent: serde_json's f64, which `as_i64` refuses. */
export class JsonFloat {
  constructor(readonly value: number) {}
}
/** The key a float is wrapped in while parsing: `\u0000f64` (no JSON text of a server has it). */
const FLOAT_KEY = '\u0000f64';

/**
 * `serde_json::from_str::<Value>`: JSON.parse, except that numbers with a fraction or exponent
 * (`12.0`, `1e3`) stay floats ({@link JsonFloat}), as serde_json keeps them.
 */
export function parseSerdeJson(text: string): unknown {
  let marked = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      marked += c;
      if (c === '\\') marked += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      marked += c;
      continue;
    }
    const number = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if ((c === '-' || (c >= '0' && c <= '9')) && number) {
      marked += number[1] !== undefined || number[2] !== undefined ? `{"\\u0000f64":${number[0]}}` : number[0];
      i += number[0].length - 1;
      continue;
    }
    marked += c;
  }
  return JSON.parse(marked, (_key, value: unknown) =>
    typeof value === 'object' && value !== null && FLOAT_KEY in value ? new JsonFloat((value as Record<string, number>)[FLOAT_KEY]!) : value,
  );
}

const asObject = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonFloat) ? (value as Record<string, unknown>) : undefined;
/** `Value::as_str`. */
const asStr = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
/** `Value::as_i64`: integers only (a float, even 12.0, is None). */
export const asI64 = (value: unknown): number | undefined => (typeof value === 'number' && Number.isInteger(value) ? value : undefined);
/** `Value::as_array`. */
const asArray = (value: unknown): unknown[] | undefined => (Array.isArray(value) ? value : undefined);
/** `v["key"]` / `v.get("key")`: Null (undefined here) when not an object or absent. */
const field = (value: unknown, key: string): unknown => asObject(value)?.[key];
/** The strings of an array field, others skipped (`filter_map(as_str)`); none when it is not an array. */
const strings = (value: unknown): string[] => (asArray(value) ?? []).flatMap((item) => (typeof item === 'string' ? [item] : []));
/** `serde_json::json!` without `preserve_order`: a BTreeMap, keys sorted. */
function sortedObject(entries: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entries).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

// ---- chrono ---------------------------------------------------------------------------------------

/** `DateTime<Utc>::to_rfc3339()`: `+00:00`, the fraction only when there is one (milliseconds here). */
export function toRfc3339(ms: number): string {
  const iso = new Date(ms).toISOString();
  const fraction = iso.slice(19, 23) === '.000' ? '' : iso.slice(19, 23);
  return `${iso.slice(0, 19)}${fraction}+00:00`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const NAIVE = /^(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})$/;

function validDate(y: string, mo: string, d: string, h: string, mi: string, s: string): boolean {
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  return date.getUTCMonth() === Number(mo) - 1 && date.getUTCDate() === Number(d) && Number(h) < 24 && Number(mi) < 60 && Number(s) < 60;
}

/**
 * The action time `apply_remote_episode_actions` reads (epoch ms), or undefined (the action is
 * then skipped): integer unix seconds, RFC 3339 (`parse_from_rfc3339`), or exactly
 * `%Y-%m-%dT%H:%M:%S` (`NaiveDateTime::parse_from_str`, UTC): a fraction without a zone fails both.
 */
export function pinePodsActionTime(value: unknown, nowMs: number): number | undefined {
  const seconds = asI64(value);
  if (seconds !== undefined) {
    const ms = seconds * 1000;
    // `DateTime::from_timestamp(..).unwrap_or_else(Utc::now)`: out of chrono's range, now.
    return Math.abs(ms) <= 8.64e15 ? ms : nowMs;
  }
  const text = asStr(value);
  if (text === undefined) return undefined;
  const rfc = RFC3339.exec(text);
  if (rfc && validDate(rfc[1]!, rfc[2]!, rfc[3]!, rfc[4]!, rfc[5]!, rfc[6]!)) {
    const zone = rfc[8]!.toUpperCase();
    return Date.parse(`${rfc[1]}-${rfc[2]}-${rfc[3]}T${rfc[4]}:${rfc[5]}:${rfc[6]}${(rfc[7] ?? '').slice(0, 4)}${zone}`);
  }
  const naive = NAIVE.exec(text);
  if (naive && validDate(naive[1]!, naive[2]!, naive[3]!, naive[4]!, naive[5]!, naive[6]!)) {
    const [, y, mo, d, h, mi, s] = naive.map(Number) as number[];
    return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  }
  return undefined;
}

// ---- reqwest --------------------------------------------------------------------------------------

export interface ReqwestResponse {
  readonly status: number;
  readonly body: string;
}
const isSuccess = (response: ReqwestResponse) => response.status >= 200 && response.status < 300;

export class ReqwestError extends Error {
  override readonly name = 'ReqwestError';
}

/** Every request PinePods sends, whichever of its clients sends it, and hooks a test runs before one. */
export class Wire {
  readonly log: Exchange[] = [];
  private readonly hooks: { when: (method: string, url: URL) => boolean; run: () => Promise<unknown> }[] = [];

  /** Before the next request matching `when` goes out, `run` runs (another app syncing mid-sync, say). */
  beforeNext(when: (method: string, url: URL) => boolean, run: () => Promise<unknown>): void {
    this.hooks.push({ when, run });
  }

  async send(method: string, url: URL, headers: Record<string, string>, body: string | undefined) {
    const hook = this.hooks.findIndex((candidate) => candidate.when(method, url));
    if (hook >= 0) await this.hooks.splice(hook, 1)[0]!.run();
    const answer = await new Promise<{ status: number; setCookies: string[]; location: string | undefined; body: string }>((resolve, reject) => {
      // node:http adds no User-Agent, as reqwest (which sends none unless told).
      const request = http.request(url, { method, headers, agent: false }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            setCookies: response.headers['set-cookie'] ?? [],
            location: response.headers.location,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      });
      request.on('error', (error) => reject(new ReqwestError(`error sending request for url (${url.href}): ${error.message}`)));
      request.end(body);
    });
    this.log.push({ method, url: url.href, requestHeaders: headers, requestBody: body, status: answer.status, responseBody: answer.body });
    return answer;
  }
}

/** A `reqwest::Client`: `Client::new()`, or with `.cookie_provider(jar)`. */
export class ReqwestClient {
  private readonly jar: CookieJar | undefined;

  constructor(
    private readonly wire: Wire,
    options: { cookieStore?: boolean } = {},
  ) {
    this.jar = options.cookieStore ? new CookieJar() : undefined;
  }

  /** `.basic_auth(u, Some(p))` (UTF-8), `.json(&body)`, `.query(&[…])`; redirects followed (10 at most). */
  async send(
    method: 'GET' | 'POST',
    url: string,
    options: { basic?: readonly [string, string]; json?: unknown; query?: Record<string, string> } = {},
  ): Promise<ReqwestResponse> {
    let target = new URL(url);
    if (options.query) for (const [key, value] of Object.entries(options.query)) target.searchParams.append(key, value);
    let currentMethod: string = method;
    let body = options.json === undefined ? undefined : JSON.stringify(options.json);
    for (let redirects = 0; ; redirects++) {
      const headers: Record<string, string> = { accept: '*/*' };
      if (options.basic) headers['authorization'] = `Basic ${Buffer.from(`${options.basic[0]}:${options.basic[1]}`, 'utf8').toString('base64')}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (currentMethod === 'POST') headers['content-length'] = String(Buffer.byteLength(body ?? ''));
      const cookie = this.jar?.header(target);
      if (cookie !== undefined) headers['cookie'] = cookie;
      const answer = await this.wire.send(currentMethod, target, headers, body);
      // cookie_store sends a `Secure` cookie over https only: over http it might as well not be kept.
      this.jar?.store(target, target.protocol === 'https:' ? answer.setCookies : answer.setCookies.filter((cookie) => !/;\s*secure\s*(;|$)/i.test(cookie)));
      if ([301, 302, 303, 307, 308].includes(answer.status) && answer.location !== undefined && redirects < 10) {
        target = new URL(answer.location, target);
        if (answer.status <= 303 && currentMethod === 'POST') {
          currentMethod = 'GET';
          body = undefined;
        }
        continue;
      }
      return { status: answer.status, body: answer.body };
    }
  }
}

// ---- PinePods -------------------------------------------------------------------------------------

export interface PinePodsEpisode {
  readonly url: string;
  readonly guid: string;
  /** `Episodes.episodeduration`, seconds; null when the feed gives none. */
  readonly durationSeconds: number | null;
}
export type PinePodsCatalog = ReadonlyMap<string, readonly PinePodsEpisode[]>;

/** `AppError`'s kinds PinePods's sync raises. */
export class PinePodsError extends Error {
  override readonly name = 'PinePodsError';
  constructor(
    readonly kind: 'Internal' | 'BadRequest' | 'Unauthorized' | 'Database',
    message: string,
  ) {
    super(`${kind}: ${message}`);
  }
}

interface EpisodeRow {
  readonly feed: string;
  readonly guid: string;
  readonly duration: number | null;
  completed: boolean;
}
/** `UserEpisodeHistory`: seconds listened and the date of the row (epoch ms). */
export interface HistoryRow {
  listenDuration: number;
  listenDate: number;
}

interface SyncSettings {
  readonly type: 'external' | 'nextcloud';
  /** `gpodderurl` as the user typed it. */
  readonly url: string;
  readonly loginName: string;
  /** The password or app password (decrypted). */
  readonly password: string;
  /** `defaultgpodderdevice`. */
  defaultDevice: string | undefined;
}

interface GpodderSession {
  readonly client: ReqwestClient;
  readonly authenticated: boolean;
}

export interface NextcloudLoginStart {
  readonly login: string;
  readonly poll: { readonly token: string; readonly endpoint: string };
}

/** One PinePods user (user id 1 by default) on a PinePods server whose clock is `clock`. */
export class PinePods {
  readonly wire = new Wire();
  /** What PinePods logs at warn or error level during syncs. */
  readonly warnings: string[] = [];
  /** `Users.lastsynctime` (epoch ms), PinePods's own clock at the end of its last sync. */
  lastSyncTime: number | undefined;
  settings: SyncSettings | undefined;
  private readonly podcasts = new Map<string, { readonly credentials: boolean }>();
  private readonly episodes = new Map<string, EpisodeRow>();
  readonly history = new Map<string, HistoryRow>();
  private readonly downloaded = new Set<string>();
  /** `GpodderSubscriptionSnapshot` by sync target. */
  private readonly snapshots = new Map<string, Set<string>>();
  private readonly userId: number;
  private readonly clock: () => number;

  constructor(
    private readonly catalog: PinePodsCatalog,
    options: { userId?: number; clock?: () => number } = {},
  ) {
    this.userId = options.userId ?? 1;
    this.clock = options.clock ?? (() => Date.now());
  }

  private now(): number {
    return this.clock();
  }

  private warn(message: string): void {
    this.warnings.push(message);
  }

  // ---- the library -------------------------------------------------------------------------------

  get feeds(): string[] {
    return [...this.podcasts.keys()];
  }

  /** Seconds listened (`listenduration`), undefined without a history row. */
  position(episodeUrl: string): number | undefined {
    return this.history.get(episodeUrl)?.listenDuration;
  }

  completed(episodeUrl: string): boolean {
    return this.episodes.get(episodeUrl)?.completed ?? false;
  }

  /** A podcast added from the UI (its episodes from the feed). `credentials`: a private feed. */
  subscribe(feed: string, options: { credentials?: boolean } = {}): void {
    const episodes = this.catalog.get(feed);
    if (!episodes) throw new PinePodsError('Internal', `Failed to fetch feed ${feed}`);
    if (this.podcasts.has(feed)) return;
    this.podcasts.set(feed, { credentials: options.credentials ?? false });
    for (const episode of episodes) this.episodes.set(episode.url, { feed, guid: episode.guid, duration: episode.durationSeconds, completed: false });
  }

  /** `remove_podcast_by_url`: the podcast, its episodes and their history go. */
  unsubscribe(feed: string): void {
    if (!this.podcasts.delete(feed)) return;
    for (const [url, episode] of [...this.episodes]) {
      if (episode.feed !== feed) continue;
      this.episodes.delete(url);
      this.history.delete(url);
      this.downloaded.delete(url);
    }
  }

  private mustFind(episodeUrl: string): EpisodeRow {
    const episode = this.episodes.get(episodeUrl);
    if (!episode) throw new Error(`no episode ${episodeUrl} in PinePods`);
    return episode;
  }

  /** The player reports seconds listened (`record_listen_duration`): kept only when greater, dated now. */
  listen(episodeUrl: string, seconds: number): void {
    this.mustFind(episodeUrl);
    const row = this.history.get(episodeUrl);
    const value = Math.trunc(seconds);
    if (value < 0) return;
    if (!row) this.history.set(episodeUrl, { listenDuration: value, listenDate: this.now() });
    else if (value > row.listenDuration) Object.assign(row, { listenDuration: value, listenDate: this.now() });
  }

  /** `mark_episode_completed`: completed, the history at the duration, dated now (nothing without a duration). */
  markCompleted(episodeUrl: string): void {
    const episode = this.mustFind(episodeUrl);
    if (episode.duration === null) return;
    episode.completed = true;
    this.history.set(episodeUrl, { listenDuration: episode.duration, listenDate: this.now() });
  }

  /** `mark_episode_uncompleted`: not completed, an existing history row back to 0, dated now. */
  markUncompleted(episodeUrl: string): void {
    this.mustFind(episodeUrl).completed = false;
    const row = this.history.get(episodeUrl);
    if (row) Object.assign(row, { listenDuration: 0, listenDate: this.now() });
  }

  /** A server-side download (`DownloadedEpisodes`). */
  download(episodeUrl: string): void {
    this.mustFind(episodeUrl);
    this.downloaded.add(episodeUrl);
  }

  /** `add_podcast_from_url`: Ok when it is there already; a feed that cannot be fetched is an error. */
  private addPodcastFromUrl(feed: string): void {
    if (this.podcasts.has(feed)) return;
    this.subscribe(feed);
  }

  /** `get_user_podcast_feeds`: http(s) feeds without credentials. */
  private syncableFeeds(): string[] {
    return [...this.podcasts].filter(([feed, { credentials }]) => !credentials && /^https?:\/\//.test(feed)).map(([feed]) => feed);
  }

  /** `get_user_episode_actions_since`: newest first, dated after `since` (epoch ms). */
  localActionsSince(since: number): Record<string, unknown>[] {
    const rows = [...this.episodes].flatMap(([url, episode]) => {
      const history = this.history.get(url);
      if (!history && !this.downloaded.has(url)) return [];
      const date = history?.listenDate ?? 0;
      return date > since ? [{ url, episode, history, date }] : [];
    });
    rows.sort((a, b) => b.date - a.date);
    return rows.map(({ url, episode, history, date }) => {
      const action = history !== undefined && history.listenDuration > 0 ? 'play' : this.downloaded.has(url) ? 'download' : 'new';
      const fields: Record<string, unknown> = { podcast: episode.feed, episode: url, action, timestamp: toRfc3339(date) };
      if (action === 'play' && episode.duration !== null) Object.assign(fields, { started: 0, position: history!.listenDuration, total: episode.duration });
      return sortedObject(fields);
    });
  }

  // ---- setting up ----------------------------------------------------------------------------------

  private requireSettings(type: SyncSettings['type']): SyncSettings {
    if (this.settings?.type !== type) throw new PinePodsError('BadRequest', `${type} sync not configured`);
    return this.settings;
  }

  /** `verify_gpodder_auth`: a login on a plain client. */
  async verifyGpodderAuth(url: string, username: string, password: string): Promise<void> {
    const response = await new ReqwestClient(this.wire).send('POST', `${url.replace(/\/+$/, '')}/api/2/auth/${username}/login.json`, {
      basic: [username, password],
    });
    if (!isSuccess(response)) throw new PinePodsError('Unauthorized', 'Authentication failed');
  }

  /**
   * The UI's "add gPodder server": verified, then `add_gpodder_server` (the first listed device is
   * the default; the initial full sync, spawned, is awaited here), then the refresh the UI starts.
   */
  async connectGpodder(url: string, username: string, password: string): Promise<void> {
    await this.verifyGpodderAuth(url, username, password);
    let device: string | undefined;
    try {
      device = await this.firstDeviceFromServer(url, username, password);
    } catch (error) {
      this.warn(`Could not get default device from external GPodder server: ${(error as Error).message}`);
    }
    this.settings = { type: 'external', url, loginName: username, password, defaultDevice: device };
    if (device !== undefined) {
      try {
        await this.gpodderInitialFullSync(device);
      } catch (error) {
        this.warn(`Initial GPodder full sync failed during external server setup: ${(error as Error).message}`);
      }
    }
    try {
      await this.scheduledSync();
    } catch (error) {
      this.warn(`gPodder sync failed: ${(error as Error).message}`);
    }
  }

  private async firstDeviceFromServer(url: string, username: string, password: string): Promise<string> {
    const session = await this.session(url, username, password);
    const response = await this.onSession(session, 'GET', `${url.replace(/\/+$/, '')}/api/2/devices/${username}.json`, [username, password]);
    if (!isSuccess(response)) throw new PinePodsError('Internal', `Failed to get devices from external server: ${response.status}`);
    const id = asStr(field(asArray(this.parse(response.body, 'Failed to parse devices'))?.[0], 'id'));
    if (id === undefined) throw new PinePodsError('Internal', 'No devices found on external GPodder server');
    return id;
  }

  /** The UI's "create device" (`create_device_via_gpodder_api`): Basic on both requests, over a logged-in client. */
  async createDevice(name: string): Promise<void> {
    const { url, loginName, password } = this.requireSettings('external');
    const base = url.replace(/\/+$/, '');
    const session = await this.session(url, loginName, password);
    const list = await session.client.send('GET', `${base}/api/2/devices/${loginName}.json`, { basic: [loginName, password] });
    if (isSuccess(list)) {
      let devices: unknown;
      try {
        devices = this.parse(list.body, '');
      } catch {
        devices = undefined;
      }
      if (asArray(devices)?.some((device) => asStr(field(device, 'id')) === name)) return;
    } else this.warn(`Failed to fetch device list: ${list.status}`);
    const created = await session.client.send('POST', `${base}/api/2/devices/${loginName}/${name}.json`, {
      basic: [loginName, password],
      json: sortedObject({ caption: `PinePods Internal Device ${name.split('-').at(-1)}`, type: 'server' }),
    });
    if (!isSuccess(created)) throw new PinePodsError('Internal', `Failed to create device: ${created.status} - ${created.body}`);
  }

  /** `gpodder_set_default_device_by_name` for an external server: only `Users.defaultgpodderdevice`. */
  setDefaultDevice(name: string): void {
    this.requireSettings('external').defaultDevice = name;
  }

  /** `initiate_nextcloud_login`: Login Flow v2 started; the UI opens `login` in a new tab. */
  async initiateNextcloudLogin(url: string): Promise<NextcloudLoginStart> {
    const response = await new ReqwestClient(this.wire).send('POST', `${url.replace(/\/+$/, '')}/index.php/login/v2`);
    if (!isSuccess(response)) throw new PinePodsError('Internal', 'Nextcloud login initiation failed');
    return this.parse(response.body, 'Failed to parse Nextcloud response') as NextcloudLoginStart;
  }

  /**
   * The UI's "add Nextcloud server": the flow started, the login page opened (`approve`, the
   * user's part), then `add_nextcloud_server`'s background poll; the credentials saved, then the
   * refresh the UI starts. Polls every 5 s for 20 minutes (`pollIntervalMs`/`timeoutMs` here).
   */
  async connectNextcloud(
    url: string,
    approve: (loginUrl: string) => Promise<unknown>,
    options: { pollIntervalMs?: number; timeoutMs?: number } = {},
  ): Promise<{ polls: number }> {
    const started = await this.initiateNextcloudLogin(url);
    // `remove_podcast_sync`: the settings reset before polling starts, while the user is still
    // on the login page (here the first poll comes before the user's part, the others after).
    this.settings = undefined;
    let approved = false;
    const client = new ReqwestClient(this.wire);
    const deadline = Date.now() + (options.timeoutMs ?? 20 * 60_000);
    for (let polls = 1; ; polls++) {
      let response: ReqwestResponse;
      try {
        response = await client.send('POST', started.poll.endpoint, { json: { token: started.poll.token } });
      } catch (error) {
        // "Connection error, retrying".
        this.warn(`Connection error, retrying: ${(error as Error).message}`);
        response = { status: 404, body: '' };
      }
      if (response.status === 200) {
        const credentials = this.parse(response.body, 'Failed to parse the poll answer');
        const appPassword = asStr(field(credentials, 'appPassword'));
        const loginName = asStr(field(credentials, 'loginName'));
        if (appPassword === undefined || loginName === undefined) throw new PinePodsError('Internal', 'Missing appPassword or loginName in credentials');
        this.settings = { type: 'nextcloud', url, loginName, password: appPassword, defaultDevice: undefined };
        await this.nextcloudSync().catch((error: unknown) => this.warn(`Nextcloud sync failed: ${(error as Error).message}`));
        return { polls };
      }
      if (response.status !== 404) throw new PinePodsError('Internal', `Polling for Nextcloud authentication failed with status ${response.status}`);
      if (Date.now() > deadline) throw new PinePodsError('Internal', 'Polling timeout reached');
      if (!approved) {
        approved = true;
        await approve(started.login);
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? 5_000));
    }
  }

  // ---- gpodder: requests ---------------------------------------------------------------------------

  private parse(body: string, context: string): unknown {
    try {
      return parseSerdeJson(body);
    } catch (error) {
      throw new PinePodsError('Internal', `${context}: ${(error as Error).message}`);
    }
  }

  /** `create_gpodder_session_with_password`: a login on a new client with a cookie store. */
  private async session(url: string, username: string, password: string): Promise<GpodderSession> {
    const client = new ReqwestClient(this.wire, { cookieStore: true });
    const authenticated = await client
      .send('POST', `${url.replace(/\/+$/, '')}/api/2/auth/${username}/login.json`, { basic: [username, password] })
      .then(isSuccess, () => false);
    if (!authenticated) this.warn('gPodder session authentication failed, will use basic auth');
    return { client, authenticated };
  }

  /** A request on a session: the cookie alone once logged in, else Basic. */
  private onSession(session: GpodderSession, method: 'GET' | 'POST', url: string, basic: readonly [string, string], json?: unknown): Promise<ReqwestResponse> {
    return session.client.send(method, url, { ...(session.authenticated ? {} : { basic }), ...(json === undefined ? {} : { json }) });
  }

  /** A request on a new session (what every request after the first of a sync does). */
  private async gpodderRequest(method: 'GET' | 'POST', path: string, json?: unknown): Promise<ReqwestResponse> {
    const { url, loginName, password } = this.settings!;
    const session = await this.session(url, loginName, password);
    return this.onSession(session, method, `${url.replace(/\/+$/, '')}${path}`, [loginName, password], json);
  }

  // ---- gpodder: syncs -----------------------------------------------------------------------------

  /** The scheduled sync and the pre-refresh sync (`gpodder_sync`): the default device, required. */
  async scheduledSync(): Promise<boolean> {
    const settings = this.requireSettings('external');
    if (settings.defaultDevice === undefined) {
      throw new PinePodsError('BadRequest', 'No default device configured for external GPodder sync. Please configure a default device.');
    }
    return this.gpodderServiceSync(settings.defaultDevice, false);
  }

  /** "Sync now" (`refresh_gpodder_subscription_background`): its device is `pinepods-internal-{id}`. */
  syncNow(): Promise<boolean> {
    this.requireSettings('external');
    return this.gpodderServiceSync(`pinepods-internal-${this.userId}`, false);
  }

  /** The force-sync button: the initial full sync again, to the default device (required). */
  async forceFullSync(): Promise<boolean> {
    if (this.settings?.type === 'nextcloud') {
      // handlers/sync.rs passes `settings.token`, the Fernet ciphertext, as the password.
      return this.nextcloudInitialFullSync('gAAAAABnFernetCiphertextOfTheAppPassword==');
    }
    const settings = this.requireSettings('external');
    if (settings.defaultDevice === undefined)
      throw new PinePodsError('BadRequest', 'No default device configured for external GPodder sync. Please configure a default device.');
    return this.gpodderInitialFullSync(settings.defaultDevice);
  }

  private async deviceIds(failure: (status: number) => boolean): Promise<string[] | false> {
    const { loginName } = this.settings!;
    const response = await this.gpodderRequest('GET', `/api/2/devices/${loginName}.json`);
    if (!isSuccess(response)) {
      this.warn(`Failed to get devices: ${response.status}`);
      return failure(response.status) ? false : [];
    }
    const devices = asArray(this.parse(response.body, 'Failed to parse devices'));
    if (!devices) this.warn('No devices found for user');
    return (devices ?? []).flatMap((device) => {
      const id = asStr(field(device, 'id'));
      return id === undefined ? [] : [id];
    });
  }

  /** Step 3 of both gpodder syncs: episode actions without a device, page after full page. */
  private async downloadActions(since: number): Promise<unknown[]> {
    const { loginName } = this.settings!;
    const actions: unknown[] = [];
    let current = since;
    for (;;) {
      const response = await this.gpodderRequest('GET', `/api/2/episodes/${loginName}.json?since=${current}`);
      if (!isSuccess(response)) {
        this.warn(`Episode actions request returned error: ${response.status}`);
        break;
      }
      const data = this.parse(response.body, 'Failed to parse episode actions response');
      const batch = asArray(field(data, 'actions')) ?? [];
      const next = asI64(field(data, 'timestamp')) ?? current;
      actions.push(...batch);
      if (batch.length < PINEPODS_PAGE) break;
      if (next > current) current = next;
      else {
        this.warn("Timestamp didn't advance, stopping pagination to avoid infinite loop");
        break;
      }
    }
    return actions;
  }

  /** An upload: a failure, answered or not, is only logged. */
  private async upload(label: string, send: () => Promise<ReqwestResponse>): Promise<void> {
    try {
      const response = await send();
      if (!isSuccess(response)) this.warn(`Failed to upload ${label}: ${response.status} - ${response.body}`);
    } catch (error) {
      if (!(error instanceof ReqwestError)) throw error;
      this.warn(`Failed to upload ${label}: ${error.message}`);
    }
  }

  private uploadActions(path: string, actions: readonly Record<string, unknown>[]): Promise<void> {
    return this.upload('episode actions', () =>
      this.settings!.type === 'nextcloud' ? this.nextcloudRequest('POST', path, undefined, actions) : this.gpodderRequest('POST', path, actions),
    );
  }

  /** `call_gpodder_service_sync`. */
  private async gpodderServiceSync(device: string, force: boolean): Promise<boolean> {
    const { url, loginName } = this.settings!;
    const devices = await this.deviceIds((status) => {
      if (force) throw new PinePodsError('Internal', `Force sync failed to get devices: ${status}`);
      return true;
    });
    if (devices === false) return false;
    const since = this.lastSyncTime;
    const sinceSeconds = since === undefined ? 0 : Math.floor(since / 1000);
    const added = new Set<string>();
    const removed = new Set<string>();
    for (const id of devices) {
      const response = await this.gpodderRequest('GET', `/api/2/subscriptions/${loginName}/${id}.json?since=${sinceSeconds}`);
      if (!isSuccess(response)) {
        this.warn(`Device ${id} returned error: ${response.status}`);
        continue;
      }
      const changes = this.parse(response.body, 'Failed to parse gPodder sync response');
      for (const feed of strings(field(changes, 'add'))) added.add(feed);
      for (const feed of strings(field(changes, 'remove'))) removed.add(feed);
    }
    const actions = await this.downloadActions(sinceSeconds);
    this.processSubscriptions([...added]);
    for (const feed of removed) this.unsubscribe(feed);
    this.applyRemoteEpisodeActions(actions);
    // Step 7: the local delta against the snapshot, echoes of this sync's downloads left out.
    const local = this.syncableFeeds();
    const snapshot = this.snapshots.get(url) ?? new Set<string>();
    const add = local.filter((feed) => !snapshot.has(feed) && !added.has(feed));
    const remove = [...snapshot].filter((feed) => !local.includes(feed) && !removed.has(feed));
    if (add.length > 0 || remove.length > 0) {
      await this.upload('subscriptions', () => this.gpodderRequest('POST', `/api/2/subscriptions/${loginName}/${device}.json`, sortedObject({ add, remove })));
    }
    this.snapshots.set(url, new Set(local));
    // Step 8: the local actions since the last sync, all of them at first.
    const mine = this.localActionsSince(since ?? 0);
    if (mine.length > 0) await this.uploadActions(`/api/2/episodes/${loginName}.json`, mine);
    this.lastSyncTime = this.now();
    return true;
  }

  /** `call_gpodder_initial_full_sync`. */
  private async gpodderInitialFullSync(device: string): Promise<boolean> {
    const { url, loginName } = this.settings!;
    const devices = await this.deviceIds(() => true);
    if (devices === false) return false;
    const added = new Set<string>();
    for (const id of devices) {
      const response = await this.gpodderRequest('GET', `/api/2/subscriptions/${loginName}/${id}.json?since=0`);
      if (!isSuccess(response)) {
        this.warn(`Failed to get subscriptions from device ${id}: ${response.status}`);
        continue;
      }
      for (const feed of strings(field(this.parse(response.body, 'Failed to parse gPodder sync response'), 'add'))) added.add(feed);
    }
    const actions = await this.downloadActions(0);
    this.processSubscriptions([...added]);
    this.applyRemoteEpisodeActions(actions);
    const local = this.syncableFeeds();
    if (local.length > 0) {
      await this.upload('subscriptions', () =>
        this.gpodderRequest('POST', `/api/2/subscriptions/${loginName}/${device}.json`, sortedObject({ add: local, remove: [] })),
      );
    }
    this.snapshots.set(url, new Set(local));
    const mine = this.localActionsSince(0);
    if (mine.length > 0) await this.uploadActions(`/api/2/episodes/${loginName}.json`, mine);
    this.lastSyncTime = undefined;
    return true;
  }

  /** `process_gpodder_subscriptions`: each feed added (fetched), failures logged. */
  private processSubscriptions(feeds: readonly string[]): void {
    for (const feed of feeds) {
      try {
        this.addPodcastFromUrl(feed);
      } catch (error) {
        this.warn(`Failed to add podcast ${feed}: ${(error as Error).message}`);
      }
    }
  }

  /** `apply_remote_episode_actions`: plays only. */
  private applyRemoteEpisodeActions(actions: readonly unknown[]): void {
    for (const action of actions) {
      const episodeUrl = asStr(field(action, 'episode'));
      const kind = asStr(field(action, 'action'));
      if (episodeUrl === undefined || kind !== 'play') continue;
      const timestamp = pinePodsActionTime(field(action, 'timestamp'), this.now());
      const position = asI64(field(action, 'position'));
      if (timestamp === undefined || position === undefined) continue;
      const episode = this.episodes.get(episodeUrl);
      if (!episode) continue;
      const duration = episode.duration ?? 0;
      if (duration > 0 && (position >= duration || duration - position <= COMPLETE_WITHIN_S)) this.markCompleted(episodeUrl);
      else {
        const row = this.history.get(episodeUrl);
        // `update_episode_progress`: GREATEST of the durations, the action's date.
        this.history.set(episodeUrl, { listenDuration: Math.max(row?.listenDuration ?? position, position), listenDate: timestamp });
      }
    }
  }

  // ---- Nextcloud -----------------------------------------------------------------------------------

  private nextcloudRequest(method: 'GET' | 'POST', path: string, query?: Record<string, string>, json?: unknown, password?: string): Promise<ReqwestResponse> {
    const { url, loginName, password: appPassword } = this.requireSettings('nextcloud');
    return new ReqwestClient(this.wire).send(method, `${url.replace(/\/+$/, '')}${NEXTCLOUD_PREFIX}${path}`, {
      basic: [loginName, password ?? appPassword],
      ...(query ? { query } : {}),
      ...(json === undefined ? {} : { json }),
    });
  }

  /** `sync_with_nextcloud_for_user`: the scheduled sync and "sync now" alike. */
  async nextcloudSync(): Promise<boolean> {
    const settings = this.requireSettings('nextcloud');
    const target = settings.url.replace(/\/+$/, '');
    const since = this.lastSyncTime;
    const query = { since: String(since === undefined ? 0 : Math.floor(since / 1000)) };
    let changes = false;
    const added = new Set<string>();
    const removed = new Set<string>();
    const subscriptions = await this.nextcloudRequest('GET', '/subscriptions', query);
    if (isSuccess(subscriptions)) {
      const data = this.parse(subscriptions.body, 'Failed to parse subscription response');
      for (const feed of strings(asArray(field(data, 'add')))) {
        added.add(feed);
        try {
          this.addPodcastFromUrl(feed);
          changes = true;
        } catch (error) {
          this.warn(`Failed to add podcast ${feed}: ${(error as Error).message}`);
        }
      }
      for (const feed of strings(asArray(field(data, 'remove')))) {
        removed.add(feed);
        this.unsubscribe(feed);
        changes = true;
      }
    }
    const episodeActions = await this.nextcloudRequest('GET', '/episode_action', query);
    if (isSuccess(episodeActions)) {
      const data = this.parse(episodeActions.body, 'Failed to parse episode actions response');
      for (const action of asArray(field(data, 'actions')) ?? []) {
        try {
          this.processNextcloudEpisodeAction(action);
          changes = true;
        } catch (error) {
          this.warn(`Failed to process episode action: ${(error as Error).message}`);
        }
      }
    }
    const local = this.syncableFeeds();
    const snapshot = this.snapshots.get(target) ?? new Set<string>();
    const add = local.filter((feed) => !snapshot.has(feed) && !added.has(feed));
    const remove = [...snapshot].filter((feed) => !local.includes(feed) && !removed.has(feed));
    if (add.length > 0 || remove.length > 0) {
      await this.upload('subscriptions', () => this.nextcloudRequest('POST', '/subscription_change/create', undefined, sortedObject({ add, remove })));
    }
    this.snapshots.set(target, new Set(local));
    const mine = this.localActionsSince(since ?? 0);
    if (mine.length > 0) await this.uploadActions('/episode_action/create', mine);
    this.lastSyncTime = this.now();
    return changes;
  }

  /** `process_nextcloud_episode_action`. */
  private processNextcloudEpisodeAction(action: unknown): void {
    const episodeUrl = asStr(field(action, 'episode'));
    if (episodeUrl === undefined) throw new PinePodsError('Internal', 'Missing episode URL in episode action');
    const kind = asStr(field(action, 'action'));
    if (kind === undefined) throw new PinePodsError('Internal', 'Missing action type in episode action');
    // `get_episode_id_by_url`: any user's episode with that URL.
    if (!this.episodes.has(episodeUrl)) {
      this.warn(`Episode not found for URL: ${episodeUrl}`);
      return;
    }
    if (kind === 'play') {
      if (asI64(field(action, 'position')) !== undefined) {
        // `save_episode_history` on PostgreSQL.
        throw new PinePodsError('Database', 'column "episodecompleted" of relation "UserEpisodeHistory" does not exist');
      }
    } else if (kind === 'download') this.markCompleted(episodeUrl);
    else if (kind === 'delete') this.history.delete(episodeUrl);
    // Any other action ("PLAY" as the Nextcloud app answers it included): "Unknown action type", Ok.
  }

  /** `call_nextcloud_initial_full_sync` (only the force button reaches it, with `password`). */
  private async nextcloudInitialFullSync(password: string): Promise<boolean> {
    const settings = this.requireSettings('nextcloud');
    const subscriptions = await this.nextcloudRequest('GET', '/subscriptions', undefined, undefined, password);
    if (!isSuccess(subscriptions)) {
      this.warn(`Failed to get Nextcloud subscriptions: ${subscriptions.status}`);
      return false;
    }
    const data = this.parse(subscriptions.body, 'Failed to parse Nextcloud subscriptions');
    const feeds = asArray(field(data, 'add')) ? strings(field(data, 'add')) : strings(data);
    const episodeActions = await this.nextcloudRequest('GET', '/episode_action', undefined, undefined, password);
    const actions = isSuccess(episodeActions)
      ? (asArray(field(this.parse(episodeActions.body, 'Failed to parse Nextcloud episode actions'), 'actions')) ?? [])
      : [];
    this.applyRemoteEpisodeActions(actions);
    this.processSubscriptions(feeds);
    const local = this.syncableFeeds();
    if (local.length > 0) await this.nextcloudRequest('POST', '/subscription_change/create', undefined, sortedObject({ add: local, remove: [] }), password);
    this.snapshots.set(settings.url.replace(/\/+$/, ''), new Set(local));
    const mine = this.localActionsSince(0);
    if (mine.length > 0) await this.nextcloudRequest('POST', '/episode_action/create', undefined, mine, password);
    this.lastSyncTime = undefined;
    return true;
  }
}
