/**
 * Runs the ReadModelStore and AccountStore contracts against the embedded SQLite adapters, each
 * on a fresh database file (WAL, as in production) removed afterwards.
 */
import { expect } from 'chai';
import BetterSqlite3 from 'better-sqlite3';
import { SqliteAccountStore } from '../../src/stores/embedded/sqlite-account-store.js';
import { SqliteReadModelStore } from '../../src/stores/embedded/sqlite-read-model.js';
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
});
