/**
 * Benchmark dispatcher: `npm run bench -- <name>`. Each benchmark prints human-readable figures
 * and returns a summary, printed here as the last stdout line (JSON) for scripts to collect.
 * With no name, every benchmark runs, each in its own process, into bench/RESULTS.md.
 */
import { benchAppend, type BenchResult } from './append.js';
import { benchRebuild } from './rebuild.js';
import { benchLoad } from './load.js';
import { runAll } from './run-all.js';
import { benchGpodder } from './gpodder.js';
import { benchRetention } from './retention.js';
import { benchSync } from './sync.js';
import { benchProjectLive } from './project-live.js';
import { benchProjectorReads } from './projector-reads.js';
import { benchFeeds } from './feeds.js';
import { benchSoak } from './soak.js';

const BENCHMARKS: Readonly<Record<string, () => Promise<BenchResult>>> = {
  append: () => benchAppend(),
  rebuild: () => benchRebuild(),
  load: () => benchLoad(),
  gpodder: () => benchGpodder(),
  retention: () => benchRetention(),
  sync: () => benchSync(),
  'project-live': () => benchProjectLive(),
  'projector-reads': () => benchProjectorReads(),
  feeds: () => benchFeeds(),
};

/** Benchmarks run only by name: too long for the full run. */
const ON_REQUEST: Readonly<Record<string, () => Promise<BenchResult>>> = {
  soak: () => benchSoak(),
};

async function main(argv: readonly string[]): Promise<number> {
  const name = argv[0];
  if (name === undefined) return runAll(Object.keys(BENCHMARKS));
  // hasOwn, so names like "constructor" do not reach Object.prototype.
  const bench = Object.hasOwn(BENCHMARKS, name) ? BENCHMARKS[name] : Object.hasOwn(ON_REQUEST, name) ? ON_REQUEST[name] : undefined;
  if (!bench) {
    const known = [...Object.keys(BENCHMARKS), ...Object.keys(ON_REQUEST)].join(', ');
    console.error(name === undefined ? `usage: npm run bench -- <name>; benchmarks: ${known}` : `unknown benchmark "${name}"; benchmarks: ${known}`);
    return 2;
  }
  const result = await bench();
  console.log(JSON.stringify(result));
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
