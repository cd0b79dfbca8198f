/**
 * gpodder.net's podcast directory, at its own paths and without authentication as there (docs/api.md,
 * "Podcast directory"): `GET /toplist/{count}.{json|opml|txt}`, `GET /search.{json|opml|txt}?q=`
 * and `GET /api/2/data/podcast.json?url=`. What it lists is what the public views publish
 * (src/services/public-views.ts): podcasts public and anonymous listeners played, never a
 * private listener's. mygpoclient's public client reads these, and apps that search the sync
 * server they are set up with (Podcini and other AntennaPod forks, AntennaPod before 3.4).
 */
import { Router } from 'express';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { DirectoryPodcast } from '../../domain/directory.js';
import { MAX_QUERY } from '../../domain/directory.js';
import { httpUrl } from '../../domain/events.js';
import { CONTENT_TYPES, SIMPLE_FORMATS, formatList } from '../../domain/gpodder-formats.js';
import type { SimpleFormat } from '../../domain/gpodder-formats.js';
import type { PublicViews } from '../../services/public-views.js';
import { podcastPath } from '../../web/format.js';
import { notFound } from '../errors.js';
import { serverUrlOf } from '../origin.js';
import { parseInput } from '../validate.js';
import { splitFile } from './common.js';

/** gpodder.net's own bound on a toplist. */
const MAX_TOPLIST = 100;

const toplistCount = z.coerce.number().int('must be a whole number').min(1, 'at least 1').max(MAX_TOPLIST, `at most ${MAX_TOPLIST}`);
const searchQuery = z.object({ q: z.string().trim().min(1, 'must not be empty').max(MAX_QUERY, `at most ${MAX_QUERY} characters`) }).loose();
const podcastQuery = z.object({ url: httpUrl }).loose();

/**
 * A podcast as gpodder.net's directory answers it (the fields mygpoclient requires and AntennaPod's
 * parser reads). `subscribers` counts the listeners this server publishes (it ranks by plays,
 * not subscriptions, which it never publishes); `mygpo_link` is the podcast's page here.
 */
function gpodderPodcast(podcast: DirectoryPodcast, server: string) {
  return {
    url: podcast.url,
    title: podcast.title ?? podcast.url,
    author: podcast.author ?? '',
    description: podcast.description ?? '',
    subscribers: podcast.listeners,
    subscribers_last_week: podcast.listeners,
    logo_url: podcast.logo,
    scaled_logo_url: podcast.logo,
    website: podcast.website,
    mygpo_link: `${server}${podcastPath(podcast.url)}`,
  };
}

function sendList(req: Request, res: Response, format: SimpleFormat, podcasts: readonly DirectoryPodcast[]): void {
  res.type(CONTENT_TYPES[format]);
  if (format !== 'json') {
    res.send(formatList(format, podcasts));
    return;
  }
  const server = serverUrlOf(req);
  res.send(JSON.stringify(podcasts.map((podcast) => gpodderPodcast(podcast, server))));
}

export function directoryRouter(views: PublicViews): Router {
  const router = Router();

  router.get('/toplist/:file', async (req, res) => {
    const { name, ext } = splitFile(req.params['file'], SIMPLE_FORMATS);
    sendList(req, res, ext, await views.toplist(parseInput(toplistCount, name, ['count'])));
  });

  for (const format of SIMPLE_FORMATS)
    router.get(`/search.${format}`, async (req, res) => {
      const { q } = parseInput(searchQuery, req.query, ['query']);
      sendList(req, res, format, await views.search(q));
    });

  router.get('/api/2/data/podcast.json', async (req, res) => {
    const { url } = parseInput(podcastQuery, req.query, ['query']);
    const podcast = await views.directoryPodcast(url);
    if (podcast === undefined) throw notFound('No public listener of this server has played that podcast');
    res.json(gpodderPodcast(podcast, serverUrlOf(req)));
  });

  return router;
}
