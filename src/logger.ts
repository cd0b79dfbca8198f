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

/** How long a repeated warning or error is held back (see {@link holdBackRepeats}). */
export const REPEAT_WINDOW_MS = 60_000;
/** Distinct lines remembered at most; the oldest are forgotten first (memory stays bounded). */
const REMEMBERED_LINES = 1_000;

/**
 * A warning or error logged again with the same message and error, outside requests or in the
 * same request, within `windowMs` of the last one let through is held back; the next one let
 * through says how many were (`repeated`). Loops that retry a failing store (the projector, the
 * WAL checkpointer, the erasure reactor: every 100 ms to 1 s against a full disk) would otherwise
 * write lines as fast as they retry and bury the first one, which says what is wrong. A line
 * about the store rather than the request it came up in drops the request's id to be held back
 * likewise (`requestId: undefined`).
 */
export function holdBackRepeats(windowMs = REPEAT_WINDOW_MS, now: () => number = Date.now): winston.Logform.Format {
  const seen = new Map<string, { at: number; heldBack: number }>();
  return winston.format((info) => {
    if (info.level !== 'warn' && info.level !== 'error') return info;
    const text = (value: unknown) => (typeof value === 'string' ? value : '');
    const key = `${info.level}\u0000${String(info.message)}\u0000${text(info.error)}\u0000${text(info['requestId'])}`;
    const time = now();
    const last = seen.get(key);
    if (last && time - last.at < windowMs) {
      last.heldBack += 1;
      return false;
    }
    seen.delete(key);
    seen.set(key, { at: time, heldBack: 0 });
    if (seen.size > REMEMBERED_LINES) seen.delete(seen.keys().next().value!);
    return last && last.heldBack > 0 ? Object.assign(info, { repeated: last.heldBack }) : info;
  })();
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = (options.format ?? (options.production ? 'json' : 'pretty')) === 'pretty';
  const format = pretty
    ? winston.format.combine(
        holdBackRepeats(),
        winston.format.timestamp(),
        winston.format.colorize(),
        winston.format.printf(({ timestamp, level, message, ...rest }) => {
          // Outside a request the context getter yields undefined: not worth printing.
          const defined = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
          const extra = Object.keys(defined).length > 0 ? ` ${JSON.stringify(defined)}` : '';
          return `${String(timestamp)} ${level} ${String(message)}${extra}`;
        }),
      )
    : winston.format.combine(holdBackRepeats(), winston.format.timestamp(), winston.format.json());
  return winston.createLogger({ level: options.level ?? 'info', format, defaultMeta: contextMeta(), transports: [transport(options.destination)] });
}

function transport(destination: NodeJS.WritableStream | undefined): winston.transport {
  return destination ? new winston.transports.Stream({ stream: destination }) : new winston.transports.Console();
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
