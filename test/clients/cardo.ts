/**
 * A replica of Cardo's sync (cardo-podcast/cardo, the Tauri desktop podcast app), request for
 * request, read from its source at commit 723390b51cb1368794bcfb5b1543aa8ba85306dc (May 2026)
 * rather than from API documentation. Cardo's requests go through `@tauri-apps/plugin-http`
 * 2.5.7 (reqwest); the sync lives in its TypeScript front end:
 *
 * - src/sync/Nextcloud.ts `login`: `POST {url}/index.php/login/v2` with no body, where `url` is
 *   what the user typed cut at `index.php`; the answer is read as `{login, poll: {token,
 *   endpoint}}` (no status check: a non-JSON answer throws); `login` opened in the browser; then
 *   once a second `POST poll.endpoint` with `Content-Type: application/json` and the body
 *   `{"token": …}`: not ok means "poll again", ok is read for `loginName` and `appPassword`
 *   (`server` of the answer is ignored: the typed URL is kept). No timeout.
 * - src/sync/Nextcloud.ts `nextcloudProtocol`: every request `OCS-APIRequest: true` and Basic
 *   `user:appPassword` (btoa); GET `subscriptions?since=` and `episode_action?since=` with
 *   `since` in seconds (`0` at first), answers read as JSON with no status check; an action's
 *   `timestamp` is read as `new Date(timestamp + '+00:00')` (UTC without a zone expected: a
 *   zoned one gives NaN). POST `episode_action/create` (a JSON array, timestamps
 *   `toISOString()` cut at the '.': UTC without zone or fraction) and
 *   `subscription_change/create` (`{add, remove}`), both with a string body and no content type
 *   of its own, so the fetch `Request` adds `text/plain;charset=UTF-8`; not ok throws.
 * - src/sync/Gpodder.ts: the gpodder.net API, Basic on every request (UTF-8), no cookie kept
 *   in use: `POST /api/2/auth/{u}/login.json` (ok or not), `GET /api/2/devices/{u}.json`
 *   (devices normalised: entries without an `id`/`deviceid` string skipped), `POST
 *   /api/2/devices/{u}/{device}.json` `{caption, type: 'desktop'}` with the device id made of
 *   the typed name (lower case, blanks as '-', other characters dropped). Sync: `GET
 *   subscriptions/{u}/{device}.json?since=`, `GET episodes/{u}.json?since=&aggregated=true`
 *   (timestamps read by `new Date(ts)`, so a zone-less one is the machine's local time), `POST
 *   episodes/{u}.json` with `device` and `toISOString()` timestamps (milliseconds and `Z`),
 *   `POST subscriptions/{u}/{device}.json`; non-2xx on a POST throws, on a GET is parsed anyway.
 * - src/sync/Sync.tsx `sync(updateSubscriptions?)`: `since` = its own `lastSync` (its clock,
 *   milliseconds, set to `Date.now()` when a sync succeeded; 0 before) in seconds; subscriptions
 *   downloaded; each added URL not local is fetched and added (a feed that fails to load is
 *   skipped), each removed one that is local removed; the change it was called with (the one
 *   subscribe or unsubscribe, `{add: [], remove: [], ...}`) uploaded — only then: local feeds are
 *   never uploaded otherwise; actions downloaded, every `play` (any case) written to the history
 *   by episode URL; every history row changed after `lastSync` uploaded as a `play` (the row's
 *   `id`, `podcast`, `episode`, `position`, `total`, `timestamp`, plus `started` = position),
 *   the upload sent even when empty; any throw stops the sync, keeps `lastSync`, and shows the
 *   error. Syncs run from the sync button, at app start and at close (settings, off by
 *   default), and on each subscribe/unsubscribe (not awaited).
 * - src/DB/EpisodeState.ts `update`: positions and totals floored, position the smaller and
 *   total the larger of the two; a new episode URL inserted, a known one updated only if the
 *   stored timestamp is older and the position differs. Finished = position equal to total
 *   (`getCompleted`); marking played writes total/total, unplayed 0/duration.
 * - src-tauri/src/main.rs: the `episodes_history` table (id, podcast, episode unique,
 *   position, total, timestamp).
 *
 * Not replicated: feed parsing (a catalog stands for the feeds), the player, the encrypted
 * credential store, the UI. The User-Agent is not Cardo's (reqwest sends none by default; the
 * replica's HTTP client always sends one). A `NaN` timestamp is kept as NaN, which compares as
 * SQL's NULL does.
 */
import { HttpClient } from './okhttp.js';

export const CARDO_USER_AGENT = 'Cardo replica (tauri-plugin-http 2.5.7; Cardo sends no User-Agent of its own)';
/** What `new Request(url, {body: string})` adds when the caller sets no content type. */
export const FETCH_STRING_CONTENT_TYPE = 'text/plain;charset=UTF-8';

export type CardoProtocol = 'nextcloud' | 'gpodder';

/** ServerGpodderUpdate / GpodderUpdate (src/sync/index.d.ts). */
export interface CardoUpdate {
  podcast: string;
  episode: string;
  position: number;
  total: number;
  /** Epoch milliseconds once read. */
  timestamp: number;
  action: string;
}

/** A row of `episodes_history`. */
export interface HistoryRow {
  id: number;
  podcast: string;
  episode: string;
  position: number;
  total: number;
  timestamp: number;
}

export interface CardoCredentials {
  server: string;
  user: string;
  password: string;
  deviceName?: string;
}

export interface CardoGpodderDevice {
  id: string;
  caption?: string;
  type?: string;
  subscriptions?: number;
}

/** The browser's `JSON.parse` on `Response.json()`: a non-JSON body throws a SyntaxError. */
const json = (body: string): unknown => JSON.parse(body) as unknown;

/** Nextcloud.ts pullEpisodes' reading: `.actions.map`, the timestamp as UTC with '+00:00' appended. */
export function parseNextcloudActions(body: string): CardoUpdate[] {
  const answer = json(body) as { actions: Record<string, unknown>[] };
  return answer.actions.map((update) => ({ ...update, timestamp: new Date(`${update['timestamp'] as string}+00:00`).getTime() }) as unknown as CardoUpdate);
}

/** Gpodder.ts pullEpisodes' reading: `new Date(timestamp)` (a zone-less one is local time). */
export function parseGpodderActions(body: string): CardoUpdate[] {
  const answer = json(body) as { actions: Record<string, unknown>[] };
  return answer.actions.map((update) => ({ ...update, timestamp: new Date(update['timestamp'] as string).getTime() }) as unknown as CardoUpdate);
}

/** Both protocols: the subscription answer as it is; Sync.tsx iterates `add` and `remove` (throws unless iterable). */
export function parseSubscriptions(body: string): { add: string[]; remove: string[] } {
  const answer = json(body) as { add: string[]; remove: string[] };
  return { add: [...answer.add], remove: [...answer.remove] };
}

/** Gpodder.ts normalizeDeviceResponse. */
export function normalizeDevices(data: unknown): CardoGpodderDevice[] {
  if (!Array.isArray(data)) return [];
  const devices: CardoGpodderDevice[] = [];
  for (const device of data as unknown[]) {
    if (typeof device !== 'object' || device === null) continue;
    const record = device as Record<string, unknown>;
    const id = typeof record['id'] === 'string' ? record['id'] : typeof record['deviceid'] === 'string' ? record['deviceid'] : '';
    if (!id) continue;
    devices.push({
      id,
      caption: typeof record['caption'] === 'string' ? record['caption'] : undefined,
      type: typeof record['type'] === 'string' ? record['type'] : undefined,
      subscriptions: typeof record['subscriptions'] === 'number' ? record['subscriptions'] : undefined,
    });
  }
  return devices;
}

/** Gpodder.ts normalizeDeviceId. */
export function normalizeDeviceId(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/\s+/g, '-')
    .replace(/[^\w.-]/g, '')
    .replace(/^-+|-+$/g, '');
}

/** Nextcloud.ts pushEpisodes' timestamp: UTC, no zone, no fraction. */
export const nextcloudTimestamp = (ms: number) => new Date(ms).toISOString().split('.')[0]!;

export class Cardo {
  readonly http = new HttpClient(CARDO_USER_AGENT);
  private readonly catalog: ReadonlyMap<string, readonly string[]>;
  private readonly clock: () => number;
  protocol: CardoProtocol | undefined;
  creds: CardoCredentials | undefined;
  /** misc `lastSync`, milliseconds of its own clock. */
  lastSync = 0;
  status: 'standby' | 'synchronizing' | 'ok' | 'error' = 'standby';
  error = '';
  /** Feed URLs of its subscriptions. */
  private subscriptions: string[] = [];
  private readonly history = new Map<string, HistoryRow>();
  private nextId = 1;
  /** What each sync downloaded, parsed (for the tests). */
  readonly downloaded: CardoUpdate[][] = [];

  /** `catalog`: feed URL → its episodes' media URLs (what parsePodcastDetails would load). */
  constructor(options: { catalog: ReadonlyMap<string, readonly string[]>; clock?: () => number }) {
    this.catalog = options.catalog;
    this.clock = options.clock ?? (() => Date.now());
  }

  get feeds(): string[] {
    return [...this.subscriptions];
  }

  row(episodeUrl: string): HistoryRow | undefined {
    return this.history.get(episodeUrl);
  }

  /** getCompleted: position = total. */
  finished(episodeUrl: string): boolean {
    const row = this.history.get(episodeUrl);
    return row !== undefined && row.position === row.total;
  }

  // ---- the user --------------------------------------------------------------------------

  /** A feed added locally before sync is connected (no sync runs). */
  addLocalFeed(feed: string): void {
    if (!this.subscriptions.includes(feed)) this.subscriptions.push(feed);
  }

  /** PodcastPreview's subscribe button: the feed added, and (when logged in) `sync({add: [feed]})`. */
  async subscribe(feed: string): Promise<void> {
    this.addLocalFeed(feed);
    if (this.protocol) await this.sync({ add: [feed] });
  }

  async unsubscribe(feed: string): Promise<void> {
    this.subscriptions = this.subscriptions.filter((url) => url !== feed);
    if (this.protocol) await this.sync({ remove: [feed] });
  }

  /** AudioPlayer: `history.update(src, podcast, currentTime, duration)` (seconds). */
  play(feed: string, episodeUrl: string, positionSeconds: number, durationSeconds: number): void {
    this.update(episodeUrl, feed, positionSeconds, durationSeconds);
  }

  /** Episode.tsx: marked played writes total/total. */
  markPlayed(feed: string, episodeUrl: string, durationSeconds: number): void {
    this.update(episodeUrl, feed, durationSeconds, durationSeconds);
  }

  /** EpisodeState.ts update. */
  private update(episodeUrl: string, podcastUrl: string, position: number, total: number, timestamp?: number): void {
    position = Math.floor(position);
    total = Math.floor(total);
    const ts = timestamp ?? this.clock();
    const pos = Math.min(position, total);
    const tot = Math.max(position, total);
    const row = this.history.get(episodeUrl);
    if (row === undefined) {
      this.history.set(episodeUrl, { id: this.nextId++, podcast: podcastUrl, episode: episodeUrl, position: pos, total: tot, timestamp: ts });
    } else if (row.timestamp < ts && row.position !== pos) {
      Object.assign(row, { position: pos, total: tot, timestamp: ts });
    }
  }

  // ---- connecting ------------------------------------------------------------------------

  /**
   * NextcloudSettings → Nextcloud.ts login: start the flow, the user in the browser, polls every
   * `pollMs` until one is ok. Cardo then only marks itself logged in: no sync unless
   * "sync after app start" is on (off by default), which `syncAfterLogin` stands for.
   */
  async loginNextcloud(
    url: string,
    browser: (login: string) => Promise<unknown>,
    options: { pollMs?: number; syncAfterLogin?: boolean; maxPolls?: number } = {},
  ): Promise<void> {
    const baseUrl = url.split('index.php')[0]!;
    const started = await this.http.execute('POST', `${baseUrl}/index.php/login/v2`);
    const {
      login,
      poll: { token, endpoint },
    } = json(started.body) as { login: string; poll: { token: string; endpoint: string } };
    // shell.open(login): the browser runs while the app polls.
    const user = browser(login);
    // Cardo polls forever; the replica gives up after `maxPolls` (a test must not hang).
    for (let polls = 0; ; polls++) {
      if (polls >= (options.maxPolls ?? Infinity)) throw new Error(`no credentials after ${polls} polls`);
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
      const response = await this.http.execute('POST', endpoint, { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
      if (response.status < 200 || response.status > 299) continue;
      const { loginName, appPassword } = json(response.body) as { loginName: string; appPassword: string };
      this.creds = { server: url.split('index.php')[0] ?? '', user: loginName, password: appPassword };
      this.protocol = 'nextcloud';
      break;
    }
    await user;
    if (options.syncAfterLogin) await this.sync();
  }

  /**
   * GpodderSettings: login, the device list, then the chosen device (an existing id) or a new
   * one (created from the typed name). As with Nextcloud, no sync follows unless asked.
   */
  async loginGpodder(
    server: string,
    user: string,
    password: string,
    device: { existing: string } | { create: string },
    options: { syncAfterLogin?: boolean } = {},
  ): Promise<CardoGpodderDevice[]> {
    const auth = this.basic(user, password);
    const login = await this.http.execute('POST', this.gpodderUrl(server, `/api/2/auth/${encodeURIComponent(user)}/login.json`), {
      headers: { Authorization: auth },
    });
    if (login.status < 200 || login.status > 299) throw new Error('login_failed');
    const listed = await this.http.execute('GET', this.gpodderUrl(server, `/api/2/devices/${encodeURIComponent(user)}.json`), {
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
    });
    if (listed.status < 200 || listed.status > 299) throw new Error('Failed to load gpodder devices');
    const devices = normalizeDevices(json(listed.body));
    let deviceName: string;
    if ('existing' in device) {
      deviceName = device.existing;
    } else {
      deviceName = normalizeDeviceId(device.create);
      const created = await this.http.execute(
        'POST',
        this.gpodderUrl(server, `/api/2/devices/${encodeURIComponent(user)}/${encodeURIComponent(deviceName)}.json`),
        {
          headers: { Authorization: auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({ caption: device.create.trim() || deviceName, type: 'desktop' }),
        },
      );
      if (created.status < 200 || created.status > 299) throw new Error('Failed to create gpodder device');
    }
    this.creds = { server, user, password, deviceName };
    this.protocol = 'gpodder';
    if (options.syncAfterLogin) await this.sync();
    return devices;
  }

  // ---- the sync (Sync.tsx) ---------------------------------------------------------------

  async sync(updateSubscriptions?: { add?: string[]; remove?: string[] }): Promise<void> {
    try {
      if (!this.protocol || !this.creds) throw new Error('Not connected to a sync provider');
      this.error = '';
      this.status = 'synchronizing';
      const lastSync = Math.floor(this.lastSync / 1000);

      const serverSubs = await this.pullSubscriptions(lastSync);
      const local = [...this.subscriptions];
      for (const feedUrl of serverSubs.add) {
        // parsePodcastDetails: a feed that fails to load is skipped (logged).
        if (!local.includes(feedUrl) && this.catalog.has(feedUrl)) this.subscriptions.push(feedUrl);
      }
      for (const feedUrl of serverSubs.remove) {
        if (local.includes(feedUrl)) this.subscriptions = this.subscriptions.filter((url) => url !== feedUrl);
      }
      if (updateSubscriptions !== undefined) await this.pushSubscriptions({ add: [], remove: [], ...updateSubscriptions });

      const serverUpdates = await this.pullEpisodes(lastSync);
      this.downloaded.push(serverUpdates);
      for (const update of serverUpdates) {
        if (update.action.toUpperCase() !== 'PLAY') continue;
        this.update(update.episode, update.podcast, update.position, update.total, update.timestamp);
      }

      const localUpdates = [...this.history.values()].filter((row) => row.timestamp > lastSync * 1000);
      await this.pushEpisodes(
        localUpdates.map((row) => ({ ...row, position: row.position, started: row.position, total: row.total, action: 'play', timestamp: row.timestamp })),
      );

      this.lastSync = this.clock();
      this.status = 'ok';
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
      this.status = 'error';
    }
  }

  private basic(user: string, password: string): string {
    return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  }

  /** Gpodder.ts buildApiUrl. */
  private gpodderUrl(server: string, apiPath: string, params: Record<string, string> = {}): string {
    const normalized = /^https?:\/\//i.test(server.trim()) ? server.trim() : `https://${server.trim()}`;
    const base = new URL(normalized);
    const url = new URL(base.href);
    url.pathname = `${base.pathname.replace(/\/+$/, '')}${apiPath}`.replace(/\/{2,}/g, '/');
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return url.href;
  }

  private headers(): Record<string, string> {
    const { user, password } = this.creds!;
    return this.protocol === 'nextcloud'
      ? { 'OCS-APIRequest': 'true', Authorization: this.basic(user, password) }
      : { Authorization: this.basic(user, password), 'Content-Type': 'application/json' };
  }

  private async pullSubscriptions(since: number): Promise<{ add: string[]; remove: string[] }> {
    const { server, user, deviceName } = this.creds!;
    if (this.protocol === 'nextcloud') {
      const r = await this.http.execute('GET', `${server}/index.php/apps/gpoddersync/subscriptions?since=${since}`, { headers: this.headers() });
      return parseSubscriptions(r.body);
    }
    if (!deviceName) throw new Error('Missing gpodder device configuration');
    const r = await this.http.execute(
      'GET',
      this.gpodderUrl(server, `/api/2/subscriptions/${encodeURIComponent(user)}/${encodeURIComponent(deviceName)}.json`, { since: String(since) }),
      {
        headers: this.headers(),
      },
    );
    return parseSubscriptions(r.body);
  }

  private async pullEpisodes(since: number): Promise<CardoUpdate[]> {
    const { server, user } = this.creds!;
    if (this.protocol === 'nextcloud') {
      const r = await this.http.execute('GET', `${server}/index.php/apps/gpoddersync/episode_action?since=${since}`, { headers: this.headers() });
      return parseNextcloudActions(r.body);
    }
    const r = await this.http.execute(
      'GET',
      this.gpodderUrl(server, `/api/2/episodes/${encodeURIComponent(user)}.json`, { since: String(since), aggregated: 'true' }),
      {
        headers: this.headers(),
      },
    );
    return parseGpodderActions(r.body);
  }

  private async pushEpisodes(updates: (HistoryRow & { started: number; action: string })[]): Promise<void> {
    const { server, user, deviceName } = this.creds!;
    if (this.protocol === 'nextcloud') {
      const r = await this.http.execute('POST', `${server}/index.php/apps/gpoddersync/episode_action/create`, {
        headers: { ...this.headers(), 'Content-Type': FETCH_STRING_CONTENT_TYPE },
        body: JSON.stringify(updates.map((update) => ({ ...update, timestamp: nextcloudTimestamp(update.timestamp) }))),
      });
      if (r.status < 200 || r.status > 299) throw new Error('Failed pushing episodes to nextcloud server');
      return;
    }
    const r = await this.http.execute('POST', this.gpodderUrl(server, `/api/2/episodes/${encodeURIComponent(user)}.json`), {
      headers: this.headers(),
      body: JSON.stringify(updates.map((update) => ({ ...update, device: deviceName, timestamp: new Date(update.timestamp).toISOString() }))),
    });
    if (r.status < 200 || r.status > 299) throw new Error(`Failed pushing episodes to gpodder server (${r.status})`);
  }

  private async pushSubscriptions(updates: { add: string[]; remove: string[] }): Promise<void> {
    const { server, user, deviceName } = this.creds!;
    if (this.protocol === 'nextcloud') {
      const r = await this.http.execute('POST', `${server}/index.php/apps/gpoddersync/subscription_change/create`, {
        headers: { ...this.headers(), 'Content-Type': FETCH_STRING_CONTENT_TYPE },
        body: JSON.stringify(updates),
      });
      if (r.status < 200 || r.status > 299) throw new Error('Failed pushing subcriptions to nextcloud server');
      return;
    }
    if (!deviceName) throw new Error('Missing gpodder device configuration');
    const r = await this.http.execute(
      'POST',
      this.gpodderUrl(server, `/api/2/subscriptions/${encodeURIComponent(user)}/${encodeURIComponent(deviceName)}.json`),
      {
        headers: this.headers(),
        body: JSON.stringify(updates),
      },
    );
    if (r.status < 200 || r.status > 299) throw new Error('Failed pushing subscriptions to gpodder server');
  }
}
