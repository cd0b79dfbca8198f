/**
 * Reading (and discarding) a request body nobody parses: routes that take no body, and
 * requests answered before their body is read (401, 404, 429). Answering first and closing the
 * connection (clients that send `Connection: close`, e.g. urllib) leaves the unread bytes in the
 * socket, and the peer's reset can reach the client before the answer does. Discarding costs no
 * parsing and no memory; past {@link MAX_DRAIN_BYTES} the answer goes anyway.
 */
import type { Request, RequestHandler } from 'express';

export const MAX_DRAIN_BYTES = 1024 * 1024;

function unread(req: Request): boolean {
  const length = req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  // `_consuming`: a body parser (or anything else) has started on it. Node's own private
  // field of IncomingMessage, absent from its type declarations: hence the cast.
  return hasBody && !req.readableEnded && !(req as unknown as { _consuming?: boolean })._consuming;
}

/** Resolves once the body is read to its end, or past the bound, or the request fails. */
export function drainBody(req: Request): Promise<void> {
  if (!unread(req)) return Promise.resolve();
  return new Promise((resolve) => {
    let bytes = 0;
    const done = () => {
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_DRAIN_BYTES) {
        req.pause();
        done();
      }
    };
    req.on('data', onData);
    req.once('end', done);
    req.once('error', done);
    req.once('close', done);
  });
}

/** {@link drainBody} as middleware, for routes that take no body. */
export const drainUnusedBody: RequestHandler = async (req, _res, next) => {
  await drainBody(req);
  next();
};
