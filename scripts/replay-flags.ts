/**
 * V8 flags for a rebuild process (`npm run replay` and the rebuild benchmark, which must measure
 * what operators run; package.json's `replay` script passes the same, test/ops checks they agree).
 *
 * `--single-threaded-gc`: a rebuild keeps a commit thread and a WAL checkpoint thread busy beside
 * the projector, and V8's parallel collector adds helper threads that fight them for the cores
 * (four on this 2-core machine, ~10 s of CPU on a 200k-event rebuild). Collected on the
 * projector's thread alone, garbage costs less CPU in all: measured on a kept 200k-event store,
 * CPU 54 -> 49 s, wall 34 -> 31 s (scripts/bench/rebuild.ts).
 */
export const REPLAY_V8_FLAGS = ['--single-threaded-gc'] as const;
