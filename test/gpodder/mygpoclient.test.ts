/**
 * A real gpodder client against the running service: Debian's python3-mygpoclient (the
 * library gPodder itself uses), driven by mygpo_client_test.py over real HTTP on an ephemeral
 * port. Without /usr/bin/python3 or the module this FAILS in CI (`.ci/run` installs it) and is
 * SKIPPED, saying so, elsewhere.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'mygpo_client_test.py');
const INSTALL = 'apt-get install -y python3-mygpoclient';

function run(file: string, args: string[], timeout: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr: error && typeof error.code !== 'number' ? `${stderr}\n${error.message}` : stderr });
    });
  });
}

/** Why the real client cannot run here, or undefined if it can. */
async function missingClient(): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  const probe = await run(PYTHON, ['-c', 'import mygpoclient.api'], 20_000);
  return probe.code === 0 ? undefined : `the mygpoclient module is missing (${probe.stderr.trim().split('\n').at(-1)})`;
}

describe('gpodder API with a real client (python3-mygpoclient)', function () {
  this.timeout(180_000);
  let service: TestService | undefined;
  let server: Server | undefined;

  before(async function () {
    const missing = await missingClient();
    if (missing !== undefined) {
      if (process.env['CI']) throw new Error(`${missing}: run \`${INSTALL}\` (.ci/run does)`);
      console.log(`      mygpoclient test SKIPPED: ${missing}; run \`${INSTALL}\` to include it`);
      this.skip();
    }
    service = await startTestService();
    server = service.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server!.once('listening', () => resolve()));
  });

  after(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await service?.stop();
  });

  it('syncs two devices through mygpoclient: subscriptions, 150+ episode actions each way, simple API, late uploads, one long-lived client', async () => {
    const { port } = server!.address() as AddressInfo;
    const username = 'mygpo-user';
    const password = 'a long mygpo password';
    const registered = await service!.http.post('/v1/auth/register').send({ username, password });
    expect(registered.status).to.equal(201);
    const result = await run(PYTHON, [SCRIPT, `http://127.0.0.1:${port}`, username, password], 150_000);
    const output = `${result.stdout}${result.stderr ? `\n--- stderr ---\n${result.stderr}` : ''}`;
    expect(result.code, output).to.equal(0);
    expect(result.stdout).to.match(/\d+ checks passed, 0 failed/);
    if (process.env['MYGPO_VERBOSE']) console.log(result.stdout);
    else console.log(`      ${result.stdout.trim().split('\n').at(-1)}`);
  });
});
