/**
 * Event vocabulary (docs/design.md, "Events and streams"): the envelope every event carries and a zod schema per type.
 * Pure: no I/O. These schemas validate API input *and* describe what is stored, so there is
 * one source of truth for the shape of an event.
 */
import { z } from 'zod';

export const LIMITS = {
  /** gpodder.net's limit; media URLs of tracking redirects and signed CDNs come close to it. */
  url: 2048,
  /** An episode's identity is its RSS guid or, without one, its media URL: as long as a URL. */
  guid: 2048,
  title: 1024,
  text: 4096,
  id: 128,
  /** Positions and durations: a bound (31 years) no episode approaches that still rejects absurd numbers. */
  seconds: 1_000_000_000,
} as const;

/** Control characters other than tab/newline are never legitimate in titles or ids. */
const NO_CONTROL_CHARS = /^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$/;

export const boundedString = (max: number) => z.string().max(max, `at most ${max} characters`).regex(NO_CONTROL_CHARS, 'control characters are not allowed');

/** Feed and enclosure URLs: http(s) only, trimmed, bounded. */
export const httpUrl = z
  .string()
  .trim()
  .max(LIMITS.url, `at most ${LIMITS.url} characters`)
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL')
  .meta({ format: 'uri', description: 'http(s) URL' });

const MIN_TIME = Date.UTC(1990, 0, 1);
const MAX_TIME = Date.UTC(2100, 0, 1);

/**
 * `Date` silently rolls impossible dates over (2026-02-30 becomes March 2, 24:00 the next
 * day), so the calendar fields are checked before parsing.
 */
function isCalendarDateTime(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})/.exec(value);
  if (!match) return false;
  const [year, month, day, hour] = match.slice(1).map(Number) as [number, number, number, number];
  const probe = new Date(Date.UTC(year, month - 1, day));
  return hour < 24 && probe.getUTCFullYear() === year && probe.getUTCMonth() === month - 1 && probe.getUTCDate() === day;
}

const OUT_OF_RANGE = 'must be a valid time between 1990 and 2100';
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** `digits` decimal digits of `value` from `start`, or -1 if one is not a digit. */
function digitsAt(value: string, start: number, digits: number): number {
  let number = 0;
  for (let i = start; i < start + digits; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    number = number * 10 + digit;
  }
  return number;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/**
 * Whether `value` is already normalised (`YYYY-MM-DDTHH:mm:ss.sssZ`, what clients echo back
 * from the server), a real calendar time, and in range: checked by hand, without `Date`,
 * because a first sync carries tens of thousands of timestamps. Anything else takes the
 * general path, which gives the reasons.
 */
export function isNormalisedInRange(value: string): boolean {
  if (
    value.length !== 24 ||
    value[4] !== '-' ||
    value[7] !== '-' ||
    value[10] !== 'T' ||
    value[13] !== ':' ||
    value[16] !== ':' ||
    value[19] !== '.' ||
    value[23] !== 'Z'
  )
    return false;
  const year = digitsAt(value, 0, 4);
  const month = digitsAt(value, 5, 2);
  const day = digitsAt(value, 8, 2);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  return (
    year >= 1990 &&
    year < 2100 &&
    day >= 1 &&
    day <= monthDays &&
    digitsAt(value, 11, 2) >= 0 &&
    digitsAt(value, 11, 2) < 24 &&
    digitsAt(value, 14, 2) >= 0 &&
    digitsAt(value, 14, 2) < 60 &&
    digitsAt(value, 17, 2) >= 0 &&
    digitsAt(value, 17, 2) < 60 &&
    digitsAt(value, 20, 3) >= 0
  );
}

/** The UTC form of an ISO-8601 timestamp, or why it is not one. */
function normaliseTimestamp(value: string): { ok: string } | { error: string } {
  if (isNormalisedInRange(value)) return { ok: value };
  // Whole seconds in UTC (`...:SSZ`, what gpodder uploads become): the same checks, without Date.
  if (value.length === 20 && value[19] === 'Z') {
    const withMillis = `${value.slice(0, 19)}.000Z`;
    if (isNormalisedInRange(withMillis)) return { ok: withMillis };
  }
  const date = new Date(value);
  const time = date.getTime();
  if (!ISO_TIMESTAMP.test(value)) return { error: 'must be an ISO-8601 timestamp with a time zone, e.g. 2026-01-31T12:00:00Z' };
  if (!isCalendarDateTime(value)) return { error: 'must be a real calendar date and time' };
  if (Number.isNaN(time) || time < MIN_TIME || time >= MAX_TIME) return { error: OUT_OF_RANGE };
  return { ok: date.toISOString() };
}

/**
 * ISO-8601 instants, with an offset; normalised to UTC `...Z` so string order is time order.
 * One transform rather than a chain of refinements: each zod step costs, times 50,000.
 */
export const isoTimestamp = z
  .string()
  .max(40)
  .transform((value, ctx) => {
    const result = normaliseTimestamp(value);
    if ('ok' in result) return result.ok;
    ctx.addIssue({ code: 'custom', message: result.error, input: value });
    return z.NEVER;
  })
  .meta({ description: 'ISO-8601 timestamp with a time zone, e.g. 2026-01-31T12:00:00Z (stored in UTC)' });

/**
 * Free-form JSON (gpodder settings values) is bounded in depth and size at the edge: stores
 * refuse what is nested too deep (SQLite's JSON functions past 1,000 levels, MongoDB past
 * 100), and a recursive check would overflow the stack on thousands of levels. So the value is
 * walked with an explicit stack, never recursively.
 */
export const JSON_LIMITS = { depth: 32, bytes: 16 * 1024 } as const;

/** Why `value` is not bounded JSON (depth, size, non-JSON values), or undefined if it is. */
export function boundedJsonProblem(value: unknown): string | undefined {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  // Counts what JSON.stringify would write, roughly, stopping as soon as it is past the bound.
  let bytes = 0;
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (current === null || typeof current === 'boolean') bytes += 5;
    else if (typeof current === 'number') {
      if (!Number.isFinite(current)) return 'numbers must be finite';
      bytes += 24;
    } else if (typeof current === 'string') bytes += current.length + 2;
    else if (typeof current === 'object') {
      if (depth >= JSON_LIMITS.depth) return `nested deeper than ${JSON_LIMITS.depth} levels`;
      const entries = Array.isArray(current) ? undefined : Object.entries(current as Record<string, unknown>);
      // No document store takes a NUL in a key (BSON ends a name there).
      if (entries?.some(([key]) => key.includes('\u0000'))) return 'object keys must not contain NUL characters';
      const children = entries === undefined ? (current as unknown[]) : entries.map(([key, child]) => ((bytes += key.length + 3), child));
      bytes += 2 + children.length;
      for (const child of children) stack.push({ value: child, depth: depth + 1 });
    } else return 'must be JSON';
    if (bytes > JSON_LIMITS.bytes) return `larger than ${JSON_LIMITS.bytes} bytes as JSON`;
  }
  return undefined;
}

/**
 * Any JSON value within {@link JSON_LIMITS}. The refinement proves the value is JSON, which
 * zod's types cannot follow from `z.unknown()`: the cast declares the schema's output as JSON.
 */
export const boundedJson = z
  .unknown()
  .superRefine((value, ctx) => {
    const problem = boundedJsonProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({
    description: `Any JSON value, nested at most ${JSON_LIMITS.depth} levels deep and at most ${JSON_LIMITS.bytes} bytes long`,
  }) as unknown as z.ZodType<z.core.util.JSONType>;

export const uuid = z.uuid('must be a UUID');

export const PRIVACY_LEVELS = ['public', 'anonymous', 'private'] as const;
export const privacyLevel = z.enum(PRIVACY_LEVELS);
export type Privacy = z.infer<typeof privacyLevel>;

export const feedObject = z.object({ rss_source_feed: httpUrl, rss_source_id: boundedString(LIMITS.guid).min(1).optional() }).strict();
export const episodeObject = z.object({ rss_source_feed: httpUrl, rss_source_id: boundedString(LIMITS.guid).min(1) }).strict();
export type EventObject = z.infer<typeof feedObject>;

const nonNegative = z.number().finite().nonnegative();
const seconds = nonNegative.max(LIMITS.seconds, `at most ${LIMITS.seconds} seconds`);
const device = boundedString(LIMITS.id).min(1);

export const cover = z.object({ src: httpUrl.optional(), srcset: boundedString(LIMITS.text).optional() }).strict();
export const enclosure = z
  .object({ url: httpUrl.optional(), duration: seconds.optional(), size: nonNegative.int().optional(), cover: cover.optional() })
  .strict();
export type Enclosure = z.infer<typeof enclosure>;

// ---- data schemas, one per event type -------------------------------------------------

export const subscribeData = z.object({ rss_feed_title: boundedString(LIMITS.title).optional(), device: device.optional() }).strict();
export const unsubscribeData = z.object({ device: device.optional() }).strict();
export const playData = z
  .object({
    played: z.boolean(),
    position: seconds,
    started: seconds.optional(),
    total: seconds.optional(),
    rss_feed_title: boundedString(LIMITS.title).optional(),
    rss_item_title: boundedString(LIMITS.title).optional(),
    enclosure: enclosure.optional(),
    device: device.optional(),
  })
  .strict();
export const positionData = z.object({ position: seconds, device: device.optional() }).strict();
export const DEFAULT_PLAYLIST = 'saved';
export const saveData = z
  .object({
    playlist: boundedString(LIMITS.id).min(1).optional(),
    item_id: boundedString(LIMITS.id).min(1).optional(),
    removed: z.boolean().optional(),
    item_title: boundedString(LIMITS.title).optional(),
    feed_title: boundedString(LIMITS.title).optional(),
    created_at: isoTimestamp.optional(),
  })
  .strict();
export const shareData = z.object({ to: boundedString(LIMITS.title).optional(), message: boundedString(LIMITS.text).optional() }).strict();
/**
 * A choice of privacy, of the account (object null) or of one feed; `null` takes the choice back:
 * the feed follows the account's level again, the account the server's default (docs/design.md,
 * "Privacy").
 */
export const privacyData = z.object({ privacy: privacyLevel.nullable() }).strict();
export const removeData = z.object({}).strict();
export const playlistData = z
  .object({
    playlist_id: boundedString(LIMITS.id).min(1),
    action: z.enum(['upsert', 'delete']),
    name: boundedString(LIMITS.title).optional(),
    description: boundedString(LIMITS.text).optional(),
    created_at: isoTimestamp.optional(),
  })
  .strict();
export const syncData = z
  .object({
    device,
    request_id: boundedString(LIMITS.id).min(1),
    counts: z.record(z.string(), z.number().int().nonnegative()),
  })
  .strict();

// ---- gpodder.net API v2 (docs/design.md, "Clients and their APIs"): episode actions, devices, sync groups, settings -------

/**
 * gpodder's `download`, `delete` and `new` actions. Its `play` maps onto `play` when it carries
 * a position; a `play` without a usable one (gPodder queues one each time playback starts,
 * AntennaPod sends -1 for an unknown position) is kept here as a playback start: other devices
 * see it, and it moves no position (docs/design.md, "Plays without a position").
 */
export const EPISODE_ACTIONS = ['download', 'delete', 'new', 'play'] as const;
export const episodeActionData = z.object({ action: z.enum(EPISODE_ACTIONS), device: device.optional(), enclosure: enclosure.optional() }).strict();
/** gpodder.net's device types; clients map unknown types to `other`. */
export const DEVICE_TYPES = ['desktop', 'laptop', 'mobile', 'server', 'other'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];
/**
 * Creates a device, or changes the caption and/or type given; with `forgotten`, takes it off the
 * account (its sync group and settings with it) until it is used again.
 */
export const deviceData = z
  .object({ device_id: device, caption: boundedString(LIMITS.title).optional(), type: z.enum(DEVICE_TYPES).optional(), forgotten: z.literal(true).optional() })
  .strict();
/** gpodder's sync groups: devices to put in one group each, devices to take out of theirs. */
export const syncGroupData = z.object({ synchronize: z.array(z.array(device).min(2)).max(100), stop_synchronize: z.array(device).max(100) }).strict();
export const SETTING_SCOPES = ['account', 'device', 'podcast', 'episode'] as const;
export type SettingScope = (typeof SETTING_SCOPES)[number];
/**
 * gpodder's settings: set and remove keys of one scope. The podcast (and episode URL, as
 * `rss_source_id`) of podcast and episode scopes is the event's object, so erasing a feed
 * erases its settings too.
 */
export const settingData = z
  .object({
    scope: z.enum(SETTING_SCOPES),
    device: device.optional(),
    set: z.record(boundedString(LIMITS.id).min(1), boundedJson),
    remove: z.array(boundedString(LIMITS.id).min(1)),
  })
  .strict();

/** The user event types and, for each, its data schema and which `object` it takes. */
export const USER_EVENT_TYPES = {
  subscribe: { data: subscribeData, object: feedObject },
  unsubscribe: { data: unsubscribeData, object: feedObject },
  play: { data: playData, object: episodeObject },
  position: { data: positionData, object: episodeObject },
  save: { data: saveData, object: episodeObject },
  share: { data: shareData, object: episodeObject },
  privacy: { data: privacyData, object: feedObject.nullable() },
  remove: { data: removeData, object: feedObject.nullable() },
  playlist: { data: playlistData, object: z.null() },
  sync: { data: syncData, object: z.null() },
  episode_action: { data: episodeActionData, object: episodeObject },
  /** Devices, sync groups and settings are written through the gpodder API only. */
  device: { data: deviceData, object: z.null() },
  sync_group: { data: syncGroupData, object: z.null() },
  setting: { data: settingData, object: feedObject.nullable() },
  /** Emitted by the server when the user deletes their account: projections forget the user. */
  account_deleted: { data: z.object({}).strict(), object: z.null() },
} as const;

export type UserEventType = keyof typeof USER_EVENT_TYPES;
/**
 * Types a client may send as actions (`sync` and `account_deleted` are emitted by the server
 * only; `device`, `sync_group` and `setting` come through the gpodder API).
 */
export const ACTION_TYPES = ['subscribe', 'unsubscribe', 'play', 'position', 'save', 'share', 'privacy', 'remove', 'playlist', 'episode_action'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

const envelopeFields = {
  id: uuid,
  timestamp: isoTimestamp,
  user: boundedString(LIMITS.id).min(1),
};

function userEventSchema<T extends string, O extends z.ZodType, D extends z.ZodType>(type: T, spec: { object: O; data: D }) {
  return z.object({ ...envelopeFields, type: z.literal(type), object: spec.object, data: spec.data }).strict();
}

/** A stored user event (the `data` of the store event). */
export const userEvent = z.discriminatedUnion('type', [
  userEventSchema('subscribe', USER_EVENT_TYPES.subscribe),
  userEventSchema('unsubscribe', USER_EVENT_TYPES.unsubscribe),
  userEventSchema('play', USER_EVENT_TYPES.play),
  userEventSchema('position', USER_EVENT_TYPES.position),
  userEventSchema('save', USER_EVENT_TYPES.save),
  userEventSchema('share', USER_EVENT_TYPES.share),
  userEventSchema('privacy', USER_EVENT_TYPES.privacy),
  userEventSchema('remove', USER_EVENT_TYPES.remove),
  userEventSchema('playlist', USER_EVENT_TYPES.playlist),
  userEventSchema('sync', USER_EVENT_TYPES.sync),
  userEventSchema('episode_action', USER_EVENT_TYPES.episode_action),
  userEventSchema('device', USER_EVENT_TYPES.device),
  userEventSchema('sync_group', USER_EVENT_TYPES.sync_group),
  userEventSchema('setting', USER_EVENT_TYPES.setting),
  userEventSchema('account_deleted', USER_EVENT_TYPES.account_deleted),
]);
export type UserEvent = z.infer<typeof userEvent>;
export type UserEventOf<T extends UserEventType> = Extract<UserEvent, { type: T }>;

/** The action form of one event type (exported so sync requests can carry a subset as tasks). */
export function actionSchema<T extends string, O extends z.ZodType, D extends z.ZodType>(type: T, spec: { object: O; data: D }) {
  return z.object({ id: uuid.optional(), type: z.literal(type), timestamp: isoTimestamp, object: spec.object, data: spec.data }).strict();
}

/** What a client sends in `POST /v1/events`: an event without `user` (taken from the token). */
export const actionInput = z.discriminatedUnion('type', [
  actionSchema('subscribe', USER_EVENT_TYPES.subscribe),
  actionSchema('unsubscribe', USER_EVENT_TYPES.unsubscribe),
  actionSchema('play', USER_EVENT_TYPES.play),
  actionSchema('position', USER_EVENT_TYPES.position),
  actionSchema('save', USER_EVENT_TYPES.save),
  actionSchema('share', USER_EVENT_TYPES.share),
  actionSchema('privacy', USER_EVENT_TYPES.privacy),
  actionSchema('remove', USER_EVENT_TYPES.remove),
  actionSchema('playlist', USER_EVENT_TYPES.playlist),
  actionSchema('episode_action', USER_EVENT_TYPES.episode_action),
]);
export type ActionInput = z.infer<typeof actionInput>;

export function isUserEventType(type: string): type is UserEventType {
  return Object.hasOwn(USER_EVENT_TYPES, type);
}

/** Stream names (documented in README for admins using the EventStoreDB UI). */
export const streams = {
  user: (userId: string) => `user-${userId}`,
  userPrefix: 'user-',
  podcastStats: (feedKey: string) => `podcast_stats-${feedKey}`,
  podcastStatsPrefix: 'podcast_stats-',
} as const;

export function userIdFromStream(stream: string): string | undefined {
  return stream.startsWith(streams.userPrefix) ? stream.slice(streams.userPrefix.length) : undefined;
}
