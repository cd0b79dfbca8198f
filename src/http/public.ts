/**
 * Public, unauthenticated views (docs/design.md, "Privacy", 9): `GET /v1/public/events`, `/v1/popular/podcasts`,
 * `/v1/popular/episodes`. They only ever read documents that the projections have already
 * filtered by each user's current privacy choice.
 */
import { Router, type Response } from 'express';
import { weakEtag } from './etag.js';
import { z } from 'zod';
import { httpUrl, isoTimestamp, uuid } from '../domain/events.js';
import { PublicViews } from '../services/public-views.js';
import { parseInput } from './validate.js';
import { popularityRecord, publicEventRecord } from './responses.js';
import { defineRoute, mount } from './routes.js';

const limit = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

const publicEventsQuery = z.object({
  feed: httpUrl.optional(),
  user: z.string().min(1).max(64).optional(),
  before: z
    .string()
    .max(300)
    .transform((value, ctx) => {
      // A previous page's `next_before` (`<timestamp>|<event id>`), or a plain timestamp: as a
      // place in the timeline (src/services/public-views.ts). Anything else is refused, not read as "everything".
      const [time = '', id, ...rest] = value.split('|');
      const timestamp = isoTimestamp.safeParse(time);
      if (timestamp.success && rest.length === 0 && (id === undefined || uuid.safeParse(id).success)) return `${timestamp.data}|${id ?? ''}`;
      ctx.addIssue({ code: 'custom', message: 'must be a next_before cursor or an ISO-8601 timestamp', input: value });
      return z.NEVER;
    })
    .optional(),
  limit: limit(50, 200),
});
const popularPodcastsQuery = z.object({ limit: limit(20, 100) });
const popularEpisodesQuery = z.object({ feed: httpUrl.optional(), limit: limit(20, 100) });

export const publicRoutes = {
  events: defineRoute({
    method: 'get',
    path: '/v1/public/events',
    tag: 'public',
    summary: 'Public activity',
    description:
      'Events of public users (with the username) and anonymous users (without), newest first; private events never appear. Page with `before` = the previous `next_before`.',
    auth: 'none',
    query: publicEventsQuery,
    responses: { 200: { description: 'A page of events', schema: z.object({ events: z.array(publicEventRecord), next_before: z.string().nullable() }) } },
  }),
  popularPodcasts: defineRoute({
    method: 'get',
    path: '/v1/popular/podcasts',
    tag: 'public',
    summary: 'Most played podcasts',
    auth: 'none',
    query: popularPodcastsQuery,
    responses: { 200: { description: 'Podcasts by plays, then likes', schema: z.object({ podcasts: z.array(popularityRecord) }) } },
  }),
  popularEpisodes: defineRoute({
    method: 'get',
    path: '/v1/popular/episodes',
    tag: 'public',
    summary: 'Most played episodes',
    auth: 'none',
    query: popularEpisodesQuery,
    responses: { 200: { description: 'Episodes by plays, then likes', schema: z.object({ episodes: z.array(popularityRecord) }) } },
  }),
};

/**
 * The JSON text and ETag of each answer PublicViews keeps (one object, shared by every caller
 * until it is made anew), made once: a read that finds its answer kept is neither serialized nor
 * hashed again (bench/RESULTS.md, "Public answers kept for a second").
 */
const bodies = new WeakMap<object, { readonly body: Buffer; readonly etag: string }>();

function sendKept<T extends object>(res: Response, answer: T, wrap: (answer: T) => unknown): void {
  let kept = bodies.get(answer);
  if (kept === undefined) {
    const body = Buffer.from(JSON.stringify(wrap(answer)));
    kept = { body, etag: weakEtag(body) };
    bodies.set(answer, kept);
  }
  // Express computes no ETag where one is set, and answers a matching If-None-Match with 304.
  res.set('ETag', kept.etag).set('Content-Type', 'application/json; charset=utf-8').send(kept.body);
}

export function publicRouter(views: PublicViews, router: Router = Router()): Router {
  mount(router, publicRoutes.events, async (req, res) => {
    const query = parseInput(publicRoutes.events.query, req.query, ['query']);
    sendKept(res, await views.events(query), (answer) => answer);
  });

  mount(router, publicRoutes.popularPodcasts, async (req, res) => {
    const query = parseInput(publicRoutes.popularPodcasts.query, req.query, ['query']);
    sendKept(res, await views.popularPodcasts(query.limit), (podcasts) => ({ podcasts }));
  });

  mount(router, publicRoutes.popularEpisodes, async (req, res) => {
    const query = parseInput(publicRoutes.popularEpisodes.query, req.query, ['query']);
    sendKept(res, await views.popularEpisodes(query.limit, query.feed), (episodes) => ({ episodes }));
  });

  return router;
}
