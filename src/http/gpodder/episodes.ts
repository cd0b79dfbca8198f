/**
 * Episode actions: `POST /api/2/episodes/{u}.json` (a list of actions → `{timestamp,
 * update_urls}`) and `GET /api/2/episodes/{u}.json?since=&podcast=&aggregated=` →
 * `{actions, timestamp}`. Uploads may be large (10,000 actions is about 2.5 MB), so the route
 * authenticates before parsing a body of up to {@link EPISODES_BODY_LIMIT}.
 */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { pacedGpodderUpload, sanitizeUrl, sinceParam } from '../../domain/gpodder.js';
import type { GpodderEpisodeService } from '../../services/gpodder-episodes.js';
import { parseInput, parseInputPaced } from '../validate.js';
import { ownerOf } from './auth.js';
import { jsonBody, splitFile } from './common.js';

export const EPISODES_BODY_LIMIT = '16mb';

const downloadQuery = z.object({
  since: sinceParam,
  // Matched as stored: trimmed like uploaded URLs; a URL the server would never store matches nothing.
  podcast: z
    .string()
    .max(4096)
    .transform((value) => sanitizeUrl(value) ?? value.trim())
    .optional(),
  // Accepted and ignored (docs/api.md, "gpodder.net API v2"): the one app known to send it,
  // Music Assistant, names its own device and expects every device's actions, as oPodSync and
  // Nextcloud answer; gpodder.net's filter would leave it none (its uploads name no device).
  device: z.string().max(4096).optional(),
  aggregated: z
    .enum(['true', 'false', '1', '0'])
    .transform((value) => value === 'true' || value === '1')
    .optional(),
});

export function episodesRouter(episodes: GpodderEpisodeService, authenticated: RequestHandler): Router {
  const router = Router();

  router.post('/api/2/episodes/:file', authenticated, jsonBody(EPISODES_BODY_LIMIT), async (req, res) => {
    const principal = ownerOf(req, splitFile(req.params['file'], ['json']).name);
    const actions = await parseInputPaced(pacedGpodderUpload, req.body ?? []);
    res.json(await episodes.upload(principal, actions));
  });

  router.get('/api/2/episodes/:file', authenticated, async (req, res) => {
    const principal = ownerOf(req, splitFile(req.params['file'], ['json']).name);
    const { device: _ignored, ...query } = parseInput(downloadQuery, req.query, ['query']);
    const body = await episodes.downloadJson(principal, query);
    // Written as is: no ETag (a hash of the whole answer, megabytes for a first sync, which no
    // client sends back: each asks with its own `since`).
    res.status(200).set('Content-Type', 'application/json; charset=utf-8').set('Content-Length', String(body.length)).end(body);
  });

  return router;
}
