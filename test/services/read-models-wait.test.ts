/** ReadModelService.waitFor: read-your-writes waits share one loop of checkpoint reads. */
import { expect } from 'chai';
import { ReadModelService } from '../../src/services/read-models.js';
import type { EventStore, Position } from '../../src/stores/event-store.js';
import type { Checkpoint, ReadModelStore } from '../../src/stores/read-model.js';

const at = (commit: number): Position => ({ commit: BigInt(commit), prepare: BigInt(commit) });

/** A read model whose checkpoints the test moves, counting the reads. */
function fakeReadModel() {
  const positions = new Map<string, number>();
  const state = { reads: 0, failing: false };
  const readModel = {
    async getCheckpoint(name: string): Promise<Checkpoint | undefined> {
      state.reads++;
      if (state.failing) throw new Error('store closed');
      const commit = positions.get(name);
      return commit === undefined ? undefined : { position: at(commit), updatedAt: new Date().toISOString() };
    },
  } as unknown as ReadModelStore;
  return { readModel, positions, state };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ReadModelService.waitFor (read-your-writes waits)', () => {
  it('answers hundreds of waiting reads from one loop of checkpoint reads, each once its projections reached its position', async () => {
    const { readModel, positions, state } = fakeReadModel();
    const service = new ReadModelService({} as EventStore, readModel);
    const waits = Array.from({ length: 300 }, (_, n) => service.waitFor(['a', 'b'], at(n + 1), 5_000));
    for (let commit = 0; commit <= 300; commit += 50) {
      positions.set('a', commit);
      positions.set('b', commit);
      await sleep(10);
    }
    expect(await Promise.all(waits)).to.deep.equal(waits.map(() => true));
    // Each read checks once on its own (2 checkpoints); then one round reads each projection
    // once, whatever the number of waiting reads (the test takes some 15 rounds).
    expect(state.reads).to.be.below(300 * 2 + 2 * 100);
  });

  it('reads the checkpoints of a wait at once, not one after another (against MongoDB each is a round trip)', async () => {
    const state = { inFlight: 0, most: 0 };
    const readModel = {
      async getCheckpoint(): Promise<Checkpoint | undefined> {
        state.inFlight++;
        state.most = Math.max(state.most, state.inFlight);
        await sleep(5);
        state.inFlight--;
        return { position: at(9), updatedAt: new Date().toISOString() };
      },
    } as unknown as ReadModelStore;
    const names = Array.from({ length: 10 }, (_, n) => `p${n}`);
    expect(await new ReadModelService({} as EventStore, readModel).waitFor([...names, 'p0'], at(9), 1000)).to.equal(true);
    // Each name once (p0 is asked twice), all in flight together.
    expect(state.most).to.equal(names.length);
  });

  it('answers false once the bound ran out, and true at once for a position already reached', async () => {
    const { readModel, positions } = fakeReadModel();
    const service = new ReadModelService({} as EventStore, readModel);
    positions.set('a', 5);
    expect(await service.waitFor(['a'], at(5), 0)).to.equal(true);
    const started = Date.now();
    expect(await service.waitFor(['a'], at(6), 40)).to.equal(false);
    expect(Date.now() - started).to.be.at.least(39);
    const lagging = service.waitFor(['a', 'b'], at(6), 1000);
    positions.set('a', 7);
    await sleep(20);
    positions.set('b', 6);
    expect(await lagging).to.equal(true);
  });

  it("a store that fails while reads wait fails them with the store's error", async () => {
    const { readModel, state } = fakeReadModel();
    const service = new ReadModelService({} as EventStore, readModel);
    const waiting = service.waitFor(['a'], at(1), 1000);
    state.failing = true;
    let failure: unknown;
    await waiting.catch((error: unknown) => (failure = error));
    expect((failure as Error).message).to.equal('store closed');
    // The loop ended: a later wait starts it again.
    state.failing = false;
    const later = service.waitFor(['a'], at(1), 20);
    expect(await later).to.equal(false);
  });
});

describe('ReadModelService.checkpointThisTurn (checkpoints a turn of reads shares)', () => {
  it('reads each checkpoint once in a turn of the event loop, and again in the next', async () => {
    const { readModel, positions, state } = fakeReadModel();
    const service = new ReadModelService({} as EventStore, readModel);
    positions.set('a', 5);
    positions.set('b', 7);
    const firstTurn = await Promise.all([1, 2, 3].flatMap(() => [service.checkpointThisTurn('a'), service.checkpointThisTurn('b')]));
    expect(firstTurn.map((checkpoint) => checkpoint?.position.commit)).to.deep.equal([5n, 7n, 5n, 7n, 5n, 7n]);
    expect(state.reads).to.equal(2);
    positions.set('a', 9);
    expect((await service.checkpointThisTurn('a'))?.position.commit, 'later in the same turn: as first read').to.equal(5n);
    await new Promise((resolve) => setImmediate(resolve));
    expect((await service.checkpointThisTurn('a'))?.position.commit, 'the next turn reads again').to.equal(9n);
    expect(state.reads).to.equal(3);
  });
});
