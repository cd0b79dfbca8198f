/** winston logger: JSON in production, readable lines in development (SPEC 11). */
import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(options: { level?: string; format?: 'json' | 'pretty' | undefined; production?: boolean } = {}): Logger {
  const pretty = (options.format ?? (options.production ? 'json' : 'pretty')) === 'pretty';
  const format = pretty
    ? winston.format.combine(
        winston.format.timestamp(),
        winston.format.colorize(),
        winston.format.printf(({ timestamp, level, message, ...rest }) => {
          const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
          return `${String(timestamp)} ${level} ${String(message)}${extra}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.json());
  return winston.createLogger({ level: options.level ?? 'info', format, transports: [new winston.transports.Console()] });
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
