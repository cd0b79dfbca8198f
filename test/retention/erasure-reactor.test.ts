/**
 * Erasure as a reactor (docs/design.md, "Erasure"; src/retention/erasure-reactor.ts):
 * - the request that appends a `remove` returns without erasing; the reactor erases shortly
 *   after, and its checkpoint says when;
 * - a reactor that stops without its checkpoint (a crash), before or after the erasure, is
 *   resumed by the next one from the stored checkpoint: the erasure is carried out, once;
 * - two reactors on one store: one erases, the other stands by until the lease is free.
 * Both ways of erasing (rows deleted; the EventStoreDB rewrite) go through the same reactor.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import type { UserEvent } from '../../src/domain/events.js';
import { streams } from '../../src/domain/events.js';
import { silentLogger } from '../../src/logger.js';
import { Projector } from '../../src/projector/projector.js';
import { ERASURE_REACTOR, ErasureReactor } from '../../src/retention/erasure-reactor.js';
import { createRetentionPass, RetentionService } from '../../src/retention/retention-service.js';
import type { Stores } from '../../src/runtime.js';
import { openStores } from '../../src/runtime.js';
import { toStoreEvent } from '../../src/services/codec.js';
import { ReadModelService } from '../../src/services/read-models.js';
import type { AllSubscription, EventStore, Position, SubscribeToAllOptions } from '../../src/stores/event-store.js';
import { comparePositions, readStreamOrEmpty } from '../../src/stores/event-store.js';
import { startTestService, type TestService } from '../support/service.js';

const FEED = 'https://erased.example.com/feed.xml';
const KEPT = 'https://kept.example.com/feed.xml';

const never = new Promise<never>(() => undefined);

describe('erasure as a reactor (docs/design.md, "Erasure")', function () {
  this.timeout(60_000);

  describe('in the service', () => {
    let service: TestService;
    beforeEach(async () => {
      service = await startTestService();
    });
    afterEach(async () => {
      await service.stop();
    });

    it('answers the request without erasing; the reactor erases shortly after, and its lag is reported', async () => {
      const user = await service.login();
      const post = (events: object[]) => service.http.post('/v1/events').set('Authorization', `Bearer ${user.token}`).send({ events });
      expect(
        (
          await post([
            { type: 'subscribe', timestamp: '2026-03-01T00:00:00Z', object: { rss_source_feed: FEED }, data: {} },
            { type: 'subscribe', timestamp: '2026-03-01T00:00:00Z', object: { rss_source_feed: KEPT }, data: {} },
          ])
        ).status,
      ).to.equal(201);
      // Held back, so what the request itself did can be seen.
      await service.erasure.stop();
      expect((await post([{ type: 'remove', timestamp: '2026-03-02T00:00:00Z', object: { rss_source_feed: FEED }, data: {} }])).status).to.equal(201);
      const stream = streams.user(user.userId);
      const before = await readStreamOrEmpty(service.stores.eventStore, stream);
      expect(before.map((event) => event.type)).to.deep.equal(['subscribe', 'subscribe', 'remove']);
      // What the client sees meanwhile: the read models have already dropped the scope.
      const subscriptions = await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${user.token}`);
      expect(subscriptions.body.subscriptions.map((s: { rss_source_feed: string }) => s.rss_source_feed)).to.deep.equal([KEPT]);

      service.erasure.start();
      await service.erased();
      const after = await readStreamOrEmpty(service.stores.eventStore, stream);
      expect(after.map((event) => event.type)).to.deep.equal(['subscribe', 'snapshot', 'checkpoint']);
      expect(JSON.stringify(after.map(({ data, metadata }) => ({ data, metadata })))).not.to.include(FEED);
      // The erasure appended `roll_stats` after the `remove`: the reactor's checkpoint passes them
      // at its next write (within a second), and then it reports no lag.
      await service.erased();
      const ready = await service.http.get('/readyz');
      expect(ready.status).to.equal(200);
      expect(ready.body.projections).to.have.property(ERASURE_REACTOR);
      expect(ready.body.projections[ERASURE_REACTOR].lag).to.equal(0);
    });
  });

  for (const mode of ['rows deleted', 'streams rewritten (EventStoreDB)'] as const) {
    describe(mode, () => {
      let dataDir: string;
      let stores: Stores;
      let projector: Projector;
      let retention: RetentionService;
      let readModels: ReadModelService;
      const reactors: ErasureReactor[] = [];

      beforeEach(async () => {
        dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-erasure-reactor-'));
        stores = await openStores({ DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded', EVENTSTORE_URL: undefined, MONGO_URL: undefined });
        projector = new Projector({
          eventStore: stores.eventStore,
          readModel: stores.readModel,
          projections: allProjections,
          context: { defaultPrivacy: 'private' },
          logger: silentLogger(),
        });
        await projector.prepare();
        projector.start();
        readModels = new ReadModelService(stores.eventStore, stores.readModel);
        const projections = projector.names;
        retention =
          mode === 'rows deleted'
            ? createRetentionPass(stores, { defaultPrivacy: 'private', logger: silentLogger(), projections })
            : new RetentionService({ eventStore: stores.eventStore, readModel: stores.readModel, readModels, projections, logger: silentLogger() });
      });
      afterEach(async () => {
        for (const reactor of reactors.splice(0)) await reactor.stop();
        await projector.stop();
        await stores.close();
        rmSync(dataDir, { recursive: true, force: true });
      });

      const reactor = (
        erase: (user: string, seen: Position) => Promise<number> = (user, seen) =>
          retention.eraseScopes(user, new Date(), { waitForProjections: false, upTo: seen }),
        eventStore: EventStore = stores.eventStore,
      ) => {
        const made = new ErasureReactor({
          eventStore,
          readModel: stores.readModel,
          readModels,
          projections: projector.names,
          erase,
          logger: silentLogger(),
          leaseTtlMs: 600,
        });
        reactors.push(made);
        return made;
      };
      const write = async (user: string, ...events: Omit<UserEvent, 'id' | 'user' | 'timestamp'>[]) => {
        const full = events.map((event) => ({ ...event, id: randomUUID(), user, timestamp: '2026-03-01T00:00:00.000Z' }) as UserEvent);
        return stores.eventStore.append(
          streams.user(user),
          full.map((event) => toStoreEvent(event, { username: user })),
        );
      };
      const history = async (user: string) => (await readStreamOrEmpty(stores.eventStore, streams.user(user))).map((event) => event.type);
      // Rows deleted, or copies of the kept events after the `$tb`: the stream reads the same.
      const erasedHistory = ['subscribe', 'snapshot', 'checkpoint'];
      const scoped = async (user: string) => {
        await write(
          user,
          { type: 'subscribe', object: { rss_source_feed: FEED }, data: {} },
          { type: 'subscribe', object: { rss_source_feed: KEPT }, data: {} },
        );
        return write(user, { type: 'remove', object: { rss_source_feed: FEED }, data: {} });
      };
      const storedCheckpoint = async () => (await stores.readModel.getCheckpoint(ERASURE_REACTOR))?.position;

      it('is handed only the removes, and its checkpoint passes every other event all the same', async () => {
        let handed = 0;
        // The store as the reactor sees it, counting what its subscriptions hand out.
        const counting: EventStore = Object.assign(Object.create(stores.eventStore) as EventStore, {
          subscribeToAll: (options?: SubscribeToAllOptions): AllSubscription => {
            const inner = stores.eventStore.subscribeToAll(options);
            const iterator = inner[Symbol.asyncIterator]();
            return {
              unsubscribe: () => inner.unsubscribe(),
              idlePosition: () => inner.idlePosition(),
              [Symbol.asyncIterator]: () => ({
                next: async () => {
                  const result = await iterator.next();
                  if (!result.done) handed++;
                  return result;
                },
                return: async () => (await iterator.return?.()) ?? { done: true as const, value: undefined },
              }),
            };
          },
        });
        const made = reactor(undefined, counting);
        made.start();
        for (let round = 0; round < 10; round++) {
          await write('cat', { type: 'subscribe', object: { rss_source_feed: `${KEPT}?${round}` }, data: {} });
        }
        const { position } = await scoped('cat');
        expect(await made.waitFor(position), 'past the remove').to.equal(true);
        expect(await history('cat')).to.include('snapshot');
        // The erasure's own events (roll_stats) and a later write: read, never handed out.
        await write('dan', { type: 'subscribe', object: { rss_source_feed: KEPT }, data: {} });
        expect(await made.waitFor(await stores.eventStore.headPosition())).to.equal(true);
        expect(handed, 'events handed to the reactor').to.equal(1);
      });

      it('resumes after a crash before the erasure: the next reactor erases from the stored checkpoint', async () => {
        let reached!: () => void;
        const started = new Promise<void>((resolve) => (reached = resolve));
        const first = reactor(async () => {
          reached();
          return never;
        });
        first.start();
        const { position } = await scoped('ann');
        await started;
        await first.kill();
        expect(await history('ann')).to.deep.equal(['subscribe', 'subscribe', 'remove']);
        const stored = await storedCheckpoint();
        expect(stored === undefined || comparePositions(stored, position) < 0, 'no checkpoint past the remove').to.equal(true);

        const second = reactor();
        second.start();
        expect(await second.waitFor(position), 'the next reactor got past the remove').to.equal(true);
        expect(await history('ann')).to.deep.equal(erasedHistory);
      });

      it('resumes after a crash between the erasure and its checkpoint: the erasure is not done twice', async () => {
        let erasures = 0;
        let reached!: () => void;
        const erased = new Promise<void>((resolve) => (reached = resolve));
        const first = reactor(async (user, seen) => {
          erasures += await retention.eraseScopes(user, new Date(), { waitForProjections: false, upTo: seen });
          reached();
          return never;
        });
        first.start();
        const { position } = await scoped('bob');
        await erased;
        await first.kill();
        expect(await history('bob')).to.deep.equal(erasedHistory);
        expect(erasures).to.equal(2);

        let again = 0;
        const second = reactor(async (user, seen) => (again += await retention.eraseScopes(user, new Date(), { waitForProjections: false, upTo: seen })));
        second.start();
        expect(await second.waitFor(position)).to.equal(true);
        expect(again, 'nothing left to erase').to.equal(0);
        expect(await history('bob')).to.deep.equal(erasedHistory);
      });

      it('keeps going when the lease store fails to answer (say SQLITE_BUSY): it retries and erases', async () => {
        let failures = 2;
        const flaky = Object.create(stores.readModel) as typeof stores.readModel;
        flaky.tryAcquireLeases = async (...args) => {
          if (failures-- > 0) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
          return stores.readModel.tryAcquireLeases(...args);
        };
        const made = new ErasureReactor({
          eventStore: stores.eventStore,
          readModel: flaky,
          readModels,
          projections: projector.names,
          erase: (user, seen) => retention.eraseScopes(user, new Date(), { waitForProjections: false, upTo: seen }),
          logger: silentLogger(),
          leaseTtlMs: 600,
        });
        reactors.push(made);
        made.start();
        const { position } = await scoped('gus');
        expect(await made.waitFor(position), 'the reactor got past the remove').to.equal(true);
        expect(failures, 'both failures were seen').to.be.below(0);
        expect(await history('gus')).to.deep.equal(erasedHistory);
      });

      it('runs one reactor at a time on a store (the lease); the other takes over once it is free', async () => {
        const erasedBy = new Map<string, string[]>();
        const counting = (name: string) => async (user: string, seen: Position) => {
          erasedBy.set(name, [...(erasedBy.get(name) ?? []), user]);
          return retention.eraseScopes(user, new Date(), { waitForProjections: false, upTo: seen });
        };
        const one = reactor(counting('one'));
        const two = reactor(counting('two'));
        one.start();
        two.start();
        await scoped('cat');
        await scoped('dan');
        const { position } = await scoped('eve');
        expect(await one.waitFor(position)).to.equal(true);
        expect([...erasedBy.keys()], 'one reactor erased everything').to.have.length(1);
        expect([...erasedBy.values()][0]).to.have.members(['cat', 'dan', 'eve']);
        const [active] = [...erasedBy.keys()];

        await (active === 'one' ? one : two).stop();
        const later = await scoped('fay');
        const standby = active === 'one' ? two : one;
        expect(await standby.waitFor(later.position)).to.equal(true);
        expect(erasedBy.get(active === 'one' ? 'two' : 'one')).to.deep.equal(['fay']);
        expect(await history('fay')).to.deep.equal(erasedHistory);
      });
    });
  }
});
