/**
 * The deployments the docs recommend, for real: Debian's Caddy in front of the service over
 * HTTPS (Caddy's own local certificate authority standing in for Let's Encrypt), configured by
 * the Caddyfile blocks of the README ("Connect your app") and of docs/operations.md ("Under a
 * path") as they are written, with TRUST_PROXY as they say. Through each, the real gPodder app
 * syncs two devices (test/gpodder/gpodder_app_test.py), and what the service hands out (Login
 * Flow's addresses, cookies) names the proxy's https address.
 *
 * Needs /usr/bin/caddy (Debian's caddy; .ci/run installs it) and the gPodder app: with CI set a
 * missing one fails the suite, else it is skipped, saying why.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { listenServing } from '../../src/http/server.js';
import { PYTHON, requireClient, run } from '../gpodder/real-client.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CADDY = '/usr/bin/caddy';
const GPODDER_APP = {
  name: 'gPodder',
  probe: "import gpodder; gpodder.prefix = '/usr'; import gpodder.core, gpodder.my",
  install: 'apt-get install -y --no-install-recommends python3-mygpoclient gpodder',
};

/** The first fenced block after `marker` in a document of this repository. */
function blockAfter(file: string, marker: string): string {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`${file} no longer says "${marker}"`);
  const block = /```[a-z]*\n([\s\S]*?)```/.exec(text.slice(at))?.[1];
  if (block === undefined) throw new Error(`no code block after "${marker}" in ${file}`);
  return block;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request over HTTPS trusting only `ca` (Caddy's local authority). */
function httpsRequest(url: string, ca: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = https.request(url, { method: options.method ?? 'GET', headers: options.headers, ca }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

interface Site {
  readonly service: TestService;
  readonly server: Server;
  /** The address apps are given: Caddy's, with the path. */
  readonly url: string;
}

describe('behind Caddy over HTTPS, as the docs configure it', function () {
  this.timeout(120_000);
  const sites: Site[] = [];
  let scratch: string;
  let caddy: ChildProcess | undefined;
  let caddyLog = '';
  let ca: string;
  let readme: Site;
  let underPath: Site;

  async function serve(env: Record<string, string>, caddyPort: number, basePath = ''): Promise<Site> {
    const service = await startTestService(env);
    const server = await listenServing(service.app, 0, '127.0.0.1');
    const site = { service, server, url: `https://localhost:${caddyPort}${basePath}` };
    sites.push(site);
    return site;
  }

  before(async function () {
    if (!existsSync(CADDY)) {
      if (process.env['CI']) throw new Error(`${CADDY} is missing: run \`apt-get install -y --no-install-recommends caddy\` (.ci/run does)`);
      console.log(`      Caddy tests SKIPPED: ${CADDY} is missing; run \`apt-get install -y --no-install-recommends caddy\` to include them`);
      this.skip();
    }
    await requireClient(this, GPODDER_APP);
    scratch = mkdtempSync(path.join(tmpdir(), 'podsync-caddy-'));
    const [readmePort, pathPort] = [await freePort(), await freePort()];
    // README: "With Caddy (certificates included), and `TRUST_PROXY=1` set on podsync".
    readme = await serve({ TRUST_PROXY: '1' }, readmePort);
    // docs/operations.md, "Under a path": `BASE_PATH=/podsync`, "`TRUST_PROXY` set either way".
    underPath = await serve({ TRUST_PROXY: '1', BASE_PATH: '/podsync' }, pathPort, '/podsync');
    const upstream = (site: Site) => `127.0.0.1:${(site.server.address() as AddressInfo).port}`;
    const readmeBlock = blockAfter('README.md', 'With\n[Caddy]')
      .replace('sync.example.org', `localhost:${readmePort}`)
      .replace('127.0.0.1:8080', upstream(readme));
    const pathBlock = blockAfter('docs/operations.md', '### Under a path')
      .replace('example.org', `localhost:${pathPort}`)
      .replace('127.0.0.1:8080', upstream(underPath));
    for (const block of [readmeBlock, pathBlock]) expect(block, 'the documented block, its site and upstream replaced').not.to.match(/example\.org|:8080\b/);
    // What stands in for the internet: certificates from Caddy's own authority, no admin
    // endpoint, no redirect listener on port 80, nothing installed in the system's trust store.
    const globalOptions = `{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\tauto_https disable_redirects\n\tstorage file_system ${scratch}/data\n}\n`;
    const caddyfile = path.join(scratch, 'Caddyfile');
    writeFileSync(caddyfile, `${globalOptions}\n${readmeBlock}\n${pathBlock}`);
    caddy = spawn(CADDY, ['run', '--config', caddyfile, '--adapter', 'caddyfile'], { cwd: scratch, env: { PATH: process.env['PATH'] ?? '', HOME: scratch } });
    caddy.stderr?.on('data', (chunk: Buffer) => (caddyLog += chunk.toString()));
    caddy.stdout?.on('data', (chunk: Buffer) => (caddyLog += chunk.toString()));
    const root = path.join(scratch, 'data/pki/authorities/local/root.crt');
    for (let waited = 0; ; waited += 100) {
      if (existsSync(root)) {
        ca = readFileSync(root, 'utf8');
        const answers = await Promise.all([readme, underPath].map((site) => httpsRequest(`${site.url}/readyz`, ca).catch(() => undefined)));
        if (answers.every((answer) => answer?.status === 200)) break;
      }
      if (waited > 30_000 || caddy.exitCode !== null) throw new Error(`Caddy did not serve both sites:\n${caddyLog}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  after(async () => {
    caddy?.kill('SIGTERM');
    for (const site of sites) {
      await new Promise<void>((resolve) => site.server.close(() => resolve()));
      await site.service.stop();
    }
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const [title, which] of [
    ['at the root (the README)', () => readme],
    ['under a path (docs/operations.md)', () => underPath],
  ] as const) {
    it(`the real gPodder app syncs two devices through it ${title}`, async () => {
      const site = which();
      const username = `caddy${sites.indexOf(site)}`;
      const password = 'a long gpodder password';
      const registered = await httpsRequest(`${site.url}/v1/auth/register`, ca, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      expect(registered.status, registered.body).to.equal(201);
      const certificates = path.join(scratch, 'data/pki/authorities/local/root.crt');
      // Python's ssl module trusts SSL_CERT_FILE; gPodder's feed and OPML downloads go through
      // requests, which trusts REQUESTS_CA_BUNDLE.
      const result = await run(PYTHON, [path.join(ROOT, 'test/gpodder/gpodder_app_test.py'), site.url, username, password], 90_000, undefined, {
        SSL_CERT_FILE: certificates,
        REQUESTS_CA_BUNDLE: certificates,
      });
      const output = `${result.stdout}\n${result.stderr}`;
      expect(result.code, output).to.equal(0);
      expect(result.stdout, output).to.match(/\d+ checks passed, 0 failed/);
    });
  }

  it("hands out the proxy's https address: Login Flow's addresses, and cookies marked Secure", async () => {
    for (const site of [readme, underPath]) {
      const flow = await httpsRequest(`${site.url}/index.php/login/v2`, ca, { method: 'POST', headers: { 'user-agent': 'AntennaPod/3.5.0' } });
      expect(flow.status, flow.body).to.equal(200);
      const { login, poll } = JSON.parse(flow.body) as { login: string; poll: { endpoint: string } };
      expect(login.startsWith(`${site.url}/index.php/login/v2/flow/`), login).to.equal(true);
      expect(poll.endpoint).to.equal(`${site.url}/index.php/login/v2/poll`);
      const signIn = await httpsRequest(`${site.url}/signin`, ca);
      const cookies = [signIn.headers['set-cookie'] ?? []].flat();
      expect(cookies, 'a cookie set').not.to.deep.equal([]);
      for (const cookie of cookies) expect(cookie).to.match(/; Secure/);
    }
  });
});
