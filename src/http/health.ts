import { Router } from 'express';
import type { Readiness } from '../admin/status.js';

/**
 * `/healthz`: the process answers (liveness). `/readyz`: the stores answer and the read
 * models are caught up within a bound (readiness); 503 with the reason otherwise, so a load
 * balancer stops sending traffic to a worker whose answers would be stale or failing.
 */
export function healthRouter(ready: () => Promise<Readiness>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const readiness = await ready().catch((): Readiness => ({ ready: false, reason: 'readiness check failed' }));
    res.status(readiness.ready ? 200 : 503).json({
      status: readiness.ready ? 'ready' : 'not_ready',
      ...(readiness.reason === undefined ? {} : { reason: readiness.reason }),
      ...(readiness.projections === undefined ? {} : { projections: readiness.projections }),
    });
  });
  return router;
}
