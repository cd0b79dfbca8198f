/** The listener's home: subscriptions, recent listening, playlists, devices. */
import type { ListenerService } from '../services/listener.js';
import type { Site } from './site.js';
import { principalOf, show } from './site.js';
import { SUBSCRIPTION_NOTICES } from './subscription-pages.js';

export function homePage(site: Site, listener: ListenerService): void {
  site.userPage('/', async (req, res) => {
    const done = req.query['done'];
    const notice = typeof done === 'string' && Object.hasOwn(SUBSCRIPTION_NOTICES, done) ? SUBSCRIPTION_NOTICES[done] : null;
    show(res, 'home', { overview: await listener.overview(principalOf(res).userId), notice });
  });
}
