/**
 * The projector thread runs below the HTTP thread's priority (src/thread-priority.ts): Linux keeps
 * a nice value per thread, and a thread a niced thread starts (the projector's commit thread)
 * takes its creator's. Read back from the kernel (/proc/thread-self/stat), on Linux.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { startTestService } from '../support/service.js';

const WORKER = fileURLToPath(new URL('./fixtures/nice-worker.mjs', import.meta.url));
/** Field 19 of a thread's stat file (after the command name, which may hold spaces). */
const niceOf = (stat: string) => Number(readFileSync(stat, 'utf8').split(') ')[1]!.split(' ')[16]);
const ownNice = () => niceOf('/proc/thread-self/stat');

function niceOfWorker(nice: number): Promise<{ changed: boolean; nice: number; childNice: number }> {
  const worker = new Worker(WORKER, { workerData: { nice } });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

describe('thread priority (src/thread-priority.ts)', function () {
  this.timeout(30_000);

  before(function () {
    // Every machine this project's CI and tests run on is Linux; say so loudly rather than skip.
    expect(existsSync('/proc/thread-self/stat'), 'Linux procfs (per-thread nice values)').to.equal(true);
  });

  it('lowers the calling thread alone by the given levels; a thread it starts inherits them', async function () {
    const base = ownNice();
    const seen = await niceOfWorker(4);
    expect(seen.changed).to.equal(true);
    expect(seen.nice).to.equal(Math.min(19, base + 4));
    expect(seen.childNice, 'a thread started by it (the commit thread)').to.equal(Math.min(19, base + 4));
    expect(ownNice(), 'the calling process’s main thread').to.equal(base);
  });

  it('0 leaves the thread as it is', async function () {
    const seen = await niceOfWorker(0);
    expect(seen.changed).to.equal(false);
    expect(seen.nice).to.equal(ownNice());
  });

  it("the service's projector thread and its commit thread run PROJECTOR_NICE levels below the HTTP thread", async function () {
    const threadsAt = (nice: number) =>
      readdirSync('/proc/self/task').filter((tid) => {
        try {
          return niceOf(`/proc/self/task/${tid}/stat`) === nice;
        } catch {
          return false; // a thread that ended meanwhile
        }
      }).length;
    const lowered = Math.min(19, ownNice() + 7);
    expect(threadsAt(lowered), 'before').to.equal(0);
    const service = await startTestService({ PROJECTOR_NICE: '7' });
    try {
      expect(service.projectorThread?.running).to.equal(true);
      expect(threadsAt(lowered), 'the projector thread and its commit thread').to.equal(2);
    } finally {
      await service.stop();
    }
    expect(threadsAt(lowered), 'after').to.equal(0);
  });

  it('PROJECTOR_NICE: 0 by default, 0 to 19, anything else refused', function () {
    expect(loadConfig({}).PROJECTOR_NICE).to.equal(0);
    expect(loadConfig({ PROJECTOR_NICE: '10' }).PROJECTOR_NICE).to.equal(10);
    expect(() => loadConfig({ PROJECTOR_NICE: '20' })).to.throw(/PROJECTOR_NICE/);
    expect(() => loadConfig({ PROJECTOR_NICE: '-5' })).to.throw(/PROJECTOR_NICE/);
  });
});
