/**
 * Error responses (docs/design.md, "Clients and their APIs"): JSON `{error, message, details}`. Bad input is always a 4xx that
 * names the field; only real faults are 500s, and those never echo internals.
 */
import { isUtf8 } from 'node:buffer';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z, ZodError } from 'zod';
import type { Logger } from '../logger.js';
import { AppendTooLargeError, StreamDeletedError, WrongExpectedVersionError } from '../stores/event-store.js';
import { isStorageFull, isStoreBusy, isStoreUnavailable } from '../stores/store-errors.js';
import { drainBody } from './drain.js';
import { ReadModelsBehindError } from '../services/read-models.js';
import { EventIdConflictError } from '../services/user-events.js';

/** The body of every error answer (documented in the OpenAPI document as `Error`). */
export const errorBody = z
  .object({
    error: z.string().meta({ description: 'Machine-readable code, e.g. validation_failed, unauthorized, rate_limited' }),
    message: z.string(),
    details: z.unknown().meta({ description: 'null, or e.g. {issues: [{path, message}]} naming each bad field' }),
  })
  .meta({ description: 'An error' });

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details: unknown = null) => new HttpError(400, 'bad_request', message, details);
export const unauthorized = (message = 'Authentication required', headers: Record<string, string> = {}) =>
  new HttpError(401, 'unauthorized', message, null, headers);
export const forbidden = (message: string) => new HttpError(403, 'forbidden', message);
export const notFound = (message = 'Not found') => new HttpError(404, 'not_found', message);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);

export interface FieldIssue {
  path: string;
  message: string;
}

/** `events.0.data.played` style paths, so a client sees exactly which field is wrong. */
export function fieldIssues(error: ZodError, prefix: string[] = []): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path.map(String)].join('.') || '(body)',
    message: issue.message,
  }));
}

export function validationError(error: ZodError, prefix: string[] = []): HttpError {
  const issues = fieldIssues(error, prefix);
  const summary = issues
    .slice(0, 5)
    .map((issue) => `${issue.path}: ${issue.message}`)
    .join('; ');
  return new HttpError(400, 'validation_failed', `Invalid request: ${summary}`, { issues });
}

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/**
 * The body parsers' `verify`: a body meant as UTF-8 (the default charset) that is not is
 * refused, rather than read with U+FFFD in place of its bad bytes and stored so.
 */
export function rejectInvalidUtf8(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  if (/^utf-?8$/i.test(encoding) && !isUtf8(body)) throw Object.assign(new Error('The request body is not valid UTF-8'), { status: 400, expose: true });
}

function fromBodyParser(error: BodyParserError): HttpError | undefined {
  switch (error.type) {
    case 'entity.verify.failed':
      return new HttpError(400, 'invalid_utf8', 'The request body is not valid UTF-8');
    case 'entity.parse.failed':
      return new HttpError(400, 'malformed_json', 'The request body is not valid JSON');
    case 'entity.too.large':
      return new HttpError(413, 'payload_too_large', `The request body is larger than ${error.limit ?? 'the limit'} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError(415, 'unsupported_encoding', 'Unsupported content encoding or charset');
    case 'request.aborted':
      return new HttpError(400, 'request_aborted', 'The request was aborted');
    default:
      return error.status !== undefined && error.status >= 400 && error.status < 500 ? new HttpError(error.status, 'bad_request', 'Bad request') : undefined;
  }
}

export function toHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (error instanceof ZodError) return validationError(error);
  // A request authenticated just before its account's deletion started, landing after it.
  if (error instanceof EventIdConflictError) {
    return new HttpError(409, 'event_id_conflict', error.message, {
      issues: error.ids.map((id) => ({ path: 'events.id', message: `${id} is already the id of another event` })),
    });
  }
  if (error instanceof ReadModelsBehindError) return new HttpError(503, 'read_models_behind', error.message, null, { 'Retry-After': '1' });
  if (error instanceof StreamDeletedError) return new HttpError(410, 'account_deleted', 'This account has been deleted');
  // A write is one append, and the store takes so much at once: the client sends it in parts.
  if (error instanceof AppendTooLargeError)
    return new HttpError(
      413,
      'append_too_large',
      `This write makes ${error.bytes === undefined ? 'more events than' : `${error.bytes} bytes of events, more than`} the ${error.maxBytes} bytes the event store takes at once; nothing was written. Send fewer records per request.`,
      { max_bytes: error.maxBytes },
    );
  // Other writers of the same user (other processes) got in first at every attempt.
  if (error instanceof WrongExpectedVersionError)
    return new HttpError(503, 'write_conflict', 'Other writes of this account kept landing first; nothing was written. Retry.', null, { 'Retry-After': '1' });
  if (isStoreBusy(error))
    return new HttpError(503, 'store_busy', 'The store could not take the write in time; nothing was written. Retry.', null, { 'Retry-After': '1' });
  if (isStoreUnavailable(error))
    return new HttpError(
      503,
      'store_unavailable',
      'The store did not answer in time; the request may not have been carried out. Retry: a retried write is recognised.',
      null,
      {
        'Retry-After': '5',
      },
    );
  // Apps retry a 503 at their next sync; a minute gives an operator time to free space.
  if (isStorageFull(error))
    return new HttpError(503, 'storage_full', "The server's disk is full, so the request could not be completed. Retry later.", null, { 'Retry-After': '60' });
  if (typeof error === 'object' && error !== null) return fromBodyParser(error as BodyParserError);
  return undefined;
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(notFound(`No route for ${req.method} ${req.path}`));
};

const STORE_PROBLEMS: Record<string, string> = {
  storage_full: 'the disk holding the store is full: writes fail until space is freed (docs/operations.md, "A full disk")',
  store_unavailable: 'a store did not answer in time (docs/operations.md, "When a store does not answer")',
};

/**
 * Logs what an operator must hear of a failed request (the API's and the pages' handlers both):
 * a fault (`known` undefined) with its stack, or a store's condition once a minute, without the
 * request's id (it is about the store, not this request: held back however many fail, see
 * src/logger.ts). The other known errors are the client's, answered and not logged.
 */
export function reportError(logger: Logger, error: unknown, known: HttpError | undefined, requestId: string | undefined): void {
  if (!known) logger.error('unhandled error', { requestId, error: error instanceof Error ? error.stack : String(error) });
  const storeProblem = known ? STORE_PROBLEMS[known.code] : undefined;
  if (storeProblem) logger.error(storeProblem, { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error), requestId: undefined });
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return async (error: unknown, req, res, _next) => {
    // A request refused before its body was read (401, 404, 429): read it off the wire first.
    await drainBody(req);
    const known = toHttpError(error);
    const status = known?.status ?? 500;
    reportError(logger, error, known, req.id);
    if (res.headersSent) return;
    for (const [name, value] of Object.entries(known?.headers ?? {})) res.setHeader(name, value);
    res.status(status).json({
      error: known?.code ?? 'internal_error',
      message: known?.message ?? 'Internal server error',
      details: known?.details ?? null,
    });
  };
}
