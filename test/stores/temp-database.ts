/** A fresh embedded SQLite database file (WAL, as in production), removed by `cleanup`. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { applyPragmas } from '../../src/stores/embedded/schema.js';

export function openTempDatabase(): { db: BetterSqlite3.Database; cleanup: () => Promise<void> } {
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
