/** `POST /v1/sync` (SPEC 5). Its body may be large (a full first sync), so it has its own limit. */
import express, { Router } from 'express';
import type { RequestHandler } from 'express';
import { syncRequest } from '../domain/sync.js';
import type { SyncService } from '../services/sync.js';
import { principalOf } from './auth.js';
import { parseInput } from './validate.js';

/** A first sync of 50,000 play statuses is about 15 MB of JSON. */
export const SYNC_BODY_LIMIT = '32mb';

export function syncRouter(sync: SyncService, authenticated: RequestHandler): Router {
  const router = Router();
  // Authenticate before reading a large body, so an anonymous caller cannot make us parse 32 MB.
  router.post('/v1/sync', authenticated, express.json({ limit: SYNC_BODY_LIMIT, type: () => true }), async (req, res) => {
    const request = parseInput(syncRequest, req.body);
    const answer = await sync.sync(principalOf(req), request);
    res.status(200).json(answer);
  });
  return router;
}
