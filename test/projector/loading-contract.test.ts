/**
 * The projection contract (projections/projection.ts): a view answers "not loaded yet" as it
 * answers "absent" (`get` undefined, `find` []), and the runtime runs `evolve` again once it has
 * loaded what was asked for. So an `evolve` that throws on an absent document is not parked for
 * a document that exists but was not loaded yet: the runtime loads what is missing before it
 * parks an event.
 */
import { expect } from 'chai';
import { Projector } from '../../src/projector/projector.js';
import { PARKED_EVENTS } from '../../src/projector/internal-collections.js';
import { silentLogger } from '../../src/logger.js';
import { toStoreEvent } from '../../src/services/codec.js';
import type { Projection } from '../../projections/projection.js';
import { put } from '../../projections/projection.js';
import { memoryStores, subscribeEvent as subscribe } from './support.js';

const COUNTERS = 'loading_contract_counters';
const context = { defaultPrivacy: 'private' as const };

/** Counts a user's events; from the second on, the count must exist (it throws otherwise). */
const counting: Projection = {
  name: 'loading_contract',
  collections: [{ name: COUNTERS, indexes: [['user']] }],
  evolve(projected, view) {
    const doc = view.get(COUNTERS, projected.user);
    const found = view.find(COUNTERS, { where: { user: projected.user } });
    if (projected.revision > 0 && (doc === undefined || found.length !== 1)) throw new Error('the count must exist by now');
    return [put(COUNTERS, projected.user, { user: projected.user, n: Number(doc?.['n'] ?? 0) + 1 })];
  },
};

describe('projection contract: not loaded yet reads as absent, and is loaded before an event is parked', function () {
  this.timeout(20_000);

  for (const pipeline of [false, true]) {
    it(`an evolve that throws on a document not loaded yet is run again once it is loaded, not parked${pipeline ? ' (pipelined catch-up)' : ''}`, async () => {
      const { eventStore, readModel, close } = memoryStores();
      const run = async () => {
        // A new projector: its view has nothing loaded.
        const projector = new Projector({ eventStore, readModel, projections: [counting], context, logger: silentLogger(), pipeline, retryDelayMs: 1 });
        await projector.prepare();
        await projector.acquireLeases();
        await projector.catchUp();
        await projector.stop();
      };
      try {
        await eventStore.append('user-alice', [toStoreEvent(subscribe('alice'))]);
        await run();
        await eventStore.append('user-alice', [toStoreEvent(subscribe('alice'))]);
        await run();
        expect(await readModel.find(PARKED_EVENTS)).to.deep.equal([]);
        expect((await readModel.get(COUNTERS, 'alice'))?.['n']).to.equal(2);
      } finally {
        await close();
      }
    });
  }

  it('an evolve that throws with everything loaded is parked', async () => {
    const { eventStore, readModel, close } = memoryStores();
    try {
      // The second event finds no count: this projection does not count the first.
      await eventStore.append('user-bob', [toStoreEvent(subscribe('bob')), toStoreEvent(subscribe('bob'))]);
      const projector = new Projector({
        eventStore,
        readModel,
        projections: [{ ...counting, evolve: (projected, view, ctx) => (projected.revision === 0 ? [] : counting.evolve(projected, view, ctx)) }],
        context,
        logger: silentLogger(),
        retryDelayMs: 1,
      });
      await projector.prepare();
      await projector.acquireLeases();
      await projector.catchUp();
      await projector.stop();
      const parked = await readModel.find(PARKED_EVENTS);
      expect(parked.map(({ doc }) => [doc['stream'], doc['revision']])).to.deep.equal([['user-bob', '1']]);
      expect(String(parked[0]!.doc['error'])).to.match(/must exist/);
    } finally {
      await close();
    }
  });
});
