import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { applyPragmas } from '../../src/stores/embedded/schema.js';
import { CHECK_FAILED, TransactionThread } from '../../src/stores/embedded/transaction-thread.js';

describe('TransactionThread: SQLite transactions on a worker thread', function () {
  this.timeout(20_000);
  let directory: string;
  let database: BetterSqlite3.Database;
  let thread: TransactionThread;
  const rows = () => database.prepare('SELECT k, v FROM kv ORDER BY k').all() as { k: string; v: number }[];

  beforeEach(async function () {
    directory = mkdtempSync(join(tmpdir(), 'podsync-tx-thread-'));
    database = new BetterSqlite3(join(directory, 'db.sqlite'));
    applyPragmas(database);
    database.exec('CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
    thread = await TransactionThread.start(database.name, { autocheckpointPages: 1000 });
  });

  afterEach(async function () {
    await thread.stop();
    database.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const upsert = 'INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v';

  it('runs a plan in one transaction, visible to the other connection once it resolves', async function () {
    await thread.run({
      statements: [upsert, 'DELETE FROM kv WHERE k = ?'],
      runs: [
        [0, 'a', 1],
        [0, 'b', 2],
        [0, 'a', 3],
        [1, 'b'],
      ],
    });
    expect(rows()).to.deep.equal([{ k: 'a', v: 3 }]);
  });

  it('runs plans in the order they were handed over, without waiting between them', async function () {
    const runs = Array.from({ length: 20 }, (_, i) => thread.run({ statements: [upsert], runs: [[0, 'counter', i]] }));
    await Promise.all(runs);
    expect(rows()).to.deep.equal([{ k: 'counter', v: 19 }]);
  });

  it('writes nothing of a plan that fails part-way, rejects with the SQLite error, and goes on with the next', async function () {
    const failed = thread.run({
      statements: [upsert, 'INSERT INTO kv (k, v) VALUES (?, ?)'],
      runs: [
        [0, 'x', 1],
        [1, 'x', 2],
      ],
    });
    const next = thread.run({ statements: [upsert], runs: [[0, 'y', 1]] });
    const error = await failed.catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error & { code?: string }).code).to.equal('SQLITE_CONSTRAINT_PRIMARYKEY');
    await next;
    expect(rows()).to.deep.equal([{ k: 'y', v: 1 }]);
  });

  it("runs a plan's checks first, in its transaction: one that finds no row writes nothing and rejects with CHECK_FAILED", async function () {
    const check = { sql: 'SELECT 1 FROM kv WHERE k = ? AND v <= ?', parameters: ['gate'], now: true, message: 'gate closed' };
    await thread.run({ statements: [upsert], runs: [[0, 'gate', Date.now() + 60_000]] });
    // Open: the row's value is above the worker's clock, so `v <= now` finds nothing.
    const error = await thread.run({ statements: [upsert], runs: [[0, 'x', 1]], checks: [check] }).catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error & { code?: string }).code).to.equal(CHECK_FAILED);
    expect((error as Error).message).to.equal('gate closed');
    expect(rows().map((row) => row.k)).to.deep.equal(['gate']);
    await thread.run({ statements: [upsert], runs: [[0, 'gate', 0]] });
    await thread.run({ statements: [upsert], runs: [[0, 'x', 1]], checks: [check] });
    expect(rows().map((row) => row.k)).to.deep.equal(['gate', 'x']);
  });

  it('stop() lets the plans already handed over finish, then refuses new ones', async function () {
    const pending = thread.run({ statements: [upsert], runs: Array.from({ length: 500 }, (_, i) => [0, `k${String(i).padStart(3, '0')}`, i]) });
    await thread.stop();
    await pending;
    expect(rows()).to.have.length(500);
    const error = await thread.run({ statements: [upsert], runs: [[0, 'late', 1]] }).catch((caught: unknown) => caught);
    expect((error as Error).message).to.contain('stopped');
  });
});
