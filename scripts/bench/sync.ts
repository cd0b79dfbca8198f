/**
 * Sync latency over HTTP: one client with BENCH_SUBSCRIPTIONS subscriptions and BENCH_PLAYS
 * play statuses against the whole service (in-process, real HTTP server on a loopback port,
 * temporary embedded store, projector running):
 *
 * 1. a first full sync (every record is new: one event per record plus the closing `sync`);
 * 2. BENCH_NOOP no-op resyncs: the client posts its whole state again, nothing changed;
 * 3. BENCH_CHANGED resyncs, each with 100 play statuses changed (newer `updated_at`);
 * 4. one sync of a playlist of BENCH_PLAYLIST_ITEMS items (5,000, the most a sync takes), then
 *    `GET /v1/playlists` at once, ahead of the projector: both times, the longest the event loop
 *    of this process (the service's HTTP thread, and this client) stalled meanwhile, and when the
 *    read models have it all.
 *
 * Between 1 and 2 the benchmark waits until the projector has folded the first sync's events
 * into the read models (reported), so the resyncs are measured in steady state rather than
 * competing with that one-off catch-up for the CPU.
 *
 * Every resync posts the client's *whole* state, as docs/design.md, "Sync" describes ("a client posts its
 * state") — the worst case; a client sending only its changes is cheaper. Each request waits
 * for its answer, which includes read-your-writes (the read models reach the new events).
 *
 * Run: `npm run bench -- sync` or `npx tsx scripts/bench/sync.ts`.
 * Tunables: BENCH_SUBSCRIPTIONS (1000), BENCH_PLAYS (10000), BENCH_NOOP (30), BENCH_CHANGED (30), BENCH_PLAYLIST_ITEMS (5000);
 * BENCH_QUICK=1 runs 5 of each resync.
 * Targets (2-core machine): first sync < 2 s, no-op resync p50 < 150 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import type { Service } from '../../src/service.js';
import { drain, startService } from '../../src/service.js';
import { ReadModelService } from '../../src/services/read-models.js';
import type { BenchResult } from './append.js';
import { positiveIntegerFromEnv } from './env.js';
import { formatRate, percentile, round } from './figures.js';
import { listenServing } from '../../src/http/server.js';

interface SyncBenchConfig {
  readonly subscriptions: number;
  readonly plays: number;
  readonly noop: number;
  readonly changed: number;
  readonly changesPerResync: number;
  readonly playlistItems: number;
}

interface PlayStatus {
  rss_source_feed: string;
  rss_source_id: string;
  played: boolean;
  position: number;
  updated_at: string;
  rss_feed_title: string;
  rss_item_title: string;
}

interface SyncAnswer {
  since: string;
  subscriptions: unknown[];
  play_statuses: unknown[];
  playlists: unknown[];
  applied: { events: number; duplicate: boolean };
}

const BASE_TIME = Date.UTC(2026, 0, 1);
const iso = (offsetSeconds: number) => new Date(BASE_TIME + offsetSeconds * 1000).toISOString();

export async function benchSync(log: (line: string) => void = console.log): Promise<BenchResult> {
  const config = readConfig();
  const directory = mkdtempSync(join(tmpdir(), 'podsync-bench-sync-'));
  // Rate limiting and the retention job are off: the benchmark measures sync alone.
  const service = await startService(loadConfig({ DATA_DIR: directory, RATE_LIMIT_PER_MINUTE: '0' }), silentLogger(), { runScheduler: false });
  const server = await listenServing(service.app, 0, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const token = await login(base);
    const state = clientState(config);
    // Other work on the machine skews latencies; the CPU figures (this process) much less.
    const loadAverage = os.loadavg()[0] ?? 0;
    log(
      `sync: ${config.subscriptions} subscriptions, ${config.plays} play statuses; then ${config.noop} no-op resyncs and ${config.changed} resyncs of ${config.changesPerResync} changes`,
    );

    let requestNumber = 0;
    const sync = async (since: string | undefined): Promise<{ ms: number; cpuMs: number; answer: SyncAnswer }> => {
      // Encoded before the clock starts: client and server share this process and its CPU.
      const body = Buffer.from(
        JSON.stringify({ device: 'bench-phone', request_id: `bench-${++requestNumber}`, ...(since ? { since } : {}), ...state, playlists: [] }),
      );
      const started = performance.now();
      const cpu = process.cpuUsage();
      const response = await fetch(`${base}/v1/sync`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      });
      const answer = (await response.json()) as SyncAnswer;
      const ms = performance.now() - started;
      const used = process.cpuUsage(cpu);
      if (response.status !== 200) throw new Error(`sync answered ${response.status}: ${JSON.stringify(answer).slice(0, 500)}`);
      return { ms, cpuMs: (used.user + used.system) / 1000, answer };
    };

    const first = await sync(undefined);
    const expectedFirst = config.subscriptions + config.plays + 1;
    if (first.answer.applied.events !== expectedFirst) throw new Error(`first sync applied ${first.answer.applied.events} events, expected ${expectedFirst}`);
    const firstAnswered = first.answer.subscriptions.length + first.answer.play_statuses.length;
    log(
      `  first sync:  ${first.ms.toFixed(0)} ms, ${first.answer.applied.events} events (${formatRate((first.answer.applied.events / first.ms) * 1000)} events/s), ${firstAnswered} records answered (target < 2000 ms)`,
    );

    // The projector folds the first sync's events into every read model in the background;
    // resyncs are measured once it is done (steady state), and the wait is reported.
    const projected = await settle(service);
    log(`  read models caught up ${projected.toFixed(0)} ms after the first answer`);

    let since = first.answer.since;
    const noop: number[] = [];
    const noopCpu: number[] = [];
    // Records the first answer did not hold (its read-your-writes wait is bounded) come now.
    let leftovers = 0;
    for (let i = 0; i < config.noop; i++) {
      const { ms, cpuMs, answer } = await sync(since);
      if (answer.applied.events !== 1) throw new Error(`no-op resync applied ${answer.applied.events} events`);
      leftovers += answer.subscriptions.length + answer.play_statuses.length;
      noop.push(ms);
      noopCpu.push(cpuMs);
      since = answer.since;
    }
    if (firstAnswered + leftovers !== config.subscriptions + config.plays)
      throw new Error(`answers held ${firstAnswered + leftovers} records, expected ${config.subscriptions + config.plays}`);
    log(
      `  no-op resync: p50 ${percentile(noop, 50).toFixed(0)} ms, p99 ${percentile(noop, 99).toFixed(0)} ms, CPU p50 ${percentile(noopCpu, 50).toFixed(0)} ms (target p50 < 150 ms)`,
    );

    const changed: number[] = [];
    const changedCpu: number[] = [];
    let changedEvents = 0;
    for (let i = 0; i < config.changed; i++) {
      changePlays(state.play_statuses, i, config.changesPerResync);
      const { ms, cpuMs, answer } = await sync(since);
      changedCpu.push(cpuMs);
      if (answer.applied.events !== config.changesPerResync + 1 || answer.play_statuses.length !== config.changesPerResync) {
        throw new Error(`changed resync applied ${answer.applied.events} events, answered ${answer.play_statuses.length} play statuses`);
      }
      changed.push(ms);
      changedEvents += answer.applied.events;
      since = answer.since;
    }
    const changedSeconds = changed.reduce((sum, ms) => sum + ms, 0) / 1000;
    log(
      `  ${config.changesPerResync}-change resync: p50 ${percentile(changed, 50).toFixed(0)} ms, p99 ${percentile(changed, 99).toFixed(0)} ms, CPU p50 ${percentile(changedCpu, 50).toFixed(0)} ms (${formatRate(changedEvents / changedSeconds)} events/s)`,
    );

    const playlist = await syncPlaylist(service, base, token, since, config.playlistItems, `bench-${++requestNumber}`);
    log(
      `  a playlist of ${config.playlistItems} items: synced in ${playlist.syncMs.toFixed(0)} ms, read at once in ${playlist.readMs.toFixed(0)} ms, the event loop stalled ${playlist.loopDelayMaxMs.toFixed(0)} ms at most, read models caught up ${playlist.projectedMs.toFixed(0)} ms after the sync's answer`,
    );

    return {
      bench: 'sync',
      subscriptions: config.subscriptions,
      play_statuses: config.plays,
      first_sync_ms: round(first.ms),
      first_sync_events_per_s: Math.round((first.answer.applied.events / first.ms) * 1000),
      first_sync_records_answered: firstAnswered,
      first_sync_projected_ms: round(projected),
      noop_runs: noop.length,
      noop_p50_ms: round(percentile(noop, 50)),
      noop_p99_ms: round(percentile(noop, 99)),
      noop_cpu_p50_ms: round(percentile(noopCpu, 50)),
      changed_runs: changed.length,
      changed_p50_ms: round(percentile(changed, 50)),
      changed_p99_ms: round(percentile(changed, 99)),
      changed_cpu_p50_ms: round(percentile(changedCpu, 50)),
      changed_events_per_s: Math.round(changedEvents / changedSeconds),
      playlist_items: config.playlistItems,
      playlist_sync_ms: round(playlist.syncMs),
      playlist_read_ms: round(playlist.readMs),
      playlist_loop_delay_max_ms: round(playlist.loopDelayMaxMs),
      playlist_projected_ms: round(playlist.projectedMs),
      load_average: round(loadAverage),
    };
  } finally {
    await drain(server, 1000);
    await service.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * Phase 4: one sync of a playlist of `items` items (a save event each), then the user's playlists
 * read at once, while the projector works through them; the event loop's longest stall over both.
 */
async function syncPlaylist(service: Service, base: string, token: string, since: string, items: number, requestId: string) {
  const playlist = {
    id: 'queue',
    name: 'Up next',
    updated_at: iso(2_000_000),
    items: Array.from({ length: items }, (_, n) => ({
      item_id: `item-${n}`,
      rss_source_feed: `https://feeds.example.com/podcast-${n % 50}/rss.xml`,
      rss_source_id: `queued-${n}-guid`,
      item_title: `Episode ${n}: a title of a typical length`,
      created_at: iso(2_000_000 + n),
      updated_at: iso(2_000_000 + n),
    })),
  };
  const body = Buffer.from(
    JSON.stringify({ device: 'bench-phone', request_id: requestId, since, subscriptions: [], play_statuses: [], playlists: [playlist] }),
  );
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  try {
    const started = performance.now();
    const synced = await fetch(`${base}/v1/sync`, { method: 'POST', headers, body });
    const applied = ((await synced.json()) as SyncAnswer).applied;
    const syncMs = performance.now() - started;
    // The playlist's own event, a save per item, the closing `sync`.
    if (synced.status !== 200 || applied.events !== items + 2) throw new Error(`the playlist's sync answered ${synced.status}, ${applied.events} events`);
    const reading = performance.now();
    const read = await fetch(`${base}/v1/playlists`, { headers });
    const answer = (await read.json()) as { playlists: { items: unknown[] }[] };
    const readMs = performance.now() - reading;
    if (read.status !== 200 || answer.playlists[0]?.items.length !== items)
      throw new Error(`GET /v1/playlists answered ${read.status} without the ${items} items`);
    const projectedMs = await settle(service);
    return { syncMs, readMs, projectedMs: readMs + projectedMs, loopDelayMaxMs: delay.max / 1e6 };
  } finally {
    delay.disable();
  }
}

/** Milliseconds until every projection has reached the store's head. */
async function settle(service: Service): Promise<number> {
  const started = performance.now();
  const head = await service.stores.eventStore.headPosition();
  const readModels = new ReadModelService(service.stores.eventStore, service.stores.readModel);
  if (!(await readModels.waitFor(service.projector.names, head, 120_000))) throw new Error('projections did not catch up within 120 s');
  return performance.now() - started;
}

async function login(base: string): Promise<string> {
  const credentials = JSON.stringify({ username: 'bench', password: 'a long bench password' });
  const headers = { 'content-type': 'application/json' };
  const registered = await fetch(`${base}/v1/auth/register`, { method: 'POST', headers, body: credentials });
  if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
  const issued = await fetch(`${base}/v1/auth/token`, { method: 'POST', headers, body: credentials });
  const { token } = (await issued.json()) as { token: string };
  return token;
}

/** The client's state: play statuses spread evenly over the subscribed feeds. */
function clientState(config: SyncBenchConfig) {
  const feed = (n: number) => `https://feeds.example.com/podcast-${n}/rss.xml`;
  const subscriptions = Array.from({ length: config.subscriptions }, (_, n) => ({
    rss_source_feed: feed(n),
    rss_feed_title: `Podcast number ${n}`,
    subscribed_at: iso(n),
  }));
  const play_statuses: PlayStatus[] = Array.from({ length: config.plays }, (_, n) => ({
    rss_source_feed: feed(n % config.subscriptions),
    rss_source_id: `episode-${n}-guid`,
    played: n % 3 === 0,
    position: n % 3600,
    updated_at: iso(100_000 + n),
    rss_feed_title: `Podcast number ${n % config.subscriptions}`,
    rss_item_title: `Episode ${n}: a title of a typical length`,
  }));
  return { subscriptions, play_statuses };
}

/** Round `round` moves `count` play statuses forward in time (different ones each round). */
function changePlays(plays: PlayStatus[], round: number, count: number): void {
  for (let k = 0; k < count; k++) {
    const play = plays[(round * count + k) % plays.length]!;
    play.position += 30;
    play.updated_at = iso(1_000_000 + round * count + k);
  }
}

function readConfig(): SyncBenchConfig {
  const quick = process.env['BENCH_QUICK'] === '1';
  return {
    subscriptions: positiveIntegerFromEnv('BENCH_SUBSCRIPTIONS', 1_000),
    plays: positiveIntegerFromEnv('BENCH_PLAYS', 10_000),
    noop: positiveIntegerFromEnv('BENCH_NOOP', quick ? 5 : 30),
    changed: positiveIntegerFromEnv('BENCH_CHANGED', quick ? 5 : 30),
    changesPerResync: 100,
    playlistItems: positiveIntegerFromEnv('BENCH_PLAYLIST_ITEMS', 5_000),
  };
}

// Runnable on its own: the JSON summary is the last stdout line.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchSync();
  console.log(JSON.stringify(result));
}
