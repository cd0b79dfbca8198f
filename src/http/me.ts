/** `GET /v1/me/export`, `DELETE /v1/me`. */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import type { MeService } from '../services/me.js';
import { AccountDeletionPendingError } from '../services/me.js';
import { principalOf } from './auth.js';
import { HttpError } from './errors.js';

export function meRouter(me: MeService, authenticated: RequestHandler): Router {
  const router = Router();
  router.get('/v1/me/export', authenticated, async (req, res) => {
    const principal = principalOf(req);
    res.setHeader('Content-Disposition', `attachment; filename="${principal.username}-export.json"`);
    res.json(await me.export(principal));
  });
  router.delete('/v1/me', authenticated, async (req, res) => {
    try {
      await me.deleteAccount(principalOf(req));
    } catch (error) {
      if (error instanceof AccountDeletionPendingError) throw new HttpError(503, 'try_again', error.message, null, { 'Retry-After': '5' });
      throw error;
    }
    res.status(204).end();
  });
  return router;
}
