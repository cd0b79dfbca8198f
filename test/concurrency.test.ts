/** Long work on the HTTP thread in slices (src/concurrency.ts): the same results, with turns of the event loop between slices. */
import { expect } from 'chai';
import { mapInSlices, mapPaced, runPaced } from '../src/concurrency.js';
import { finish } from '../src/domain/steps.js';
import { turnCounter } from './support/turns.js';

describe('work in slices', () => {
  it('mapPaced maps as map does, a turn of the loop after each 2,000 items', async () => {
    const items = Array.from({ length: 7_001 }, (_, n) => n);
    const counter = turnCounter();
    const mapped = await mapPaced(items, (n) => n * 2);
    expect(counter.stop()).to.be.at.least(3);
    expect(mapped).to.deep.equal(items.map((n) => n * 2));
    expect(await mapPaced([], (n: number) => n)).to.deep.equal([]);
  });

  it('runPaced gives what finish gives, a turn of the loop at each pause', async () => {
    function* steps(): Generator<void, number> {
      let sum = 0;
      for (let n = 1; n <= 5; n++) {
        sum += n;
        yield;
      }
      return sum;
    }
    const counter = turnCounter();
    expect(await runPaced(steps())).to.equal(finish(steps()));
    expect(counter.stop()).to.be.at.least(5);
  });

  it('mapInSlices awaits each slice together, in order, a turn of the loop between slices', async () => {
    const items = Array.from({ length: 250 }, (_, n) => n);
    let running = 0;
    let most = 0;
    const counter = turnCounter();
    const mapped = await mapInSlices(items, 100, async (n) => {
      most = Math.max(most, ++running);
      await Promise.resolve();
      running--;
      return n * 3;
    });
    expect(counter.stop()).to.be.at.least(2);
    expect(mapped).to.deep.equal(items.map((n) => n * 3));
    expect(most, 'a slice at a time').to.equal(100);
  });
});
