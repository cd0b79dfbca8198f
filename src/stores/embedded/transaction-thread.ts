/**
 * SQLite transactions run on a worker thread with its own connection to the same file.
 *
 * better-sqlite3 is synchronous: a commit blocks the thread that issues it. A rebuild spends
 * about half its time committing documents, and the other half deciding them (reading events,
 * running projections, loading documents); both on one thread means one core idles. With the
 * commits here, the projector decides batch N+1 while this thread writes batch N
 * (src/projector/projector.ts, pipelined catch-up).
 *
 * The worker knows no schema: it is handed statements (SQL text, prepared once and cached) and
 * the parameters of each run, and runs a whole plan in one transaction, all or nothing. The SQL
 * stays with the adapter that owns it (src/stores/embedded/commit-plan.ts).
 *
 * Like the WAL checkpointer, the worker is plain CommonJS (src/stores/embedded/sqlite-worker.ts).
 */
import type { Worker } from 'node:worker_threads';
import { spawnSqliteWorker, workerReady } from './sqlite-worker.js';

/** Statements, and runs of them: `[statement index, ...parameters]`. */
export interface TransactionPlan {
  readonly statements: readonly string[];
  readonly runs: readonly (readonly (string | number | null)[])[];
  /**
   * Queries run first, inside the transaction (which then starts IMMEDIATE: the write lock is
   * held from the check to the commit): each must return a row, or the transaction is rolled
   * back and fails with the code {@link CHECK_FAILED} and the check's `message` (say a lease
   * another owner took: the commit lands nothing). With `now`, the worker's clock (epoch ms)
   * at the check is bound as the last parameter.
   */
  readonly checks?: readonly TransactionCheck[];
}

export interface TransactionCheck {
  readonly sql: string;
  readonly parameters: readonly (string | number | null)[];
  readonly now?: boolean;
  readonly message: string;
}

/** The error code of a transaction whose check found no row (see {@link TransactionPlan.checks}). */
export const CHECK_FAILED = 'TRANSACTION_CHECK_FAILED';

export interface TransactionThreadOptions {
  /** The connection's `wal_autocheckpoint` (0 when a WAL checkpointer runs; see wal-checkpointer.ts). */
  readonly autocheckpointPages: number;
  readonly busyTimeoutMs?: number;
  /**
   * The connection's `secure_delete`: as the opener's (the service turns it on, so that erased
   * documents' bytes are overwritten, not left in free pages: src/runtime.ts).
   */
  readonly secureDelete?: boolean;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = ' + workerData.autocheckpointPages);
db.pragma('cache_size = -' + workerData.cacheKib);
if (workerData.secureDelete) db.pragma('secure_delete = ON');
const prepared = new Map();
const statement = (sql) => {
  let found = prepared.get(sql);
  if (!found) prepared.set(sql, (found = db.prepare(sql)));
  return found;
};
const run = db.transaction((plan) => {
  for (const check of plan.checks || []) {
    const parameters = check.now ? [...check.parameters, Date.now()] : check.parameters;
    if (statement(check.sql).get(...parameters) === undefined) throw Object.assign(new Error(check.message), { code: '${CHECK_FAILED}' });
  }
  const statements = plan.statements.map(statement);
  for (const [index, ...parameters] of plan.runs) statements[index].run(...parameters);
});
parentPort.on('message', (message) => {
  if (message === 'stop') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    if (message.plan.checks && message.plan.checks.length > 0) run.immediate(message.plan);
    else run(message.plan);
    parentPort.postMessage({ id: message.id });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String((error && error.message) || error), code: error && error.code });
  }
});
parentPort.postMessage({ ready: true });
`;

interface Reply {
  readonly id?: number;
  readonly error?: string;
  readonly code?: string;
}

export class TransactionThread {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private readonly exited: Promise<void>;
  private stopped = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: Reply) => {
      if (reply.id === undefined) return;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (!waiter) return;
      if (reply.error === undefined) waiter.resolve();
      else waiter.reject(Object.assign(new Error(reply.error), reply.code ? { code: reply.code } : {}));
    });
    this.exited = new Promise((resolve) => {
      worker.on('exit', (code) => {
        this.failAll(new Error(`the transaction thread exited (code ${code})`));
        resolve();
      });
    });
    worker.on('error', (error) => this.failAll(error));
  }

  /** Starts the worker on `file` and waits until its connection is open. */
  static async start(file: string, options: TransactionThreadOptions): Promise<TransactionThread> {
    const worker = spawnSqliteWorker(WORKER_SOURCE, {
      file,
      autocheckpointPages: Math.max(0, Math.trunc(options.autocheckpointPages)),
      busyTimeoutMs: Math.trunc(options.busyTimeoutMs ?? 5000),
      secureDelete: options.secureDelete === true,
      // The upper levels of the B-trees it writes (16 MiB measured as fast as 32 MiB).
      cacheKib: 16 * 1024,
    });
    const thread = new TransactionThread(worker);
    await workerReady(worker, 'the transaction thread');
    return thread;
  }

  /** Runs the plan in one transaction on the worker; resolves once it has committed. */
  run(plan: TransactionPlan): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('the transaction thread is stopped'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, plan });
    });
  }

  /** Closes the worker's connection after the transactions already handed over. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.worker.postMessage('stop');
    }
    await this.exited;
  }

  private failAll(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
