/**
 * Runs the ReadModelStore and AccountStore contracts against the embedded SQLite adapters, each
 * on a fresh database file (WAL, as in production) removed afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { SqliteAccountStore } from '../../src/stores/embedded/sqlite-account-store.js';
import { SqliteReadModelStore } from '../../src/stores/embedded/sqlite-read-model.js';
import { applyPragmas } from '../../src/stores/embedded/schema.js';
import { accountsContract } from './accounts.contract.js';
import { readModelContract } from './read-model.contract.js';

function openTempDatabase(): { db: BetterSqlite3.Database; cleanup: () => Promise<void> } {
  const directory = mkdtempSync(join(tmpdir(), 'podsync-read-model-'));
  const db = new BetterSqlite3(join(directory, 'read-model.db'));
  applyPragmas(db);
  return {
    db,
    cleanup: async () => {
      db.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

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
