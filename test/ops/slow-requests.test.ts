/**
 * Memory not held by slow clients (issue 16, item 7), on the real process: a request whose
 * body never finishes is answered 408 and its connection closed after REQUEST_TIMEOUT_MS,
 * not held for Node's default five minutes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The service as `npm start` runs it, with `env`, on a free port; `use` it, then it is killed. */
async function withService(env: Record<string, string>, use: (port: number) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-slow-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_FORMAT: 'json', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const line = stdout.split('\n').find((text) => text.includes('podsync listening'));
        if (line) resolve((JSON.parse(line) as { port: number }).port);
      });
      child.on('exit', () => reject(new Error('exited before listening')));
    });
    await use(port);
  } finally {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A raw keep-alive connection: each `ask` sends one GET and resolves with its whole answer. */
function keepAliveConnection(port: number) {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  let waiting: ((answer: string) => void) | undefined;
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString();
    // /healthz answers a small JSON body with a Content-Length: the answer is whole once the body is.
    const match = /\r\ncontent-length: (\d+)\r\n[\s\S]*?\r\n\r\n/i.exec(received);
    if (match && received.length >= match.index + match[0].length + Number(match[1])) {
      const answer = received;
      received = '';
      waiting?.(answer);
    }
  });
  return {
    closed,
    ask(target: string): Promise<string> {
      return new Promise((resolve) => {
        waiting = resolve;
        void closed.then(() => resolve('(the server closed the connection)'));
        socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`);
      });
    },
    destroy: () => socket.destroy(),
  };
}

describe('slow requests (real process)', function () {
  this.timeout(30_000);

  it('closes a connection whose body does not arrive within REQUEST_TIMEOUT_MS', async () => {
    await withService({ REQUEST_TIMEOUT_MS: '1500' }, async (port) => {
      const started = Date.now();
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.write('POST /v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"username":');
      const closedAfter = await new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - started)));
      expect(closedAfter).to.be.below(6000);
      expect(answer).to.match(/^HTTP\/1\.1 408/);
    });
  });

  it("keeps an idle keep-alive connection open past Node's 5 s (a proxy reusing it gets an answer, not a reset), and closes it after KEEP_ALIVE_TIMEOUT_MS", async () => {
    // Request and header timeouts of 1.5 s: the idle time between requests does not count against them.
    await withService({ REQUEST_TIMEOUT_MS: '1500' }, async (port) => {
      const connection = keepAliveConnection(port);
      try {
        expect(await connection.ask('/healthz')).to.match(/^HTTP\/1\.1 200/);
        await new Promise((resolve) => setTimeout(resolve, 6_000));
        expect(await connection.ask('/healthz'), 'the same connection, 6 s later').to.match(/^HTTP\/1\.1 200/);
      } finally {
        connection.destroy();
      }
    });
    await withService({ KEEP_ALIVE_TIMEOUT_MS: '1000' }, async (port) => {
      const connection = keepAliveConnection(port);
      expect(await connection.ask('/healthz')).to.match(/^HTTP\/1\.1 200/);
      const answered = Date.now();
      const closedAfter = (await connection.closed) - answered;
      expect(closedAfter).to.be.within(500, 4_000);
    });
  });
});
