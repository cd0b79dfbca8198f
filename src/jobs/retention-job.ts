/**
 * The retention job (docs/design.md, "Retention"): Agenda runs {@link RetentionPass.run} every 15 minutes.
 *
 * Storage follows the read model: READ_MODEL=mongodb keeps Agenda's jobs in the collection
 * `agendaJobs` of the read-model database (`@agendajs/mongo-backend`), otherwise they live in
 * the table `agenda_jobs` of the embedded SQLite file (src/jobs/sqlite-agenda-backend.ts). With
 * Mongo, `every()` goes through src/jobs/mongo-agenda-backend.ts, which keeps a running job's
 * lock and a paused job's pause (the library's upsert resets both). Either
 * way every worker runs the same code:
 * - `every()` creates the job with `type: 'single'`, which both backends upsert by name, so
 *   however many workers start, there is one job (SQLite and, added here, Mongo back this with a
 *   unique index, since a bare upsert can race into two documents);
 * - a worker locks the job before running it, so one pass runs at a time across workers; the
 *   pass calls `touch` while it works, which keeps the lock (it would expire after `lockLifetime`,
 *   and another worker would then take the job over);
 * - the pass itself is idempotent, so a run cut short (a crash, a shutdown) is simply done again.
 */
import { hostname } from 'node:os';
import { Agenda, type AgendaBackend, type Job } from 'agenda';
import type { MongoClient } from 'mongodb';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { recordRetentionRun } from '../metrics.js';
import type { Stores } from '../runtime.js';
import type { RetentionPass, RetentionProgress } from '../retention/types.js';
import { RETENTION } from '../retention/types.js';
import { SqliteAgendaBackend } from './sqlite-agenda-backend.js';

export const RETENTION_JOB = 'retention';
/** Agenda's collection in the read-model database (reserved there: see RESERVED_COLLECTIONS). */
export const AGENDA_COLLECTION = 'agendaJobs';

export interface SchedulerOptions {
  /** How often Agenda looks for due jobs (default 30 s; a due job is locked up to this early and started on time). */
  readonly processEvery?: string | number;
  /** The retention interval (default {@link RETENTION.interval}). */
  readonly interval?: string | number;
  /** A lock not touched for this long is taken to be dead and the job is run elsewhere (default 10 min). */
  readonly lockLifetimeMs?: number;
  /**
   * Skip the run that a newly created job makes at once (default false). Either way, a worker
   * starting when the job already exists leaves its schedule alone.
   */
  readonly skipImmediate?: boolean;
  /** How long `stop()` waits for a pass in progress to end (default 3 s). */
  readonly stopTimeoutMs?: number;
  /** Recorded as the job's `lastModifiedBy`, to see which worker ran it (default host:pid). */
  readonly name?: string;
}

export interface SchedulerDependencies {
  readonly stores: Stores;
  readonly logger: Logger;
  readonly retention: RetentionPass;
  readonly config: Pick<Config, 'READ_MODEL' | 'MONGO_URL'>;
  readonly options?: SchedulerOptions;
  /** More jobs on the same Agenda (the `feeds` job: src/jobs/feeds-job.ts). */
  readonly jobs?: readonly ScheduledJob[];
}

/** A job besides retention: defined and scheduled with `every()` like it, stopped with it. */
export interface ScheduledJob {
  readonly name: string;
  readonly every: string | number;
  define(agenda: Agenda, options: { lockLifetimeMs: number }): RunTracker;
}

export interface Scheduler {
  /** The running Agenda (for tests and operators' inspection: `queryJobs`, `getRunningStats`). */
  readonly agenda: Agenda;
  /**
   * Stops polling, ends a pass in progress at its next touch, waits for it (bounded), releases the lock.
   *
   * After a run, Agenda leaves a liveness-check timer of lockLifetime / 2 that nothing can clear,
   * so a process that ran the job does not exit by itself for up to 5 minutes: end it with
   * `process.exit` (main.ts does), or do not start the scheduler (`runScheduler: false`).
   */
  stop(): Promise<void>;
}

const DEFAULTS = {
  processEvery: '30 seconds',
  lockLifetimeMs: 10 * 60_000,
  stopTimeoutMs: 3000,
} as const;

/** Thrown by `touch` once the scheduler is stopping, so the pass ends between two users. */
export class SchedulerStoppingError extends Error {
  override readonly name = 'SchedulerStoppingError';
  constructor() {
    super('retention pass interrupted: the scheduler is stopping (the next run does the rest)');
  }
}

export async function startScheduler(deps: SchedulerDependencies): Promise<Scheduler> {
  const { logger, options = {} } = deps;
  const storage = await openBackend(deps);
  const agenda = new Agenda({
    backend: storage.backend,
    name: options.name ?? `${hostname()}:${process.pid}`,
    processEvery: options.processEvery ?? DEFAULTS.processEvery,
  });
  agenda.on('error', (error) => logger.error('scheduler error', { error: error.message }));

  const lockLifetimeMs = options.lockLifetimeMs ?? DEFAULTS.lockLifetimeMs;
  const runs = defineRetentionJob(agenda, deps.retention, logger, { lockLifetimeMs });
  const others = (deps.jobs ?? []).map((job) => ({ job, runs: job.define(agenda, { lockLifetimeMs }) }));
  try {
    // Scheduled before start(), whose first poll is immediate: a new job then runs at once
    // rather than one processEvery later.
    await scheduleOnce(() => agenda.every(options.interval ?? RETENTION.interval, RETENTION_JOB, {}, { skipImmediate: options.skipImmediate ?? false }));
    for (const { job } of others) await scheduleOnce(() => agenda.every(job.every, job.name, {}, { skipImmediate: options.skipImmediate ?? false }));
    await agenda.start();
  } catch (error) {
    await agenda.stop().catch(() => undefined);
    await storage.close();
    throw error;
  }
  logger.info('scheduler started', {
    backend: storage.backend.name,
    job: RETENTION_JOB,
    every: options.interval ?? RETENTION.interval,
    others: others.map(({ job }) => job.name),
  });

  let stopped: Promise<void> | undefined;
  return {
    agenda,
    stop() {
      stopped ??= (async () => {
        runs.stopping = true;
        for (const other of others) other.runs.stopping = true;
        // Unlocks jobs this worker locked but has not started; leaves our shared connection open.
        await agenda.stop();
        const idle = await runs.idle(options.stopTimeoutMs ?? DEFAULTS.stopTimeoutMs);
        if (!idle) logger.warn('retention pass still running at shutdown; its lock expires and another worker runs the job');
        for (const { job, runs: otherRuns } of others) {
          if (!(await otherRuns.idle(options.stopTimeoutMs ?? DEFAULTS.stopTimeoutMs)))
            logger.warn(`${job.name} job still running at shutdown; its lock expires and another worker runs it`);
        }
        await storage.close();
      })();
      return stopped;
    },
  };
}

/** How the runs of this worker are tracked, so `stop()` can end and await them. */
export interface RunTracker {
  /** Set by stop(): the pass's next touch throws {@link SchedulerStoppingError}. */
  stopping: boolean;
  /** Resolves true when no pass is running here, false if `timeoutMs` passed first. */
  idle(timeoutMs: number): Promise<boolean>;
}

/** Counts the runs of one job in this worker, so `stop()` can end them and wait (shared by every job). */
export function trackRuns(agenda: Agenda, jobName: string): RunTracker {
  let running = 0;
  const waiters = new Set<() => void>();
  const tracker: RunTracker = {
    stopping: false,
    idle(timeoutMs) {
      if (running === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve(true);
        };
        const timer = setTimeout(() => {
          waiters.delete(done);
          resolve(false);
        }, timeoutMs);
        timer.unref();
        waiters.add(done);
      });
    },
  };
  // `complete` comes after Agenda has stored the outcome and released the lock, so waiting for
  // it (rather than for the handler) means no job write is left to hit a closing database.
  agenda.on(`start:${jobName}`, () => {
    running++;
  });
  agenda.on(`complete:${jobName}`, () => {
    running = Math.max(0, running - 1);
    if (running === 0) for (const wake of [...waiters]) wake();
  });
  return tracker;
}

/**
 * Defines the `retention` job on an Agenda instance: one pass as of the time it starts, logged,
 * counted in /metrics (`podsync_retention_runs_total`), its progress (0–100) stored on the job.
 */
export function defineRetentionJob(agenda: Agenda, retention: RetentionPass, logger: Logger, options: { lockLifetimeMs: number }): RunTracker {
  const tracker = trackRuns(agenda, RETENTION_JOB);

  // The pass may call touch often (every few dozen users); one write per tenth of the lock's
  // lifetime keeps the lock alive without a database round trip per call.
  const touchEveryMs = Math.max(1, Math.floor(options.lockLifetimeMs / 10));

  agenda.define(
    RETENTION_JOB,
    async (job: Job) => {
      const asOf = new Date();
      let percent = 0;
      let lastTouch = Date.now();
      let lastLoggedDecile = 0;
      const onProgress = ({ usersTotal, usersDone }: RetentionProgress) => {
        percent = usersTotal === 0 ? 100 : Math.floor((usersDone * 100) / usersTotal);
        const decile = Math.floor(percent / 10);
        if (decile > lastLoggedDecile) {
          lastLoggedDecile = decile;
          logger.debug('retention pass progress', { usersDone, usersTotal, percent });
        }
      };
      const touch = async () => {
        if (tracker.stopping) throw new SchedulerStoppingError();
        if (Date.now() - lastTouch < touchEveryMs) return;
        lastTouch = Date.now();
        await job.touch(percent);
      };

      logger.info('retention pass started', { asOf: asOf.toISOString(), worker: agenda.attrs.name });
      try {
        const summary = await retention.run(asOf, { onProgress, touch });
        recordRetentionRun('success');
        logger.info('retention pass finished', { ...summary });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof SchedulerStoppingError) {
          logger.warn('retention pass interrupted by shutdown', { asOf: asOf.toISOString() });
        } else {
          recordRetentionRun('failure');
          logger.error('retention pass failed', { asOf: asOf.toISOString(), error: message });
        }
        // Rethrown so Agenda stores failReason/failedAt on the job, for operators to see.
        throw error;
      }
    },
    // One pass at a time in this worker; the lock keeps other workers out.
    { concurrency: 1, lockLimit: 1, lockLifetime: options.lockLifetimeMs },
  );
  return tracker;
}

interface Storage {
  readonly backend: AgendaBackend;
  /** Releases what the scheduler opened (the Mongo client); the service's SQLite connection stays open. */
  close(): Promise<void>;
}

async function openBackend({ config, stores, logger }: SchedulerDependencies): Promise<Storage> {
  if (config.READ_MODEL === 'mongodb') {
    // Loaded only in this mode, as runtime.ts loads the Mongo stores.
    const [{ MongoClient }, { RunStatePreservingMongoBackend }, { databaseFromUrl }] = await Promise.all([
      import('mongodb'),
      import('./mongo-agenda-backend.js'),
      import('../stores/mongodb/index.js'),
    ]);
    const url = config.MONGO_URL!;
    const client: MongoClient = await MongoClient.connect(url);
    try {
      // The read models' database (MongoBackend given an address would use the URL's default, `test`).
      const db = client.db(databaseFromUrl(url) ?? 'podsync');
      await db
        .collection(AGENDA_COLLECTION)
        .createIndex({ name: 1 }, { name: 'singleJobPerName', unique: true, partialFilterExpression: { type: 'single' } })
        .catch((error: unknown) => {
          // Existing duplicates (created before this index) block it; the upsert still mostly holds.
          logger.warn('could not create the unique index on agendaJobs', { error: error instanceof Error ? error.message : String(error) });
        });
      return { backend: new RunStatePreservingMongoBackend({ mongo: db, collection: AGENDA_COLLECTION }), close: () => client.close() };
    } catch (error) {
      await client.close();
      throw error;
    }
  }
  const database = stores.embedded?.database;
  if (!database) throw new Error('the SQLite scheduler needs the embedded database (READ_MODEL=embedded opens it)');
  return { backend: new SqliteAgendaBackend({ database }), close: async () => undefined };
}

/**
 * Runs `every()`, once more if two workers' upserts collided on the unique index (Mongo code
 * 11000): the second attempt finds the job the other worker created and updates it.
 */
async function scheduleOnce(schedule: () => Promise<unknown>): Promise<void> {
  try {
    await schedule();
  } catch (error) {
    if ((error as { code?: unknown }).code !== 11000) throw error;
    await schedule();
  }
}
