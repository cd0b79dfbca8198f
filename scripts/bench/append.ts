/**
 * Append throughput of the embedded event store, compared with the same rows inserted by hand
 * through better-sqlite3 (same table and indexes, same pragmas, one transaction per batch).
 * The ratio is the cost of the port: stream-state read, idempotency lookup, revision check,
 * stream update and the async call.
 *
 * Run: `npm run bench -- append` or `npx tsx scripts/bench/append.ts`.
 * Tunables: BENCH_EVENTS (default 200000; 20000 with BENCH_QUICK=1), BENCH_BATCH (default 50), BENCH_STREAMS (default 2000).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { SqliteEventStore } from '../../src/stores/embedded/index.js';
import { applyPragmas, createSchema } from '../../src/stores/embedded/schema.js';
import type { EventToAppend, ExpectedRevision, JsonObject } from '../../src/stores/event-store.js';
import { positiveIntegerFromEnv } from './env.js';
import { formatRate } from './figures.js';

interface AppendBenchConfig {
  readonly events: number;
  readonly batchSize: number;
  readonly streams: number;
}

/** One append call of the workload. */
interface Batch {
  readonly stream: string;
  readonly events: EventToAppend[];
}

export type BenchResult = Record<string, number | string>;

export async function benchAppend(log: (line: string) => void = console.log): Promise<BenchResult> {
  const config = readConfig();
  const batches = buildWorkload(config);
  const directory = mkdtempSync(join(tmpdir(), 'podsync-bench-append-'));
  try {
    log(`append: ${config.events} events, ${config.batchSize} per append, over ${config.streams} streams`);
    const portSeconds = await timePortAppends(join(directory, 'port.db'), batches);
    const rawSeconds = timeRawInserts(join(directory, 'raw.db'), batches);
    const eventsPerSecond = config.events / portSeconds;
    const rawEventsPerSecond = config.events / rawSeconds;
    const ratio = eventsPerSecond / rawEventsPerSecond;
    log(`  through the port:  ${formatRate(eventsPerSecond)} events/s (${portSeconds.toFixed(2)} s)`);
    log(`  raw better-sqlite3: ${formatRate(rawEventsPerSecond)} events/s (${rawSeconds.toFixed(2)} s)`);
    log(`  ratio port/raw:    ${ratio.toFixed(2)} (target >= 0.40)`);
    return {
      bench: 'append',
      events_per_s: Math.round(eventsPerSecond),
      raw_events_per_s: Math.round(rawEventsPerSecond),
      ratio: Math.round(ratio * 100) / 100,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function readConfig(): AppendBenchConfig {
  return {
    events: positiveIntegerFromEnv('BENCH_EVENTS', process.env['BENCH_QUICK'] === '1' ? 20_000 : 200_000),
    batchSize: positiveIntegerFromEnv('BENCH_BATCH', 50),
    streams: positiveIntegerFromEnv('BENCH_STREAMS', 2000),
  };
}

/**
 * Batches go round-robin over the streams, so with the defaults every stream is written twice and
 * half the appends take the existing-stream path (idempotency lookup, exact expected revision).
 * Built before timing so both contenders insert identical events.
 */
function buildWorkload(config: AppendBenchConfig): Batch[] {
  const batches: Batch[] = [];
  for (let made = 0, index = 0; made < config.events; index++) {
    const size = Math.min(config.batchSize, config.events - made);
    const user = index % config.streams;
    const events = Array.from({ length: size }, (_unused, n) => playEvent(user, made + n));
    batches.push({ stream: `user-${user}`, events });
    made += size;
  }
  return batches;
}

/** About 300 bytes of JSON, shaped like a real `play` event. */
function playEvent(user: number, sequence: number): EventToAppend {
  const feed = `https://feeds.example.com/podcast-${sequence % 500}/rss.xml`;
  const data: JsonObject = {
    timestamp: new Date(1_700_000_000_000 + sequence * 1000).toISOString(),
    user: String(user),
    object: { rss_source_feed: feed, rss_source_id: `episode-${sequence % 97}-guid` },
    data: {
      played: sequence % 3 === 0,
      position: sequence % 3600,
      rss_feed_title: `Podcast number ${sequence % 500}`,
      rss_item_title: `Episode ${sequence % 97}: a title of a typical length`,
      enclosure: { url: `https://cdn.example.com/${sequence % 97}.mp3`, duration: 3600, size: 52_428_800 },
    },
  };
  return { id: randomUUID(), type: 'play', data, metadata: { device: 'bench' } };
}

async function timePortAppends(path: string, batches: readonly Batch[]): Promise<number> {
  const store = SqliteEventStore.open(path);
  const lastRevisions = new Map<string, bigint>();
  try {
    const started = performance.now();
    for (const batch of batches) {
      const last = lastRevisions.get(batch.stream);
      const expectedRevision: ExpectedRevision = last === undefined ? 'no_stream' : last;
      const result = await store.append(batch.stream, batch.events, { expectedRevision });
      lastRevisions.set(batch.stream, result.nextRevision);
    }
    return (performance.now() - started) / 1000;
  } finally {
    await store.close();
  }
}

/** The floor: the same rows, the same schema and pragmas, nothing but the inserts. */
function timeRawInserts(path: string, batches: readonly Batch[]): number {
  const db = new BetterSqlite3(path);
  try {
    applyPragmas(db);
    createSchema(db);
    const insert = db.prepare('INSERT INTO events (stream_id, revision, id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    // A stream's row once, when it is new: its events' rows name it by number (schema.ts).
    const insertStream = db.prepare<[string], number>('INSERT INTO streams (name) VALUES (?) RETURNING id').pluck();
    const streams = new Map<string, { id: number; nextRevision: number }>();
    const insertBatch = db.transaction((batch: Batch) => {
      let stream = streams.get(batch.stream);
      if (stream === undefined) streams.set(batch.stream, (stream = { id: insertStream.get(batch.stream)!, nextRevision: 0 }));
      const recordedAt = Date.now();
      for (const event of batch.events) {
        insert.run(stream.id, stream.nextRevision++, event.id, event.type, JSON.stringify(event.data), JSON.stringify(event.metadata ?? {}), recordedAt);
      }
    });
    const started = performance.now();
    for (const batch of batches) insertBatch(batch);
    return (performance.now() - started) / 1000;
  } finally {
    db.close();
  }
}

// Runnable on its own: the JSON summary is the last stdout line, for scripts that collect results.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchAppend();
  console.log(JSON.stringify(result));
}
