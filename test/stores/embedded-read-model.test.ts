/**
 * Runs the ReadModelStore and AccountStore contracts against the embedded SQLite adapters, each
 * on a fresh database file (WAL, as in production) removed afterwards.
 */
import { expect } from 'chai';
import BetterSqlite3 from 'better-sqlite3';
import { SqliteAccountStore } from '../../src/stores/embedded/sqlite-account-store.js';
import { SqliteReadModelStore } from '../../src/stores/embedded/sqlite-read-model.js';
import { InvalidDocumentError } from '../../src/stores/read-model.js';
import { openTempDatabase } from './temp-database.js';
import { accountsContract } from './accounts.contract.js';
import { readModelContract } from './read-model.contract.js';

readModelContract('SqliteReadModelStore', async () => {
  const { db, cleanup } = openTempDatabase();
  const store = new SqliteReadModelStore(db);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await cleanup();
    },
  };
});

accountsContract('SqliteAccountStore', async () => {
  const { db, cleanup } = openTempDatabase();
  return { store: new SqliteAccountStore(db), cleanup };
});

describe('SqliteReadModelStore indexes', function () {
  let db: BetterSqlite3.Database;
  let store: SqliteReadModelStore;
  beforeEach(() => {
    db = new BetterSqlite3(':memory:');
    store = new SqliteReadModelStore(db);
  });
  afterEach(() => db.close());
  const indexesOf = (table: string) =>
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name").all(table) as { name: string }[]).map(
      (row) => row.name,
    );

  it('serves an id prefix from a range of the primary key, with no index of its own', async function () {
    await store.ensureCollections([{ name: 'contributions', indexes: [['feed']] }]);
    const plan = store.explainFind('contributions', { idPrefix: 'u1|["f",' }).join(' ');
    expect(plan).to.match(/SEARCH rm_contributions USING PRIMARY KEY \(id>\? AND id<\?\)/);
  });

  it('serves the filtered query shape from the partial index, which holds only the matching documents', async function () {
    const partial = { fields: ['episode', 'play_seq'], where: { level: 'public', played: true } };
    await store.ensureCollections([{ name: 'people', indexes: [partial] }]);
    const query = { where: { episode: 'e', level: 'public', played: true }, orderBy: [{ field: 'play_seq', direction: 'desc' as const }], limit: 10 };
    expect(store.explainFind('people', query).join(' ')).to.contain('USING INDEX rm_people__episode__play_seq__where__level_public__played_true');
    // Other values cannot use it (it does not hold those documents).
    expect(store.explainFind('people', { ...query, where: { episode: 'e', level: 'private', played: true } }).join(' ')).not.to.contain('where__level_public');
    await store.commit(
      'p',
      [
        { op: 'put', collection: 'people', id: 'a', doc: { episode: 'e', level: 'public', played: true, play_seq: 1 } },
        { op: 'put', collection: 'people', id: 'b', doc: { episode: 'e', level: 'private', played: true, play_seq: 2 } },
      ],
      { commit: 1n, prepare: 1n },
    );
    const entries = db
      .prepare(
        "SELECT count(*) AS n FROM rm_people INDEXED BY rm_people__episode__play_seq__where__level_public__played_true WHERE json_extract(doc, '$.level') = 'public' AND json_extract(doc, '$.played') = 1",
      )
      .get() as { n: number };
    expect(entries.n).to.equal(1);
  });

  it('merges specs that name one collection: the union of their indexes, each once', async function () {
    await store.ensureCollections([
      { name: 'shared', indexes: [['user'], ['feed']] },
      { name: 'shared', indexes: [['feed'], { fields: ['seq'], where: { level: 'public' } }] },
    ]);
    expect(indexesOf('rm_shared')).to.deep.equal(['rm_shared__feed', 'rm_shared__seq__where__level_public', 'rm_shared__user']);
  });

  it('refuses two specs of one collection clustered in two orders', async function () {
    const error = await store
      .ensureCollections([
        { name: 'shared', indexes: [], clusteredBy: ['user', 'seq'] },
        { name: 'shared', indexes: [['feed']] },
        { name: 'shared', indexes: [], clusteredBy: ['user'] },
      ])
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(String(error)).to.contain('Collection shared clustered by user, seq and by user');
    const prefixed = await store
      .ensureCollections([
        { name: 'shared', indexes: [], clusteredBy: ['user', 'seq'], idPrefixedByKey: true },
        { name: 'shared', indexes: [], clusteredBy: ['user', 'seq'], idPrefixedByKey: false },
      ])
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(String(prefixed)).to.contain('Collection shared declared with ids prefixed by its key and without');
    await store.ensureCollections([
      { name: 'shared', indexes: [], clusteredBy: ['user', 'seq'] },
      { name: 'shared', indexes: [['feed']], clusteredBy: ['user', 'seq'] },
    ]);
    expect(indexesOf('rm_shared')).to.deep.equal(['rm_shared__by_id', 'rm_shared__feed']);
  });

  it('drops the indexes a collection no longer declares, and only its own', async function () {
    await store.ensureCollections([
      {
        name: 'actions',
        indexes: [
          ['user', 'seq'],
          ['user', 'feed', 'seq'],
        ],
      },
      { name: 'other', indexes: [['user']] },
    ]);
    db.exec('CREATE INDEX by_hand ON rm_actions (id)');
    expect(indexesOf('rm_actions')).to.deep.equal(['by_hand', 'rm_actions__user__feed__seq', 'rm_actions__user__seq']);
    await store.ensureCollections([{ name: 'actions', indexes: [['user', 'seq']] }]);
    // An index the adapter did not name is not its to drop.
    expect(indexesOf('rm_actions')).to.deep.equal(['by_hand', 'rm_actions__user__seq']);
    expect(indexesOf('rm_other')).to.deep.equal(['rm_other__user']);
  });

  it('keeps a field apart in a column of its own: indexes inside it are used, and an index made over the document before is made again', async function () {
    await store.ensureCollections([{ name: 'actions', indexes: [['user', 'seq'], ['action.device']] }]);
    const indexSql = () => (db.prepare("SELECT sql FROM sqlite_master WHERE name = 'rm_actions__action_device'").get() as { sql: string }).sql;
    expect(indexSql()).to.contain("json_extract(doc, '$.action.device')");
    const created = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'rm_actions__user__seq'").pluck();
    const before = created.get();
    await store.ensureCollections([{ name: 'actions', indexes: [['user', 'seq'], ['action.device']], apart: ['action'] }]);
    expect(indexSql()).to.contain("json_extract(doc_action, '$.device')");
    expect(created.get(), 'an index over the same expressions is left as it is').to.equal(before);
    expect(store.explainFind('actions', { where: { 'action.device': 'phone' } }).join(' ')).to.contain('USING INDEX rm_actions__action_device');
    await store.commit('p', [{ op: 'put', collection: 'actions', id: 'a', doc: { user: 'u', seq: 1, action: { device: 'phone', position: 3 } } }], {
      commit: 1n,
      prepare: 1n,
    });
    expect(db.prepare('SELECT doc, doc_action FROM rm_actions').get()).to.deep.equal({
      doc: '{"user":"u","seq":1}',
      doc_action: '{"device":"phone","position":3}',
    });
    const [raw] = store.findRawSync('actions', { where: { 'action.device': 'phone' } }, 'action');
    expect(raw).to.deep.equal({ id: 'a', doc: { user: 'u', seq: 1 }, raw: '{"device":"phone","position":3}' });
  });

  it('joinRaw reads the field from inside a document written before the field was kept apart', async function () {
    const query = { where: { user: 'u' }, orderBy: [{ field: 'seq', direction: 'asc' as const }] };
    await store.ensureCollections([{ name: 'actions', indexes: [['user', 'seq']] }]);
    await store.commit('p', [{ op: 'put', collection: 'actions', id: 'a', doc: { user: 'u', seq: 1, action: { device: 'phone', n: 1.5, note: 'é “x”' } } }], {
      commit: 1n,
      prepare: 1n,
    });
    await store.ensureCollections([{ name: 'actions', indexes: [['user', 'seq']], apart: ['action'] }]);
    await store.commit('p', [{ op: 'put', collection: 'actions', id: 'b', doc: { user: 'u', seq: 2, action: { device: 'tablet' } } }], {
      commit: 2n,
      prepare: 2n,
    });
    expect(db.prepare('SELECT id, doc_action FROM rm_actions ORDER BY id').all()).to.deep.equal([
      { id: 'a', doc_action: null },
      { id: 'b', doc_action: '{"device":"tablet"}' },
    ]);
    // The UTF-8 bytes the database holds.
    expect(store.joinRawSync('actions', query, 'action')).to.deep.equal({
      bytes: Buffer.from('{"device":"phone","n":1.5,"note":"é “x”"},{"device":"tablet"}', 'utf8'),
      count: 2,
    });
  });

  it('every connection reads and writes the documents whole, whichever declared the fields kept apart', async function () {
    const { db: file, cleanup } = openTempDatabase();
    const second = new BetterSqlite3(file.name);
    try {
      const declaring = new SqliteReadModelStore(file);
      await declaring.ensureCollections([{ name: 'actions', indexes: [['user']], apart: ['action'] }]);
      const other = new SqliteReadModelStore(second);
      const doc = { user: 'u', action: { device: 'phone' } };
      await other.commit('p', [{ op: 'put', collection: 'actions', id: 'a', doc }], { commit: 1n, prepare: 1n });
      expect(await declaring.get('actions', 'a')).to.deep.equal(doc);
      expect(file.prepare('SELECT doc_action FROM rm_actions').pluck().get()).to.equal('{"device":"phone"}');
      await declaring.commit('p', [{ op: 'put', collection: 'actions', id: 'b', doc }], { commit: 2n, prepare: 2n });
      expect(await other.findRaw('actions', { where: { 'action.device': 'phone' } }, 'action')).to.deep.equal([
        { id: 'a', doc: { user: 'u' }, raw: '{"device":"phone"}' },
        { id: 'b', doc: { user: 'u' }, raw: '{"device":"phone"}' },
      ]);
      // Declared no longer: kept apart all the same (the column holds the documents' fields).
      await declaring.ensureCollections([{ name: 'actions', indexes: [['user']] }]);
      await declaring.commit('p', [{ op: 'put', collection: 'actions', id: 'a', doc: { user: 'u', action: { device: 'tablet' } } }], {
        commit: 3n,
        prepare: 3n,
      });
      expect(await other.get('actions', 'a')).to.deep.equal({ user: 'u', action: { device: 'tablet' } });
    } finally {
      second.close();
      await cleanup();
    }
  });

  describe('a collection clustered by fields', function () {
    const spec = { name: 'actions', indexes: [['user', 'seq'], ['action.device']], clusteredBy: ['user', 'seq'], apart: ['user', 'action'] };
    const download = { where: { user: 'u1', serving: null }, orderBy: [{ field: 'seq', direction: 'asc' as const }], greaterThan: { field: 'seq', value: 1 } };
    const action = (user: string, seq: number, device = 'phone') => ({ user, seq, action: { device, position: seq } });
    const put = (id: string, doc: Record<string, unknown>) => ({ op: 'put' as const, collection: 'actions', id, doc: doc as never });
    const columnsOf = (table: string) => db.prepare(`SELECT name, pk FROM pragma_table_info('${table}') ORDER BY cid`).all() as { name: string; pk: number }[];

    it('has the fields as its primary key before the id, reads a user in order from it, and keeps ids unique with an index of their own', async function () {
      await store.ensureCollections([spec]);
      expect(columnsOf('rm_actions')).to.deep.equal([
        { name: 'key_user', pk: 1 },
        { name: 'key_seq', pk: 2 },
        { name: 'id', pk: 3 },
        { name: 'doc', pk: 0 },
        { name: 'doc_action', pk: 0 },
      ]);
      // The index on the keys' fields is the table's own order; the others are made as declared.
      expect(indexesOf('rm_actions')).to.deep.equal(['rm_actions__action_device', 'rm_actions__by_id']);
      const plan = store.explainFind('actions', download).join(' ');
      expect(plan).to.match(/SEARCH rm_actions USING PRIMARY KEY \(key_user=\? AND key_seq>\?\)/);
      expect(plan, 'no sort: the rows come in order').not.to.contain('TEMP B-TREE');
      await store.commit('p', [put('b', action('u1', 3)), put('a', action('u1', 2)), put('c', action('u2', 1))], { commit: 1n, prepare: 1n });
      // A put of an id already there replaces it, whatever its keys were (here: moved to another user).
      await store.commit('p', [put('b', action('u2', 9))], { commit: 2n, prepare: 2n });
      expect(db.prepare('SELECT key_user, key_seq, typeof(key_seq) AS type, id, doc FROM rm_actions').all()).to.deep.equal([
        { key_user: 'u1', key_seq: 2, type: 'integer', id: 'a', doc: '{}' },
        { key_user: 'u2', key_seq: 1, type: 'integer', id: 'c', doc: '{}' },
        { key_user: 'u2', key_seq: 9, type: 'integer', id: 'b', doc: '{}' },
      ]);
      expect(await store.get('actions', 'b')).to.deep.equal(action('u2', 9));
    });

    it('is clustered anew from the documents there, which read back the same, and back again', async function () {
      const plainSpec = { name: 'actions', indexes: [['user', 'seq'], ['action.device']] };
      await store.ensureCollections([plainSpec]);
      const written = [put('a', action('u1', 2)), put('b', { ...action('u1', 1.5), serving: 'never' }), put('c', action('u2', 2 ** 40, 'tv'))];
      await store.commit('p', written, { commit: 1n, prepare: 1n });
      // Some written after the user and the action were kept apart, one before.
      await store.ensureCollections([{ ...plainSpec, apart: ['user', 'action'] }]);
      await store.commit('p', [put('d', action('u1', 3))], { commit: 2n, prepare: 2n });
      const before = await store.find('actions');
      await store.ensureCollections([spec]);
      expect(columnsOf('rm_actions').map(({ name }) => name)).to.deep.equal(['key_user', 'key_seq', 'id', 'doc', 'doc_action']);
      expect(await store.find('actions')).to.deep.equal(before);
      // Found by keys that were inside the documents (a, b, c) or in their own columns (d).
      expect((await store.find('actions', download)).map(({ id }) => id)).to.deep.equal(['a', 'd']);
      expect((await store.find('actions', { ...download, where: { user: 'u1' } })).map(({ id }) => id)).to.deep.equal(['b', 'a', 'd']);
      expect(db.prepare('SELECT typeof(key_seq) FROM rm_actions ORDER BY id').pluck().all()).to.deep.equal(['integer', 'real', 'integer', 'integer']);
      expect(indexesOf('rm_actions')).to.deep.equal(['rm_actions__action_device', 'rm_actions__by_id']);
      expect(store.explainFind('actions', { where: { 'action.device': 'tv' } }).join(' ')).to.contain('USING INDEX rm_actions__action_device');
      // Unclustered: the keys go back into the documents.
      await store.ensureCollections([plainSpec]);
      expect(columnsOf('rm_actions').map(({ name }) => name)).to.deep.equal(['id', 'doc', 'doc_action']);
      expect(await store.find('actions')).to.deep.equal(before);
      expect(indexesOf('rm_actions')).to.deep.equal(['rm_actions__action_device', 'rm_actions__user__seq']);
    });

    it('is not clustered anew while a document lacks a key: the table is left as it was', async function () {
      await store.ensureCollections([{ name: 'actions', indexes: [['user', 'seq']] }]);
      await store.commit('p', [put('a', action('u1', 1)), put('b', { user: 'u1', seq: { n: 1 } })], { commit: 1n, prepare: 1n });
      const error = await store.ensureCollections([spec]).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(String(error)).to.contain('actions cannot be clustered by user, seq');
      expect(columnsOf('rm_actions').map(({ name }) => name)).to.deep.equal(['id', 'doc']);
      expect(await store.get('actions', 'b')).to.deep.equal({ user: 'u1', seq: { n: 1 } });
    });

    describe('whose ids begin with their first key', function () {
      const owned = { ...spec, idPrefixedByKey: true };
      const user = 'a1b2c3d4-0000-4000-8000-000000000001';

      it('keeps the rest of each id beside the key, not the whole id, and ids unique by key and rest', async function () {
        await store.ensureCollections([owned]);
        expect(columnsOf('rm_actions')).to.deep.equal([
          { name: 'key_user', pk: 1 },
          { name: 'key_seq', pk: 2 },
          { name: 'id_tail', pk: 3 },
          { name: 'doc', pk: 0 },
          { name: 'doc_action', pk: 0 },
        ]);
        expect(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'rm_actions__by_id'").pluck().get()).to.contain('(key_user, id_tail)');
        await store.commit('p', [put(`${user}|e1`, action(user, 2)), put(`${user}|e2`, action(user, 3))], { commit: 1n, prepare: 1n });
        await store.commit('p', [put(`${user}|e1`, action(user, 7))], { commit: 2n, prepare: 2n });
        expect(db.prepare('SELECT key_user, key_seq, id_tail FROM rm_actions ORDER BY key_seq').all()).to.deep.equal([
          { key_user: user, key_seq: 3, id_tail: 'e2' },
          { key_user: user, key_seq: 7, id_tail: 'e1' },
        ]);
        expect(await store.get('actions', `${user}|e1`)).to.deep.equal(action(user, 7));
        const plan = store.explainFind('actions', download).join(' ');
        expect(plan).to.match(/SEARCH rm_actions USING PRIMARY KEY \(key_user=\? AND key_seq>\?\)/);
        expect(plan, 'no sort: the rows come in order, ties by the rest of the id').not.to.contain('TEMP B-TREE');
      });

      it('refuses a document whose id does not begin with its key and |, and writes nothing of its commit', async function () {
        await store.ensureCollections([owned]);
        for (const [id, doc] of [
          ['u2|e1', action('u1', 1)],
          ['u1e1', action('u1', 1)],
          ['u|1|e1', action('u|1', 1)],
        ] as const) {
          const error = await store.commit('p', [put('u1|ok', action('u1', 1)), put(id, doc)], { commit: 1n, prepare: 1n }).then(
            () => undefined,
            (caught: unknown) => caught,
          );
          expect(error, id).to.be.instanceOf(InvalidDocumentError);
          expect(await store.count('actions'), id).to.equal(0);
        }
      });

      it('is laid out anew from a table of whole ids, the documents reading back the same, and back again', async function () {
        const plainSpec = { name: 'actions', indexes: [['user', 'seq'], ['action.device']] };
        await store.ensureCollections([plainSpec]);
        await store.commit('p', [put('u1|a', action('u1', 2)), put('u12|b', action('u12', 1)), put('u2|c', action('u2', 5, 'tv'))], {
          commit: 1n,
          prepare: 1n,
        });
        const before = await store.find('actions');
        await store.ensureCollections([spec]);
        await store.ensureCollections([owned]);
        expect(columnsOf('rm_actions').map(({ name }) => name)).to.deep.equal(['key_user', 'key_seq', 'id_tail', 'doc', 'doc_action']);
        expect(await store.find('actions')).to.deep.equal(before);
        expect(await store.getMany('actions', ['u12|b', 'u1|a', 'u1|b'])).to.deep.equal(
          new Map([
            ['u1|a', action('u1', 2)],
            ['u12|b', action('u12', 1)],
          ]),
        );
        await store.ensureCollections([plainSpec]);
        expect(columnsOf('rm_actions').map(({ name }) => name)).to.deep.equal(['id', 'doc', 'doc_action']);
        expect(await store.find('actions')).to.deep.equal(before);
      });

      it('is not laid out anew while an id does not begin with its key: the table is left as it was', async function () {
        await store.ensureCollections([spec]);
        await store.commit('p', [put('u1|a', action('u1', 1)), put('other', action('u1', 2))], { commit: 1n, prepare: 1n });
        const error = await store.ensureCollections([owned]).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(String(error)).to.contain('actions cannot be clustered by user, seq, its ids prefixed by the first');
        expect(columnsOf('rm_actions').map(({ name }) => name)).to.deep.equal(['key_user', 'key_seq', 'id', 'doc', 'doc_action']);
        expect(await store.get('actions', 'other')).to.deep.equal(action('u1', 2));
      });
    });

    it('another connection reads the documents whole after this one clustered the table under it', async function () {
      const { db: file, cleanup } = openTempDatabase();
      const second = new BetterSqlite3(file.name);
      try {
        const declaring = new SqliteReadModelStore(file);
        const other = new SqliteReadModelStore(second);
        await declaring.ensureCollections([{ name: 'actions', indexes: [['user', 'seq']], apart: ['user', 'action'] }]);
        await declaring.commit('p', [put('a', action('u1', 1))], { commit: 1n, prepare: 1n });
        // The other connection has read (and remembers) the table as it was.
        expect(await other.get('actions', 'a')).to.deep.equal(action('u1', 1));
        await declaring.ensureCollections([spec]);
        expect(await other.get('actions', 'a')).to.deep.equal(action('u1', 1));
        await other.commit('p', [put('b', action('u1', 2))], { commit: 2n, prepare: 2n });
        expect(await declaring.find('actions', download)).to.deep.equal([{ id: 'b', doc: action('u1', 2) }]);
        expect(second.prepare('SELECT key_user, key_seq FROM rm_actions WHERE id = ?').get('b')).to.deep.equal({ key_user: 'u1', key_seq: 2 });
      } finally {
        second.close();
        await cleanup();
      }
    });
  });
});
