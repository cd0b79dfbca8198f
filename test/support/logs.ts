/** Loggers whose JSON entries the test can read back. */
import { PassThrough } from 'node:stream';
import winston from 'winston';
import { createLogger } from '../../src/logger.js';

/** A stream of JSON lines, and what was written to it, parsed. */
function jsonLines(): { stream: PassThrough; lines: Record<string, unknown>[] } {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { stream, lines };
}

/** The service's own logger (src/logger.ts, as configured in production: JSON), read back line by line. */
export function capturingServiceLogger(): { logger: winston.Logger; lines: Record<string, unknown>[] } {
  const { stream, lines } = jsonLines();
  return { logger: createLogger({ level: 'debug', format: 'json', destination: stream }), lines };
}

/** A plain winston logger (every line kept, none held back). */
export function capturingLogger(): { logger: winston.Logger; entries: Record<string, unknown>[] } {
  const { stream, lines } = jsonLines();
  return {
    logger: winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] }),
    entries: lines,
  };
}
