/**
 * Worker threads with a better-sqlite3 connection of their own (the WAL checkpointer, the
 * transaction thread). Their code is plain CommonJS run with `eval`, so it needs no TypeScript
 * loader, and it loads better-sqlite3 from the path resolved here (`workerData.driver`).
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { createWorker } from '../../worker-started.js';

/**
 * 8 MB semi-spaces (V8 makes a young generation three of them): these threads pass rows and
 * documents to SQLite and keep little. A rebuild's commit thread with V8's 16 MB held 15 MB more
 * RSS than with 8, in the same time (bench/RESULTS.md, "Young generations per thread").
 */
const SQLITE_THREAD_YOUNG_GENERATION_MB = 24;

/** Starts `source` with `workerData` plus `driver`; the worker posts `{ ready: true }` once its connection is open. */
export function spawnSqliteWorker(source: string, workerData: Record<string, unknown>): Worker {
  return createWorker(source, {
    eval: true,
    workerData: { ...workerData, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
    // Not the parent's: `--import tsx` and friends are of no use to plain CommonJS.
    execArgv: [],
    resourceLimits: { maxYoungGenerationSizeMb: SQLITE_THREAD_YOUNG_GENERATION_MB },
  });
}

/** Resolves on the worker's `{ ready: true }`; rejects if it fails or exits first (`name` says which worker). */
export function workerReady(worker: Worker, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { ready?: boolean } | null) => {
      if (!message?.ready) return;
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`${name} exited during start (code ${code})`)));
  });
}
