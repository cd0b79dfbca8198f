/**
 * One retention pass (docs/design.md, "Retention") over a realistic store: 10,000 users × 200 events recorded over
 * 100 days (the shared listening workload, scripts/bench/workload.ts, written through the
 * embedded store with an injected clock), read models projected, then one pass as of day 100,
 * timed. About 55 of the 100 days are past the 45-day mark, so every user with any event before
 * day 55 is snapshotted and loses the events before day 69 (31 days).
 *
 * Only the pass is timed (target < 30 s, issue 17), all of it: finding the users (retention index),
 * carrying out pending erasures, reading and folding each stream and appending its snapshot and
 * checkpoint, one `roll_stats` per feed, the truncations with the physical deletion of the rows
 * and the final WAL checkpoint — `RetentionService.run` from call to return. Not timed: filling
 * and projecting the store before (about 6 and 30 minutes for the full size on a shared 2-core
 * machine; the store grows to ~7 GB), nor projecting what the pass appended (its checkpoints and
 * `roll_stats`), which the projector does afterwards: BENCH_RETENTION_PROJECT=1 times that too
 * (`projection_seconds`), separately. The store is opened as the service (which runs the pass
 * every 15 minutes) opens it, with SQLite's WAL checkpoints on a worker thread
 * (src/stores/embedded/wal-checkpointer.ts); `cpu_seconds` is the process's CPU time during the
 * pass, that thread's included, which other work on a shared machine inflates less than wall
 * time.
 *
 * Run: `npm run bench -- retention` or `npx tsx scripts/bench/retention.ts`.
 * Tunables: BENCH_RETENTION_USERS (default 10000; 1000 with BENCH_QUICK=1),
 * BENCH_RETENTION_EVENTS_PER_USER (200), BENCH_RETENTION_DAYS (100), BENCH_RETENTION_PROJECT=1,
 * BENCH_KEEP=1 keeps the temporary directory (a DATA_DIR for `npm run retention` afterwards).
 *
 * BENCH_RETENTION_PREPARED=<directory> reuses a prepared store between runs, so that iterating
 * on the pass costs a copy of the store (seconds) instead of the fill and the projection: the
 * first run fills and projects the store into that directory and marks it (`prepared.json`,
 * with the tunables above, which must match on later runs); every run then copies it to a
 * temporary directory and runs the pass on the copy, so the prepared store is never changed.
 * Delete the directory to prepare it again (after a change to the workload, the events or the
 * projections).
 */
import { closeSync, cpSync, existsSync, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import { allProjections } from '../../projections/index.js';
import { silentLogger } from '../../src/logger.js';
import { Projector } from '../../src/projector/projector.js';
import { rebuildProjections } from '../../src/projector/rebuild.js';
import { createRetentionPass } from '../../src/retention/retention-service.js';
import { EMBEDDED_FILE, openStores, READ_MODEL_FILE, type Stores } from '../../src/runtime.js';
import type { BenchResult } from './append.js';
import { DEFAULT_WORKLOAD, generateWorkload, type WorkloadOptions } from './workload.js';
import { positiveIntegerFromEnv } from './env.js';

const DAY = 24 * 60 * 60 * 1000;
const START = Date.UTC(2026, 0, 1);

interface RetentionBenchConfig {
  readonly users: number;
  readonly eventsPerUser: number;
  readonly days: number;
  readonly keep: boolean;
  readonly project: boolean;
  /** A directory holding a prepared store to copy, or to prepare first (BENCH_RETENTION_PREPARED). */
  readonly prepared: string | undefined;
}

const PREPARED_MARKER = 'prepared.json';

/**
 * For the pass, opened as the service opens it: SQLite's WAL checkpoints on a worker thread. A
 * store prepared apart is filled and projected with SQLite's own checkpoints (under load, the
 * worker's checkpoints once held the write lock past the rebuild's busy timeout).
 */
const openBenchStores = (directory: string, clock: () => Date, backgroundCheckpoints = true) =>
  openStores(
    { DATA_DIR: directory, STORE: 'embedded', READ_MODEL: 'embedded', EVENTSTORE_URL: undefined, MONGO_URL: undefined },
    { clock, backgroundCheckpoints },
  );

export async function benchRetention(log: (line: string) => void = console.log): Promise<BenchResult> {
  const config = readConfig();
  const workload: WorkloadOptions = { ...DEFAULT_WORKLOAD, users: config.users, events: config.users * config.eventsPerUser };
  // The store records each event at this time: the fill moves it from day 0 to day `days`.
  let now = START;
  log(`retention: ${config.users} users × ${config.eventsPerUser} events over ${config.days} days (${workload.events} events, ${workload.feeds} feeds)`);
  if (config.prepared !== undefined) {
    const marker = join(config.prepared, PREPARED_MARKER);
    const wanted = { users: config.users, eventsPerUser: config.eventsPerUser, days: config.days };
    if (existsSync(marker)) {
      const found = JSON.parse(readFileSync(marker, 'utf8')) as typeof wanted;
      if (found.users !== wanted.users || found.eventsPerUser !== wanted.eventsPerUser || found.days !== wanted.days) {
        throw new Error(`${config.prepared} was prepared for ${JSON.stringify(found)}, not ${JSON.stringify(wanted)}: delete it or choose another directory`);
      }
      log(`  reusing the store prepared in ${config.prepared}`);
    } else {
      // What an interrupted preparation left (store files only) is started again.
      const left = existsSync(config.prepared) ? readdirSync(config.prepared) : [];
      const foreign = left.filter((name) => !name.startsWith(EMBEDDED_FILE) && !name.startsWith(READ_MODEL_FILE));
      if (foreign.length > 0) throw new Error(`${config.prepared} holds other files (${foreign.join(', ')}): choose an empty or new directory`);
      for (const name of left) rmSync(join(config.prepared, name));
      const preparing = await openBenchStores(config.prepared, () => new Date(now), false);
      try {
        await prepareStore(preparing, workload, config.days, (at) => (now = at), log);
      } finally {
        await preparing.close();
      }
      writeFileSync(marker, `${JSON.stringify(wanted)}\n`);
      log(`  prepared ${config.prepared} (reused by later runs with BENCH_RETENTION_PREPARED)`);
    }
  }
  const directory = mkdtempSync(join(tmpdir(), 'podsync-bench-retention-'));
  if (config.prepared !== undefined) {
    const copyStarted = performance.now();
    cpSync(config.prepared, directory, { recursive: true, filter: (source) => !source.endsWith(PREPARED_MARKER) });
    // Written to disk before the pass: otherwise the kernel writes the copy's gigabytes back
    // while the pass runs, and the pass measured it (58-61 s instead of 40 s, bench/RESULTS.md).
    for (const name of readdirSync(directory)) {
      const file = openSync(join(directory, name), 'r');
      try {
        fsyncSync(file);
      } finally {
        closeSync(file);
      }
    }
    log(`  copied the prepared store (and wrote it to disk) in ${((performance.now() - copyStarted) / 1000).toFixed(1)} s`);
  }
  const stores = await openBenchStores(directory, () => new Date(now));
  try {
    if (config.prepared === undefined) await prepareStore(stores, workload, config.days, (at) => (now = at), log);

    now = START + config.days * DAY;
    const asOf = new Date(now);
    const pass = createRetentionPass(stores, { defaultPrivacy: 'private', logger: silentLogger() });
    let lastReport = 0;
    const loadBefore = loadavg()[0]!;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const summary = await pass.run(asOf, {
      onProgress: ({ usersDone, usersTotal }) => {
        if (usersDone - lastReport < 1000 && usersDone !== usersTotal) return;
        lastReport = usersDone;
        log(`    ${usersDone}/${usersTotal} users, ${((performance.now() - started) / 1000).toFixed(1)} s`);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    log(`  pass as of day ${config.days}: ${summary.usersConsidered} users considered, ${summary.usersSnapshotted} snapshotted`);
    log(`  ${summary.eventsRemoved} events removed, ${summary.feedsRolled} feeds rolled, ${summary.snapshotThreads} snapshot threads`);
    log(`  ${seconds.toFixed(2)} s (target < 30), ${cpuSeconds.toFixed(1)} s of CPU, peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
    log(`  load average ${loadBefore.toFixed(2)} before the pass, ${loadavg()[0]!.toFixed(2)} after`);
    let projectionSeconds: number | undefined;
    if (config.project) {
      // What the live projector would do next: project the pass's checkpoints and roll_stats.
      const projector = new Projector({
        eventStore: stores.eventStore,
        readModel: stores.readModel,
        projections: allProjections,
        context: { defaultPrivacy: 'private' },
        logger: silentLogger(),
      });
      await projector.prepare();
      const projectionStarted = performance.now();
      const events = await projector.catchUp();
      projectionSeconds = (performance.now() - projectionStarted) / 1000;
      log(`  then projected the pass's ${events} events in ${projectionSeconds.toFixed(1)} s (not part of the pass)`);
    }
    if (config.keep) log(`  kept ${directory} (DATA_DIR=${directory} npm run retention -- --now ${asOf.toISOString()})`);
    return {
      bench: 'retention',
      users: config.users,
      seconds: Math.round(seconds * 100) / 100,
      cpu_seconds: Math.round(cpuSeconds * 10) / 10,
      ...(projectionSeconds === undefined ? {} : { projection_seconds: Math.round(projectionSeconds * 10) / 10 }),
      events_removed: summary.eventsRemoved,
      users_snapshotted: summary.usersSnapshotted,
      feeds_rolled: summary.feedsRolled,
      snapshot_threads: summary.snapshotThreads,
      events: workload.events,
    };
  } finally {
    await stores.close();
    if (!config.keep) rmSync(directory, { recursive: true, force: true });
  }
}

function readConfig(): RetentionBenchConfig {
  return {
    users: positiveIntegerFromEnv('BENCH_RETENTION_USERS', process.env['BENCH_QUICK'] === '1' ? 1_000 : 10_000),
    eventsPerUser: positiveIntegerFromEnv('BENCH_RETENTION_EVENTS_PER_USER', 200),
    days: positiveIntegerFromEnv('BENCH_RETENTION_DAYS', 100),
    keep: process.env['BENCH_KEEP'] === '1',
    project: process.env['BENCH_RETENTION_PROJECT'] === '1',
    prepared: process.env['BENCH_RETENTION_PREPARED'] || undefined,
  };
}

/** Fills the store and projects the read models: everything before the pass. */
async function prepareStore(
  stores: Stores,
  workload: WorkloadOptions,
  days: number,
  setClock: (at: number) => void,
  log: (line: string) => void,
): Promise<void> {
  const fillSeconds = await fillStore(stores, workload, days, setClock);
  log(`  store filled in ${fillSeconds.toFixed(1)} s`);
  const projected = await rebuildProjections(stores, allProjections, { context: { defaultPrivacy: 'private' } });
  log(`  read models projected in ${projected.seconds.toFixed(1)} s (${projected.events} events, ${projected.parked} parked)`);
}

/**
 * Appends the workload through the port, one append per user burst as the service would, the
 * clock advancing with the share of events written, so recording times span the days evenly.
 */
async function fillStore(stores: Stores, workload: WorkloadOptions, days: number, setClock: (at: number) => void): Promise<number> {
  const started = performance.now();
  let written = 0;
  for (const { stream, events } of generateWorkload(workload)) {
    setClock(START + Math.floor((written / workload.events) * days * DAY));
    await stores.eventStore.append(stream, events);
    written += events.length;
  }
  return (performance.now() - started) / 1000;
}

// Runnable on its own: the JSON summary is the last stdout line, for scripts that collect results.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchRetention();
  console.log(JSON.stringify(result));
}
