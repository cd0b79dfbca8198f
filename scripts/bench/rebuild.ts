/**
 * Rebuild throughput: every read model rebuilt from a store of realistic listening events
 * (scripts/bench/workload.ts), through the same code as `npm run replay`
 * (src/projector/rebuild.ts), compared with the raw SQLite ceiling, measured in the same run:
 * the same event rows read with one plain prepared statement, and **the same number of
 * documents as the rebuild wrote** (its puts and deletes, after each batch merged the changes to
 * one document), each a JSON document upserted by id into a plain table, 500 events per
 * transaction. The ratio is what the projector, the projections and the read-model port cost
 * over the bare minimum of reading those events and writing that many documents.
 *
 * A second, stricter ceiling is printed too (`raw_one_doc_per_event_events_per_s`, and its ratio):
 * one document per event, as earlier runs measured. It bounds what any design writing ~4.75
 * documents per event could reach, rather than what this one's machinery costs.
 *
 * Phases run in their own processes (scripts/bench/rebuild-child.ts): the store is filled in
 * one, the rebuild runs in another, whose peak RSS is the figure reported, the raw ceilings run
 * here. The rebuild process gets a V8 old-space cap ({@link REBUILD_HEAP_MB}): its live heap is
 * a few tens of MB, but left alone V8 lets garbage pile up to several times that before
 * collecting, which says nothing about what a rebuild needs.
 *
 * Wall-clock rates on a shared machine move with the load; CPU-time figures are printed too.
 *
 * Run: `npm run bench -- rebuild` or `npx tsx scripts/bench/rebuild.ts`.
 * Tunables: BENCH_EVENTS (default 1000000; 50000 with BENCH_QUICK=1), BENCH_REBUILD_USERS
 * (10000), BENCH_REBUILD_FEEDS (5000), BENCH_REBUILD_BATCH (events per projector batch, default
 * the rebuild's), BENCH_KEEP=1 keeps the temporary directory (to profile a rebuild of the same
 * store again).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { EMBEDDED_FILE } from '../../src/runtime.js';
import { applyPragmas } from '../../src/stores/embedded/schema.js';
import type { BenchResult } from './append.js';
import type { FillFigures, RebuildChildOptions, RebuildFigures } from './rebuild-child.js';
import { DEFAULT_WORKLOAD, type WorkloadOptions } from './workload.js';
import { positiveIntegerFromEnv } from './env.js';
import { REPLAY_V8_FLAGS } from '../replay-flags.js';
import { formatRate } from './figures.js';

const RAW_TRANSACTION = 500;
/** V8 old-space cap of the rebuild process, in MB (see the header). */
const REBUILD_HEAP_MB = 96;
/**
 * 8 MB semi-spaces for the rebuild process, overriding the 64 MB that `npm run bench` sets in
 * NODE_OPTIONS for the service: with a batch being decided while the previous one is committed,
 * 16 MB ones measured 38 MB more RSS for the same time (200k events), 64 MB ones 80 MB more.
 */
const REBUILD_NODE_OPTIONS = [`--max-old-space-size=${REBUILD_HEAP_MB}`, '--max-semi-space-size=8', ...REPLAY_V8_FLAGS];
/**
 * glibc gives each thread that allocates its own malloc arena and keeps freed memory in it; the
 * rebuild has four (projector, commit thread, WAL checkpointer, V8's helpers). Two arenas: RSS
 * 17 MB lower on a 200k-event rebuild, time unchanged.
 */
const REBUILD_ENV = { MALLOC_ARENA_MAX: '2' };
const CHILD = fileURLToPath(new URL('./rebuild-child.ts', import.meta.url));

interface RebuildBenchConfig {
  readonly workload: WorkloadOptions;
  readonly batchSize: number | undefined;
  readonly keep: boolean;
}

export interface RawFigures {
  readonly seconds: number;
  readonly cpuSeconds: number;
}

export async function benchRebuild(log: (line: string) => void = console.log): Promise<BenchResult> {
  const config = readConfig();
  const directory = mkdtempSync(join(tmpdir(), 'podsync-bench-rebuild-'));
  try {
    const { workload } = config;
    log(`rebuild: ${workload.events} events, ${workload.users} users, ${workload.feeds} feeds (${workload.episodesPerFeed} episodes each)`);
    const filled = await runChild<FillFigures>('fill', directory, workload);
    log(`  store filled through the port in ${filled.seconds.toFixed(1)} s (${formatRate(workload.events / filled.seconds)} events/s)`);
    const options: RebuildChildOptions = config.batchSize === undefined ? {} : { batchSize: config.batchSize };
    const rebuilt = await runChild<RebuildFigures>('rebuild', directory, options, REBUILD_NODE_OPTIONS, REBUILD_ENV);
    const eventsPath = join(directory, EMBEDDED_FILE);
    const raw = timeRawCeiling(eventsPath, join(directory, 'raw.db'), rebuilt.documents / rebuilt.events);
    const rawOneDoc = timeRawCeiling(eventsPath, join(directory, 'raw-one.db'), 1);
    return report(log, rebuilt, raw, rawOneDoc, config.keep ? directory : undefined);
  } finally {
    if (!config.keep) rmSync(directory, { recursive: true, force: true });
  }
}

function report(log: (line: string) => void, rebuilt: RebuildFigures, raw: RawFigures, rawOneDoc: RawFigures, kept: string | undefined): BenchResult {
  const eventsPerSecond = rebuilt.events / rebuilt.seconds;
  const rawEventsPerSecond = rebuilt.events / raw.seconds;
  const rawOneDocEventsPerSecond = rebuilt.events / rawOneDoc.seconds;
  const ratio = eventsPerSecond / rawEventsPerSecond;
  const ratioOneDoc = eventsPerSecond / rawOneDocEventsPerSecond;
  const perEvent = rebuilt.documents / rebuilt.events;
  log(
    `  rebuild, all read models: ${formatRate(eventsPerSecond)} events/s (${rebuilt.seconds.toFixed(2)} s; CPU ${rebuilt.cpuSeconds.toFixed(1)} s), ${formatRate(rebuilt.documents)} documents written (${perEvent.toFixed(2)} per event)`,
  );
  log(
    `  raw SQLite ceiling:       ${formatRate(rawEventsPerSecond)} events/s (${raw.seconds.toFixed(2)} s; CPU ${raw.cpuSeconds.toFixed(1)} s), the same number of documents`,
  );
  log(`  ratio rebuild/raw:        ${ratio.toFixed(2)} (target >= 0.50); by CPU time ${(raw.cpuSeconds / rebuilt.cpuSeconds).toFixed(2)}`);
  log(
    `  stricter raw ceiling:     ${formatRate(rawOneDocEventsPerSecond)} events/s (${rawOneDoc.seconds.toFixed(2)} s), one document per event: ratio ${ratioOneDoc.toFixed(2)}`,
  );
  log(`  rebuild peak RSS:         ${rebuilt.rssMb.toFixed(0)} MB (target < 250; V8 old space capped at ${REBUILD_HEAP_MB} MB)`);
  if (rebuilt.parked > 0) log(`  WARNING: ${rebuilt.parked} events parked`);
  if (kept) log(`  kept ${kept}`);
  return {
    bench: 'rebuild',
    events_per_s: Math.round(eventsPerSecond),
    raw_events_per_s: Math.round(rawEventsPerSecond),
    ratio: Math.round(ratio * 100) / 100,
    rss_mb: Math.round(rebuilt.rssMb),
    documents_per_event: Math.round(perEvent * 100) / 100,
    raw_one_doc_per_event_events_per_s: Math.round(rawOneDocEventsPerSecond),
    ratio_one_doc_per_event: Math.round(ratioOneDoc * 100) / 100,
  };
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

/** Runs one phase in a child process; its progress goes to our stderr, its figures come back as JSON. */
function runChild<T>(
  mode: 'fill' | 'rebuild',
  directory: string,
  options: object,
  nodeOptions: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeOptions, '--import', 'tsx', CHILD, mode, directory, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`rebuild benchmark: the ${mode} phase failed (${signal ?? `exit code ${code}`})`));
      try {
        resolve(JSON.parse(output.trim().split('\n').at(-1) ?? '') as T);
      } catch {
        reject(new Error(`rebuild benchmark: the ${mode} phase printed no figures`));
      }
    });
  });
}

type EventRow = { position: number; stream: string; id: string; data: string; metadata: string };

/**
 * A ceiling: the same rows in `$all` order through one prepared statement, each parsed and
 * turned into `documentsPerEvent` JSON documents on average (spread evenly over the events),
 * upserted by a per-user-and-object id (as the per-user read models key theirs), 500 events per
 * transaction, with the store's connection settings. No port, no projector, no projection logic.
 */
export function timeRawCeiling(eventsPath: string, rawPath: string, documentsPerEvent: number): RawFigures {
  const source = new BetterSqlite3(eventsPath, { readonly: true });
  const target = new BetterSqlite3(rawPath);
  try {
    applyPragmas(source);
    applyPragmas(target);
    target.exec('CREATE TABLE docs (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID');
    const upsert = target.prepare('INSERT INTO docs (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc');
    const read = source.prepare(
      "SELECT e.position, s.name AS stream, e.id, e.data, e.metadata FROM events e CROSS JOIN streams s ON s.id = e.stream_id WHERE substr(s.name, 1, 5) = 'user-' ORDER BY e.position",
    );
    let owed = 0;
    const writeBatch = target.transaction((rows: EventRow[]) => {
      for (const row of rows) {
        const event = JSON.parse(row.data) as { object: { rss_source_feed?: string; rss_source_id?: string } | null };
        const key = `${row.stream}|${event.object?.rss_source_feed ?? ''}|${event.object?.rss_source_id ?? ''}`;
        const doc = JSON.stringify({ ...event, seq: row.position, metadata: JSON.parse(row.metadata) as unknown });
        owed += documentsPerEvent;
        for (let copy = 0; owed >= 1; copy++, owed--) upsert.run(copy === 0 ? key : `${key}|${copy}`, doc);
      }
    });
    const cpu = process.cpuUsage();
    const started = performance.now();
    let batch: EventRow[] = [];
    for (const row of read.iterate() as IterableIterator<EventRow>) {
      batch.push(row);
      if (batch.length === RAW_TRANSACTION) {
        writeBatch(batch);
        batch = [];
      }
    }
    writeBatch(batch);
    const used = process.cpuUsage(cpu);
    return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
  } finally {
    source.close();
    target.close();
  }
}

// Runnable on its own: the JSON summary is the last stdout line, for scripts that collect results.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchRebuild();
  console.log(JSON.stringify(result));
}
