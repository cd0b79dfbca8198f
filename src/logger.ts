/**
 * winston logger: JSON in production, readable lines in development (docs/operations.md).
 *
 * Every line logged while a request is being handled carries that request's id, wherever in
 * the code it is logged from: the HTTP layer runs each request inside {@link logContext}
 * (AsyncLocalStorage), and the logger reads the id from there when the line is logged.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import winston from 'winston';

export type Logger = winston.Logger;

export interface LogContext {
  readonly requestId: string;
}

/** The context of the request being handled, if any (see src/http/observability.ts). */
export const logContext = new AsyncLocalStorage<LogContext>();

/**
 * winston copies `defaultMeta` into each entry synchronously inside `logger.log()` (before the
 * entry enters winston's stream, where asynchronous buffering could lose the context), so a
 * getter here sees the caller's context. An explicit `requestId` in the meta still wins.
 */
function contextMeta(): Record<string, unknown> {
  return Object.defineProperty({}, 'requestId', { enumerable: true, get: () => logContext.getStore()?.requestId });
}

export interface LoggerOptions {
  level?: string;
  format?: 'json' | 'pretty' | undefined;
  production?: boolean;
  /** Where lines go instead of the console (tests read them back). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = (options.format ?? (options.production ? 'json' : 'pretty')) === 'pretty';
  const format = pretty
    ? winston.format.combine(
        winston.format.timestamp(),
        winston.format.colorize(),
        winston.format.printf(({ timestamp, level, message, ...rest }) => {
          // Outside a request the context getter yields undefined: not worth printing.
          const defined = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
          const extra = Object.keys(defined).length > 0 ? ` ${JSON.stringify(defined)}` : '';
          return `${String(timestamp)} ${level} ${String(message)}${extra}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.json());
  return winston.createLogger({ level: options.level ?? 'info', format, defaultMeta: contextMeta(), transports: [transport(options.destination)] });
}

function transport(destination: NodeJS.WritableStream | undefined): winston.transport {
  return destination ? new winston.transports.Stream({ stream: destination }) : new winston.transports.Console();
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
