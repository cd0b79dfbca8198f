/**
 * The embedded default's files (src/runtime.ts): events, accounts and jobs in `podsync.db`, read
 * models in `read-models.db`, as the production stack keeps events and read models in two
 * servers. Pinned here:
 * - an append does not wait for a read-model commit (one write lock per file);
 * - a data directory of the earlier one-file layout opens: its read-model tables are dropped
 *   from the events' file and the projector rebuilds the read models in their own file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import { streams } from '../../src/domain/events.js';
import { silentLogger } from '../../src/logger.js';
import { Projector } from '../../src/projector/projector.js';
import { EMBEDDED_FILE, openStores, READ_MODEL_FILE, type StoreConfig } from '../../src/runtime.js';
import { toStoreEvent } from '../../src/services/codec.js';
import { SqliteEventStore } from '../../src/stores/embedded/index.js';
import { SqliteReadModelStore } from '../../src/stores/embedded/sqlite-read-model.js';
import type { EventStore } from '../../src/stores/event-store.js';
import type { ReadModelStore } from '../../src/stores/read-model.js';

const subscribe = (user: string, feed: string) =>
  toStoreEvent(
    { id: crypto.randomUUID(), user, timestamp: '2026-03-01T00:00:00.000Z', type: 'subscribe', object: { rss_source_feed: feed }, data: {} },
    { username: user },
  );

async function project(eventStore: EventStore, readModel: ReadModelStore): Promise<void> {
  const projector = new Projector({ eventStore, readModel, projections: allProjections, context: { defaultPrivacy: 'private' }, logger: silentLogger() });
  expect(await projector.acquireLeases(false)).to.equal(true);
  await projector.prepare();
  await projector.catchUp();
  await projector.stop();
}

const readModelTables = (file: string) => {
  const database = new BetterSqlite3(file, { readonly: true });
  try {
    return (database.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rm%'").all() as { name: string }[]).map(({ name }) => name);
  } finally {
    database.close();
  }
};

describe('embedded files: events and read models apart', function () {
  this.timeout(30_000);
  let dataDir: string;
  let config: StoreConfig;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-files-'));
    config = { DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded', EVENTSTORE_URL: undefined, MONGO_URL: undefined };
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps read models in read-models.db, and an append does not wait while a read-model commit holds its write lock', async () => {
    const stores = await openStores(config);
    try {
      expect(stores.embedded!.legacyTablesDropped).to.equal(0);
      await stores.eventStore.append(streams.user('ann'), [subscribe('ann', 'https://a.example.com/feed')]);
      await project(stores.eventStore, stores.readModel);
      expect(await stores.readModel.count('subscriptions', { user: 'ann' })).to.equal(1);
      // Another connection holds the read models' write lock, as the projector's commit thread does.
      const committer = new BetterSqlite3(path.join(dataDir, READ_MODEL_FILE));
      committer.pragma('busy_timeout = 0');
      committer.exec('BEGIN IMMEDIATE');
      try {
        const started = Date.now();
        await stores.eventStore.append(streams.user('ann'), [subscribe('ann', 'https://b.example.com/feed')]);
        expect(Date.now() - started, 'the append waited for the read models').to.be.below(1000);
      } finally {
        committer.exec('ROLLBACK');
        committer.close();
      }
    } finally {
      await stores.close();
    }
    expect(readModelTables(path.join(dataDir, EMBEDDED_FILE))).to.deep.equal([]);
    expect(readModelTables(path.join(dataDir, READ_MODEL_FILE))).to.include.members(['rm_checkpoints', 'rm_leases', 'rm_subscriptions']);
  });

  it('a replaying process reads the events with a small page cache and no checkpoint thread; the read models keep both', async function () {
    const settings = (database: BetterSqlite3.Database) => ({
      cacheKib: -Number(database.pragma('cache_size', { simple: true })),
      // A checkpoint thread turns the connection's own checkpoints off.
      ownCheckpoints: Number(database.pragma('wal_autocheckpoint', { simple: true })) > 0,
    });
    for (const replaying of [false, true]) {
      const stores = await openStores(config, { backgroundCheckpoints: true, replaying });
      try {
        const { database, readModelDatabase } = stores.embedded!;
        expect(settings(database), `events, replaying: ${replaying}`).to.deep.equal(
          replaying ? { cacheKib: 2048, ownCheckpoints: true } : { cacheKib: 32 * 1024, ownCheckpoints: false },
        );
        expect(settings(readModelDatabase!), `read models, replaying: ${replaying}`).to.deep.equal({ cacheKib: 32 * 1024, ownCheckpoints: false });
      } finally {
        await stores.close();
      }
    }
  });

  it('opens a data directory of the one-file layout: the old read-model tables go, the read models are rebuilt in their own file', async () => {
    // The earlier layout: events and read models share podsync.db.
    const old = new SqliteEventStore({ path: path.join(dataDir, EMBEDDED_FILE) });
    for (const user of ['bob', 'cat']) await old.append(streams.user(user), [subscribe(user, `https://${user}.example.com/feed`)]);
    await project(old, new SqliteReadModelStore(old.database));
    await old.close();
    expect(readModelTables(path.join(dataDir, EMBEDDED_FILE))).to.include('rm_subscriptions');

    const stores = await openStores(config);
    try {
      expect(stores.embedded!.legacyTablesDropped, 'reported, for the service to log').to.be.greaterThan(0);
      expect(readModelTables(path.join(dataDir, EMBEDDED_FILE)), 'nothing of the read models is left beside the events').to.deep.equal([]);
      expect(await stores.readModel.count('subscriptions', {})).to.equal(0);
      await project(stores.eventStore, stores.readModel);
      expect(await stores.readModel.count('subscriptions', { user: 'bob' })).to.equal(1);
      expect(await stores.readModel.count('subscriptions', { user: 'cat' })).to.equal(1);
    } finally {
      await stores.close();
    }
  });
});
