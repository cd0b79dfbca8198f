/**
 * A full disk (docs/operations.md, "A full disk"): apps are told to retry later, nothing is half
 * written, the operator is told once, `/readyz` and `/metrics` say so, and the same writes go
 * through once space is freed.
 */
import { statfs } from 'node:fs/promises';
import { expect } from 'chai';
import { checkReadiness, MIN_FREE_BYTES } from '../../src/admin/status.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { capturingServiceLogger } from '../support/logs.js';
import { WebClient } from '../web/web-client.js';

const subscribe = (index: number) => ({
  type: 'subscribe',
  timestamp: '2026-03-01T10:00:00Z',
  object: { rss_source_feed: `https://feeds.example.com/full-${index}.xml` },
  data: { rss_feed_title: `Show ${index}` },
});
const action = (index: number) => ({
  podcast: 'https://feeds.example.com/full-gpodder.xml',
  episode: `https://media.example.com/full-${index}.mp3`,
  action: 'play',
  position: 10,
  started: 0,
  total: 100,
  timestamp: '2026-03-01T10:00:00',
});
const DISK_FULL_LINE = 'the disk holding the store is full';

describe('a full disk', function () {
  let service: TestService;
  let lines: Record<string, unknown>[];
  before(async () => {
    const captured = capturingServiceLogger();
    lines = captured.lines;
    service = await startTestService({}, { logger: captured.logger });
  });
  after(async () => {
    await service.stop();
  });

  /**
   * SQLite's own SQLITE_FULL, as a full disk gives it: the events' file may grow no further
   * (`max_page_count`, on the connection that appends). Returns what frees the space again.
   */
  function fillEventsFile(): () => void {
    const events = service.stores.embedded!.database;
    const previous = Number(events.pragma('max_page_count', { simple: true }));
    events.pragma(`max_page_count = ${Number(events.pragma('page_count', { simple: true }))}`);
    return () => void events.pragma(`max_page_count = ${previous}`);
  }

  it('refuses writes with 503 storage_full and Retry-After, writes nothing, logs it once, and takes the same writes once space is freed', async () => {
    const user = await service.login();
    const basic = `Basic ${Buffer.from(`${user.username}:correct horse battery`).toString('base64')}`;
    const events = Array.from({ length: 300 }, (_, index) => subscribe(index));
    const actions = Array.from({ length: 300 }, (_, index) => action(index));
    const post = () => service.http.post('/v1/events').set('Authorization', `Bearer ${user.token}`).send({ events });
    const upload = () => service.http.post(`/api/2/episodes/${user.username}.json`).set('Authorization', basic).send(actions);
    const before = await service.eventCount();
    const free = fillEventsFile();
    try {
      for (const refused of [await post(), await post(), await upload()]) {
        expect(refused.status).to.equal(503);
        expect(refused.body.error).to.equal('storage_full');
        expect(refused.headers['retry-after']).to.equal('60');
      }
    } finally {
      free();
    }
    expect(await service.eventCount(), 'nothing of the refused writes').to.equal(before);
    const logged = lines.filter((line) => String(line['message']).startsWith(DISK_FULL_LINE));
    expect(logged, 'once, not once a request').to.have.length(1);
    expect(logged[0]).to.include({ level: 'error' });
    expect(lines.filter((line) => line['message'] === 'unhandled error')).to.have.length(0);

    expect((await post()).status).to.equal(201);
    expect((await upload()).status).to.equal(200);
    expect(await service.eventCount()).to.equal(before + 600);
  });

  it("keeps serving reads: a credential's last use and a gpodder session are left unrecorded while the disk is full", async () => {
    const user = await service.login();
    const basic = `Basic ${Buffer.from(`${user.username}:correct horse battery`).toString('base64')}`;
    await service.http
      .post(`/api/2/episodes/${user.username}.json`)
      .set('Authorization', basic)
      .send([action(1)]);
    await service.settle();
    // What SQLite answers when the WAL cannot grow: the writes these reads make on the side fail.
    const accounts = service.stores.accounts;
    const { touchToken, createToken } = accounts;
    const refused = { touches: 0, sessions: 0 };
    accounts.touchToken = async () => {
      refused.touches += 1;
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    };
    accounts.createToken = async () => {
      refused.sessions += 1;
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    };
    try {
      const own = await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${user.token}`);
      expect(own.status, 'a bearer token used for the first time').to.equal(200);
      const download = await service.http.get(`/api/2/episodes/${user.username}.json?since=0`).set('Authorization', basic);
      expect(download.status, 'gpodder Basic without a session cookie').to.equal(200);
      expect(download.body.actions).to.have.length(1);
      expect(download.headers['set-cookie'], 'no session to give').to.equal(undefined);
      const nextcloud = await service.http.get('/index.php/apps/gpoddersync/episode_action?since=0').set('Authorization', basic);
      expect(nextcloud.status).to.equal(200);
      expect(refused).to.deep.equal({ touches: 1, sessions: 1 });
    } finally {
      Object.assign(accounts, { touchToken, createToken });
    }
    const again = await service.http.get(`/api/2/episodes/${user.username}.json?since=0`).set('Authorization', basic);
    expect(again.headers['set-cookie'], 'a session once there is room').to.be.an('array');

    // The same for a file another connection holds locked past the busy timeout.
    const other = await service.login();
    accounts.touchToken = async () => {
      throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    };
    try {
      expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${other.token}`)).status).to.equal(200);
    } finally {
      Object.assign(accounts, { touchToken });
    }
  });

  it('answers a page whose write is refused with a page saying so (503, Retry-After), logged as the API is', async () => {
    // A service of its own: its log holds no earlier line of the disk being full.
    const captured = capturingServiceLogger();
    const own = await startTestService({}, { logger: captured.logger });
    try {
      const web = new WebClient(own.app);
      await web.signUp('full-web');
      const store = own.stores.embedded!.eventStore!;
      const append = store.append;
      store.append = async () => {
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      };
      let refused;
      try {
        refused = await web.submit('/privacy', '/privacy', { privacy: 'public' });
      } finally {
        store.append = append;
      }
      expect(refused.status).to.equal(503);
      expect(refused.headers['content-type']).to.match(/^text\/html/);
      expect(refused.headers['retry-after']).to.equal('60');
      expect(refused.text).to.include('disk is full').and.include('Retry later');
      expect(captured.lines.filter((line) => String(line['message']).startsWith(DISK_FULL_LINE))).to.have.length(1);
      expect((await web.submit('/privacy', '/privacy', { privacy: 'public' })).status, 'saved once it goes through').to.equal(303);
    } finally {
      await own.stop();
    }
  });

  it('reports the bytes free where the store keeps its files in /metrics, and is not ready below the minimum', async () => {
    const stats = await statfs(service.dataDir);
    const free = await service.stores.embedded!.freeBytes();
    expect(free).to.be.closeTo(stats.bavail * stats.bsize, 64 * 1024 * 1024);
    const metrics = await service.http.get('/metrics');
    const line = metrics.text.split('\n').find((text) => text.startsWith('podsync_storage_free_bytes '));
    expect(Number(line?.split(' ')[1])).to.be.greaterThan(0);

    const names = service.projector.names;
    const stores = { ...service.stores, sequentialPositions: true };
    const nearlyFull = await checkReadiness(stores, names, { maxLag: 1000, freeBytes: async () => MIN_FREE_BYTES / 2 });
    expect(nearlyFull.ready).to.equal(false);
    expect(nearlyFull.reason).to.match(/^the disk holding the store is full or nearly \(8\.0 MiB free, 16\.0 MiB needed\)$/);
    const enough = await checkReadiness(stores, names, { maxLag: 1000, freeBytes: async () => MIN_FREE_BYTES });
    expect(enough.ready).to.equal(true);
  });
});
