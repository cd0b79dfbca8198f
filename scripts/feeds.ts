/**
 * `npm run feeds -- fetch [URL] [--json]`: fetch the due feeds now (what the `feeds` job does
 * every minute), or one feed whether due or not (docs/design.md, "Feeds"). For operators: see
 * why a feed fails, pick up a change at once.
 *
 * Works on whichever stores the environment configures, beside a running service if need be:
 * each fetch appends to its feed's stream expecting the revision it read, so a feed fetched by
 * the job at the same moment is skipped here rather than recorded twice. The `podcasts` read
 * model (which feeds are due) is the service's projector's: it shows this run's results once a
 * service projects them.
 *
 * A progress bar over feeds goes to stderr when it is a terminal; the summary goes to stdout.
 * Exit codes: 0 done (for one URL: fetched or not modified), 1 that URL's fetch failed or the
 * run failed, 2 usage or configuration.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { Config } from '../src/config.js';
import { runCli, UsageError } from './cli.js';
import { httpUrl } from '../src/domain/events.js';
import { createLogger } from '../src/logger.js';
import { openStores } from '../src/runtime.js';
import type { RefreshOutcome, RefreshSummary } from '../src/services/feeds.js';
import { FeedService, feedServiceOptions } from '../src/services/feeds.js';

const USAGE = `usage: npm run feeds -- fetch [URL] [--json]

Fetches every subscribed feed that is due (FEED_REFRESH_HOURS after its last fetch, later
while it keeps failing), or the one feed URL given, due or not, and records what changed.

  --json         print the summary as one JSON line
  -h, --help     this text

Environment: DATA_DIR, STORE, EVENTSTORE_URL, READ_MODEL, MONGO_URL, FEED_REFRESH_HOURS,
FEEDS_ALLOW_PRIVATE_NETWORKS, FEEDS_MAX_BYTES, FEEDS_CONNECT_TIMEOUT_MS, FEEDS_TIMEOUT_MS,
FEEDS_CONCURRENCY, FEEDS_CONTACT_URL, LOG_LEVEL`;

interface Arguments {
  readonly url: string | undefined;
  readonly json: boolean;
  readonly help: boolean;
}

function parse(argv: readonly string[]): Arguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { url: undefined, json: false, help: true };
  const [command, url, extra] = positionals;
  if (command !== 'fetch') throw new UsageError(command === undefined ? 'a command is needed: fetch' : `unknown command "${command}"`);
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (url !== undefined && !httpUrl.safeParse(url).success) throw new UsageError(`not an http(s) URL of at most 2,048 characters: "${url.slice(0, 200)}"`);
  return { url: url === undefined ? undefined : httpUrl.parse(url), json: values.json ?? false, help: false };
}

function progressBar(): { onFeed: (outcome: RefreshOutcome, done: number, due: number) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | undefined;
  return {
    onFeed(_outcome, done, due) {
      if (!bar) {
        // Draws nothing when stderr is not a terminal (noTTYOutput is off): no redraws in logs.
        bar = new cliProgress.SingleBar(
          { format: 'feeds |{bar}| {value}/{total} | {percentage}% | {duration}s', stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(due, 0);
      }
      bar.update(done);
    },
    stop() {
      bar?.stop();
    },
  };
}

function formatSummary(summary: RefreshSummary, failures: readonly Extract<RefreshOutcome, { outcome: 'failed' }>[]): string {
  const rows: [string, string | number][] = [
    ['feeds', summary.due],
    ['fetched', summary.fetched],
    ['not modified', summary.notModified],
    ['failed', summary.failed],
    ['skipped', summary.skipped],
    ['seconds', summary.seconds.toFixed(2)],
  ];
  return [
    'feeds fetched',
    ...rows.map(([label, value]) => `  ${label.padEnd(14)} ${value}`),
    ...failures.map((failure) => `  failed: ${failure.url} (${failure.reason}, ${failure.failures} in a row): ${failure.message}`),
  ].join('\n');
}

async function run(config: Config, args: Arguments): Promise<number> {
  // Logs on stderr, so stdout is the summary alone; info lines only when asked for (LOG_LEVEL).
  const logger = createLogger({ level: config.LOG_LEVEL === 'info' ? 'error' : config.LOG_LEVEL, format: config.LOG_FORMAT, destination: process.stderr });
  const stores = await openStores(config);
  const bar = progressBar();
  try {
    const feeds = new FeedService(
      stores.eventStore,
      stores.readModel,
      { ...feedServiceOptions(config), purgeTruncated: (stream) => stores.embedded?.eventStore?.purgeTruncated(stream) },
      logger,
    );
    const failures: Extract<RefreshOutcome, { outcome: 'failed' }>[] = [];
    const summary = await feeds.refreshMany(args.url === undefined ? undefined : [args.url], {
      onFeed: (outcome, done, due) => {
        if (outcome.outcome === 'failed') failures.push(outcome);
        bar.onFeed(outcome, done, due);
      },
    });
    bar.stop();
    process.stdout.write(`${args.json ? JSON.stringify({ ...summary, failures }) : formatSummary(summary, failures)}\n`);
    return args.url !== undefined && failures.length > 0 ? 1 : 0;
  } finally {
    bar.stop();
    await stores.close();
  }
}

process.exitCode = await runCli({ name: 'feeds', usage: USAGE, parse, run }, process.argv.slice(2));
