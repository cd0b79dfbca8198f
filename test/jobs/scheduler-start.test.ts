/** The scheduler's start on a full disk (src/jobs/scheduler-start.ts). */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { Agenda } from 'agenda';
import { startSchedulerOrRetry } from '../../src/jobs/scheduler-start.js';
import type { Scheduler } from '../../src/jobs/retention-job.js';
import { capturingLogger } from '../support/logs.js';

const diskFull = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

/** A start that fails with each of `failures` in turn, then starts a scheduler that counts its stops. */
function starts(...failures: Error[]) {
  const counts = { calls: 0, stops: 0 };
  const scheduler: Scheduler = {
    agenda: {} as Agenda,
    stop: async () => {
      counts.stops += 1;
    },
  };
  const start = async () => {
    const failure = failures[counts.calls++];
    if (failure) throw failure;
    return scheduler;
  };
  return { start, counts, scheduler };
}

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 2_000) throw new Error('not within 2 s');
    await sleep(5);
  }
}

describe('the scheduler started on a full disk', function () {
  it('starts at once when it can', async () => {
    const { start, counts, scheduler } = starts();
    const started = await startSchedulerOrRetry(start, capturingLogger().logger, 5);
    expect(started.current).to.equal(scheduler);
    await started.stop();
    expect(counts).to.deep.equal({ calls: 1, stops: 1 });
  });

  it('lets the service start without it, says so once, and starts it once there is room', async () => {
    const { logger, entries } = capturingLogger();
    const { start, counts, scheduler } = starts(diskFull(), diskFull(), diskFull());
    const started = await startSchedulerOrRetry(start, logger, 5);
    expect(started.current, 'no scheduler yet').to.equal(undefined);
    await until(() => started.current !== undefined);
    expect(started.current).to.equal(scheduler);
    expect(counts.calls).to.equal(4);
    expect(entries.map((entry) => entry['message'])).to.deep.equal([
      'the scheduler could not start: the disk holding the store is full; its jobs start once there is room (tried every 0.005 s)',
      'the scheduler could not start; trying again',
      'the scheduler could not start; trying again',
    ]);
    await started.stop();
    expect(counts.stops).to.equal(1);
  });

  it('leaves any other failure to start to the caller', async () => {
    const { start } = starts(new Error('no such collection'));
    let caught: unknown;
    await startSchedulerOrRetry(start, capturingLogger().logger, 5).catch((error: unknown) => (caught = error));
    expect(caught).to.be.an('error').with.property('message', 'no such collection');
  });

  it('tries no more once stopped, and stops a scheduler that started meanwhile', async () => {
    const waiting = starts(diskFull(), diskFull());
    const stoppedWaiting = await startSchedulerOrRetry(waiting.start, capturingLogger().logger, 5);
    await stoppedWaiting.stop();
    const calls = waiting.counts.calls;
    await sleep(30);
    expect(waiting.counts.calls, 'no try after stop').to.equal(calls);
    expect(stoppedWaiting.current).to.equal(undefined);

    // A try in progress when stop comes: its scheduler is stopped, not left running.
    let release!: () => void;
    const slow = starts(diskFull());
    const gated = async () => {
      if (slow.counts.calls === 1) await new Promise<void>((resolve) => (release = resolve));
      return slow.start();
    };
    const stoppedTrying = await startSchedulerOrRetry(gated, capturingLogger().logger, 5);
    await until(() => release !== undefined);
    const stopping = stoppedTrying.stop();
    release();
    await stopping;
    expect(slow.counts).to.deep.equal({ calls: 2, stops: 1 });
    expect(stoppedTrying.current).to.equal(undefined);
  });
});
