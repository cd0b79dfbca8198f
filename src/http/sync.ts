/** `POST /v1/sync` (docs/design.md, "Sync"). Its body may be large (a full first sync), so it has its own limit. */
import express, { Router } from 'express';
import type { RequestHandler } from 'express';
import { pacedSyncRequest, syncRequest } from '../domain/sync.js';
import type { SyncService } from '../services/sync.js';
import { principalOf } from './auth.js';
import { parseInputPaced } from './validate.js';
import { rejectInvalidUtf8 } from './errors.js';
import { syncAnswer } from './responses.js';
import { defineRoute, mount } from './routes.js';

/** A first sync of 50,000 play statuses is about 15 MB of JSON. */
export const SYNC_BODY_LIMIT = '32mb';

export const syncRoutes = {
  sync: defineRoute({
    method: 'post',
    path: '/v1/sync',
    tag: 'sync',
    summary: "Sync a device's state (the sync rules of docs/design.md)",
    description:
      'The server emits one event per difference and a closing `sync` event in one atomic append, then answers every record changed after `since` with a new cursor. The same `request_id` again adds nothing. Bodies up to 32 MB; the list limits are in the schema.',
    auth: 'bearer',
    body: syncRequest,
    responses: { 200: { description: 'The records changed after `since` (all of them without it) and the new cursor', schema: syncAnswer } },
  }),
};

export function syncRouter(sync: SyncService, authenticated: RequestHandler, router: Router = Router()): Router {
  // Authenticate before reading a large body, so an anonymous caller cannot make us parse 32 MB.
  mount(router, syncRoutes.sync, authenticated, express.json({ limit: SYNC_BODY_LIMIT, type: () => true, verify: rejectInvalidUtf8 }), async (req, res) => {
    const request = await parseInputPaced(pacedSyncRequest, req.body);
    const answer = await sync.sync(principalOf(req), request);
    res.status(200).json(answer);
  });
  return router;
}
