/**
 * Projection versions (src/projector/internal-collections.ts): documents built by another
 * version of a projection are dropped and rebuilt from the events before the projector goes on;
 * documents of the same version are kept; a store from before versions counts as version 1.
 */
import { expect } from 'chai';
import { Projector } from '../../src/projector/projector.js';
import { PROJECTION_VERSIONS } from '../../src/projector/internal-collections.js';
import { rebuildProjections } from '../../src/projector/rebuild.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { toStoreEvent } from '../../src/services/codec.js';
import { START } from '../../src/stores/event-store.js';
import type { Projection } from '../../projections/projection.js';
import { put } from '../../projections/projection.js';
import { capturingLogger } from '../support/logs.js';
import { type MemoryStores, withMemoryStores, subscribeEvent as subscribe } from './support.js';

const SHAPES = 'versioned_shapes';
const context = { defaultPrivacy: 'private' as const };

/**
 * Version 1 keeps a document per event; version 2 one per user, counting. Each notes the events
 * it was given (evolve may run more than once per event: projections/projection.ts, "the contract").
 */
function versioned(version: 1 | 2 | undefined): Projection & { readonly seen: Set<string> } {
  const projection = {
    name: 'versioned',
    ...(version === undefined ? {} : { version }),
    collections: [{ name: SHAPES, indexes: [] }],
    seen: new Set<string>(),
    evolve(projected: Parameters<Projection['evolve']>[0], view: Parameters<Projection['evolve']>[1]) {
      projection.seen.add(projected.event.id);
      if (version !== 2) return [put(SHAPES, `event-${projected.revision}-${projected.user}`, { user: projected.user })];
      const count = Number(view.get(SHAPES, projected.user)?.['events'] ?? 0);
      return [put(SHAPES, projected.user, { user: projected.user, events: count + 1 })];
    },
  };
  return projection;
}

describe('projection versions: a read model built by another version is rebuilt from the events', function () {
  this.timeout(20_000);

  async function project(stores: MemoryStores, projection: Projection, logger: Logger = silentLogger(), live = false) {
    const projector = new Projector({
      eventStore: stores.eventStore,
      readModel: stores.readModel,
      projections: [projection],
      context,
      logger,
      retryDelayMs: 1,
    });
    await projector.prepare();
    if (live) {
      // The service's path: leases, then the live loop, which follows `$all` to its head.
      projector.start();
      const head = await stores.eventStore.headPosition();
      for (let waited = 0; waited < 5000; waited += 10) {
        const checkpoint = await stores.readModel.getCheckpoint(projection.name);
        const built = await stores.readModel.get(PROJECTION_VERSIONS, projection.name);
        if (checkpoint && checkpoint.position.commit >= head.commit && built?.['version'] === (projection.version ?? 1)) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } else {
      await projector.acquireLeases();
      await projector.catchUp();
    }
    await projector.stop();
  }

  for (const live of [false, true]) {
    it(`a new version drops the old documents and rebuilds them, once${live ? ' (live loop)' : ' (catch-up)'}`, async () => {
      await withMemoryStores(async (stores) => {
        await stores.eventStore.append('user-alice', [toStoreEvent(subscribe('alice')), toStoreEvent(subscribe('alice'))]);
        await stores.eventStore.append('user-bob', [toStoreEvent(subscribe('bob'))]);
        await project(stores, versioned(1), silentLogger(), live);
        expect((await stores.readModel.find(SHAPES)).map(({ id }) => id)).to.have.members(['event-0-alice', 'event-1-alice', 'event-0-bob']);
        expect(await stores.readModel.get(PROJECTION_VERSIONS, 'versioned')).to.deep.equal({ version: 1 });

        const { logger, entries } = capturingLogger();
        const second = versioned(2);
        await project(stores, second, logger, live);
        expect(await stores.readModel.find(SHAPES)).to.deep.equal([
          { id: 'alice', doc: { user: 'alice', events: 2 } },
          { id: 'bob', doc: { user: 'bob', events: 1 } },
        ]);
        expect(second.seen.size).to.equal(3);
        expect(await stores.readModel.get(PROJECTION_VERSIONS, 'versioned')).to.deep.equal({ version: 2 });
        expect(entries.filter((entry) => entry['level'] === 'warn')).to.deep.include.members([
          {
            level: 'warn',
            message: 'read model built by another version of its projection: rebuilding it from the events',
            projection: 'versioned',
            built: 1,
            version: 2,
          },
        ]);

        // The same version again: nothing rebuilt, the next event projected on top.
        await stores.eventStore.append('user-bob', [toStoreEvent(subscribe('bob'))]);
        const third = versioned(2);
        await project(stores, third, silentLogger(), live);
        expect(third.seen.size).to.equal(1);
        expect(await stores.readModel.get(SHAPES, 'bob')).to.deep.equal({ user: 'bob', events: 2 });
      });
    });
  }

  it('a new version that no longer keeps a collection (retiredCollections) empties it with the rest', async () => {
    await withMemoryStores(async (stores) => {
      await stores.eventStore.append('user-alice', [toStoreEvent(subscribe('alice'))]);
      await project(stores, versioned(1));
      expect(await stores.readModel.count(SHAPES)).to.equal(1);
      const successor: Projection = {
        name: 'versioned',
        version: 2,
        collections: [{ name: 'successor_shapes', indexes: [] }],
        retiredCollections: [SHAPES],
        evolve: () => [],
      };
      await project(stores, successor);
      expect(await stores.readModel.count(SHAPES), 'the retired collection holds nothing').to.equal(0);
    });
  });

  it('declares the collections again after a reset (a MongoDB reset drops them, indexes and all)', async () => {
    await withMemoryStores(async (stores) => {
      await stores.eventStore.append('user-alice', [toStoreEvent(subscribe('alice'))]);
      await project(stores, versioned(1));
      const calls: string[] = [];
      const readModel = new Proxy(stores.readModel, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (property === 'reset') calls.push('reset');
            if (property === 'ensureCollections') calls.push(`ensure ${(args[0] as { name: string }[]).map(({ name }) => name).join(' ')}`);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      await project({ ...stores, readModel }, versioned(2));
      const everything = `ensure ${SHAPES} parked_events projection_versions projection_withdrawals`;
      expect(calls).to.deep.equal([everything, 'reset', everything]);
    });
  });

  it('documents from before versions were recorded count as version 1', async () => {
    await withMemoryStores(async (stores) => {
      await stores.eventStore.append('user-alice', [toStoreEvent(subscribe('alice'))]);
      await project(stores, versioned(undefined));
      // What a store written before versions holds: documents and a checkpoint, no version.
      await stores.readModel.commit(
        'versioned',
        [{ op: 'delete', collection: PROJECTION_VERSIONS, id: 'versioned' }],
        (await stores.readModel.getCheckpoint('versioned'))!.position,
      );

      const same = versioned(1);
      await project(stores, same);
      expect(same.seen.size).to.equal(0);
      expect(await stores.readModel.get(SHAPES, 'event-0-alice')).to.deep.equal({ user: 'alice' });

      await stores.readModel.commit(
        'versioned',
        [{ op: 'delete', collection: PROJECTION_VERSIONS, id: 'versioned' }],
        (await stores.readModel.getCheckpoint('versioned'))!.position,
      );
      const next = versioned(2);
      await project(stores, next);
      expect(next.seen.size).to.equal(1);
      expect(await stores.readModel.find(SHAPES)).to.deep.equal([{ id: 'alice', doc: { user: 'alice', events: 1 } }]);
    });
  });

  it('a projection that has built nothing records its version without a reset', async () => {
    await withMemoryStores(async (stores) => {
      await project(stores, versioned(2));
      expect(await stores.readModel.get(PROJECTION_VERSIONS, 'versioned')).to.deep.equal({ version: 2 });
      expect((await stores.readModel.getCheckpoint('versioned'))?.position).to.deep.equal(START);
    });
  });

  it('a rebuild (npm run replay) records the version it built', async () => {
    await withMemoryStores(async (stores) => {
      await stores.eventStore.append('user-alice', [toStoreEvent(subscribe('alice'))]);
      await project(stores, versioned(1));
      await rebuildProjections(stores, [versioned(2)], { context });
      expect(await stores.readModel.get(PROJECTION_VERSIONS, 'versioned')).to.deep.equal({ version: 2 });
      expect(await stores.readModel.find(SHAPES)).to.deep.equal([{ id: 'alice', doc: { user: 'alice', events: 1 } }]);
    });
  });
});
