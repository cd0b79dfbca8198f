/**
 * Load test: the embedded service as its own process (the command the Docker image runs, on a
 * loopback port, temporary DATA_DIR, projector running), seeded with users who subscribe, play
 * and share publicly; then autocannon sends a fixed rate of mixed traffic for a fixed time:
 *
 * - reads (80 %): popular podcasts, popular episodes, public events, and a user's
 *   subscriptions with their bearer token (read-your-writes: it waits for the projector when
 *   that user has just written);
 * - writes (20 %): `POST /v1/events` (a play) and `POST /v1/sync` (a small client state with
 *   one newer play status, from the cursor of the user's last sync answer, as a client that
 *   keeps what it was sent asks: only what changed since), for random users.
 *
 * The target is measured open loop: requests are sent at a fixed rate (request i due at
 * start + i / rate, whatever the answers before it) and each latency counts from when the
 * request was due, so stalls are not hidden (no coordinated omission). Then autocannon finds
 * the ceiling: the same mix at fixed concurrency, as fast as the service answers.
 *
 * Run: `npm run bench -- load` or `npx tsx scripts/bench/load.ts`.
 * Tunables: BENCH_LOAD_RATE (req/s, default 2000), BENCH_LOAD_SECONDS (default 20; 5 with
 * BENCH_QUICK=1), BENCH_LOAD_USERS (default 40; 20 with BENCH_QUICK=1), BENCH_LOAD_WRITE_SHARE
 * (default 0.2), BENCH_LOAD_WARMUP (unmeasured seconds first, default 3), BENCH_LOAD_NODE_ARGS (extra
 * node flags for the service process, e.g. to profile it).
 * Target (2-core machine, issue 17): reads p99 < 20 ms at 2,000 req/s.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import type { BenchResult } from './append.js';
import { SERVICE_V8_FLAGS } from '../service-flags.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const READS_P99_TARGET_MS = 20;
const FEEDS = 60;
const BASE_TIME = Date.UTC(2026, 0, 1);

interface LoadConfig {
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly users: number;
  readonly writeShare: number;
}

interface Seeded {
  readonly username: string;
  readonly token: string;
  readonly feeds: number[];
  /** The `since` of the last sync answer this user's device got (a real client keeps it). */
  cursor?: string;
}

function readConfig(): LoadConfig {
  const quick = process.env['BENCH_QUICK'] === '1';
  const writeShare = Number(process.env['BENCH_LOAD_WRITE_SHARE'] ?? '0.2');
  if (!(writeShare > 0 && writeShare < 1)) throw new Error('BENCH_LOAD_WRITE_SHARE must be between 0 and 1 (exclusive)');
  return {
    rate: positiveInteger('BENCH_LOAD_RATE', 2000),
    seconds: positiveInteger('BENCH_LOAD_SECONDS', quick ? 5 : 20),
    warmupSeconds: positiveInteger('BENCH_LOAD_WARMUP', 3),
    users: positiveInteger('BENCH_LOAD_USERS', quick ? 20 : 40),
    writeShare,
  };
}

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${text}"`);
  return value;
}

const feedUrl = (feed: number) => `https://feeds.example.com/show-${feed}/rss.xml`;
const iso = (ms: number) => new Date(ms).toISOString();
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

export async function benchLoad(log: (line: string) => void = console.log): Promise<BenchResult> {
  const config = readConfig();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-bench-load-'));
  // BENCH_LOAD_NODE_ARGS: extra node flags for the service (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p` to profile it).
  const server = await startServer(dataDir, [...SERVICE_V8_FLAGS, ...(process.env['BENCH_LOAD_NODE_ARGS'] ?? '').split(' ').filter(Boolean)]);
  try {
    const base = `http://127.0.0.1:${server.port}`;
    log(
      `load: service on ${base} (pid ${server.child.pid}), ${config.users} users, ${config.rate} req/s for ${config.seconds} s, ${Math.round(config.writeShare * 100)} % writes`,
    );
    const seedStarted = Date.now();
    const users = await seed(base, config.users);
    await waitCaughtUp(base);
    log(`  seeded in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);

    // Warm-up (JIT, SQLite page cache), not measured.
    await paced(base, users, config, config.warmupSeconds);
    await waitCaughtUp(base);
    const { reads, writes } = await paced(base, users, config, config.seconds);
    log(formatSide('reads', reads));
    log(formatSide('writes', writes));
    const met = reads.p99 < READS_P99_TARGET_MS;
    log(`  reads p99 target < ${READS_P99_TARGET_MS} ms at ${config.rate} req/s: ${met ? 'met' : 'MISSED'}`);

    // Then the ceiling: autocannon, closed loop (each connection sends when answered).
    await waitCaughtUp(base);
    const ceiling = await saturate(base, users, config);
    const rssMb = await serverRssMb(base);
    log(
      `  ceiling (autocannon, ${ceiling.connections} connections, ${ceiling.seconds} s): ${ceiling.rps} req/s, p50 ${ceiling.result.latency.p50} ms, p99 ${ceiling.result.latency.p99} ms, ` +
        `non-2xx ${ceiling.result.non2xx}${statuses(ceiling.result)}; server RSS ${rssMb} MB`,
    );
    return {
      bench: 'load',
      rate: config.rate,
      seconds: config.seconds,
      users: config.users,
      reads_rps: reads.rps,
      reads_p50_ms: reads.p50,
      reads_p99_ms: reads.p99,
      reads_max_ms: reads.max,
      writes_rps: writes.rps,
      writes_p50_ms: writes.p50,
      writes_p99_ms: writes.p99,
      writes_max_ms: writes.max,
      non2xx: reads.non2xx + writes.non2xx + ceiling.result.non2xx,
      errors: reads.errors + writes.errors + ceiling.result.errors,
      ceiling_rps: ceiling.rps,
      ceiling_p99_ms: ceiling.result.latency.p99,
      server_rss_mb: rssMb,
      reads_p99_target: met ? 'met' : 'missed',
    };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface SideStats {
  rps: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
}

function formatSide(name: string, side: SideStats): string {
  return `  ${name.padEnd(6)} ${String(side.rps).padStart(5)} req/s  p50 ${side.p50} ms  p99 ${side.p99} ms  max ${side.max} ms  non-2xx ${side.non2xx}  errors ${side.errors}`;
}

/**
 * An open-loop, fixed-rate load: request i is due at start + i / rate whatever the answers
 * before it, and its latency counts from when it was due, so a stall delays (and counts
 * against) every request scheduled behind it. autocannon's `overallRate` is not this: each
 * connection sends its per-second budget back to back at the start of every second, which
 * measures bursts of `connections` concurrent requests, not a steady arrival rate.
 */
async function paced(base: string, users: readonly Seeded[], config: LoadConfig, seconds: number): Promise<{ reads: SideStats; writes: SideStats }> {
  // Idle sockets are dropped after 4 s, before any server's keep-alive timeout (the service's
  // KEEP_ALIVE_TIMEOUT_MS, Node's default 5 s elsewhere) closes them: a request sent on a socket
  // the server is closing fails (ECONNRESET) and is counted as an error of the service. Without a
  // timeout of its own the agent ignores the server's hint.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128, timeout: 4_000 });
  const total = Math.round(config.rate * seconds);
  const interval = 1000 / config.rate;
  const samples = { reads: [] as number[], writes: [] as number[] };
  const failures = { reads: { non2xx: 0, errors: 0 }, writes: { non2xx: 0, errors: 0 } };
  const pending = new Set<Promise<void>>();
  const started = performance.now() + 20;
  for (let index = 0; index < total;) {
    const now = performance.now();
    // Send everything due by now (timers fire late by a millisecond or so: catch up in one go).
    for (; index < total && started + index * interval <= now; index++) {
      const due = started + index * interval;
      const side = Math.random() < config.writeShare ? 'writes' : 'reads';
      const template = side === 'writes' ? writeRequest(BLANK, users) : readRequest(BLANK, users);
      const sent: Promise<void> = send(agent, base, template).then(
        (status) => {
          samples[side].push(performance.now() - due);
          if (status < 200 || status > 299) failures[side].non2xx++;
        },
        () => {
          failures[side].errors++;
        },
      );
      pending.add(sent);
      void sent.finally(() => pending.delete(sent));
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + index * interval - performance.now())));
  }
  await Promise.all(pending);
  agent.destroy();
  const stats = (side: 'reads' | 'writes'): SideStats => {
    const sorted = samples[side].sort((a, b) => a - b);
    const at = (q: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10;
    return { rps: Math.round(sorted.length / seconds), p50: at(0.5), p99: at(0.99), max: at(1), ...failures[side] };
  };
  return { reads: stats('reads'), writes: stats('writes') };
}

const BLANK: autocannon.Request = {};

function send(agent: http.Agent, base: string, request: autocannon.Request): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(`${base}${request.path ?? '/'}`, { method: request.method ?? 'GET', agent, headers: request.headers ?? {} }, (response) => {
      const chunks: Buffer[] = [];
      if (typeof request.onResponse === 'function') response.on('data', (chunk: Buffer) => chunks.push(chunk));
      else response.resume();
      response.on('end', () => {
        if (typeof request.onResponse === 'function') request.onResponse(response.statusCode ?? 0, Buffer.concat(chunks).toString(), {}, response.headers);
        resolve(response.statusCode ?? 0);
      });
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(typeof request.body === 'string' || Buffer.isBuffer(request.body) ? request.body : undefined);
  });
}

/** The mix at fixed concurrency (16 connections), as fast as the service answers. */
async function saturate(base: string, users: readonly Seeded[], config: LoadConfig) {
  const seconds = Math.min(config.seconds, 10);
  const connections = 16;
  const setupRequest = (request: autocannon.Request) => (Math.random() < config.writeShare ? writeRequest(request, users) : readRequest(request, users));
  const result = await autocannon({ url: base, connections, duration: seconds, requests: [{ setupRequest }] });
  return { result, connections, seconds, rps: Math.round(result.requests.total / result.duration) };
}

/** The non-2xx statuses seen, e.g. ` (429: 12)`, to tell what went wrong. */
function statuses(result: autocannon.Result): string {
  const failed = Object.entries(result.statusCodeStats ?? {}).filter(([code]) => !code.startsWith('2'));
  return failed.length === 0 ? '' : ` (${failed.map(([code, stats]) => `${code}: ${stats.count ?? 0}`).join(', ')})`;
}

export function readRequest(request: autocannon.Request, users: readonly Seeded[]): autocannon.Request {
  const roll = Math.random();
  if (roll < 0.2) return { ...request, method: 'GET', path: '/v1/popular/podcasts?limit=20', headers: {} };
  if (roll < 0.4)
    return {
      ...request,
      method: 'GET',
      path: `/v1/popular/episodes?limit=20${Math.random() < 0.5 ? `&feed=${encodeURIComponent(feedUrl(Math.floor(Math.random() * FEEDS)))}` : ''}`,
      headers: {},
    };
  if (roll < 0.65) return { ...request, method: 'GET', path: '/v1/public/events?limit=20', headers: {} };
  return { ...request, method: 'GET', path: '/v1/subscriptions', headers: { authorization: `Bearer ${pick(users).token}` } };
}

/** `episodesPerFeed`: how many episodes of each feed the plays pick from (the soak keeps users' states from growing all run long). */
export function writeRequest(request: autocannon.Request, users: readonly Seeded[], episodesPerFeed = 200): autocannon.Request {
  const user = pick(users);
  const headers = { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' };
  const feed = pick(user.feeds);
  const episode = Math.floor(Math.random() * episodesPerFeed);
  const now = Date.now();
  if (Math.random() < 0.7) {
    const play = {
      type: 'play',
      timestamp: iso(now),
      object: { rss_source_feed: feedUrl(feed), rss_source_id: `ep-${feed}-${episode}` },
      data: { played: Math.random() < 0.5, position: Math.floor(Math.random() * 3600) },
    };
    return { ...request, method: 'POST', path: '/v1/events', headers, body: JSON.stringify({ events: [play] }) };
  }
  // A small client: its subscriptions and one play status changed just now, asking for what
  // changed since its last answer (without `since` every sync would be answered the user's whole
  // history, growing all run long: a first sync each time).
  const body = {
    device: 'load-phone',
    request_id: randomUUID(),
    ...(user.cursor !== undefined ? { since: user.cursor } : {}),
    subscriptions: user.feeds.map((subscribed) => ({ rss_source_feed: feedUrl(subscribed), subscribed_at: iso(BASE_TIME) })),
    play_statuses: [
      {
        rss_source_feed: feedUrl(feed),
        rss_source_id: `ep-${feed}-${episode}`,
        played: false,
        position: Math.floor(Math.random() * 3600),
        updated_at: iso(now),
      },
    ],
    playlists: [],
  };
  return {
    ...request,
    method: 'POST',
    path: '/v1/sync',
    headers,
    body: JSON.stringify(body),
    onResponse: (status: number, answer: string) => {
      if (status === 200) user.cursor = (JSON.parse(answer) as { since: string }).since;
    },
  };
}

async function post(url: string, body: unknown, token?: string): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const answer: unknown = await response.json();
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** Users who share publicly, each subscribed to 8 feeds with ~40 plays, some liked. */
export async function seed(base: string, count: number): Promise<Seeded[]> {
  const users: Seeded[] = [];
  // Registration hashes with scrypt (~0.1 s): a few at a time.
  for (let first = 0; first < count; first += 4) {
    const batch = Array.from({ length: Math.min(4, count - first) }, (_unused, offset) => first + offset);
    users.push(...(await Promise.all(batch.map((index) => seedUser(base, index)))));
  }
  return users;
}

async function seedUser(base: string, index: number): Promise<Seeded> {
  const username = `load-user-${index}`;
  const password = 'load test password';
  await post(`${base}/v1/auth/register`, { username, password });
  const { token } = (await post(`${base}/v1/auth/token`, { username, password })) as { token: string };
  const feeds = Array.from({ length: 8 }, (_unused, n) => (index * 7 + n * 3) % FEEDS);
  const events: object[] = [{ type: 'privacy', timestamp: iso(BASE_TIME), object: null, data: { privacy: 'public' } }];
  for (const feed of feeds)
    events.push({ type: 'subscribe', timestamp: iso(BASE_TIME + 1000), object: { rss_source_feed: feedUrl(feed) }, data: { rss_feed_title: `Show ${feed}` } });
  for (let n = 0; n < 40; n++) {
    const feed = feeds[n % feeds.length]!;
    const object = { rss_source_feed: feedUrl(feed), rss_source_id: `ep-${feed}-${n}` };
    events.push({
      type: 'play',
      timestamp: iso(BASE_TIME + 60_000 * (n + 2)),
      object,
      data: { played: n % 2 === 0, position: n * 30, rss_item_title: `Episode ${n}` },
    });
    if (n % 5 === 0) events.push({ type: 'save', timestamp: iso(BASE_TIME + 60_000 * (n + 2) + 1), object, data: {} });
  }
  await post(`${base}/v1/events`, { events }, token);
  return { username, token, feeds };
}

/** Until /readyz reports every projection with no lag. */
export async function waitCaughtUp(base: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await fetch(`${base}/readyz`);
    const body = (await response.json()) as { projections?: Record<string, { lag: number }> };
    if (response.ok && Object.values(body.projections ?? {}).every((projection) => projection.lag === 0)) return;
    if (Date.now() > deadline) throw new Error(`projections did not catch up within 60 s: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function serverRssMb(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const bytes = Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
  return Math.round(bytes / 2 ** 20);
}

interface Server {
  readonly child: ChildProcess;
  readonly port: number;
  stop(): Promise<void>;
}

/** `node [nodeArgs] --import tsx src/main.ts` on a free loopback port; resolves when it listens. `env` adds to (or overrides) its settings. */
export async function startServer(dataDir: string, nodeArgs: readonly string[] = [], env: Readonly<Record<string, string>> = {}): Promise<Server> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    // All the load comes from one address and a few tokens: the per-client rate limit is off.
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      RATE_LIMIT_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the service did not start within 20 s')), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      // info lines are few (start, stop); requests log at the `http` level, below info.
      const listening = output
        .split('\n')
        .filter((line) => line.includes('podsync listening'))
        .map((line) => JSON.parse(line) as { port?: number })[0];
      if (listening?.port !== undefined) {
        clearTimeout(timer);
        resolve(listening.port);
      }
    });
    void exited.then((code) => reject(new Error(`the service exited with ${code} before listening`)));
  });
  return {
    child,
    port,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

// Runnable on its own: the JSON summary is the last stdout line, for scripts that collect results.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchLoad();
  console.log(JSON.stringify(result));
}
