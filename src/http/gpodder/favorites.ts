/** `GET /api/2/favorites/{u}.json`: the episodes saved in the user's playlists (saves are likes). */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import type { GpodderService } from '../../services/gpodder.js';
import { ownerOf } from './auth.js';
import { splitFile } from './common.js';

export function favoritesRouter(gpodder: GpodderService, authenticated: RequestHandler): Router {
  const router = Router();
  router.get('/api/2/favorites/:file', authenticated, async (req, res) => {
    const principal = ownerOf(req, splitFile(req.params['file'], ['json']).name);
    res.json(await gpodder.favorites(principal));
  });
  return router;
}
