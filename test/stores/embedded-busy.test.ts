/**
 * The embedded read-model store's writes while another connection holds the file's write lock
 * (the projector's commit thread, for 15–20 ms a batch): they wait without sleeping the calling
 * thread (src/stores/embedded/schema.ts, writeWithoutBlocking), which is the HTTP thread for the
 * erasure reactor's checkpoints and lease renewals; they land once the lock is free, and give up
 * with SQLITE_BUSY only after the connection's busy timeout, as before.
 */
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { SqliteEventStore } from '../../src/stores/embedded/sqlite-event-store.js';
import { SqliteReadModelStore } from '../../src/stores/embedded/sqlite-read-model.js';
import { openTempDatabase } from './temp-database.js';

const POSITION = { commit: 5n, prepare: 5n };

/** Holds the write lock for `ms` on `holder`; counts this thread's timer ticks meanwhile. */
async function holdingLock<T>(
  holder: BetterSqlite3.Database,
  ms: number,
  write: () => Promise<T>,
): Promise<{ result: T; ticks: number; settledWhileLocked: boolean }> {
  holder.exec('BEGIN IMMEDIATE');
  let ticks = 0;
  const ticker = setInterval(() => (ticks += 1), 2);
  let settled = false;
  const pending = write().finally(() => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, ms));
  const settledWhileLocked = settled;
  holder.exec('COMMIT');
  try {
    return { result: await pending, ticks, settledWhileLocked };
  } finally {
    clearInterval(ticker);
  }
}

/** A second connection to `db`'s file, which takes the write lock without waiting. */
function lockHolder(db: BetterSqlite3.Database): BetterSqlite3.Database {
  const holder = new BetterSqlite3(db.name);
  holder.pragma('busy_timeout = 0');
  return holder;
}

/** Ends what `holder` holds and closes it, then removes the temporary database. */
async function closeBoth(holder: BetterSqlite3.Database, temp: ReturnType<typeof openTempDatabase>): Promise<void> {
  if (holder.inTransaction) holder.exec('ROLLBACK');
  holder.close();
  await temp.cleanup();
}

/**
 * Runs `write` on `db` (busy timeout 300 ms) while `holder` keeps the write lock: it must give up
 * with SQLITE_BUSY after the busy timeout, as before, and leave the connection's timeout as it was.
 */
async function refusedAfterBusyTimeout(db: BetterSqlite3.Database, holder: BetterSqlite3.Database, write: () => Promise<unknown>): Promise<void> {
  db.pragma('busy_timeout = 300');
  holder.exec('BEGIN IMMEDIATE');
  const started = Date.now();
  let error: unknown;
  try {
    await write();
  } catch (caught) {
    error = caught;
  } finally {
    holder.exec('ROLLBACK');
  }
  expect((error as { code?: string } | undefined)?.code).to.match(/^SQLITE_BUSY/);
  expect(Date.now() - started).to.be.within(250, 5_000);
  expect(db.pragma('busy_timeout', { simple: true }), 'the connection keeps its busy timeout').to.equal(300);
}

describe('SqliteReadModelStore writes while another connection writes', function () {
  this.timeout(20_000);
  let temp: ReturnType<typeof openTempDatabase>;
  let store: SqliteReadModelStore;
  let holder: BetterSqlite3.Database;
  beforeEach(async () => {
    temp = openTempDatabase();
    store = new SqliteReadModelStore(temp.db);
    await store.ensureCollections([{ name: 'things', indexes: [] }]);
    holder = lockHolder(temp.db);
  });
  afterEach(() => closeBoth(holder, temp));

  const whileLocked = <T>(ms: number, write: () => Promise<T>) => holdingLock(holder, ms, write);

  it('commits documents once the lock is free, serving timers on this thread meanwhile', async () => {
    const { ticks, settledWhileLocked } = await whileLocked(150, () =>
      store.commitAll([{ projection: 'p', changes: [{ op: 'put', collection: 'things', id: 'a', doc: { n: 1 } }], checkpoint: POSITION }]),
    );
    expect(settledWhileLocked, 'the commit ended while the other connection held the lock').to.equal(false);
    expect(ticks, 'timer ticks on this thread while the commit waited').to.be.above(10);
    expect(await store.get('things', 'a')).to.deep.equal({ n: 1 });
    expect((await store.getCheckpoint('p'))?.position).to.deep.equal(POSITION);
  });

  it('takes and releases leases once the lock is free, serving timers on this thread meanwhile', async () => {
    const taken = await whileLocked(100, () => store.tryAcquireLeases(['p', 'q'], 'me', 10_000));
    expect(taken.result).to.deep.equal([true, true]);
    expect(taken.settledWhileLocked).to.equal(false);
    expect(taken.ticks).to.be.above(10);
    const released = await whileLocked(100, () => store.releaseLease('p', 'me'));
    expect(released.settledWhileLocked).to.equal(false);
    expect(await store.tryAcquireLeases(['p', 'q'], 'other', 10_000)).to.deep.equal([true, false]);
  });

  it('gives up with SQLITE_BUSY after the busy timeout, leaving nothing written', async () => {
    await refusedAfterBusyTimeout(temp.db, holder, () =>
      store.commitAll([{ projection: 'p', changes: [{ op: 'put', collection: 'things', id: 'b', doc: { n: 2 } }], checkpoint: POSITION }]),
    );
    expect(await store.get('things', 'b')).to.equal(undefined);
    expect(await store.getCheckpoint('p')).to.equal(undefined);
  });
});

// The appends of the HTTP thread, while the WAL checkpointer holds the events file's write lock to
// copy and sync (src/stores/embedded/wal-checkpointer.ts): as the read-model writes above.
describe('SqliteEventStore appends while another connection writes', function () {
  this.timeout(20_000);
  let temp: ReturnType<typeof openTempDatabase>;
  let events: SqliteEventStore;
  let holder: BetterSqlite3.Database;
  const event = (id: string) => ({ id, type: 'played', data: { n: 1 } });
  beforeEach(() => {
    temp = openTempDatabase();
    events = new SqliteEventStore(temp.db);
    holder = lockHolder(temp.db);
  });
  afterEach(() => closeBoth(holder, temp));

  it('appends once the lock is free, serving timers on this thread meanwhile', async () => {
    const { result, ticks, settledWhileLocked } = await holdingLock(holder, 150, () =>
      events.append('user-a', [event('00000000-0000-4000-8000-000000000001')], { expectedRevision: 'no_stream' }),
    );
    expect(settledWhileLocked, 'the append ended while the other connection held the lock').to.equal(false);
    expect(ticks, 'timer ticks on this thread while the append waited').to.be.above(10);
    expect(result.nextRevision).to.equal(0n);
    expect((await events.readStream('user-a')).map((recorded) => recorded.id)).to.deep.equal(['00000000-0000-4000-8000-000000000001']);
  });

  it('gives up with SQLITE_BUSY after the busy timeout, leaving nothing written', async () => {
    await refusedAfterBusyTimeout(temp.db, holder, () => events.append('user-b', [event('00000000-0000-4000-8000-000000000002')]));
    expect(await events.readAll({})).to.deep.equal([]);
  });
});
