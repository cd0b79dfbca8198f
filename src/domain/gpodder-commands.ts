/**
 * The gpodder.net API's writes (docs/design.md, "Clients and their APIs") decided on the user's
 * folded state: devices, subscription uploads, sync groups, settings and episode actions. Pure:
 * each takes the state and the command and returns the events to append, or throws a
 * {@link GpodderInputError} (a 400 naming the fields) and nothing is written. The service runs
 * them through the one write path (src/services/command-handler.ts), so a decision always sees
 * the state it is appended after, never a read model that lags.
 */
import type { DeviceType, SettingScope, UserEvent } from './events.js';
import type { JsonValue } from '../stores/event-store.js';
import type { ActionContext } from './decide.js';
import { byTimestamp, newEvent } from './decide.js';
import type { SettingsTarget } from './gpodder-state.js';
import { settingsKey } from './gpodder-state.js';
import type { GpodderActionRecord, SanitizedChanges } from './gpodder.js';
import { actionToEvent, decideSubscriptionChanges, diffSubscriptionList, hasUsablePosition, isPlayedAt, newDeviceEvents } from './gpodder.js';
import type { UserState } from './state.js';
import type { PlayStatusState } from './state.js';
import { isSubscribed } from './state.js';
import { episodeKey } from './episode-keys.js';

/**
 * Per-user bounds on what gpodder clients may store (devices and settings are kept whole in
 * read models and in the sync cache): far above what real clients use, far below what would
 * let one user fill memory. Checked against the folded state the append follows.
 */
export const USER_LIMITS = { devices: 100, settingsBytes: 256 * 1024 } as const;

/** Bad input that only the user's data reveals (e.g. an unknown device): a 400 naming the fields. */
export class GpodderInputError extends Error {
  override readonly name = 'GpodderInputError';
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export type GpodderContext = ActionContext & { readonly now: string };

/** The feeds the account is subscribed to. */
export function subscribedFeeds(state: UserState): Set<string> {
  return new Set(
    Object.values(state.subscriptions)
      .filter(isSubscribed)
      .map((sub) => sub.rss_source_feed),
  );
}

function knownDevices(state: UserState): Set<string> {
  return new Set(Object.keys(state.devices));
}

function checkDeviceCount(known: number, added: number): void {
  if (added > 0 && known + added > USER_LIMITS.devices) {
    throw new GpodderInputError(`At most ${USER_LIMITS.devices} devices per account: forget one no longer used (the web home page's Devices)`, [
      { path: 'device', message: `at most ${USER_LIMITS.devices} devices per account; forget one no longer used on the web home page` },
    ]);
  }
}

/** A `device` event for each device a write names that the account does not know yet, within the device limit. */
export function decideNewDevices(state: UserState, devices: readonly string[], ctx: GpodderContext): UserEvent[] {
  const known = knownDevices(state);
  const events = newDeviceEvents(known, devices, ctx);
  checkDeviceCount(known.size, events.length);
  return events;
}

/** `POST /api/2/devices/{u}/{device}.json`: creates the device, or changes what is given; a request that changes nothing decides nothing. */
export function decideUpdateDevice(
  state: UserState,
  command: { readonly device: string; readonly caption?: string | undefined; readonly type?: DeviceType | undefined },
  ctx: GpodderContext,
): UserEvent[] {
  const { device, caption, type } = command;
  // Own keys only: a device named `toString` is not Object.prototype's.
  const current = Object.hasOwn(state.devices, device) ? state.devices[device] : undefined;
  if (!current) checkDeviceCount(Object.keys(state.devices).length, 1);
  const differs = (field: 'caption' | 'type') => command[field] !== undefined && command[field] !== current?.[field];
  if (current && !differs('caption') && !differs('type')) return [];
  const data = { device_id: device, ...(caption !== undefined ? { caption } : {}), ...(type !== undefined ? { type } : {}) };
  return [newEvent(ctx, 'device', ctx.now, null, data)];
}

/**
 * Forgets a device (the home page's "Forget"): its record, sync group and settings go, and it
 * no longer counts towards the account's {@link USER_LIMITS.devices}. An unknown device decides
 * nothing. An app still using it makes it anew at its next upload.
 */
export function decideForgetDevice(state: UserState, device: string, ctx: GpodderContext): UserEvent[] {
  return Object.hasOwn(state.devices, device) ? [newEvent(ctx, 'device', ctx.now, null, { device_id: device, forgotten: true })] : [];
}

/**
 * A device's subscription changes (gpodder's upload, and Nextcloud's, which names no device:
 * `device` undefined, none is created or recorded), against what the account is subscribed to.
 */
export function decideSubscriptionUpload(
  state: UserState,
  command: { readonly device: string | undefined; readonly changes: SanitizedChanges },
  ctx: GpodderContext,
): UserEvent[] {
  const { device, changes } = command;
  if (changes.conflicts.length > 0) {
    throw new GpodderInputError(
      `A URL is both added and removed: ${changes.conflicts.slice(0, 3).join(', ')}`,
      changes.conflicts.map((url) => ({ path: 'add', message: `${url} is also in remove` })),
    );
  }
  const devices = device === undefined ? [] : [device];
  return [...decideNewDevices(state, devices, ctx), ...decideSubscriptionChanges(subscribedFeeds(state), changes, device, ctx)];
}

/** The simple API's PUT: the device's list (sanitised) replaces the account's subscriptions. */
export function decideSubscriptionList(
  state: UserState,
  command: { readonly device: string; readonly urls: readonly string[] },
  ctx: GpodderContext,
): UserEvent[] {
  const subscribed = subscribedFeeds(state);
  return [
    ...decideNewDevices(state, [command.device], ctx),
    ...decideSubscriptionChanges(subscribed, diffSubscriptionList(subscribed, command.urls), command.device, ctx),
  ];
}

/** Starts and stops synchronisation; every device named must exist (400 naming it otherwise); groups of fewer than two are dropped. */
export function decideSyncGroups(
  state: UserState,
  command: { readonly synchronize: readonly (readonly string[])[]; readonly stop: readonly string[] },
  ctx: GpodderContext,
): UserEvent[] {
  const known = knownDevices(state);
  const issues: { path: string; message: string }[] = [];
  command.synchronize.forEach((group, i) =>
    group.forEach((device, j) => known.has(device) || issues.push({ path: `synchronize.${i}.${j}`, message: `unknown device ${device}` })),
  );
  command.stop.forEach((device, i) => known.has(device) || issues.push({ path: `stop-synchronize.${i}`, message: `unknown device ${device}` }));
  if (issues.length > 0) throw new GpodderInputError(`Unknown device: ${issues.map((issue) => issue.path).join(', ')}`, issues);
  const groups = command.synchronize.map((group) => [...new Set(group)]).filter((group) => group.length >= 2);
  if (groups.length === 0 && command.stop.length === 0) return [];
  return [newEvent(ctx, 'sync_group', ctx.now, null, { synchronize: groups, stop_synchronize: [...command.stop] })];
}

/**
 * Sets then removes keys of one settings scope (gpodder.net's order), if the account's settings,
 * every scope, stay within {@link USER_LIMITS}.settingsBytes of JSON after the change.
 */
export function decideSettings(
  state: UserState,
  command: { readonly target: SettingsTarget & { readonly scope: SettingScope }; readonly set: Record<string, JsonValue>; readonly remove: readonly string[] },
  ctx: GpodderContext,
): UserEvent[] {
  const { target, set, remove } = command;
  if (Object.keys(set).length === 0 && remove.length === 0) return [];
  const key = settingsKey(target);
  let bytes = 0;
  let found = false;
  for (const [scopeKey, entry] of Object.entries(state.settings)) {
    let values = entry.values;
    if (scopeKey === key) {
      found = true;
      values = { ...values, ...set };
      for (const name of remove) delete values[name];
    }
    bytes += JSON.stringify(values).length;
  }
  if (!found) bytes += JSON.stringify(set).length;
  if (bytes > USER_LIMITS.settingsBytes) {
    throw new GpodderInputError(`An account's settings are limited to ${USER_LIMITS.settingsBytes} bytes of JSON`, [
      { path: 'set', message: `the account's settings would exceed ${USER_LIMITS.settingsBytes} bytes` },
    ]);
  }
  const object =
    target.podcast === undefined ? null : { rss_source_feed: target.podcast, ...(target.episode !== undefined ? { rss_source_id: target.episode } : {}) };
  const data = { scope: target.scope, ...(target.device !== undefined ? { device: target.device } : {}), set, remove: [...remove] };
  return [newEvent(ctx, 'setting', ctx.now, object, data)];
}

/**
 * An episode-action upload: the devices it names that the account does not know, then its
 * actions (each with the id derived from it, so an exact duplicate is the same event) in time
 * order (the fold is last-writer-wins by time anyway, and the stream reads naturally).
 */
export function decideEpisodeActions(
  state: UserState,
  command: { readonly devices: readonly string[]; readonly actions: readonly { readonly id: string; readonly record: GpodderActionRecord }[] },
  ctx: GpodderContext,
  /** The play statuses of the episodes the upload finishes ({@link finishedEpisodeKeys}), as `state` holds them. */
  finishedStatuses: ReadonlyMap<string, PlayStatusState> = new Map(),
): UserEvent[] {
  const events = byTimestamp(command.actions.map(({ id, record }) => actionToEvent(ctx.user, id, record)));
  return [...decideNewDevices(state, command.devices, ctx), ...withoutRepeatedFinishes(finishedStatuses, events)];
}

/** The play statuses an upload's decision reads: those of the episodes it finishes. */
export function finishedEpisodeKeys(records: Iterable<GpodderActionRecord>): Set<string> {
  const keys = new Set<string>();
  for (const record of records) {
    if (record.action === 'play' && hasUsablePosition(record) && isPlayedAt(record.position, record.total))
      keys.add(episodeKey(record.podcast, record.guid ?? record.episode));
  }
  return keys;
}

/**
 * The events less the finishes of episodes already finished: a `play` that marks played an
 * episode whose status is played (by an older event, nothing newer having marked it new or
 * moved it since) changes nothing, and records nothing, as a subscription change that changes
 * nothing. PinePods dates every finish it downloads again "now" and uploads it again, at every
 * sync (test/clients/pinepods.ts): recorded, each would come back to it in the next answer's
 * margin, for ever (docs/api.md, "Client quirks honoured"). Only the episodes an upload finishes
 * are looked up: a user's whole play statuses are not folded for an upload (src/services/folded-user.ts).
 */
function withoutRepeatedFinishes(finishedStatuses: ReadonlyMap<string, PlayStatusState>, events: readonly UserEvent[]): UserEvent[] {
  if (finishedStatuses.size === 0 && !events.some((event) => event.type === 'play' && event.data.played)) return [...events];
  const played = new Map<string, { played: boolean; at: string }>();
  return events.filter((event) => {
    if (event.type !== 'play' && !(event.type === 'episode_action' && event.data.action === 'new')) return true;
    const key = episodeKey(event.object.rss_source_feed, event.object.rss_source_id);
    const record = finishedStatuses.get(key);
    const current = played.get(key) ?? (record ? { played: record.played, at: record.updated_at } : undefined);
    if (current && current.at > event.timestamp) return true;
    const finishes = event.type === 'play' && event.data.played;
    if (finishes && current?.played) return false;
    played.set(key, { played: finishes, at: event.timestamp });
    return true;
  });
}
