/**
 * The user's own read models: `GET /v1/subscriptions`, `/v1/play-statuses?since=`,
 * `/v1/playlists`. Each waits (bounded) until the read model has the user's latest write.
 */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { ReadModelService } from '../services/read-models.js';
import { SUBSCRIPTIONS } from '../../projections/subscriptions.js';
import { PLAY_STATUSES } from '../../projections/play-statuses.js';
import { PLAYLISTS, presentPlaylist } from '../../projections/playlists.js';
import { recordOf } from '../../projections/user-records.js';
import { principalOf } from './auth.js';
import { parseInput } from './validate.js';

const sinceQuery = z.object({ since: z.string().regex(/^\d{1,16}$/, 'must be a token returned as `since` by an earlier call').optional() });
const playlistsQuery = z.object({ include_deleted: z.enum(['true', 'false', '1', '0']).optional() });

export function readModelsRouter(readModels: ReadModelService, authenticated: RequestHandler): Router {
  const router = Router();
  const store = readModels.readModel;

  router.get('/v1/subscriptions', authenticated, async (req, res) => {
    const { userId } = principalOf(req);
    await readModels.catchUpWithUser(userId, [SUBSCRIPTIONS]);
    const docs = await store.find(SUBSCRIPTIONS, { where: { user: userId }, orderBy: [{ field: 'created_at', direction: 'asc' }] });
    res.json({ subscriptions: docs.map(({ doc }) => recordOf(doc)) });
  });

  router.get('/v1/play-statuses', authenticated, async (req, res) => {
    const { since } = parseInput(sinceQuery, req.query, ['query']);
    const { userId } = principalOf(req);
    await readModels.catchUpWithUser(userId, [PLAY_STATUSES]);
    const checkpoint = await store.getCheckpoint(PLAY_STATUSES);
    const docs = await store.find(PLAY_STATUSES, {
      where: { user: userId },
      ...(since !== undefined ? { greaterThan: { field: 'seq', value: Number(since) } } : {}),
      orderBy: [{ field: 'seq', direction: 'asc' }],
    });
    res.json({ play_statuses: docs.map(({ doc }) => recordOf(doc)), since: String(checkpoint?.position.commit ?? 0n) });
  });

  router.get('/v1/playlists', authenticated, async (req, res) => {
    const { include_deleted } = parseInput(playlistsQuery, req.query, ['query']);
    const withDeleted = include_deleted === 'true' || include_deleted === '1';
    const { userId } = principalOf(req);
    await readModels.catchUpWithUser(userId, [PLAYLISTS]);
    const docs = await store.find(PLAYLISTS, { where: { user: userId }, orderBy: [{ field: 'created_at', direction: 'asc' }] });
    const playlists = docs.map(({ doc }) => presentPlaylist(doc, { includeDeleted: withDeleted })).filter((playlist) => playlist !== undefined);
    res.json({ playlists });
  });

  return router;
}
