/**
 * The SQLite Agenda backend: the repository contract Agenda relies on (what MongoJobRepository
 * does, checked method by method), then real Agenda instances sharing one SQLite file, in one
 * process and in several.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { Agenda, type Job, type JobParameters } from 'agenda';
import { SqliteAgendaBackend, SqliteJobRepository } from '../../src/jobs/sqlite-agenda-backend.js';

const MINUTE = 60_000;

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

function job(overrides: Partial<JobParameters> & { name: string }): JobParameters {
  return { priority: 0, nextRunAt: new Date(), type: 'normal', data: {}, ...overrides };
}

describe('SqliteAgendaBackend', function () {
  let directory: string;
  let path: string;

  beforeEach(function () {
    directory = mkdtempSync(join(tmpdir(), 'podsync-agenda-'));
    path = join(directory, 'jobs.db');
  });

  afterEach(function () {
    rmSync(directory, { recursive: true, force: true });
  });

  describe('repository', function () {
    let repository: SqliteJobRepository;

    beforeEach(async function () {
      repository = new SqliteJobRepository({ path });
      await repository.connect();
    });

    afterEach(async function () {
      await repository.disconnect();
    });

    it('stores a job and reads it back with its types (dates, JSON data, numeric interval, flags)', async function () {
      const nextRunAt = new Date('2030-01-02T03:04:05.678Z');
      const saved = await repository.saveJob(
        job({ name: 'mail', nextRunAt, data: { to: 'a@example.com', tags: ['x'] }, repeatInterval: 5000, disabled: true, priority: 10 }),
        { lastModifiedBy: 'worker-1' },
      );
      expect(saved._id).to.be.a('string');
      const loaded = await repository.getJobById(String(saved._id));
      expect(loaded).to.deep.include({
        name: 'mail',
        priority: 10,
        type: 'normal',
        data: { to: 'a@example.com', tags: ['x'] },
        repeatInterval: 5000,
        disabled: true,
      });
      expect(loaded!.nextRunAt).to.deep.equal(nextRunAt);
      expect(loaded!.lastModifiedBy).to.equal('worker-1');
      expect(loaded).not.to.have.property('lockedAt');
      expect(await repository.getJobById('no-such-id')).to.equal(null);
    });

    it("upserts 'single' jobs by name: one row however many times every() saves it", async function () {
      const first = await repository.saveJob(job({ name: 'tick', type: 'single', repeatInterval: '15 minutes' }), undefined);
      await repository.saveJob(job({ name: 'tick', type: 'single', repeatInterval: '15 minutes' }), undefined);
      await repository.saveJob(job({ name: 'tick', type: 'single', repeatInterval: '15 minutes' }), undefined);
      const { jobs, total } = await repository.queryJobs({ name: 'tick' });
      expect(total).to.equal(1);
      expect(jobs[0]!._id).to.equal(first._id);
    });

    it("keeps a 'single' job's schedule against a due nextRunAt, takes a future one", async function () {
      const scheduled = new Date(Date.now() + 10 * MINUTE);
      await repository.saveJob(job({ name: 'tick', type: 'single', nextRunAt: scheduled }), undefined);
      const again = await repository.saveJob(job({ name: 'tick', type: 'single', nextRunAt: new Date(Date.now() - 1000) }), undefined);
      expect(again.nextRunAt).to.deep.equal(scheduled);
      const later = new Date(Date.now() + 20 * MINUTE);
      const moved = await repository.saveJob(job({ name: 'tick', type: 'single', nextRunAt: later }), undefined);
      expect(moved.nextRunAt).to.deep.equal(later);
    });

    it("keeps a paused 'single' job paused when every() saves it again without saying", async function () {
      const saved = await repository.saveJob(job({ name: 'tick', type: 'single', repeatInterval: '15 minutes' }), undefined);
      expect(await repository.disableJobs({ name: 'tick' })).to.equal(1);
      await repository.saveJob(job({ name: 'tick', type: 'single', repeatInterval: '15 minutes' }), undefined);
      expect((await repository.getJobById(String(saved._id)))!.disabled).to.equal(true);
    });

    it('keeps the lock and run fields of a job that is saved again without them (a worker starting while it runs)', async function () {
      await repository.saveJob(job({ name: 'tick', type: 'single', nextRunAt: new Date(Date.now() - 1000) }), undefined);
      const locked = await repository.getNextJobToRun('tick', new Date(), new Date(Date.now() - MINUTE), undefined, undefined);
      expect(locked?.lockedAt).to.be.instanceOf(Date);
      // What Job.save() sends: the processor-managed fields are left out.
      await repository.saveJob(job({ name: 'tick', type: 'single' }), undefined);
      const reloaded = await repository.getJobById(String(locked!._id));
      expect(reloaded!.lockedAt).to.deep.equal(locked!.lockedAt);
    });

    it('upserts by a unique key; insertOnly leaves the existing job alone; operators are refused', async function () {
      const a = await repository.saveJob(job({ name: 'sync', data: { user: 'a', n: 1 }, unique: { 'data.user': 'a' } }), undefined);
      const a2 = await repository.saveJob(job({ name: 'sync', data: { user: 'a', n: 2 }, unique: { 'data.user': 'a' } }), undefined);
      const b = await repository.saveJob(job({ name: 'sync', data: { user: 'b', n: 1 }, unique: { 'data.user': 'b' } }), undefined);
      expect(a2._id).to.equal(a._id);
      expect(a2.data).to.deep.equal({ user: 'a', n: 2 });
      expect(b._id).not.to.equal(a._id);
      const kept = await repository.saveJob(
        job({ name: 'sync', data: { user: 'a', n: 3 }, unique: { 'data.user': 'a' }, uniqueOpts: { insertOnly: true } }),
        undefined,
      );
      expect(kept.data).to.deep.equal({ user: 'a', n: 2 });
      expect((await repository.queryJobs({ name: 'sync' })).total).to.equal(2);
      let refused: unknown;
      try {
        await repository.saveJob(job({ name: 'sync', unique: { 'data.n': { $gt: 1 } } }), undefined);
      } catch (error) {
        refused = error;
      }
      expect(refused)
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.matches(/equality only/);
    });

    it('debounces: trailing pushes the run back, maxWait forces it', async function () {
      const first = await repository.saveJob(
        job({ name: 'index', unique: { 'data.k': 1 }, data: { k: 1 }, uniqueOpts: { debounce: { delay: 60_000, maxWait: 50 } } }),
        undefined,
      );
      expect(first.nextRunAt!.getTime()).to.be.greaterThan(Date.now() + 50_000);
      await delay(60);
      const forced = await repository.saveJob(
        job({ name: 'index', unique: { 'data.k': 1 }, data: { k: 1 }, uniqueOpts: { debounce: { delay: 60_000, maxWait: 50 } } }),
        undefined,
      );
      expect(forced._id).to.equal(first._id);
      expect(forced.nextRunAt!.getTime()).to.be.at.most(Date.now());
    });

    it('getNextJobToRun locks one due job, in nextRunAt then priority order, and never a locked, future or disabled one', async function () {
      const now = Date.now();
      await repository.saveJob(job({ name: 'w', nextRunAt: new Date(now - 1000), priority: 0, data: { n: 'low' } }), undefined);
      await repository.saveJob(job({ name: 'w', nextRunAt: new Date(now - 1000), priority: 10, data: { n: 'high' } }), undefined);
      await repository.saveJob(job({ name: 'w', nextRunAt: new Date(now - 5000), priority: 0, data: { n: 'oldest' } }), undefined);
      await repository.saveJob(job({ name: 'w', nextRunAt: new Date(now + MINUTE), data: { n: 'future' } }), undefined);
      await repository.saveJob(job({ name: 'w', nextRunAt: new Date(now - MINUTE), disabled: true, data: { n: 'disabled' } }), undefined);
      const next = () => repository.getNextJobToRun('w', new Date(now), new Date(now - 10 * MINUTE), undefined, { lastModifiedBy: 'me' });
      const order: unknown[] = [];
      for (let locked = await next(); locked; locked = await next()) order.push((locked.data as { n: string }).n);
      expect(order).to.deep.equal(['oldest', 'high', 'low']);
      const { jobs } = await repository.queryJobs({ name: 'w', state: 'running' });
      expect(jobs.map((each) => each.lastModifiedBy)).to.deep.equal(['me', 'me', 'me']);
    });

    it('a stale lock expires after the lock lifetime; touching (saveJobState) extends it', async function () {
      const saved = await repository.saveJob(job({ name: 'long', nextRunAt: new Date(Date.now() - 1000) }), undefined);
      const lifetime = 200;
      const lockable = () => repository.getNextJobToRun('long', new Date(), new Date(Date.now() - lifetime), undefined, undefined);
      const locked = await lockable();
      expect(locked?._id).to.equal(saved._id);
      expect(await lockable(), 'while the lock is fresh').to.equal(undefined);

      await delay(lifetime / 2);
      await repository.saveJobState({ ...locked!, lockedAt: new Date() }, undefined); // job.touch()
      await delay(lifetime / 2 + 30);
      expect(await lockable(), 'touched within its lifetime').to.equal(undefined);

      await delay(lifetime + 30);
      const taken = await lockable();
      expect(taken?._id, 'after the lifetime without a touch').to.equal(saved._id);
    });

    it('lockJob locks only an unlocked job that still has the nextRunAt the caller saw', async function () {
      const saved = await repository.saveJob(job({ name: 'x', nextRunAt: new Date(Date.now() + MINUTE) }), undefined);
      expect(await repository.lockJob({ ...saved, nextRunAt: new Date(0) }, undefined)).to.equal(undefined);
      const locked = await repository.lockJob(saved, undefined);
      expect(locked?.lockedAt).to.be.instanceOf(Date);
      expect(await repository.lockJob(saved, undefined)).to.equal(undefined);
    });

    it('unlockJob leaves a started one-time job (nextRunAt null) locked; unlockJobs unlocks it', async function () {
      const saved = await repository.saveJob(job({ name: 'once', nextRunAt: new Date(Date.now() - 1000) }), undefined);
      const locked = (await repository.getNextJobToRun('once', new Date(), new Date(0), undefined, undefined))!;
      await repository.saveJobState({ ...locked, nextRunAt: null, lastRunAt: new Date() }, undefined);
      await repository.unlockJob({ ...locked, nextRunAt: null });
      expect((await repository.getJobById(String(saved._id)))!.lockedAt).to.be.instanceOf(Date);
      await repository.unlockJobs([String(saved._id)]);
      expect(await repository.getJobById(String(saved._id))).not.to.have.property('lockedAt');
    });

    it('saveJobState fails for a job that no longer exists', async function () {
      const saved = await repository.saveJob(job({ name: 'gone' }), undefined);
      await repository.removeJobs({ id: saved._id! });
      let failure: unknown;
      try {
        await repository.saveJobState(saved, undefined);
      } catch (error) {
        failure = error;
      }
      expect(failure)
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.matches(/cannot be updated/);
    });

    it('queries, counts, disables, enables and removes by name, data and state', async function () {
      const past = new Date(Date.now() - 1000);
      await repository.saveJob(job({ name: 'Alpha', nextRunAt: past, data: { user: 'u1', deep: { k: 1 } } }), undefined);
      await repository.saveJob(job({ name: 'alphabet', nextRunAt: new Date(Date.now() + MINUTE), data: { user: 'u2', deep: { k: 2 } } }), undefined);
      await repository.saveJob(job({ name: 'beta', nextRunAt: past, repeatInterval: '1 hour', data: { user: 'u1' } }), undefined);

      expect((await repository.queryJobs({ search: 'ALPHA' })).total).to.equal(2);
      expect((await repository.queryJobs({ data: { deep: { k: 2 } } })).jobs.map((each) => each.name)).to.deep.equal(['alphabet']);
      expect((await repository.queryJobs({ state: 'repeating' })).jobs.map((each) => each.name)).to.deep.equal(['beta']);
      expect((await repository.queryJobs({ state: 'queued' })).jobs.map((each) => each.name)).to.deep.equal(['Alpha']);
      const page = await repository.queryJobs({ sort: { name: 'asc' }, skip: 1, limit: 1 });
      expect(page.total).to.equal(3);
      expect(page.jobs.map((each) => each.name)).to.deep.equal(['alphabet']);
      expect(await repository.getDistinctJobNames()).to.deep.equal(['Alpha', 'alphabet', 'beta']);
      expect(await repository.getQueueSize()).to.equal(2);

      expect(await repository.disableJobs({ data: { user: 'u1' } })).to.equal(2);
      expect(await repository.disableJobs({ data: { user: 'u1' } }), 'already disabled').to.equal(0);
      expect((await repository.queryJobs({ includeDisabled: false })).jobs.map((each) => each.name)).to.deep.equal(['alphabet']);
      expect((await repository.getJobsOverview()).find((each) => each.name === 'beta')).to.include({ total: 1, paused: 1, repeating: 1 });
      expect(await repository.enableJobs({ name: 'beta' })).to.equal(1);

      expect(await repository.removeJobs({}), 'no criteria removes nothing').to.equal(0);
      expect(await repository.removeJobs({ notNames: ['beta'] })).to.equal(2);
      expect(await repository.purgeAllJobs()).to.equal(1);
    });

    it('locks a job for one of two connections to the same file, however they interleave', async function () {
      const other = new SqliteJobRepository({ path });
      await other.connect();
      try {
        for (let n = 0; n < 20; n++) await repository.saveJob(job({ name: 'race', nextRunAt: new Date(Date.now() - 1000) }), undefined);
        const attempts = Array.from({ length: 30 }, (_unused, n) =>
          (n % 2 === 0 ? repository : other).getNextJobToRun('race', new Date(), new Date(Date.now() - MINUTE), undefined, undefined),
        );
        const locked = (await Promise.all(attempts)).filter((each) => each !== undefined);
        const ids = locked.map((each) => String(each._id));
        expect(ids).to.have.length(20);
        expect(new Set(ids).size).to.equal(20);
      } finally {
        await other.disconnect();
      }
    });

    it("leaves a connection it was given open on disconnect (the service's database)", async function () {
      const database = new BetterSqlite3(join(directory, 'shared.db'));
      try {
        const backend = new SqliteAgendaBackend({ database });
        expect(backend.ownsConnection).to.equal(false);
        await backend.connect();
        await backend.disconnect();
        expect(database.open).to.equal(true);
        expect(database.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'agenda_jobs'").get()).to.deep.equal({ n: 1 });
      } finally {
        database.close();
      }
    });
  });

  describe('under Agenda, several workers on one file', function () {
    const agendas: Agenda[] = [];

    /** A worker: its own Agenda and its own connection to the file, as another process would have. */
    function worker(configure: (agenda: Agenda) => void): Agenda {
      const agenda = new Agenda({ backend: new SqliteAgendaBackend({ path }), name: `worker-${agendas.length + 1}`, processEvery: 50 });
      configure(agenda);
      agendas.push(agenda);
      return agenda;
    }

    afterEach(async function () {
      await Promise.all(agendas.splice(0).map((agenda) => agenda.stop()));
    });

    /** Counts runs and the most that were ever in progress at once. */
    function exclusiveProbe(work: (job: Job) => Promise<void>) {
      const probe = { runs: 0, active: 0, maxActive: 0, finished: 0 };
      const handler = async (job: Job): Promise<void> => {
        probe.runs++;
        probe.active++;
        probe.maxActive = Math.max(probe.maxActive, probe.active);
        try {
          await work(job);
        } finally {
          probe.active--;
          probe.finished++;
        }
      };
      return { probe, handler };
    }

    it('creates a recurring job once however many workers schedule it, runs it in turn and reschedules it', async function () {
      const { probe, handler } = exclusiveProbe(() => delay(80));
      const errors: Error[] = [];
      const workers = [1, 2, 3].map(() =>
        worker((agenda) => {
          agenda.define('tick', handler);
          agenda.on('error', (error) => errors.push(error));
        }),
      );
      await Promise.all(workers.map((agenda) => agenda.start()));
      await Promise.all(workers.map((agenda) => agenda.every(250, 'tick')));

      await waitFor(() => probe.finished >= 4, 'four runs');
      expect(probe.maxActive, 'runs in progress at once').to.equal(1);
      const { jobs, total } = await workers[0]!.queryJobs({ name: 'tick' });
      expect(total).to.equal(1);
      const stored = jobs[0]!;
      expect(stored.lastRunAt).to.be.instanceOf(Date);
      expect(stored.nextRunAt!.getTime(), 'rescheduled after its last run').to.be.greaterThan(stored.lastRunAt!.getTime());
      expect(errors).to.deep.equal([]);
      await waitFor(() => probe.active === 0, 'the last run to end');
    });

    it('runs a one-time job once although every worker is polling for it', async function () {
      const { probe, handler } = exclusiveProbe(() => delay(300));
      const workers = [1, 2, 3].map(() => worker((agenda) => agenda.define('once', handler)));
      await Promise.all(workers.map((agenda) => agenda.start()));
      await workers[1]!.now('once');
      await waitFor(() => probe.finished === 1, 'the run');
      await delay(400);
      expect(probe.runs).to.equal(1);
    });

    it('keeps the lock of a long job that touches it; another worker does not take it over', async function () {
      const { probe, handler } = exclusiveProbe(async (job) => {
        for (let elapsed = 0; elapsed < 1200; elapsed += 100) {
          await delay(100);
          await job.touch();
        }
      });
      const errors: Error[] = [];
      const workers = [1, 2].map(() =>
        worker((agenda) => {
          agenda.define('long', handler, { lockLifetime: 400 });
          agenda.on('error', (error) => errors.push(error));
        }),
      );
      await Promise.all(workers.map((agenda) => agenda.start()));
      await workers[0]!.now('long');
      await waitFor(() => probe.finished === 1, 'the run');
      await delay(300);
      expect(probe.runs).to.equal(1);
      expect(errors).to.deep.equal([]);
    });

    it('gives a job whose lock went stale (no touch for longer than its lifetime) to another worker', async function () {
      // The control for the test above: the same job without touch() is run again.
      const { probe, handler } = exclusiveProbe(() => delay(1200));
      const workers = [1, 2].map(() => worker((agenda) => agenda.define('long', handler, { lockLifetime: 400 })));
      await Promise.all(workers.map((agenda) => agenda.start()));
      await workers[0]!.now('long');
      await waitFor(() => probe.runs >= 2, 'a second run after the lock expired');
      expect(probe.maxActive).to.be.at.least(2);
      await waitFor(() => probe.active === 0, 'the runs to end');
    });
  });

  describe('across processes', function () {
    this.timeout(30_000);

    it('never runs the recurring job in two processes at once, and creates it once', async function () {
      const script = fileURLToPath(new URL('./fixtures/agenda-worker.ts', import.meta.url));
      const runFor = 2500;
      const exits = [1, 2].map(
        () =>
          new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
            const child = spawn(process.execPath, ['--import', 'tsx', script, path, String(runFor)], { stdio: ['ignore', 'ignore', 'pipe'] });
            let stderr = '';
            child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
            child.on('error', reject);
            child.on('exit', (code) => resolve({ code, stderr }));
          }),
      );
      for (const { code, stderr } of await Promise.all(exits)) expect(code, stderr).to.equal(0);

      const database = new BetterSqlite3(path, { readonly: true });
      try {
        const runs = database.prepare('SELECT worker, started_at, finished_at FROM runs ORDER BY started_at').all() as {
          worker: number;
          started_at: number;
          finished_at: number | null;
        }[];
        expect(runs.length, 'runs').to.be.at.least(4);
        for (const [index, run] of runs.entries()) {
          expect(run.finished_at, 'every run finished').to.be.a('number');
          const previous = runs[index - 1];
          if (previous) expect(run.started_at, `run ${index} started before run ${index - 1} ended`).to.be.at.least(previous.finished_at!);
        }
        expect(database.prepare("SELECT count(*) AS n FROM agenda_jobs WHERE name = 'exclusive'").get()).to.deep.equal({ n: 1 });
      } finally {
        database.close();
      }
    });
  });
});
