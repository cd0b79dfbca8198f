/**
 * Sends a JSON body made in pieces (an export: src/services/me.ts `exportJson`) as they come,
 * at the pace the client reads them. An error after the first piece cannot become an error
 * answer any more (the status is sent): the connection is cut, so the client sees a truncated
 * body, never a complete-looking one.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';

export async function sendJsonPieces(res: Response, pieces: AsyncIterable<string>): Promise<void> {
  const iterator = pieces[Symbol.asyncIterator]();
  // The first piece before the status: an error reading the account or the stream's start is
  // still answered as an error.
  const first = await iterator.next();
  res.type('application/json');
  async function* rest(): AsyncGenerator<string> {
    if (first.done !== true) yield first.value;
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) yield next.value;
  }
  await pipeline(Readable.from(rest()), res);
}
