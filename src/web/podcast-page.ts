/**
 * A podcast's page (`/podcast?feed=`): what its feed says and its newest episodes, each with
 * how far the listener got (src/services/listener.ts `podcast`). Reached from the home page's
 * subscriptions and listening.
 */
import { z } from 'zod';
import { httpUrl } from '../domain/events.js';
import type { ListenerService } from '../services/listener.js';
import { PODCAST_PAGE_EPISODES } from '../services/listener.js';
import type { Site } from './site.js';
import { principalOf, show, showMessage } from './site.js';

const podcastQuery = z.object({ feed: httpUrl });

export function podcastPage(site: Site, listener: ListenerService): void {
  site.userPage('/podcast', async (req, res) => {
    const query = podcastQuery.safeParse(req.query);
    if (!query.success) return showMessage(res, 400, 'That did not work', 'feed: give the address of a podcast feed (http or https).', '/');
    show(res, 'podcast', { podcast: await listener.podcast(principalOf(res).userId, query.data.feed), shownAtMost: PODCAST_PAGE_EPISODES });
  });
}
