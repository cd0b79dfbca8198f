/**
 * The projector's prefetch (src/projector/projector.ts, ProjectorOptions.prefetch): before a
 * batch is projected, what its events will ask for is loaded in one read per collection. It
 * must change no document, and against a store whose reads are round trips (MongoDB:
 * ReadModelStore.remoteReads) it is on by default and replaces the read per event that asks.
 */
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import { silentLogger } from '../../src/logger.js';
import { Projector } from '../../src/projector/projector.js';
import type { SqliteEventStore } from '../../src/stores/embedded/sqlite-event-store.js';
import { countingReads } from '../../scripts/bench/projector-reads.js';
import { DEFAULT_WORKLOAD, generateWorkload } from '../../scripts/bench/workload.js';
import { dumpDocs, expectSameDocs, foldInMemory, memoryReadModel, memoryStores } from './support.js';

const context = { defaultPrivacy: 'private' as const };
const EVENTS = 4_000;

describe('projector prefetch (a batch loads what its events ask for, a read per collection)', function () {
  this.timeout(120_000);
  let eventStore: SqliteEventStore;
  let closeStores: () => Promise<void>;

  before(async function () {
    ({ eventStore, close: closeStores } = memoryStores());
    // The benchmarks' mix: plays, saves, subscriptions, playlists, privacy changes (histories), removes.
    const workload = { ...DEFAULT_WORKLOAD, events: EVENTS, users: 60, feeds: 30, episodesPerFeed: 8, seed: 23 };
    for (const { stream, events } of generateWorkload(workload)) await eventStore.append(stream, events);
  });

  after(async function () {
    await closeStores();
  });

  /** A live-like catch-up (no absence tracking, a small cache) into a fresh read model. */
  async function project(options: { remoteReads: boolean; prefetch?: boolean }) {
    const memory = memoryReadModel();
    const counted = countingReads(memory.readModel, { remoteReads: options.remoteReads });
    const projector = new Projector({
      eventStore,
      readModel: counted.readModel,
      projections: allProjections,
      context,
      logger: silentLogger(),
      batchSize: 97,
      cachedDocs: 64,
      owner: 'test',
      ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }),
    });
    expect(await projector.acquireLeases(false)).to.equal(true);
    try {
      await projector.prepare();
      const before = counted.reads();
      expect(await projector.catchUp()).to.equal(EVENTS);
      return { docs: await dumpDocs(memory.readModel, allProjections), reads: counted.reads() - before, parked: projector.parkedCount };
    } finally {
      await projector.stop();
      memory.close();
    }
  }

  it('is on by default against a store whose reads are round trips, off in-process; the documents are the same', async function () {
    const inProcess = await project({ remoteReads: false });
    const remote = await project({ remoteReads: true });
    expect(inProcess.parked).to.equal(0);
    expect(remote.parked).to.equal(0);
    expectSameDocs(remote.docs, inProcess.docs);
    expectSameDocs(inProcess.docs, await foldInMemory(eventStore, allProjections, context));
    // Without it about one read per event that asks for a document it has not loaded; with it a
    // few per batch and projection (41 batches, 10 projections reading).
    expect(inProcess.reads).to.be.greaterThan(EVENTS / 2);
    expect(remote.reads).to.be.lessThan(inProcess.reads / 4);
  });

  it('can be turned on for an in-process store, and off for a remote one', async function () {
    const forced = await project({ remoteReads: false, prefetch: true });
    const declined = await project({ remoteReads: true, prefetch: false });
    expectSameDocs(forced.docs, declined.docs);
    expect(forced.reads).to.be.lessThan(declined.reads / 4);
  });
});
