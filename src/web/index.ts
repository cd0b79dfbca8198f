/**
 * The web interface (docs/design.md, "Web pages"): server-rendered pages over the same
 * services as the APIs. Mounted before the app's JSON parser: pages parse their own forms.
 */
import { Router } from 'express';
import type { AccountService } from '../services/accounts.js';
import type { ListenerService } from '../services/listener.js';
import type { MeService } from '../services/me.js';
import type { PublicViews } from '../services/public-views.js';
import type { RateLimiter } from '../http/rate-limit.js';
import type { Privacy } from '../domain/events.js';
import type { Logger } from '../logger.js';
import { pageHeaders, staticFiles } from './security.js';
import { pageErrors, site } from './site.js';
import { accountPages } from './account-pages.js';
import { homePage } from './home-page.js';
import { accessPages } from './access-pages.js';
import { privacyPage } from './privacy-page.js';
import { dataPages } from './data-pages.js';
import { subscriptionPages } from './subscription-pages.js';
import { publicPages } from './public-pages.js';
import { activityFeeds } from './activity-feed.js';
import { podcastPage } from './podcast-page.js';
import { adminPages } from './admin-pages.js';
import type { AdminDependencies } from '../http/admin.js';
import type { RetentionStatus } from '../admin/retention-status.js';

export { pageNotFound } from './site.js';

export interface WebDependencies {
  readonly accounts: AccountService;
  readonly listener: ListenerService;
  readonly me: MeService;
  readonly publicViews: PublicViews;
  readonly registration: 'open' | 'closed';
  readonly defaultPrivacy: Privacy;
  readonly limiter?: RateLimiter | undefined;
  /** Where a page's fault or a store's condition is reported, as the API's are. */
  readonly logger: Logger;
  /** The admin pages (`/manage`) exist only with ADMIN_TOKEN, like the admin API. */
  readonly admin?: AdminDependencies | undefined;
  /** The retention job's runs, when this process schedules it. */
  readonly retention?: () => Promise<RetentionStatus | undefined>;
}

export function webRouter(deps: WebDependencies): Router {
  const router = Router();
  router.use('/static', pageHeaders, staticFiles);
  const pages = site(router, deps.accounts);
  accountPages(pages, { accounts: deps.accounts, registration: deps.registration, limiter: deps.limiter });
  homePage(pages, deps.listener);
  subscriptionPages(pages, deps.listener);
  podcastPage(pages, deps.listener);
  accessPages(pages, deps.accounts);
  privacyPage(pages, { listener: deps.listener, publicViews: deps.publicViews, defaultPrivacy: deps.defaultPrivacy });
  dataPages(pages, { listener: deps.listener, me: deps.me, accounts: deps.accounts });
  publicPages(pages, deps.publicViews);
  activityFeeds(router, deps.publicViews);
  if (deps.admin) adminPages(pages, { admin: deps.admin, retention: deps.retention ?? (async () => undefined), limiter: deps.limiter });
  router.use(pageErrors(deps.logger));
  return router;
}
