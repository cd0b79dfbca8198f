/**
 * Serving under a path (BASE_PATH, docs/operations.md "Under a path"): a proxy passes
 * `https://example.org/podsync/...` on as it came, and the app answers every surface — the native
 * API, gpodder's, Nextcloud's, the pages, health and metrics — under that path and nothing outside
 * it. The prefix is taken off the request's URL first, so every router sees the paths it declares;
 * what the service writes back for a browser or an app to follow (links and forms, redirects,
 * cookies' paths, Login Flow's addresses, the server an app is told to use) is put under it again
 * from {@link basePathOf}.
 */
import type { Express, Request, RequestHandler, Response } from 'express';

const BASE_PATH = 'basePath';

/**
 * Serves `app` under `base` (say "/podsync"): the returned middleware, mounted first, takes it off
 * the URL of each request under it, and hands those outside it to `outside`.
 */
export function servedUnder(app: Express, base: string, outside: RequestHandler): RequestHandler {
  app.locals[BASE_PATH] = base;
  return (req, res, next) => {
    const within = withinBase(req.url, base);
    if (within === undefined) return outside(req, res, next);
    req.url = within;
    next();
  };
}

/** `url` without `base` in front ("/podsync?x" → "/?x"); undefined when it is not under it ("/podsyncx"). */
function withinBase(url: string, base: string): string | undefined {
  if (!url.startsWith(base)) return undefined;
  const rest = url.slice(base.length);
  if (rest.startsWith('/')) return rest;
  return rest === '' || rest.startsWith('?') ? `/${rest}` : undefined;
}

/** The path the app is served under: "" at the host's root. */
export function basePathOf(from: Request | Response): string {
  return (from.app.locals[BASE_PATH] as string | undefined) ?? '';
}

/** A path of this app (say "/access") as a browser or an app must ask for it. */
export function servedPath(from: Request | Response, path: string): string {
  return `${basePathOf(from)}${path}`;
}

/** The URL a request came to, within the app (the base path taken off `originalUrl`). */
export function appUrl(req: Request): string {
  const base = basePathOf(req);
  return (base && withinBase(req.originalUrl, base)) || req.originalUrl;
}

/** The `Path` of the cookies the app sets: only its own addresses. */
export function cookiePath(from: Request | Response): string {
  return basePathOf(from) || '/';
}
