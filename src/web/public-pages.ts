/**
 * Public pages: popularity, the public timeline, a public user's profile. They read only
 * {@link PublicViews}, whose documents carry a username for public users alone: an anonymous
 * or private user, or no user at all, has the same empty profile, so nothing leaks.
 */
import { z } from 'zod';
import type { PublicViews } from '../services/public-views.js';
import type { Site } from './site.js';
import { show, showMessage } from './site.js';

const page = z.object({ before: z.string().min(1).max(300).optional() });
const username = z.string().min(1).max(64);
const TIMELINE = 30;

export function publicPages(site: Site, views: PublicViews): void {
  site.page('/explore', async (req, res) => {
    const query = page.safeParse(req.query);
    if (!query.success) return showMessage(res, 400, 'That did not work', 'That page does not exist.', '/explore');
    const [podcasts, episodes, timeline] = await Promise.all([
      views.popularPodcasts(10),
      views.popularEpisodes(10),
      views.events({ before: query.data.before, limit: TIMELINE }),
    ]);
    show(res, 'explore', {
      heading: 'Explore',
      intro: 'What listeners on this server share: only public and anonymous activity appears here.',
      podcasts,
      episodes,
      events: timeline.events,
      nextBefore: timeline.next_before,
    });
  });

  site.page('/explore/users/:username', async (req, res) => {
    const name = username.safeParse(req.params['username']);
    const query = page.safeParse(req.query);
    if (!name.success || !query.success) return showMessage(res, 400, 'That did not work', 'That page does not exist.', '/explore');
    const timeline = await views.events({ user: name.data, before: query.data.before, limit: TIMELINE });
    show(res, 'explore', { heading: name.data, intro: null, podcasts: null, episodes: null, events: timeline.events, nextBefore: timeline.next_before });
  });
}
