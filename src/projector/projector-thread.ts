/**
 * The projector on a worker thread of its own.
 *
 * Projecting is most of what a write costs the service (evolving every read model, then one
 * commit), and on the thread that serves HTTP every batch held up the reads queued behind it:
 * the load benchmark's read p99 was set by those batches. On its own thread the projector costs
 * the HTTP thread nothing but a message per append (so it projects at once rather than at its
 * next poll). Nothing else changes: it takes the same leases, writes the same checkpoints, and
 * read-your-writes waits on those checkpoints in the store, as it does across processes.
 *
 * If the worker cannot start, or dies, the caller is told (and runs the projector inline).
 */
import { leaseOwner } from '../stores/lease-owner.js';
import type { Worker } from 'node:worker_threads';
import { createWorker, workerStarted } from '../worker-started.js';
import type { Logger } from '../logger.js';
import type { ProjectorWorkerData, ProjectorWorkerMessage } from './projector-worker.js';

/** Plain JavaScript: it registers the TypeScript loader in the thread, then loads projector-worker.ts. */
const WORKER_FILE = new URL('./projector-worker-entry.mjs', import.meta.url);
const START_TIMEOUT_MS = 30_000;

export interface ProjectorThreadOptions extends Omit<ProjectorWorkerData, 'owner'> {
  readonly logger: Logger;
  /** The worker ended without being asked to (a crash): the caller takes over. */
  readonly onUnexpectedExit: (reason: string) => void;
}

export class ProjectorThread {
  private stopping = false;
  private started = false;
  private wakePending = false;
  private gone = false;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    /** Owner of the leases the thread's projector takes: whoever takes over after a crash frees them. */
    readonly owner: string,
    options: ProjectorThreadOptions,
  ) {
    worker.on('message', (message: ProjectorWorkerMessage) => {
      if (message.type !== 'log') return;
      const { level, message: text, ...meta } = message.entry;
      options.logger.log(String(level), String(text), { ...meta, thread: 'projector' });
    });
    this.exited = new Promise((resolve) => {
      worker.on('error', (error) => options.logger.error('projector thread failed', { error: error.stack ?? error.message }));
      worker.on('exit', (code) => {
        this.gone = true;
        if (!this.stopping) options.onUnexpectedExit(`the projector thread exited (code ${code})`);
        resolve();
      });
    });
  }

  /** Starts the worker and waits until its projector is running; rejects if it cannot start. */
  static async start(options: ProjectorThreadOptions): Promise<ProjectorThread> {
    const data: ProjectorWorkerData = {
      config: options.config,
      defaultPrivacy: options.defaultPrivacy,
      nice: options.nice,
      owner: leaseOwner('projector-thread'),
      ...(options.checkpointsElsewhere === undefined ? {} : { checkpointsElsewhere: options.checkpointsElsewhere }),
    };
    const worker = createWorker(WORKER_FILE, { workerData: data });
    const started = workerStarted<ProjectorWorkerMessage>(
      worker,
      'the projector thread',
      (message) => message.type === 'started',
      (message) => (message.type === 'failed' ? message.error : undefined),
      START_TIMEOUT_MS,
    );
    // Constructed first, so log lines sent while starting are not lost.
    const thread = new ProjectorThread(worker, data.owner, {
      ...options,
      onUnexpectedExit: (reason) => {
        if (thread.started) options.onUnexpectedExit(reason);
      },
    });
    try {
      await started;
    } catch (error) {
      thread.stopping = true;
      await worker.terminate();
      throw error;
    }
    thread.started = true;
    return thread;
  }

  /** Something was appended: the worker reads `$all` now. Coalesced to one message per turn. */
  wake(): void {
    if (this.wakePending || this.stopping || this.gone) return;
    this.wakePending = true;
    queueMicrotask(() => {
      this.wakePending = false;
      if (!this.stopping && !this.gone) this.worker.postMessage('wake');
    });
  }

  /** For tests: ends the thread abruptly, as a crash would. */
  async kill(): Promise<void> {
    await this.worker.terminate();
  }

  /** Whether the thread is running (false once it has ended, asked to or not). */
  get running(): boolean {
    return !this.gone;
  }

  /** Stops the projector at a checkpoint and ends the thread. */
  async stop(): Promise<void> {
    if (this.stopping || this.gone) return this.exited;
    this.stopping = true;
    this.worker.postMessage('stop');
    await this.exited;
  }
}
