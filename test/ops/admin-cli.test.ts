/**
 * The admin CLI as an operator runs it: each command spawned as its own process against the
 * DATA_DIR of a service running in this process (SQLite in WAL mode serves both).
 */
import { rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { ERASURE_REACTOR } from '../../src/retention/erasure-reactor.js';
import { runScript, type ScriptResult } from '../support/run-script.js';
import { listenServing } from '../../src/http/server.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FEED = 'https://feeds.example.com/cli.xml';

type Outcome = ScriptResult;

describe('admin CLI (npm run admin)', function () {
  this.timeout(20_000);
  let service: TestService;
  let closed = false;
  let ada: { token: string; userId: string; username: string };

  const admin = (args: string[], input?: string): Promise<Outcome> =>
    runScript('scripts/admin.ts', args, { cwd: ROOT, env: { DATA_DIR: service.dataDir, LOG_LEVEL: 'warn' }, input: input ?? '' });
  const token = (username: string, password: string) => service.http.post('/v1/auth/token').send({ username, password });

  before(async () => {
    service = await startTestService();
    ada = await service.login('ada', 'ada long password');
    const events = [
      { type: 'subscribe', timestamp: '2026-03-01T10:00:00Z', object: { rss_source_feed: FEED }, data: { rss_feed_title: 'CLI show' } },
      { type: 'play', timestamp: '2026-03-02T10:00:00+02:00', object: { rss_source_feed: FEED, rss_source_id: 'ep-7' }, data: { played: true, position: 99 } },
    ];
    expect((await service.http.post('/v1/events').set('Authorization', `Bearer ${ada.token}`).send({ events })).status).to.equal(201);
    await service.settle();
    await service.erased();
  });
  after(async () => {
    if (!closed) await service.close();
    rmSync(service.dataDir, { recursive: true, force: true });
  });

  it('users create (generated or stdin password), refuses taken and invalid names', async () => {
    const [generated, piped, taken, invalid] = await Promise.all([
      admin(['users', 'create', 'gen']),
      admin(['users', 'create', 'piped', '--password-stdin'], 'piped long password\n'),
      admin(['users', 'create', 'ada']),
      admin(['users', 'create', 'bad name']),
    ]);
    expect(generated.code, generated.stderr).to.equal(0);
    expect(generated.stdout).to.match(/^created user gen \([0-9a-f-]{36}\)$/m);
    const password = /^password: (\S+)$/m.exec(generated.stdout)?.[1];
    expect(password).to.be.a('string');
    expect((await token('gen', password!)).status).to.equal(200);

    expect(piped.code, piped.stderr).to.equal(0);
    expect(piped.stdout).not.to.contain('password:');
    expect((await token('piped', 'piped long password')).status).to.equal(200);

    expect(taken.code).to.equal(1);
    expect(taken.stderr).to.contain('username ada is taken');
    expect(invalid.code).to.equal(1);
    expect(invalid.stderr).to.contain('username: letters, digits');
  });

  it('users password: sets a generated or piped password (the old one and its sessions stop working), refuses a short one and an unknown user', async () => {
    const dora = await service.login('dora', 'dora old password');
    const basic = `Basic ${Buffer.from('dora:dora old password').toString('base64')}`;
    const login = await service.http.post('/api/2/auth/dora/login.json').set('Authorization', basic).expect(200);
    const session = String(login.headers['set-cookie']![0]!.split(';')[0]);
    const generated = await admin(['users', 'password', 'dora']);
    expect((await service.http.get('/api/2/devices/dora.json').set('Cookie', session)).status, 'the session opened with the old password ends').to.equal(401);
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${dora.token}`)).status, 'an API token stays').to.equal(200);
    expect(generated.code, generated.stderr).to.equal(0);
    expect(generated.stdout).to.match(/^password of dora set$/m);
    const password = /^password: (\S+)$/m.exec(generated.stdout)?.[1];
    expect((await token('dora', password!)).status).to.equal(200);
    expect((await token('dora', 'dora old password')).status).to.equal(401);

    const piped = await admin(['users', 'password', 'dora', '--password-stdin'], 'dora piped password\n');
    expect(piped.code, piped.stderr).to.equal(0);
    expect(piped.stdout).not.to.contain('password:');
    expect((await token('dora', 'dora piped password')).status).to.equal(200);

    const [short, unknown] = await Promise.all([admin(['users', 'password', 'dora', '--password-stdin'], 'short\n'), admin(['users', 'password', 'nobody'])]);
    expect(short.code).to.equal(1);
    expect(short.stderr).to.match(/^admin users: password: at least 8 characters$/m);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.contain('no user named "nobody"');
    expect((await token('dora', 'dora piped password')).status, 'refusals changed nothing').to.equal(200);
  });

  it('users list, disable (tokens stop working) and enable', async () => {
    const disabled = await admin(['users', 'disable', 'ada']);
    expect(disabled.code, disabled.stderr).to.equal(0);
    expect(disabled.stdout.trim()).to.equal('ada is disabled');
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${ada.token}`)).status).to.equal(401);

    const [list, table] = await Promise.all([admin(['users', 'list', '--json']), admin(['users', 'list'])]);
    const users = JSON.parse(list.stdout) as { username: string; disabled: boolean; id: string }[];
    expect(users.find((user) => user.username === 'ada')).to.deep.include({ id: ada.userId, disabled: true });
    expect(table.stdout).to.match(/^ada\s+[0-9a-f-]{36}\s+\S+\s+disabled$/m);

    const enabled = await admin(['users', 'enable', 'ada']);
    expect(enabled.stdout.trim()).to.equal('ada is enabled');
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${ada.token}`)).status).to.equal(200);
  });

  it('stream: a table of revisions, types, device and recorded times and objects, with the truncation point', async () => {
    await service.stores.eventStore.setStreamMetadata(`user-${ada.userId}`, { truncateBefore: 1n });
    try {
      const [table, json, unknown] = await Promise.all([admin(['stream', 'ada']), admin(['stream', 'ada', '--json']), admin(['stream', 'nobody'])]);
      expect(table.code, table.stderr).to.equal(0);
      expect(table.stdout).to.contain(`stream:           user-${ada.userId}`);
      expect(table.stdout).to.match(/^truncated before: revision 1 \(revisions below it are hidden\)$/m);
      expect(table.stdout).to.match(/^revision\s+type\s+device time\s+recorded\s+object\s+data$/m);
      // The subscribe (revision 0) is hidden by the truncation; the play shows, its time in UTC.
      expect(table.stdout).to.match(
        new RegExp(`^1\\s+play\\s+2026-03-02T08:00:00.000Z\\s+\\d{4}-\\S+Z\\s+${FEED} #ep-7\\s+\\{"played":true,"position":99\\}$`, 'm'),
      );
      expect(table.stdout).not.to.match(/^0\s+subscribe/m);

      const parsed = JSON.parse(json.stdout) as { truncate_before: string; last_revision: string; metadata: object; events: { revision: string }[] };
      expect(parsed).to.deep.include({ truncate_before: '1', last_revision: '1', metadata: {} });
      expect(parsed.events.map((event) => event.revision)).to.deep.equal(['1']);

      expect(unknown.code).to.equal(1);
      expect(unknown.stderr.trim()).to.equal('admin stream: no user named "nobody"');
    } finally {
      await service.stores.eventStore.setStreamMetadata(`user-${ada.userId}`, { truncateBefore: 0n });
    }
  });

  it('export prints what GET /v1/me/export answers; stats counts events, users and lag', async () => {
    const [exported, stats] = await Promise.all([admin(['export', 'ada']), admin(['stats', '--json'])]);
    const own = await service.http.get('/v1/me/export').set('Authorization', `Bearer ${ada.token}`);
    expect(exported.code, exported.stderr).to.equal(0);
    expect(JSON.parse(exported.stdout)).to.deep.equal(own.body);

    expect(stats.code, stats.stderr).to.equal(0);
    const figures = JSON.parse(stats.stdout) as { events: number; users: number; parked: number; projections: { name: string; lag: number }[] };
    expect(figures).to.include({ events: await service.eventCount(), users: (await service.stores.accounts.listAccounts()).length, parked: 0 });
    expect(figures.projections.map((projection) => projection.name)).to.deep.equal([...service.projector.names, ERASURE_REACTOR]);
    for (const projection of figures.projections) expect(projection.lag, projection.name).to.equal(0);
  });

  it('usage errors exit 2 with the usage; unknown commands too', async () => {
    const outcomes = await Promise.all([admin([]), admin(['frobnicate']), admin(['stream']), admin(['stats', '--bogus'])]);
    for (const outcome of outcomes) {
      expect(outcome.code, outcome.stderr).to.equal(2);
      expect(outcome.stderr).to.contain('usage: npm run admin -- <command>');
    }
    expect(outcomes[1]!.stderr).to.contain('unknown command "frobnicate"');
  });

  it('replay refuses while the service projects, then rebuilds once it is stopped; retention runs', async () => {
    const refused = await admin(['replay']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('lease held');

    await service.close();
    closed = true;
    const [replayed, retention] = [await admin(['replay', '--projection', 'subscriptions']), await admin(['retention'])];
    expect(replayed.code, replayed.stderr).to.equal(0);
    expect(replayed.stdout).to.match(/^replayed subscriptions: \d+ events in [\d.]+ s, 0 parked$/m);
    expect(retention.code, retention.stderr).to.equal(0);
    expect(retention.stdout).to.match(/^retention as of \S+: \d+ users considered/m);
  });
});

describe('admin CLI users delete (through the running service)', function () {
  this.timeout(60_000);
  const ADMIN_TOKEN = 'admin-token-for-the-cli-0123456789';
  let service: TestService;
  let server: Server;
  let url: string;

  const admin = (args: string[], env: Record<string, string> = {}): Promise<Outcome> =>
    runScript('scripts/admin.ts', ['users', 'delete', ...args], {
      cwd: ROOT,
      env: { DATA_DIR: service.dataDir, LOG_LEVEL: 'warn', ADMIN_TOKEN, ...env },
      input: '',
    });

  before(async () => {
    // The projector runs only when the test says, so that a deletion can be kept waiting for it.
    service = await startTestService({ ADMIN_TOKEN }, { runProjector: false });
    await service.projector.acquireLeases();
    server = await listenServing(service.app, 0, '127.0.0.1');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await service.stop();
  });

  async function listener(username: string) {
    const user = await service.login(username, `${username} long password`);
    const events = [{ type: 'subscribe', timestamp: '2026-03-01T10:00:00Z', object: { rss_source_feed: FEED }, data: {} }];
    expect((await service.http.post('/v1/events').set('Authorization', `Bearer ${user.token}`).send({ events })).status).to.equal(201);
    await service.projector.catchUp();
    return user;
  }

  it('refuses without --yes, without ADMIN_TOKEN, with the wrong token, for an unknown user, with no service answering or one without the admin API; deletes nothing', async () => {
    const kept = await listener('kept');
    const withoutAdmin = await startTestService();
    const withoutAdminServer = await listenServing(withoutAdmin.app, 0, '127.0.0.1');
    const withoutAdminUrl = `http://127.0.0.1:${(withoutAdminServer.address() as AddressInfo).port}`;
    const [unconfirmed, tokenless, wrongToken, unknown, nobodyThere, noAdminApi] = await Promise.all([
      admin(['kept', '--url', url]),
      admin(['kept', '--yes', '--url', url], { ADMIN_TOKEN: '' }),
      admin(['kept', '--yes', '--url', url], { ADMIN_TOKEN: 'not-the-admin-token-at-all' }),
      admin(['nobody-by-that-name', '--yes', '--url', url]),
      admin(['kept', '--yes', '--url', 'http://127.0.0.1:9']),
      admin(['kept', '--yes', '--url', withoutAdminUrl]),
    ]).finally(async () => {
      await new Promise<void>((resolve) => withoutAdminServer.close(() => resolve()));
      await withoutAdmin.stop();
    });
    for (const [outcome, code, says] of [
      [unconfirmed, 2, 'add --yes to confirm'],
      [tokenless, 1, 'set ADMIN_TOKEN'],
      [wrongToken, 1, 'refused ADMIN_TOKEN'],
      [unknown, 1, 'no user named "nobody-by-that-name"'],
      [nobodyThere, 1, 'the service does not answer at http://127.0.0.1:9'],
      [noAdminApi, 1, 'has no admin API: set ADMIN_TOKEN for the service too'],
    ] as const) {
      expect(outcome.code, outcome.stderr).to.equal(code);
      expect(outcome.stderr).to.contain(says);
    }
    expect((await service.http.post('/v1/auth/token').send({ username: 'kept', password: 'kept long password' })).status).to.equal(200);
    expect((await service.stores.eventStore.readStream(`user-${kept.userId}`)).length).to.equal(1);
  });

  it('deletes an account through the service at its own address (PORT), at once when the read models keep up', async () => {
    const gone = await listener('gone');
    const port = String((server.address() as AddressInfo).port);
    const deletion = admin(['gone', '--yes'], { PORT: port });
    // The service waits for its projections to forget the user: run them meanwhile.
    const projecting = setInterval(() => void service.projector.catchUp(), 100);
    const outcome = await deletion.finally(() => clearInterval(projecting));
    expect(outcome.code, outcome.stderr).to.equal(0);
    expect(outcome.stdout).to.equal('deleted gone: the account and all its data\n');
    expect((await service.http.post('/v1/auth/token').send({ username: 'gone', password: 'gone long password' })).status).to.equal(401);
    expect(await service.stores.eventStore.readStream(`user-${gone.userId}`).catch((error: Error) => error.name)).to.equal('StreamDeletedError');
  });

  it('waits for a deletion the service finishes in the background, saying so', async () => {
    const slow = await listener('slow');
    const deletion = admin(['slow', '--yes', '--url', url]);
    // The service gives up waiting after 10 s (202) and goes on in the background; the read
    // models catch up only after that.
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    expect(await service.stores.accounts.findByUsername('slow'), 'not deleted while the projections stand still').not.to.equal(undefined);
    const projecting = setInterval(() => void service.projector.catchUp(), 200);
    const outcome = await deletion.finally(() => clearInterval(projecting));
    expect(outcome.code, outcome.stderr).to.equal(0);
    expect(outcome.stderr).to.contain('deleting slow: the read models are catching up');
    expect(outcome.stdout).to.equal('deleted slow: the account and all its data\n');
    expect(await service.stores.accounts.findByUsername('slow')).to.equal(undefined);
    expect(await service.stores.eventStore.readStream(`user-${slow.userId}`).catch((error: Error) => error.name)).to.equal('StreamDeletedError');
  });
});
