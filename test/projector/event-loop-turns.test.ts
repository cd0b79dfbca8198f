/**
 * On the HTTP thread the projector lets the event loop turn between projections within a batch
 * (requests wait less); on its own thread it does not (nothing there waits for it).
 */
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import { streams } from '../../src/domain/events.js';
import { silentLogger } from '../../src/logger.js';
import { Projector } from '../../src/projector/projector.js';
import { toStoreEvent } from '../../src/services/codec.js';
import { events, type Actor } from '../projections/harness.js';
import { memoryStores } from './support.js';

describe('projector turns of the event loop within a batch', function () {
  /** How many setImmediate turns ran while the projector processed one batch of a play. */
  async function turnsDuringBatch(yieldBetweenProjections: boolean | undefined): Promise<number> {
    const { eventStore, readModel, close } = memoryStores();
    try {
      const actor: Actor = { user: 'u1', username: 'listener1' };
      await eventStore.append(streams.user(actor.user), [toStoreEvent(events.play(actor, 'e1'), { username: actor.username })]);
      const batch = await eventStore.readAll();
      const projector = new Projector({
        eventStore,
        readModel,
        projections: allProjections,
        context: { defaultPrivacy: 'public' },
        logger: silentLogger(),
        owner: 'test',
        ...(yieldBetweenProjections === undefined ? {} : { yieldBetweenProjections }),
      });
      await projector.prepare();
      let turns = 0;
      let counting = true;
      const count = () => {
        if (!counting) return;
        turns++;
        setImmediate(count);
      };
      setImmediate(count);
      await projector.processBatch(batch);
      counting = false;
      expect(await readModel.count('play_statuses')).to.equal(1);
      return turns;
    } finally {
      await close();
    }
  }

  it('turns between projections on the main thread (the default here), and not when told not to (its own thread)', async function () {
    expect(await turnsDuringBatch(undefined)).to.be.at.least(allProjections.length - 1);
    expect(await turnsDuringBatch(true)).to.be.at.least(allProjections.length - 1);
    expect(await turnsDuringBatch(false)).to.equal(0);
  });
});
