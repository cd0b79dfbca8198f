/**
 * Defaults a newcomer meets (issue 16, item 9), on the real process: a second instance on a
 * busy port fails before it starts anything (no "listening", no scheduler or projector run) with
 * an error naming PORT; and the default bind address is loopback.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('start-up defaults (real process)', function () {
  this.timeout(30_000);

  it('binds 127.0.0.1 unless HOST is set', () => {
    expect(loadConfig({}).HOST).to.equal('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).to.equal('0.0.0.0');
  });

  it('a second instance on a busy port exits 1 naming PORT, before it starts jobs or says it listens', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as AddressInfo).port;
    const dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-busy-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: ROOT,
        env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_FORMAT: 'json', LOG_LEVEL: 'debug', NODE_ENV: 'production' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).to.equal(1);
      expect(output).to.contain('PORT').and.to.contain('in use');
      expect(output).to.not.contain('listening');
      expect(output).to.not.contain('retention pass');
      expect(output).to.not.contain('projector');
    } finally {
      busy.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
