/**
 * Long pure computations written as generators that pause (`yield`) between steps, so that a
 * caller on the HTTP thread can serve other requests in between (src/concurrency.ts,
 * `runPaced`) while any other caller runs them straight through ({@link finish}).
 */
export type Steps<T> = Generator<void, T>;

/** Runs `steps` to its end at once. */
export function finish<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}
