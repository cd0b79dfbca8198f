/**
 * Live projection: events appended through the service's write path as fast as it takes them,
 * with the projector running as in the service (on its own thread), until every read model has
 * caught up; then read-your-writes at a steady write rate. Against the whole service in this
 * process (startService, temporary embedded store, no scheduler), no HTTP:
 *
 * 1. throughput: BENCH_EVENTS events (default 200,000) from BENCH_LIVE_USERS users (1,000), the
 *    rebuild benchmark's mix (scripts/bench/workload.ts: one user's sync-sized burst of 1–8
 *    events per append), each append through `UserEventService.appendActions` with the
 *    service's folded-user cache (what `POST /v1/events` calls; a `remove` is appended, not erased: erasure is the retention
 *    service's and waits for the projector, which is not what this measures), one after the
 *    other. `events_per_s` = events ÷ the time from the first append until every projection's
 *    checkpoint has reached the last one;
 * 2. the raw ceiling of the rebuild benchmark, one document per event (its `timeRawCeiling`),
 *    over the same store's events, after the service is closed: `ratio` = events_per_s ÷ it;
 * 3. read-your-writes: appends of the same mix at a steady BENCH_RYW_RATE appends per second
 *    (2,000; open loop: append i is due at start + i / rate whatever the answers before it) for
 *    BENCH_RYW_SECONDS (10), each followed at once by that user's gpodder episode-actions
 *    download since their previous one (`GpodderEpisodeService.download`, which waits for the
 *    episode-actions and play-status read models to reach the user's latest event, at most 2 s,
 *    then answers 503). `ryw_p99_ms` = p99 of the time from the append's answer to the
 *    download's (a download that gave up counts as its wait; `ryw_timeouts` counts them).
 *    Beside it, `ryw_appends_per_s` achieved (below the rate, the thread could not keep up and
 *    the tail is the open loop's queue); `ryw_append_p99_ms`, the p99 of the time from when an
 *    append was due to its answer (the write's own wait, which `ryw_p99_ms` does not count);
 *    `ryw_loop_delay_max_ms`, the longest this thread's event loop was late over the phase (its
 *    stalls, and the pairs started at once after them); and `ryw_gc_pause_ms` /
 *    `ryw_gc_pause_max_ms`, this thread's garbage-collection pauses over the phase, summed and
 *    the longest (a pause holds every pair in flight; bench/RESULTS.md, "The read-your-writes
 *    tail, the HTTP thread's collections and the disk");
 * 4. `bytes_per_event`: the store's files (events, accounts, jobs: `podsync.db`; read models:
 *    `read-models.db`; their WALs) after a WAL checkpoint, ÷ the events in the store;
 * 5. `written_bytes_per_event` (Linux): the bytes the process wrote during step 1 (WAL pages
 *    and checkpoint copies, every thread) ÷ the events appended: how many pages each commit
 *    dirties, which bounds step 1 as much as the CPU does.
 *
 * Both phases run in this one process, as the service would: appends and downloads on this
 * thread, the projector and the WAL checkpointer on theirs.
 *
 * Run: `npm run bench -- project-live` or `npx tsx scripts/bench/project-live.ts`.
 * Tunables: BENCH_EVENTS (200000; 20000 with BENCH_QUICK=1), BENCH_LIVE_USERS (1000),
 * BENCH_REBUILD_FEEDS (5000), BENCH_RYW_RATE (appends/s, 2000), BENCH_RYW_SECONDS (10; 3 with
 * BENCH_QUICK=1), BENCH_KEEP=1 keeps the temporary directory.
 * Targets (issue 17): ratio >= 0.8, ryw_p99_ms <= 50, bytes_per_event <= 1000.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { loadConfig } from '../../src/config.js';
import type { ActionInput } from '../../src/domain/events.js';
import { userIdFromStream } from '../../src/domain/events.js';
import { silentLogger } from '../../src/logger.js';
import { EMBEDDED_FILE, READ_MODEL_FILE } from '../../src/runtime.js';
import { startService } from '../../src/service.js';
import type { Principal } from '../../src/services/accounts.js';
import { GpodderService } from '../../src/services/gpodder.js';
import { GpodderEpisodeService } from '../../src/services/gpodder-episodes.js';
import { ReadModelService, ReadModelsBehindError } from '../../src/services/read-models.js';
import { UserEventService } from '../../src/services/user-events.js';
import { UserStateCache } from '../../src/services/user-state-cache.js';
import { applyPragmas } from '../../src/stores/embedded/schema.js';
import type { BenchResult } from './append.js';
import { positiveIntegerFromEnv } from './env.js';
import { formatRate, percentile, round } from './figures.js';
import { timeRawCeiling } from './rebuild.js';
import { DEFAULT_WORKLOAD, generateWorkload, type WorkloadAppend, type WorkloadOptions } from './workload.js';

interface LiveConfig {
  readonly workload: WorkloadOptions;
  readonly rywRate: number;
  readonly rywSeconds: number;
  readonly keep: boolean;
}

/** An append of the workload as the write path takes it: a user's actions. */
interface Write {
  readonly principal: Principal;
  readonly actions: ActionInput[];
}

const CATCH_UP_LIMIT_MS = 30 * 60_000;

export async function benchProjectLive(log: (line: string) => void = console.log): Promise<BenchResult> {
  const config = readConfig();
  const { workload } = config;
  const directory = mkdtempSync(join(tmpdir(), 'podsync-bench-live-'));
  try {
    log(
      `project-live: ${workload.events} events from ${workload.users} users, appended as fast as the service takes them, projector on its own thread (load average ${os.loadavg()[0]!.toFixed(2)})`,
    );
    // Enough appends for both phases (the mix averages 4.5 events per append; 8 at most).
    const writes = toWrites(generateWorkload({ ...workload, events: workload.events + config.rywRate * config.rywSeconds * workload.maxBatch }));
    const serviceConfig = loadConfig({ DATA_DIR: directory, RATE_LIMIT_PER_MINUTE: '0' });
    const service = await startService(serviceConfig, silentLogger(), { runScheduler: false });
    let live: Awaited<ReturnType<typeof timeLive>>;
    let ryw: RywFigures;
    try {
      // With the folded-user cache the service's write path has (SYNC_CACHE_RECORDS): without it
      // every append folded the user's whole stream again.
      const userEvents = new UserEventService(service.stores.eventStore, new UserStateCache(serviceConfig.SYNC_CACHE_RECORDS));
      const readModels = new ReadModelService(service.stores.eventStore, service.stores.readModel);
      live = await timeLive(service.projector.names, userEvents, readModels, writes, workload.events);
      log(
        `  appended ${formatRate(live.events)} events in ${live.appendSeconds.toFixed(2)} s (${formatRate(live.events / live.appendSeconds)} events/s); every projection caught up after ${live.seconds.toFixed(2)} s`,
      );
      log(
        `  live projection:          ${formatRate(live.events / live.seconds)} events/s (CPU of the process, every thread, ${live.cpuSeconds.toFixed(1)} s; load average ${os.loadavg()[0]!.toFixed(2)})`,
      );
      if (live.written !== undefined) {
        log(
          `  written while projecting: ${formatRate(live.written / 1_048_576)} MB, ${formatRate(live.written / live.events)} bytes per event (WAL pages and checkpoint copies, every thread)`,
        );
      }
      log(
        `  CPU by thread: this one (appends) ${live.threads.main.toFixed(1)} s; the others, busiest first (the projector's, then the WAL checkpointer's): ${live.threads.others
          .slice(0, 4)
          .map((value) => `${value.toFixed(1)} s`)
          .join(', ')}; projector ${(((live.threads.others[0] ?? 0) * 1e6) / live.events).toFixed(0)} µs per event`,
      );
      const episodes = new GpodderEpisodeService(new GpodderService(userEvents, readModels));
      ryw = await timeReadYourWrites(config, userEvents, episodes, writes);
      log(
        `  read-your-writes at ${formatRate(config.rywRate)} appends/s for ${config.rywSeconds} s: ${formatRate(ryw.appendsPerSecond)} appends/s (${formatRate(ryw.eventsPerSecond)} events/s) achieved, each answered p99 ${ryw.appendP99.toFixed(1)} ms after it was due; download after each: p50 ${ryw.p50.toFixed(1)} ms, p99 ${ryw.p99.toFixed(1)} ms, max ${ryw.max.toFixed(0)} ms, ${ryw.timeouts} gave up (load average ${os.loadavg()[0]!.toFixed(2)}); this thread's event loop late by p99 ${ryw.loopDelay.p99.toFixed(1)} ms, max ${ryw.loopDelay.max.toFixed(0)} ms; its ${ryw.gc.count} garbage collections paused it ${ryw.gc.pauseMs.toFixed(0)} ms in all, at most ${ryw.gc.maxMs.toFixed(1)} ms`,
      );
      const pairs = ryw.appendsPerSecond * ryw.seconds;
      const allThreads = ryw.threads.main + ryw.threads.others.reduce((sum, value) => sum + value, 0);
      log(
        `  CPU over ${ryw.seconds.toFixed(1)} s: this thread (appends and downloads) ${ryw.threads.main.toFixed(1)} s, ${((ryw.threads.main * 1e6) / pairs).toFixed(0)} µs per pair; every thread ${allThreads.toFixed(1)} s, ${((allThreads * 1e6) / pairs).toFixed(0)} µs per pair (the others, busiest first: ${ryw.threads.others
          .slice(0, 6)
          .map((value) => `${value.toFixed(1)} s`)
          .join(', ')})`,
      );
    } finally {
      await service.close();
    }
    const storePath = join(directory, EMBEDDED_FILE);
    const { bytes, events } = storeSize(directory, storePath);
    log(
      `  store after a WAL checkpoint: ${(bytes / 1_048_576).toFixed(1)} MB for ${formatRate(events)} events (${formatRate(bytes / events)} bytes per event)`,
    );
    const raw = timeRawCeiling(storePath, join(directory, 'raw-one.db'), 1);
    const rawEvents = userEventCount(storePath);
    const rawPerSecond = rawEvents / raw.seconds;
    const perSecond = live.events / live.seconds;
    const ratio = perSecond / rawPerSecond;
    log(`  raw ceiling, one document per event: ${formatRate(rawPerSecond)} events/s (${raw.seconds.toFixed(2)} s over ${formatRate(rawEvents)} events)`);
    log(
      `  ratio live/raw: ${ratio.toFixed(2)} (target >= 0.8); read-your-writes p99 ${ryw.p99.toFixed(1)} ms (target <= 50); ${formatRate(bytes / events)} bytes per event (target <= 1,000)`,
    );
    if (config.keep) log(`  kept ${directory}`);
    return {
      bench: 'project-live',
      events_per_s: Math.round(perSecond),
      raw_events_per_s: Math.round(rawPerSecond),
      ratio: Math.round(ratio * 100) / 100,
      ryw_p99_ms: round(ryw.p99),
      ryw_appends_per_s: Math.round(ryw.appendsPerSecond),
      ryw_append_p99_ms: round(ryw.appendP99),
      ryw_loop_delay_max_ms: round(ryw.loopDelay.max),
      ryw_gc_pause_ms: round(ryw.gc.pauseMs),
      ryw_gc_pause_max_ms: round(ryw.gc.maxMs),
      bytes_per_event: Math.round(bytes / events),
      ...(live.written === undefined ? {} : { written_bytes_per_event: Math.round(live.written / live.events) }),
    };
  } finally {
    if (!config.keep) rmSync(directory, { recursive: true, force: true });
  }
}

function readConfig(): LiveConfig {
  const quick = process.env['BENCH_QUICK'] === '1';
  return {
    workload: {
      ...DEFAULT_WORKLOAD,
      events: positiveIntegerFromEnv('BENCH_EVENTS', quick ? 20_000 : 200_000),
      users: positiveIntegerFromEnv('BENCH_LIVE_USERS', 1_000),
      feeds: positiveIntegerFromEnv('BENCH_REBUILD_FEEDS', DEFAULT_WORKLOAD.feeds),
    },
    rywRate: positiveIntegerFromEnv('BENCH_RYW_RATE', 2_000),
    rywSeconds: positiveIntegerFromEnv('BENCH_RYW_SECONDS', quick ? 3 : 10),
    keep: process.env['BENCH_KEEP'] === '1',
  };
}

/** The workload's appends as actions of their user (a stored user event's data is the action without its id and type). */
function* toWrites(appends: Iterable<WorkloadAppend>): Generator<Write> {
  for (const { stream, events } of appends) {
    const user = userIdFromStream(stream)!;
    const principal: Principal = { userId: user, username: `listener${user}`, tokenId: null };
    const actions = events.map((event) => ({ id: event.id, type: event.type, ...event.data }) as unknown as ActionInput);
    yield { principal, actions };
  }
}

async function timeLive(projections: readonly string[], userEvents: UserEventService, readModels: ReadModelService, writes: Iterator<Write>, events: number) {
  let appended = 0;
  const threads = threadCpuSeconds();
  const cpu = process.cpuUsage();
  const writtenBefore = bytesWritten();
  const started = performance.now();
  while (appended < events) {
    const next = writes.next();
    if (next.done) break;
    await userEvents.appendActions(next.value.principal, next.value.actions);
    appended += next.value.actions.length;
  }
  const appendSeconds = (performance.now() - started) / 1000;
  const head = await userEvents.store.headPosition();
  if (!(await readModels.waitFor(projections, head, CATCH_UP_LIMIT_MS))) throw new Error('the projections did not catch up within 30 minutes');
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const writtenAfter = bytesWritten();
  const written = writtenBefore === undefined || writtenAfter === undefined ? undefined : writtenAfter - writtenBefore;
  return { events: appended, seconds, appendSeconds, cpuSeconds: (used.user + used.system) / 1e6, threads: threadCpuSince(threads), written };
}

/**
 * Bytes this process has handed to write system calls, every thread (Linux: `wchar` in
 * /proc/self/io); undefined elsewhere. While projecting that is the stores' WAL frames (a whole
 * page for each page a commit changed, however little of it) and the checkpoints copying them
 * into the database files: what the store keeps per event, multiplied by how scattered the
 * commits' changes are over the B-trees' pages.
 */
function bytesWritten(): number | undefined {
  try {
    const line = readFileSync('/proc/self/io', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('wchar:'));
    return line === undefined ? undefined : Number(line.slice('wchar:'.length));
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of each of this process's threads (Linux: /proc/self/task/<tid>/stat, utime +
 * stime), by thread id; empty elsewhere. On a shared machine wall time moves with the load, the
 * CPU time each thread spent much less: the busiest thread after this one is the projector's.
 */
function threadCpuSeconds(): Map<string, number> {
  const seconds = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        // The fields after the command name (which may hold spaces) start at its closing parenthesis.
        const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(')').at(-1)!.trim().split(' ');
        seconds.set(tid, (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS);
      } catch {
        // the thread ended
      }
    }
  } catch {
    // not Linux
  }
  return seconds;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const CLOCK_TICKS = 100;

/** Per thread, the CPU seconds since `before`: this thread first, then the others, busiest first. */
function threadCpuSince(before: ReadonlyMap<string, number>): { main: number; others: number[] } {
  const after = threadCpuSeconds();
  const main = String(process.pid);
  const spent = (tid: string) => (after.get(tid) ?? 0) - (before.get(tid) ?? 0);
  const others = [...after.keys()]
    .filter((tid) => tid !== main)
    .map(spent)
    .filter((value) => value > 0)
    .sort((a, b) => b - a);
  return { main: spent(main), others };
}

interface RywFigures {
  readonly appendsPerSecond: number;
  readonly eventsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** p99 of the time from when an append was due (the open loop's schedule) to its answer, ms. */
  readonly appendP99: number;
  readonly max: number;
  readonly timeouts: number;
  /**
   * How late this thread's event loop ran a 10 ms timer over the phase (p99 and max, ms): its
   * stalls (a long task, a collection, a synchronous disk wait) and the turns that run the pairs
   * started at once after one (the store is synchronous: a pair's awaits are microtasks).
   */
  readonly loopDelay: { p99: number; max: number };
  /**
   * This thread's garbage collections over the phase: their pauses summed and the longest (ms).
   * A pause stops every pair in flight, and the pairs queued behind it.
   */
  readonly gc: { pauseMs: number; maxMs: number; count: number };
  /** CPU seconds of this thread and of the others (busiest first) over the phase. */
  readonly threads: { main: number; others: number[] };
  readonly seconds: number;
}

async function timeReadYourWrites(
  config: LiveConfig,
  userEvents: UserEventService,
  episodes: GpodderEpisodeService,
  writes: Iterator<Write>,
): Promise<RywFigures> {
  // Each user's download cursor starts at the head: what the throughput phase wrote is not re-read.
  const head = Number((await userEvents.store.headPosition()).commit);
  const since = new Map<string, number>();
  const waits: number[] = [];
  let timeouts = 0;
  let events = 0;
  const total = config.rywRate * config.rywSeconds;
  const interval = 1000 / config.rywRate;
  const pending = new Set<Promise<void>>();
  const appendWaits: number[] = [];
  const writeAndRead = async (write: Write, due: number) => {
    await userEvents.appendActions(write.principal, write.actions);
    events += write.actions.length;
    const answered = performance.now();
    appendWaits.push(answered - due);
    try {
      const page = await episodes.download(write.principal, { since: since.get(write.principal.userId) ?? head });
      since.set(write.principal.userId, Math.max(page.timestamp, since.get(write.principal.userId) ?? head));
    } catch (error) {
      if (!(error instanceof ReadModelsBehindError)) throw error;
      timeouts++;
    }
    waits.push(performance.now() - answered);
  };
  const started = performance.now() + 10;
  const threads = threadCpuSeconds();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const collections: number[] = [];
  // Per isolate: the collections of this thread, not the projector's or the checkpointer's.
  const gcObserver = new PerformanceObserver((list) => collections.push(...list.getEntries().map((entry) => entry.duration)));
  gcObserver.observe({ entryTypes: ['gc'] });
  let failure: unknown;
  for (let index = 0; index < total && failure === undefined;) {
    const now = performance.now();
    for (; index < total && started + index * interval <= now; index++) {
      const next = writes.next();
      if (next.done) throw new Error('the workload ran out of appends');
      const sent = writeAndRead(next.value, started + index * interval).catch((error: unknown) => {
        failure ??= error;
      });
      pending.add(sent);
      void sent.finally(() => pending.delete(sent));
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + index * interval - performance.now())));
  }
  await Promise.all(pending);
  loop.disable();
  collections.push(...gcObserver.takeRecords().map((entry) => entry.duration));
  gcObserver.disconnect();
  if (failure !== undefined) throw failure;
  const seconds = (performance.now() - started) / 1000;
  return {
    appendsPerSecond: waits.length / seconds,
    eventsPerSecond: events / seconds,
    appendP99: percentile(appendWaits, 99),
    p50: percentile(waits, 50),
    p99: percentile(waits, 99),
    max: percentile(waits, 100),
    timeouts,
    // The histogram's values are nanoseconds of the timer's whole wait, its 10 ms included.
    loopDelay: { p99: Math.max(0, loop.percentile(99) / 1e6 - 10), max: Math.max(0, loop.max / 1e6 - 10) },
    gc: { pauseMs: collections.reduce((sum, ms) => sum + ms, 0), maxMs: Math.max(0, ...collections), count: collections.length },
    threads: threadCpuSince(threads),
    seconds,
  };
}

/** Bytes of the data directory's files after a WAL checkpoint, and the events in the store. */
function storeSize(directory: string, storePath: string): { bytes: number; events: number } {
  const database = new BetterSqlite3(storePath);
  let events: number;
  try {
    applyPragmas(database);
    database.pragma('wal_checkpoint(TRUNCATE)');
    events = (database.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  } finally {
    database.close();
  }
  const readModels = new BetterSqlite3(join(directory, READ_MODEL_FILE));
  try {
    applyPragmas(readModels);
    readModels.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    readModels.close();
  }
  const bytes = readdirSync(directory).reduce((sum, name) => sum + statSync(join(directory, name)).size, 0);
  return { bytes, events };
}

/** The user events the raw ceiling reads (it reads the `user-` streams). */
function userEventCount(storePath: string): number {
  const database = new BetterSqlite3(storePath, { readonly: true });
  try {
    return (
      database.prepare("SELECT count(*) AS n FROM events e JOIN streams s ON s.id = e.stream_id WHERE substr(s.name, 1, 5) = 'user-'").get() as { n: number }
    ).n;
  } finally {
    database.close();
  }
}

// Runnable on its own: the JSON summary is the last stdout line, for scripts that collect results.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchProjectLive();
  console.log(JSON.stringify(result));
}
