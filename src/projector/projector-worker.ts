/**
 * The projector's worker thread (see projector-thread.ts): its own connections to the stores,
 * one {@link Projector} over every read model, log lines sent to the main thread's logger.
 *
 * Messages in: `wake` (the main thread appended: look at `$all` now rather than at the next
 * poll), `stop` (stop at a checkpoint, close the stores, answer `stopped`).
 * Messages out: `started`, `log` (a winston entry), `stopped`, `failed` (could not start).
 */
import { parentPort, workerData } from 'node:worker_threads';
import winston from 'winston';
import Transport from 'winston-transport';
import type { Privacy } from '../domain/events.js';
import { openStores, type StoreConfig } from '../runtime.js';
import { allProjections } from '../../projections/index.js';
import { Projector } from './projector.js';
import type { BackgroundCommitter } from '../stores/read-model.js';
import { setThreadNice } from '../thread-priority.js';

export interface ProjectorWorkerData {
  readonly config: StoreConfig;
  readonly defaultPrivacy: Privacy;
  /** The thread's nice value, set before anything else: threads it starts (the commit thread) inherit it. */
  readonly nice: number;
  /** The projector's lease owner, known to the main thread so it can free the leases of a dead thread. */
  readonly owner: string;
  /**
   * Other connections of this process checkpoint the embedded WALs (the service's
   * WalCheckpointer threads, one per file): this one leaves checkpoints to them. Otherwise every commit that
   * finds the log past 1,000 pages copies it back into the database file itself, on this
   * thread: half the projector thread's time under `npm run bench -- project-live`. (Should
   * that checkpointer die, the service's connection checkpoints again at its next commit, not
   * this one: the WAL then grows while only the projector writes.)
   */
  readonly checkpointsElsewhere?: boolean;
}

export type ProjectorWorkerMessage =
  | { readonly type: 'started' }
  | { readonly type: 'stopped' }
  | { readonly type: 'failed'; readonly error: string }
  | { readonly type: 'log'; readonly entry: Record<string, unknown> };

const port = parentPort;
if (!port) throw new Error('projector-worker.ts runs as a worker thread (see projector-thread.ts)');
const post = (message: ProjectorWorkerMessage) => port.postMessage(message);

/** Hands each entry to the main thread, whose logger formats and writes it like its own. */
class MainThreadTransport extends Transport {
  override log(entry: Record<string, unknown>, done: () => void): void {
    // Structured clone keeps the plain fields (level, message, meta), not winston's symbols.
    post({ type: 'log', entry: { ...entry } });
    done();
  }
}

const { config, defaultPrivacy, owner, checkpointsElsewhere, nice } = workerData as ProjectorWorkerData;
// First: the commit thread opened below inherits this thread's priority (Linux threads take
// their creator's nice value).
setThreadNice(nice);
const logger = winston.createLogger({ level: 'silly', transports: [new MainThreadTransport()] });

let committer: BackgroundCommitter | undefined;
try {
  const stores = await openStores(config);
  if (checkpointsElsewhere) {
    stores.embedded?.database.pragma('wal_autocheckpoint = 0');
    stores.embedded?.readModelDatabase?.pragma('wal_autocheckpoint = 0');
  }
  // Commits on a thread of their own where the read model offers one (embedded SQLite), opened
  // after the pragma above so that its connection leaves checkpoints to the checkpointer too:
  // the next batch is decided while the last one is written (pipelined, as rebuilds do). The
  // commits stay fenced on the leases, checked in each commit's own transaction; a commit's
  // checkpoint lands with its documents, so read-your-writes waits see it only after them.
  const background = await stores.readModel.openBackgroundCommitter?.();
  committer = background;
  const projector = new Projector({
    eventStore: stores.eventStore,
    readModel: stores.readModel,
    projections: allProjections,
    context: { defaultPrivacy },
    logger,
    owner,
    pipeline: true,
    ...(background ? { commitAll: (commits, options) => background.commitAll(commits, options) } : {}),
  });
  await projector.prepare();
  projector.start();
  port.on('message', (message: unknown) => {
    if (message === 'wake') stores.embedded?.eventStore?.notifyAppended();
    else if (message === 'stop') {
      void (async () => {
        await projector.stop();
        await committer?.close();
        await stores.close();
        post({ type: 'stopped' });
        port.close();
      })();
    }
  });
  post({ type: 'started' });
} catch (error) {
  post({ type: 'failed', error: error instanceof Error ? error.message : String(error) });
  await committer?.close().catch(() => undefined);
  port.close();
}
