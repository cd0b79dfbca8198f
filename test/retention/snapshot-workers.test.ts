/**
 * A large retention pass snapshots users on worker threads (src/retention/snapshot-workers.ts).
 * The 100-day invariants run that way too (retention.test.ts); here, the cases only the threads
 * have: a user they hand back to the pass's thread (a truncation an earlier pass left undone),
 * and a store they cannot open on their own (in memory), which the pass's thread snapshots.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import winston from 'winston';
import Transport from 'winston-transport';
import { randomUUID } from 'node:crypto';
import type { UserEvent } from '../../src/domain/events.js';
import { streams } from '../../src/domain/events.js';
import { checkpointState, daysBefore } from '../../src/domain/retention.js';
import type { StateEvent } from '../../src/domain/state.js';
import { fold } from '../../src/domain/state.js';
import { allProjections } from '../../projections/index.js';
import { RETENTION_INDEX } from '../../projections/retention-index.js';
import { retainedAt } from '../../src/retention/history.js';
import { createRetentionPass, RetentionService } from '../../src/retention/retention-service.js';
import { RETENTION } from '../../src/retention/types.js';
import { ReadModelService } from '../../src/services/read-models.js';
import { fromStoreEvent, toStoreEvent } from '../../src/services/codec.js';
import { feedOf } from '../../src/retention/snapshot.js';
import { silentLogger } from '../../src/logger.js';
import { eventsAppended, withAppendCounting } from '../../src/metrics.js';
import { Projector } from '../../src/projector/projector.js';
import type { Stores } from '../../src/runtime.js';
import { openStores } from '../../src/runtime.js';
import type { RecordedEvent } from '../../src/stores/event-store.js';
import { readStreamOrEmpty } from '../../src/stores/event-store.js';
import { EmbeddedRetention } from '../../src/stores/embedded/retention-capability.js';
import { SqliteEventStore } from '../../src/stores/embedded/sqlite-event-store.js';
import { memoryReadModel, preparedProjector } from '../projector/support.js';
import { generateWorkload } from '../../scripts/bench/workload.js';

const DAY = 24 * 60 * 60 * 1000;
const START = Date.UTC(2026, 0, 1);
const stateOf = (events: readonly RecordedEvent[]) => fold(events.map(fromStoreEvent).filter((event): event is StateEvent => event !== undefined));

/** A logger that keeps what it is given. */
function recordingLogger() {
  const entries: Record<string, unknown>[] = [];
  const transport = new (class extends Transport {
    override log(entry: Record<string, unknown>, done: () => void) {
      entries.push(entry);
      done();
    }
  })();
  return { logger: winston.createLogger({ level: 'debug', transports: [transport] }), entries };
}

/** Several users' listening over 100 simulated days, projected. */
async function filledStore(
  dataDir: string,
  clock: { now: number },
  size = { users: 6, events: 1_500 },
): Promise<{ stores: Stores; users: string[]; projector: Projector }> {
  const stores = await openStores(
    { DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded', EVENTSTORE_URL: undefined, MONGO_URL: undefined },
    { clock: () => new Date(clock.now) },
  );
  const appends = [...generateWorkload({ ...size, feeds: 8, episodesPerFeed: 5, minFeedsPerUser: 2, maxFeedsPerUser: 4, maxBatch: 5, seed: 11 })];
  for (const [index, append] of appends.entries()) {
    clock.now = START + Math.floor((index / appends.length) * 100 * DAY);
    await stores.eventStore.append(append.stream, append.events);
  }
  const projector = await preparedProjector(stores);
  await projector.catchUp();
  const users = [...new Set(appends.map((append) => append.stream.slice(streams.userPrefix.length)))];
  return { stores, users, projector };
}

describe('retention snapshots on worker threads (src/retention/snapshot-workers.ts)', function () {
  this.timeout(120_000);
  let dataDir: string;
  let stores: Stores | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-snapshot-threads-'));
  });
  afterEach(async () => {
    await stores?.close();
    stores = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('hands a user whose truncation an earlier pass left undone back to the pass, which finishes it', async () => {
    const clock = { now: START };
    const filled = await filledStore(dataDir, clock);
    stores = filled.stores;
    const embedded = stores.embedded!;
    const capability = new EmbeddedRetention(embedded.eventStore!, { truncateWal: embedded.truncateWal, files: [embedded.database] });
    // The first pass stops after its checkpoints, before any truncation (a crash there).
    const stopped = Object.assign(Object.create(capability) as EmbeddedRetention, {
      truncate: () => Promise.reject(new Error('stopped before the truncations')),
    });
    const interrupted = new RetentionService({
      eventStore: stores.eventStore,
      readModel: stores.readModel,
      readModels: new ReadModelService(stores.eventStore, stores.readModel),
      projections: allProjections.map(({ name }) => name),
      logger: silentLogger(),
      capability: stopped,
      snapshotThreads: 0,
    });
    const now = new Date(clock.now);
    const before = new Map<string, ReturnType<typeof stateOf>>();
    for (const user of filled.users) before.set(user, stateOf(await readStreamOrEmpty(stores.eventStore, streams.user(user))));
    await interrupted.run(now).then(
      () => expect.fail('the pass should have stopped'),
      (error: Error) => expect(error.message).to.equal('stopped before the truncations'),
    );
    const old = async (user: string) =>
      (await readStreamOrEmpty(stores!.eventStore, streams.user(user))).filter((event) => retainedAt(event) < daysBefore(now, RETENTION.snapshotAfterDays))
        .length;
    const left = (await Promise.all(filled.users.map(old))).reduce((sum, count) => sum + count, 0);
    expect(left, 'old events the stopped pass left').to.be.greaterThan(0);

    // A minute later, a pass on threads: each of those users comes back to the pass's thread.
    const { logger, entries } = recordingLogger();
    const later = new Date(now.getTime() + 60_000);
    clock.now = later.getTime();
    const summary = await createRetentionPass(stores, { defaultPrivacy: 'private', logger, parallelFrom: 1, snapshotThreads: 2 }).run(later);
    expect(summary.snapshotThreads).to.equal(2);
    const finished = entries.filter((entry) => entry['message'] === 'retention: a truncation left undone goes with this pass');
    expect(finished.length, 'truncations finished').to.be.greaterThan(0);
    for (const user of filled.users) {
      expect(await old(user), `old events of ${user}`).to.equal(0);
      const after = stateOf(await readStreamOrEmpty(stores.eventStore, streams.user(user)));
      expect(after, `state of ${user}`).to.deep.equal(checkpointState(before.get(user)!, now, RETENTION.forgetTombstonesAfterDays));
    }
  });

  it('counts every event it removes, erasures carried out by users running at once included', async () => {
    const clock = { now: START };
    const filled = await filledStore(dataDir, clock, { users: 24, events: 4_000 });
    stores = filled.stores;
    // Ten users erase a feed they listened to (the pass carries out pending erasures first).
    for (const user of filled.users.slice(0, 10)) {
      const named = (await readStreamOrEmpty(stores.eventStore, streams.user(user))).map(feedOf).find((feeds) => feeds.length > 0)!;
      const remove: UserEvent = {
        id: randomUUID(),
        user,
        timestamp: new Date(clock.now).toISOString(),
        type: 'remove',
        object: { rss_source_feed: named[0]! },
        data: {},
      };
      await stores.eventStore.append(streams.user(user), [toStoreEvent(remove)]);
    }
    await filled.projector.catchUp();
    const database = stores.embedded!.database;
    const rows = () => (database.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    const positions = () => (database.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").get() as { seq: number }).seq;
    const pending = await stores.readModel.find(RETENTION_INDEX, { where: { pending_erasure: true } });
    expect(pending.length, 'users with an erasure to carry out').to.be.at.least(10);
    const [rowsBefore, positionsBefore] = [rows(), positions()];
    const summary = await createRetentionPass(stores, { defaultPrivacy: 'private', logger: silentLogger(), parallelFrom: 1, snapshotThreads: 2 }).run(
      new Date(clock.now),
    );
    expect(summary.snapshotThreads).to.equal(2);
    expect(summary.eventsRemoved).to.equal(rowsBefore + (positions() - positionsBefore) - rows());
  });

  it('counts what the threads append in the service’s metrics, as appends of its own store', async () => {
    const clock = { now: START };
    const filled = await filledStore(dataDir, clock);
    stores = filled.stores;
    const checkpoints = async () => (await eventsAppended.get()).values.find(({ labels }) => labels.type === 'checkpoint')?.value ?? 0;
    const before = await checkpoints();
    let signalled = 0;
    const counted = withAppendCounting(stores, () => signalled++);
    const summary = await createRetentionPass(counted, { defaultPrivacy: 'private', logger: silentLogger(), parallelFrom: 1, snapshotThreads: 2 }).run(
      new Date(clock.now),
    );
    expect(summary.snapshotThreads).to.equal(2);
    expect(summary.usersSnapshotted).to.be.greaterThan(0);
    expect((await checkpoints()) - before).to.equal(summary.usersSnapshotted);
    expect(signalled, 'appends signalled (the projector thread is woken by these)').to.be.at.least(summary.usersSnapshotted);
  });

  it('snapshots on the pass’s own thread when the store is in memory (no file a thread could open)', async () => {
    const clock = { now: START };
    const eventStore = new SqliteEventStore({ path: ':memory:', clock: () => new Date(clock.now) });
    const { readModel, close } = memoryReadModel();
    try {
      const appends = [
        ...generateWorkload({ events: 300, users: 3, feeds: 4, episodesPerFeed: 3, minFeedsPerUser: 1, maxFeedsPerUser: 2, maxBatch: 3, seed: 5 }),
      ];
      for (const [index, append] of appends.entries()) {
        clock.now = START + Math.floor((index / appends.length) * 100 * DAY);
        await eventStore.append(append.stream, append.events);
      }
      const projector = await preparedProjector({ eventStore, readModel });
      await projector.catchUp();
      const capability = new EmbeddedRetention(eventStore, { truncateWal: () => Promise.resolve(), files: [] });
      expect(capability.parallelSnapshots).to.equal(undefined);
      const summary = await new RetentionService({
        eventStore,
        readModel,
        readModels: new ReadModelService(eventStore, readModel),
        projections: allProjections.map(({ name }) => name),
        logger: silentLogger(),
        capability,
        parallelFrom: 1,
        snapshotThreads: 2,
      }).run(new Date(clock.now));
      expect(summary.usersSnapshotted).to.equal(3);
      expect(summary.snapshotThreads).to.equal(0);
    } finally {
      await eventStore.close();
      close();
    }
  });
});
