/**
 * Runs a real gpodder client's Python script (test/gpodder/*_test.py) against the service:
 * starts it in-process on an ephemeral port, registers a fresh account, runs
 * `/usr/bin/python3 SCRIPT URL USER PASSWORD` and expects exit 0 and `N checks passed, 0 failed`.
 * Without /usr/bin/python3 or the client's Debian package the suite FAILS when `CI` is set
 * (`.ci/run` installs the packages) and is SKIPPED, saying why, otherwise.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { listenServing } from '../../src/http/server.js';

export const PYTHON = '/usr/bin/python3';
const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface RealClient {
  /** What the skip message calls it, e.g. `mygpoclient`. */
  readonly name: string;
  /** The script's file name in test/gpodder. */
  readonly script: string;
  /** Python statements that fail when the client is not installed. */
  readonly probe: string;
  /** The command that installs it. */
  readonly install: string;
  /** When this environment variable is set, the script's whole output is printed. */
  readonly verboseEnv: string;
  readonly username: string;
  readonly password: string;
  /** The script's own time limit, in ms. */
  readonly timeout: number;
  /** The service served under this path (BASE_PATH), the client given a server URL with it. */
  readonly basePath?: string;
  /** What the service holds before the script runs, written once its account is registered. */
  readonly prepare?: (service: TestService) => Promise<void>;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `file` with `args`; `env` is added to this process's environment. */
export function run(file: string, args: string[], timeout: number, input?: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr: error && typeof error.code !== 'number' ? `${stderr}\n${error.message}` : stderr });
    });
    child.stdin?.end(input);
  });
}

/** Why the client cannot run here, or undefined if it can. */
async function missingClient(client: Pick<RealClient, 'name' | 'probe'>): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  const probe = await run(PYTHON, ['-c', client.probe], 20_000);
  return probe.code === 0 ? undefined : `${client.name} is missing (${probe.stderr.trim().split('\n').at(-1)})`;
}

/**
 * In a `before` hook: goes on when the client can run here; else fails when `CI` is set and
 * skips the suite, saying why, otherwise.
 */
export async function requireClient(context: Mocha.Context, client: Pick<RealClient, 'name' | 'probe' | 'install'>): Promise<void> {
  const missing = await missingClient(client);
  if (missing === undefined) return;
  if (process.env['CI']) throw new Error(`${missing}: run \`${client.install}\` (.ci/run does)`);
  console.log(`      ${client.name} test SKIPPED: ${missing}; run \`${client.install}\` to include it`);
  context.skip();
}

/** A mocha suite (`title`) with one test (`test`) running the client's script. */
export function describeRealClient(title: string, test: string, client: RealClient): void {
  describe(title, function () {
    this.timeout(client.timeout + 30_000);
    let service: TestService | undefined;
    let server: Server | undefined;

    before(async function () {
      await requireClient(this, client);
      service = await startTestService(client.basePath ? { BASE_PATH: client.basePath } : {});
      server = await listenServing(service.app, 0, '127.0.0.1');
    });

    after(async () => {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await service?.stop();
    });

    it(test, async () => {
      const { port } = server!.address() as AddressInfo;
      const base = client.basePath ?? '';
      const registered = await service!.http.post(`${base}/v1/auth/register`).send({ username: client.username, password: client.password });
      expect(registered.status).to.equal(201);
      await client.prepare?.(service!);
      const script = path.join(HERE, client.script);
      const result = await run(PYTHON, [script, `http://127.0.0.1:${port}${base}`, client.username, client.password], client.timeout);
      const output = `${result.stdout}${result.stderr ? `\n--- stderr ---\n${result.stderr}` : ''}`;
      expect(result.code, output).to.equal(0);
      expect(result.stdout, output).to.match(/\d+ checks passed, 0 failed/);
      if (process.env[client.verboseEnv]) console.log(result.stdout);
      else console.log(`      ${result.stdout.trim().split('\n').at(-1)}`);
    });
  });
}
