/**
 * Rebuild throughput: every read model rebuilt from a store of realistic listening events
 * (scripts/bench/workload.ts), through the same code as `npm run replay`
 * (src/projector/rebuild.ts), compared with the raw SQLite ceiling: the same event rows read
 * with one plain prepared statement, and as many JSON documents written (one per event,
 * upserted by id, one transaction per 500) into a plain table. The ratio is what the projector,
 * the projections and the read-model port cost over the bare minimum of reading events and
 * writing documents.
 *
 * Run: `npm run bench -- rebuild` or `npx tsx scripts/bench/rebuild.ts`.
 * Tunables: BENCH_EVENTS (default 1000000; 50000 with BENCH_QUICK=1), BENCH_REBUILD_USERS
 * (10000), BENCH_REBUILD_FEEDS (5000), BENCH_REBUILD_BATCH (events per projector batch, default
 * the rebuild's), BENCH_KEEP=1 keeps the temporary directory (to profile a rebuild of the same
 * store again).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { allProjections } from '../../projections/index.js';
import { rebuildProjections } from '../../src/projector/rebuild.js';
import { EMBEDDED_FILE, openStores, type Stores } from '../../src/runtime.js';
import { applyPragmas } from '../../src/stores/embedded/schema.js';
import type { BenchResult } from './append.js';
import { DEFAULT_WORKLOAD, generateWorkload, type WorkloadOptions } from './workload.js';

const RAW_TRANSACTION = 500;

interface RebuildBenchConfig {
  readonly workload: WorkloadOptions;
  readonly batchSize: number | undefined;
  readonly keep: boolean;
}

export async function benchRebuild(log: (line: string) => void = console.log): Promise<BenchResult> {
  const config = readConfig();
  const directory = mkdtempSync(join(tmpdir(), 'podsync-bench-rebuild-'));
  const storeConfig = { DATA_DIR: directory, STORE: 'embedded', READ_MODEL: 'embedded' } as const;
  try {
    const { workload } = config;
    log(`rebuild: ${workload.events} events, ${workload.users} users, ${workload.feeds} feeds (${workload.episodesPerFeed} episodes each)`);
    const stores = await openStores(storeConfig);
    let events: number;
    let seconds: number;
    try {
      const fillSeconds = await fillStore(stores, workload);
      log(`  store filled through the port in ${fillSeconds.toFixed(1)} s (${formatRate(workload.events / fillSeconds)} events/s)`);
      ({ events, seconds } = await timeRebuild(stores, config.batchSize, log));
    } finally {
      await stores.close();
    }
    const rawSeconds = timeRawCeiling(join(directory, EMBEDDED_FILE), join(directory, 'raw.db'));
    const eventsPerSecond = events / seconds;
    const rawEventsPerSecond = events / rawSeconds;
    const ratio = eventsPerSecond / rawEventsPerSecond;
    const rssMb = process.resourceUsage().maxRSS / 1024;
    log(`  rebuild, all read models: ${formatRate(eventsPerSecond)} events/s (${seconds.toFixed(2)} s)`);
    log(`  raw SQLite ceiling:       ${formatRate(rawEventsPerSecond)} events/s (${rawSeconds.toFixed(2)} s)`);
    log(`  ratio rebuild/raw:        ${ratio.toFixed(2)} (target >= 0.50)`);
    log(`  peak RSS:                 ${rssMb.toFixed(0)} MB (target < 250)`);
    if (config.keep) log(`  kept ${directory}`);
    return {
      bench: 'rebuild',
      events_per_s: Math.round(eventsPerSecond),
      raw_events_per_s: Math.round(rawEventsPerSecond),
      ratio: Math.round(ratio * 100) / 100,
      rss_mb: Math.round(rssMb),
    };
  } finally {
    if (!config.keep) rmSync(directory, { recursive: true, force: true });
  }
}

function readConfig(): RebuildBenchConfig {
  const batch = process.env['BENCH_REBUILD_BATCH'];
  return {
    workload: {
      ...DEFAULT_WORKLOAD,
      events: positiveIntegerFromEnv('BENCH_EVENTS', process.env['BENCH_QUICK'] === '1' ? 50_000 : DEFAULT_WORKLOAD.events),
      users: positiveIntegerFromEnv('BENCH_REBUILD_USERS', DEFAULT_WORKLOAD.users),
      feeds: positiveIntegerFromEnv('BENCH_REBUILD_FEEDS', DEFAULT_WORKLOAD.feeds),
    },
    batchSize: batch === undefined || batch === '' ? undefined : positiveIntegerFromEnv('BENCH_REBUILD_BATCH', 1),
    keep: process.env['BENCH_KEEP'] === '1',
  };
}

function positiveIntegerFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${text}"`);
  return value;
}

/** Appends the workload through the port, one append per user burst, as the service would. */
async function fillStore(stores: Stores, workload: WorkloadOptions): Promise<number> {
  const started = performance.now();
  for (const { stream, events } of generateWorkload(workload)) await stores.eventStore.append(stream, events);
  return (performance.now() - started) / 1000;
}

async function timeRebuild(stores: Stores, batchSize: number | undefined, log: (line: string) => void): Promise<{ events: number; seconds: number }> {
  let nextReport = 0;
  const summary = await rebuildProjections(stores, allProjections, {
    context: { defaultPrivacy: 'private' },
    ...(batchSize === undefined ? {} : { batchSize }),
    onProgress: ({ events }) => {
      if (events < nextReport) return;
      nextReport += 100_000;
      log(`    ${events} events, rss ${Math.round(process.memoryUsage.rss() / 1_048_576)} MB`);
    },
  });
  if (summary.parked > 0) log(`  WARNING: ${summary.parked} events parked`);
  return { events: summary.events, seconds: summary.seconds };
}

/**
 * The ceiling: the same rows in `$all` order through one prepared statement, each parsed and
 * turned into a JSON document upserted by a per-user-and-object id (as the per-user read
 * models key theirs), 500 per transaction. No port, no projector, no projection logic.
 */
function timeRawCeiling(eventsPath: string, rawPath: string): number {
  const source = new BetterSqlite3(eventsPath, { readonly: true });
  const target = new BetterSqlite3(rawPath);
  try {
    applyPragmas(target);
    target.exec('CREATE TABLE docs (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID');
    const upsert = target.prepare('INSERT INTO docs (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc');
    const read = source.prepare("SELECT position, stream, revision, id, type, data, metadata, recorded_at FROM events WHERE substr(stream, 1, 5) = 'user-' ORDER BY position");
    type Row = { position: number; stream: string; revision: number; id: string; type: string; data: string; metadata: string; recorded_at: number };
    const writeBatch = target.transaction((rows: Row[]) => {
      for (const row of rows) {
        const event = JSON.parse(row.data) as { object: { rss_source_feed?: string; rss_source_id?: string } | null };
        const key = `${row.stream}|${event.object?.rss_source_feed ?? ''}|${event.object?.rss_source_id ?? ''}`;
        upsert.run(key, JSON.stringify({ ...event, seq: row.position, metadata: JSON.parse(row.metadata) as unknown }));
      }
    });
    const started = performance.now();
    let batch: Row[] = [];
    for (const row of read.iterate() as IterableIterator<Row>) {
      batch.push(row);
      if (batch.length === RAW_TRANSACTION) {
        writeBatch(batch);
        batch = [];
      }
    }
    writeBatch(batch);
    return (performance.now() - started) / 1000;
  } finally {
    source.close();
    target.close();
  }
}

function formatRate(perSecond: number): string {
  return Math.round(perSecond).toLocaleString('en-US');
}

// Runnable on its own: the JSON summary is the last stdout line, for scripts that collect results.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchRebuild();
  console.log(JSON.stringify(result));
}
