/**
 * `npm run retention`: the real script, spawned on a store whose events were recorded 60 days
 * ago, runs one pass as of `--now`, prints its summary, and refuses bad arguments.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { RetentionSummary } from '../../src/retention/types.js';
import { openStores } from '../../src/runtime.js';
import { generateWorkload } from '../../scripts/bench/workload.js';
import { runScript, type ScriptResult } from '../support/run-script.js';
import { preparedProjector } from '../projector/support.js';

const DAY = 24 * 60 * 60 * 1000;
const script = fileURLToPath(new URL('../../scripts/retention.ts', import.meta.url));

function retentionCli(args: readonly string[], env: Record<string, string>): Promise<ScriptResult> {
  return runScript(script, args, { env });
}

describe('npm run retention', function () {
  this.timeout(60_000);
  let dataDir: string;
  let env: Record<string, string>;
  const recordedAt = Date.now() - 60 * DAY;
  let events = 0;
  let users = 0;

  before(async function () {
    dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-retention-cli-'));
    env = { DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded', LOG_LEVEL: 'warn' };
    const stores = await openStores(
      { DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded', EVENTSTORE_URL: undefined, MONGO_URL: undefined },
      { clock: () => new Date(recordedAt) },
    );
    try {
      const streams = new Set<string>();
      for (const append of generateWorkload({
        events: 300,
        users: 5,
        feeds: 6,
        episodesPerFeed: 4,
        minFeedsPerUser: 1,
        maxFeedsPerUser: 3,
        maxBatch: 5,
        seed: 11,
      })) {
        await stores.eventStore.append(append.stream, append.events);
        events += append.events.length;
        streams.add(append.stream);
      }
      users = streams.size;
      // The pass finds its users through the read models: project what was written.
      await (await preparedProjector(stores)).catchUp();
    } finally {
      await stores.close();
    }
  });

  after(function () {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('first, as of 40 days later: leaves users alone whose events are younger than 45 days', async function () {
    const run = await retentionCli(['--now', new Date(recordedAt + 40 * DAY).toISOString(), '--json'], env);
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout)).to.include({ usersSnapshotted: 0, eventsRemoved: 0 });
  });

  it('runs one pass as of --now and prints the summary; a second pass at that time snapshots no one', async function () {
    const now = new Date(recordedAt + 50 * DAY).toISOString();
    const first = await retentionCli(['--now', now, '--json'], env);
    expect(first.code, first.stderr).to.equal(0);
    const summary = JSON.parse(first.stdout) as RetentionSummary;
    expect(summary.asOf).to.equal(now);
    expect(summary.usersSnapshotted).to.equal(users);
    // Everything recorded 50 days before --now is past the 31-day window.
    expect(summary.eventsRemoved).to.be.at.least(events);
    expect(summary.feedsRolled).to.be.greaterThan(0);

    const second = await retentionCli(['--now', now], env);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.match(new RegExp(`^retention pass as of ${now.replace(/\./g, '\\.')}$`, 'm'));
    expect(second.stdout).to.match(/^ {2}users snapshotted +0$/m);
    expect(second.stdout).to.match(/^ {2}events removed +0$/m);
    expect(second.stdout).to.match(/^ {2}seconds +\d+\.\d\d$/m);
  });

  it('refuses a time that is not an ISO 8601 date or zoned time, and unknown arguments (exit 2)', async function () {
    for (const args of [['--now', 'tomorrow'], ['--now', '2026-02-30'], ['--now', '2026-05-01T12:00'], ['--later']]) {
      const run = await retentionCli(args, env);
      expect(run.code, args.join(' ')).to.equal(2);
      expect(run.stderr).to.include('usage: npm run retention');
      expect(run.stdout).to.equal('');
    }
  });

  it('prints its usage with --help', async function () {
    const run = await retentionCli(['--help'], env);
    expect(run.code).to.equal(0);
    expect(run.stdout).to.include('--now <time>');
  });
});
