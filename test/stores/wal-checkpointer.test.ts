import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { applyPragmas } from '../../src/stores/embedded/schema.js';
import { DEFAULT_AUTOCHECKPOINT_PAGES, LOG_STARTS, WalCheckpointer } from '../../src/stores/embedded/wal-checkpointer.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const PAGE = 4096;

describe('WalCheckpointer: WAL checkpoints on a worker thread', function () {
  this.timeout(30_000);
  let directory: string;
  let database: BetterSqlite3.Database;
  const walBytes = () => statSync(`${database.name}-wal`).size;

  beforeEach(function () {
    directory = mkdtempSync(join(tmpdir(), 'podsync-wal-'));
    database = new BetterSqlite3(join(directory, 'db.sqlite'));
    applyPragmas(database);
    database.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
  });

  afterEach(function () {
    if (database.open) database.close();
    rmSync(directory, { recursive: true, force: true });
  });

  /** About `megabytes` MB of new pages, in many small transactions, giving the worker time to run. */
  async function write(megabytes: number): Promise<void> {
    const insert = database.prepare('INSERT INTO blobs (body) VALUES (?)');
    for (let i = 0; i < megabytes * 16; i++) {
      database.transaction(() => {
        for (let j = 0; j < 16; j++) insert.run(Buffer.alloc(PAGE, i % 251));
      })();
      if (i % 8 === 0) await sleep(5);
    }
  }

  it('turns automatic checkpoints off on the connection and keeps the WAL bounded anyway', async function () {
    const checkpointer = await WalCheckpointer.start(database, { intervalMs: 20, restartAfterPages: 512 });
    try {
      expect(database.pragma('wal_autocheckpoint', { simple: true })).to.equal(0);
      await write(24);
      // Unchecked, 24 MB of commits leave a WAL of 24 MB or more; checkpointed, the log starts
      // over past 512 pages (2 MiB) and stays near that plus what commits add meanwhile.
      expect(walBytes()).to.be.below(8 * 1024 * 1024);
      expect(database.prepare('SELECT count(*) AS n FROM blobs').get()).to.deep.equal({ n: 24 * 16 * 16 });
    } finally {
      await checkpointer.stop();
    }
    expect(database.pragma('wal_autocheckpoint', { simple: true })).to.equal(DEFAULT_AUTOCHECKPOINT_PAGES);
  });

  it('never holds writers back while a reader keeps the log from starting over (restarting and truncating checkpoints do not wait for readers)', async function () {
    // A restarting or truncating checkpoint takes the write lock, then waits for the readers of
    // older snapshots; with the connection's busy timeout (5 s) a reader that lingered kept every
    // writer out that long, and an append waiting its own 5 s failed with SQLITE_BUSY.
    const checkpointer = await WalCheckpointer.start(database, { intervalMs: 10, restartAfterPages: 64, truncateBudgetMs: 500 });
    const reader = new BetterSqlite3(database.name);
    try {
      await write(1);
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM blobs').get();
      database.pragma('busy_timeout = 1000');
      const insert = database.prepare('INSERT INTO blobs (body) VALUES (?)');
      let longest = 0;
      // An erasure's truncation, tried for its budget while the writes go on.
      const truncation = checkpointer.truncate();
      // 1.5 s of writes past the restart bound, each 4 pages, while the reader keeps its snapshot.
      for (const started = Date.now(); Date.now() - started < 1500;) {
        const before = performance.now();
        database.transaction(() => {
          for (let j = 0; j < 4; j++) insert.run(Buffer.alloc(PAGE, 7));
        })();
        longest = Math.max(longest, performance.now() - before);
        await sleep(2);
      }
      expect(longest, 'the longest write (ms)').to.be.below(250);
      expect(await truncation, 'held back by the reader, so owed').to.equal(false);
    } finally {
      reader.close();
      await checkpointer.stop();
    }
  });

  it('truncates the log on its own thread when asked (erasure), even while a reader holds an old snapshot for a moment', async function () {
    // Rare passive checkpoints: what is in the log stays there until the truncation.
    const checkpointer = await WalCheckpointer.start(database, { intervalMs: 60_000 });
    try {
      await write(2);
      expect(walBytes()).to.be.above(1024 * 1024);
      // A reader in a snapshot holds a truncation back; it ends 100 ms later, within the retries.
      const reader = new BetterSqlite3(database.name);
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM blobs').get();
      setTimeout(() => {
        reader.exec('COMMIT');
        reader.close();
      }, 100);
      let blockedThread = 0;
      const ticker = setInterval(() => blockedThread++, 10);
      expect(await checkpointer.truncate(), 'the log was emptied').to.equal(true);
      clearInterval(ticker);
      expect(blockedThread, 'this thread kept running meanwhile').to.be.greaterThan(3);
      expect(walBytes()).to.equal(0);
      expect(database.prepare('SELECT count(*) AS n FROM blobs').get()).to.deep.equal({ n: 2 * 16 * 16 });
    } finally {
      await checkpointer.stop();
    }
  });

  it('owes a truncation that readers held back through every retry, and does it as soon as they let it', async function () {
    const problems: string[] = [];
    const checkpointer = await WalCheckpointer.start(database, { intervalMs: 20, truncateBudgetMs: 5, onProblem: (message) => problems.push(message) });
    try {
      await write(1);
      // Written back but not truncated: the log keeps its bytes (old page images) until truncated.
      await sleep(100);
      expect(walBytes()).to.be.above(0);
      const reader = new BetterSqlite3(database.name);
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM blobs').get();
      database.prepare('INSERT INTO blobs (body) VALUES (?)').run(Buffer.alloc(16));
      try {
        expect(await checkpointer.truncate(), 'held back by the reader').to.equal(false);
        expect(problems.join('\n')).to.match(/held back/);
        await sleep(200);
        expect(walBytes(), 'still held back').to.be.above(0);
      } finally {
        reader.exec('COMMIT');
        reader.close();
      }
      // No one asks again: the worker's own ticks carry the owed truncation out.
      for (let waited = 0; walBytes() > 0 && waited < 2000; waited += 20) await sleep(20);
      expect(walBytes()).to.equal(0);
    } finally {
      await checkpointer.stop();
    }
  });

  /**
   * The log's first frame is the worker's row, written under the new header (same salts): the
   * header was written, and synced, by the worker's commit.
   */
  function expectLogStartedByWorker(): void {
    const log = readFileSync(`${database.name}-wal`);
    const frame = 32;
    const root = database.prepare('SELECT rootpage FROM sqlite_master WHERE name = ?').pluck().get(LOG_STARTS) as number;
    expect(log.readUInt32BE(frame), 'page of the first frame').to.equal(root);
    expect(log.subarray(frame + 8, frame + 16).equals(log.subarray(16, 24)), 'first frame salted by the new header').to.equal(true);
  }

  it("commits first into each log it starts over, so the log header's sync is its own, not the next writer's", async function () {
    // SQLite syncs the log when its first frame is written (wal.c, "Sync the header"): left to
    // the next append, that sync stalled requests behind the disk's writeback for tens of ms.
    const checkpointer = await WalCheckpointer.start(database, { intervalMs: 10, restartAfterPages: 64 });
    try {
      const insert = database.prepare('INSERT INTO blobs (body) VALUES (?)');
      database.transaction(() => {
        for (let j = 0; j < 100; j++) insert.run(Buffer.alloc(PAGE, 3));
      })();
      const starts = () => (database.prepare(`SELECT count FROM ${LOG_STARTS}`).pluck().get() as number | undefined) ?? 0;
      for (let waited = 0; starts() === 0 && waited < 2000; waited += 10) await sleep(10);
      expect(starts(), 'the log was started over by the worker').to.equal(1);
      expectLogStartedByWorker();
      expect(database.prepare('SELECT count(*) AS n FROM blobs').get()).to.deep.equal({ n: 100 });
    } finally {
      await checkpointer.stop();
    }
  });

  it('commits first into a log a passive checkpoint copied whole, which the next writer would start over, after any other commit; never after its own alone', async function () {
    // No restarting checkpoint here (the log stays far below the bound): the passive one copies
    // every frame, and the next commit starts the log over and syncs its header.
    const checkpointer = await WalCheckpointer.start(database, { intervalMs: 10, restartAfterPages: 100_000 });
    try {
      const starts = () => (database.prepare(`SELECT count FROM ${LOG_STARTS}`).pluck().get() as number | undefined) ?? 0;
      const insert = database.prepare('INSERT INTO blobs (body) VALUES (?)');
      database.transaction(() => {
        for (let j = 0; j < 20; j++) insert.run(Buffer.alloc(PAGE, 5));
      })();
      for (let waited = 0; starts() === 0 && waited < 2000; waited += 10) await sleep(10);
      expect(starts(), 'the log was started over by the worker').to.equal(1);
      expectLogStartedByWorker();
      // Its own row copied by the next checkpoints, nothing else written: no further claim.
      await sleep(200);
      expect(starts(), 'no write while nothing else is written').to.equal(1);
      // One small commit (a request on a quiet service: a frame or two) is claimed after as well.
      database.prepare('INSERT INTO blobs (body) VALUES (?)').run(Buffer.alloc(16, 1));
      for (let waited = 0; starts() === 1 && waited < 2000; waited += 10) await sleep(10);
      expect(starts(), 'the log started over by the worker after a small commit').to.equal(2);
      await sleep(200);
      expect(starts()).to.equal(2);
      expect(database.prepare('SELECT count(*) AS n FROM blobs').get()).to.deep.equal({ n: 21 });
    } finally {
      await checkpointer.stop();
    }
  });

  it('without it (the control case), the same writes with automatic checkpoints off grow the WAL', async function () {
    database.pragma('wal_autocheckpoint = 0');
    await write(24);
    expect(walBytes()).to.be.above(20 * 1024 * 1024);
  });

  it('gives automatic checkpoints back if the worker dies, and reports it', async function () {
    const problems: string[] = [];
    const checkpointer = await WalCheckpointer.start(database, { intervalMs: 20, onProblem: (message) => problems.push(message) });
    // The worker is private; killing the thread from outside is what a crash looks like.
    await (checkpointer as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await sleep(20);
    expect(problems.join('\n')).to.match(/worker exited/);
    expect(database.pragma('wal_autocheckpoint', { simple: true })).to.equal(DEFAULT_AUTOCHECKPOINT_PAGES);
    await checkpointer.stop();
  });

  it('a process that closes its stores and has nothing else to do exits 0 after the last checkpoint', function () {
    const fixture = fileURLToPath(new URL('./fixtures/close-with-checkpointer.ts', import.meta.url));
    const result = spawnSync(process.execPath, ['--import', 'tsx', fixture, directory], { encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).to.equal('');
    expect(result.stdout.trim()).to.equal('closed');
    expect(result.status).to.equal(0);
    // The last checkpoint and close leave no log behind.
    expect(existsSync(join(directory, 'podsync.db-wal'))).to.equal(false);
  });
});
