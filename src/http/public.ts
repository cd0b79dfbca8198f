/**
 * Public, unauthenticated views (SPEC 4, 9): `GET /v1/public/events`, `/v1/popular/podcasts`,
 * `/v1/popular/episodes`. They only ever read documents that the projections have already
 * filtered by each user's current privacy choice.
 */
import { Router } from 'express';
import { z } from 'zod';
import { httpUrl } from '../domain/events.js';
import type { Doc, Query, ReadModelStore } from '../stores/read-model.js';
import { PUBLIC_EVENTS } from '../../projections/public-events.js';
import { EPISODE_POPULARITY, PODCAST_POPULARITY } from '../../projections/popularity.js';
import { parseInput } from './validate.js';

const limit = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

const publicEventsQuery = z.object({
  feed: httpUrl.optional(),
  user: z.string().min(1).max(64).optional(),
  before: z.string().min(1).max(300).optional(),
  limit: limit(50, 200),
});
const popularPodcastsQuery = z.object({ limit: limit(20, 100) });
const popularEpisodesQuery = z.object({ feed: httpUrl.optional(), limit: limit(20, 100) });

function publicEvent(doc: Doc) {
  const { id, type, timestamp, object, data, user } = doc;
  return user === null || user === undefined ? { id, type, timestamp, object, data } : { id, type, timestamp, object, data, user };
}

function popularity(doc: Doc) {
  const { rss_source_feed, rss_source_item, title, feed_title, author, description, cover, plays, plays_people, likes, likes_people } = doc;
  return Object.fromEntries(
    Object.entries({ rss_source_feed, rss_source_item, title, feed_title, author, description, cover, plays, plays_people, likes, likes_people }).filter(([, value]) => value !== undefined),
  );
}

const byPopularity: Query['orderBy'] = [
  { field: 'plays', direction: 'desc' },
  { field: 'likes', direction: 'desc' },
];

export function publicRouter(store: ReadModelStore): Router {
  const router = Router();

  router.get('/v1/public/events', async (req, res) => {
    const query = parseInput(publicEventsQuery, req.query, ['query']);
    const where: Record<string, string> = {};
    if (query.feed !== undefined) where['feed'] = query.feed;
    if (query.user !== undefined) where['user'] = query.user;
    // `before` is the `next_before` of a previous page, or a plain timestamp.
    const before = query.before?.includes('|') ? query.before : query.before && `${query.before}|`;
    const docs = await store.find(PUBLIC_EVENTS, {
      where,
      ...(before ? { lessThan: { field: 'cursor', value: before } } : {}),
      orderBy: [{ field: 'cursor', direction: 'desc' }],
      limit: query.limit,
    });
    const last = docs.at(-1);
    res.json({ events: docs.map(({ doc }) => publicEvent(doc)), next_before: docs.length === query.limit && last ? last.doc['cursor'] : null });
  });

  router.get('/v1/popular/podcasts', async (req, res) => {
    const query = parseInput(popularPodcastsQuery, req.query, ['query']);
    const docs = await store.find(PODCAST_POPULARITY, { orderBy: byPopularity, limit: query.limit });
    res.json({ podcasts: docs.map(({ doc }) => popularity(doc)) });
  });

  router.get('/v1/popular/episodes', async (req, res) => {
    const query = parseInput(popularEpisodesQuery, req.query, ['query']);
    const docs = await store.find(EPISODE_POPULARITY, {
      ...(query.feed !== undefined ? { where: { rss_source_feed: query.feed } } : {}),
      orderBy: byPopularity,
      limit: query.limit,
    });
    res.json({ episodes: docs.map(({ doc }) => popularity(doc)) });
  });

  return router;
}
