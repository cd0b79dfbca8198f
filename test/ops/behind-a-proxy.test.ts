/**
 * The deployments the docs recommend, for real, configured by their own blocks as written, with
 * TRUST_PROXY as they say:
 * - Debian's Caddy in front of the service over HTTPS (Caddy's own local certificate authority
 *   standing in for Let's Encrypt): the README's block ("Connect your app") and the one of
 *   docs/operations.md ("Under a path");
 * - Debian's nginx and Apache over HTTP: docs/operations.md's blocks ("Under a path").
 * Through each the real gPodder app syncs two devices (test/gpodder/gpodder_app_test.py), and
 * what the service hands out (Login Flow's addresses, cookies) names the proxy's address.
 *
 * Needs /usr/bin/caddy, /usr/sbin/nginx and /usr/sbin/apache2 (Debian's caddy, nginx-light and
 * apache2-bin; .ci/run installs them) and the gPodder app: with CI set a missing one fails the
 * suite, else it is skipped, saying why.
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
const NGINX = '/usr/sbin/nginx';
const APACHE = '/usr/sbin/apache2';
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

/** In a `before` hook: goes on when `program` is here; else fails when CI is set, and skips, saying why, otherwise. */
function requireProgram(context: Mocha.Context, program: string, pkg: string): void {
  if (existsSync(program)) return;
  const install = `apt-get install -y --no-install-recommends ${pkg}`;
  if (process.env['CI']) throw new Error(`${program} is missing: run \`${install}\` (.ci/run does)`);
  console.log(`      ${path.basename(program)} tests SKIPPED: ${program} is missing; run \`${install}\` to include them`);
  context.skip();
}

/** The real gPodder app's two-device round (test/gpodder/gpodder_app_test.py) against `url`, as a new user. */
async function gpodderAppSyncs(
  url: string,
  username: string,
  ca: string | undefined,
  request: (path: string, init: { method: string; headers: Record<string, string>; body: string }) => Promise<Answer>,
) {
  const password = 'a long gpodder password';
  const registered = await request('/v1/auth/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  expect(registered.status, registered.body).to.equal(201);
  // Python's ssl module trusts SSL_CERT_FILE; gPodder's feed and OPML downloads go through
  // requests, which trusts REQUESTS_CA_BUNDLE.
  const trust: Record<string, string> = ca === undefined ? {} : { SSL_CERT_FILE: ca, REQUESTS_CA_BUNDLE: ca };
  const result = await run(PYTHON, [path.join(ROOT, 'test/gpodder/gpodder_app_test.py'), url, username, password], 90_000, undefined, trust);
  const output = `${result.stdout}\n${result.stderr}`;
  expect(result.code, output).to.equal(0);
  expect(result.stdout, output).to.match(/\d+ checks passed, 0 failed/);
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
    requireProgram(this, CADDY, 'caddy');
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
      const certificates = path.join(scratch, 'data/pki/authorities/local/root.crt');
      await gpodderAppSyncs(site.url, `caddy${sites.indexOf(site)}`, certificates, (pathname, init) => httpsRequest(`${site.url}${pathname}`, ca, init));
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

/** A proxy serving over HTTP on this machine, in the foreground, writing only in `scratch`. */
interface HttpProxy {
  readonly name: string;
  readonly program: string;
  readonly debianPackage: string;
  /** The marker after which docs/operations.md gives its configuration, as a fenced block. */
  readonly documented: string;
  /** The proxy's command line: `block` (the documented one, upstream replaced) in a whole configuration listening on `port`. */
  readonly command: (scratch: string, port: number, block: string) => string[];
  /** Where the proxy logs what went wrong before it served. */
  readonly errorLog: (scratch: string) => string;
}

/** The tests of one proxy in front of the service under /podsync, configured as docs/operations.md says. */
function describeProxyUnderPath(proxy: HttpProxy): void {
  describe(`behind ${proxy.name}, as the docs configure it`, function () {
    this.timeout(120_000);
    let scratch: string;
    let service: TestService | undefined;
    let server: Server | undefined;
    let child: ChildProcess | undefined;
    let childLog = '';
    let url: string;

    const fetchAnswer = async (pathname: string, init: RequestInit = {}): Promise<Answer> => {
      const response = await fetch(`${url}${pathname}`, init);
      return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
    };

    before(async function () {
      requireProgram(this, proxy.program, proxy.debianPackage);
      await requireClient(this, GPODDER_APP);
      scratch = mkdtempSync(path.join(tmpdir(), `podsync-${path.basename(proxy.program)}-`));
      // docs/operations.md, "Under a path": `BASE_PATH=/podsync`, "`TRUST_PROXY` set either way".
      service = await startTestService({ TRUST_PROXY: '1', BASE_PATH: '/podsync' });
      server = await listenServing(service.app, 0, '127.0.0.1');
      const port = await freePort();
      url = `http://127.0.0.1:${port}/podsync`;
      const block = blockAfter('docs/operations.md', proxy.documented).replaceAll('127.0.0.1:8080', `127.0.0.1:${(server.address() as AddressInfo).port}`);
      expect(block, 'the documented block, its upstream replaced').not.to.match(/:8080\b/);
      const [program, ...args] = proxy.command(scratch, port, block);
      child = spawn(program!, args, { cwd: scratch });
      child.stderr?.on('data', (chunk: Buffer) => (childLog += chunk.toString()));
      child.stdout?.on('data', (chunk: Buffer) => (childLog += chunk.toString()));
      for (let waited = 0; (await fetchAnswer('/readyz').catch(() => undefined))?.status !== 200; waited += 100) {
        if (waited > 30_000 || child.exitCode !== null) {
          const log = existsSync(proxy.errorLog(scratch)) ? readFileSync(proxy.errorLog(scratch), 'utf8') : '';
          throw new Error(`${proxy.name} did not serve:\n${childLog}\n${log}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });

    after(async () => {
      child?.kill('SIGTERM');
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await service?.stop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it('the real gPodder app syncs two devices through it', async () => {
      await gpodderAppSyncs(url, `${path.basename(proxy.program)}-app`, undefined, (pathname, init) => fetchAnswer(pathname, init));
    });

    it('takes a first upload of a long history whole: 6,000 gPodder actions in one request (over nginx’s default 1 MB)', async () => {
      const password = 'a long proxied password';
      const registered = await fetchAnswer('/v1/auth/register', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'history', password }),
      });
      expect(registered.status).to.equal(201);
      const basic = { authorization: `Basic ${Buffer.from(`history:${password}`).toString('base64')}` };
      const actions = Array.from({ length: 6000 }, (_unused, n) => ({
        podcast: `https://feeds.example.com/show-${n % 50}.xml`,
        episode: `https://media.example.com/show-${n % 50}/episode-${n}.mp3?${'t'.repeat(200)}`,
        action: 'play',
        timestamp: '2026-11-01T10:00:00',
        started: 0,
        position: 60,
        total: 600,
      }));
      const body = JSON.stringify(actions);
      expect(body.length, 'past nginx’s default client_max_body_size').to.be.above(2 * 1024 * 1024);
      const uploaded = await fetchAnswer('/api/2/episodes/history.json', { method: 'POST', headers: { ...basic, 'content-type': 'application/json' }, body });
      expect(uploaded.status, uploaded.body.slice(0, 300)).to.equal(200);
      const downloaded = JSON.parse((await fetchAnswer('/api/2/episodes/history.json?since=0', { headers: basic })).body) as { actions: unknown[] };
      expect(downloaded.actions).to.have.length(6000);
    });

    it("hands out the proxy's address: Login Flow's addresses", async () => {
      const flow = await fetchAnswer('/index.php/login/v2', { method: 'POST', headers: { 'user-agent': 'AntennaPod/3.5.0' } });
      expect(flow.status, flow.body).to.equal(200);
      const { login, poll } = JSON.parse(flow.body) as { login: string; poll: { endpoint: string } };
      expect(login.startsWith(`${url}/index.php/login/v2/flow/`), login).to.equal(true);
      expect(poll.endpoint).to.equal(`${url}/index.php/login/v2/poll`);
    });
  });
}

describeProxyUnderPath({
  name: 'nginx',
  program: NGINX,
  debianPackage: 'nginx-light',
  documented: 'nginx, in the host',
  command: (scratch, port, block) => {
    // One process in the foreground, every file it writes in the scratch directory.
    const temporary = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `\t${kind}_temp_path ${scratch}/${kind};\n`).join('');
    const config = path.join(scratch, 'nginx.conf');
    writeFileSync(
      config,
      `daemon off;\nmaster_process off;\npid ${scratch}/nginx.pid;\nerror_log ${scratch}/error.log;\nevents {}\nhttp {\n\taccess_log off;\n${temporary}\tserver {\n\t\tlisten 127.0.0.1:${port};\n${block}\t}\n}\n`,
    );
    return [NGINX, '-e', `${scratch}/error.log`, '-p', scratch, '-c', config];
  },
  errorLog: (scratch) => path.join(scratch, 'error.log'),
});

describeProxyUnderPath({
  name: 'Apache',
  program: APACHE,
  debianPackage: 'apache2-bin',
  documented: 'Apache, in the host',
  command: (scratch, port, documented) => {
    // Served over plain HTTP here, so the scheme it tells the service is this one (told https,
    // the service marks its cookies Secure, and a client on http does not send them back).
    const block = documented.replace('X-Forwarded-Proto "https"', 'X-Forwarded-Proto "http"');
    expect(block, 'the documented block tells the scheme').to.contain('X-Forwarded-Proto "http"');
    const modules = ['mpm_event', 'authz_core', 'proxy', 'proxy_http', 'headers'];
    const config = path.join(scratch, 'httpd.conf');
    writeFileSync(
      config,
      [
        `ServerRoot ${scratch}`,
        `Listen 127.0.0.1:${port}`,
        `PidFile ${scratch}/httpd.pid`,
        `ErrorLog ${scratch}/error.log`,
        `Mutex file:${scratch} default`,
        ...modules.map((module) => `LoadModule ${module}_module /usr/lib/apache2/modules/mod_${module}.so`),
        // Its workers drop root's privileges when started as root; they only pass requests on.
        ...(process.getuid?.() === 0 ? ['User nobody', 'Group nogroup'] : []),
        'ServerName localhost',
        `<VirtualHost *:${port}>`,
        block,
        '</VirtualHost>',
      ].join('\n'),
    );
    return [APACHE, '-f', config, '-DFOREGROUND'];
  },
  errorLog: (scratch) => path.join(scratch, 'error.log'),
});
