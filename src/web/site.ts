/**
 * The pages' plumbing: each page route runs behind the security headers, reads the visitor's
 * session, and (POST) parses a small form and checks its CSRF token before any handler runs.
 * Page errors are pages too: bad input is a 4xx page that writes nothing, never a 500, and a
 * store that cannot take a write now (a full disk, a server that did not answer) a 503 page.
 */
import express from 'express';
import type { ErrorRequestHandler, Request, RequestHandler, Response, Router } from 'express';
import multer from 'multer';
import { ZodError } from 'zod';
import type { AccountService, Principal } from '../services/accounts.js';
import { HttpError, reportError, toHttpError } from '../http/errors.js';
import { drainBody } from '../http/drain.js';
import { appUrl, servedPath } from '../http/base-path.js';
import type { Logger } from '../logger.js';
import { renderPage } from './render.js';
import { pageHeaders } from './security.js';
import { contextOf, csrfValid, webContext } from './session.js';

const FORM_LIMIT = '16kb';
/** The largest file a form takes: an OPML list of 10,000 podcasts with their titles. */
export const UPLOAD_LIMIT_BYTES = 5 * 1024 * 1024;
/** The field a form's file is sent in. */
export const UPLOAD_FIELD = 'file';

export type PageHandler = (req: Request, res: Response) => Promise<void> | void;

/** Renders a view with the visitor's context (for the layout's navigation and forms). */
export function show(res: Response, view: string, data: Record<string, unknown> = {}, status = 200): void {
  res
    .status(status)
    .type('html')
    .send(renderPage(res, view, { ...data, web: contextOf(res) }));
}

export function showMessage(res: Response, status: number, title: string, message: string, back?: string): void {
  show(res, 'message', { title, message, back: back ?? null }, status);
}

/** A 303 to a page of this site: `path` within it (say "/access"), under the base path. */
export function seeOther(res: Response, path: string): void {
  res.redirect(303, servedPath(res, path));
}

/** The signed-in user of a page behind {@link Site.user}. */
export function principalOf(res: Response): Principal {
  const { principal } = contextOf(res);
  if (!principal) throw new HttpError(401, 'unauthorized', 'Sign in first');
  return principal;
}

/** A safe place to return to after signing in: a path on this site, never another origin. */
export function localPath(value: unknown, fallback = '/'): string {
  return typeof value === 'string' && /^\/(?![/\\])[\x21-\x7e]{0,500}$/.test(value) ? value : fallback;
}

export interface Site {
  /** A page anyone may see. */
  page(path: string, handler: PageHandler): void;
  /** A form anyone may post (sign-in, sign-up): CSRF-checked. */
  form(path: string, handler: PageHandler): void;
  /** A page of the signed-in user; others are sent to sign in. */
  userPage(path: string, handler: PageHandler): void;
  /** A form of the signed-in user: CSRF-checked; 403 without a session. */
  userForm(path: string, handler: PageHandler): void;
  /**
   * A form of the signed-in user sending one file (`multipart/form-data`, the file in
   * {@link UPLOAD_FIELD}, at most {@link UPLOAD_LIMIT_BYTES}): CSRF-checked like the others.
   * The handler finds the file with {@link uploadedFile}.
   */
  userUpload(path: string, handler: PageHandler): void;
}

/** The file a {@link Site.userUpload} form sent; undefined when it sent none. */
export function uploadedFile(req: Request): Buffer | undefined {
  return req.file?.buffer;
}

/**
 * multer (memory storage, one file, a few small fields) with its refusals as the pages' 4xx:
 * a file too large 413, any other part it does not take 400, naming it, and a body that is not
 * multipart as it says (no boundary, cut short, a malformed part: busboy's plain errors, which
 * multer hands on as they are) 400 too: all of them are the request's doing.
 */
function uploadBody(): RequestHandler {
  const parse = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: UPLOAD_LIMIT_BYTES, files: 1, fields: 10, fieldSize: 1024, fieldNameSize: 100, parts: 12, headerPairs: 20 },
  }).single(UPLOAD_FIELD);
  return (req, res, next) =>
    parse(req, res, (error: unknown) => {
      if (error === undefined || error === null) return next();
      if (!(error instanceof multer.MulterError))
        return next(new HttpError(400, 'bad_form', `The form was not understood: ${error instanceof Error ? error.message.toLowerCase() : 'not multipart'}.`));
      if (error.code === 'LIMIT_FILE_SIZE')
        return next(new HttpError(413, 'file_too_large', `The file is larger than ${UPLOAD_LIMIT_BYTES / 1024 / 1024} MB.`));
      next(new HttpError(400, 'bad_form', `The form was not understood: ${error.message.toLowerCase()}${error.field ? ` (${error.field})` : ''}.`));
    });
}

/** Every page path (for the OpenAPI coverage test: pages are not part of the native API). */
export const PAGE_PATHS = new Set<string>();

const wrap =
  (handler: PageHandler): RequestHandler =>
  async (req, res) =>
    handler(req, res);

/**
 * The sign-in page, then back to the page asked for (`url`): without its query when the address
 * is not one the sign-in page goes back to ({@link localPath}: too long, say), without a way
 * back when even its path is not. A hostile address would otherwise make a Location header past
 * what HTTP clients accept (Node's parser refuses headers past 16 KiB; an emoji in an address
 * is 12 bytes, and 18 once encoded again for `next`).
 */
function signinFor(url: string, path: string): string {
  for (const next of [url, path]) if (localPath(next, '') === next) return `/signin?next=${encodeURIComponent(next)}`;
  return '/signin';
}

export function site(router: Router, accounts: AccountService): Site {
  const context = webContext(accounts);
  const body = express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 50 });
  const csrf: RequestHandler = (req, res, next) => {
    if (csrfValid(res, req.body)) return next();
    showMessage(res, 403, 'This form has expired', 'The page was open too long or came from another site. Go back, reload the page and try again.');
  };
  const signedIn: RequestHandler = async (req, res, next) => {
    if (contextOf(res).principal) return next();
    if (req.method === 'GET') return seeOther(res, signinFor(appUrl(req), req.baseUrl + req.path));
    // The form (a file, perhaps) read off the wire first: a browser shown a reset instead of the page otherwise.
    await drainBody(req);
    showMessage(res, 403, 'Signed out', 'Your session has ended. Sign in and try again.', '/signin');
  };
  const upload = uploadBody();
  const add = (path: string) => PAGE_PATHS.add(path) && router;
  return {
    page: (path, handler) => add(path).get(path, pageHeaders, context, wrap(handler)),
    form: (path, handler) => add(path).post(path, pageHeaders, context, body, csrf, wrap(handler)),
    userPage: (path, handler) => add(path).get(path, pageHeaders, context, signedIn, wrap(handler)),
    userForm: (path, handler) => add(path).post(path, pageHeaders, context, signedIn, body, csrf, wrap(handler)),
    userUpload: (path, handler) => add(path).post(path, pageHeaders, context, signedIn, upload, csrf, wrap(handler)),
  };
}

/**
 * A page saying there is none, for a browser that asks for an address nothing answers: mounted
 * after every router (the APIs', health, metrics), so it only meets what would be the API's JSON
 * 404. Only a request that prefers HTML over JSON gets it (a browser's navigation does; apps send
 * JSON's type or any type).
 */
export function pageNotFound(accounts: AccountService, logger: Logger): Router {
  const router = express.Router();
  const wantsPage: RequestHandler = (req, _res, next) =>
    (req.method === 'GET' || req.method === 'HEAD') && req.accepts(['json', 'html']) === 'html' ? next() : next('router');
  router.use(wantsPage, pageHeaders, webContext(accounts), (_req, res) => showMessage(res, 404, 'Not found', 'There is no page at this address.', '/'));
  router.use(pageErrors(logger));
  return router;
}

/**
 * Errors of page routes, as pages: the client's (4xx), and a store's condition that a retry
 * later gets past (503: a full disk, a server that did not answer, a busy file), logged as the
 * API's are. Anything else goes on to the app's 500 handler.
 */
export const pageErrors =
  (logger: Logger): ErrorRequestHandler =>
  (error: unknown, req, res, next) => {
    if (res.headersSent || !res.locals['web']) return next(error);
    const known = toHttpError(error);
    if (known?.status === 503) {
      reportError(logger, error, known, req.id);
      for (const [name, value] of Object.entries(known.headers)) res.setHeader(name, value);
      return showMessage(res, 503, 'Not now', known.message);
    }
    clientErrorPage(error, res, next);
  };

const clientErrorPage = (error: unknown, res: Response, next: (error: unknown) => void): void => {
  if (error instanceof ZodError) return showMessage(res, 400, 'That did not work', error.issues.map((issue) => issue.message).join('; '));
  const status = error instanceof HttpError ? error.status : (error as { status?: unknown; type?: unknown }).status;
  if (typeof status !== 'number' || status < 400 || status >= 500) return next(error);
  if (error instanceof HttpError) for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  const message =
    status === 429
      ? 'Too many attempts. Wait a minute and try again.'
      : error instanceof HttpError
        ? error.message
        : status === 413
          ? 'The form was too large.'
          : 'The request was not understood.';
  showMessage(res, status, status === 429 ? 'Slow down' : 'That did not work', message);
};
