/**
 * The user's own read models: `GET /v1/subscriptions`, `/v1/play-statuses?since=`,
 * `/v1/playlists`. Each answers with the user's latest writes, without waiting for the
 * projector where the user's stream can stand in for it (src/services/own-records.ts).
 */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { ReadModelService } from '../services/read-models.js';
import { ownRecords } from '../services/own-records.js';
import { subscriptionsProjection } from '../../projections/subscriptions.js';
import { playStatusesProjection } from '../../projections/play-statuses.js';
import { playlistsProjection, presentPlaylists } from '../../projections/playlists.js';
import { principalOf } from './auth.js';
import { parseInput } from './validate.js';
import { playlistRecord, playStatusRecord, subscriptionRecord } from './responses.js';
import { defineRoute, mount } from './routes.js';
import { mapPaced } from '../concurrency.js';

const sinceQuery = z.object({
  since: z
    .string()
    .regex(/^\d{1,16}$/, 'must be a token returned as `since` by an earlier call')
    .optional(),
});
const playlistsQuery = z.object({ include_deleted: z.enum(['true', 'false', '1', '0']).optional() });

export const readModelRoutes = {
  subscriptions: defineRoute({
    method: 'get',
    path: '/v1/subscriptions',
    tag: 'read models',
    summary: "The user's subscriptions",
    auth: 'bearer',
    responses: {
      200: { description: 'Every subscription record, unsubscribed ones included', schema: z.object({ subscriptions: z.array(subscriptionRecord) }) },
    },
  }),
  playStatuses: defineRoute({
    method: 'get',
    path: '/v1/play-statuses',
    tag: 'read models',
    summary: "The user's play statuses",
    auth: 'bearer',
    query: sinceQuery,
    responses: {
      200: {
        description: 'Play statuses changed after `since` (all without it) and a new cursor',
        schema: z.object({ play_statuses: z.array(playStatusRecord), since: z.string() }),
      },
    },
  }),
  playlists: defineRoute({
    method: 'get',
    path: '/v1/playlists',
    tag: 'read models',
    summary: "The user's playlists",
    auth: 'bearer',
    query: playlistsQuery,
    responses: {
      200: { description: 'Playlists and their items (tombstones with include_deleted)', schema: z.object({ playlists: z.array(playlistRecord) }) },
    },
  }),
};

export function readModelsRouter(readModels: ReadModelService, authenticated: RequestHandler, router: Router = Router()): Router {
  mount(router, readModelRoutes.subscriptions, authenticated, async (req, res) => {
    const { userId } = principalOf(req);
    const { docs } = await ownRecords(readModels, subscriptionsProjection, userId, {
      where: { user: userId },
      orderBy: [{ field: 'created_at', direction: 'asc' }],
    });
    res.json({ subscriptions: docs.map(({ id, doc }) => subscriptionsProjection.recordOfDoc(userId, id, doc)) });
  });

  mount(router, readModelRoutes.playStatuses, authenticated, async (req, res) => {
    const { since } = parseInput(readModelRoutes.playStatuses.query, req.query, ['query']);
    const { userId } = principalOf(req);
    const { docs, cursor } = await ownRecords(readModels, playStatusesProjection, userId, {
      where: { user: userId },
      ...(since !== undefined ? { greaterThan: { field: 'seq', value: Number(since) } } : {}),
      orderBy: [{ field: 'seq', direction: 'asc' }],
    });
    // A first read of a heavy user's 20,000 statuses: shaped a slice at a time.
    const records = await mapPaced(docs, ({ id, doc }) => playStatusesProjection.recordOfDoc(userId, id, doc));
    res.json({ play_statuses: records, since: String(cursor) });
  });

  mount(router, readModelRoutes.playlists, authenticated, async (req, res) => {
    const { include_deleted } = parseInput(readModelRoutes.playlists.query, req.query, ['query']);
    const withDeleted = include_deleted === 'true' || include_deleted === '1';
    const { userId } = principalOf(req);
    const { docs } = await ownRecords(readModels, playlistsProjection, userId, { where: { user: userId } });
    res.json({ playlists: presentPlaylists(userId, docs, { includeDeleted: withDeleted }) });
  });

  return router;
}
