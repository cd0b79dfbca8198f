/**
 * What the operator scripts share: a usage error, and one `main` around their work with the
 * same exit codes everywhere — 0 done (or `--help`), 2 bad arguments or configuration (with
 * the usage for the former), 1 the work failed (with the stack, or just the message of an
 * error the script expects).
 */
import type { Config } from '../src/config.js';
import { ConfigError, loadConfig } from '../src/config.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Where the service this configuration describes answers on this machine (its port and BASE_PATH). */
export const localServiceUrl = (config: Config): string => `http://127.0.0.1:${config.PORT}${config.BASE_PATH}`;

export interface Cli<A> {
  /** Names the script in its failure message (`<name> failed: …`). */
  readonly name: string;
  readonly usage: string;
  /** Parses the arguments; throws {@link UsageError}. */
  readonly parse: (argv: readonly string[]) => A & { readonly help: boolean };
  /** Does the work; its number is the exit code. */
  readonly run: (config: Config, args: A) => Promise<number>;
  /** Errors the script expects: reported by their message alone. */
  readonly expected?: (error: unknown) => boolean;
}

export async function runCli<A>(cli: Cli<A>, argv: readonly string[]): Promise<number> {
  let args: A & { readonly help: boolean };
  let config: Config;
  try {
    args = cli.parse(argv);
    if (args.help) {
      process.stdout.write(`${cli.usage}\n`);
      return 0;
    }
    config = loadConfig();
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${cli.usage}\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  try {
    return await cli.run(config, args);
  } catch (error) {
    if (cli.expected?.(error) && error instanceof Error) process.stderr.write(`${cli.name}: ${error.message}\n`);
    else process.stderr.write(`${cli.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
