/**
 * Soak: the embedded service as its own process (as `npm run bench -- load` starts it) under a
 * steady mixed load for minutes, with users coming and going, to see whether its memory settles.
 * Every long-lived structure in the service is meant to be bounded (the folded-user cache, the
 * remembered gpodder logins, the rate limiter's buckets, the public views' answers, …); a
 * structure keyed by something that keeps changing (users, sessions, client addresses, device
 * names, query strings) would grow with the run instead. So besides the load benchmark's mix, the
 * run keeps creating users who log in over the gpodder API (a session each), name a new device,
 * upload and download actions, sync natively, read public pages with new queries, from client
 * addresses never seen before (`X-Forwarded-For`, the rate limiter on), and deletes the oldest of
 * them, so the number of live users stays about constant while every key is new. The mix's plays
 * pick from a few episodes a feed, so the seeded users' play statuses all exist after the first
 * minutes; their syncs' request ids still accumulate (kept for retries, until retention).
 *
 * Every 10 s it reads the service's /metrics: resident memory (every thread), the main thread's
 * V8 heap and external memory, the event loop's lag. The last line is the summary; the question is
 * `heap_floor_growth_mb` (the lowest heap of the run's last third against its first third, after a
 * warm-up minute: what survived the garbage collector) and the same for `rss_mb`.
 *
 * The heap figures sampled are noisy (they count garbage not yet collected, up to the 64 MB
 * semi-spaces the service runs with). With BENCH_SOAK_HEAP_SNAPSHOTS=1 the run also takes two heap
 * snapshots of the service's main thread (`--heapsnapshot-signal`: V8 collects the garbage first),
 * after its first third and at its end: `live_heap_mb_first`/`_last` are what was reachable then,
 * and the log names the kinds of objects that grew most in between. Taking a snapshot of a heap
 * of tens of MB raises the process's resident memory by a few hundred MB that it keeps, so the
 * RSS figures of such a run say nothing. BENCH_SOAK_SNAPSHOT_DIR=<dir> keeps the snapshots there.
 *
 * Run: `npm run bench -- soak`. Tunables: BENCH_SOAK_MINUTES (default 10; 2 with BENCH_QUICK=1),
 * BENCH_SOAK_RATE (requests/s of the mix, default 400), BENCH_SOAK_CHURN (users created, and as
 * many deleted, per second, default 2). Not part of `npm run bench` with no name (it is long).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type autocannon from 'autocannon';
import type { BenchResult } from './append.js';
import { readRequest, seed, startServer, waitCaughtUp, writeRequest } from './load.js';
import { SERVICE_V8_FLAGS } from '../service-flags.js';

const SAMPLE_EVERY_MS = 10_000;
const WARMUP_MS = 60_000;
const LIVE_CHURN_USERS = 40;
/**
 * The mix's plays pick from this many episodes of each of a user's 8 feeds (the load benchmark's
 * 200): every play status exists within the first minutes, so the seeded users' states stop
 * growing and what grows after is the service's, not the data's.
 */
const EPISODES_PER_FEED = 10;
const PASSWORD = 'soak test password';

interface Sample {
  readonly at: number;
  readonly rssMb: number;
  readonly heapMb: number;
  readonly externalMb: number;
  readonly lagP99Ms: number;
}

interface Counters {
  requests: number;
  failures: number;
  created: number;
  deleted: number;
  readonly statuses: Record<string, number>;
}

export async function benchSoak(log: (line: string) => void = console.log): Promise<BenchResult> {
  const quick = process.env['BENCH_QUICK'] === '1';
  const minutes = Number(process.env['BENCH_SOAK_MINUTES'] ?? (quick ? 2 : 10));
  const rate = Number(process.env['BENCH_SOAK_RATE'] ?? 400);
  const churn = Number(process.env['BENCH_SOAK_CHURN'] ?? 2);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-bench-soak-'));
  // BENCH_SOAK_SNAPSHOT_DIR keeps the snapshots there (for Chromium's DevTools), else they go with the run.
  const keptSnapshots = process.env['BENCH_SOAK_SNAPSHOT_DIR'];
  const snapshotDir = keptSnapshots ?? mkdtempSync(path.join(tmpdir(), 'podsync-bench-soak-heap-'));
  // The rate limiter on (high enough never to refuse), and client addresses taken from
  // X-Forwarded-For, so that every churned user comes from an address of its own.
  const heapSnapshots = process.env['BENCH_SOAK_HEAP_SNAPSHOTS'] === '1';
  const snapshotFlags = heapSnapshots ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] : [];
  const server = await startServer(dataDir, [...SERVICE_V8_FLAGS, ...snapshotFlags], {
    RATE_LIMIT_PER_MINUTE: '100000',
    TRUST_PROXY: 'loopback',
  });
  const snapshots: HeapSummary[] = [];
  const takeSnapshot = async () => {
    server.child.kill('SIGUSR2');
    snapshots.push(await heapSnapshotSummary(snapshotDir, snapshots.length + 1));
    log(`  heap snapshot ${snapshots.length}: ${snapshots.at(-1)!.liveMb} MB reachable`);
  };
  const base = `http://127.0.0.1:${server.port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 4_000 });
  const counters: Counters = { requests: 0, failures: 0, created: 0, deleted: 0, statuses: {} };
  try {
    log(`soak: service on ${base} (pid ${server.child.pid}), ${minutes} min, ${rate} req/s of the load mix, ${churn} users created and deleted per second`);
    const users = await seed(base, 40);
    await waitCaughtUp(base);
    const samples: Sample[] = [];
    const started = Date.now();
    const until = started + minutes * 60_000;
    const live: ChurnUser[] = [];
    let serial = 0;
    const pending = new Set<Promise<void>>();
    const track = (work: Promise<void>) => {
      pending.add(work);
      void work.finally(() => pending.delete(work));
    };
    const sampler = setInterval(() => {
      void sample(base).then((next) => {
        samples.push({ ...next, at: Date.now() - started });
        log(
          `  ${((Date.now() - started) / 60_000).toFixed(1).padStart(5)} min  rss ${next.rssMb} MB  heap ${next.heapMb} MB  external ${next.externalMb} MB  ` +
            `lag p99 ${next.lagP99Ms} ms  users +${counters.created} −${counters.deleted}  requests ${counters.requests} (failed ${counters.failures})`,
        );
      });
    }, SAMPLE_EVERY_MS);
    let tick = 0;
    let snapshotTaken = !heapSnapshots;
    // The pace's origin: moved on by the time a snapshot holds the service, so that the requests
    // due meanwhile are not sent in one burst after it.
    let origin = started;
    const interval = 1000 / rate;
    const churnEvery = Math.max(1, Math.round(rate / churn));
    while (Date.now() < until) {
      const due = origin + tick * interval;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      tick++;
      const template = Math.random() < 0.2 ? writeRequest({}, users, EPISODES_PER_FEED) : readRequest({}, users);
      track(send(agent, base, template, counters));
      if (tick % churnEvery === 0) {
        track(churnIn(agent, base, ++serial, counters).then((user) => void live.push(user)));
        // All past the bound go: users created while the service was slow arrive together.
        while (live.length > LIVE_CHURN_USERS) track(churnOut(agent, base, live.shift()!, counters));
      }
      // Public pages with queries never asked before: their answers are cached, boundedly.
      if (tick % 50 === 0)
        track(
          send(
            agent,
            base,
            { method: 'GET', path: `/v1/public/events?limit=${1 + (tick % 200)}&before=${encodeURIComponent(new Date(Date.now() - tick).toISOString())}` },
            counters,
          ),
        );
      if (!snapshotTaken && Date.now() - started > (minutes * 60_000) / 3) {
        snapshotTaken = true;
        const held = Date.now();
        await takeSnapshot();
        origin += Date.now() - held;
      }
    }
    await Promise.all(pending);
    clearInterval(sampler);
    await waitCaughtUp(base);
    samples.push({ ...(await sample(base)), at: Date.now() - started });
    if (heapSnapshots) {
      await takeSnapshot();
      for (const line of grownMost(snapshots[0]!, snapshots[1]!)) log(line);
    }
    agent.destroy();
    const settled = samples.filter((s) => s.at >= Math.min(WARMUP_MS, (minutes * 60_000) / 3));
    const third = Math.max(1, Math.floor(settled.length / 3));
    const first = settled.slice(0, third);
    const last = settled.slice(-third);
    const floor = (part: readonly Sample[], of: (s: Sample) => number) => Math.min(...part.map(of));
    const round = (value: number) => Math.round(value * 10) / 10;
    const result: BenchResult = {
      bench: 'soak',
      minutes,
      rate,
      churn_per_s: churn,
      requests: counters.requests,
      failures: counters.failures,
      users_created: counters.created,
      users_deleted: counters.deleted,
      rss_mb_first: floor(first, (s) => s.rssMb),
      rss_mb_last: floor(last, (s) => s.rssMb),
      rss_mb_max: Math.max(...samples.map((s) => s.rssMb)),
      heap_floor_mb_first: floor(first, (s) => s.heapMb),
      heap_floor_mb_last: floor(last, (s) => s.heapMb),
      heap_floor_growth_mb: round(floor(last, (s) => s.heapMb) - floor(first, (s) => s.heapMb)),
      rss_growth_mb: round(floor(last, (s) => s.rssMb) - floor(first, (s) => s.rssMb)),
      lag_p99_ms_max: Math.max(...samples.map((s) => s.lagP99Ms)),
      ...(heapSnapshots ? { live_heap_mb_first: snapshots[0]!.liveMb, live_heap_mb_last: snapshots[1]!.liveMb } : {}),
      data_dir_mb: round(directoryBytes(dataDir) / 2 ** 20),
    };
    const failed = Object.entries(counters.statuses).filter(([status]) => !status.startsWith('2') && !status.startsWith('3'));
    if (failed.length > 0) log(`  answers other than 2xx/3xx: ${failed.map(([status, count]) => `${status}: ${count}`).join(', ')}`);
    return result;
  } finally {
    agent.destroy();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (keptSnapshots === undefined) rmSync(snapshotDir, { recursive: true, force: true });
  }
}

interface HeapSummary {
  readonly liveMb: number;
  /** Bytes and counts by the objects' kind and constructor name. */
  readonly byName: ReadonlyMap<string, { bytes: number; count: number }>;
}

/** Waits for the service's `count`th heap snapshot to be written whole, and sums what it holds. */
async function heapSnapshotSummary(directory: string, count: number): Promise<HeapSummary> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const files = readdirSync(directory)
      .filter((name) => name.endsWith('.heapsnapshot'))
      .sort();
    const file = files[count - 1];
    if (file !== undefined) {
      try {
        return summarise(JSON.parse(readFileSync(path.join(directory, file), 'utf8')) as HeapSnapshot);
      } catch {
        // Still being written.
      }
    }
    if (Date.now() > deadline) throw new Error(`no heap snapshot ${count} in ${directory} within 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

interface HeapSnapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: [string[], ...unknown[]] } };
  readonly nodes: number[];
  readonly strings: string[];
}

function summarise(heap: HeapSnapshot): HeapSummary {
  const fields = heap.snapshot.meta.node_fields;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field)) as [number, number, number];
  const types = heap.snapshot.meta.node_types[0];
  const byName = new Map<string, { bytes: number; count: number }>();
  let live = 0;
  for (let at = 0; at < heap.nodes.length; at += width) {
    const bytes = heap.nodes[at + sizeAt]!;
    live += bytes;
    const type = types[heap.nodes[at + typeAt]!]!;
    // Strings by their kind only (their names are their contents).
    const name =
      type === 'string' || type === 'concatenated string' || type === 'sliced string'
        ? type
        : `${type} ${heap.strings[heap.nodes[at + nameAt]!]!.slice(0, 60)}`;
    const entry = byName.get(name) ?? { bytes: 0, count: 0 };
    entry.bytes += bytes;
    entry.count++;
    byName.set(name, entry);
  }
  return { liveMb: Math.round((live / 2 ** 20) * 10) / 10, byName };
}

function grownMost(first: HeapSummary, last: HeapSummary): string[] {
  const growth = [...last.byName].map(([name, { bytes, count }]) => {
    const before = first.byName.get(name) ?? { bytes: 0, count: 0 };
    return { name, bytes: bytes - before.bytes, count: count - before.count };
  });
  return [
    '  grown most between the snapshots (bytes, objects):',
    ...growth
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 12)
      .map(({ name, bytes, count }) => `    ${(bytes / 2 ** 20).toFixed(2).padStart(8)} MB ${String(count).padStart(9)}  ${name}`),
  ];
}

interface ChurnUser {
  readonly username: string;
  readonly token: string;
  readonly address: string;
}

/** A new user from a new address: registers, logs in over gpodder (a session), uploads and downloads actions on a new device, syncs natively. */
async function churnIn(agent: http.Agent, base: string, serial: number, counters: Counters): Promise<ChurnUser> {
  const username = `soak-${serial}-${randomUUID().slice(0, 8)}`;
  const address = `10.${(serial >> 16) & 255}.${(serial >> 8) & 255}.${serial & 255}`;
  const headers = { 'x-forwarded-for': address, 'content-type': 'application/json' };
  await send(agent, base, { method: 'POST', path: '/v1/auth/register', headers, body: JSON.stringify({ username, password: PASSWORD }) }, counters);
  const token = await sendJson<{ token: string }>(
    agent,
    base,
    { method: 'POST', path: '/v1/auth/token', headers, body: JSON.stringify({ username, password: PASSWORD }) },
    counters,
  );
  const basic = { ...headers, authorization: `Basic ${Buffer.from(`${username}:${PASSWORD}`).toString('base64')}`, 'user-agent': `SoakApp/${serial}` };
  await send(agent, base, { method: 'POST', path: `/api/2/auth/${username}/login.json`, headers: basic }, counters);
  const device = `device-${randomUUID()}`;
  const now = Math.floor(Date.now() / 1000);
  const actions = Array.from({ length: 20 }, (_unused, n) => ({
    podcast: `https://feeds.example.com/show-${serial % 60}/rss.xml`,
    episode: `https://media.example.com/${serial}/${n}.mp3`,
    action: 'play',
    timestamp: new Date((now - n) * 1000).toISOString().slice(0, 19),
    started: 0,
    position: 60 * n,
    total: 3600,
    device,
  }));
  await send(
    agent,
    base,
    {
      method: 'POST',
      path: `/api/2/subscriptions/${username}/${device}.json`,
      headers: basic,
      body: JSON.stringify({ add: [actions[0]!.podcast], remove: [] }),
    },
    counters,
  );
  await send(agent, base, { method: 'POST', path: `/api/2/episodes/${username}.json`, headers: basic, body: JSON.stringify(actions) }, counters);
  await send(agent, base, { method: 'GET', path: `/api/2/episodes/${username}.json?since=0`, headers: basic }, counters);
  const sync = { device, request_id: randomUUID(), subscriptions: [], play_statuses: [], playlists: [] };
  await send(
    agent,
    base,
    { method: 'POST', path: '/v1/sync', headers: { ...headers, authorization: `Bearer ${token.token}` }, body: JSON.stringify(sync) },
    counters,
  );
  counters.created++;
  return { username, token: token.token, address };
}

async function churnOut(agent: http.Agent, base: string, user: ChurnUser, counters: Counters): Promise<void> {
  await send(agent, base, { method: 'DELETE', path: '/v1/me', headers: { 'x-forwarded-for': user.address, authorization: `Bearer ${user.token}` } }, counters);
  counters.deleted++;
}

function send(agent: http.Agent, base: string, request: autocannon.Request, counters: Counters): Promise<void> {
  return sendJson(agent, base, request, counters).then(() => undefined);
}

function sendJson<T>(agent: http.Agent, base: string, request: autocannon.Request, counters: Counters): Promise<T> {
  return new Promise((resolve) => {
    counters.requests++;
    const chunks: Buffer[] = [];
    const fail = () => {
      counters.failures++;
      resolve({} as T);
    };
    const outgoing = http.request(`${base}${request.path ?? '/'}`, { method: request.method ?? 'GET', agent, headers: request.headers ?? {} }, (response) => {
      const status = String(response.statusCode ?? 0);
      counters.statuses[status] = (counters.statuses[status] ?? 0) + 1;
      if (!status.startsWith('2') && !status.startsWith('3')) counters.failures++;
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString() || '{}') as T);
        } catch {
          resolve({} as T);
        }
      });
      response.on('error', fail);
    });
    outgoing.on('error', fail);
    outgoing.end(typeof request.body === 'string' ? request.body : undefined);
  });
}

async function sample(base: string): Promise<Omit<Sample, 'at'>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  return {
    rssMb: mb(metric('process_resident_memory_bytes')),
    heapMb: mb(metric('nodejs_heap_size_used_bytes')),
    externalMb: mb(metric('nodejs_external_memory_bytes')),
    lagP99Ms: Math.round(metric('nodejs_eventloop_lag_p99_seconds') * 1000),
  };
}

function directoryBytes(directory: string): number {
  let total = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const full = path.join(directory, entry.name);
    total += entry.isDirectory() ? directoryBytes(full) : statSync(full).size;
  }
  return total;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchSoak();
  console.log(JSON.stringify(result));
}
