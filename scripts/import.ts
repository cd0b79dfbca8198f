/**
 * `npm run import -- --from URL --from-user NAME [--nextcloud] [--to URL] [--to-user NAME]`:
 * moves an account from another gpodder-compatible server to this service, through both
 * servers' APIs (src/import/gpodder-import.ts; docs/operations.md, "Moving from another
 * server"). Run it against the service as it runs; it can be run again (it adds only what is new).
 *
 * Passwords come from the environment (never the command line, which other users of the machine
 * can read): IMPORT_FROM_PASSWORD, IMPORT_TO_PASSWORD. Progress goes to stderr, the summary to
 * stdout. Exit codes: 0 done, 1 a server refused or failed (the message says which), 2 usage.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../src/config.js';
import { localServiceUrl, runCli, UsageError } from './cli.js';
import { httpUrl } from '../src/domain/events.js';
import type { ImportProgress, ImportSummary } from '../src/import/gpodder-import.js';
import { ImportError, importAccount } from '../src/import/gpodder-import.js';

const USAGE = `usage: npm run import -- --from URL --from-user NAME [--nextcloud] [--to URL] [--to-user NAME] [--json]

Copies an account's devices, subscriptions and episode actions (plays with their positions,
downloads, deletions) from another server that speaks the gpodder.net API (gpodder.net,
oPodSync, mygpo) or Nextcloud's gPodder Sync, to an account of this service. Actions keep their
time and device; running it again adds nothing twice.

  --from URL        the old server (its base URL; for Nextcloud, Nextcloud's own URL)
  --from-user NAME  the account there
  --nextcloud       the old server is Nextcloud with the gPodder Sync app
  --to URL          where to copy to: this service (default http://127.0.0.1:PORT, with
                    BASE_PATH when set), or any server with the gpodder.net API (to leave
                    this one)
  --to-user NAME    the account there (default: the same name); create it first
  --json            print the summary as one JSON line
  -h, --help        this text

Environment: IMPORT_FROM_PASSWORD and IMPORT_TO_PASSWORD (required; an app password works on
either side), PORT, BASE_PATH`;

interface Arguments {
  readonly from: string;
  readonly fromUser: string;
  readonly nextcloud: boolean;
  readonly to: string | undefined;
  readonly toUser: string | undefined;
  readonly json: boolean;
  readonly help: boolean;
  readonly fromPassword: string;
  readonly toPassword: string;
}

function httpBase(option: string, value: string): string {
  const url = httpUrl.safeParse(value);
  if (!url.success) throw new UsageError(`${option}: not an http(s) URL of at most 2,048 characters: "${value.slice(0, 200)}"`);
  return url.data;
}

function parse(argv: readonly string[]): Arguments {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        from: { type: 'string' },
        'from-user': { type: 'string' },
        nextcloud: { type: 'boolean' },
        to: { type: 'string' },
        'to-user': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help)
    return { from: '', fromUser: '', nextcloud: false, to: undefined, toUser: undefined, json: false, help: true, fromPassword: '', toPassword: '' };
  if (values.from === undefined) throw new UsageError('--from is needed: the old server');
  if (values['from-user'] === undefined) throw new UsageError('--from-user is needed: the account on the old server');
  return {
    from: httpBase('--from', values.from),
    fromUser: values['from-user'],
    nextcloud: values.nextcloud ?? false,
    to: values.to === undefined ? undefined : httpBase('--to', values.to),
    toUser: values['to-user'],
    json: values.json ?? false,
    help: false,
    fromPassword: password('IMPORT_FROM_PASSWORD'),
    toPassword: password('IMPORT_TO_PASSWORD'),
  };
}

function password(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new UsageError(`${name} is needed in the environment`);
  return value;
}

/** One line on stderr per stage, and at most one a second within one. */
function progressLines(): ImportProgress {
  let last = 0;
  let lastStage = '';
  return ({ stage, done, total }) => {
    const now = Date.now();
    if (stage === lastStage && now - last < 1000 && (total === undefined || done < total)) return;
    last = now;
    lastStage = stage;
    const label = {
      devices: 'devices read',
      subscriptions: 'subscriptions read',
      'actions-read': 'episode actions read',
      'actions-sent': 'episode actions sent',
    }[stage];
    process.stderr.write(`${label}: ${done.toLocaleString('en')}${total === undefined ? '' : ` of ${total.toLocaleString('en')}`}\n`);
  };
}

function formatSummary(summary: ImportSummary): string {
  return [
    'imported',
    `  devices          ${summary.devices}`,
    `  subscriptions    ${summary.subscriptions}`,
    `  episode actions  ${summary.actionsSent} of ${summary.actionsRead} read`,
    ...(summary.actionsSkipped > 0
      ? [`  skipped          ${summary.actionsSkipped} (this service would refuse them):`, ...summary.skippedReasons.map((reason) => `    ${reason}`)]
      : []),
    ...(summary.updatedUrls.length > 0
      ? [
          `  URLs changed     ${summary.updatedUrls.length} (an empty one was not stored):`,
          ...summary.updatedUrls.slice(0, 10).map(([from, to]) => `    ${from} -> ${to || '(not stored)'}`),
        ]
      : []),
  ].join('\n');
}

async function run(config: Config, args: Arguments): Promise<number> {
  const source = {
    server: args.from,
    username: args.fromUser,
    password: args.fromPassword,
    api: args.nextcloud ? ('nextcloud' as const) : ('gpodder' as const),
  };
  const target = { server: args.to ?? localServiceUrl(config), username: args.toUser ?? args.fromUser, password: args.toPassword };
  const summary = await importAccount(source, target, progressLines());
  process.stdout.write(`${args.json ? JSON.stringify(summary) : formatSummary(summary)}\n`);
  return 0;
}

process.exitCode = await runCli({ name: 'import', usage: USAGE, parse, run, expected: (error) => error instanceof ImportError }, process.argv.slice(2));
