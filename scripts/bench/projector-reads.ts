/**
 * The projector against a read model whose reads are round trips (MongoDB in production),
 * which these machines cannot run: the embedded read model with a fixed wait before each read
 * (`getMany`, `find`; reads issued together wait together, as a driver's connection pool lets
 * them). BENCH_EVENTS events (default 20,000; 4,000 with BENCH_QUICK=1) of the rebuild
 * benchmark's mix from BENCH_LIVE_USERS users (1,000) are projected twice by a live-like
 * projector (the service's batch size, cache and absence tracking), with its prefetch off
 * and on (src/projector/projector.ts, ProjectorOptions.prefetch), timing the catch-up and
 * counting the reads. Prints `reads_per_event_off/on` and `events_per_s_off/on`; the documents
 * of both runs are compared, and the benchmark fails if they differ.
 *
 * Run: `npm run bench -- projector-reads`. Tunables: BENCH_EVENTS, BENCH_LIVE_USERS,
 * BENCH_READ_LATENCY_MS (the wait per read, default 1: a round trip over a network; on one host
 * MongoDB answers in a few tenths of a millisecond, but Node's timers do not wait less than 1).
 */
import { isDeepStrictEqual } from 'node:util';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { allProjections } from '../../projections/index.js';
import { silentLogger } from '../../src/logger.js';
import { Projector } from '../../src/projector/projector.js';
import { SqliteEventStore } from '../../src/stores/embedded/sqlite-event-store.js';
import { SqliteReadModelStore } from '../../src/stores/embedded/sqlite-read-model.js';
import type { ReadModelStore, StoredDoc } from '../../src/stores/read-model.js';
import type { BenchResult } from './append.js';
import { positiveIntegerFromEnv } from './env.js';
import { formatRate } from './figures.js';
import { DEFAULT_WORKLOAD, generateWorkload } from './workload.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * `readModel` with its reads (`getMany`, `find`) counted, each after `latencyMs` (0: none), and
 * claiming `remoteReads` as asked (the projector prefetches by default when it is true).
 */
export function countingReads(
  readModel: ReadModelStore,
  options: { remoteReads: boolean; latencyMs?: number },
): { readModel: ReadModelStore; reads: () => number } {
  let reads = 0;
  const wrapped = new Proxy(readModel, {
    get(target, property, receiver) {
      if (property === 'remoteReads') return options.remoteReads;
      if (property === 'getMany' || property === 'find') {
        const read = Reflect.get(target, property, receiver) as (...args: unknown[]) => Promise<unknown>;
        return async (...args: unknown[]) => {
          reads++;
          if (options.latencyMs) await sleep(options.latencyMs);
          return read.apply(target, args);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { readModel: wrapped, reads: () => reads };
}

async function project(eventStore: SqliteEventStore, events: number, latencyMs: number, prefetch: boolean) {
  const database = new BetterSqlite3(':memory:');
  try {
    const store = new SqliteReadModelStore(database);
    const counted = countingReads(store, { remoteReads: true, latencyMs });
    const projector = new Projector({
      eventStore,
      readModel: counted.readModel,
      projections: allProjections,
      context: { defaultPrivacy: 'private' },
      logger: silentLogger(),
      owner: 'bench',
      prefetch,
    });
    if (!(await projector.acquireLeases(false))) throw new Error('the leases are free in a fresh store');
    try {
      await projector.prepare();
      const before = counted.reads();
      const started = performance.now();
      const projected = await projector.catchUp();
      const seconds = (performance.now() - started) / 1000;
      if (projected !== events) throw new Error(`projected ${projected} events of ${events}`);
      const docs: Record<string, StoredDoc[]> = {};
      for (const projection of allProjections)
        for (const { name } of projection.collections) docs[name] = (await store.find(name)).sort((a, b) => (a.id < b.id ? -1 : 1));
      return { seconds, reads: counted.reads() - before, docs, parked: projector.parkedCount };
    } finally {
      await projector.stop();
    }
  } finally {
    database.close();
  }
}

export async function benchProjectorReads(log: (line: string) => void = console.log): Promise<BenchResult> {
  const quick = process.env['BENCH_QUICK'] === '1';
  const events = positiveIntegerFromEnv('BENCH_EVENTS', quick ? 4_000 : 20_000);
  const users = positiveIntegerFromEnv('BENCH_LIVE_USERS', 1_000);
  const latencyMs = positiveIntegerFromEnv('BENCH_READ_LATENCY_MS', 1);
  log(`projector-reads: ${events} events from ${users} users, projected with ${latencyMs} ms before each read of the read model`);
  const eventStore = new SqliteEventStore({ path: ':memory:' });
  try {
    for (const { stream, events: batch } of generateWorkload({ ...DEFAULT_WORKLOAD, events, users })) await eventStore.append(stream, batch);
    const off = await project(eventStore, events, latencyMs, false);
    log(`  prefetch off: ${formatRate(off.reads)} reads (${(off.reads / events).toFixed(2)} per event), ${formatRate(events / off.seconds)} events/s`);
    const on = await project(eventStore, events, latencyMs, true);
    log(`  prefetch on:  ${formatRate(on.reads)} reads (${(on.reads / events).toFixed(2)} per event), ${formatRate(events / on.seconds)} events/s`);
    if (off.parked !== 0 || on.parked !== 0) throw new Error(`events parked: ${off.parked} without the prefetch, ${on.parked} with it`);
    if (!isDeepStrictEqual(off.docs, on.docs)) throw new Error('the prefetch changed documents');
    log('  documents: the same both ways');
    return {
      bench: 'projector-reads',
      events,
      latency_ms: latencyMs,
      reads_per_event_off: Math.round((off.reads / events) * 1000) / 1000,
      reads_per_event_on: Math.round((on.reads / events) * 1000) / 1000,
      events_per_s_off: Math.round(events / off.seconds),
      events_per_s_on: Math.round(events / on.seconds),
    };
  } finally {
    await eventStore.close();
  }
}
