/**
 * The Nextcloud gPodder Sync API (`/index.php/apps/gpoddersync/...`), the second sync provider
 * of AntennaPod and Kasts, at the Nextcloud app's paths and in its shapes (docs/design.md, "Nextcloud cursor"). Basic
 * authentication with an app password or the account password, on every request: these
 * clients need no session. Bodies parse as JSON whatever their Content-Type.
 */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { pacedGpodderUpload, subscriptionChangesBody } from '../../domain/gpodder.js';
import type { NextcloudService } from '../../services/nextcloud.js';
import { principalOf } from '../auth.js';
import { parseInput, parseInputPaced } from '../validate.js';
import { drainUnusedBody } from '../drain.js';
import { gpodderErrors, jsonBody } from '../gpodder/common.js';
import { EPISODES_BODY_LIMIT } from '../gpodder/episodes.js';

const BASE = '/index.php/apps/gpoddersync';

/** Unix seconds, as the Nextcloud app takes them; absent or 0: from the start. */
const sinceQuery = z.object({
  since: z
    .string()
    .regex(/^\d{1,12}$/, 'must be unix seconds')
    .transform(Number)
    .optional(),
});

export function nextcloudRouter(service: NextcloudService, authenticated: RequestHandler, bodyLimit: string): Router {
  const router = Router();

  router.get(`${BASE}/subscriptions`, authenticated, drainUnusedBody, async (req, res) => {
    const { since } = parseInput(sinceQuery, req.query, ['query']);
    res.json(await service.subscriptions(principalOf(req), since));
  });

  router.post(`${BASE}/subscription_change/create`, authenticated, jsonBody(bodyLimit), async (req, res) => {
    const { add, remove } = parseInput(subscriptionChangesBody, req.body ?? {});
    res.json(await service.changeSubscriptions(principalOf(req), add, remove));
  });

  router.get(`${BASE}/episode_action`, authenticated, drainUnusedBody, async (req, res) => {
    const { since } = parseInput(sinceQuery, req.query, ['query']);
    res.json(await service.episodeActions(principalOf(req), since));
  });

  router.post(`${BASE}/episode_action/create`, authenticated, jsonBody(EPISODES_BODY_LIMIT), async (req, res) => {
    const actions = await parseInputPaced(pacedGpodderUpload, req.body ?? []);
    res.json(await service.uploadEpisodeActions(principalOf(req), actions));
  });

  router.use(gpodderErrors);
  return router;
}
