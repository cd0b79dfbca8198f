/**
 * The store failures every layer tells apart (src/stores/store-errors.ts), pinned against the
 * errors the stores' own libraries make: better-sqlite3's, the EventStoreDB client's and the
 * MongoDB driver's.
 */
import { AccessDeniedError, DeadlineExceededError, NotLeaderError, StreamNotFoundError, TimeoutError, UnavailableError } from '@eventstore/db-client';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import {
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoNotConnectedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { isStorageFull, isStoreBusy, isStoreUnavailable } from '../../src/stores/store-errors.js';
import { openTempDatabase } from './temp-database.js';

/** What better-sqlite3 throws for `statement` on `db`. */
function sqliteError(db: BetterSqlite3.Database, statement: string): unknown {
  try {
    db.exec(statement);
  } catch (error) {
    return error;
  }
  throw new Error(`${statement} did not fail`);
}

describe('store errors', function () {
  it('SQLite: a full file is storage full, a lock held elsewhere is busy, neither is unavailable', async () => {
    const db = new BetterSqlite3(':memory:');
    db.exec('CREATE TABLE t (v TEXT)');
    db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`);
    const full = sqliteError(
      db,
      `INSERT INTO t SELECT hex(randomblob(2000)) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT i FROM n)`,
    );
    expect(full).to.have.property('code', 'SQLITE_FULL');
    expect([isStorageFull(full), isStoreBusy(full), isStoreUnavailable(full)]).to.deep.equal([true, false, false]);
    db.close();

    const { db: holder, cleanup } = openTempDatabase();
    const other = new BetterSqlite3(holder.name, { timeout: 10 });
    try {
      holder.exec('CREATE TABLE t (v TEXT); BEGIN IMMEDIATE');
      const busy = sqliteError(other, 'BEGIN IMMEDIATE');
      expect([isStorageFull(busy), isStoreBusy(busy), isStoreUnavailable(busy)]).to.deep.equal([false, true, false]);
      holder.exec('ROLLBACK');
    } finally {
      other.close();
      await cleanup();
    }
    expect(isStorageFull(Object.assign(new Error('write failed'), { code: 'ENOSPC' })), "a file write's ENOSPC").to.equal(true);
  });

  it('EventStoreDB: a server out of reach, too slow or not the leader is unavailable; its answers about streams are not', () => {
    const notLeader = new NotLeaderError({
      message: 'not leader',
      code: 5,
      metadata: { getMap: () => ({ 'leader-endpoint-host': 'node2', 'leader-endpoint-port': '2113' }) },
    } as unknown as ConstructorParameters<typeof NotLeaderError>[0]);
    for (const error of [new UnavailableError(), new DeadlineExceededError(), new TimeoutError(), notLeader])
      expect(isStoreUnavailable(error), error.type).to.equal(true);
    for (const error of [new StreamNotFoundError(), new AccessDeniedError()]) expect(isStoreUnavailable(error), error.type).to.equal(false);
  });

  it('MongoDB: a server out of reach or lost, and errors labelled retryable, are unavailable; a refused document is not', () => {
    const out = [
      new MongoServerSelectionError('Server selection timed out after 30000 ms', {} as ConstructorParameters<typeof MongoServerSelectionError>[1]),
      new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed'),
      new MongoNetworkTimeoutError('connection timed out'),
      new MongoNotConnectedError('Client must be connected before running operations'),
      new MongoTopologyClosedError(),
      new MongoServerError({ message: 'not primary', code: 10107, errorLabels: ['RetryableWriteError'] }),
      new MongoServerError({ message: 'WriteConflict', code: 112, errorLabels: ['TransientTransactionError'] }),
    ];
    for (const error of out) expect(isStoreUnavailable(error), error.name).to.equal(true);
    expect(isStoreUnavailable(new MongoServerError({ message: 'E11000 duplicate key', code: 11000 }))).to.equal(false);
    expect(isStoreUnavailable(new Error('anything else'))).to.equal(false);
    expect(isStoreUnavailable({ type: 'unavailable' }), 'not an error at all').to.equal(false);
  });
});
