/**
 * `gpodder_devices` read model (docs/design.md, "Read models", 10): the user's gpodder devices, sync groups and
 * settings, one document per device, per settings scope, and one for the sync groups. Kept
 * equal to the domain fold (src/domain/gpodder-state.ts through state.ts): the projection loads
 * the user's documents, runs the domain's `evolve` on them and writes back what changed.
 * Subscriptions are per account (see src/services/gpodder.ts), so they live in `subscriptions`.
 */
import type { StateEvent, UserState } from '../src/domain/state.js';
import { emptyState, evolve } from '../src/domain/state.js';
import type { Doc, DocChange } from '../src/domain/documents.js';
import type { ProjectedEvent, Projection, ProjectionView } from './projection.js';
import { del, put, userDocId } from './projection.js';
import { fromJson, jsonEqual } from '../src/domain/json.js';

export const GPODDER_DEVICES = 'gpodder_devices';
export const GPODDER_SYNC_GROUPS = 'gpodder_sync_groups';
export const GPODDER_SETTINGS = 'gpodder_settings';

const TOUCHING = new Set(['device', 'sync_group', 'setting', 'remove', 'checkpoint', 'account_deleted']);

type GpodderSlices = Pick<UserState, 'devices' | 'sync_groups' | 'settings'>;

/** A document without the projection's bookkeeping (owner, key, position of the last change). */
export function gpodderRecordOf(doc: Doc): Doc {
  const { user: _user, key: _key, seq: _seq, ...record } = doc;
  return record;
}

function load(view: ProjectionView, user: string): GpodderSlices {
  const devices: GpodderSlices['devices'] = {};
  // defineProperty: a device named `__proto__` is an own key, not the object's prototype.
  for (const { doc } of view.find(GPODDER_DEVICES, { where: { user } })) {
    Object.defineProperty(devices, String(doc['key']), { value: gpodderRecordOf(doc), enumerable: true, writable: true, configurable: true });
  }
  const settings: GpodderSlices['settings'] = {};
  for (const { doc } of view.find(GPODDER_SETTINGS, { where: { user } }))
    settings[String(doc['key'])] = fromJson<GpodderSlices['settings'][string]>(gpodderRecordOf(doc));
  const groups = view.get(GPODDER_SYNC_GROUPS, user)?.['groups'];
  return { devices, settings, sync_groups: (groups ?? []) as string[][] };
}

/**
 * Document changes from records before and after an event. A checkpoint rewrites every record
 * with its own position, as a rebuild from the retained stream (which starts there) would.
 */
function diffRecords(collection: string, projected: ProjectedEvent, before: Record<string, object>, after: Record<string, object>): DocChange[] {
  const restamp = projected.event.type === 'checkpoint';
  const changes: DocChange[] = [];
  for (const key of Object.keys(before)) if (!(key in after)) changes.push(del(collection, userDocId(projected.user, key)));
  for (const [key, record] of Object.entries(after)) {
    if (!restamp && jsonEqual(before[key], record)) continue;
    changes.push(put(collection, userDocId(projected.user, key), { ...(record as Doc), user: projected.user, key, seq: projected.seq }));
  }
  return changes;
}

export const gpodderDevicesProjection: Projection = {
  name: 'gpodder_devices',
  collections: [
    { name: GPODDER_DEVICES, indexes: [['user', 'key']] },
    { name: GPODDER_SYNC_GROUPS, indexes: [] },
    { name: GPODDER_SETTINGS, indexes: [['user']] },
  ],
  evolve(projected, view) {
    const { event } = projected;
    if (!TOUCHING.has(event.type)) return [];
    const before = load(view, projected.user);
    const after = evolve({ ...emptyState(), ...before }, event as StateEvent);
    const changes = [
      ...diffRecords(GPODDER_DEVICES, projected, before.devices, after.devices),
      ...diffRecords(GPODDER_SETTINGS, projected, before.settings, after.settings),
    ];
    if (event.type === 'checkpoint' || !jsonEqual(before.sync_groups, after.sync_groups)) {
      changes.push(
        after.sync_groups.length === 0
          ? del(GPODDER_SYNC_GROUPS, projected.user)
          : put(GPODDER_SYNC_GROUPS, projected.user, { user: projected.user, groups: after.sync_groups, seq: projected.seq }),
      );
    }
    return changes;
  },
};
