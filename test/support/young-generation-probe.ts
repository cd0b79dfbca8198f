/**
 * Run by test/worker-started.test.ts in a process started with `--max-semi-space-size=64`, as
 * `npm start` starts the service: prints the new space each thread grew to while making garbage,
 * in MB, for the main thread and for workers made with and without `createWorker`.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { createWorker } from '../../src/worker-started.js';

// Enough short-lived garbage for a young generation to grow to its largest.
const CHURN = `
const garbage = [];
for (let n = 0; n < 4e6; n++) {
  garbage.push({ n });
  if (garbage.length > 1e5) garbage.length = 0;
}
`;
const REPORT = `require('node:worker_threads').parentPort.postMessage(
  require('node:v8').getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size / 1048576,
);`;

function newSpaceMb(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_size / 1048576;
}

function measure(make: (source: string, options: WorkerOptions) => Worker, options: WorkerOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = make(CHURN + REPORT, { ...options, eval: true });
    worker.once('message', (mb: number) => void worker.terminate().then(() => resolve(mb)));
    worker.once('error', reject);
  });
}

new Function(CHURN)();
const limited = { resourceLimits: { maxYoungGenerationSizeMb: 24 } };
// Workers made directly first: createWorker changes what later isolates get.
const direct = await measure((source, options) => new Worker(source, options));
const directLimited = await measure((source, options) => new Worker(source, options), limited);
const created = await measure(createWorker);
const createdLimited = await measure(createWorker, limited);
console.log(JSON.stringify({ main: newSpaceMb(), direct, directLimited, created, createdLimited }));
