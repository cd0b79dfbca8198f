/**
 * The gpodder.net API v2 (docs/design.md, "Clients and their APIs") in terms of this service's events. Pure: input schemas,
 * URL sanitising, timestamps, gpodder episode actions ↔ events, subscription decisions.
 *
 * Identity and mapping:
 * - a podcast is its feed URL (`rss_source_feed`); an episode is its `guid` when the client
 *   sends one, else its media URL (`rss_source_id`), and its media URL is the enclosure URL;
 * - `play` ↔ `play` (position, started, total; played when the position reached the total),
 *   `download` / `delete` / `new` ↔ `episode_action`; native `position` reads as a `play`;
 * - an action's event id is derived from the action itself, so an exact duplicate (the same
 *   action uploaded twice) is the same event and is stored once.
 */
import { z } from 'zod';
import type { UserEvent, UserEventOf } from './events.js';
import { LIMITS, boundedString, httpUrl, isNormalisedInRange, isoTimestamp } from './events.js';
import type { ActionContext } from './decide.js';
import { compareIso, newEvent } from './decide.js';
import { contentDigest, derivedEventId } from './ids.js';
import type { Steps } from './steps.js';
import { finish } from './steps.js';

// ---- URLs ------------------------------------------------------------------------------

/** Trimmed http(s) URL, or undefined when the text is not one (gpodder then maps it to ""). */
export function sanitizeUrl(raw: string): string | undefined {
  if (!mayBeHttpUrl(raw)) return undefined;
  const parsed = httpUrl.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/**
 * False only for a text that cannot be an http(s) URL: one whose scheme, after what the schema
 * trims and the URL parser strips (leading whitespace and control characters; tabs and line
 * breaks anywhere), is not http or https. Guids that are not URLs (`urn:…`, `g-123`) are then
 * told without the schema, whose failure builds an error (2–6 µs, for every `position` a
 * download or the projector presents).
 */
export function mayBeHttpUrl(raw: string): boolean {
  if (raw.startsWith('http')) return true;
  return /^https?:/i.test(raw.replace(/[\t\n\r]/g, '').replace(/^[\s\u0000-\u001f]+/, ''));
}

/**
 * gpodder's `update_urls`: every URL the server changed while sanitising, as `[sent, used]`,
 * `used` being "" for a URL it rejected. Clients rewrite their copies accordingly.
 */
export class UrlRewrites {
  private readonly pairs = new Map<string, string>();
  /** An upload names the same few feeds thousands of times: each is checked once. */
  private readonly checked = new Map<string, string | undefined>();

  /** Sanitises `raw`, remembering the rewrite if there was one. */
  sanitize(raw: string): string | undefined {
    if (this.checked.has(raw)) return this.checked.get(raw);
    const clean = sanitizeUrl(raw);
    this.checked.set(raw, clean);
    if (clean !== raw) this.pairs.set(raw, clean ?? '');
    return clean;
  }

  reject(raw: string): void {
    this.pairs.set(raw, '');
  }

  list(): [string, string][] {
    return [...this.pairs];
  }
}

// ---- timestamps and cursors -------------------------------------------------------------

/** `YYYY-MM-DDTHH:MM:SS`, UTC without a zone: what gpodder clients parse (never `+00:00`). */
export function formatGpodderTimestamp(iso: string): string {
  // A stored timestamp is already what toISOString gives (isoTimestamp): no Date needed.
  return (isNormalisedInRange(iso) ? iso : new Date(iso).toISOString()).slice(0, 19);
}

/**
 * Action timestamps as clients send them: ISO-8601 with or without a zone (none means UTC, as
 * gpodder.net has it), a space instead of the `T`, or unix seconds. Normalised to ISO UTC.
 */
export const gpodderTimestamp = z
  .union([
    z
      .number()
      .int('must be whole unix seconds')
      .nonnegative()
      .max(8_000_000_000)
      .transform((seconds) => new Date(seconds * 1000).toISOString()),
    z
      .string()
      .max(40)
      .transform((text) => {
        const value = text
          .trim()
          .replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T')
          .replace(/z$/, 'Z');
        return /(Z|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`;
      }),
  ])
  .pipe(isoTimestamp);

/** `since` and `timestamp` are positions in the store's `$all` sequence, as integers. */
export const sinceParam = z
  .string()
  .regex(/^\d{1,19}$/, 'must be an integer timestamp returned by an earlier call')
  .transform(Number)
  .optional();

/**
 * The cursor to read from: 0 without one, and for a position beyond the store's head. A
 * client's `since` beyond the head does not get here as such: the services read it as a clock
 * first (GpodderService.positionOfClientSince, docs/design.md "Clock cursors").
 */
export function effectiveSince(since: number | undefined, head: number): number {
  return since === undefined || since > head ? 0 : since;
}

// ---- devices ----------------------------------------------------------------------------

/** gpodder.net's device ids are `[\w.-]+`; letters of any script are allowed here. */
export const gpodderDeviceId = z
  .string()
  .min(1, 'must not be empty')
  .max(LIMITS.id, `at most ${LIMITS.id} characters`)
  .regex(/^[\p{L}\p{N}_.-]+$/u, 'letters, digits, underscore, dot and dash only');

// ---- episode actions: input -------------------------------------------------------------

export const GPODDER_ACTIONS = ['download', 'delete', 'play', 'new'] as const;
export type GpodderActionName = (typeof GPODDER_ACTIONS)[number];

/** Seconds: numbers, or numeric strings (lenient); negative means unknown (clients send -1). */
const seconds = z
  .union([
    z.number().finite(),
    z
      .string()
      .regex(/^-?\d{1,12}(\.\d+)?$/, 'must be a number of seconds')
      .transform(Number),
  ])
  .refine((value) => value <= 1e9, 'must be at most 1e9 seconds')
  .nullish()
  .transform((value) => (value === null || value === undefined || value < 0 ? undefined : Math.round(value)));

const optionalText = (max: number) =>
  boundedString(max)
    .nullish()
    .transform((value) => (value === null || value === undefined || value.trim() === '' ? undefined : value.trim()));

/**
 * One action as a client uploads it. URLs are checked later (a bad URL is reported in
 * `update_urls`, not rejected with the request); unknown fields are ignored.
 */
export const gpodderActionInput = z.object({
  podcast: z.string().max(LIMITS.url * 2, `at most ${LIMITS.url * 2} characters`),
  episode: z.string().max(LIMITS.url * 2, `at most ${LIMITS.url * 2} characters`),
  guid: optionalText(LIMITS.guid),
  device: z.preprocess((value) => (value === '' || value === null ? undefined : value), gpodderDeviceId.optional()),
  // Lowercase is what gpodder.net specifies; some clients send upper case.
  action: z
    .string()
    .max(32)
    .transform((value) => value.toLowerCase())
    .pipe(z.enum(GPODDER_ACTIONS)),
  timestamp: gpodderTimestamp.nullish(),
  started: seconds,
  position: seconds,
  total: seconds,
});
export type GpodderActionInput = z.infer<typeof gpodderActionInput>;

export const MAX_ACTIONS_PER_UPLOAD = 25_000;

/** The upload body, with the schema of its actions given (see {@link pacedGpodderUpload}). */
function gpodderUploadBodyOf<Action extends z.ZodType<GpodderActionInput>>(action: Action) {
  return z.preprocess(
    // Not a union: a union's error would not name the bad field of the list.
    (body) => (typeof body === 'object' && body !== null && !Array.isArray(body) && 'actions' in body ? body.actions : body),
    z.array(action).max(MAX_ACTIONS_PER_UPLOAD, `at most ${MAX_ACTIONS_PER_UPLOAD} actions per request`),
  );
}

/** The upload body: gpodder.net takes a bare list; `{actions: [...]}` is accepted too. */
export const gpodderUploadBody = gpodderUploadBodyOf(gpodderActionInput);

/**
 * {@link gpodderUploadBody} checked a slice of its actions at a time (up to 25,000 in one
 * request), as src/domain/sync.ts's `pacedSyncRequest`: each action by its own schema, then the
 * body by the same schema taking them as checked (src/http/validate.ts, `parseInputPaced`).
 */
export const pacedGpodderUpload = {
  whole: gpodderUploadBody,
  rest: gpodderUploadBodyOf(z.custom<GpodderActionInput>(() => true)),
  // The bare list, or the `actions` of an object: where the preprocess above takes the list.
  lists: [
    { key: undefined, element: gpodderActionInput },
    { key: 'actions', element: gpodderActionInput },
  ],
} as const;

/** An action after sanitising: what an event is made of. */
export interface GpodderActionRecord {
  podcast: string;
  episode: string;
  guid?: string | undefined;
  device?: string | undefined;
  action: GpodderActionName;
  /** ISO UTC. */
  timestamp: string;
  started?: number | undefined;
  position?: number | undefined;
  total?: number | undefined;
}

export interface PreparedUpload {
  /**
   * Distinct actions, each with its event id and the id it was given before ids were ordered by
   * time ({@link formerActionId}), in upload order.
   */
  readonly actions: { readonly id: string; readonly formerId: string; readonly record: GpodderActionRecord }[];
  readonly updateUrls: [string, string][];
  /** Devices named by the actions. */
  readonly devices: string[];
}

/**
 * Sanitises and identifies an upload: actions with an unusable podcast or episode URL are
 * dropped (and reported in `update_urls` as rejected), an action without a timestamp happened
 * `now`, and exact duplicates within the upload collapse into one.
 */
export function prepareUpload(user: string, inputs: readonly GpodderActionInput[], now: string): PreparedUpload {
  return finish(prepareUploadSteps(user, inputs, now));
}

/** Actions {@link prepareUploadSteps} prepares between two pauses (each is hashed twice). */
export const PREPARE_STEP = 1_000;

/** {@link prepareUpload}, pausing (`yield`) after every {@link PREPARE_STEP} actions (src/domain/steps.ts). */
export function* prepareUploadSteps(user: string, inputs: readonly GpodderActionInput[], now: string): Steps<PreparedUpload> {
  const rewrites = new UrlRewrites();
  const seen = new Set<string>();
  const actions: { id: string; formerId: string; record: GpodderActionRecord }[] = [];
  const devices = new Set<string>();
  let prepared = 0;
  for (const input of inputs) {
    if (++prepared % PREPARE_STEP === 0) yield;
    const podcast = rewrites.sanitize(input.podcast);
    const episode = rewrites.sanitize(input.episode);
    if (podcast === undefined || episode === undefined) continue;
    const play = input.action === 'play';
    const record: GpodderActionRecord = {
      podcast,
      episode,
      guid: input.guid,
      device: input.device,
      action: input.action,
      timestamp: input.timestamp ?? now,
      // gpodder defines started, position and total for play actions only.
      started: play ? input.started : undefined,
      position: play ? input.position : undefined,
      total: play ? input.total : undefined,
    };
    const digest = contentDigest(actionContent(user, record));
    const id = actionId(user, record, digest);
    if (seen.has(id)) continue;
    seen.add(id);
    actions.push({ id, formerId: formerActionId(user, record, digest), record });
    if (record.device !== undefined) devices.add(record.device);
  }
  return { actions, updateUrls: rewrites.list(), devices: [...devices] };
}

/** Every field of the action and its user: what makes two actions the same one. */
const actionContent = (user: string, record: GpodderActionRecord): string =>
  JSON.stringify([
    user,
    record.podcast,
    record.episode,
    record.guid ?? null,
    record.device ?? null,
    record.action,
    record.timestamp,
    record.started ?? null,
    record.position ?? null,
    record.total ?? null,
  ]);

/**
 * The event id of an action, derived from its content (src/domain/ids.ts), so the same action
 * uploaded again is recognised, and ordered by the action's timestamp, so an upload's actions
 * are stored side by side.
 */
export function actionId(user: string, record: GpodderActionRecord, digest = contentDigest(actionContent(user, record))): string {
  return derivedEventId(record.timestamp, digest);
}

/**
 * The id an action was given before ids were ordered by time (a UUID version 8 from the
 * SHA-256 of its content): the actions stored then keep it, and an upload recognises them by it
 * (src/services/gpodder-episodes.ts).
 */
export function formerActionId(user: string, record: GpodderActionRecord, digest = contentDigest(actionContent(user, record))): string {
  const hex = digest.toString('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * gpodder's idea of "played": the position reached the end; or 0 of a total of 0, a finish
 * whose length was unknown: AntennaPod's first sync uploads each played episode as its duration
 * three times, 0/0/0 when unknown (its queue reads any other 0 back as -1), and GNOME Podcasts
 * uploads the end of a stream of unknown length as 0 of 0 (docs/design.md, "Plays without a
 * position").
 */
export function isPlayedAt(position: number, total: number | undefined): boolean {
  return total !== undefined && (total > 0 ? position >= total : total === 0 && position === 0);
}

/**
 * Whether a `play` action tells where playback is. gPodder's playback start carries no
 * position, and AntennaPod sends -1 (read as none) when it knew no position or no length: such
 * a play says only that playback started, so it must never move a position another device set.
 */
export function hasUsablePosition(record: Pick<GpodderActionRecord, 'position' | 'total'>): record is { position: number; total?: number | undefined } {
  return record.position !== undefined;
}

/**
 * The event an action becomes: `play` for a play with a usable position, else `episode_action`
 * (download, delete, new, and `play` as a playback start).
 */
export function actionToEvent(user: string, id: string, record: GpodderActionRecord): UserEventOf<'play'> | UserEventOf<'episode_action'> {
  const object = { rss_source_feed: record.podcast, rss_source_id: record.guid ?? record.episode };
  const enclosure = { url: record.episode };
  // Field by field rather than conditional spreads (an upload makes thousands; see presentAction).
  if (record.action === 'play' && hasUsablePosition(record)) {
    const data: UserEventOf<'play'>['data'] = { played: isPlayedAt(record.position, record.total), position: record.position };
    if (record.started !== undefined) data.started = record.started;
    if (record.total !== undefined) data.total = record.total;
    data.enclosure = enclosure;
    if (record.device !== undefined) data.device = record.device;
    return { id, user, timestamp: record.timestamp, object, type: 'play', data };
  }
  const data: UserEventOf<'episode_action'>['data'] = { action: record.action, enclosure };
  if (record.device !== undefined) data.device = record.device;
  return { id, user, timestamp: record.timestamp, object, type: 'episode_action', data };
}

// ---- episode actions: output ------------------------------------------------------------

/** The `episode` of an action whose media URL the event did not name. */
export const UNKNOWN_MEDIA_URL = '';

/** An episode action as gpodder clients read it. */
export interface GpodderAction {
  podcast: string;
  episode: string;
  guid?: string;
  device?: string;
  action: GpodderActionName;
  timestamp: string;
  started?: number;
  position?: number;
  total?: number;
}

/**
 * Whether and how a stored action is served to gpodder clients (docs/design.md, "What gpodder
 * clients see"):
 * - `never`: a play without a position (a playback start: AntennaPod applies a served one as
 *   position -1 s, Kasts as 0, moving a newer position), or an action naming neither a media
 *   URL nor a guid to find one by;
 * - `status-url`: its event named no media URL: served with the URL the user's play status of
 *   the episode knows, else the one its feed lists for the guid, else not at all;
 * - `as-is`: every other.
 */
export type ActionServing = 'as-is' | 'never' | 'status-url';

export function servingOf(action: GpodderAction): ActionServing {
  if (action.action === 'play' && action.position === undefined) return 'never';
  if (action.episode !== UNKNOWN_MEDIA_URL) return 'as-is';
  return action.guid === undefined ? 'never' : 'status-url';
}

/**
 * How an event reads as a gpodder action, or undefined for events that are not episode
 * actions. A played episode reads as position = total, which is how AntennaPod and gPodder
 * mark one finished; without a known total, the total is the position (at least 1 s).
 *
 * gpodder clients identify an episode by its media URL. A native event names it by its RSS
 * guid and, when the client knew it, its enclosure URL. Without one (and without a guid that
 * is itself a URL), `episode` is {@link UNKNOWN_MEDIA_URL}: readers resolve it from what the
 * user's state knows, or leave the action out (docs/design.md, "What gpodder clients see").
 */
export function presentAction(event: UserEvent): GpodderAction | undefined {
  if (event.type !== 'play' && event.type !== 'position' && event.type !== 'episode_action') return undefined;
  const { rss_source_feed: podcast, rss_source_id: identity } = event.object;
  const url = event.type === 'position' ? undefined : event.data.enclosure?.url;
  const episode = url ?? (sanitizeUrl(identity) === identity ? identity : UNKNOWN_MEDIA_URL);
  // Field by field rather than conditional spreads, which copied the action once per optional
  // field: a download presents every action it has not read from the read model (thousands).
  // The fields in the order clients have always seen them.
  const action = { podcast, episode } as GpodderAction;
  if (identity !== episode) action.guid = identity;
  if (event.data.device !== undefined) action.device = event.data.device;
  action.timestamp = formatGpodderTimestamp(event.timestamp);
  if (event.type === 'episode_action') {
    action.action = event.data.action;
    return action;
  }
  action.action = 'play';
  if (event.type === 'position') {
    action.position = Math.round(event.data.position);
    return action;
  }
  let position = Math.round(event.data.position);
  const known = event.data.total ?? event.data.enclosure?.duration;
  let total = known === undefined ? undefined : Math.round(known);
  if (event.data.played) {
    if (total === undefined || total <= 0) total = Math.max(position, 1);
    position = Math.max(position, total);
  }
  if (event.data.started !== undefined) action.started = Math.round(event.data.started);
  action.position = position;
  if (total !== undefined) action.total = total;
  return action;
}

/** gpodder's `aggregated=true`: only the latest action of each episode (by action time, then upload order). */
export function latestPerEpisode<T extends { action: GpodderAction }>(items: readonly T[]): T[] {
  const latest = new Map<string, { item: T; index: number }>();
  items.forEach((item, index) => {
    const key = JSON.stringify([item.action.podcast, item.action.guid ?? item.action.episode]);
    const current = latest.get(key);
    if (!current || compareIso(item.action.timestamp, current.item.action.timestamp) >= 0) latest.set(key, { item, index });
  });
  return [...latest.values()].sort((a, b) => a.index - b.index).map(({ item }) => item);
}

// ---- subscriptions ----------------------------------------------------------------------

const MAX_SUBSCRIPTION_CHANGES = 10_000;
const urlList = z.array(z.string().max(LIMITS.url * 2)).max(MAX_SUBSCRIPTION_CHANGES, `at most ${MAX_SUBSCRIPTION_CHANGES} URLs`);

/** `POST /api/2/subscriptions/{u}/{device}.json`: missing lists are empty. */
export const subscriptionChangesBody = z.object({ add: urlList.default([]), remove: urlList.default([]) });

export interface SanitizedChanges {
  readonly add: string[];
  readonly remove: string[];
  readonly updateUrls: [string, string][];
  /** URLs that are in both lists after sanitising (gpodder.net answers 400). */
  readonly conflicts: string[];
}

export function sanitizeChanges(add: readonly string[], remove: readonly string[]): SanitizedChanges {
  const rewrites = new UrlRewrites();
  const clean = (urls: readonly string[]) => [...new Set(urls.map((url) => rewrites.sanitize(url)).filter((url) => url !== undefined))];
  const added = clean(add);
  const removed = clean(remove);
  const removing = new Set(removed);
  return { add: added, remove: removed, updateUrls: rewrites.list(), conflicts: added.filter((url) => removing.has(url)) };
}

/**
 * Subscribe / unsubscribe events for a device's changes against the account's subscriptions:
 * adding a subscribed feed or removing an unsubscribed one changes nothing and emits nothing.
 */
export function decideSubscriptionChanges(
  subscribed: ReadonlySet<string>,
  changes: { readonly add: readonly string[]; readonly remove: readonly string[] },
  device: string | undefined,
  ctx: ActionContext & { readonly now: string },
): UserEvent[] {
  const events: UserEvent[] = [];
  const data = device === undefined ? {} : { device };
  for (const feed of changes.add) if (!subscribed.has(feed)) events.push(newEvent(ctx, 'subscribe', ctx.now, { rss_source_feed: feed }, data));
  for (const feed of changes.remove) if (subscribed.has(feed)) events.push(newEvent(ctx, 'unsubscribe', ctx.now, { rss_source_feed: feed }, data));
  return events;
}

/** The simple API's PUT: the device's whole list replaces the account's. */
export function diffSubscriptionList(subscribed: ReadonlySet<string>, wanted: readonly string[]): { add: string[]; remove: string[] } {
  const keep = new Set(wanted);
  return { add: [...keep].filter((feed) => !subscribed.has(feed)), remove: [...subscribed].filter((feed) => !keep.has(feed)) };
}

/** A device event for devices an upload names that the account does not know yet. */
export function newDeviceEvents(known: ReadonlySet<string>, named: readonly string[], ctx: ActionContext & { readonly now: string }): UserEvent[] {
  return [...new Set(named)].filter((device) => !known.has(device)).map((device) => newEvent(ctx, 'device', ctx.now, null, { device_id: device }));
}

// ---- paging by position -----------------------------------------------------------------

export type Page<T> =
  | { readonly kind: 'complete'; readonly items: T[] }
  | { readonly kind: 'partial'; readonly items: T[]; readonly cursor: number }
  /** Every item fetched shares one position: the caller must fetch all items at `seq`. */
  | { readonly kind: 'whole-position'; readonly seq: number };

/**
 * A page of at most `cap` items out of `fetched` (the first `cap + 1` items after the cursor,
 * ordered by position). The cursor of a partial page must not split the items of one position
 * (EventStoreDB gives every event of one append the same commit position), or the next page,
 * reading strictly after it, would skip the rest of them.
 */
export function pageByPosition<T extends { seq: number }>(fetched: readonly T[], cap: number): Page<T> {
  if (fetched.length <= cap) return { kind: 'complete', items: [...fetched] };
  const boundary = fetched[cap - 1]!.seq;
  if (fetched[cap]!.seq !== boundary) return { kind: 'partial', items: fetched.slice(0, cap), cursor: boundary };
  const before = fetched.filter((item) => item.seq < boundary);
  if (before.length > 0) return { kind: 'partial', items: before, cursor: before.at(-1)!.seq };
  return { kind: 'whole-position', seq: boundary };
}
