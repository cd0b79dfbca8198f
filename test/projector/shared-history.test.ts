/**
 * A user's history (ProjectionView.history), read from their stream for a privacy change, is
 * read once per batch however many projections ask for it (public events and popularity both do).
 */
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import { streams } from '../../src/domain/events.js';
import { silentLogger } from '../../src/logger.js';
import { Projector } from '../../src/projector/projector.js';
import { toStoreEvent } from '../../src/services/codec.js';
import type { EventStore } from '../../src/stores/event-store.js';
import { events, FEED_A, type Actor } from '../projections/harness.js';
import { dumpDocs, expectSameDocs, foldInMemory, memoryReadModel, memoryStores } from './support.js';

const context = { defaultPrivacy: 'private' as const };

/** The store with its reads of `stream` counted. */
function countingStreamReads(store: EventStore, stream: string): { eventStore: EventStore; reads: () => number } {
  let reads = 0;
  const eventStore = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property !== 'readStream' || typeof value !== 'function')
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      return (name: string, ...rest: unknown[]) => {
        if (name === stream) reads++;
        return (value as (...a: unknown[]) => unknown).apply(target, [name, ...rest]);
      };
    },
  });
  return { eventStore, reads: () => reads };
}

describe('user histories in the projector', function () {
  it('are read once per batch for all the projections that re-evaluate a privacy change', async function () {
    const { eventStore: store, close } = memoryStores();
    const memory = memoryReadModel();
    try {
      const actor: Actor = { user: 'u1', username: 'listener1' };
      const history = [events.play(actor, 'e1'), events.save(actor, 'e2'), events.play(actor, 'e3', FEED_A), events.privacy(actor, 'public')];
      await store.append(
        streams.user(actor.user),
        history.map((event) => toStoreEvent(event, { username: actor.username })),
      );
      const counted = countingStreamReads(store, streams.user(actor.user));
      const projector = new Projector({
        eventStore: counted.eventStore,
        readModel: memory.readModel,
        projections: allProjections,
        context,
        logger: silentLogger(),
        owner: 'test',
      });
      expect(await projector.acquireLeases(false)).to.equal(true);
      try {
        await projector.prepare();
        expect(await projector.catchUp()).to.equal(history.length);
      } finally {
        await projector.stop();
      }
      // Public events and popularity both publish the plays retroactively…
      const docs = await dumpDocs(memory.readModel, allProjections);
      expect(docs['public_events']!.length).to.be.greaterThan(0);
      expect(docs['episode_popularity']!.length).to.be.greaterThan(0);
      expectSameDocs(docs, await foldInMemory(store, allProjections, context));
      // …from one read of the stream.
      expect(counted.reads()).to.equal(1);
    } finally {
      memory.close();
      await close();
    }
  });
});
