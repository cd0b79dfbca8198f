/**
 * The pipelined catch-up of a rebuild (src/projector/projector.ts): batch N+1 is decided while
 * batch N is committed on a background thread. It must give exactly the documents of a plain
 * catch-up, and a failed commit must resume from the stored checkpoints with nothing lost or
 * counted twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import { PUBLIC_EVENTS } from '../../projections/public-events.js';
import { capturingLogger } from '../support/logs.js';
import { LeaseLostError, Projector } from '../../src/projector/projector.js';
import { rebuildProjections } from '../../src/projector/rebuild.js';
import { openStores, type Stores } from '../../src/runtime.js';
import type { BackgroundCommitter, CommitOptions, ProjectionCommit } from '../../src/stores/read-model.js';
import { DEFAULT_WORKLOAD, generateWorkload } from '../../scripts/bench/workload.js';
import { dumpDocs, expectSameDocs, foldInMemory, memoryReadModel } from './support.js';

const context = { defaultPrivacy: 'private' as const };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('pipelined catch-up (commits on a background thread)', function () {
  this.timeout(120_000);
  let dataDir: string;
  let stores: Stores;
  let reference: Awaited<ReturnType<typeof dumpDocs>>;

  before(async function () {
    dataDir = mkdtempSync(join(tmpdir(), 'podsync-pipelined-'));
    stores = await openStores({ DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded' });
    const workload = { ...DEFAULT_WORKLOAD, events: 6_000, users: 80, feeds: 40, episodesPerFeed: 8, seed: 11 };
    for (const { stream, events } of generateWorkload(workload)) await stores.eventStore.append(stream, events);
    // The reference: a plain catch-up, one batch at a time, into a separate in-memory read model.
    const plain = memoryReadModel();
    try {
      // A small cache, so that documents are read back from the store (or known absent) all along.
      const summary = await rebuildProjections({ eventStore: stores.eventStore, readModel: plain.readModel }, allProjections, {
        context,
        batchSize: 97,
        cachedDocs: 64,
      });
      expect(summary.parked).to.equal(0);
      reference = await dumpDocs(plain.readModel, allProjections);
    } finally {
      plain.close();
    }
    expect(reference[PUBLIC_EVENTS]!.length, 'the workload publishes something').to.be.greaterThan(0);
  });

  after(async function () {
    await stores.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the plain catch-up (the reference) gives what the projections give in memory, event by event', async function () {
    // The projector loads documents in batches, caches them, and answers for documents it knows
    // it never wrote without asking the store: none of that may change a document.
    expectSameDocs(reference, await foldInMemory(stores.eventStore, allProjections, context));
  });

  it('a rebuild through the background committer gives the documents of a plain catch-up', async function () {
    const committer = await stores.readModel.openBackgroundCommitter?.();
    expect(committer, 'the embedded read model offers a background committer').to.not.equal(undefined);
    await committer!.close();
    const summary = await rebuildProjections(stores, allProjections, { context, batchSize: 97 });
    expect(summary.parked).to.equal(0);
    expect(summary.events).to.equal(6_000);
    expectSameDocs(await dumpDocs(stores.readModel, allProjections), reference);
  });

  /** Resets every read model and rebuilds them with the pipelined projector, its commits going through `commitAll`. */
  async function rebuildThrough(commitAll: (commits: readonly ProjectionCommit[], committer: BackgroundCommitter) => Promise<void>) {
    const committer = (await stores.readModel.openBackgroundCommitter?.())!;
    const { logger, entries } = capturingLogger();
    const projector = new Projector({
      eventStore: stores.eventStore,
      readModel: stores.readModel,
      projections: allProjections,
      context,
      logger,
      batchSize: 97,
      pipeline: true,
      trackAbsence: true,
      commitAll: (commits) => commitAll(commits, committer),
      owner: 'pipelined-test',
    });
    try {
      expect(await projector.acquireLeases(false)).to.equal(true);
      await projector.prepare();
      for (const projection of allProjections)
        await stores.readModel.reset(
          projection.name,
          projection.collections.map((collection) => collection.name),
        );
      await projector.prepare();
      await projector.catchUp();
    } finally {
      await projector.stop();
      await committer.close();
    }
    return { projector, warnings: entries.filter((entry) => entry['level'] === 'warn') };
  }

  it('after a failed commit, resumes from the stored checkpoints: nothing lost, nothing counted twice', async function () {
    let commits = 0;
    const { projector, warnings } = await rebuildThrough((batch, committer) => {
      commits += 1;
      // The 5th and 9th commits fail (after the batch after them has been decided over them).
      if (commits === 5 || commits === 9) return Promise.reject(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' }));
      return committer.commitAll(batch);
    });
    const resumed = warnings.filter((entry) => String(entry['message']).includes('resuming from the checkpoints'));
    expect(resumed.map((entry) => entry['error'])).to.deep.equal(['disk I/O error', 'disk I/O error']);
    const head = await stores.eventStore.headPosition();
    for (const checkpoint of Object.values(projector.checkpoints())) expect(checkpoint).to.deep.equal(head);
    expectSameDocs(await dumpDocs(stores.readModel, allProjections), reference);
  });

  it('a commit that landed but reported a failure: resumes after it, and reads what it wrote from the store', async function () {
    let commits = 0;
    // The 3rd commit lands, then fails (a lost reply): the projector never hears of its documents.
    const { warnings } = await rebuildThrough(async (batch, committer) => {
      commits += 1;
      await committer.commitAll(batch);
      if (commits === 3) throw new Error('connection reset after commit');
    });
    expect(warnings.map((entry) => entry['error'])).to.deep.equal(['connection reset after commit']);
    // Had the projector gone on telling absent documents from the ids it saw committed, those
    // of the 3rd batch would count as absent and later events would start them over.
    expectSameDocs(await dumpDocs(stores.readModel, allProjections), reference);
  });

  /** A pipelined projector over reset read models, its commits going through `commitAll` and a background committer. */
  async function pipelinedProjector(
    commitAll: (commits: readonly ProjectionCommit[], options: CommitOptions | undefined, committer: BackgroundCommitter) => Promise<void>,
    leaseTtlMs = 15_000,
  ) {
    const committer = (await stores.readModel.openBackgroundCommitter?.())!;
    const { logger, entries } = capturingLogger();
    const projector = new Projector({
      eventStore: stores.eventStore,
      readModel: stores.readModel,
      projections: allProjections,
      context,
      logger,
      batchSize: 97,
      pipeline: true,
      leaseTtlMs,
      commitAll: (commits, options) => commitAll(commits, options, committer),
      owner: 'live-pipelined-test',
    });
    expect(await projector.acquireLeases(false)).to.equal(true);
    await projector.prepare();
    for (const projection of allProjections)
      await stores.readModel.reset(
        projection.name,
        projection.collections.map((collection) => collection.name),
      );
    await projector.prepare();
    return { projector, committer, entries };
  }

  it('live (start), pipelined through the background committer: the documents of a plain catch-up, after a failed commit too', async function () {
    let commits = 0;
    const { projector, committer, entries } = await pipelinedProjector((batch, options, background) => {
      commits += 1;
      if (commits === 4) return Promise.reject(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' }));
      return background.commitAll(batch, options);
    });
    const head = await stores.eventStore.headPosition();
    try {
      projector.start();
      const deadline = Date.now() + 60_000;
      const caughtUp = async () => {
        for (const projection of allProjections) {
          const checkpoint = await stores.readModel.getCheckpoint(projection.name);
          if (checkpoint?.position.commit !== head.commit) return false;
        }
        return true;
      };
      while (Date.now() < deadline && !(await caughtUp())) await sleep(20);
      expect(await caughtUp(), 'every checkpoint at the head').to.equal(true);
    } finally {
      await projector.stop();
      await committer.close();
    }
    const warnings = entries.filter((entry) => entry['level'] === 'warn' && String(entry['message']).includes('resuming from the checkpoints'));
    expect(warnings.map((entry) => entry['error'])).to.deep.equal(['disk I/O error']);
    expect(commits).to.be.greaterThan(4);
    expectSameDocs(await dumpDocs(stores.readModel, allProjections), reference);
  });

  it('live, pipelined: a commit whose lease was taken over after it was handed over lands nothing (fenced on the transaction thread)', async function () {
    const { projector, committer, entries } = await pipelinedProjector(async (batch, options, background) => {
      // Between ensureLeases and the commit's transaction: the lease lapses and another process takes it.
      await stores.readModel.releaseLease('subscriptions', 'live-pipelined-test');
      await stores.readModel.tryAcquireLeases(['subscriptions'], 'the-service', 60_000);
      return background.commitAll(batch, options);
    }, 600);
    try {
      projector.start();
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !entries.some((entry) => String(entry['message']).includes('projector failed'))) await sleep(20);
      const failure = entries.find((entry) => String(entry['message']).includes('projector failed'));
      expect(failure?.['error']).to.equal(new LeaseLostError().message);
      expect(await stores.readModel.count('subscriptions')).to.equal(0);
      expect(await stores.readModel.getCheckpoint('subscriptions')).to.equal(undefined);
    } finally {
      await stores.readModel.releaseLease('subscriptions', 'the-service');
      await projector.stop();
      await committer.close();
    }
  });
});
