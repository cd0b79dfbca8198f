/**
 * Moving an account from another gpodder-compatible server (docs/operations.md, "Moving from
 * another server"): its devices, subscriptions and every episode action, read through the
 * gpodder.net API v2 (gpodder.net, oPodSync, mygpo, this service) or the Nextcloud gPodder Sync
 * API, then uploaded to the target's gpodder API as the account's own apps would: this service
 * validates, records and projects them as any upload. Nothing is read from or written to the
 * stores directly: it works against a service on either stack, running as it is, and copies out
 * of this service to any server with the gpodder.net API as well (subscriptions read from a
 * Nextcloud source go to the target's Nextcloud API, which this service has: they name no device).
 *
 * Actions keep their own time, device and position. Uploads are idempotent (an action's id is
 * its content, docs/design.md), so an import run again, or after an interruption, adds only what
 * it did not add before. An action the target's upload would refuse (an unknown action, a
 * field of the wrong type) is counted and shown, not sent: one would make its whole upload a
 * 400; URLs the target does not store (not http(s), too long) come back in `update_urls`.
 */
import { DEVICE_TYPES, type DeviceType } from '../domain/events.js';
import { gpodderActionInput, gpodderDeviceId } from '../domain/gpodder.js';

export type SourceApi = 'gpodder' | 'nextcloud';

export interface ServerAccount {
  /** The server's base URL, e.g. `https://gpodder.example.org` (a path prefix is kept). */
  readonly server: string;
  readonly username: string;
  readonly password: string;
}

export interface ImportSource extends ServerAccount {
  readonly api: SourceApi;
}

export interface SourceDevice {
  readonly id: string;
  readonly caption: string;
  readonly type: DeviceType;
}

/** What the source holds for the account. */
export interface SourceData {
  readonly devices: SourceDevice[];
  /** Subscribed feed URLs by the device they were read from (`undefined`: the Nextcloud API's, which names none). */
  readonly subscriptions: Map<string | undefined, string[]>;
  /** Episode actions as the source answered them. */
  readonly actions: unknown[];
}

export interface ImportProgress {
  (event: { stage: 'devices' | 'subscriptions' | 'actions-read' | 'actions-sent'; done: number; total?: number }): void;
}

export interface ImportSummary {
  readonly devices: number;
  readonly subscriptions: number;
  readonly actionsRead: number;
  readonly actionsSent: number;
  /** Actions the target would refuse, with why (the first few). */
  readonly actionsSkipped: number;
  readonly skippedReasons: string[];
  /** URLs the target rewrote or refused (`update_urls`), as `[sent, stored]`. */
  readonly updatedUrls: [string, string][];
}

/** A request to either server failed; the message says which and why. */
export class ImportError extends Error {
  override readonly name = 'ImportError';
}

/** The target answered 413: the body, or the write it makes, is more than it takes at once. */
class TooLargeForTarget extends ImportError {}

/** Actions per upload: well under the target's 25,000 and 16 MB, and a progress step. */
export const IMPORT_BATCH = 5_000;
/** Pages of episode actions read from a source at most (a source that never ends is refused). */
const MAX_PAGES = 10_000;

/** Answers that say "later" (a rate limit, a server busy or out of disk) are retried this often. */
const RETRIES = 5;
/** The longest wait a `Retry-After` is followed for, seconds. */
const MAX_RETRY_AFTER_S = 60;

/**
 * Fetches with Basic credentials; an answer that is not 2xx JSON is an {@link ImportError}. A 429
 * or 503 is asked again after its `Retry-After` (5 s without one): every request here is a read
 * or an idempotent upload, so asking again repeats nothing.
 */
async function call(account: ServerAccount, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    const answer = await callOnce(account, method, path, body);
    if (!('retryAfterS' in answer)) return answer.value;
    if (attempt > RETRIES) throw new ImportError(`${method} ${answer.url}: still HTTP ${answer.status} after ${RETRIES} retries`);
    await new Promise((resolve) => setTimeout(resolve, answer.retryAfterS * 1000));
  }
}

async function callOnce(
  account: ServerAccount,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
): Promise<{ value: unknown } | { retryAfterS: number; status: number; url: string }> {
  const url = `${account.server.replace(/\/+$/, '')}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        Authorization: `Basic ${Buffer.from(`${account.username}:${account.password}`, 'utf8').toString('base64')}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        'User-Agent': 'podsync-import',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'follow',
    });
  } catch (error) {
    throw new ImportError(`${method} ${url}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
  }
  const text = await response.text();
  if (response.status === 429 || response.status === 503) {
    const seconds = Number(response.headers.get('retry-after') ?? '5');
    return { retryAfterS: Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, MAX_RETRY_AFTER_S) : 5, status: response.status, url };
  }
  if (response.ok && text === '') return { value: undefined };
  if (response.status === 401) throw new ImportError(`${method} ${url}: 401, the server refused the username or password`);
  if (response.status === 413) throw new TooLargeForTarget(`${method} ${url}: HTTP 413 ${text.slice(0, 300)}`);
  if (!response.ok) throw new ImportError(`${method} ${url}: HTTP ${response.status} ${text.slice(0, 300)}`);
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    throw new ImportError(`${method} ${url}: the answer is not JSON (${text.slice(0, 100)})`);
  }
}

const objectOf = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
const arrayOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const stringsOf = (value: unknown): string[] => arrayOf(value).filter((item): item is string => typeof item === 'string');
const user = (account: ServerAccount) => encodeURIComponent(account.username);

/** A source device as the target takes it: an id it accepts, a known type (else `other`). */
function deviceOf(value: unknown): SourceDevice | undefined {
  const object = objectOf(value);
  const id = gpodderDeviceId.safeParse(object['id']);
  if (!id.success) return undefined;
  const type = DEVICE_TYPES.find((known) => known === object['type']) ?? 'other';
  return { id: id.data, caption: typeof object['caption'] === 'string' ? object['caption'] : '', type };
}

/**
 * Every episode action from `since` 0, page after page: a server that pages answers a cursor to
 * ask from next; the last page is empty, or answers the cursor it was asked with.
 */
async function readActions(source: ImportSource, progress: ImportProgress): Promise<unknown[]> {
  const actions: unknown[] = [];
  let since = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const path =
      source.api === 'nextcloud' ? `/index.php/apps/gpoddersync/episode_action?since=${since}` : `/api/2/episodes/${user(source)}.json?since=${since}`;
    const answer = objectOf(await call(source, 'GET', path));
    const got = arrayOf(answer['actions']);
    actions.push(...got);
    progress({ stage: 'actions-read', done: actions.length });
    const next = answer['timestamp'];
    // The Nextcloud API answers everything at once (its cursor is a clock, not a page).
    if (source.api === 'nextcloud' || got.length === 0 || typeof next !== 'number' || next === since) return actions;
    since = next;
  }
  throw new ImportError(`${source.server}: episode actions did not end after ${MAX_PAGES} pages`);
}

/** Reads the account's devices, subscriptions and episode actions from the source. */
export async function readSource(source: ImportSource, progress: ImportProgress = () => {}): Promise<SourceData> {
  const subscriptions = new Map<string | undefined, string[]>();
  let devices: SourceDevice[] = [];
  if (source.api === 'nextcloud') {
    subscriptions.set(undefined, stringsOf(objectOf(await call(source, 'GET', '/index.php/apps/gpoddersync/subscriptions?since=0'))['add']));
  } else {
    devices = arrayOf(await call(source, 'GET', `/api/2/devices/${user(source)}.json`))
      .map(deviceOf)
      .filter((device) => device !== undefined);
    progress({ stage: 'devices', done: devices.length });
    // Each feed once, under the first device that lists it (this service's subscriptions are the
    // account's, as in the servers apps mostly use: every device may list them all).
    const seen = new Set<string>();
    for (const device of devices) {
      const answer = await call(source, 'GET', `/api/2/subscriptions/${user(source)}/${encodeURIComponent(device.id)}.json?since=0`);
      const feeds = stringsOf(objectOf(answer)['add']).filter((feed) => !seen.has(feed));
      for (const feed of feeds) seen.add(feed);
      subscriptions.set(device.id, feeds);
    }
  }
  progress({ stage: 'subscriptions', done: [...subscriptions.values()].flat().length });
  return { devices, subscriptions, actions: await readActions(source, progress) };
}

/** The actions the target takes as they are, and why the others would be refused. */
export function acceptableActions(actions: readonly unknown[]): { accepted: unknown[]; skipped: number; reasons: string[] } {
  const accepted: unknown[] = [];
  const reasons: string[] = [];
  let skipped = 0;
  for (const [index, action] of actions.entries()) {
    // A device id the target refuses is dropped, not the action: the action keeps its place.
    const object = objectOf(action);
    const withDevice = object['device'] === undefined || gpodderDeviceId.safeParse(object['device']).success ? action : { ...object, device: undefined };
    // The schema the target's upload validates with: what it refuses would fail the whole batch.
    const parsed = gpodderActionInput.safeParse(withDevice);
    if (parsed.success) {
      accepted.push(withDevice);
      continue;
    }
    skipped++;
    const issue = parsed.error.issues[0]!;
    if (reasons.length < 10) reasons.push(`action ${index}: ${issue.path.join('.') || '(action)'}: ${issue.message}`);
  }
  return { accepted, skipped, reasons };
}

/**
 * Uploads `batch`; one the target finds too large (its body limit, or the most its event store
 * takes in one append: actions with URLs of thousands of characters) is sent in halves, down to
 * a single action.
 */
async function sendActions(target: ServerAccount, batch: readonly unknown[]): Promise<[string, string][]> {
  try {
    return updates(objectOf(await call(target, 'POST', `/api/2/episodes/${user(target)}.json`, batch)));
  } catch (error) {
    if (!(error instanceof TooLargeForTarget) || batch.length === 1) throw error;
    const half = Math.ceil(batch.length / 2);
    return [...(await sendActions(target, batch.slice(0, half))), ...(await sendActions(target, batch.slice(half)))];
  }
}

/** Writes what was read to the target account through its gpodder API. */
export async function writeTarget(target: ServerAccount, data: SourceData, progress: ImportProgress = () => {}): Promise<ImportSummary> {
  const updatedUrls: [string, string][] = [];
  for (const device of data.devices) {
    await call(target, 'POST', `/api/2/devices/${user(target)}/${encodeURIComponent(device.id)}.json`, { caption: device.caption, type: device.type });
  }
  let subscriptions = 0;
  for (const [device, feeds] of data.subscriptions) {
    if (feeds.length === 0) continue;
    const answer = objectOf(
      device === undefined
        ? await call(target, 'POST', '/index.php/apps/gpoddersync/subscription_change/create', { add: feeds, remove: [] })
        : await call(target, 'POST', `/api/2/subscriptions/${user(target)}/${encodeURIComponent(device)}.json`, { add: feeds, remove: [] }),
    );
    updatedUrls.push(...updates(answer));
    subscriptions += feeds.length;
  }
  const { accepted, skipped, reasons } = acceptableActions(data.actions);
  for (let start = 0; start < accepted.length; start += IMPORT_BATCH) {
    const batch = accepted.slice(start, start + IMPORT_BATCH);
    updatedUrls.push(...(await sendActions(target, batch)));
    progress({ stage: 'actions-sent', done: start + batch.length, total: accepted.length });
  }
  return {
    devices: data.devices.length,
    subscriptions,
    actionsRead: data.actions.length,
    actionsSent: accepted.length,
    actionsSkipped: skipped,
    skippedReasons: reasons,
    updatedUrls,
  };
}

function updates(answer: Record<string, unknown>): [string, string][] {
  return arrayOf(answer['update_urls'])
    .map((pair) => stringsOf(pair))
    .filter((pair) => pair.length === 2 && pair[0] !== pair[1])
    .map(([from, to]) => [from!, to!]);
}

/** Reads the source and writes the target (see the module's comment). */
export async function importAccount(source: ImportSource, target: ServerAccount, progress: ImportProgress = () => {}): Promise<ImportSummary> {
  // The target first: a wrong password there is better found before reading a large source.
  await call(target, 'GET', `/api/2/devices/${user(target)}.json`);
  return writeTarget(target, await readSource(source, progress), progress);
}
