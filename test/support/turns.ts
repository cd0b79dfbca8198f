/**
 * Counts the turns of the event loop while work runs: a test that long work is done in slices
 * asserts that other work (this counter) ran in between.
 */
export function turnCounter(): { stop: () => number } {
  let turns = 0;
  let ticking = true;
  const tick = () => {
    turns++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop: () => {
      ticking = false;
      return turns;
    },
  };
}
