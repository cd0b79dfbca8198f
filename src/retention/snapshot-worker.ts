/**
 * A retention snapshot thread (see snapshot-workers.ts): its own connection to the embedded
 * store's file, on which it snapshots the users it is given with the pass's own code
 * (src/retention/snapshot.ts).
 *
 * Messages in: `snapshot` (a user, the pass's time, the recording time for the appended events),
 * `stop`. Messages out: `ready`, `done` (the outcome), `failed` (the error), `log`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteEventStore } from '../stores/embedded/sqlite-event-store.js';
import type { SnapshotContext } from './snapshot.js';
import { snapshotUser } from './snapshot.js';

export interface SnapshotWorkerData {
  /** The embedded store's file. */
  readonly file: string;
  /** The pass's connection leaves WAL checkpoints to a checkpointer thread: so does this one. */
  readonly checkpointsElsewhere: boolean;
  /** The store's limit on one append (the pass's connection's). */
  readonly maxAppendBytes: number;
}

export type SnapshotRequest =
  { readonly type: 'snapshot'; readonly id: number; readonly user: string; readonly now: string; readonly recordedAt: string } | { readonly type: 'stop' };

export type SnapshotReply =
  | { readonly type: 'ready' }
  | {
      readonly type: 'done';
      readonly id: number;
      readonly outcome: { readonly truncateBefore: string; readonly feeds: string[]; readonly hidden: number; readonly appended: string[] } | null;
    }
  | { readonly type: 'failed'; readonly id: number; readonly error: string }
  | { readonly type: 'log'; readonly level: 'warn'; readonly message: string; readonly meta: Record<string, unknown> };

const port = parentPort;
if (!port) throw new Error('snapshot-worker.ts runs as a worker thread (see snapshot-workers.ts)');
const post = (reply: SnapshotReply) => port.postMessage(reply);

const { file, checkpointsElsewhere, maxAppendBytes } = workerData as SnapshotWorkerData;
let recordedAt = new Date();
const store = SqliteEventStore.open(file, { clock: () => recordedAt, maxAppendBytes });
if (checkpointsElsewhere) store.database.pragma('wal_autocheckpoint = 0');
// Truncations are the pass's thread's (its store tells its subscriptions): none is made here.
const context: SnapshotContext = {
  eventStore: store,
  warn: (message, meta) => post({ type: 'log', level: 'warn', message, meta }),
};

port.on('message', (request: SnapshotRequest) => {
  if (request.type === 'stop') {
    void store.close().finally(() => port.close());
    return;
  }
  recordedAt = new Date(request.recordedAt);
  snapshotUser(context, request.user, new Date(request.now)).then(
    (outcome) =>
      post({
        type: 'done',
        id: request.id,
        outcome: outcome
          ? { truncateBefore: String(outcome.truncateBefore), feeds: [...outcome.feeds], hidden: outcome.hidden, appended: [...outcome.appended] }
          : null,
      }),
    (error: unknown) => post({ type: 'failed', id: request.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
post({ type: 'ready' });
