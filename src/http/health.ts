import { Router } from 'express';
import { z } from 'zod';
import type { Readiness } from '../admin/status.js';
import { defineRoute, mount } from './routes.js';

/**
 * `/healthz`: the process answers (liveness). `/readyz`: the stores answer and the read
 * models are caught up within a bound (readiness); 503 with the reason otherwise, so a load
 * balancer stops sending traffic to a worker whose answers would be stale or failing.
 */
const readiness = z.object({
  status: z.enum(['ready', 'not_ready']),
  reason: z.string().optional(),
  projections: z.unknown().optional().meta({ description: "Each projection's position and lag" }),
});

export const healthRoutes = {
  live: defineRoute({
    method: 'get',
    path: '/healthz',
    tag: 'operations',
    summary: 'Liveness',
    auth: 'none',
    responses: { 200: { description: 'The process answers', schema: z.object({ status: z.literal('ok') }) } },
  }),
  ready: defineRoute({
    method: 'get',
    path: '/readyz',
    tag: 'operations',
    summary: 'Readiness',
    auth: 'none',
    responses: {
      200: { description: 'The stores answer and the read models are caught up', schema: readiness },
      503: { description: 'Not ready, with the reason', schema: readiness },
    },
  }),
};

export function healthRouter(ready: () => Promise<Readiness>): Router {
  const router = Router();
  mount(router, healthRoutes.live, (_req, res) => {
    res.json({ status: 'ok' });
  });
  mount(router, healthRoutes.ready, async (_req, res) => {
    const readiness = await ready().catch((): Readiness => ({ ready: false, reason: 'readiness check failed' }));
    res.status(readiness.ready ? 200 : 503).json({
      status: readiness.ready ? 'ready' : 'not_ready',
      ...(readiness.reason === undefined ? {} : { reason: readiness.reason }),
      ...(readiness.projections === undefined ? {} : { projections: readiness.projections }),
    });
  });
  return router;
}
