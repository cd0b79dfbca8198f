/**
 * gpodder episode actions over HTTP, against the whole service (in-process, real HTTP server
 * on a loopback port, temporary embedded store, projector running):
 *
 * 1. BENCH_ACTIONS actions (default 10,000) uploaded in batches of 100 (gPodder's size, with
 *    its device id in each action);
 * 2. the same number, for a second user, in batches of 30 (AntennaPod's, without device ids);
 * 3. the first user's actions downloaded with `since`, page after page, once the read models
 *    have caught up (the time that takes is reported too), after the store files' size is taken
 *    (`bytes_per_action`: both users' actions, their logs written back); `download_server_ms` is
 *    the server's share (its request-duration metric: this client parses on the same thread);
 * 4. BENCH_ACTIONS actions in one request (a client's first sync of a long history);
 * 5. batches of 30 again with the projector paused, then that user's download while it is still
 *    paused (every action made from the user's events: `download_ahead_*`), then its catch-up
 *    (by the in-process projector, as PROJECTOR=inline runs it: the service's projector thread
 *    is stopped for the pause), which separates the API's own cost from the read models'.
 *
 * Clients authenticate as they do: HTTP Basic, keeping the `sessionid` cookie.
 *
 * Run: `npm run bench -- gpodder` or `npx tsx scripts/bench/gpodder.ts`.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { drain, startService } from '../../src/service.js';
import { ReadModelService } from '../../src/services/read-models.js';
import type { BenchResult } from './append.js';
import { positiveIntegerFromEnv } from './env.js';
import { formatRate, percentile, round } from './figures.js';
import { listenServing } from '../../src/http/server.js';

const PASSWORD = 'a long bench password';

interface Client {
  readonly username: string;
  readonly headers: Record<string, string>;
}

export async function benchGpodder(log: (line: string) => void = console.log): Promise<BenchResult> {
  const count = positiveIntegerFromEnv('BENCH_ACTIONS', 10_000);
  const directory = mkdtempSync(join(tmpdir(), 'podsync-bench-gpodder-'));
  // Rate limiting (where configured) is off: the benchmark measures the API, not the limiter.
  // No retention job: it is not measured here, and a run would keep the process alive after
  // close() (Agenda's liveness timer of lockLifetime / 2).
  const service = await startService(loadConfig({ DATA_DIR: directory, RATE_LIMIT_PER_MINUTE: '0' }), silentLogger(), { runScheduler: false });
  const server = await listenServing(service.app, 0, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const settle = async () => {
    const started = performance.now();
    const head = await service.stores.eventStore.headPosition();
    const reached = await new ReadModelService(service.stores.eventStore, service.stores.readModel).waitFor(service.projector.names, head, 300_000);
    if (!reached) throw new Error('the read models did not catch up within 5 minutes');
    return performance.now() - started;
  };
  try {
    log(`gpodder: ${count} episode actions per run, over HTTP with Basic auth and the session cookie`);
    const upload = async (client: Client, batch: number) => {
      const actions = workload(count, batch === 100 ? 'bench-gpodder-desktop' : undefined);
      const times: number[] = [];
      const started = performance.now();
      for (let offset = 0; offset < actions.length; offset += batch) {
        const t = performance.now();
        await request(base, client, 'POST', `/api/2/episodes/${client.username}.json`, actions.slice(offset, offset + batch));
        times.push(performance.now() - t);
      }
      const seconds = (performance.now() - started) / 1000;
      log(
        `  upload, ${batch} per request: ${formatRate(count / seconds)} actions/s (${seconds.toFixed(2)} s, ${times.length} requests, p50 ${percentile(times, 50).toFixed(0)} ms, p99 ${percentile(times, 99).toFixed(0)} ms)`,
      );
      return { perSecond: count / seconds, p50: percentile(times, 50), p99: percentile(times, 99) };
    };

    const gpodder = await client(base, 'bench-gpodder');
    const by100 = await upload(gpodder, 100);
    const antennapod = await client(base, 'bench-antennapod');
    const by30 = await upload(antennapod, 30);

    const settleMs = await settle();
    log(`  read models caught up ${settleMs.toFixed(0)} ms after the last upload`);
    // Storage: the two users' actions (private, the default) in the store files, logs written back.
    for (const file of [service.stores.embedded?.database, service.stores.embedded?.readModelDatabase])
      if (file) await service.stores.embedded!.truncateWal(file);
    const bytesPerAction = readdirSync(directory).reduce((sum, name) => sum + statSync(join(directory, name)).size, 0) / (2 * count);
    log(`  storage: ${formatRate(bytesPerAction)} bytes per action in the store files`);
    const download = await downloadAll(base, gpodder, count);
    log(
      `  download with since: ${formatRate(count / download.seconds)} actions/s (${download.seconds.toFixed(2)} s, ${download.pages} pages; ${download.serverMs.toFixed(0)} ms in the server)`,
    );

    const whole = await client(base, 'bench-whole');
    const wholeStarted = performance.now();
    await request(base, whole, 'POST', `/api/2/episodes/${whole.username}.json`, workload(count, 'bench-device'));
    const wholeMs = performance.now() - wholeStarted;
    log(`  one request of ${count} actions: ${wholeMs.toFixed(0)} ms (${formatRate((count / wholeMs) * 1000)} actions/s)`);

    // Paused: the service projects on a thread of its own, which cannot be restarted once stopped,
    // so its catch-up is the same projector's in this process (the service's PROJECTOR=inline).
    if (service.projectorThread) await service.projectorThread.stop();
    else await service.projector.stop();
    const paused = await client(base, 'bench-no-projector');
    const alone = await upload(paused, 30);
    // Every action ahead of the projector: the download makes them all from the user's events
    // (src/services/gpodder-episodes.ts, downloadPage), what serving them from the stream alone
    // would cost, and what a client gets while the read models are rebuilt.
    const ahead = await downloadAll(base, paused, count);
    log(
      `  download with the projector paused, every action made from the events: ${formatRate(count / ahead.seconds)} actions/s (${ahead.seconds.toFixed(2)} s, ${ahead.pages} pages; ${ahead.serverMs.toFixed(0)} ms in the server)`,
    );
    const catchUpStarted = performance.now();
    service.projector.start();
    await settle();
    const catchUpMs = performance.now() - catchUpStarted;
    log(
      `  (with the projector paused: ${formatRate(alone.perSecond)} actions/s; it then projected them in ${catchUpMs.toFixed(0)} ms, ${formatRate((count / catchUpMs) * 1000)} events/s into every read model)`,
    );

    return {
      bench: 'gpodder',
      actions: count,
      upload_batch100_actions_per_s: Math.round(by100.perSecond),
      upload_batch100_p50_ms: round(by100.p50),
      upload_batch100_p99_ms: round(by100.p99),
      upload_batch30_actions_per_s: Math.round(by30.perSecond),
      upload_batch30_p50_ms: round(by30.p50),
      upload_batch30_p99_ms: round(by30.p99),
      read_models_caught_up_ms: Math.round(settleMs),
      bytes_per_action: Math.round(bytesPerAction),
      download_actions_per_s: Math.round(count / download.seconds),
      download_server_ms: round(download.serverMs),
      download_pages: download.pages,
      single_request_ms: Math.round(wholeMs),
      upload_batch30_projector_paused_actions_per_s: Math.round(alone.perSecond),
      download_ahead_actions_per_s: Math.round(count / ahead.seconds),
      download_ahead_server_ms: round(ahead.serverMs),
      projector_catch_up_events_per_s: Math.round((count / catchUpMs) * 1000),
    };
  } finally {
    await drain(server, 1000);
    await service.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * All of a user's actions downloaded with `since`, page after page (each page's cursor the next
 * one's `since`), as a client syncing from scratch does: the wall time at this client, the pages,
 * and the server's own time (this client parses the answers on the same thread).
 */
async function downloadAll(base: string, client: Client, expected: number): Promise<{ seconds: number; pages: number; serverMs: number }> {
  const route = '/api/2/episodes/:file';
  // None yet before the route's first request.
  const serverBefore = await requestSeconds(base, 'GET', route, 0);
  const started = performance.now();
  let since = 0;
  let downloaded = 0;
  let pages = 0;
  for (;;) {
    const page = (await request(base, client, 'GET', `/api/2/episodes/${client.username}.json?since=${since}`)) as { actions: unknown[]; timestamp: number };
    if (page.actions.length === 0) break;
    downloaded += page.actions.length;
    pages++;
    since = page.timestamp;
  }
  const seconds = (performance.now() - started) / 1000;
  if (downloaded !== expected) throw new Error(`downloaded ${downloaded} actions, expected ${expected}`);
  return { seconds, pages, serverMs: ((await requestSeconds(base, 'GET', route)) - serverBefore) * 1000 };
}

/**
 * The seconds the service spent on one route's requests so far (its request-duration metric,
 * summed); `none` when the route has had no request yet (else that is an error).
 */
async function requestSeconds(base: string, method: string, route: string, none?: number): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (entry) => entry.startsWith('podsync_http_request_duration_seconds_sum{') && entry.includes(`method="${method}"`) && entry.includes(`route="${route}"`),
    );
  if (line === undefined && none !== undefined) return none;
  if (line === undefined) throw new Error(`no request duration for ${method} ${route} in /metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Registers a user and logs in with Basic, as a gpodder client would, keeping the cookie. */
async function client(base: string, username: string): Promise<Client> {
  const registered = await fetch(`${base}/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
  const authorization = `Basic ${Buffer.from(`${username}:${PASSWORD}`).toString('base64')}`;
  const login = await fetch(`${base}/api/2/auth/${username}/login.json`, { method: 'POST', headers: { authorization } });
  const cookie = login.headers.get('set-cookie')?.split(';')[0];
  if (login.status !== 200 || cookie === undefined) throw new Error(`login answered ${login.status}`);
  return { username, headers: { authorization, cookie } };
}

async function request(base: string, client: Client, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${base}${path}`, {
    method,
    // As urllib sends it: JSON labelled as a form.
    headers: { ...client.headers, ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = (await response.json()) as unknown;
  if (response.status !== 200) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(answer).slice(0, 300)}`);
  return answer;
}

/** Actions as gpodder clients send them: 100 podcasts, plays with positions, the other types too. */
function workload(count: number, device: string | undefined): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, n) => {
    const podcast = n % 100;
    const action = (['play', 'play', 'download', 'play', 'delete', 'new'] as const)[n % 6]!;
    return {
      podcast: `https://feeds.example.com/podcast-${podcast}/rss.xml`,
      episode: `https://cdn.example.com/podcast-${podcast}/episode-${n}.mp3`,
      guid: `podcast-${podcast}-episode-${n}`,
      ...(device === undefined ? {} : { device }),
      action,
      timestamp: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString().slice(0, 19),
      ...(action === 'play' ? { started: 0, position: n % 3600, total: 3600 } : {}),
    };
  });
}

// Runnable on its own: the JSON summary is the last stdout line, for scripts that collect results.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchGpodder();
  console.log(JSON.stringify(result));
}
