/**
 * The systemd unit (deploy/podsync.service), checked without a running systemd (these machines
 * have none as PID 1): systemd's own analyzer reads it, and its ExecStart runs the service as the
 * unit would, on a system mounted read-only but for the state and temporary directories, under
 * strace. What the service then did is held to the unit's sandbox: no write refused, every system
 * call inside its SystemCallFilter, every socket of a family in RestrictAddressFamilies.
 *
 * Needs root (a private mount namespace), `systemd-analyze` and `strace` (Debian's systemd and
 * strace; .ci/run installs them): with CI set a missing one fails the suite, else it is skipped,
 * saying why.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const UNIT = path.join(ROOT, 'deploy/podsync.service');
const SETTINGS_EXAMPLE = path.join(ROOT, 'deploy/podsync.env.example');
const run = promisify(execFile);

/** The unit's [Service] settings: each key with its values in order (a key may repeat). */
function serviceSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n').map((raw) => raw.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      section = line;
      continue;
    }
    const at = line.indexOf('=');
    if (section !== '[Service]' || at < 0) continue;
    const key = line.slice(0, at);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(at + 1)]);
  }
  return settings;
}

function only(settings: Map<string, string[]>, key: string): string {
  const values = settings.get(key) ?? [];
  if (values.length !== 1) throw new Error(`the unit should set ${key} once, sets it ${values.length} times`);
  return values[0]!;
}

/** `systemd-analyze syscall-filter`'s groups, each expanded to its system calls. */
async function syscallGroups(): Promise<Map<string, Set<string>>> {
  const { stdout } = await run('systemd-analyze', ['syscall-filter', '--no-pager']);
  const members = new Map<string, string[]>();
  let group: string[] | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('@')) members.set(line.split(/\s/)[0]!, (group = []));
    else if (group && line.trim() !== '' && !line.trim().startsWith('#')) group.push(line.trim());
  }
  const expand = (name: string): Set<string> =>
    new Set((members.get(name) ?? []).flatMap((member) => (member.startsWith('@') ? [...expand(member)] : [member])));
  return new Map([...members.keys()].map((name) => [name, expand(name)]));
}

/** What the unit's SystemCallFilter lines allow: the first lists, a `~` line takes away. */
function allowedCalls(filters: readonly string[], groups: Map<string, Set<string>>): Set<string> {
  const allowed = new Set<string>();
  for (const filter of filters) {
    const deny = filter.startsWith('~');
    for (const name of filter.replace(/^~/, '').split(/\s+/)) {
      const calls = name.startsWith('@') ? groups.get(name) : new Set([name]);
      if (calls === undefined) throw new Error(`systemd knows no group ${name}`);
      for (const call of calls) {
        if (deny) allowed.delete(call);
        else allowed.add(call);
      }
    }
  }
  return allowed;
}

function requireTools(context: Mocha.Context): void {
  const missing = [
    ...(['systemd-analyze', 'strace', 'unshare'] as const).filter((tool) => !['/usr/bin', '/bin'].some((dir) => existsSync(path.join(dir, tool)))),
    ...(process.getuid?.() === 0 ? [] : ['root (for a private mount namespace)']),
  ];
  if (missing.length === 0) return;
  const why = `missing: ${missing.join(', ')}`;
  if (process.env['CI']) throw new Error(`${why}: run \`apt-get install -y --no-install-recommends systemd strace\` as root (.ci/run does)`);
  console.log(`      systemd unit tests SKIPPED: ${why}`);
  context.skip();
}

describe('the systemd unit (deploy/podsync.service)', function () {
  this.timeout(180_000);
  const unitText = readFileSync(UNIT, 'utf8');
  const settings = serviceSettings(unitText);
  let scratch: string;

  before(function () {
    requireTools(this);
    scratch = mkdtempSync(path.join(tmpdir(), 'podsync-unit-'));
  });
  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** The unit as installed here: this node and this checkout in place of /usr/bin/node and /opt/podsync. */
  function localUnit(): string {
    const file = path.join(scratch, 'podsync.service');
    writeFileSync(
      file,
      unitText.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `).replace(/^WorkingDirectory=.*$/m, `WorkingDirectory=${ROOT}`),
    );
    return file;
  }

  it('comes with an example settings file that systemd and sh read alike, and the service accepts', async () => {
    const assignments = readFileSync(SETTINGS_EXAMPLE, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'));
    // No quotes, spaces, `$` or backslashes: the two read such a line the same.
    for (const line of assignments) expect(line).to.match(/^[A-Z][A-Z0-9_]*=[^\s"'`$\\]*$/);
    const example = Object.fromEntries(assignments.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    const { stdout } = await run('sh', ['-c', 'set -a && . "$1" && env', 'sh', SETTINGS_EXAMPLE], { env: {} });
    const read = Object.fromEntries(stdout.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    for (const [name, value] of Object.entries(example)) expect(read[name], `${name} as sh reads it`).to.equal(value);
    expect(() => loadConfig({ ...example, DATA_DIR: scratch })).not.to.throw();
  });

  it('passes systemd-analyze verify without a warning', async () => {
    const { stdout, stderr } = await run('systemd-analyze', ['verify', '--man=no', localUnit()]);
    expect(`${stdout}${stderr}`.trim()).to.equal('');
  });

  it('rates "OK" or better in systemd-analyze security (an exposure of 2.0 at most)', async () => {
    const { stdout } = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', localUnit()]).catch((error: { stdout?: string }) => ({
      stdout: error.stdout ?? '',
    }));
    const exposure = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(stdout)?.[1]);
    expect(
      exposure,
      stdout
        .split('\n')
        .filter((line) => line.includes('✗'))
        .join('\n'),
    ).to.be.at.most(2.0);
  });

  it('runs the service by its ExecStart on a read-only system, inside its system-call filter and address families, and stops on its KillSignal', async () => {
    const state = path.join(scratch, 'state');
    const temporary = path.join(scratch, 'tmp');
    const traceDir = path.join(scratch, 'trace');
    for (const directory of [state, temporary, traceDir]) mkdirSync(directory);
    const trace = path.join(traceDir, 'calls');
    const [node, ...args] = only(settings, 'ExecStart').split(' ');
    expect(node, 'ExecStart runs node itself').to.equal('/usr/bin/node');
    // The environment systemd gives: its own, the unit's Environment=, then (as PrivateTmp=
    // and StateDirectory= would place them) the directories of this run, and a free port.
    const environment = [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin',
      'HOME=/nonexistent',
      'USER=podsync',
      ...only(settings, 'Environment').split(' '),
      `DATA_DIR=${state}`,
      `TMPDIR=${temporary}`,
      'PORT=0',
    ];
    // ProtectSystem=strict: / read-only in a mount namespace of the service's own, but for the
    // state, temporary and trace directories (each bound onto itself first, so they stay writable).
    const sandbox = 'for dir in "$1" "$2" "$3"; do mount --bind "$dir" "$dir" || exit 1; done; mount -o remount,bind,ro / || exit 1; shift 3; exec "$@"';
    const child = spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        sandbox,
        'sh',
        state,
        temporary,
        traceDir,
        'env',
        '-i',
        ...environment,
        'strace',
        '-f',
        '-qq',
        '-o',
        trace,
        process.execPath,
        ...args,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setInterval(() => {
          const line = output.split('\n').find((text) => text.includes('podsync listening'));
          if (line) {
            clearInterval(timer);
            resolve((JSON.parse(line) as { port: number }).port);
          }
        }, 100);
        void exited.then(() => {
          clearInterval(timer);
          reject(new Error(`exited before listening:\n${output}`));
        });
      });
      const base = `http://127.0.0.1:${port}`;
      for (let ready = 0; (await fetch(`${base}/readyz`)).status !== 200; ready++) {
        if (ready > 600) throw new Error('not ready after 60 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // A listener's round: an account, a subscription and a play through the gpodder API,
      // read back, and a page: the store written and read, in the state directory only.
      const json = { 'content-type': 'application/json' };
      expect(
        (await fetch(`${base}/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'unit', password: 'unit password' }) }))
          .status,
      ).to.equal(201);
      const basic = { authorization: `Basic ${Buffer.from('unit:unit password').toString('base64')}` };
      const feed = 'https://feeds.example.com/unit.xml';
      const subscribed = await fetch(`${base}/api/2/subscriptions/unit/phone.json`, {
        method: 'POST',
        headers: { ...basic, ...json },
        body: JSON.stringify({ add: [feed], remove: [] }),
      });
      expect(subscribed.status).to.equal(200);
      const action = {
        podcast: feed,
        episode: 'https://feeds.example.com/unit/1.mp3',
        action: 'play',
        timestamp: '2026-12-01T10:00:00',
        started: 0,
        position: 60,
        total: 600,
      };
      expect(
        (await fetch(`${base}/api/2/episodes/unit.json`, { method: 'POST', headers: { ...basic, ...json }, body: JSON.stringify([action]) })).status,
      ).to.equal(200);
      const actions = (await (await fetch(`${base}/api/2/episodes/unit.json?since=0`, { headers: basic })).json()) as { actions: { position: number }[] };
      expect(actions.actions.map((each) => each.position)).to.deep.equal([60]);
      expect((await fetch(`${base}/signin`)).status).to.equal(200);

      // The unit's KillSignal to node itself (the trace's first process), as systemd sends it.
      const nodePid = Number(/^(\d+) /.exec(readFileSync(trace, 'utf8'))?.[1]);
      process.kill(nodePid, only(settings, 'KillSignal') as NodeJS.Signals);
      const stopped = Date.now();
      expect(await exited, output).to.equal(0);
      expect(Date.now() - stopped, 'stopped within TimeoutStopSec').to.be.below(Number(only(settings, 'TimeoutStopSec')) * 1000);
    } finally {
      child.kill('SIGKILL');
    }

    const calls = readFileSync(trace, 'utf8');
    expect(calls.match(/^.*= -1 EROFS .*$/gm) ?? [], 'writes refused by the read-only system').to.deep.equal([]);
    const made = new Set([...calls.matchAll(/^\d+ +([a-z0-9_]+)\(/gm)].map((match) => match[1]!));
    expect(made.size, 'system calls traced').to.be.above(40);
    const allowed = allowedCalls(settings.get('SystemCallFilter') ?? [], await syscallGroups());
    // SQLite gives its files the database's owner when it runs as root (robustFchown), as this
    // test does; the service's user never makes that call.
    const outside = [...made].filter((call) => !allowed.has(call) && call !== 'fchown');
    expect(outside, 'system calls outside SystemCallFilter').to.deep.equal([]);
    const families = new Set([...calls.matchAll(/ socket\((AF_[A-Z0-9]+)/g)].map((match) => match[1]!));
    expect([...families], 'socket families').to.include('AF_INET');
    const permitted = only(settings, 'RestrictAddressFamilies').split(' ');
    expect(
      [...families].filter((family) => !permitted.includes(family)),
      'socket families outside RestrictAddressFamilies',
    ).to.deep.equal([]);
  });
});
