/** The listener's home: subscriptions, recent listening, playlists, devices. */
import type { ListenerService } from '../services/listener.js';
import type { Site } from './site.js';
import { principalOf, show } from './site.js';

export function homePage(site: Site, listener: ListenerService): void {
  site.userPage('/', async (_req, res) => {
    show(res, 'home', { overview: await listener.overview(principalOf(res).userId) });
  });
}
