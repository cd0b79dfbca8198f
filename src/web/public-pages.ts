/**
 * Public pages: popularity, the public timeline, a public user's profile. They read only
 * {@link PublicViews}, whose documents carry a username for public users alone: an anonymous
 * or private user, or no user at all, has the same empty profile, so nothing leaks.
 */
import { z } from 'zod';
import type { PublicViews } from '../services/public-views.js';
import type { Site } from './site.js';
import { show, showMessage } from './site.js';
import { podcastPath } from './format.js';
import { activityFeedPath } from './activity-feed.js';

const page = z.object({ before: z.string().min(1).max(300).optional() });
const username = z.string().min(1).max(64);
const TIMELINE = 30;

/** A popular podcast or episode as its card shows it. */
export interface PopularCard {
  readonly title: string;
  /** The line under the title (the feed), if any. */
  readonly source: string | null;
  /** "3 plays · 1 like". */
  readonly counts: string;
  /** The public listeners who played it lately (the view keeps the most recent few), linked to their pages. */
  readonly people: readonly string[];
  /** The podcast's page (`/podcast?feed=`, after signing in), when the view names the feed. */
  readonly podcastPage: string | null;
}

/** `doc`: a popularity view's answer (`plays`, `likes`, `plays_people`: docs/api.md, `GET /v1/popular/podcasts`). */
export function popularCard(doc: Readonly<Record<string, unknown>>, title: unknown, source: unknown): PopularCard {
  const plays = typeof doc['plays'] === 'number' ? doc['plays'] : 0;
  const likes = typeof doc['likes'] === 'number' ? doc['likes'] : 0;
  const people = Array.isArray(doc['plays_people']) ? doc['plays_people'].filter((name): name is string => typeof name === 'string') : [];
  const feed = doc['rss_source_feed'];
  return {
    title: String(title),
    source: typeof source === 'string' ? source : null,
    counts: `${counted(plays, 'play')} · ${counted(likes, 'like')}`,
    people,
    podcastPage: typeof feed === 'string' ? podcastPath(feed) : null,
  };
}

const counted = (count: number, noun: string) => `${count.toLocaleString('en')} ${noun}${count === 1 ? '' : 's'}`;

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
      podcasts: podcasts.map((podcast) =>
        popularCard(podcast, podcast['title'] ?? podcast['feed_title'] ?? podcast['rss_source_feed'], podcast['title'] ? podcast['rss_source_feed'] : null),
      ),
      episodes: episodes.map((episode) =>
        popularCard(episode, episode['title'] ?? episode['rss_source_item'], episode['feed_title'] ?? episode['rss_source_feed']),
      ),
      events: timeline.events,
      nextBefore: timeline.next_before,
      feed: activityFeedPath(),
    });
  });

  site.page('/explore/users/:username', async (req, res) => {
    const name = username.safeParse(req.params['username']);
    const query = page.safeParse(req.query);
    if (!name.success || !query.success) return showMessage(res, 400, 'That did not work', 'That page does not exist.', '/explore');
    const timeline = await views.events({ user: name.data, before: query.data.before, limit: TIMELINE });
    show(res, 'explore', {
      heading: name.data,
      intro: null,
      podcasts: null,
      episodes: null,
      events: timeline.events,
      nextBefore: timeline.next_before,
      feed: activityFeedPath(name.data),
    });
  });
}
