/**
 * `GET /v1/podcasts?url=`: what a feed says about itself (docs/design.md, "Feeds"), from the
 * `podcasts` read model: the podcast's fields, when it was last fetched and whether the last
 * fetch failed, and its episodes, newest first. Signed-in users only, and without subscriber
 * counts or failure details (which could tell one user about another's subscriptions, or about
 * the server's network).
 */
import type { RequestHandler } from 'express';
import { Router } from 'express';
import { z } from 'zod';
import { httpUrl } from '../domain/events.js';
import { feedEpisode, feedKey } from '../domain/feeds.js';
import type { Doc, ReadModelStore } from '../stores/read-model.js';
import { PODCAST_EPISODES, PODCASTS } from '../../projections/podcasts.js';
import { notFound } from './errors.js';
import { defineRoute, mount } from './routes.js';
import { parseInput } from './validate.js';

const podcastQuery = z.object({
  url: httpUrl.meta({ description: 'The feed URL, as subscribed' }),
  episodes: z.coerce.number().int().min(0).max(1000).default(100).meta({ description: 'At most this many episodes, newest first (default 100)' }),
});

const cover = z.object({ src: z.string().optional(), srcset: z.string().optional() });
const timestamp = z.string().meta({ description: 'UTC ISO-8601 timestamp' });

export const podcastAnswer = z.object({
  podcast: z.object({
    url: z.string(),
    title: z.string().nullable(),
    author: z.string().nullable(),
    description: z.string().nullable(),
    link: z.string().nullable(),
    podcast_guid: z.string().nullable().meta({ description: 'Podcasting 2.0 `podcast:guid`' }),
    cover: cover.nullable(),
    fetched_at: timestamp.nullable().meta({ description: 'Last fetch that got the feed (not a 304)' }),
    checked_at: timestamp.nullable().meta({ description: 'Last fetch that got an answer (200 or 304)' }),
    failing: z.boolean().meta({ description: 'Whether the last fetch failed (the facts are those of the last success)' }),
  }),
  episodes: z.array(feedEpisode.extend({ published: timestamp.nullable() })),
});

export const podcastsRoutes = {
  get: defineRoute({
    method: 'get',
    path: '/v1/podcasts',
    tag: 'podcasts',
    summary: "A feed's metadata and episodes, as the feed says them",
    description: 'From the last fetch of the feed by the `feeds` job. 404 until the feed has been fetched successfully once.',
    auth: 'bearer',
    query: podcastQuery,
    responses: {
      200: { description: 'The podcast and its episodes', schema: podcastAnswer },
      404: { description: 'The feed is not known, or not fetched yet' },
    },
  }),
};

const EPISODE_FIELDS = ['guid', 'title', 'url', 'type', 'size', 'duration', 'published'] as const;

export function podcastsRouter(store: ReadModelStore, authenticated: RequestHandler, router: Router = Router()): Router {
  mount(router, podcastsRoutes.get, authenticated, async (req, res) => {
    const query = parseInput(podcastsRoutes.get.query, req.query, ['query']);
    const doc = await store.get(PODCASTS, feedKey(query.url));
    if (!doc || doc['fetched_at'] === null || doc['fetched_at'] === undefined) throw notFound('This feed has not been fetched (yet)');
    const episodes = await store.find(PODCAST_EPISODES, {
      where: { feed_key: feedKey(query.url) },
      orderBy: [{ field: 'published', direction: 'desc' }],
      limit: query.episodes,
    });
    res.json({
      podcast: {
        url: doc['url'],
        title: doc['title'] ?? null,
        author: doc['author'] ?? null,
        description: doc['description'] ?? null,
        link: doc['link'] ?? null,
        podcast_guid: doc['podcast_guid'] ?? null,
        cover: doc['cover'] ?? null,
        fetched_at: doc['fetched_at'] ?? null,
        checked_at: doc['checked_at'] ?? null,
        failing: Number(doc['failures'] ?? 0) > 0,
      },
      episodes: episodes.map(({ doc: episode }) => Object.fromEntries(EPISODE_FIELDS.map((field) => [field, (episode as Doc)[field] ?? null]))),
    });
  });
  return router;
}
