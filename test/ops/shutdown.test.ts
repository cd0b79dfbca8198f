/**
 * Graceful shutdown for real: the service as a child process (the command the Docker image
 * runs), under load, gets SIGTERM. It must drain HTTP (requests in flight are answered, none
 * with a 5xx), stop the projector at a checkpoint, release its leases, close the stores and
 * exit 0 within 10 s; every acknowledged write must be in the store afterwards.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import { loadConfig } from '../../src/config.js';
import { openStores } from '../../src/runtime.js';
import { comparePositions, START } from '../../src/stores/event-store.js';
import { serviceProcessEnv } from '../support/service-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FEED = 'https://feeds.example.com/shutdown.xml';

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  readonly lines: () => Record<string, unknown>[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** Starts `command` with a fresh DATA_DIR on a free port; resolves once it listens. */
async function startChild(command: string, args: string[], dataDir: string): Promise<Running> {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: serviceProcessEnv(dataDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  const lines = () =>
    stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not listen within 15 s; stderr: ${stderr}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const listening = lines().find((line) => line['message'] === 'podsync listening');
      if (listening) {
        clearTimeout(timer);
        resolve(listening['port'] as number);
      }
    });
    void exited.then(({ code }) => reject(new Error(`exited with ${code} before listening; stderr: ${stderr}`)));
  });
  return { child, port, lines, exited };
}

async function login(base: string, username: string): Promise<string> {
  const credentials = { username, password: 'a long enough password' };
  const registered = await fetch(`${base}/v1/auth/register`, { method: 'POST', body: JSON.stringify(credentials) });
  expect(registered.status).to.equal(201);
  const issued = await fetch(`${base}/v1/auth/token`, { method: 'POST', body: JSON.stringify(credentials) });
  return ((await issued.json()) as { token: string }).token;
}

describe('graceful shutdown (SIGTERM, real process)', function () {
  this.timeout(40_000);
  let dataDir: string;
  let running: Running | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-shutdown-'));
  });
  afterEach(() => {
    if (running && running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
    running = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('drains requests under load, stops at a checkpoint, releases leases and exits 0 within 10 s', async () => {
    running = await startChild(process.execPath, ['--import', 'tsx', 'src/main.ts'], dataDir);
    const base = `http://127.0.0.1:${running.port}`;
    const token = await login(base, 'loader');

    let stop = false;
    let acknowledged = 0;
    const statuses: number[] = [];
    const failures: string[] = [];
    const worker = async (id: number) => {
      for (let n = 0; !stop; n++) {
        const events = [
          {
            type: 'play',
            timestamp: '2026-03-02T10:00:00Z',
            object: { rss_source_feed: FEED, rss_source_id: `w${id}-${n}` },
            data: { played: true, position: n },
          },
        ];
        try {
          const response = await fetch(`${base}/v1/events`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}` },
            body: JSON.stringify({ events }),
          });
          statuses.push(response.status);
          if (response.status === 201) acknowledged++;
          await response.arrayBuffer();
        } catch (error) {
          // After the listener closes, new connections are refused: expected, and the end of this worker.
          failures.push(String((error as { cause?: { code?: string } }).cause?.code ?? error));
          return;
        }
      }
    };
    const workers = Array.from({ length: 6 }, (_unused, id) => worker(id));
    await new Promise((resolve) => setTimeout(resolve, 700));
    const acknowledgedBeforeSignal = acknowledged;
    const signalledAt = Date.now();
    running.child.kill('SIGTERM');
    const exit = await running.exited;
    stop = true;
    await Promise.all(workers);

    expect(exit.signal, 'killed by the signal instead of shutting down').to.equal(null);
    expect(exit.code).to.equal(0);
    expect(exit.at - signalledAt).to.be.below(10_000);
    expect(acknowledgedBeforeSignal, 'the load ran before the signal').to.be.above(10);
    expect(
      statuses.filter((status) => status >= 500),
      'no request failed with a 5xx',
    ).to.deep.equal([]);
    expect(new Set(statuses)).to.deep.equal(new Set([201]));
    for (const failure of failures) expect(failure).to.be.oneOf(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);

    const messages = running.lines().map((line) => line['message']);
    expect(messages).to.include.members(['shutting down', 'stopped']);
    expect(messages.indexOf('stopped')).to.be.above(messages.indexOf('shutting down'));
    // Keep-alive clients that keep sending must not hold the drain until the 5 s grace runs out.
    const drained = running.lines().find((line) => line['message'] === 'HTTP drained');
    expect(drained?.['ms'], 'HTTP drain time (ms)').to.be.below(2000);

    // Afterwards: every acknowledged write is stored, checkpoints are valid, the leases are free.
    const stores = await openStores(loadConfig({ DATA_DIR: dataDir }));
    try {
      const plays = (await stores.eventStore.readAll({})).filter((event) => event.type === 'play');
      expect(plays.length).to.be.at.least(acknowledged);
      const head = await stores.eventStore.headPosition();
      for (const projection of allProjections) {
        const checkpoint = (await stores.readModel.getCheckpoint(projection.name))?.position ?? START;
        expect(comparePositions(checkpoint, head), projection.name).to.be.at.most(0);
        expect(comparePositions(checkpoint, START), `${projection.name} projected something`).to.be.above(0);
        // The service's lease would last 15 s more had it not been released.
        expect((await stores.readModel.tryAcquireLeases([projection.name], 'test-probe', 1000))[0], projection.name).to.equal(true);
      }
    } finally {
      await stores.close();
    }
  });

  it('stops when `npm start` is sent SIGTERM (the script execs node, so npm signals the server itself)', async () => {
    // Without exec, npm signalled the `sh -c` between them, which died and left the server running.
    running = await startChild('npm', ['--silent', 'start'], dataDir);
    const base = `http://127.0.0.1:${running.port}`;
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
    running.child.kill('SIGTERM');
    await running.exited;
    let refused = false;
    for (let waited = 0; !refused && waited < 10_000; waited += 100) {
      refused = await fetch(`${base}/healthz`).then(
        () => false,
        () => true,
      );
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refused, 'the server still answers after npm got SIGTERM').to.equal(true);
    expect(running.lines().map((line) => line['message'])).to.include('stopped');
  });

  it('exits 0 on SIGTERM under the tsx CLI too (tsx src/main.ts), which relays the signal to its node child', async () => {
    running = await startChild(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/main.ts'], dataDir);
    // tsx kills its child outright (and exits 143) when the child has not reported the relayed
    // signal within 30 ms (node_modules/tsx, relaySignals): a service still busy starting up (a
    // loaded machine) would not. Once ready, its event loop is free to answer at once.
    const base = `http://127.0.0.1:${running.port}`;
    for (let waited = 0; (await fetch(`${base}/readyz`)).status !== 200 && waited < 10_000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const signalledAt = Date.now();
    running.child.kill('SIGTERM');
    const exit = await running.exited;
    expect(exit).to.include({ code: 0, signal: null });
    expect(exit.at - signalledAt).to.be.below(10_000);
    expect(running.lines().map((line) => line['message'])).to.include('stopped');
  });
});
