/**
 * The retention job on the embedded store: scheduled once however many workers start, run in
 * turn, touching its lock, logged and counted; stopped cleanly mid-pass. The pass is a stand-in
 * (the real one is tested in test/retention): here only the scheduling around it is at stake.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import winston from 'winston';
import { loadConfig } from '../../src/config.js';
import { RETENTION_JOB, SchedulerStoppingError, startScheduler, type Scheduler, type SchedulerOptions } from '../../src/jobs/retention-job.js';
import { processRegistry } from '../../src/metrics.js';
import type { RetentionPass, RetentionProgress, RetentionSummary } from '../../src/retention/types.js';
import { openStores, type Stores } from '../../src/runtime.js';
import { startService } from '../../src/service.js';
import { capturingLogger } from '../support/logs.js';

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(20);
  }
}

/** A JSON logger whose lines the test can read. */
async function retentionRuns(outcome: 'success' | 'failure'): Promise<number> {
  const metric = processRegistry.getSingleMetric('podsync_retention_runs_total');
  const values = (await metric!.get()).values;
  return values.find((value) => value.labels['outcome'] === outcome)?.value ?? 0;
}

function summary(asOf: Date): RetentionSummary {
  return { asOf: asOf.toISOString(), usersConsidered: 4, usersSnapshotted: 3, eventsRemoved: 120, feedsRolled: 2, snapshotThreads: 0, seconds: 0.1 };
}

/** Options that make the job observable within a test: fast polling, a short interval and lock. */
const FAST: SchedulerOptions = { processEvery: 40, interval: 300, lockLifetimeMs: 200, stopTimeoutMs: 2000 };

describe('retention job (Agenda on the embedded store)', function () {
  let dataDir: string;
  let stores: Stores;
  const schedulers: Scheduler[] = [];

  beforeEach(async function () {
    dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-retention-job-'));
    stores = await openStores(loadConfig({ DATA_DIR: dataDir }));
  });

  afterEach(async function () {
    await Promise.all(schedulers.splice(0).map((scheduler) => scheduler.stop()));
    await stores.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(retention: RetentionPass, logger: winston.Logger, options: SchedulerOptions = FAST): Promise<Scheduler> {
    const scheduler = await startScheduler({ stores, logger, retention, config: { READ_MODEL: 'embedded', MONGO_URL: undefined }, options: { ...options } });
    schedulers.push(scheduler);
    return scheduler;
  }

  function storedJob() {
    return stores.embedded!.database.prepare(`SELECT * FROM agenda_jobs WHERE name = ?`).all(RETENTION_JOB) as {
      progress: number | null;
      locked_at: number | null;
      last_finished_at: number | null;
      fail_reason: string | null;
      last_modified_by: string | null;
    }[];
  }

  it('runs the pass as of the time it starts, touching its lock and recording progress; logs and counts each run', async function () {
    const { logger, entries } = capturingLogger();
    const asOfs: Date[] = [];
    const retention: RetentionPass = {
      async run(now, options = {}) {
        asOfs.push(now);
        for (let usersDone = 1; usersDone <= 4; usersDone++) {
          await delay(25);
          options.onProgress?.({ usersTotal: 4, usersDone } satisfies RetentionProgress);
          await options.touch?.();
        }
        return summary(now);
      },
    };
    const successesBefore = await retentionRuns('success');
    const before = Date.now();
    await start(retention, logger, { ...FAST, name: 'worker-a' });

    await waitFor(() => asOfs.length >= 2, 'two runs');
    expect(asOfs[0]!.getTime()).to.be.within(before, Date.now());
    expect(asOfs[1]!.getTime() - asOfs[0]!.getTime(), 'the interval between runs').to.be.at.least(250);
    await waitFor(async () => (await retentionRuns('success')) >= successesBefore + 2, 'two counted runs');
    const finished = entries.filter((entry) => entry['message'] === 'retention pass finished');
    expect(finished[0]).to.include({ usersSnapshotted: 3, eventsRemoved: 120, feedsRolled: 2 });

    const rows = storedJob();
    expect(rows, 'one job').to.have.length(1);
    expect(rows[0]!.progress, 'stored by touch()').to.equal(100);
    expect(rows[0]!.last_modified_by).to.equal('worker-a');
  });

  it('is created once by several workers and runs one pass at a time', async function () {
    const { logger } = capturingLogger();
    const probe = { runs: 0, active: 0, maxActive: 0 };
    const retention: RetentionPass = {
      async run(now, options = {}) {
        probe.runs++;
        probe.active++;
        probe.maxActive = Math.max(probe.maxActive, probe.active);
        try {
          for (let step = 0; step < 4; step++) {
            await delay(40);
            await options.touch?.();
          }
          return summary(now);
        } finally {
          probe.active--;
        }
      },
    };
    await Promise.all([1, 2, 3].map(() => start(retention, logger)));
    await waitFor(() => probe.runs >= 3, 'three passes');
    expect(storedJob()).to.have.length(1);
    expect(probe.maxActive, 'passes in progress at once').to.equal(1);
  });

  it('records a failed pass on the job, in the log and in the failure counter', async function () {
    const { logger, entries } = capturingLogger();
    const failuresBefore = await retentionRuns('failure');
    await start({ run: async () => Promise.reject(new Error('event store unreachable')) }, logger);
    await waitFor(() => storedJob()[0]?.fail_reason === 'event store unreachable', 'the failure stored on the job');
    expect(await retentionRuns('failure')).to.be.greaterThan(failuresBefore);
    expect(entries.find((entry) => entry['message'] === 'retention pass failed')).to.include({ error: 'event store unreachable', level: 'error' });
  });

  it('stop() ends a pass in progress at its next touch, waits for it and releases the lock', async function () {
    const { logger, entries } = capturingLogger();
    let started = false;
    let interruption: unknown;
    const retention: RetentionPass = {
      async run(now, options = {}) {
        started = true;
        try {
          for (let step = 0; step < 500; step++) {
            await delay(20);
            await options.touch?.();
          }
        } catch (error) {
          interruption = error;
          throw error;
        }
        return summary(now);
      },
    };
    const scheduler = await start(retention, logger);
    await waitFor(() => started, 'the pass to start');
    expect(storedJob()[0]!.locked_at, 'locked while running').to.be.a('number');

    const stopping = Date.now();
    await scheduler.stop();
    expect(Date.now() - stopping, 'stop() duration (ms)').to.be.below(1000);
    expect(interruption).to.be.instanceOf(SchedulerStoppingError);
    expect(storedJob()[0]!.locked_at, 'lock released for the next worker').to.equal(null);
    expect(entries.some((entry) => entry['message'] === 'retention pass interrupted by shutdown')).to.equal(true);
  });
});

describe('retention job in the service', function () {
  it('starts with the service unless runScheduler is false, and stops in close()', async function () {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-retention-service-'));
    try {
      const config = loadConfig({ DATA_DIR: dataDir });
      const { logger } = capturingLogger();
      const jobs = (service: { stores: Stores }) =>
        (service.stores.embedded!.database.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'agenda_jobs'`).get() as { n: number }).n;

      const without = await startService(config, logger, { runScheduler: false });
      expect(jobs(without), 'no scheduler, no job table').to.equal(0);
      await without.close();

      const service = await startService(config, logger, { scheduler: { ...FAST, interval: '15 minutes' } });
      const row = service.stores.embedded!.database.prepare(`SELECT repeat_interval FROM agenda_jobs WHERE name = ?`).get(RETENTION_JOB) as {
        repeat_interval: string;
      };
      expect(JSON.parse(row.repeat_interval)).to.equal('15 minutes');
      // The real pass runs at once on a new job: on an empty store it finds no one, and close() waits for it.
      await service.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
