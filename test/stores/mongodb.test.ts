/**
 * Runs the ReadModelStore and AccountStore contracts against a real MongoDB when MONGO_URL is set
 * (a replica set: the read-model store needs transactions), each run in its own database, dropped
 * afterwards. Otherwise reports one pending test that says why, so a green run never hides that
 * the suites did not run.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { MongoAccountStore, MongoReadModelStore, connectMongo } from '../../src/stores/mongodb/index.js';
import type { JsonObject } from '../../src/stores/event-store.js';
import { InvalidDocumentError } from '../../src/stores/read-model.js';
import { accountsContract } from './accounts.contract.js';
import { kindsByLabel, LEGACY_TOKEN_LABELS, UPGRADED_KINDS } from '../support/legacy-sessions.js';
import { readModelContract } from './read-model.contract.js';

const url = process.env['MONGO_URL'];

if (url) {
  /** One database per run (per process), so parallel runs against one server do not meet. */
  const dbName = `podsync_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;

  async function dropDatabase(): Promise<void> {
    const client = await MongoClient.connect(url!);
    try {
      await client.db(dbName).dropDatabase();
    } finally {
      await client.close();
    }
  }

  readModelContract('MongoReadModelStore', async () => {
    const store = await MongoReadModelStore.connect(url, { dbName });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropDatabase();
      },
    };
  });

  accountsContract('MongoAccountStore', async () => {
    const client = await MongoClient.connect(url);
    const store = new MongoAccountStore(client.db(dbName));
    await store.init();
    return {
      store,
      cleanup: async () => {
        await client.close();
        await dropDatabase();
      },
    };
  });

  describe('MongoDB adapters (MongoDB only)', function () {
    let client: MongoClient;
    let store: MongoReadModelStore;
    let ns: string;

    before(async function () {
      client = await MongoClient.connect(url);
      store = new MongoReadModelStore(client.db(dbName), client);
      await store.requireTransactions();
    });

    after(async function () {
      await store.close();
      await client.db(dbName).dropDatabase();
      await client.close();
    });

    beforeEach(function () {
      ns = `m${randomBytes(6).toString('hex')}`;
    });

    it('stores checkpoints as decimal strings', async function () {
      await store.commit(`${ns}_p`, [], { commit: 18446744073709551615n, prepare: 12n });
      const raw = await client
        .db(dbName)
        .collection('checkpoints')
        .findOne({ _id: `${ns}_p` as never });
      expect(raw).to.include({ commit: '18446744073709551615', prepare: '12' });
    });

    it('stores documents with _id = id and the fields as they are', async function () {
      await store.commit(`${ns}_p`, [{ op: 'put', collection: `${ns}_docs`, id: 'a', doc: { n: 1, nested: { k: 'v' } } }], { commit: 1n, prepare: 1n });
      const raw = await client
        .db(dbName)
        .collection(`${ns}_docs`)
        .findOne({ _id: 'a' as never });
      expect(raw).to.deep.equal({ _id: 'a', n: 1, nested: { k: 'v' } });
    });

    it('creates the declared compound indexes, fields in the given order, ascending, then _id (the tie rule)', async function () {
      const name = `${ns}_indexed`;
      await store.ensureCollections([{ name, indexes: [['feed', 'level', 'played'], ['meta.lang']] }]);
      await store.ensureCollections([{ name, indexes: [['feed', 'level', 'played'], ['meta.lang']] }]);
      const keys = (await client.db(dbName).collection(name).listIndexes().toArray()).map((index) => Object.entries(index['key'] as object));
      expect(keys).to.deep.include([
        ['feed', 1],
        ['level', 1],
        ['played', 1],
        ['_id', 1],
      ]);
      expect(keys).to.deep.include([
        ['meta.lang', 1],
        ['_id', 1],
      ]);
      expect(keys).to.have.length(3); // with _id_
    });

    it('creates partial indexes with their filter, and drops the indexes a spec no longer declares', async function () {
      const name = `${ns}_partial`;
      await store.ensureCollections([{ name, indexes: [['user', 'feed'], { fields: ['episode', 'play_seq'], where: { level: 'public', played: true } }] }]);
      const listed = async () =>
        (await client.db(dbName).collection(name).listIndexes().toArray()).map((index) => ({
          name: index['name'] as string,
          filter: index['partialFilterExpression'] as unknown,
        }));
      expect(await listed()).to.deep.include({
        name: 'episode_1_play_seq_1__id_1__where__level_public__played_true',
        filter: { level: 'public', played: true },
      });
      expect((await listed()).map((index) => index.name)).to.include('user_1_feed_1__id_1');
      await store.ensureCollections([{ name, indexes: [['user', 'feed']] }]);
      expect((await listed()).map((index) => index.name).sort()).to.deep.equal(['_id_', 'user_1_feed_1__id_1']);
    });

    it('serves a sort with the _id tie-breaker from the index (no in-memory SORT stage)', async function () {
      const name = `${ns}_sorted`;
      await store.ensureCollections([{ name, indexes: [{ fields: ['plays', 'likes'], sort: 'desc' }] }]);
      const explained = await client
        .db(dbName)
        .collection(name)
        .find({})
        .sort([
          ['plays', -1],
          ['likes', -1],
          ['_id', 1],
        ])
        .limit(10)
        .explain('queryPlanner');
      expect(JSON.stringify(explained['queryPlanner']['winningPlan'])).not.to.contain('"SORT"');
    });

    it('rejects reserved or malformed collection names, _id fields and $ field paths before writing', async function () {
      const position = { commit: 1n, prepare: 1n };
      for (const collection of ['checkpoints', 'leases', 'accounts', 'bad-name', 'a.b', '']) {
        let caught: unknown;
        try {
          await store.commit(`${ns}_p`, [{ op: 'put', collection, id: 'x', doc: {} }], position);
        } catch (error) {
          caught = error;
        }
        expect(caught, collection).to.be.instanceOf(Error);
      }
      let caught: unknown;
      try {
        await store.commit(`${ns}_p`, [{ op: 'put', collection: `${ns}_docs`, id: 'x', doc: { _id: 'y' } }], position);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(Error);
      caught = undefined;
      try {
        await store.find(`${ns}_docs`, { where: { $where: 'true' } });
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(Error);
      expect(await store.getCheckpoint(`${ns}_p`)).to.equal(undefined);
    });

    it('refuses a document MongoDB cannot hold with InvalidDocumentError, writing nothing of the commit', async function () {
      const position = { commit: 1n, prepare: 1n };
      const good = { op: 'put' as const, collection: `${ns}_docs`, id: 'ok', doc: { n: 1 } };
      for (const doc of [{ 'a\0b': 1 }, { big: 'x'.repeat(16 * 1024 * 1024) }] as JsonObject[]) {
        let caught: unknown;
        try {
          await store.commit(`${ns}_p`, [good, { op: 'put', collection: `${ns}_docs`, id: 'bad', doc }], position);
        } catch (error) {
          caught = error;
        }
        expect(caught).to.be.instanceOf(InvalidDocumentError);
      }
      expect(await store.get(`${ns}_docs`, 'ok')).to.equal(undefined);
      expect(await store.getCheckpoint(`${ns}_p`)).to.equal(undefined);
    });

    it('stores nested field names with dots or a leading $ (user-named keys such as playlists) as they are', async function () {
      const doc = { saved_in: { $x: 1, 'a.b': 2 } };
      await store.commit(`${ns}_p`, [{ op: 'put', collection: `${ns}_docs`, id: 'keys', doc }], { commit: 1n, prepare: 1n });
      expect(await store.get(`${ns}_docs`, 'keys')).to.deep.equal(doc);
    });

    it('reset drops the collections; the next ensureCollections declares their indexes again', async function () {
      const name = `${ns}_reset`;
      const spec = [{ name, indexes: [['feed']] }];
      await store.ensureCollections(spec);
      await store.commit(`${ns}_p`, [{ op: 'put', collection: name, id: 'a', doc: { feed: 'f' } }], { commit: 5n, prepare: 5n });
      await store.reset(`${ns}_p`, [name]);
      expect(await store.getCheckpoint(`${ns}_p`)).to.equal(undefined);
      expect(await store.count(name)).to.equal(0);
      await store.ensureCollections(spec);
      const indexes = (await client.db(dbName).collection(name).listIndexes().toArray()).map((index) => index['name'] as string);
      expect(indexes.sort()).to.deep.equal(['_id_', 'feed_1']);
    });

    it('the account store indexes usernames uniquely with a case-insensitive collation', async function () {
      const stores = await connectMongo(url, { dbName });
      try {
        const indexes = await stores.db.collection('accounts').listIndexes().toArray();
        const username = indexes.find((index) => index['key']?.['username'] === 1);
        expect(username?.['unique']).to.equal(true);
        expect(username?.['collation']).to.include({ locale: 'en', strength: 2 });
      } finally {
        await stores.close();
      }
    });

    it('the account store makes the sessions an older version wrote sessions, once (as the embedded store: test/services/tokens.test.ts)', async function () {
      const db = client.db(`${dbName}_upgrade`);
      try {
        const tokens = db.collection<{ _id: string; [field: string]: unknown }>('tokens');
        // As an older version wrote them: no kind (or `token`), sessions known by their labels.
        await tokens.insertMany(
          LEGACY_TOKEN_LABELS.map((label, index) => ({
            _id: `t${index}`,
            userId: 'u1',
            secretHash: `h${index}`,
            ...(index % 2 === 0 ? { kind: 'token' } : {}),
            label,
            createdAt: '2026-01-01T00:00:00.000Z',
            lastUsedAt: null,
          })),
        );
        const kinds = async (store: MongoAccountStore) => kindsByLabel(await store.listTokens('u1'));
        const upgraded = new MongoAccountStore(db);
        await upgraded.init();
        expect(await kinds(upgraded)).to.deep.equal(UPGRADED_KINDS);
        await tokens.deleteOne({ label: 'Web session' });
        await tokens.insertOne({
          _id: 'later',
          userId: 'u1',
          secretHash: 'later',
          kind: 'token',
          label: 'Web session',
          createdAt: '2026-02-01T00:00:00.000Z',
          lastUsedAt: null,
        });
        const again = new MongoAccountStore(db);
        await again.init();
        expect((await kinds(again))['Web session'], 'the upgrade ran once').to.equal('token');
      } finally {
        await db.dropDatabase();
      }
    });
  });
} else {
  describe('MongoDB adapter contracts', function () {
    it('run against a real server', function () {
      console.log(
        '  MongoDB contract suites SKIPPED: MONGO_URL is not set (docker compose up mongodb, then MONGO_URL=mongodb://localhost:27017/?directConnection=true npm test)',
      );
      this.skip();
    });
  });
}
