/**
 * Crash recovery for real (issue 16, item 3): the service as a child process is SIGKILLed
 * (leases held, nothing released) and started again on the same data directory. The new
 * process must take over the dead process's projection leases at once, so that a user's own
 * writes are read back within a second — never a stale answer that lacks them.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { serviceProcessEnv } from '../support/service-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FEED = 'https://feeds.example.com/crash.xml';

interface Running {
  readonly child: ChildProcess;
  readonly base: string;
  readonly exited: Promise<unknown>;
}

async function start(dataDir: string): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: serviceProcessEnv(dataDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not listen within 15 s; stderr: ${stderr}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      for (const line of stdout.split('\n')) {
        if (!line.includes('podsync listening')) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    void exited.then(() => reject(new Error(`exited before listening; stderr: ${stderr}`)));
  });
  return { child, base: `http://127.0.0.1:${port}`, exited };
}

const play = (guid: string) => ({
  type: 'play',
  timestamp: '2026-03-02T10:00:00Z',
  object: { rss_source_feed: FEED, rss_source_id: guid },
  data: { played: true, position: 7 },
});

describe('restart after SIGKILL (real process)', function () {
  this.timeout(60_000);
  let dataDir: string;
  let running: Running | undefined;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-crash-'));
  });
  afterEach(() => {
    if (running && running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("reads the user's own writes back within a second of the restart", async () => {
    running = await start(dataDir);
    const credentials = { username: 'crasher', password: 'a long enough password' };
    expect((await fetch(`${running.base}/v1/auth/register`, { method: 'POST', body: JSON.stringify(credentials) })).status).to.equal(201);
    const { token } = (await (await fetch(`${running.base}/v1/auth/token`, { method: 'POST', body: JSON.stringify(credentials) })).json()) as { token: string };
    const headers = { Authorization: `Bearer ${token}` };
    const write = (base: string, guid: string) => fetch(`${base}/v1/events`, { method: 'POST', headers, body: JSON.stringify({ events: [play(guid)] }) });
    expect((await write(running.base, 'before-crash')).status).to.equal(201);
    // The projector has taken its leases and committed: they now outlive the process by 15 s.
    for (let tries = 0; (await fetch(`${running.base}/readyz`)).status !== 200; tries++) {
      expect(tries).to.be.below(100);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    running.child.kill('SIGKILL');
    await running.exited;

    running = await start(dataDir);
    const restartedAt = Date.now();
    expect((await write(running.base, 'after-restart')).status).to.equal(201);
    const read = await fetch(`${running.base}/v1/play-statuses`, { headers });
    const elapsed = Date.now() - restartedAt;
    expect(read.status).to.equal(200);
    const body = JSON.stringify(await read.json());
    expect(body).to.contain('after-restart').and.to.contain('before-crash');
    expect(elapsed, 'ms from listening to the read answered').to.be.below(1000);
    expect((await fetch(`${running.base}/readyz`)).status).to.equal(200);
  });
});
