/**
 * Sync groups: `GET /api/2/sync-devices/{u}.json` → `{synchronized, not-synchronized}`;
 * `POST` the same path with `{synchronize: [[a, b]], stop-synchronize: [c]}` answers the same.
 */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { gpodderDeviceId } from '../../domain/gpodder.js';
import type { GpodderService } from '../../services/gpodder.js';
import { parseInput } from '../validate.js';
import { ownerOf } from './auth.js';
import { jsonBody, splitFile } from './common.js';

const syncBody = z.object({
  synchronize: z.array(z.array(gpodderDeviceId).max(100)).max(100).default([]),
  'stop-synchronize': z.array(gpodderDeviceId).max(100).default([]),
});

export function syncDevicesRouter(gpodder: GpodderService, authenticated: RequestHandler, bodyLimit: string): Router {
  const router = Router();

  router.get('/api/2/sync-devices/:file', authenticated, async (req, res) => {
    const principal = ownerOf(req, splitFile(req.params['file'], ['json']).name);
    res.json(await gpodder.syncStatus(principal));
  });

  router.post('/api/2/sync-devices/:file', authenticated, jsonBody(bodyLimit), async (req, res) => {
    const principal = ownerOf(req, splitFile(req.params['file'], ['json']).name);
    const body = parseInput(syncBody, req.body ?? {});
    res.json(await gpodder.updateSyncGroups(principal, body.synchronize, body['stop-synchronize']));
  });

  return router;
}
