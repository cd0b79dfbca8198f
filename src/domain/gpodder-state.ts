/**
 * The parts of a user's state that the gpodder.net API adds (docs/design.md, "Clients and their APIs"): devices, sync groups
 * and settings. Pure reducers, called by the fold in state.ts, so they travel in checkpoints
 * and survive retention like every other part of the state.
 *
 * Devices are last-writer-wins by timestamp like the other records. Sync groups and settings
 * are edits of one shared structure (merge these groups, drop these keys), so, like privacy,
 * they apply in stream order: the last applied edit wins.
 */
import type { DeviceType, SettingScope, UserEventOf } from './events.js';
import type { JsonValue } from './json.js';
import type { UserState } from './state.js';
import { withEntry, withSlice, writable } from './owned-copies.js';

export interface DeviceState {
  id: string;
  caption: string;
  type: DeviceType;
  created_at: string;
  updated_at: string;
}

export interface SettingsState {
  scope: SettingScope;
  /** The device of a `device` scope. */
  device: string | null;
  /** The feed of `podcast` and `episode` scopes. */
  podcast: string | null;
  /** The episode URL of an `episode` scope. */
  episode: string | null;
  values: Record<string, JsonValue>;
}

/** Which settings an event or request addresses. */
export interface SettingsTarget {
  scope: SettingScope;
  device?: string | undefined;
  podcast?: string | undefined;
  episode?: string | undefined;
}

/** Unambiguous key of a settings scope in the state (and in the read model). */
export function settingsKey(target: SettingsTarget): string {
  const { scope } = target;
  const qualifier =
    scope === 'device'
      ? [target.device ?? '']
      : scope === 'podcast'
        ? [target.podcast ?? '']
        : scope === 'episode'
          ? [target.podcast ?? '', target.episode ?? '']
          : [];
  return JSON.stringify([scope, ...qualifier]);
}

export function withDevice(state: UserState, event: UserEventOf<'device'>): UserState {
  const { device_id: id, caption, type } = event.data;
  // Own keys only: a device named `toString` or `isPrototypeOf` is not Object.prototype's.
  const current = Object.hasOwn(state.devices, id) ? state.devices[id] : undefined;
  if (event.data.forgotten === true) return current === undefined || current.updated_at > event.timestamp ? state : withoutDevice(state, id);
  if (current) {
    // A bare "this device exists" (auto-creation) changes nothing about a known device.
    if (caption === undefined && type === undefined) return state;
    if (current.updated_at > event.timestamp) return state;
  }
  const next: DeviceState = {
    id,
    caption: caption ?? current?.caption ?? '',
    type: type ?? current?.type ?? 'other',
    created_at: current?.created_at ?? event.timestamp,
    updated_at: event.timestamp,
  };
  return withSlice(state, 'devices', withEntry(state.devices, id, next));
}

/**
 * The account without device `id`: its record, its place in a sync group (a group left with one
 * device is gone) and its settings. Using the device again (an upload naming it) makes it anew.
 */
function withoutDevice(state: UserState, id: string): UserState {
  const devices = writable(state.devices);
  delete devices[id];
  let next = withSlice(state, 'devices', devices);
  if (state.sync_groups.some((group) => group.includes(id))) next = { ...next, sync_groups: applySyncGroups(state.sync_groups, [], [id]) };
  const key = settingsKey({ scope: 'device', device: id });
  if (Object.hasOwn(state.settings, key)) {
    const settings = writable(state.settings);
    delete settings[key];
    next = withSlice(next, 'settings', settings);
  }
  return next;
}

/**
 * Merges each new group with the groups it overlaps (gpodder: synchronizing a device with a
 * member of a group joins that group), then takes the stopped devices out. Groups are kept
 * sorted, and a group left with fewer than two devices is gone, so equal edits give equal
 * states whatever the order of the devices in a request.
 */
export function applySyncGroups(groups: readonly (readonly string[])[], synchronize: readonly (readonly string[])[], stop: readonly string[]): string[][] {
  let result = groups.map((group) => new Set(group));
  for (const wanted of synchronize) {
    const merged = new Set(wanted);
    const rest: Set<string>[] = [];
    for (const group of result) {
      if ([...group].some((device) => merged.has(device))) for (const device of group) merged.add(device);
      else rest.push(group);
    }
    result = [...rest, merged];
  }
  const stopped = new Set(stop);
  return result
    .map((group) => [...group].filter((device) => !stopped.has(device)).sort())
    .filter((group) => group.length >= 2)
    .sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
}

export function withSyncGroup(state: UserState, event: UserEventOf<'sync_group'>): UserState {
  return { ...state, sync_groups: applySyncGroups(state.sync_groups, event.data.synchronize, event.data.stop_synchronize) };
}

export function withSetting(state: UserState, event: UserEventOf<'setting'>): UserState {
  const target: SettingsTarget = {
    scope: event.data.scope,
    device: event.data.device,
    podcast: event.object?.rss_source_feed,
    episode: event.object?.rss_source_id,
  };
  const key = settingsKey(target);
  const values: Record<string, JsonValue> = { ...state.settings[key]?.values, ...(event.data.set as Record<string, JsonValue>) };
  for (const name of event.data.remove) delete values[name];
  const settings = writable(state.settings);
  // An emptied scope is dropped, so it reads the same as one never set.
  if (Object.keys(values).length === 0) delete settings[key];
  else
    settings[key] = {
      scope: target.scope,
      device: target.scope === 'device' ? (target.device ?? null) : null,
      podcast: target.podcast ?? null,
      episode: target.scope === 'episode' ? (target.episode ?? null) : null,
      values,
    };
  return withSlice(state, 'settings', settings);
}
