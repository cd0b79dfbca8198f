/** Shared pieces of the gpodder routers: `{name}.{ext}` path segments, body parsers, errors. */
import express from 'express';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { gpodderDeviceId } from '../../domain/gpodder.js';
import { GpodderInputError } from '../../services/gpodder.js';
import { EpisodeActionsBusyError } from '../../services/gpodder-episodes.js';
import { HttpError, notFound, rejectInvalidUtf8 } from '../errors.js';
import { parseInput } from '../validate.js';

/**
 * Splits a path segment such as `alice.json` or `my.phone.opml` at its last dot. gpodder ids
 * may contain dots, so the extension is the last one; an unknown extension is a 404.
 */
export function splitFile<E extends string>(file: unknown, extensions: readonly E[]): { name: string; ext: E } {
  const text = String(file);
  const dot = text.lastIndexOf('.');
  const ext = text.slice(dot + 1) as E;
  if (dot <= 0 || !extensions.includes(ext)) throw notFound(`Expected ${extensions.map((e) => `{name}.${e}`).join(' or ')}`);
  return { name: text.slice(0, dot), ext };
}

export function deviceIdOf(value: string): string {
  return parseInput(gpodderDeviceId, value, ['device']);
}

/**
 * JSON whatever the Content-Type: urllib (gPodder) posts JSON labelled
 * `application/x-www-form-urlencoded`, others say `text/plain`. Scalars are still refused.
 */
export const jsonBody = (limit: string): RequestHandler => express.json({ limit, type: () => true, strict: true, verify: rejectInvalidUtf8 });

/** Raw text (the simple API's OPML / TXT / JSON lists), whatever the Content-Type. */
export const textBody = (limit: string): RequestHandler => express.text({ limit, type: () => true, verify: rejectInvalidUtf8 });

/** Service errors that are the client's doing, as HTTP errors (the app's handler renders them). */
export const gpodderErrors: ErrorRequestHandler = (error: unknown, _req, _res, next) => {
  if (error instanceof GpodderInputError) return next(new HttpError(400, 'validation_failed', error.message, { issues: error.issues }));
  if (error instanceof EpisodeActionsBusyError) return next(new HttpError(503, 'try_again', error.message, null, { 'Retry-After': '2' }));
  next(error);
};
