/** `GET /v1/me/export`, `DELETE /v1/me`. */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import type { MeService } from '../services/me.js';
import { principalOf } from './auth.js';
import { exportAnswer } from './responses.js';
import { defineRoute, mount } from './routes.js';
import { sendJsonPieces } from './json-pieces.js';

export const meRoutes = {
  export: defineRoute({
    method: 'get',
    path: '/v1/me/export',
    tag: 'account data',
    summary: "Export the user's data",
    auth: 'bearer',
    responses: { 200: { description: 'Every retained event of the user and their folded state (a JSON attachment)', schema: exportAnswer } },
  }),
  delete: defineRoute({
    method: 'delete',
    path: '/v1/me',
    tag: 'account data',
    summary: 'Delete the account',
    description: 'Removes the streams, the read-model documents and the credentials.',
    auth: 'bearer',
    responses: {
      204: { description: 'Deleted' },
      202: { description: 'Deletion started: the credentials no longer work, and the rest completes in the background (the read models were catching up)' },
    },
  }),
};

export function meRouter(me: MeService, authenticated: RequestHandler, router: Router = Router()): Router {
  mount(router, meRoutes.export, authenticated, async (req, res) => {
    const principal = principalOf(req);
    res.setHeader('Content-Disposition', `attachment; filename="${principal.username}-export.json"`);
    await sendJsonPieces(res, me.exportJson(principal));
  });
  mount(router, meRoutes.delete, authenticated, async (req, res) => {
    const outcome = await me.deleteAccount(principalOf(req));
    res.status(outcome === 'deleted' ? 204 : 202).end();
  });
  return router;
}
