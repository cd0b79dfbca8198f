/**
 * The admin CLI (docs/operations.md): `npm run admin -- <command>`. Works on whichever stores the
 * environment configures (DATA_DIR, STORE, EVENTSTORE_URL, READ_MODEL, MONGO_URL), through the
 * ports, with the same modules as the admin HTTP API (src/admin).
 *
 * Exit codes: 0 done, 1 failure (unknown user, taken username, store error, ...), 2 usage.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ZodError } from 'zod';
import { formatTable } from '../src/admin/table.js';
import { createUser, listUsers, requireAccount, setUserDisabled, setUserPassword, UnknownUserError } from '../src/admin/users.js';
import type { Config } from '../src/config.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { localServiceUrl, UsageError } from './cli.js';
import { createLogger } from '../src/logger.js';
import type { Stores } from '../src/runtime.js';
import { openStores } from '../src/runtime.js';
import { UsernameTakenError } from '../src/stores/accounts.js';

// The other commands' modules (projections, projector, retention) load when their command
// runs: each invocation is a fresh process, and most commands need a fraction of the code.
const projectionNames = async () => (await import('../projections/index.js')).allProjections;

const USAGE = `usage: npm run admin -- <command> [options]

  users create <username> [--password-stdin]   create a user (a password is generated unless
                                               --password-stdin reads it from standard input)
  users list [--json]                          every user
  users disable <username>                     refuse the user's logins and tokens (data is kept)
  users enable <username>                      undo disable
  users delete <username> --yes [--url URL]    delete the account and all its data, through the
                                               running service's admin API (needs ADMIN_TOKEN;
                                               the service at http://127.0.0.1:PORT with
                                               BASE_PATH, or URL); waits until it is done
  users password <username> [--password-stdin]
                                               set the user's password (generated unless
                                               --password-stdin reads it); sessions opened with
                                               the old one end, app passwords and tokens stay
  stream <username> [--limit N] [--json]       the user's events (the last N), with revisions,
                                               types, times and the stream's truncation point
  export <username>                            the user's data as JSON (as GET /v1/me/export)
  replay [--projection NAME]...                rebuild read models (stop the service first)
  retention                                    run one retention pass now
  stats [--json]                               events, users, projection checkpoints and lag,
                                               parked events
  backup <dir> [--read-models]                 copy the embedded store's files into <dir> (an
                                               existing, empty directory) while the service runs

Environment: DATA_DIR, STORE, EVENTSTORE_URL, READ_MODEL, MONGO_URL, DEFAULT_PRIVACY, LOG_LEVEL;
users delete: ADMIN_TOKEN, PORT, BASE_PATH`;

/** A failure to report in one line, without a stack trace (exit 1). */
class CommandError extends Error {
  override readonly name = 'CommandError';
}

interface Options {
  readonly json: boolean;
  readonly passwordStdin: boolean;
  readonly limit: number | undefined;
  readonly projection: string[];
  readonly readModels: boolean;
  readonly yes: boolean;
  readonly url: string | undefined;
}

function parse(argv: readonly string[]): { positionals: string[]; options: Options; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        json: { type: 'boolean' },
        'password-stdin': { type: 'boolean' },
        'read-models': { type: 'boolean' },
        yes: { type: 'boolean' },
        url: { type: 'string' },
        limit: { type: 'string' },
        projection: { type: 'string', short: 'p', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, got "${values.limit}"`);
  }
  return {
    positionals: parsed.positionals,
    help: values.help ?? false,
    options: {
      json: values.json ?? false,
      passwordStdin: values['password-stdin'] ?? false,
      limit,
      projection: values.projection ?? [],
      readModels: values['read-models'] ?? false,
      yes: values.yes ?? false,
      url: values.url,
    },
  };
}

/** Checks the argument count of a command: `expect(args, 1, 'stream <username>')`. */
function operands(args: readonly string[], count: number, synopsis: string): string[] {
  if (args.length !== count) throw new UsageError(`expected: ${synopsis}`);
  return [...args];
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const print = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

/** The password `users create` and `users password` set: read from standard input, or generated. */
async function passwordOf(options: Options): Promise<string> {
  // One trailing newline is how `echo` and here-strings end a password, not part of it.
  return options.passwordStdin ? (await readStdin()).replace(/\r?\n$/, '') : randomBytes(18).toString('base64url');
}

/** A generated password is shown, once; one read from standard input never is. */
function showGenerated(password: string, options: Options): void {
  if (!options.passwordStdin) print(`password: ${password}\n(shown once: it is stored only as a hash)`);
}

async function usersCommand(stores: Stores, args: readonly string[], options: Options): Promise<void> {
  const [action, ...rest] = args;
  switch (action) {
    case 'create': {
      const [username] = operands(rest, 1, 'users create <username> [--password-stdin]');
      const password = await passwordOf(options);
      try {
        const user = await createUser(stores.accounts, username!, password);
        print(`created user ${user.username} (${user.id})`);
        showGenerated(password, options);
      } catch (error) {
        if (error instanceof UsernameTakenError) throw new CommandError(`username ${username!} is taken`);
        if (error instanceof ZodError) throw new CommandError(error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
        throw error;
      }
      return;
    }
    case 'list': {
      operands(rest, 0, 'users list [--json]');
      const users = await listUsers(stores.accounts);
      if (options.json) return print(JSON.stringify(users, null, 2));
      print(
        formatTable(
          ['username', 'id', 'created', 'status'],
          users.map((user) => [user.username, user.id, user.created_at, user.disabled ? 'disabled' : 'active']),
        ),
      );
      print(`${users.length} user${users.length === 1 ? '' : 's'}`);
      return;
    }
    case 'password': {
      const [username] = operands(rest, 1, 'users password <username> [--password-stdin]');
      const password = await passwordOf(options);
      try {
        const user = await setUserPassword(stores.accounts, username!, password);
        print(`password of ${user.username} set`);
        showGenerated(password, options);
      } catch (error) {
        if (error instanceof ZodError) throw new CommandError(error.issues.map((issue) => `password: ${issue.message}`).join('; '));
        throw error;
      }
      return;
    }
    case 'disable':
    case 'enable': {
      const [username] = operands(rest, 1, `users ${action} <username>`);
      const user = await setUserDisabled(stores.accounts, username!, action === 'disable');
      print(`${user.username} is ${user.disabled ? 'disabled' : 'enabled'}`);
      return;
    }
    default:
      throw new UsageError(action === undefined ? 'users: expected create, list, disable, enable, password or delete' : `users: unknown action "${action}"`);
  }
}

async function run(command: string, args: readonly string[], options: Options, config: Config): Promise<void> {
  // Usage errors first, before any store is opened.
  if (command === 'replay' && args.length > 0) throw new UsageError('expected: replay [--projection NAME]...');
  const selected = options.projection.flatMap((value) => value.split(',')).filter((name) => name !== '');
  const allProjections = command === 'replay' || command === 'stats' ? await projectionNames() : [];
  const unknown = selected.filter((name) => !allProjections.some((projection) => projection.name === name));
  if (unknown.length > 0)
    throw new UsageError(
      `unknown projection: ${unknown.join(', ')} (known: ${allProjections.map((projection) => projection.name).join(', ') || 'see npm run replay -- --help'})`,
    );

  // Copies files, not through the ports: no store is opened (no migration, no WAL checkpointer).
  if (command === 'backup') return backup(args, options, config);
  // Through the running service: no store is opened here either.
  if (command === 'users' && args[0] === 'delete')
    return deleteThroughService(operands(args.slice(1), 1, 'users delete <username> --yes [--url URL]')[0]!, options, config);
  const stores = await openStores(config);
  try {
    switch (command) {
      case 'users':
        return await usersCommand(stores, args, options);
      case 'stream': {
        const [username] = operands(args, 1, 'stream <username> [--limit N] [--json]');
        const { formatStream, inspectStream } = await import('../src/admin/stream.js');
        const inspection = await inspectStream(
          stores.eventStore,
          await requireAccount(stores.accounts, username!),
          options.limit === undefined ? {} : { limit: options.limit },
        );
        return print(options.json ? JSON.stringify(inspection, null, 2) : formatStream(inspection));
      }
      case 'export': {
        const [username] = operands(args, 1, 'export <username>');
        const account = await requireAccount(stores.accounts, username!);
        const [{ MeService }, { ReadModelService }] = await Promise.all([import('../src/services/me.js'), import('../src/services/read-models.js')]);
        const me = new MeService(stores.eventStore, stores.accounts, new ReadModelService(stores.eventStore, stores.readModel));
        let exported = '';
        for await (const piece of me.exportJson({ userId: account.id, username: account.username, tokenId: null })) exported += piece;
        return print(exported);
      }
      case 'replay': {
        const projections = selected.length === 0 ? allProjections : allProjections.filter((projection) => selected.includes(projection.name));
        const { LeaseHeldError, rebuildProjections } = await import('../src/projector/rebuild.js');
        let summary;
        try {
          summary = await rebuildProjections(stores, projections, { context: { defaultPrivacy: config.DEFAULT_PRIVACY }, logger: cliLogger(config) });
        } catch (error) {
          if (error instanceof LeaseHeldError) throw new CommandError(error.message);
          throw error;
        }
        print(`replayed ${summary.projections.join(', ')}: ${summary.events} events in ${summary.seconds.toFixed(2)} s, ${summary.parked} parked`);
        return;
      }
      case 'retention': {
        operands(args, 0, 'retention');
        const { createRetentionPass } = await import('../src/retention/retention-service.js');
        const summary = await createRetentionPass(stores, { defaultPrivacy: config.DEFAULT_PRIVACY, logger: cliLogger(config) }).run(new Date());
        print(
          `retention as of ${summary.asOf}: ${summary.usersConsidered} users considered, ${summary.usersSnapshotted} snapshotted, ` +
            `${summary.eventsRemoved} events removed, ${summary.feedsRolled} feeds rolled, ${summary.seconds.toFixed(2)} s`,
        );
        return;
      }
      case 'stats': {
        operands(args, 0, 'stats [--json]');
        const { ERASURE_REACTOR } = await import('../src/retention/erasure-reactor.js');
        // The erasure reactor keeps a checkpoint like a projection's: its lag shows beside theirs.
        const names = [...allProjections.map((projection) => projection.name), ERASURE_REACTOR];
        const { collectStats, formatStats } = await import('../src/admin/status.js');
        const stats = await collectStats({ ...stores, sequentialPositions: stores.embedded?.eventStore !== undefined }, names);
        return print(options.json ? JSON.stringify(stats, null, 2) : formatStats(stats));
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    await stores.close();
  }
}

/** How long `users delete` waits for a deletion the service finishes in the background. */
const DELETION_WAIT_MS = 5 * 60_000;

/**
 * `users delete`: the account's deletion runs in the service, as `DELETE /admin/users/:username`
 * does it (src/admin/users.ts): it waits for the service's projections to forget the user and
 * clears what the service's process holds of them, which a process of its own could not.
 */
async function deleteThroughService(username: string, options: Options, config: Config): Promise<void> {
  if (!options.yes) throw new UsageError(`users delete removes ${username}'s account and all its data for good: add --yes to confirm`);
  if (config.ADMIN_TOKEN === undefined) throw new CommandError("users delete goes through the running service's admin API: set ADMIN_TOKEN to the service's");
  const base = (options.url ?? localServiceUrl(config)).replace(/\/+$/, '');
  const account = `${base}/admin/users/${encodeURIComponent(username)}`;
  const headers = { authorization: `Bearer ${config.ADMIN_TOKEN}` };
  const ask = async (method: 'DELETE' | 'GET'): Promise<Response> => {
    try {
      return await fetch(account, { method, headers, signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new CommandError(`the service does not answer at ${base} (${cause}): the deletion runs in the service; start it, or give its address with --url`);
    }
  };
  // A 404 says "No user named …"; any other 404 is the admin API missing (a service without ADMIN_TOKEN).
  const noSuchUser = async (response: Response): Promise<boolean> =>
    response.status === 404 &&
    (
      (await response
        .clone()
        .json()
        .catch(() => undefined)) as { message?: unknown } | undefined
    )?.message === `No user named ${username}`;
  const refused = async (response: Response): Promise<CommandError | UnknownUserError> => {
    if (await noSuchUser(response)) return new UnknownUserError(username);
    if (response.status === 404) return new CommandError(`the service at ${base} has no admin API: set ADMIN_TOKEN for the service too`);
    if (response.status === 401) return new CommandError(`the service at ${base} refused ADMIN_TOKEN: it is not the one the service runs with`);
    return new CommandError(`the service at ${base} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
  };
  const deleted = await ask('DELETE');
  if (deleted.status === 204) return print(`deleted ${username}: the account and all its data`);
  if (deleted.status !== 202) throw await refused(deleted);
  // 202: the credentials are gone; the read models are still forgetting the user.
  process.stderr.write(`deleting ${username}: the read models are catching up…\n`);
  for (const started = Date.now(); Date.now() - started < DELETION_WAIT_MS;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const answer = await ask('GET');
    if (await noSuchUser(answer)) return print(`deleted ${username}: the account and all its data`);
    if (answer.status !== 200) throw await refused(answer);
  }
  throw new CommandError(
    `${username} cannot sign in any more, and their deletion is still under way after ${DELETION_WAIT_MS / 60_000} minutes: the service finishes it (at its next start, should it stop first)`,
  );
}

async function backup(args: readonly string[], options: Options, config: Config): Promise<void> {
  const [directory] = operands(args, 1, 'backup <dir> [--read-models]');
  if (config.STORE !== 'embedded')
    throw new CommandError('backup copies the embedded store; back up EventStoreDB and MongoDB with their own tools (docs/operations.md, "Backups")');
  if (options.readModels && config.READ_MODEL !== 'embedded')
    throw new CommandError('--read-models: the read models are in MongoDB (back them up with mongodump, or rebuild them)');
  const { BackupError, backupDataDir } = await import('../src/admin/backup.js');
  const { EMBEDDED_FILE, READ_MODEL_FILE } = await import('../src/runtime.js');
  try {
    const copied = await backupDataDir(
      config.DATA_DIR,
      directory!,
      { eventsFile: EMBEDDED_FILE, readModelsFile: options.readModels ? READ_MODEL_FILE : undefined },
      (file, bytes) => print(`copying ${file} (${megabytes(bytes)})…`),
    );
    for (const file of copied) print(`${file.file}: ${megabytes(file.bytes)} in ${file.seconds.toFixed(2)} s, checked`);
  } catch (error) {
    if (error instanceof BackupError) throw new CommandError(error.message);
    throw error;
  }
}

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

function cliLogger(config: Config) {
  // Logs go to stderr (Console transport) so stdout stays the command's output.
  return createLogger({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, format: config.LOG_FORMAT });
}

const COMMANDS = new Set(['users', 'stream', 'export', 'replay', 'retention', 'stats', 'backup']);

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  const [command, ...args] = parsed.positionals;
  if (parsed.help || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (command === undefined || !COMMANDS.has(command)) {
    console.error(`${command === undefined ? 'no command given' : `unknown command "${command}"`}\n\n${USAGE}`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  try {
    await run(command, args, parsed.options, config);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof UnknownUserError || error instanceof CommandError) {
      console.error(`admin ${command}: ${error.message}`);
      return 1;
    }
    console.error(`admin ${command} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
