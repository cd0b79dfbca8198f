/**
 * Snapshots of a large retention pass on worker threads (docs/architecture.md, "Retention").
 *
 * Reading a user's stream, folding it and serializing the checkpoint's state is most of a pass
 * (a first pass over 10,000 users reads two million events), and on the thread that serves HTTP
 * it competes with every request. So with the embedded store a pass over many users hands the
 * snapshots to a few threads with connections of their own to the same file: the same code
 * (src/retention/snapshot.ts), the same optimistic append at the revision read, so nothing
 * changes but where the work runs. SQLite serializes the appends; reading and folding run in
 * parallel. The truncations stay on the pass's thread (a truncation an earlier pass left undone
 * too: a snapshot only tells it, src/retention/snapshot.ts).
 *
 * The users of a worker gone come back as {@link SnapshotOnCallerThread}: the pass snapshots
 * them itself.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import { createWorker, workerStarted } from '../worker-started.js';
import type { SnapshotOutcome } from './snapshot.js';
import type { SnapshotReply, SnapshotRequest, SnapshotWorkerData } from './snapshot-worker.js';

/** Plain JavaScript: it registers the TypeScript loader in the thread, then loads snapshot-worker.ts. */
const WORKER_FILE = new URL('./snapshot-worker-entry.mjs', import.meta.url);
const START_TIMEOUT_MS = 30_000;

/** The pass's own thread must snapshot this user (see the module comment). */
export class SnapshotOnCallerThread extends Error {
  override readonly name = 'SnapshotOnCallerThread';
}

interface Pending {
  readonly resolve: (outcome: SnapshotOutcome | undefined) => void;
  readonly reject: (error: Error) => void;
}

class SnapshotThread {
  readonly pending = new Map<number, Pending>();
  gone = false;
  readonly exited: Promise<void>;

  constructor(
    readonly worker: Worker,
    logger: Logger,
  ) {
    worker.on('message', (reply: SnapshotReply) => {
      if (reply.type === 'log') logger.warn(reply.message, { ...reply.meta, thread: 'retention' });
      else if (reply.type === 'done' || reply.type === 'failed') this.settle(reply);
    });
    this.exited = new Promise((resolve) => {
      worker.on('error', (error) => logger.error('retention snapshot thread failed', { error: error.stack ?? error.message }));
      worker.on('exit', () => {
        this.gone = true;
        for (const waiter of this.pending.values()) waiter.reject(new SnapshotOnCallerThread('the snapshot thread exited'));
        this.pending.clear();
        resolve();
      });
    });
  }

  private settle(reply: Extract<SnapshotReply, { type: 'done' | 'failed' }>): void {
    const waiter = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    if (!waiter) return;
    if (reply.type === 'failed') waiter.reject(new Error(reply.error));
    else if (reply.outcome === null) waiter.resolve(undefined);
    else
      waiter.resolve({
        truncateBefore: BigInt(reply.outcome.truncateBefore),
        feeds: new Set(reply.outcome.feeds),
        hidden: reply.outcome.hidden,
        appended: reply.outcome.appended,
      });
  }
}

export class SnapshotWorkers {
  private nextId = 1;

  private constructor(private readonly threads: readonly SnapshotThread[]) {}

  /** Starts `count` threads on the store's file; rejects if one cannot start (the pass then runs on its own thread). */
  static async start(options: {
    readonly file: string;
    readonly checkpointsElsewhere: boolean;
    readonly maxAppendBytes: number;
    readonly count: number;
    readonly logger: Logger;
  }): Promise<SnapshotWorkers> {
    const data: SnapshotWorkerData = { file: options.file, checkpointsElsewhere: options.checkpointsElsewhere, maxAppendBytes: options.maxAppendBytes };
    const threads = Array.from({ length: options.count }, () => new SnapshotThread(createWorker(WORKER_FILE, { workerData: data }), options.logger));
    const workers = new SnapshotWorkers(threads);
    try {
      await Promise.all(
        threads.map((thread) =>
          workerStarted<SnapshotReply>(thread.worker, 'a retention snapshot thread', (reply) => reply.type === 'ready', undefined, START_TIMEOUT_MS),
        ),
      );
    } catch (error) {
      await Promise.all(threads.map((thread) => thread.worker.terminate()));
      throw error;
    }
    return workers;
  }

  get size(): number {
    return this.threads.length;
  }

  /** Steps 1–2 for `user` on the least busy thread, appending with `recordedAt` as the store's clock. */
  snapshot(user: string, now: Date, recordedAt: Date): Promise<SnapshotOutcome | undefined> {
    const live = this.threads.filter((thread) => !thread.gone);
    if (live.length === 0) return Promise.reject(new SnapshotOnCallerThread('no snapshot thread left'));
    const thread = live.reduce((least, next) => (next.pending.size < least.pending.size ? next : least));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      const request: SnapshotRequest = { type: 'snapshot', id, user, now: now.toISOString(), recordedAt: recordedAt.toISOString() };
      thread.worker.postMessage(request);
    });
  }

  /** Ends every thread (each closes its connection). */
  async close(): Promise<void> {
    for (const thread of this.threads) if (!thread.gone) thread.worker.postMessage({ type: 'stop' } satisfies SnapshotRequest);
    await Promise.all(this.threads.map((thread) => thread.exited));
  }
}
