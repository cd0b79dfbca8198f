/** Loggers whose JSON entries the test can read back. */
import { PassThrough, Writable } from 'node:stream';
import winston from 'winston';
import { createLogger } from '../../src/logger.js';

/** The service's own logger (src/logger.ts, as configured in production: JSON), read back line by line. */
export function capturingServiceLogger(): { logger: winston.Logger; lines: Record<string, unknown>[] } {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { logger: createLogger({ level: 'debug', format: 'json', destination: stream }), lines };
}

/** A plain winston logger (every line kept, none held back). */
export function capturingLogger(): { logger: winston.Logger; entries: Record<string, unknown>[] } {
  const entries: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      entries.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] }), entries };
}
