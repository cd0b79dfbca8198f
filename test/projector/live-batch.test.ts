/**
 * A live batch takes the burst that is already read (up to its size), waits a short delay for
 * more after a lone event, hands the read still pending to the next batch, and leaves no timer
 * behind it.
 */
import { expect } from 'chai';
import type { PendingRead } from '../../src/projector/live-batch.js';
import { fillBatch, NOTHING_YET, WatchedRead } from '../../src/projector/live-batch.js';
import type { RecordedEvent } from '../../src/stores/event-store.js';

const recorded = (n: number): RecordedEvent => ({ id: `e${n}` }) as unknown as RecordedEvent;

/** An iterator over events that arrive when `arrive` is called (or at once for those given). */
function feed(ready: number) {
  let next = ready;
  const waiting: ((result: IteratorResult<RecordedEvent>) => void)[] = [];
  const queued = Array.from({ length: ready }, (_, index) => recorded(index));
  let reads = 0;
  const iterator: AsyncIterator<RecordedEvent> = {
    next() {
      reads += 1;
      const value = queued.shift();
      if (value !== undefined) return Promise.resolve({ done: false, value });
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
  return {
    iterator,
    reads: () => reads,
    /** The first event, read as the projector reads it before it fills a batch. */
    async first(): Promise<RecordedEvent> {
      return ((await iterator.next()) as IteratorYieldResult<RecordedEvent>).value;
    },
    arrive() {
      const event = recorded(next++);
      const resolve = waiting.shift();
      if (resolve) resolve({ done: false, value: event });
      else queued.push(event);
    },
  };
}

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('live batches (fillBatch)', function () {
  it('takes a burst already read, up to its size, and leaves the read after it pending', async function () {
    const source = feed(10);
    const batch = await fillBatch(await source.first(), source.iterator, { size: 4, delayMs: 1000 });
    expect(batch.events.map(({ id }) => id)).to.deep.equal(['e0', 'e1', 'e2', 'e3']);
    // The next batch starts with the event that read was for, none skipped or read twice.
    const after = await batch.pending;
    expect(after.done ? undefined : after.value.id).to.equal('e4');
  });

  it('ends at the delay when no more come, and takes those that come within it', async function () {
    const source = feed(1);
    const first = await source.first();
    const started = Date.now();
    const filling = fillBatch(first, source.iterator, { size: 100, delayMs: 40 });
    setTimeout(() => source.arrive(), 5);
    const batch = await filling;
    expect(batch.events.map(({ id }) => id)).to.deep.equal(['e0', 'e1']);
    expect(Date.now() - started).to.be.at.least(35);
    // The event that comes later belongs to the next batch, through the read left pending.
    source.arrive();
    const after = await batch.pending;
    expect(after.done ? undefined : after.value.id).to.equal('e2');
  });

  it('leaves no timer pending after a batch of events already read', async function () {
    const source = feed(600);
    const first = await source.first();
    // Counted once the test runs (mocha arms its own timeout after calling the test).
    const before = timers();
    const batch = await fillBatch(first, source.iterator, { size: 500, delayMs: 60_000 });
    expect(batch.events).to.have.length(500);
    expect(timers()).to.equal(before);
  });

  it('with no delay, is the first event alone', async function () {
    const source = feed(5);
    const batch = await fillBatch(await source.first(), source.iterator, { size: 100, delayMs: 0 });
    expect(batch.events.map(({ id }) => id)).to.deep.equal(['e0']);
    expect(source.reads()).to.equal(2);
  });

  it('waits for a first event only as long as asked, and leaves no timer once it came', async function () {
    const source = feed(0);
    // The read stays pending across waits, as the erasure reactor keeps it.
    const read = new WatchedRead(source.iterator.next());
    const started = Date.now();
    expect(await read.within(30)).to.equal(NOTHING_YET);
    expect(Date.now() - started).to.be.at.least(25);
    const before = timers();
    setTimeout(() => source.arrive(), 5);
    const next = await read.within(60_000);
    expect(next !== NOTHING_YET && !next.done ? next.value.id : undefined).to.equal('e0');
    expect(timers()).to.equal(before);
    expect(await read.within(0), 'once come, it stays the answer').to.equal(next);
  });

  it('attaches to a read that stays pending once, however often it waits for it (a race each time kept a reaction each time)', async function () {
    let attached = 0;
    const never = new Promise<IteratorResult<RecordedEvent>>(() => undefined);
    const counted = { then: (...handlers: Parameters<PendingRead['then']>) => (attached++, never.then(...handlers)) } as unknown as PendingRead;
    const read = new WatchedRead(counted);
    for (let look = 0; look < 50; look++) expect(await read.within(0)).to.equal(NOTHING_YET);
    expect(attached).to.equal(1);
  });

  it("hands on the read's failure", async function () {
    const read = new WatchedRead(Promise.reject(new Error('store gone')));
    let failed: unknown;
    await read.within(1_000).catch((error: unknown) => (failed = error));
    expect((failed as Error).message).to.equal('store gone');
  });
});
