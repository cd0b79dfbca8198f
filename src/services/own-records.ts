/**
 * A user's own records — subscriptions, play statuses, playlists: the per-user record read
 * models (projections/user-records.ts) — read without waiting for the projector
 * (docs/design.md, "Read models"). When the read model has not reached the user's latest
 * event (other users' writes queued before theirs), the documents it holds are read as they
 * are and the user's events it has not applied are laid over them by the projection's own
 * `evolve`: the answer is the one the read model gives once caught up, and a read never waits
 * on other users' events. A pending event that may change any of the user's records (a
 * `checkpoint`, `account_deleted`, a `remove` of everything) is replayed on all of them, loaded
 * as the projection asks (src/services/replay-on-read-model.ts). It waits only when thousands of
 * the user's events are pending or the projector keeps committing while the documents are read.
 */
import type { Query, StoredDoc } from '../domain/documents.js';
import { comparePositions } from '../stores/event-store.js';
import type { Position } from '../stores/event-store.js';
import { toProjectedEvent } from '../projector/projected-event.js';
import type { ProjectedEvent, Projection, ProjectionView } from '../../projections/projection.js';
import { userDocId } from '../../projections/projection.js';
import type { UserRecordProjection } from '../../projections/user-records.js';
import type { ReadModelService } from './read-models.js';
import { applyPending, replayOnReadModel } from './replay-on-read-model.js';

/** The documents a query finds, and the cursor they are complete up to (a commit position). */
export interface OwnRecords {
  readonly docs: StoredDoc[];
  readonly cursor: number;
}

/** Reads of the documents the projector's commits overtook before the read falls back to waiting. */
const ATTEMPTS = 3;
/**
 * Past this many of the user's events not applied (a projection rebuilt from the start, a
 * large upload), the read waits for the projector rather than read and apply them all.
 */
const MAX_PENDING = 5_000;

/**
 * The user's documents of `projection` that `query` finds (it must select the user's, `where:
 * { user }`, and have no limit), in its order, as the read model holds them once caught up
 * with the user; the cursor is the commit up to which every one of the user's events is
 * answered (the read model's checkpoint when caught up, else the user's latest event). Throws
 * ReadModelsBehindError when it has to wait and the wait runs out.
 */
export async function ownRecords(
  readModels: ReadModelService,
  projection: UserRecordProjection,
  user: string,
  query: Query,
  { maxPending = MAX_PENDING }: { maxPending?: number } = {},
): Promise<OwnRecords> {
  if (query.where?.['user'] !== user || query.limit !== undefined) throw new Error("ownRecords: a query of all the user's documents that match it");
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const answer = await readAhead(readModels, projection, user, query, maxPending);
    if (answer === 'wait') break;
    if (answer !== 'overtaken') return answer;
  }
  await readModels.catchUpWithUser(user, [projection.name]);
  // Read before the documents: what is committed in between comes now and maybe again, never skipped.
  const cursor = await checkpointCommit(readModels, projection);
  return { docs: await readModels.readModel.find(projection.collection, query), cursor };
}

/** Two checkpoints read one after the other are the same: the projector committed nothing in between. */
const samePosition = (a: Position | undefined, b: Position | undefined): boolean =>
  a === undefined || b === undefined ? a === b : comparePositions(a, b) === 0;

async function checkpointCommit(readModels: ReadModelService, projection: UserRecordProjection): Promise<number> {
  return Number((await readModels.readModel.getCheckpoint(projection.name))?.position.commit ?? 0n);
}

/**
 * One read ahead of the projector: 'wait' when too many events are pending or a replay gave up,
 * 'overtaken' when the projector committed while the documents were read (they may then hold
 * some of the events read as pending: applied twice, a playlist's item would be too).
 */
async function readAhead(
  readModels: ReadModelService,
  projection: UserRecordProjection,
  user: string,
  query: Query,
  maxPending: number,
): Promise<OwnRecords | 'wait' | 'overtaken'> {
  const { readModel } = readModels;
  const { checkpoint, behind } = await readModels.behindUser(user, projection.name, maxPending);
  if (behind === undefined) {
    // Caught up with the user (most reads): the read model's answer, the checkpoint read before it.
    return { docs: await readModel.find(projection.collection, query), cursor: Number(checkpoint?.commit ?? 0n) };
  }
  if (!behind.complete) return 'wait';
  const pending: ProjectedEvent[] = [];
  const keys = new Set<string>();
  let everyRecord = false;
  for (const recorded of behind.events) {
    const projected = toProjectedEvent(recorded);
    if (projected === undefined) continue;
    const touched = projection.docKeys(projected.event);
    if (touched === 'none') continue;
    if (touched === 'all') everyRecord = true;
    else for (const key of touched) keys.add(userDocId(user, key));
    pending.push(projected);
  }
  const overtaken = async () => !samePosition((await readModel.getCheckpoint(projection.name))?.position, checkpoint);
  const cursor = Number(behind.latest.commit);
  if (everyRecord) {
    // A checkpoint, a remove of everything: the projection reads all of the user's records, loaded as it asks.
    const docs = await replayOnReadModel(readModel, (view) => applyPending(view, projection, pending).find(projection.collection, query));
    if (docs === undefined) return 'wait';
    return (await overtaken()) ? 'overtaken' : { docs: docs.value, cursor };
  }
  const [found, held] = await Promise.all([readModel.find(projection.collection, query), readModel.getMany(projection.collection, [...keys])]);
  if (await overtaken()) return 'overtaken';
  const base: ProjectionView = {
    get: (collection, id) => {
      // Absent is an answer: a document not read here must not pass for one.
      if (collection !== projection.collection || !keys.has(id)) throw new Error(`ownRecords: an unexpected read of ${collection}/${id}`);
      return held.get(id);
    },
    find: (collection, asked) => {
      // The projection reads all of a user's records only for the events replayed above.
      if (collection !== projection.collection || asked !== query) throw new Error(`ownRecords: an unexpected find in ${collection}`);
      return found;
    },
    history: () => {
      throw new Error('ownRecords: a per-user record projection reads no history');
    },
  };
  return { docs: applyPending(base, projection, pending).find(projection.collection, query), cursor };
}

/**
 * What `read` reads of the user's documents of `projection` — one whose documents of a user
 * come from that user's events alone and are read whole (gpodder devices, settings and sync
 * groups) — as the read model holds them once caught up with the user: the user's events it
 * has not applied are replayed by its own `evolve` on its documents, loaded as it and `read`
 * ask (src/services/replay-on-read-model.ts). Waits for the projector only as
 * {@link ownRecords} does.
 */
export async function ownDocuments<T>(
  readModels: ReadModelService,
  projection: Projection,
  user: string,
  read: (view: ProjectionView) => T,
  { maxPending = MAX_PENDING }: { maxPending?: number } = {},
): Promise<T> {
  const { readModel } = readModels;
  const replay = (pending: readonly ProjectedEvent[]) => replayOnReadModel(readModel, (view) => read(applyPending(view, projection, pending)));
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const { checkpoint, behind } = await readModels.behindUser(user, projection.name, maxPending);
    if (behind === undefined) {
      const replayed = await replay([]);
      if (replayed === undefined) break;
      return replayed.value;
    }
    if (!behind.complete) break;
    const replayed = await replay(behind.events.flatMap((recorded) => toProjectedEvent(recorded) ?? []));
    if (replayed === undefined) break;
    if (samePosition((await readModel.getCheckpoint(projection.name))?.position, checkpoint)) return replayed.value;
  }
  await readModels.catchUpWithUser(user, [projection.name]);
  const replayed = await replay([]);
  if (replayed === undefined) throw new Error(`ownDocuments: the read of ${projection.name} asked for more after every round`);
  return replayed.value;
}
