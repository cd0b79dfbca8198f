/**
 * Child processes of the rebuild benchmark (scripts/bench/rebuild.ts), so that each phase's
 * memory is its own:
 * - `fill <dataDir> <workload JSON>`: appends the workload to the embedded store through the
 *   port (generating a million events must not count in the rebuild's memory);
 * - `rebuild <dataDir> <options JSON>`: rebuilds every read model, logging progress on stderr.
 * Each prints one JSON line of figures on stdout.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { allProjections } from '../../projections/index.js';
import { rebuildProjections } from '../../src/projector/rebuild.js';
import { createLogger } from '../../src/logger.js';
import { openStores } from '../../src/runtime.js';
import { BULK_WRITE_CHECKPOINTS } from '../../src/stores/embedded/wal-checkpointer.js';
import { generateWorkload, type WorkloadOptions } from './workload.js';

export interface FillFigures {
  readonly seconds: number;
}

export interface RebuildFigures {
  readonly events: number;
  readonly seconds: number;
  /** User + system CPU time of the rebuild (less sensitive than wall time to a busy machine). */
  readonly cpuSeconds: number;
  readonly parked: number;
  /** Documents written (puts and deletes committed): what the raw ceiling writes as many of. */
  readonly documents: number;
  readonly rssMb: number;
}

export interface RebuildChildOptions {
  readonly batchSize?: number;
}

const mb = (bytes: number) => Math.round(bytes / 1_048_576);

/**
 * This process's peak RSS. On Linux, getrusage's maxrss (process.resourceUsage().maxRSS)
 * carries over the parent's RSS at fork time, so a child spawned by a big parent reports the
 * parent's size; /proc/self/status VmHWM is the high-water mark of this process's own memory.
 */
function peakRssMb(): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

async function fill(dataDir: string, workload: WorkloadOptions): Promise<FillFigures> {
  const stores = await openStores({ DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded' });
  try {
    const started = performance.now();
    for (const { stream, events } of generateWorkload(workload)) await stores.eventStore.append(stream, events);
    return { seconds: (performance.now() - started) / 1000 };
  } finally {
    await stores.close();
  }
}

async function rebuild(dataDir: string, options: RebuildChildOptions): Promise<RebuildFigures> {
  const stores = await openStores(
    { DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded' },
    { backgroundCheckpoints: BULK_WRITE_CHECKPOINTS, replaying: true },
  );
  try {
    const step = Number(process.env['BENCH_REPORT_EVERY'] ?? 100_000);
    let nextReport = step;
    const cpu = process.cpuUsage();
    const summary = await rebuildProjections(stores, allProjections, {
      context: { defaultPrivacy: 'private' },
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      // Warnings (a batch retried, a lease renewal that failed) show on stderr with the progress.
      logger: createLogger({ level: 'warn', format: 'pretty', destination: process.stderr }),
      onProgress: ({ events }) => {
        if (events < nextReport) return;
        nextReport += step;
        const memory = process.memoryUsage();
        console.error(`    ${events} events, rss ${mb(memory.rss)} MB (V8 heap ${mb(memory.heapTotal)} MB)`);
      },
    });
    const used = process.cpuUsage(cpu);
    return {
      events: summary.events,
      seconds: summary.seconds,
      cpuSeconds: (used.user + used.system) / 1e6,
      parked: summary.parked,
      documents: summary.documents,
      rssMb: peakRssMb(),
    };
  } finally {
    await stores.close();
  }
}

const [mode, dataDir, json] = process.argv.slice(2);
if ((mode !== 'fill' && mode !== 'rebuild') || !dataDir || !json) {
  console.error('usage: rebuild-child.ts fill|rebuild <dataDir> <options as JSON>');
  process.exit(2);
}
const figures = mode === 'fill' ? await fill(dataDir, JSON.parse(json) as WorkloadOptions) : await rebuild(dataDir, JSON.parse(json) as RebuildChildOptions);
console.log(JSON.stringify(figures));
