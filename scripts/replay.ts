/**
 * Replays projections from the event store (docs/operations.md): `npm run replay [-- --projection NAME]`.
 *
 * Resets the chosen read models (default: all) and rebuilds them from `$all` to the head, with
 * a progress bar, through the same code as the tests and the rebuild benchmark
 * (src/projector/rebuild.ts). Configuration comes from the environment like the service's
 * (DATA_DIR, STORE, READ_MODEL, ...). The service must be stopped: its projector holds the
 * leases, and the replay refuses to wait for them.
 *
 * Exit codes: 0 done, 1 failure (lease held, store error), 2 usage error.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { allProjections } from '../projections/index.js';
import type { Projection } from '../projections/projection.js';
import type { Config } from '../src/config.js';
import { runCli, UsageError } from './cli.js';
import { createLogger } from '../src/logger.js';
import type { RebuildProgress, RebuildSummary } from '../src/projector/rebuild.js';
import { LeaseHeldError, rebuildProjections } from '../src/projector/rebuild.js';
import { openStores } from '../src/runtime.js';
import { BULK_WRITE_CHECKPOINTS } from '../src/stores/embedded/wal-checkpointer.js';
import type { Position } from '../src/stores/event-store.js';

const USAGE = `usage: npm run replay [-- --projection NAME[,NAME...]]...

Resets and rebuilds read models from the event store. Stop the service first.
  --projection, -p NAME   a projection to rebuild (repeatable, or comma-separated); default: all
  --help, -h              this help

Projections: ${allProjections.map((projection) => projection.name).join(', ')}
Environment: DATA_DIR, STORE, EVENTSTORE_URL, READ_MODEL, MONGO_URL, DEFAULT_PRIVACY, LOG_LEVEL`;

interface Arguments {
  readonly help: boolean;
  readonly projections: Projection[];
}

function parseArguments(argv: readonly string[]): Arguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { projection: { type: 'string', short: 'p', multiple: true }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return { help: parsed.values.help ?? false, projections: selectProjections(parsed.values.projection ?? []) };
}

/** Names as given (repeated and/or comma-separated), in the registry's order, each once. */
function selectProjections(given: readonly string[]): Projection[] {
  const names = new Set(
    given
      .flatMap((value) => value.split(','))
      .map((name) => name.trim())
      .filter((name) => name !== ''),
  );
  if (names.size === 0) return [...allProjections];
  const known = new Set(allProjections.map((projection) => projection.name));
  const unknown = [...names].filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new UsageError(`unknown projection${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}\nknown projections: ${[...known].join(', ')}`);
  }
  return allProjections.filter((projection) => names.has(projection.name));
}

/**
 * A bar over `$all` positions when they are sequential (the embedded store), so the total is
 * known up front; otherwise (EventStoreDB positions are byte offsets) a plain event counter.
 */
function createProgress(config: Config) {
  const sequential = config.STORE === 'embedded';
  const bar = new cliProgress.SingleBar(
    {
      format: sequential
        ? 'replay |{bar}| {percentage}% | {value}/{total} positions | {events} events | {rate} events/s | ETA {eta_formatted}'
        : 'replay | {events} events | {rate} events/s | {duration_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = 0;
  const payload = (events: number) => ({ events, rate: Math.round(events / Math.max((Date.now() - started) / 1000, 1e-3)) });
  return {
    start(head: Position): void {
      started = Date.now();
      bar.start(sequential ? Number(head.commit) : 0, 0, payload(0));
    },
    update(progress: RebuildProgress): void {
      const value = sequential ? Number(progress.position.commit) : progress.events;
      // Appends made during the replay move the head on; the bar follows instead of overflowing.
      if (value > bar.getTotal()) bar.setTotal(value);
      bar.update(value, payload(progress.events));
    },
    stop(): void {
      bar.stop();
    },
  };
}

function printSummary(summary: RebuildSummary): void {
  console.log(`replayed ${summary.projections.join(', ')}`);
  console.log(`  events:     ${summary.events}`);
  console.log(`  seconds:    ${summary.seconds.toFixed(2)}`);
  console.log(`  events/s:   ${Math.round(summary.eventsPerSecond)}`);
  console.log(`  parked:     ${summary.parked}${summary.parked > 0 ? ' (see the parked_events collection)' : ''}`);
  console.log(`  checkpoint: ${summary.position.commit}`);
}

async function replay(config: Config, projections: readonly Projection[]): Promise<void> {
  const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, production: config.NODE_ENV === 'production' });
  // A replay commits without pause: WAL checkpoints on their own thread keep them out of its commits.
  const stores = await openStores(config, { backgroundCheckpoints: BULK_WRITE_CHECKPOINTS, replaying: true });
  const progress = createProgress(config);
  try {
    const summary = await rebuildProjections(stores, projections, {
      context: { defaultPrivacy: config.DEFAULT_PRIVACY },
      logger,
      onStart: ({ head }) => progress.start(head),
      onProgress: (info) => progress.update(info),
    });
    progress.stop();
    printSummary(summary);
  } finally {
    progress.stop();
    await stores.close();
  }
}

process.exitCode = await runCli(
  {
    name: 'replay',
    usage: USAGE,
    parse: parseArguments,
    run: async (config, args) => {
      await replay(config, args.projections);
      return 0;
    },
    // Another process projects: said plainly, no stack.
    expected: (error) => error instanceof LeaseHeldError,
  },
  process.argv.slice(2),
);
