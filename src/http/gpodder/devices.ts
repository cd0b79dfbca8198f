/** `GET /api/2/devices/{u}.json`, `POST /api/2/devices/{u}/{device}.json` (creates or updates; empty 200). */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { DEVICE_TYPES, LIMITS, boundedString } from '../../domain/events.js';
import type { GpodderService } from '../../services/gpodder.js';
import { parseInput } from '../validate.js';
import { ownerOf } from './auth.js';
import { deviceIdOf, jsonBody, splitFile } from './common.js';

const deviceBody = z
  .object({
    caption: boundedString(LIMITS.title)
      .nullish()
      .transform((value) => value ?? undefined),
    // gpodder.net's types, in any letter case.
    type: z
      .string()
      .max(32)
      .transform((value) => value.toLowerCase())
      .pipe(z.enum(DEVICE_TYPES))
      .nullish()
      .transform((value) => value ?? undefined),
  })
  .passthrough();

export function devicesRouter(gpodder: GpodderService, authenticated: RequestHandler, bodyLimit: string): Router {
  const router = Router();

  router.get('/api/2/devices/:file', authenticated, async (req, res) => {
    const principal = ownerOf(req, splitFile(req.params['file'], ['json']).name);
    res.json(await gpodder.listDevices(principal));
  });

  router.post('/api/2/devices/:username/:file', authenticated, jsonBody(bodyLimit), async (req, res) => {
    const principal = ownerOf(req, String(req.params['username']));
    const device = deviceIdOf(splitFile(req.params['file'], ['json']).name);
    const { caption, type } = parseInput(deviceBody, req.body ?? {});
    await gpodder.updateDevice(principal, device, { caption, type });
    res.status(200).end();
  });

  return router;
}
