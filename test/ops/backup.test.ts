/**
 * Backups of the embedded store while the service writes (docs/operations.md, "Backups"), and a
 * service restored from one: the accounts, the events as of one moment, read models that catch
 * up from their checkpoints, and positions that go on after the last one ever given.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { BackupError, backupDataDir, backupFile } from '../../src/admin/backup.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { EMBEDDED_FILE, READ_MODEL_FILE } from '../../src/runtime.js';
import { startService } from '../../src/service.js';
import { ReadModelService } from '../../src/services/read-models.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { runScript } from '../support/run-script.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PASSWORD = 'correct horse battery';
const subscribe = (feed: string) => ({
  type: 'subscribe',
  timestamp: '2026-03-01T10:00:00Z',
  object: { rss_source_feed: `https://feeds.example.com/${feed}.xml` },
  data: {},
});

describe('backups of the embedded store', function () {
  this.timeout(60_000);
  let service: TestService;
  const scratch: string[] = [];
  const directory = () => {
    const made = mkdtempSync(path.join(tmpdir(), 'podsync-backup-'));
    scratch.push(made);
    return made;
  };

  before(async () => {
    service = await startTestService();
    await service.login('backed-up', PASSWORD);
  });
  after(async () => {
    await service.stop();
    for (const made of scratch) rmSync(made, { recursive: true, force: true });
  });

  it('copies the files while the service writes, and a service restored from them has every acknowledged write up to one moment and goes on from there', async () => {
    // A service of its own: stopped before the restore, as the procedure says.
    const running = await startTestService();
    const writer = await running.login('restored', PASSWORD);
    const post = (feeds: string[]) =>
      running.http
        .post('/v1/events')
        .set('Authorization', `Bearer ${writer.token}`)
        .send({ events: feeds.map(subscribe) });
    const before = Array.from({ length: 200 }, (_, index) => `before-${index}`);
    expect((await post(before)).status).to.equal(201);
    await running.settle();
    // Some documents behind the events when the copy is taken: the read models must catch up.
    const writing = (async () => {
      for (let round = 0; round < 20; round++) expect((await post([`during-${round}-a`, `during-${round}-b`])).status).to.equal(201);
    })();
    const backup = directory();
    // And a write projected just before each file is copied: read models copied after the events
    // would hold one the events do not.
    let justBefore = 0;
    const copied = await backupDataDir(running.dataDir, backup, { eventsFile: EMBEDDED_FILE, readModelsFile: READ_MODEL_FILE }, async () => {
      justBefore += 1;
      expect((await post([`just-before-${justBefore}-a`, `just-before-${justBefore}-b`])).status).to.equal(201);
      await running.settle();
    });
    await writing;
    await running.stop();
    expect(copied.map((file) => path.basename(file.file))).to.deep.equal([READ_MODEL_FILE, EMBEDDED_FILE]);
    expect(readdirSync(backup).sort()).to.deep.equal([EMBEDDED_FILE, READ_MODEL_FILE].sort());
    const user = writer;

    const restored = directory();
    for (const file of [EMBEDDED_FILE, READ_MODEL_FILE]) copyFileSync(path.join(backup, file), path.join(restored, file));
    const again = await startService(loadConfig({ DATA_DIR: restored, RATE_LIMIT_PER_MINUTE: '0' }), silentLogger(), { runScheduler: false });
    try {
      const http = request(again.app);
      const login = await http.post('/v1/auth/token').send({ username: user.username, password: PASSWORD });
      expect(login.status, 'the account and its password').to.equal(200);
      const auth = `Bearer ${String(login.body.token)}`;

      // The events as of one moment: every write acknowledged before the copy, whole requests only.
      const events = await again.stores.eventStore.readStream(`user-${user.userId}`);
      const feeds = events.map((event) => String((event.data as { object: { rss_source_feed: string } }).object.rss_source_feed));
      expect(events.map((event) => Number(event.revision))).to.deep.equal(events.map((_, index) => index));
      expect(feeds.slice(0, 200)).to.deep.equal(before.map((feed) => `https://feeds.example.com/${feed}.xml`));
      expect((feeds.length - 200) % 2, 'no request split').to.equal(0);

      // The read models catch up from their checkpoints to exactly those events.
      const head = await again.stores.eventStore.headPosition();
      expect(await new ReadModelService(again.stores.eventStore, again.stores.readModel).waitFor(again.projector.names, head, 10_000)).to.equal(true);
      const listed = await http.get('/v1/subscriptions').set('Authorization', auth);
      expect(listed.body.subscriptions.map((subscription: { rss_source_feed: string }) => subscription.rss_source_feed).sort()).to.deep.equal(
        [...feeds].sort(),
      );

      // New writes get positions after every one the store ever gave, and are projected.
      expect(
        (
          await http
            .post('/v1/events')
            .set('Authorization', auth)
            .send({ events: [subscribe('after-restore')] })
        ).status,
      ).to.equal(201);
      const written = (await again.stores.eventStore.readStream(`user-${user.userId}`)).at(-1)!;
      expect(written.position.commit > (events.at(-1)?.position.commit ?? 0n)).to.equal(true);
      const caughtUp = await again.stores.eventStore.headPosition();
      expect(await new ReadModelService(again.stores.eventStore, again.stores.readModel).waitFor(again.projector.names, caughtUp, 10_000)).to.equal(true);
      const after = await http.get('/v1/subscriptions').set('Authorization', auth);
      expect(after.body.subscriptions).to.have.length(feeds.length + 1);
    } finally {
      await again.close();
    }
  });

  it('never overwrites, needs an existing directory, and leaves nothing that looks whole when it fails', async () => {
    const backup = directory();
    writeFileSync(path.join(backup, EMBEDDED_FILE), 'an older backup');
    let caught: unknown;
    await backupDataDir(service.dataDir, backup, { eventsFile: EMBEDDED_FILE }).catch((error: unknown) => (caught = error));
    expect(caught)
      .to.be.instanceOf(BackupError)
      .with.property('message')
      .that.matches(/exists already/);

    caught = undefined;
    await backupDataDir(service.dataDir, path.join(backup, 'missing'), { eventsFile: EMBEDDED_FILE }).catch((error: unknown) => (caught = error));
    expect(caught)
      .to.be.instanceOf(BackupError)
      .with.property('message')
      .that.matches(/does not exist: create it first/);

    // A source that is not a database: the copy fails, and neither the file nor a partial stays.
    const garbage = path.join(directory(), 'not-a-database.db');
    writeFileSync(garbage, 'x'.repeat(8192));
    const target = path.join(directory(), 'copy.db');
    caught = undefined;
    await backupFile(garbage, target).catch((error: unknown) => (caught = error));
    expect(caught).to.be.instanceOf(Error);
    expect(existsSync(target)).to.equal(false);
    expect(existsSync(`${target}.partial`)).to.equal(false);
  });

  it('npm run admin -- backup: says what it copied, refuses another store with the reason', async () => {
    const backup = directory();
    const env = { DATA_DIR: service.dataDir, LOG_LEVEL: 'warn' };
    const done = await runScript('scripts/admin.ts', ['backup', backup], { cwd: ROOT, env });
    expect(done.code, done.stderr).to.equal(0);
    expect(done.stdout).to.match(/^copying podsync\.db \(\d+\.\d MB\)…$/m);
    expect(done.stdout).to.match(new RegExp(`^${backup.replaceAll('/', '\\/')}\\/podsync\\.db: \\d+\\.\\d MB in \\d+\\.\\d\\d s, checked$`, 'm'));
    expect(readdirSync(backup)).to.deep.equal([EMBEDDED_FILE]);

    mkdirSync(path.join(backup, 'other'));
    const refused = await runScript('scripts/admin.ts', ['backup', path.join(backup, 'other')], {
      cwd: ROOT,
      env: { ...env, STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb://127.0.0.1:1?tls=false' },
    });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.match(/^admin backup: backup copies the embedded store; back up EventStoreDB and MongoDB with their own tools/m);
    const usage = await runScript('scripts/admin.ts', ['backup'], { cwd: ROOT, env });
    expect(usage.code).to.equal(2);
  });
});
