/**
 * Answers compressed for the clients that ask (`Accept-Encoding`): AntennaPod's OkHttp and
 * Kasts' Qt ask for gzip on every request without being told and unpack it themselves, so a
 * phone's first sync downloads a fraction of the JSON (docs/api.md, "Compression"). The
 * `compression` middleware (the Express project's own) compresses on libuv's threads, not the
 * one serving requests, and leaves answers under 1 KiB as they are. The fastest levels: a
 * download of 10,000 actions gzip's 11.9 times smaller against 12.2 at its default level, in half
 * the time; brotli (preferred when a client takes it too) 14.7 times in less time than gzip's,
 * where the middleware's default quality took 3.5 times as long (bench/RESULTS.md, "Compressed
 * answers").
 *
 * Pages (`text/html`) are never compressed: a page holds its form's CSRF token beside text the
 * address can choose (a username, a query), which is what BREACH reads through compressed sizes
 * (docs/security.md).
 */
import { constants } from 'node:zlib';
import compression from 'compression';
import type { Request, RequestHandler, Response } from 'express';

function compressible(req: Request, res: Response): boolean {
  const type = res.getHeader('Content-Type');
  if (typeof type === 'string' && type.startsWith('text/html')) return false;
  return compression.filter(req, res);
}

/**
 * The middleware wraps every answer it sees (its writes, its headers' hook), which cost the load
 * benchmark's ceiling 7 % when its requests did not ask for compression at all: only a request
 * that asks meets it.
 */
export function compressAnswers(): RequestHandler {
  const compress = compression({ filter: compressible, threshold: 1024, level: 1, brotli: { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } } });
  return (req, res, next) => (req.headers['accept-encoding'] === undefined ? next() : compress(req, res, next));
}
