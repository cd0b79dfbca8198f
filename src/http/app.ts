/** The Express application: middleware, routers and error handling, with no I/O of its own. */
import express, { Router } from 'express';
import type { Express, Request, RequestHandler, Router as ExpressRouter } from 'express';
import type { Logger } from '../logger.js';
import type { Readiness } from '../admin/status.js';
import type { AccountService } from '../services/accounts.js';
import type { UserEventService } from '../services/user-events.js';
import type { ReadModelService } from '../services/read-models.js';
import type { SyncService } from '../services/sync.js';
import type { MeService } from '../services/me.js';
import { authRouter, requireUser } from './auth.js';
import { errorHandler, notFound, notFoundHandler, rejectInvalidUtf8 } from './errors.js';
import { servedUnder } from './base-path.js';
import { compressAnswers } from './compress.js';
import { drainUnusedBody } from './drain.js';
import { eventsRouter } from './events.js';
import { healthRouter } from './health.js';
import { publicRouter } from './public.js';
import { PublicViews } from '../services/public-views.js';
import { podcastsRouter } from './podcasts.js';
import { readModelsRouter } from './read-models.js';
import { syncRouter } from './sync.js';
import { meRouter } from './me.js';
import { metricsRouter, requestContext } from './observability.js';
import { openapiRouter } from './openapi.js';
import { limitAuthentication, limitByAddress, RateLimiter } from './rate-limit.js';
import { JSON_BODY_PARSER } from './routes.js';
import type { AdminDependencies } from './admin.js';
import { adminRouter } from './admin.js';
import type { GpodderDependencies } from './gpodder/index.js';
import { gpodderRouter } from './gpodder/index.js';
import type { WebDependencies } from '../web/index.js';
import { pageNotFound, webRouter } from '../web/index.js';
import { weakEtag } from './etag.js';

export interface AppDependencies {
  logger: Logger;
  accounts: AccountService;
  userEvents: UserEventService;
  readModels: ReadModelService;
  sync: SyncService;
  me: MeService;
  registration: 'open' | 'closed';
  bodyLimit: string;
  /** Requests per minute per token (or client address without one); 0 or absent: no limit. */
  rateLimitPerMinute?: number;
  /** Express `trust proxy` (TRUST_PROXY): true/false, a hop count, or addresses/subnets. */
  trustProxy?: string;
  /** The path everything is served under (BASE_PATH, say "/podsync"); absent or "": the root. */
  basePath?: string;
  /** Whether the stores answer and the projections are caught up (for `/readyz`). */
  ready: () => Promise<Readiness>;
  /** The `/metrics` body (Prometheus text); no `/metrics` route without it. */
  metrics?: () => Promise<string>;
  /** The admin API; `/admin` does not exist without it (no ADMIN_TOKEN). */
  admin?: AdminDependencies;
  /** The gpodder.net API v2 (`/api/2/...`, `/subscriptions/...`); absent without it. */
  gpodder?: Omit<GpodderDependencies, 'publicViews'>;
  /** The web pages (src/web); absent without it. They share this app's rate limiter. */
  web?: Omit<WebDependencies, 'limiter' | 'admin' | 'logger'>;
}

/**
 * The native API is everything under `/v1/`; the pages and the gpodder and Nextcloud APIs never
 * are. Express tries a request against each route of every router mounted before the one that
 * answers it (a router per surface, a dozen for gpodder's), so each family is entered only by
 * its own requests: under load that walk took ~7 % of the HTTP thread and allocated ~28 KB per
 * request (bench/RESULTS.md). Express routes ignore case, and so does this.
 */
function isNativeApi(req: Request): boolean {
  return req.path.slice(0, 4).toLowerCase() === '/v1/';
}
/** `router`, entered only by requests `admit` lets in (the others leave at once: `next('router')`). */
function entered(admit: (req: Request) => boolean, router: RequestHandler): ExpressRouter {
  const gate = Router();
  gate.use((req, _res, next) => (admit(req) ? next() : next('router')));
  gate.use(router);
  return gate;
}
const onlyNative = (router: RequestHandler) => entered(isNativeApi, router);
const exceptNative = (router: RequestHandler) => entered((req) => !isNativeApi(req), router);

export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('etag', weakEtag);
  if (deps.trustProxy !== undefined) app.set('trust proxy', trustProxySetting(deps.trustProxy));
  app.use(requestContext(deps.logger));
  if (deps.basePath) {
    const base = deps.basePath;
    app.use(servedUnder(app, base, (req, _res, next) => next(notFound(`No route for ${req.method} ${req.path}: this server answers under ${base}/`))));
  }
  app.use(compressAnswers());
  // No route reads a GET's body: whatever one carries is read off the wire before any answer
  // (src/http/drain.ts), so a client closing the connection never sees a reset instead.
  app.use((req, res, next) => (req.method === 'GET' || req.method === 'HEAD' ? drainUnusedBody(req, res, next) : next()));
  // Kasts joins its server setting and an API path verbatim: a server entered with a trailing
  // "/" asks for "//index.php/...". Leading slashes collapse into one.
  app.use((req, _res, next) => {
    if (req.url.startsWith('//')) req.url = req.url.replace(/^\/+/, '/');
    next();
  });
  const limiter = deps.rateLimitPerMinute ? new RateLimiter({ perMinute: deps.rateLimitPerMinute }) : undefined;
  // Before any body is read: a limited client costs us no parsing.
  app.use(limitByAddress(limiter));
  // Every authenticated surface goes through limitAuthentication (native here, gpodder,
  // Nextcloud and admin in their routers).
  const authenticated = limitAuthentication(limiter, requireUser(deps.accounts));
  // Bodies are JSON whatever the Content-Type says: some podcast clients send JSON labelled
  // text/plain or form-urlencoded. `strict` still rejects bare scalars. Each route that takes a
  // body parses it after routing and authentication (parseJsonBody in routes.ts); pages parse
  // their forms and the gpodder API its text lists and large uploads themselves.
  app.locals[JSON_BODY_PARSER] = express.json({ limit: deps.bodyLimit, type: () => true, strict: true, verify: rejectInvalidUtf8 });

  // Every native route in one router, in this order: each router a request enters costs it
  // Express's walk and its allocations (bench/RESULTS.md, "Native routes in one router").
  const native = Router();
  syncRouter(deps.sync, authenticated, native);
  authRouter({ accounts: deps.accounts, registration: deps.registration, authenticated, ...(limiter ? { limiter } : {}) }, native);
  eventsRouter(deps.userEvents, authenticated, native);
  readModelsRouter(deps.readModels, authenticated, native);
  // One PublicViews with the web pages and gpodder's directory: they ask the same questions, and
  // its answers are kept.
  const publicViews = deps.web?.publicViews ?? new PublicViews(deps.readModels.readModel);
  publicRouter(publicViews, native);
  podcastsRouter(deps.readModels.readModel, authenticated, native);
  meRouter(deps.me, authenticated, native);
  app.use(onlyNative(native));
  if (deps.web) app.use(exceptNative(webRouter({ ...deps.web, limiter, admin: deps.admin, logger: deps.logger })));
  if (deps.gpodder) app.use(exceptNative(gpodderRouter({ ...deps.gpodder, limiter, publicViews })));
  app.use(healthRouter(deps.ready));
  app.use(openapiRouter());
  if (deps.metrics) app.use(metricsRouter(deps.metrics));

  if (deps.admin) app.use('/admin', adminRouter(deps.admin, limiter));

  if (deps.web) app.use(exceptNative(pageNotFound(deps.web.accounts, deps.logger)));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}

/** TRUST_PROXY as Express wants it: a boolean, a hop count, or the address list as given. */
function trustProxySetting(value: string): boolean | number | string {
  if (value === 'true' || value === 'false') return value === 'true';
  return /^\d+$/.test(value) ? Number(value) : value;
}
