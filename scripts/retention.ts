/**
 * `npm run retention -- [--now <ISO time>] [--json]`: one retention pass (docs/design.md, "Retention"), the same
 * pass the scheduled job runs every 15 minutes, as of the given time (default: now). For
 * operators (run it now rather than wait) and tests (a pass as of a simulated day).
 *
 * Works on whichever stores the environment configures (DATA_DIR, STORE, EVENTSTORE_URL,
 * READ_MODEL, MONGO_URL), beside a running service if need be: the pass snapshots each user under
 * optimistic concurrency, so it is safe alongside the scheduled job.
 *
 * A progress bar over users goes to stderr when it is a terminal; the summary goes to stdout.
 * Exit codes: 0 done, 1 the pass failed, 2 usage or configuration.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { Config } from '../src/config.js';
import { runCli, UsageError } from './cli.js';
import { createLogger } from '../src/logger.js';
import { createRetentionPass } from '../src/retention/retention-service.js';
import type { RetentionProgress, RetentionSummary } from '../src/retention/types.js';
import { openStores } from '../src/runtime.js';

const USAGE = `usage: npm run retention -- [--now <time>] [--json]

Runs one retention pass: users with events older than 45 days are snapshotted, events older
than 31 days are removed, popularity is recomputed for the feeds concerned.

  --now <time>   the time the pass runs as of (ages are measured from it): an ISO 8601 date
                 (midnight UTC) or time with its zone, e.g. 2026-05-01 or 2026-05-01T12:00:00Z;
                 default: now
  --json         print the summary as one JSON line
  -h, --help     this text

Environment: DATA_DIR, STORE, EVENTSTORE_URL, READ_MODEL, MONGO_URL, DEFAULT_PRIVACY, LOG_LEVEL`;

/**
 * What `--now` accepts: a date (midnight UTC) or a date and time with its zone. A time without a
 * zone is refused rather than read in the machine's local zone; so are "tomorrow" and epoch numbers.
 */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

function parseNow(text: string | undefined): Date {
  if (text === undefined) return new Date();
  const time = new Date(text);
  if (!ISO_8601.test(text) || Number.isNaN(time.getTime())) {
    throw new UsageError(`--now must be an ISO 8601 date or time with a zone, such as 2026-05-01 or 2026-05-01T12:00:00Z, got "${text}"`);
  }
  // Date rolls 2026-02-31 over to March 3rd: the calendar day must exist as written.
  const day = text.slice(0, 10);
  if (new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day) throw new UsageError(`--now names a day that does not exist: "${text}"`);
  return time;
}

function parse(argv: readonly string[]): { now: string | undefined; json: boolean; help: boolean } {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { now: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]!}"`);
    return { now: values.now, json: values.json ?? false, help: values.help ?? false };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** A bar over users, created once the pass knows how many (the first progress report). */
function progressBar(): { onProgress: (progress: RetentionProgress) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | undefined;
  return {
    onProgress({ usersTotal, usersDone }) {
      if (!bar) {
        // cli-progress draws nothing when stderr is not a terminal (noTTYOutput is off), so logs
        // and CI output are not filled with redraws.
        bar = new cliProgress.SingleBar(
          { format: 'retention |{bar}| {value}/{total} users | {percentage}% | {duration}s', stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(usersTotal, 0);
      }
      bar.setTotal(usersTotal);
      bar.update(usersDone);
    },
    stop() {
      bar?.stop();
    },
  };
}

function formatSummary(summary: RetentionSummary): string {
  const rows: [string, string | number][] = [
    ['users considered', summary.usersConsidered],
    ['users snapshotted', summary.usersSnapshotted],
    ['events removed', summary.eventsRemoved],
    ['feeds rolled', summary.feedsRolled],
    ['snapshot threads', summary.snapshotThreads],
    ['seconds', summary.seconds.toFixed(2)],
  ];
  return [`retention pass as of ${summary.asOf}`, ...rows.map(([label, value]) => `  ${label.padEnd(18)} ${value}`)].join('\n');
}

async function runPass(config: Config, now: Date, json: boolean): Promise<void> {
  // Logs on stderr, so stdout is the summary alone; info lines only when asked for (LOG_LEVEL).
  const logger = createLogger({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, format: config.LOG_FORMAT, destination: process.stderr });
  // A long job, like replay: WAL checkpoints on a worker thread, as in the service.
  const stores = await openStores(config, { backgroundCheckpoints: true });
  const bar = progressBar();
  try {
    const pass = createRetentionPass(stores, { defaultPrivacy: config.DEFAULT_PRIVACY, logger });
    const summary = await pass.run(now, { onProgress: bar.onProgress });
    bar.stop();
    process.stdout.write(`${json ? JSON.stringify(summary) : formatSummary(summary)}\n`);
  } finally {
    bar.stop();
    await stores.close();
  }
}

process.exitCode = await runCli(
  {
    name: 'retention',
    usage: USAGE,
    parse: (argv) => {
      const parsed = parse(argv);
      return { ...parsed, now: parsed.help ? new Date() : parseNow(parsed.now) };
    },
    run: async (config, args) => {
      await runPass(config, args.now, args.json);
      return 0;
    },
  },
  process.argv.slice(2),
);
