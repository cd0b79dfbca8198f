/**
 * Subscriptions, advanced API: `GET /api/2/subscriptions/{u}/{device}.json?since=` →
 * `{add, remove, timestamp}`; `POST` the same path with `{add, remove}` →
 * `{timestamp, update_urls}` (400 if a URL is in both). And `GET /api/2/updates/{u}/{device}.json`.
 */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { sinceParam, subscriptionChangesBody } from '../../domain/gpodder.js';
import type { GpodderService } from '../../services/gpodder.js';
import { parseInput } from '../validate.js';
import { ownerOf } from './auth.js';
import { deviceIdOf, jsonBody, splitFile } from './common.js';

const sinceQuery = z.object({ since: sinceParam });
const updatesQuery = z.object({ since: sinceParam, include_actions: z.enum(['true', 'false', '1', '0']).optional() });

export function subscriptionsRouter(gpodder: GpodderService, authenticated: RequestHandler, bodyLimit: string): Router {
  const router = Router();

  router.get('/api/2/subscriptions/:username/:file', authenticated, async (req, res) => {
    const principal = ownerOf(req, String(req.params['username']));
    deviceIdOf(splitFile(req.params['file'], ['json']).name);
    const { since } = parseInput(sinceQuery, req.query, ['query']);
    res.json(await gpodder.subscriptionChanges(principal, since));
  });

  router.post('/api/2/subscriptions/:username/:file', authenticated, jsonBody(bodyLimit), async (req, res) => {
    const principal = ownerOf(req, String(req.params['username']));
    const device = deviceIdOf(splitFile(req.params['file'], ['json']).name);
    const { add, remove } = parseInput(subscriptionChangesBody, req.body ?? {});
    res.json(await gpodder.uploadSubscriptionChanges(principal, device, add, remove));
  });

  router.get('/api/2/updates/:username/:file', authenticated, async (req, res) => {
    const principal = ownerOf(req, String(req.params['username']));
    deviceIdOf(splitFile(req.params['file'], ['json']).name);
    const { since } = parseInput(updatesQuery, req.query, ['query']);
    res.json(await gpodder.updates(principal, since));
  });

  return router;
}
