/**
 * A replica of Kasts's synchronisation (KDE's podcast app for Linux and Plasma Mobile), request
 * for request, read from Kasts's source (master cded41de, August 2026) rather than from API
 * documentation:
 *
 * - src/sync/syncjob.cpp: a regular sync's steps (subscriptions down, then up; feeds fetched;
 *   episode actions down until the answer's `timestamp` is within ten seconds of the clock or
 *   nothing matched; conflicts resolved by action time; plays up in batches of
 *   `maxAmountEpisodeUploads`), the upload-only "quick" sync, and `updateDBTimestamp`: every
 *   cursor is stored **plus one** ("to avoid fetching our own previously sent updates"), and
 *   only when it is above 1;
 * - src/sync/gpodder/gpodder.cpp: the requests of both providers (Basic on every request, the
 *   gpodder.net API's `aggregated=true` on a first download, action timestamps in UTC without
 *   the `Z`, `started`/`position`/`total` on plays only);
 * - src/sync/gpodder/*request.cpp: how answers are read, with Qt's JSON classes: a number is
 *   read by `QJsonValue::toInt()`, which gives 0 for anything that is not a whole number that
 *   fits a 32-bit int; an answer that is not JSON reads as an empty object;
 * - src/sync/sync.cpp: login (gpodder.net: the device list; Nextcloud: a subscription download
 *   since 0), device creation, `applyEpisodeActionsLocally` (played, a position, or a reset to
 *   0), `storePlayEpisodeActions` / `storePlayedEpisodeActions` (what a play queues);
 * - src/datamanager.cpp `findEntryuids`: a remote action is matched to local episodes by guid or
 *   enclosure URL (also percent-decoded); one matching none is dropped;
 * - src/utils/networkaccessmanager.cpp: `User-Agent: Kasts/… Syndication`, JSON content type on
 *   POST, cookies kept (Qt's default jar).
 *
 * Not replicated: feed downloads (a test gives each device a catalog of feeds), the player (a
 * test says what was played), Qt's event loop (each step is awaited in order), the password
 * store.
 */
import { HttpClient, basicCredentials } from './okhttp.js';

export const KASTS_USER_AGENT = 'Kasts/26.11.70 Syndication';
/** syncutils.h `maxAmountEpisodeUploads`. */
export const MAX_EPISODE_UPLOADS = 30;
/** settingsmanager.kcfg `markAsPlayedBeforeEnd` default, seconds. */
const MARK_AS_PLAYED_BEFORE_END = 15;

const SUBSCRIPTIONS_LABEL = 'syncsubscriptions';
const EPISODES_LABEL = 'syncepisodes';
const UPLOAD_SUBSCRIPTIONS_LABEL = 'uploadsyncsubscriptions';
const UPLOAD_EPISODES_LABEL = 'uploadsyncepisodes';

export type KastsProvider = 'gpodder.net' | 'nextcloud';

// ---- Qt's JSON reading -------------------------------------------------------------------------

/** `QJsonDocument::fromJson(data, nullptr)`: a parse error gives a null document, whose `object()` is empty. */
export function qtDocument(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

const qtObject = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
const qtArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const qtString = (value: unknown): string => (typeof value === 'string' ? value : '');

/** Qt 6 `QJsonValue::toInt()`: a whole number representable as a 32-bit int, else 0. */
export function qtInt(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 31) && value <= 2 ** 31 - 1 ? value : 0;
}

/** `QUrl::fromPercentEncoding`. */
function fromPercentEncoding(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * `QDateTime::fromString(text.section('.', 0, 0), "yyyy-MM-dd'T'hh:mm:ss").toMSecsSinceEpoch() / 1000`:
 * read as the device's local time, which is UTC on the machines tests run on (`TZ` unset);
 * anything else (a zone, a `Z`) makes the date invalid: -1 s, as Qt's invalid date gives.
 */
export function parseKastsTimestamp(text: string): number {
  const head = text.split('.')[0]!;
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(head);
  if (!match) return -1;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  return Math.trunc(Date.UTC(year, month - 1, day, hour, minute, second) / 1000);
}

/** `QDateTime::fromSecsSinceEpoch(t).toUTC().toString(Qt::ISODate)` with its `Z` chopped. */
export function formatKastsTimestamp(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19);
}

// ---- the local database -----------------------------------------------------------------------

export interface CatalogEpisode {
  /** Entries.id: the item's guid. */
  readonly id: string;
  /** Enclosures.url. */
  readonly url: string;
  /** Enclosures.duration, seconds (0 when the feed gives none). */
  readonly duration: number;
}
export type FeedCatalog = ReadonlyMap<string, readonly CatalogEpisode[]>;

interface Entry extends CatalogEpisode {
  readonly entryuid: number;
  readonly feeduid: number;
  readonly feed: string;
  /** Milliseconds. */
  playposition: number;
  read: boolean;
  queued: boolean;
}

/** SyncUtils::EpisodeAction, as queued (EpisodeActions table) or as read from a server. */
export interface KastsEpisodeAction {
  entryuid: number;
  feeduid: number;
  podcast: string;
  url: string;
  id: string;
  device: string;
  action: string;
  started: number;
  position: number;
  total: number;
  durationdb: number;
  /** Unix seconds. */
  timestamp: number;
}

export class KastsSyncError extends Error {
  override readonly name = 'KastsSyncError';
}

interface Connection {
  readonly provider: KastsProvider;
  readonly hostname: string;
  readonly username: string;
  readonly password: string;
  /** The gpodder.net device id; empty with Nextcloud (never set there). */
  readonly device: string;
}

export interface KastsRun {
  /** Requests this sync sent, in order (method and path with query). */
  readonly requests: string[];
}

export class KastsDevice {
  readonly http = new HttpClient(KASTS_USER_AGENT);
  private readonly catalog: FeedCatalog;
  private readonly clock: () => number;
  private connection: Connection | undefined;
  private nextUid = 1;
  private readonly feedUids = new Map<string, number>();
  private readonly entries = new Map<number, Entry>();
  /** Entries by feed and guid, by guid and by enclosure URL (the columns Kasts's lookups use). */
  private readonly byFeedAndId = new Map<string, Entry>();
  private readonly byId = new Map<string, Entry[]>();
  private readonly byUrl = new Map<string, Entry[]>();
  /** FeedActions. */
  private feedActions: { url: string; action: 'add' | 'remove' }[] = [];
  /** EpisodeActions: what waits for upload. */
  private episodeActions: KastsEpisodeAction[] = [];
  /** SyncTimeStamps. */
  readonly timestamps = new Map<string, number>();
  /** Every remote action applied (matched to a local episode), over all runs. */
  readonly applied: KastsEpisodeAction[] = [];
  private allowSyncActionLogging = true;

  constructor(options: { catalog: FeedCatalog; clock?: () => number }) {
    this.catalog = options.catalog;
    this.clock = options.clock ?? (() => Date.now());
  }

  private now(): number {
    return Math.floor(this.clock() / 1000);
  }

  get feeds(): string[] {
    return [...this.feedUids.keys()];
  }

  entry(feed: string, id: string): Entry | undefined {
    return this.byFeedAndId.get(`${feed}\n${id}`);
  }

  get queuedActions(): readonly KastsEpisodeAction[] {
    return this.episodeActions;
  }

  // ---- what the user does -----------------------------------------------------------------------

  /** A feed added (DataManager::addFeed → Sync::storeAddFeedAction). */
  subscribe(url: string): void {
    this.addFeed(url);
    if (this.connection && this.allowSyncActionLogging) this.feedActions.push({ url, action: 'add' });
  }

  /** A feed removed (Sync::storeRemoveFeedAction, then the feed and its entries deleted). */
  unsubscribe(url: string): void {
    if (!this.feedUids.has(url)) return;
    if (this.connection && this.allowSyncActionLogging) this.feedActions.push({ url, action: 'remove' });
    this.feedUids.delete(url);
    for (const entry of [...this.entries.values()]) if (entry.feed === url) this.forget(entry);
  }

  /** Playback from `fromMs` to `toMs` (AudioManager → Sync::storePlayEpisodeActions). */
  play(feed: string, id: string, fromMs: number, toMs: number): void {
    const entry = this.mustFind(feed, id);
    entry.playposition = toMs;
    this.queuePlay(entry, Math.trunc(fromMs / 1000), Math.trunc(toMs / 1000));
  }

  /** Marked as played (Sync::storePlayedEpisodeActions: started, position and total all the duration). */
  markPlayed(feed: string, id: string): void {
    const entry = this.mustFind(feed, id);
    entry.read = true;
    this.queuePlay(entry, 'duration', 'duration');
  }

  /** A play queued for upload while sync is set up; the total is the duration, 1 s when unknown (`durmin`). */
  private queuePlay(entry: Entry, started: number | 'duration', position: number | 'duration'): void {
    if (!this.connection || !this.allowSyncActionLogging) return;
    const durmin = entry.duration > 0 ? entry.duration : 1;
    this.episodeActions.push({
      ...this.actionFields(entry),
      action: 'play',
      started: started === 'duration' ? durmin : started,
      position: position === 'duration' ? durmin : position,
      total: durmin,
      durationdb: durmin,
      timestamp: this.now(),
    });
  }

  private actionFields(entry: Entry) {
    return { entryuid: entry.entryuid, feeduid: entry.feeduid, podcast: entry.feed, url: entry.url, id: entry.id, device: this.connection?.device ?? '' };
  }

  private mustFind(feed: string, id: string): Entry {
    const entry = this.entry(feed, id);
    if (!entry) throw new Error(`no episode ${id} of ${feed} on this device`);
    return entry;
  }

  private addFeed(url: string): void {
    if (this.feedUids.has(url)) return;
    const feeduid = this.nextUid++;
    this.feedUids.set(url, feeduid);
    for (const episode of this.catalog.get(url) ?? []) {
      const entry: Entry = { ...episode, entryuid: this.nextUid++, feeduid, feed: url, playposition: 0, read: false, queued: false };
      this.entries.set(entry.entryuid, entry);
      this.byFeedAndId.set(`${url}\n${entry.id}`, entry);
      this.byId.set(entry.id, [...(this.byId.get(entry.id) ?? []), entry]);
      this.byUrl.set(entry.url, [...(this.byUrl.get(entry.url) ?? []), entry]);
    }
  }

  private forget(entry: Entry): void {
    this.entries.delete(entry.entryuid);
    this.byFeedAndId.delete(`${entry.feed}\n${entry.id}`);
    this.byId.set(
      entry.id,
      (this.byId.get(entry.id) ?? []).filter((other) => other !== entry),
    );
    this.byUrl.set(
      entry.url,
      (this.byUrl.get(entry.url) ?? []).filter((other) => other !== entry),
    );
  }

  // ---- account set-up ----------------------------------------------------------------------------

  /**
   * The gpodder.net provider with a custom server: Sync::login (the device list is the login),
   * then Sync::registerNewDevice (`kasts-<hostname>`, "Kasts on <hostname>"), then a sync.
   */
  async connectGpodder(hostname: string, username: string, password: string, machine: string): Promise<KastsRun> {
    const connection: Connection = { provider: 'gpodder.net', hostname, username, password, device: `kasts-${machine}` };
    await this.request(connection, 'GET', `/api/2/devices/${username}.json`);
    await this.request(connection, 'POST', `/api/2/devices/${username}/${connection.device}.json`, { caption: `Kasts on ${machine}`, type: 'laptop' });
    this.connection = connection;
    return this.sync();
  }

  /** The Nextcloud provider: Sync::login (a subscription download since 0 must answer), then a sync. */
  async connectNextcloud(hostname: string, username: string, password: string): Promise<KastsRun> {
    const connection: Connection = { provider: 'nextcloud', hostname, username, password, device: '' };
    await this.request(connection, 'GET', '/index.php/apps/gpoddersync/subscriptions?since=0');
    this.connection = connection;
    return this.sync();
  }

  /**
   * Sync::linkUpAllDevices (gpodder.net; the settings page's "sync all devices"): every device
   * the server lists into one sync group, then the subscriptions of every device (concatenated,
   * duplicates kept) uploaded to each. Kasts goes on whatever the group update answers (it says
   * gpodder.net answered 500 though it did it) and reports the other failures one by one
   * (`errors`), going on with the rest.
   */
  async linkUpAllDevices(): Promise<{ devices: string[]; errors: string[] }> {
    const connection = this.mustConnect();
    const errors: string[] = [];
    const status = qtObject(await this.request(connection, 'GET', `/api/2/sync-devices/${connection.username}.json`));
    const devices = [
      ...new Set([...qtArray(status['synchronized']).flatMap((group) => qtArray(group).map(qtString)), ...qtArray(status['not-synchronized']).map(qtString)]),
    ];
    await this.request(connection, 'POST', `/api/2/sync-devices/${connection.username}.json`, { synchronize: [devices], 'stop-synchronize': [] }).catch(
      () => undefined,
    );
    const all: string[] = [];
    for (const device of devices) {
      const answer = await this.request(connection, 'GET', `/api/2/subscriptions/${connection.username}/${device}.json?since=0`).catch((error: unknown) => {
        errors.push(String(error));
        return undefined;
      });
      if (answer !== undefined) all.push(...qtArray(qtObject(answer)['add']).map((url) => fromPercentEncoding(qtString(url))));
    }
    for (const device of devices) {
      await this.request(connection, 'POST', `/api/2/subscriptions/${connection.username}/${device}.json`, { add: all, remove: [] }).catch((error: unknown) => {
        errors.push(String(error));
      });
    }
    return { devices, errors };
  }

  // ---- SyncJob -----------------------------------------------------------------------------------

  private log: string[] = [];

  /** SyncJob::doRegularSync; throws what the job would report as its error. */
  async sync(): Promise<KastsRun> {
    const connection = this.mustConnect();
    this.log = [];
    // syncSubscriptions
    const subscriptionTimestamp = this.timestamps.get(SUBSCRIPTIONS_LABEL) ?? 0;
    let localAdd: string[];
    let localRemove: string[];
    // A first sync uploads every feed and takes no snapshot of the queued changes, so they stay
    // queued and go up again next time (as in SyncJob::syncSubscriptions).
    const localChanges = subscriptionTimestamp === 0 ? [] : this.feedActions.slice();
    if (subscriptionTimestamp === 0) {
      localAdd = this.feeds;
      localRemove = [];
    } else {
      localAdd = localChanges.filter((change) => change.action === 'add').map((change) => change.url);
      localRemove = localChanges.filter((change) => change.action === 'remove').map((change) => change.url);
    }
    [localAdd, localRemove] = removeConflicts(localAdd, localRemove);
    const down = qtObject(
      await this.request(
        connection,
        'GET',
        connection.provider === 'nextcloud'
          ? `/index.php/apps/gpoddersync/subscriptions?since=${subscriptionTimestamp}`
          : `/api/2/subscriptions/${connection.username}/${connection.device}.json?since=${subscriptionTimestamp}`,
      ),
    );
    const cleanup = (url: string) => (connection.provider === 'gpodder.net' ? fromPercentEncoding(url) : url);
    const remoteAdd = qtArray(down['add'])
      .map((url) => cleanup(qtString(url)))
      .filter((url) => !this.feedUids.has(url));
    const remoteRemove = qtArray(down['remove'])
      .map((url) => cleanup(qtString(url)))
      .filter((url) => this.feedUids.has(url));
    this.withoutLogging(() => {
      for (const url of remoteAdd) this.addFeed(url);
      for (const url of remoteRemove) this.unsubscribe(url);
    });
    this.updateTimestamp(qtInt(down['timestamp']), SUBSCRIPTIONS_LABEL);
    await this.uploadSubscriptions(connection, localAdd, localRemove, SUBSCRIPTIONS_LABEL);
    this.feedActions = this.feedActions.filter((change) => !localChanges.includes(change));
    // fetchRemoteEpisodeActions, until the answer is recent or nothing in it matched
    const remote = new ActionHash();
    for (let round = 0; ; round++) {
      if (round >= 1000) throw new KastsSyncError('episode-action downloads did not end (1,000 rounds)');
      const episodeTimestamp = this.timestamps.get(EPISODES_LABEL) ?? 0;
      const answer = qtObject(
        await this.request(
          connection,
          'GET',
          connection.provider === 'nextcloud'
            ? `/index.php/apps/gpoddersync/episode_action?since=${episodeTimestamp}`
            : `/api/2/episodes/${connection.username}.json?since=${episodeTimestamp}&aggregated=${episodeTimestamp === 0 ? 'true' : 'false'}`,
        ),
      );
      const matched = this.matchActions(qtArray(answer['actions']), cleanup);
      for (const action of matched) remote.addIfNewer(action);
      const newTimestamp = qtInt(answer['timestamp']);
      this.updateTimestamp(newTimestamp, EPISODES_LABEL);
      if (newTimestamp > this.now() - 10 || matched.length === 0) break;
    }
    // syncEpisodeStates
    const uploading = this.episodeActions.slice();
    const local = new ActionHash();
    for (const action of uploading) local.addIfNewer(action);
    removeActionConflicts(local, remote);
    this.applyEpisodeActionsLocally(remote);
    await this.uploadEpisodeActions(connection, local.plays(), EPISODES_LABEL);
    this.forgetUploaded(uploading);
    return { requests: this.log };
  }

  /** SyncJob::doQuickSync: local subscription changes and plays up, nothing down. */
  async quickSync(): Promise<KastsRun> {
    const connection = this.mustConnect();
    this.log = [];
    const localChanges = this.feedActions.slice();
    const [add, remove] = removeConflicts(
      localChanges.filter((change) => change.action === 'add').map((change) => change.url),
      localChanges.filter((change) => change.action === 'remove').map((change) => change.url),
    );
    await this.uploadSubscriptions(connection, add, remove, UPLOAD_SUBSCRIPTIONS_LABEL);
    this.feedActions = this.feedActions.filter((change) => !localChanges.includes(change));
    const uploading = this.episodeActions.slice();
    const local = new ActionHash();
    for (const action of uploading) local.addIfNewer(action);
    await this.uploadEpisodeActions(connection, local.plays(), UPLOAD_EPISODES_LABEL);
    this.forgetUploaded(uploading);
    return { requests: this.log };
  }

  /** SyncJob::uploadSubscriptions: the changes up, if any; the answer's cursor stored under `label`. */
  private async uploadSubscriptions(connection: Connection, add: readonly string[], remove: readonly string[], label: string): Promise<void> {
    if (add.length === 0 && remove.length === 0) return;
    const path =
      connection.provider === 'nextcloud'
        ? '/index.php/apps/gpoddersync/subscription_change/create'
        : `/api/2/subscriptions/${connection.username}/${connection.device}.json`;
    this.updateTimestamp(qtInt(qtObject(await this.request(connection, 'POST', path, { add, remove }))['timestamp']), label);
  }

  /** SyncJob::uploadEpisodeActionsPartial: batches of 30; the last answer's cursor is stored. */
  private async uploadEpisodeActions(connection: Connection, actions: readonly KastsEpisodeAction[], label: string): Promise<void> {
    for (let start = 0; start < actions.length; start += MAX_EPISODE_UPLOADS) {
      const batch = actions.slice(start, start + MAX_EPISODE_UPLOADS).map((action) => ({
        podcast: action.podcast,
        episode: action.url,
        guid: action.id,
        device: action.device,
        action: action.action,
        timestamp: formatKastsTimestamp(action.timestamp),
        ...(action.action === 'play' ? { started: action.started, position: action.position, total: action.total } : {}),
      }));
      const answer = qtObject(
        await this.request(
          connection,
          'POST',
          connection.provider === 'nextcloud' ? '/index.php/apps/gpoddersync/episode_action/create' : `/api/2/episodes/${connection.username}.json`,
          batch,
        ),
      );
      if (start + MAX_EPISODE_UPLOADS >= actions.length) this.updateTimestamp(qtInt(answer['timestamp']), label);
    }
  }

  /** EpisodeActionRequest::processResults: each action matched to every local episode with its guid or URL; unmatched ones dropped. */
  private matchActions(items: readonly unknown[], cleanup: (url: string) => string): KastsEpisodeAction[] {
    const matched: KastsEpisodeAction[] = [];
    for (const item of items) {
      const json = qtObject(item);
      const action = qtString(json['action']).toLowerCase();
      const play = action === 'play';
      const read: KastsEpisodeAction = {
        entryuid: 0,
        feeduid: 0,
        id: qtString(json['guid']),
        url: qtString(json['episode']),
        podcast: cleanup(qtString(json['podcast'])),
        device: qtString(json['device']),
        action,
        started: play ? qtInt(json['started']) : 0,
        position: play ? qtInt(json['position']) : 0,
        total: play ? qtInt(json['total']) : 0,
        durationdb: 0,
        timestamp: parseKastsTimestamp(qtString(json['timestamp'])),
      };
      const candidates = new Set([
        ...(this.byUrl.get(read.url) ?? []),
        ...(this.byUrl.get(fromPercentEncoding(read.url)) ?? []),
        ...(this.byId.get(read.id) ?? []),
      ]);
      for (const entry of candidates) {
        matched.push({
          ...read,
          entryuid: entry.entryuid,
          feeduid: entry.feeduid,
          id: entry.id,
          podcast: entry.feed,
          url: entry.url,
          durationdb: entry.duration,
        });
      }
    }
    return matched;
  }

  /** Sync::applyEpisodeActionsLocally: plays only (download/delete/new are ignored as unreliable). */
  private applyEpisodeActionsLocally(remote: ActionHash): void {
    this.withoutLogging(() => {
      for (const action of remote.plays()) {
        const entry = this.entries.get(action.entryuid);
        if (!entry) continue;
        this.applied.push(action);
        if (
          (action.position >= action.total - MARK_AS_PLAYED_BEFORE_END || action.position >= action.durationdb - MARK_AS_PLAYED_BEFORE_END) &&
          action.total > 0
        ) {
          entry.read = true;
        } else if (action.position > 0 && action.position * 1000 >= action.durationdb) {
          entry.playposition = action.position * 1000;
          entry.queued = true;
        } else {
          entry.playposition = 0;
        }
      }
    });
  }

  /** SyncJob::removeAppliedEpisodeActionsFromDB: the actions this sync read from the queue go (not those queued meanwhile). */
  private forgetUploaded(uploaded: readonly KastsEpisodeAction[]): void {
    const gone = new Set(uploaded);
    this.episodeActions = this.episodeActions.filter((action) => !gone.has(action));
  }

  /** SyncJob::updateDBTimestamp: kept only above 1, stored plus one second. */
  private updateTimestamp(timestamp: number, label: string): void {
    if (timestamp > 1) this.timestamps.set(label, timestamp + 1);
  }

  private withoutLogging(run: () => void): void {
    this.allowSyncActionLogging = false;
    try {
      run();
    } finally {
      this.allowSyncActionLogging = true;
    }
  }

  private mustConnect(): Connection {
    if (!this.connection) throw new Error('sync is not set up');
    return this.connection;
  }

  /** GPodder's requests: Basic (UTF-8) on every one, JSON bodies (Compact); an HTTP error fails the job. */
  private async request(connection: Connection, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const url = `${connection.hostname}${path}`;
    this.log.push(`${method} ${path}`);
    const headers: Record<string, string> = {
      // `toLocal8Bit()`: UTF-8 on Linux.
      Authorization: basicCredentials(connection.username, connection.password, 'utf8'),
    };
    if (method === 'POST') headers['Content-Type'] = 'application/json';
    const response = await this.http.execute(method, url, { headers, body: method === 'POST' ? (body === undefined ? '' : JSON.stringify(body)) : undefined });
    if (response.status >= 400) throw new KastsSyncError(`${method} ${path}: HTTP ${response.status} ${response.body.slice(0, 200)}`);
    return qtDocument(response.body);
  }
}

/** SyncJob::removeSubscriptionChangeConflicts: duplicates dropped; a URL both added and removed is neither. */
function removeConflicts(add: readonly string[], remove: readonly string[]): [string[], string[]] {
  const a = [...new Set(add)];
  const r = [...new Set(remove)];
  return [a.filter((url) => !r.includes(url)), r.filter((url) => !a.includes(url))];
}

/** SyncJob's `QHash<action, QHash<entryuid, EpisodeAction>>`, download and delete counted as one kind. */
class ActionHash {
  readonly byKind = new Map<string, Map<number, KastsEpisodeAction>>();

  addIfNewer(action: KastsEpisodeAction): void {
    const kind = action.action === 'delete' || action.action === 'download' ? 'download-delete' : action.action;
    const actions = this.byKind.get(kind) ?? new Map<number, KastsEpisodeAction>();
    this.byKind.set(kind, actions);
    const known = actions.get(action.entryuid);
    if (known === undefined || known.timestamp <= action.timestamp) actions.set(action.entryuid, action);
  }

  /** SyncJob::createListFromHash: plays only. */
  plays(): KastsEpisodeAction[] {
    return [...(this.byKind.get('play')?.values() ?? [])];
  }
}

/** SyncJob::removeEpisodeActionConflicts: of a local and a remote action of one kind and episode, the older goes. */
function removeActionConflicts(local: ActionHash, remote: ActionHash): void {
  for (const kind of ['play', 'download-delete', 'new']) {
    const mine = local.byKind.get(kind);
    const theirs = remote.byKind.get(kind);
    if (!mine || !theirs) continue;
    for (const [uid, action] of theirs) {
      const own = mine.get(uid);
      if (own && own.timestamp < action.timestamp) mine.delete(uid);
    }
    for (const [uid, action] of mine) {
      const other = theirs.get(uid);
      if (other && other.timestamp < action.timestamp) theirs.delete(uid);
    }
  }
}
