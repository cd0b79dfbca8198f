/**
 * Route declarations: each native endpoint's method, path, authentication, the zod schemas
 * that validate its input and the main answers, declared once next to its router. Routers
 * mount their handlers with {@link mount} and validate with the declared schemas; the OpenAPI
 * document (src/http/openapi.ts) is generated from the same declarations, so the two cannot
 * drift apart.
 */
import type { RequestHandler, Router } from 'express';
import type { z } from 'zod';
import { drainUnusedBody } from './drain.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ResponseSpec {
  readonly description: string;
  /** The JSON body; none for bodiless answers (204). */
  readonly schema?: z.ZodType;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RouteSpec {
  readonly method: HttpMethod;
  /** Express syntax, e.g. `/v1/auth/tokens/:id`. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  /** Groups routes in the document. */
  readonly tag: string;
  readonly auth: 'bearer' | 'none';
  readonly body?: z.ZodType;
  readonly query?: z.ZodObject;
  readonly params?: z.ZodObject;
  /**
   * The answers this route gives besides the generic errors, which the document derives:
   * 400 (it takes input), 401 (bearer), 413 (a body), 429 (always).
   */
  readonly responses: Readonly<Record<number, ResponseSpec>>;
}

/** Declares a route; the literal type is kept so handlers see the exact schemas. */
export function defineRoute<const R extends RouteSpec>(route: R): R {
  return route;
}

/**
 * A request that presents credentials to a route that authenticates nobody has not been
 * charged yet (see limitByAddress in rate-limit.ts): its address pays here.
 */
const chargeUncharged: RequestHandler = (_req, res, next) => {
  const charge = res.locals['rateLimitUncharged'] as (() => void) | undefined;
  delete res.locals['rateLimitUncharged'];
  charge?.();
  next();
};

/** Where createApp puts the app's JSON body parser (`app.locals`), for {@link parseJsonBody}. */
export const JSON_BODY_PARSER = 'jsonBodyParser';

/**
 * Parses the JSON body with the app's parser (its limit), at the point of the route where it is
 * placed: after routing and authentication, so an unknown route is a 404 and an unauthenticated
 * request a 401 without its body being read.
 */
export const parseJsonBody: RequestHandler = (req, res, next) => {
  const parser = req.app.locals[JSON_BODY_PARSER] as RequestHandler | undefined;
  if (!parser) return next();
  return parser(req, res, next);
};

/**
 * Mounts `handlers` at the route's method and path. A route that declares a body gets it parsed
 * just before its last handler (after its authentication), unless it parses its own.
 */
export function mount(router: Router, route: RouteSpec, ...handlers: RequestHandler[]): void {
  const chain =
    route.body === undefined
      ? [drainUnusedBody, ...handlers]
      : !handlers.includes(parseJsonBody) && handlers.length > 0
        ? [...handlers.slice(0, -1), parseJsonBody, handlers.at(-1)!]
        : handlers;
  if (route.auth === 'none') router[route.method](route.path, chargeUncharged, ...chain);
  else router[route.method](route.path, ...chain);
}
