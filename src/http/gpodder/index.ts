/**
 * The gpodder.net API v2 (docs/design.md, "Clients and their APIs"), at gpodder.net's own paths, so AntennaPod, gPodder and
 * Kasts sync unchanged. Mounted before the app's JSON parser: each route parses its own body
 * (JSON whatever the Content-Type, text for the simple API's lists, a larger limit for
 * episode uploads), after authentication.
 */
import { Router } from 'express';
import type { AccountService } from '../../services/accounts.js';
import type { GpodderAuth } from '../../services/gpodder-auth.js';
import type { GpodderService } from '../../services/gpodder.js';
import type { GpodderEpisodeService } from '../../services/gpodder-episodes.js';
import { gpodderAuthRouter, gpodderUser } from './auth.js';
import { limitAuthentication } from '../rate-limit.js';
import type { RateLimiter } from '../rate-limit.js';
import { gpodderErrors } from './common.js';
import { devicesRouter } from './devices.js';
import { directoryRouter } from './directory.js';
import { episodesRouter } from './episodes.js';
import { favoritesRouter } from './favorites.js';
import { settingsRouter } from './settings.js';
import { simpleRouter } from './simple.js';
import { subscriptionsRouter } from './subscriptions.js';
import { syncDevicesRouter } from './sync-devices.js';
import type { NextcloudService } from '../../services/nextcloud.js';
import type { LoginFlowService } from '../../services/login-flow.js';
import { nextcloudRouter } from '../nextcloud/gpoddersync.js';
import { loginFlowRouter } from '../nextcloud/login-flow.js';
import { ocsRouter, ocsUser } from '../nextcloud/ocs.js';
import { pageHeaders, staticFiles } from '../../web/security.js';
import { webContext } from '../../web/session.js';
import type { PublicViews } from '../../services/public-views.js';

export interface GpodderDependencies {
  readonly accounts: AccountService;
  readonly auth: GpodderAuth;
  readonly service: GpodderService;
  readonly episodes: GpodderEpisodeService;
  readonly bodyLimit: string;
  /** The Nextcloud gPodder Sync API and its Login Flow v2 (src/http/nextcloud). */
  readonly nextcloud: NextcloudService;
  readonly loginFlows: LoginFlowService;
  /** Limits per credential and address (src/http/rate-limit.ts); none without it. */
  readonly limiter?: RateLimiter | undefined;
  /** What the podcast directory lists: the native API's public views (src/http/app.ts). */
  readonly publicViews: PublicViews;
}

export function gpodderRouter(deps: GpodderDependencies): Router {
  const router = Router();
  const authenticated = limitAuthentication(deps.limiter, gpodderUser(deps.auth, deps.accounts));
  router.use(gpodderAuthRouter(deps.auth, authenticated));
  router.use(devicesRouter(deps.service, authenticated, deps.bodyLimit));
  router.use(subscriptionsRouter(deps.service, authenticated, deps.bodyLimit));
  router.use(simpleRouter(deps.service, authenticated, deps.bodyLimit));
  router.use(episodesRouter(deps.episodes, authenticated));
  router.use(syncDevicesRouter(deps.service, authenticated, deps.bodyLimit));
  router.use(settingsRouter(deps.service, authenticated, deps.bodyLimit));
  router.use(favoritesRouter(deps.service, authenticated));
  router.use(directoryRouter(deps.publicViews));
  router.use('/static', pageHeaders, staticFiles);
  // The grant page has the site's header, and knows a signed-in visitor (to fill in the username).
  router.use(loginFlowRouter(deps.loginFlows, [pageHeaders, webContext(deps.accounts)]));
  router.use(ocsRouter(deps.accounts, limitAuthentication(deps.limiter, ocsUser(deps.auth))));
  router.use(nextcloudRouter(deps.nextcloud, limitAuthentication(deps.limiter, gpodderUser(deps.auth, deps.accounts, { sessions: false })), deps.bodyLimit));
  router.use(gpodderErrors);
  return router;
}
