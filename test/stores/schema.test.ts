import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { applyPragmas, retryWhileBusy } from '../../src/stores/embedded/schema.js';
import { runScript } from '../support/run-script.js';

const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

describe('embedded connection settings', function () {
  describe('retryWhileBusy', function () {
    it('retries an operation that answered SQLITE_BUSY until it succeeds', function () {
      let calls = 0;
      const result = retryWhileBusy(() => {
        calls += 1;
        if (calls < 3) throw busy();
        return 'done';
      }, 1000);
      expect(result).to.equal('done');
      expect(calls).to.equal(3);
    });

    it('rethrows any other error at once', function () {
      let calls = 0;
      const failure = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      expect(() =>
        retryWhileBusy(() => {
          calls += 1;
          throw failure;
        }, 1000),
      ).to.throw(failure);
      expect(calls).to.equal(1);
    });

    it('gives up with the busy error once the timeout has passed', function () {
      const started = Date.now();
      expect(() =>
        retryWhileBusy(() => {
          throw busy();
        }, 60),
      ).to.throw('database is locked');
      expect(Date.now() - started).to.be.within(60, 1000);
    });
  });

  describe('applyPragmas', function () {
    let directory: string;
    beforeEach(() => (directory = mkdtempSync(join(tmpdir(), 'podsync-pragmas-'))));
    afterEach(() => rmSync(directory, { recursive: true, force: true }));

    it('puts a file database in WAL mode with a busy timeout', function () {
      const db = new BetterSqlite3(join(directory, 'one.sqlite'));
      applyPragmas(db, 1234);
      expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
      expect(db.pragma('busy_timeout', { simple: true })).to.equal(1234);
      db.close();
    });

    it('lets several processes open the same fresh files at the same moment (no SQLITE_BUSY)', async function () {
      // Without the retry, converting a file another process is creating answers SQLITE_BUSY at
      // once (measured here: about 1 open in 50; two Agenda workers failed CI on it).
      this.timeout(30_000);
      const script = fileURLToPath(new URL('./fixtures/open-fresh-databases.ts', import.meta.url));
      const rounds = 120;
      const start = Date.now() + 2500; // after the three processes have loaded
      const results = await Promise.all([1, 2, 3].map(() => runScript(script, [directory, String(rounds), String(start)])));
      for (const { code, stdout, stderr } of results) {
        expect(code, stderr).to.equal(0);
        expect(stdout.trim(), `failed opens (${stderr.trim()})`).to.equal('0');
      }
    });
  });
});
