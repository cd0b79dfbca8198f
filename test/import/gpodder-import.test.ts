/**
 * Moving an account from another server (src/import/gpodder-import.ts, scripts/import.ts): two
 * running services over real HTTP, the old one read through its gpodder.net API or its Nextcloud
 * API (the same APIs gpodder.net, oPodSync and Nextcloud gPodder Sync answer), and a crafted
 * server for what those may answer that this one never does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ImportError, importAccount } from '../../src/import/gpodder-import.js';
import { runScript } from '../support/run-script.js';
import { basicHeader } from '../http/gpodder/support.js';
import type { Served } from '../clients/served.js';
import { serve, unserve } from '../clients/served.js';

const PASSWORD = 'correct horse battery staple';
const script = fileURLToPath(new URL('../../scripts/import.ts', import.meta.url));
const failure = (promise: Promise<unknown>): Promise<Error> =>
  promise.then(
    () => new Error('expected a failure'),
    (error: unknown) => error as Error,
  );
const basic = (username: string, password = PASSWORD) => basicHeader(username, password);

const feed = (n: number) => `https://feeds.example.com/${n}.xml`;
const media = (f: number, e: number) => `https://cdn.example.com/${f}/${e}.mp3`;

/** A listener's history on the old server: two devices, subscriptions, 150 actions of four kinds. */
async function history(old: Served, username: string): Promise<void> {
  const http = old.service.http;
  await old.service.login(username, PASSWORD);
  for (const [id, caption, type] of [
    ['phone', 'My phone', 'mobile'],
    ['laptop', 'Work laptop', 'laptop'],
  ] as const) {
    expect((await http.post(`/api/2/devices/${username}/${id}.json`).set('Authorization', basic(username)).send({ caption, type })).status).to.equal(200);
  }
  await http
    .post(`/api/2/subscriptions/${username}/phone.json`)
    .set('Authorization', basic(username))
    .send({ add: [feed(1), feed(2), feed(3)], remove: [] });
  await http
    .post(`/api/2/subscriptions/${username}/laptop.json`)
    .set('Authorization', basic(username))
    .send({ add: [feed(4)], remove: [feed(3)] });
  const actions = Array.from({ length: 150 }, (_, i) => {
    const kind = ['play', 'download', 'delete', 'new'][i % 4]!;
    return {
      podcast: feed((i % 2) + 1),
      episode: media((i % 2) + 1, i),
      ...(i % 3 === 0 ? { guid: `guid-${i}` } : {}),
      device: i % 2 === 0 ? 'phone' : 'laptop',
      action: kind,
      timestamp: new Date(Date.UTC(2026, 10, 1, 8, 0, i)).toISOString().slice(0, 19),
      ...(kind === 'play' ? { started: 10, position: 100 + i, total: 3600 } : {}),
    };
  });
  expect((await http.post(`/api/2/episodes/${username}.json`).set('Authorization', basic(username)).send(actions)).status).to.equal(200);
}

/** Everything the service answers for the account through the gpodder API, comparable across servers. */
async function holdings(side: Served, username: string, password = PASSWORD) {
  const http = side.service.http;
  const auth = basic(username, password);
  const devices = (await http.get(`/api/2/devices/${username}.json`).set('Authorization', auth)).body as {
    id: string;
    caption: string;
    type: string;
  }[];
  const subscriptions = (await http.get(`/api/2/subscriptions/${username}/any.json?since=0`).set('Authorization', auth)).body as { add: string[] };
  const episodes = (await http.get(`/api/2/episodes/${username}.json?since=0`).set('Authorization', auth)).body as { actions: object[] };
  return {
    devices: devices.map(({ id, caption, type }) => ({ id, caption, type })).sort((a, b) => a.id.localeCompare(b.id)),
    subscriptions: [...subscriptions.add].sort(),
    actions: episodes.actions.map((action) => JSON.stringify(action)).sort(),
  };
}

describe('npm run import: an account moved from another server', function () {
  this.timeout(120_000);
  let old: Served | undefined;
  let target: Served | undefined;

  before(async () => {
    old = await serve();
    target = await serve();
  });
  after(async () => {
    await unserve(old);
    await unserve(target);
  });

  it('through the gpodder.net API: devices, subscriptions and every action, as the old server answers them; a second run adds nothing', async () => {
    await history(old!, 'alice');
    await target!.service.login('alice', 'another long password');
    const source = { server: old!.base, username: 'alice', password: PASSWORD, api: 'gpodder' as const };
    const into = { server: target!.base, username: 'alice', password: 'another long password' };
    const stages = new Set<string>();
    const summary = await importAccount(source, into, ({ stage }) => stages.add(stage));
    expect(summary).to.deep.include({ devices: 2, subscriptions: 3, actionsRead: 150, actionsSent: 150, actionsSkipped: 0 });
    expect([...stages]).to.have.members(['devices', 'subscriptions', 'actions-read', 'actions-sent']);

    const before = await holdings(old!, 'alice');
    const after = await holdings(target!, 'alice', 'another long password');
    expect(after.devices).to.deep.equal(before.devices);
    expect(after.subscriptions).to.deep.equal([feed(1), feed(2), feed(4)]);
    expect(after.actions).to.have.length(150);
    expect(after.actions).to.deep.equal(before.actions);

    const events = await target!.service.eventCount();
    await importAccount(source, into);
    expect(await target!.service.eventCount(), 'a second run').to.equal(events);
  });

  it('sends a batch the target finds too large in halves: actions with URLs of 1,500 characters past its append limit', async () => {
    const small = await serve({ MAX_APPEND_BYTES: '65536' });
    try {
      await old!.service.login('carol', PASSWORD);
      const actions = Array.from({ length: 60 }, (_, i) => ({
        podcast: feed(9),
        episode: `https://cdn.example.com/${'long-path/'.repeat(150)}${i}.mp3`,
        device: 'phone',
        action: 'play',
        timestamp: new Date(Date.UTC(2026, 10, 2, 8, 0, i)).toISOString().slice(0, 19),
        started: 0,
        position: 10 + i,
        total: 3600,
      }));
      expect((await old!.service.http.post('/api/2/episodes/carol.json').set('Authorization', basic('carol')).send(actions)).status).to.equal(200);
      await small.service.login('carol', PASSWORD);
      const summary = await importAccount(
        { server: old!.base, username: 'carol', password: PASSWORD, api: 'gpodder' },
        { server: small.base, username: 'carol', password: PASSWORD },
      );
      expect(summary).to.deep.include({ actionsRead: 60, actionsSent: 60 });
      expect((await holdings(small, 'carol')).actions).to.deep.equal((await holdings(old!, 'carol')).actions);
    } finally {
      await unserve(small);
    }
  });

  it('through the Nextcloud API (no devices there): subscriptions and actions', async () => {
    await history(old!, 'bob');
    await target!.service.login('bob', PASSWORD);
    const summary = await importAccount(
      { server: old!.base, username: 'bob', password: PASSWORD, api: 'nextcloud' },
      { server: target!.base, username: 'bob', password: PASSWORD },
    );
    expect(summary).to.deep.include({ devices: 0, subscriptions: 3, actionsRead: 150, actionsSent: 150 });
    const before = await holdings(old!, 'bob');
    const after = await holdings(target!, 'bob');
    expect(after.subscriptions).to.deep.equal(before.subscriptions);
    // The Nextcloud API names no device: the actions arrive without one, otherwise the same.
    const withoutDevice = (actions: string[]) =>
      actions
        .map((text) => {
          const { device: _device, ...rest } = JSON.parse(text) as Record<string, unknown>;
          return JSON.stringify(rest);
        })
        .sort();
    expect(withoutDevice(after.actions)).to.deep.equal(withoutDevice(before.actions));
  });

  describe('what other servers may answer', () => {
    let crafted: Server;
    let base: string;
    const requests: string[] = [];
    const pages = [
      {
        actions: [
          {
            podcast: feed(7),
            episode: media(7, 1),
            action: 'play',
            position: 30,
            started: 0,
            total: 600,
            timestamp: '2026-10-01T10:00:00',
            device: 'old phone!',
          },
          { podcast: feed(7), episode: media(7, 2), action: 'flag', timestamp: '2026-10-01T10:01:00' },
        ],
        timestamp: 1_790_000_000,
      },
      {
        actions: [{ podcast: 'ftp://feeds.example.com/7.xml', episode: media(7, 3), action: 'download', timestamp: '2026-10-01T10:02:00' }],
        timestamp: 1_790_000_100,
      },
      { actions: [], timestamp: 1_790_000_100 },
    ];

    before(async () => {
      let limited = false;
      crafted = createServer((request, response) => {
        requests.push(request.url!);
        // The first listing is rate-limited, as gpodder.net may: asked again after Retry-After.
        if (!limited && request.url === '/api/2/devices/carol.json') {
          limited = true;
          return response.writeHead(429, { 'Retry-After': '0' }).end('{}');
        }
        if (request.headers.authorization !== basic('carol', 'old password')) return response.writeHead(401).end('{}');
        const url = new URL(request.url!, 'http://localhost');
        response.setHeader('Content-Type', 'application/json');
        if (url.pathname === '/api/2/devices/carol.json') return response.end(JSON.stringify([{ id: 'not a device id!', caption: 'x', type: 'toaster' }]));
        if (url.pathname === '/api/2/episodes/carol.json') {
          const since = Number(url.searchParams.get('since'));
          const index = since === 0 ? 0 : since === pages[0]!.timestamp ? 1 : 2;
          return response.end(JSON.stringify(pages[index]));
        }
        response.writeHead(404).end('{}');
      });
      await new Promise<void>((resolve) => crafted.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(crafted.address() as AddressInfo).port}`;
      await target!.service.login('carol', PASSWORD);
    });
    after(() => new Promise<void>((resolve) => crafted.close(() => resolve())));

    it('pages until an empty one; asks again after a 429; skips what this service would refuse, saying why; reports URLs not stored', async () => {
      const summary = await importAccount(
        { server: base, username: 'carol', password: 'old password', api: 'gpodder' },
        { server: target!.base, username: 'carol', password: PASSWORD },
      );
      expect(summary).to.deep.include({ devices: 0, actionsRead: 3, actionsSent: 2, actionsSkipped: 1 });
      expect(summary.skippedReasons).to.have.length(1);
      expect(summary.skippedReasons[0]).to.match(/^action 1: action: /);
      expect(summary.updatedUrls).to.deep.equal([['ftp://feeds.example.com/7.xml', '']]);
      const stored = (await target!.service.http.get('/api/2/episodes/carol.json?since=0').set('Authorization', basic('carol'))).body as {
        actions: { episode: string; position?: number }[];
      };
      expect(stored.actions.map((action) => [action.episode, action.position])).to.deep.equal([[media(7, 1), 30]]);
      expect(requests.filter((url) => url === '/api/2/devices/carol.json')).to.have.length(2);
    });

    it('checks the password here before reading there; a refused one there is named', async () => {
      requests.length = 0;
      const wrongHere = importAccount(
        { server: base, username: 'carol', password: 'old password', api: 'gpodder' },
        { server: target!.base, username: 'carol', password: 'wrong' },
      );
      const here = await failure(wrongHere);
      expect(here).to.be.instanceOf(ImportError);
      expect(here.message).to.match(/401, the server refused the username or password/);
      expect(requests).to.deep.equal([]);
      const wrongThere = importAccount(
        { server: base, username: 'carol', password: 'wrong', api: 'gpodder' },
        { server: target!.base, username: 'carol', password: PASSWORD },
      );
      const there = await failure(wrongThere);
      expect(there).to.be.instanceOf(ImportError);
      expect(there.message.startsWith(`GET ${base}/api/2/devices/carol.json: 401`), there.message).to.equal(true);
    });
  });

  it('the script: a summary as JSON, exit 0; arguments or passwords missing, exit 2; a refused password, exit 1 and one line', async () => {
    await history(old!, 'dave');
    await target!.service.login('dave', PASSWORD);
    const env = { IMPORT_FROM_PASSWORD: PASSWORD, IMPORT_TO_PASSWORD: PASSWORD, DATA_DIR: target!.service.dataDir };
    const done = await runScript(script, ['--from', old!.base, '--from-user', 'dave', '--to', target!.base, '--json'], { env });
    expect(done.code, done.stderr).to.equal(0);
    expect(JSON.parse(done.stdout)).to.deep.include({ devices: 2, actionsSent: 150 });
    expect(done.stderr).to.include('episode actions sent: 150 of 150');

    const usage = await runScript(script, ['--from-user', 'dave'], { env });
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.include('--from is needed');
    const noPassword = await runScript(script, ['--from', old!.base, '--from-user', 'dave'], { env: { DATA_DIR: target!.service.dataDir } });
    expect(noPassword.code).to.equal(2);
    expect(noPassword.stderr).to.include('IMPORT_FROM_PASSWORD is needed');
    const refused = await runScript(script, ['--from', old!.base, '--from-user', 'dave', '--to', target!.base], {
      env: { ...env, IMPORT_TO_PASSWORD: 'wrong' },
    });
    expect(refused.code).to.equal(1);
    expect(refused.stderr.trim().split('\n')).to.have.length(1);
    expect(refused.stderr).to.match(/^import: GET .*401/);
  });

  it('the script without --to copies to this service at PORT, under BASE_PATH when it is served under one', async () => {
    await history(old!, 'erin');
    const underPath = await serve({ BASE_PATH: '/podsync' });
    try {
      await underPath.service.login('erin', PASSWORD);
      const port = new URL(underPath.base).port;
      const env = { IMPORT_FROM_PASSWORD: PASSWORD, IMPORT_TO_PASSWORD: PASSWORD, DATA_DIR: underPath.service.dataDir, PORT: port, BASE_PATH: '/podsync' };
      const done = await runScript(script, ['--from', old!.base, '--from-user', 'erin', '--json'], { env });
      expect(done.code, done.stderr).to.equal(0);
      expect(JSON.parse(done.stdout)).to.deep.include({ devices: 2, actionsSent: 150 });
    } finally {
      await unserve(underPath);
    }
  });
});
