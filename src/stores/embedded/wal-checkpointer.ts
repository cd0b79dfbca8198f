/**
 * WAL checkpoints off the event loop.
 *
 * SQLite in WAL mode copies the log back into the database file ("checkpoints") from within
 * whichever commit pushes the log past `wal_autocheckpoint` pages, and that commit then also
 * waits for the fsyncs. In the service every commit runs on the one thread that serves HTTP,
 * so each checkpoint stalled every request in flight (measured under the load benchmark: the
 * projector's commits took a median of 14 ms with automatic checkpoints, 6 ms without).
 *
 * So the service's connection turns automatic checkpoints off and a worker thread with its own
 * connection runs `PRAGMA wal_checkpoint(PASSIVE)` on a short timer. A passive checkpoint never
 * blocks readers or writers in WAL mode; when it has copied every frame before the next write
 * begins, that writer starts the log over. Under a steady stream of commits (a rebuild) that race
 * is lost every time, so past a bound the worker runs a RESTART checkpoint, which holds writers
 * back only while it copies the little the passive ones left. The WAL stays bounded as before. If
 * the worker dies, automatic checkpoints are turned back on (nothing depends on the worker for
 * correctness, only for latency).
 *
 * The worker is plain CommonJS (src/stores/embedded/sqlite-worker.ts).
 */
import type { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import { spawnSqliteWorker, workerReady } from './sqlite-worker.js';

/** SQLite's default `wal_autocheckpoint`, restored if the worker goes away. */
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;
const DEFAULT_INTERVAL_MS = 200;
/**
 * A passive checkpoint copies the log but never makes the next writer start it over; a
 * restarting one does, at the price of holding writers back while it copies what is left (little:
 * the passive ones copied the rest). 4096 pages is 16 MiB of log.
 */
const DEFAULT_RESTART_AFTER_PAGES = 4096;
/** How long a restarting or truncating checkpoint waits for the write lock (a read-model commit takes 15–20 ms). */
const WRITER_WAIT_MS = 200;

/**
 * The table the worker writes a row of right after each checkpoint that starts the log over, or
 * lets the next writer start it over (see WORKER_SOURCE): one row, counting them.
 */
export const LOG_STARTS = 'wal_log_starts';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
// No busy handler while a checkpoint holds the write lock. A restarting or truncating checkpoint
// takes the write lock and then waits, through the busy handler, for the readers of older
// snapshots, and every writer (the appends on the HTTP thread) waits as long: with the service
// connections' 5 s, one reader that lingered (a long read, a sqlite3 shell on the file) kept
// appends out for 5 s and then made them fail with SQLITE_BUSY. Attempts that each wait a little,
// back to back, starve writers too (a waiting writer's busy handler polls, it does not queue). So
// the worker first waits for the write lock to be free (an empty IMMEDIATE transaction: it holds
// the lock for no time), then checkpoints without waiting for anyone; what readers held back is
// tried again after a sleep.
db.pragma('busy_timeout = 0');
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const RETRY_SLEEP_MS = 25;
const RESTART_ATTEMPTS = 5;
const emptyWrite = db.transaction(() => undefined);
const isBusy = (error) => Boolean(error && typeof error.code === 'string' && error.code.startsWith('SQLITE_BUSY'));
/** False when a writer kept the write lock for the whole wait. */
const waitForWriters = () => {
  db.pragma('busy_timeout = ' + workerData.writerWaitMs);
  try {
    emptyWrite.immediate();
    return true;
  } catch (error) {
    if (isBusy(error)) return false;
    throw error;
  } finally {
    db.pragma('busy_timeout = 0');
  }
};
// The first commit into a log that starts over writes the log's header and syncs the file
// (SQLite's wal.c, sqlite3WalFrames: "Sync the header"), under a disk busy with writeback, for
// tens of milliseconds. Here, not in whichever request appends next: right after each
// checkpoint that starts the log over or copied all of it, this thread commits first, one row of
// its own. If a writer got in between, that writer synced, as before.
const startLog = db.prepare('INSERT INTO ${LOG_STARTS} (id, count) VALUES (0, 1) ON CONFLICT (id) DO UPDATE SET count = count + 1');
// Changes when another connection commits (SQLite's data_version), not when this one does.
const dataVersion = db.prepare('PRAGMA data_version').pluck();
let versionAtClaim;
const claimLogStart = () => {
  try {
    startLog.run();
    versionAtClaim = dataVersion.get();
  } catch (error) {
    if (!isBusy(error)) throw error;
  }
};
/** What a checkpoint that holds the write lock (RESTART or TRUNCATE) did; undefined when a writer kept the lock for the whole wait. */
const holding = (mode) => (waitForWriters() ? db.pragma('wal_checkpoint(' + mode + ')')[0] : undefined);
/** One checkpoint that holds the write lock; true when it did all it is for. */
const holdingCheckpoint = (mode) => holding(mode)?.busy === 0;
/**
 * A restarting checkpoint; true when it did all it is for. Once it copied the whole log, even
 * if readers kept it from starting over, the next writer would: this thread commits first (a
 * truncated log is left empty: truncate() says so).
 */
const restart = () => {
  const result = holding('RESTART');
  if (result === undefined) return false;
  if (result.checkpointed === result.log) claimLogStart();
  return result.busy === 0;
};
// A truncation that readers and writers held back through every retry is owed: each tick tries
// it again until it succeeds (old page images of erased rows must not stay in the log).
let owed = false;
const checkpoint = () => {
  try {
    if (owed) {
      owed = !holdingCheckpoint('TRUNCATE');
      return;
    }
    const [passive] = db.pragma('wal_checkpoint(PASSIVE)');
    // Under a steady stream of commits the log never starts over (a writer restarts it only if
    // every frame was copied when its transaction began): past a bound, make it. Once the log is
    // well past it (readers held the restarts of the ticks before back), a few attempts this tick.
    if (passive.log <= workerData.restartAfterPages) {
      // Within it, a passive checkpoint that copied the whole log lets the next writer start it
      // over (wal.c, walRestartLog: a writer whose snapshot needs no frame of the log), and that
      // writer syncs the new header: claimed here too. Not when nothing but this thread's own row
      // was written since its last claim: an idle service would be written to at every tick.
      if (passive.log > 0 && passive.checkpointed === passive.log && dataVersion.get() !== versionAtClaim) claimLogStart();
      return;
    }
    const attempts = passive.log > 4 * workerData.restartAfterPages ? RESTART_ATTEMPTS : 1;
    for (let attempt = 1; !restart() && attempt < attempts; attempt++) sleep(RETRY_SLEEP_MS);
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
// A truncating checkpoint (erasure: no old page image may stay in the log) is tried again while
// readers or writers hold it back (busy), for up to the truncation budget, then owed.
const truncate = () => {
  const deadline = Date.now() + workerData.truncateBudgetMs;
  for (;;) {
    owed = !holdingCheckpoint('TRUNCATE');
    if (!owed || Date.now() >= deadline) return !owed;
    sleep(RETRY_SLEEP_MS);
  }
};
parentPort.on('message', (message) => {
  if (message && message.truncate !== undefined) {
    try {
      parentPort.postMessage({ truncated: message.truncate, complete: truncate() });
    } catch (error) {
      parentPort.postMessage({ truncated: message.truncate, error: String(error && error.message || error) });
    }
    return;
  }
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
parentPort.postMessage({ ready: true });
`;

/**
 * For a file written in bulk: the read models' (the projector's commits, live or rebuilding;
 * src/runtime.ts). Its batches dirty the same hot pages (index upper levels, a user's latest
 * documents, popularity counters) commit after commit, and a checkpoint every second copies
 * each into the database once where five a second copied it five times; the log may reach
 * 256 MiB meanwhile. Measured on a 200k-event rebuild: the checkpoint thread's CPU time fell by a
 * third and the rebuild took 10 % less time (scripts/bench/rebuild.ts); live, under
 * `npm run bench -- project-live`, 15 % fewer bytes written per event (bench/RESULTS.md).
 */
export const BULK_WRITE_CHECKPOINTS: WalCheckpointerOptions = { intervalMs: 1000, restartAfterPages: 65_536 };

export interface WalCheckpointerOptions {
  /** How often the worker checkpoints (default 200 ms). */
  readonly intervalMs?: number;
  /** Log size (pages) past which a checkpoint also restarts the log (default 4096). */
  readonly restartAfterPages?: number;
  /** How long a truncating checkpoint keeps trying while readers and writers hold it back before it is owed (default 5000 ms, the service connections' busy timeout). */
  readonly truncateBudgetMs?: number;
  /** Told when a checkpoint fails or the worker dies (the caller logs). */
  readonly onProblem?: (message: string) => void;
}

export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private stopped = false;
  private nextTruncation = 1;
  private readonly truncations = new Map<number, { resolve: (complete: boolean) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly database: Database,
    worker: Worker,
    onProblem: (message: string) => void,
  ) {
    this.worker = worker;
    worker.unref();
    worker.on('message', (message: { error?: string; truncated?: number; complete?: boolean }) => {
      if (message.truncated !== undefined) {
        const waiter = this.truncations.get(message.truncated);
        this.truncations.delete(message.truncated);
        if (message.complete === false) onProblem('WAL truncation held back by readers or writers; the checkpoint thread retries it until it succeeds');
        if (message.error === undefined) waiter?.resolve(message.complete === true);
        else waiter?.reject(new Error(`WAL truncation failed: ${message.error}`));
      } else if (message.error) onProblem(`WAL checkpoint failed: ${message.error}`);
    });
    this.exited = new Promise((resolve) => {
      worker.on('error', (error) => onProblem(`WAL checkpoint worker failed: ${error.message}`));
      worker.on('exit', () => {
        for (const waiter of this.truncations.values()) waiter.reject(new Error('the WAL checkpoint worker exited'));
        this.truncations.clear();
        if (!this.stopped) {
          onProblem('WAL checkpoint worker exited; automatic checkpoints are back on');
          this.restoreAutomaticCheckpoints();
        }
        resolve();
      });
    });
  }

  /** Turns automatic checkpoints off on `database` and starts the worker on the same file. */
  static async start(database: Database, options: WalCheckpointerOptions = {}): Promise<WalCheckpointer> {
    if (database.memory) throw new Error('WalCheckpointer: an in-memory database has no WAL');
    database.exec(`CREATE TABLE IF NOT EXISTS ${LOG_STARTS} (id INTEGER PRIMARY KEY CHECK (id = 0), count INTEGER NOT NULL)`);
    const worker = spawnSqliteWorker(WORKER_SOURCE, {
      file: database.name,
      intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS,
      restartAfterPages: options.restartAfterPages ?? DEFAULT_RESTART_AFTER_PAGES,
      truncateBudgetMs: options.truncateBudgetMs ?? 5000,
      writerWaitMs: WRITER_WAIT_MS,
    });
    const checkpointer = new WalCheckpointer(database, worker, options.onProblem ?? (() => undefined));
    await workerReady(worker, 'WAL checkpoint worker');
    database.pragma('wal_autocheckpoint = 0');
    return checkpointer;
  }

  /**
   * Copies the whole log into the database file and truncates it, on the worker's thread (it
   * waits for readers and writers to let it, which on the caller's thread would stall every
   * request): after an erasure, no old page image of a deleted row stays in the log. True once
   * the log is empty; false if readers and writers held it back through every retry (the
   * worker then tries again at each of its ticks until it succeeds).
   */
  truncate(): Promise<boolean> {
    if (this.stopped) return Promise.reject(new Error('the WAL checkpoint worker is stopped'));
    const id = this.nextTruncation++;
    return new Promise((resolve, reject) => {
      this.truncations.set(id, { resolve, reject });
      this.worker.postMessage({ truncate: id });
    });
  }

  /** Stops the worker after one last checkpoint, and gives automatic checkpoints back. */
  async stop(): Promise<void> {
    if (this.stopped) return this.exited;
    this.stopped = true;
    // Unreferenced, the worker would not keep the process alive until it has exited: with
    // nothing else pending, Node would end the process with `await stop()` unsettled.
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
    this.restoreAutomaticCheckpoints();
  }

  private restoreAutomaticCheckpoints(): void {
    if (this.database.open) this.database.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
  }
}
