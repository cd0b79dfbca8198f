/**
 * The projector's own collections in the read-model store, beside the projections' documents:
 * - `parked_events`: events a projection could not apply (src/projector/projector.ts);
 * - `projection_versions`: the version of each projection that built its documents
 *   (Projection.version), so that an upgrade that changes a read model's shape rebuilds it from
 *   the events by itself (docs/operations.md, "Upgrades"), rather than serving documents of a
 *   shape the code no longer reads;
 * - `projection_withdrawals`: for each projection, the position of the last withdrawal that
 *   changed its documents (src/domain/withdrawals.ts), committed with them: a cache of answers
 *   made from them (src/services/public-views.ts) tells by it, with one read, that nothing it
 *   answered has been taken back since.
 * And resetting a projection's share of them with its documents.
 */
import type { DocChange, ReadModelStore } from '../stores/read-model.js';
import type { Position } from '../stores/event-store.js';
import { comparePositions, START } from '../stores/event-store.js';
import { formatPosition } from '../domain/position.js';
import type { Projection } from '../../projections/projection.js';

export const PARKED_EVENTS = 'parked_events';
export const PROJECTION_VERSIONS = 'projection_versions';
export const PROJECTION_WITHDRAWALS = 'projection_withdrawals';

export const INTERNAL_COLLECTIONS = [
  { name: PARKED_EVENTS, indexes: [['projection']] },
  { name: PROJECTION_VERSIONS, indexes: [] },
  { name: PROJECTION_WITHDRAWALS, indexes: [] },
] as const;

export const versionOf = (projection: Projection): number => projection.version ?? 1;

/**
 * The version that built the projection's documents: as recorded, else 1 when it has projected
 * something (its documents predate versions, and version 1 is what the code was then), else
 * undefined (nothing built yet).
 */
export async function builtVersion(readModel: ReadModelStore, projection: Projection, checkpoint: Position): Promise<number | undefined> {
  const recorded = (await readModel.get(PROJECTION_VERSIONS, projection.name))?.['version'];
  if (typeof recorded === 'number') return recorded;
  return comparePositions(checkpoint, START) === 0 ? undefined : 1;
}

/** The change that records the projection's documents as built by this version. */
export function versionRecord(projection: Projection): DocChange {
  return { op: 'put', collection: PROJECTION_VERSIONS, id: projection.name, doc: { version: versionOf(projection) } };
}

/** The change that records `position` as the last withdrawal that changed the projection's documents. */
export function withdrawalRecord(projection: Projection, position: Position): DocChange {
  return { op: 'put', collection: PROJECTION_WITHDRAWALS, id: projection.name, doc: { position: formatPosition(position) } };
}

/**
 * The last withdrawal each projection applied, as the texts of their positions ('' for none yet),
 * in one read: what a cache of answers compares (src/services/public-views.ts).
 */
export async function lastWithdrawals(readModel: ReadModelStore, projections: readonly string[]): Promise<string> {
  const records = await readModel.getMany(PROJECTION_WITHDRAWALS, projections);
  return projections.map((name) => String(records.get(name)?.['position'] ?? '')).join(' ');
}

/** Drops a projection's documents, checkpoint, recorded version and withdrawal, and the events parked for it. */
export async function resetProjection(readModel: ReadModelStore, projection: Projection): Promise<void> {
  await readModel.reset(projection.name, [...projection.collections.map((collection) => collection.name), ...(projection.retiredCollections ?? [])]);
  // Parked events and versions live in collections shared by all projections, so reset() cannot
  // drop them; left behind they would report failures of a history that no longer exists.
  const parked = await readModel.find(PARKED_EVENTS, { where: { projection: projection.name } });
  const deletes: DocChange[] = [
    ...parked.map(({ id }): DocChange => ({ op: 'delete', collection: PARKED_EVENTS, id })),
    { op: 'delete', collection: PROJECTION_VERSIONS, id: projection.name },
    { op: 'delete', collection: PROJECTION_WITHDRAWALS, id: projection.name },
  ];
  // START is what an absent checkpoint means, so this leaves the projection where reset() put it.
  await readModel.commit(projection.name, deletes, START);
}
