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

describe('slow requests (real process)', function () {
  this.timeout(30_000);

  it('closes a connection whose body does not arrive within REQUEST_TIMEOUT_MS', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-slow-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_FORMAT: 'json', NODE_ENV: 'production', REQUEST_TIMEOUT_MS: '1500' },
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
      const started = Date.now();
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.write('POST /v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"username":');
      const closedAfter = await new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - started)));
      expect(closedAfter).to.be.below(6000);
      expect(answer).to.match(/^HTTP\/1\.1 408/);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
