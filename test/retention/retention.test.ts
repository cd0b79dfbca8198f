/**
 * Retention and erasure invariants (docs/design.md, "Retention", 8), over a simulated 100 days of several users
 * with an injectable clock:
 * - the state folded from the retained stream equals the state before truncation (less the
 *   long-gone tombstones a checkpoint leaves out);
 * - read models rebuilt after retention equal the live ones;
 * - popularity covers exactly the retained window;
 * - a second pass at the same time does nothing;
 * - after erasure the scope's strings are absent from the store files.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { allProjections } from '../../projections/index.js';
import { EPISODE_POPULARITY } from '../../projections/popularity.js';
import type { StateEvent } from '../../src/domain/state.js';
import { effectivePrivacy, episodeKey, fold } from '../../src/domain/state.js';
import { checkpointState, daysBefore } from '../../src/domain/retention.js';
import type { UserEvent } from '../../src/domain/events.js';
import { streams } from '../../src/domain/events.js';
import { silentLogger } from '../../src/logger.js';
import { Projector } from '../../src/projector/projector.js';
import { createRetentionPass, podcastStatsStream, RetentionService } from '../../src/retention/retention-service.js';
import { feedOf } from '../../src/retention/snapshot.js';
import { retainedAt, rewriteOrigin } from '../../src/retention/history.js';
import { ReadModelService } from '../../src/services/read-models.js';
import { RETENTION } from '../../src/retention/types.js';
import type { Stores } from '../../src/runtime.js';
import { openStores } from '../../src/runtime.js';
import { fromStoreEvent, toStoreEvent } from '../../src/services/codec.js';
import type { RecordedEvent } from '../../src/stores/event-store.js';
import { readStreamOrEmpty } from '../../src/stores/event-store.js';
import { generateWorkload } from '../../scripts/bench/workload.js';
import { dumpDocs, expectSameDocs, memoryReadModel } from '../projector/support.js';

const DAY = 24 * 60 * 60 * 1000;
const START = Date.UTC(2026, 0, 1);

function projectorFor(stores: Pick<Stores, 'eventStore' | 'readModel'>) {
  return new Projector({
    eventStore: stores.eventStore,
    readModel: stores.readModel,
    projections: allProjections,
    context: { defaultPrivacy: 'private' },
    logger: silentLogger(),
    batchSize: 97,
  });
}

const stateOf = (events: readonly RecordedEvent[]) => fold(events.map(fromStoreEvent).filter((event): event is StateEvent => event !== undefined));

const THREADS = 'rows deleted, users snapshotted on worker threads';

/**
 * Run three times: as the embedded store does it (rows deleted), the same with the users
 * snapshotted on worker threads as a large pass does (src/retention/snapshot-workers.ts; here
 * from the first user), and as on EventStoreDB (no physical eraser: `$tb` only, and erasures
 * rewrite the stream, src/retention/history.ts), all through the embedded store's port. The
 * first truncates every user at the end of the pass; the other two each user as soon as it is
 * snapshotted, while the others are (a large pass truncates in batches meanwhile).
 */
for (const mode of ['rows deleted', THREADS, 'streams rewritten (EventStoreDB)'] as const)
  describe(`retention over 100 simulated days (docs/design.md, "Retention"), ${mode}`, function () {
    this.timeout(120_000);
    let dataDir: string;
    let stores: Stores;
    let now = START;
    let retention: RetentionService;
    let projector: Projector;
    const users = new Set<string>();

    before(async () => {
      dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-retention-'));
      stores = await openStores(
        // Clients' appends here are of at most six events; checkpoints (a user's whole state) go
        // past this limit, which the store's own appends are not held to.
        { DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded', EVENTSTORE_URL: undefined, MONGO_URL: undefined, MAX_APPEND_BYTES: 4_096 },
        { clock: () => new Date(now) },
      );
      projector = projectorFor(stores);
      await projector.prepare();
      retention =
        mode !== 'streams rewritten (EventStoreDB)'
          ? createRetentionPass(stores, {
              defaultPrivacy: 'private',
              logger: silentLogger(),
              ...(mode === THREADS ? { parallelFrom: 1, snapshotThreads: 2, truncateEvery: 1 } : { snapshotThreads: 0, truncateEvery: Infinity }),
            })
          : new RetentionService({
              truncateEvery: 1,
              eventStore: stores.eventStore,
              readModel: stores.readModel,
              readModels: new ReadModelService(stores.eventStore, stores.readModel),
              projections: allProjections.map(({ name }) => name),
              logger: silentLogger(),
            });
    });
    after(async () => {
      await stores.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    async function readUser(user: string) {
      return readStreamOrEmpty(stores.eventStore, streams.user(user));
    }

    async function checkInvariants(asOf: Date) {
      await projector.catchUp();
      // Rebuilt read models equal the live ones.
      const fresh = memoryReadModel();
      try {
        const rebuild = projectorFor({ eventStore: stores.eventStore, readModel: fresh.readModel });
        await rebuild.prepare();
        await rebuild.catchUp();
        expectSameDocs(await dumpDocs(stores.readModel, allProjections), await dumpDocs(fresh.readModel, allProjections));
      } finally {
        fresh.close();
      }
      // Popularity covers the retained window: plays = users with a retained play, not private.
      const expected = new Map<string, number>();
      for (const user of users) {
        const events = await readUser(user);
        const state = stateOf(events);
        const played = new Set<string>();
        for (const event of events) {
          const domain = fromStoreEvent(event);
          if (domain?.type === 'play') played.add(episodeKey(domain.object.rss_source_feed, domain.object.rss_source_id));
        }
        for (const key of played) {
          const [feed] = JSON.parse(key) as [string, string];
          if (effectivePrivacy(state.privacy, feed, 'private') !== 'private') expected.set(key, (expected.get(key) ?? 0) + 1);
        }
        // Nothing older than the truncation window stays (the checkpoint itself is new; a copy
        // made by a rewrite is as old as its original).
        expect(
          events.every((event) => retainedAt(event) >= daysBefore(asOf, RETENTION.snapshotAfterDays)),
          `old events left for ${user}`,
        ).to.equal(true);
      }
      const actual = new Map((await stores.readModel.find(EPISODE_POPULARITY)).map(({ id, doc }) => [id, Number(doc['plays'])]));
      for (const [key, plays] of actual) if (plays === 0) actual.delete(key);
      expect(Object.fromEntries(actual)).to.deep.equal(Object.fromEntries(expected));
    }

    it('keeps the state, the read models and the popularity window exact through every pass', async () => {
      const workload = generateWorkload({
        events: 6_000,
        users: 8,
        feeds: 12,
        episodesPerFeed: 6,
        minFeedsPerUser: 2,
        maxFeedsPerUser: 5,
        maxBatch: 6,
        seed: 7,
      });
      const appends = [...workload];
      let passes = 0;
      let snapshotted = 0;
      for (const [index, append] of appends.entries()) {
        now = START + Math.floor((index / appends.length) * 100 * DAY);
        users.add(append.stream.slice(streams.userPrefix.length));
        await stores.eventStore.append(append.stream, append.events);
        if (index % 40 === 0) await projector.catchUp();
        // The job runs every 15 minutes; here, every ~5 simulated days.
        if (now - START >= (passes + 1) * 5 * DAY) {
          passes++;
          await projector.catchUp();
          const before = new Map<string, ReturnType<typeof stateOf>>();
          for (const user of users) before.set(user, stateOf(await readUser(user)));
          const summary = await retention.run(new Date(now));
          snapshotted += summary.usersSnapshotted;
          if (summary.usersConsidered > 0) expect(summary.snapshotThreads, 'threads that snapshotted').to.equal(mode === THREADS ? 2 : 0);
          for (const user of users) {
            // The state folded from the retained stream equals the state before (docs/design.md, "Retention").
            const after = stateOf(await readUser(user));
            const touched = (await readUser(user)).some((event) => event.type === 'checkpoint' && event.recordedAt.getTime() === now);
            expect(after, `state of ${user} after pass ${passes}`).to.deep.equal(
              touched ? checkpointState(before.get(user)!, new Date(now), RETENTION.forgetTombstonesAfterDays) : before.get(user),
            );
          }
          if (passes % 4 === 0) await checkInvariants(new Date(now));
          // Idempotent: the same pass again finds nothing to do.
          await projector.catchUp();
          const again = await retention.run(new Date(now));
          expect(again.usersSnapshotted, 'second pass at the same time').to.equal(0);
        }
      }
      await projector.catchUp();
      await retention.run(new Date(now));
      await checkInvariants(new Date(now));
      expect(passes).to.be.greaterThan(15);
      expect(snapshotted, 'users snapshotted over the run').to.be.greaterThan(8);
    });

    it('erases a scope for real: gone from the read models and from the database files', async () => {
      const user = [...users][0]!;
      const secretFeed = 'https://secret.example.com/very-private-feed.xml';
      const otherFeed = 'https://kept.example.com/feed.xml';
      const event = (type: 'subscribe' | 'remove', feed: string): UserEvent =>
        type === 'subscribe'
          ? { id: crypto.randomUUID(), user, timestamp: new Date(now).toISOString(), type, object: { rss_source_feed: feed }, data: {} }
          : { id: crypto.randomUUID(), user, timestamp: new Date(now).toISOString(), type, object: { rss_source_feed: feed }, data: {} };
      await stores.eventStore.append(streams.user(user), [toStoreEvent(event('subscribe', secretFeed)), toStoreEvent(event('subscribe', otherFeed))]);
      await projector.catchUp();
      await stores.eventStore.append(streams.user(user), [toStoreEvent(event('remove', secretFeed))]);
      await projector.catchUp();
      const erased = await retention.eraseScopes(user, new Date(now), { waitForProjections: true });
      expect(erased).to.be.greaterThan(1);
      await projector.catchUp();
      const state = stateOf(await readUser(user));
      expect(state.subscriptions).to.not.have.property(secretFeed);
      expect(state.subscriptions).to.have.property(otherFeed);
      expect(
        (await readUser(user)).some((stored) => JSON.stringify(stored.data).includes(secretFeed)),
        'the stream still shows the erased feed',
      ).to.equal(false);
      expect(
        (await readUser(user)).some((stored) => rewriteOrigin(stored.metadata) !== undefined),
        'copies in the stream',
      ).to.equal(mode === 'streams rewritten (EventStoreDB)');
      // Rewritten streams keep the erased rows, hidden by `$tb`, until EventStoreDB's scavenge.
      if (mode !== 'streams rewritten (EventStoreDB)') {
        for (const file of readdirSync(dataDir)) {
          expect(readFileSync(path.join(dataDir, file)).includes(secretFeed), `${file} still holds the erased feed`).to.equal(false);
        }
      }
      await checkInvariants(new Date(now));
    });

    it('rolls the feeds a truncation removes events of before it: a pass stopped midway leaves none unrolled', async () => {
      now += 20 * DAY;
      await projector.catchUp();
      const before = new Map<string, RecordedEvent[]>();
      for (const user of users) before.set(user, await readUser(user));
      let done = 0;
      const stopped = await retention
        .run(new Date(now), {
          onProgress: () => {
            if (++done === 3) throw new Error('stopped on purpose');
          },
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(String(stopped)).to.match(/stopped on purpose/);
      let truncated = 0;
      for (const user of users) {
        const kept = new Set((await readUser(user)).map((event) => event.id));
        const removed = before.get(user)!.filter((event) => !kept.has(event.id));
        if (removed.length === 0) continue;
        truncated++;
        for (const feed of new Set(removed.flatMap(feedOf))) {
          // Rolled in this pass, or no counted contribution left (no stats at all).
          const stats = await readStreamOrEmpty(stores.eventStore, podcastStatsStream(feed));
          expect(
            stats.length === 0 || stats.some((event) => event.type === 'roll_stats' && event.recordedAt.getTime() === now),
            `${feed} rolled before ${user}'s events went`,
          ).to.equal(true);
        }
      }
      // Truncated as they were snapshotted, before the pass stopped (the first mode truncates at its end).
      expect(truncated > 0, 'users truncated before the pass stopped').to.equal(mode !== 'rows deleted');
      // The next pass, once the projections have applied the checkpoints (the index then says
      // no event of those users is old), carries out what the stopped one left; read models
      // rebuilt then equal the live ones.
      await projector.catchUp();
      now += 15 * 60 * 1000;
      await retention.run(new Date(now));
      await checkInvariants(new Date(now));
    });
  });
