/**
 * Request context and metrics: every request gets an id (echoed as `X-Request-Id`), runs
 * inside the logging context (so every line logged while handling it carries the id), is
 * logged once when it finishes and timed into the latency histogram.
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { Request, RequestHandler } from 'express';
import type { Logger } from '../logger.js';
import { logContext } from '../logger.js';
import { httpRequestDuration, METRICS_CONTENT_TYPE } from '../metrics.js';

const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    req.id = given && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      httpRequestDuration.observe({ method: req.method, route: routeOf(req), status: String(res.statusCode) }, seconds);
      // winston formats (JSON.stringify) a line before its transport drops it by level: check first.
      if (!logger.isLevelEnabled('http')) return;
      // originalUrl: by now a mounted router (/admin) has left req.path relative to its mount.
      logger.http('request', {
        requestId: req.id,
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        ms: Math.round(seconds * 1e4) / 10,
      });
    });
    logContext.run({ requestId: req.id }, next);
  };
}

/**
 * The matched route's pattern (`/admin/users/:username/stream`), never the raw path: raw
 * paths hold usernames and would make one time series per URL. Unmatched requests (404s,
 * scanners) share one label.
 */
function routeOf(req: Request): string {
  const path: unknown = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path === 'string') return `${req.baseUrl}${path}`;
  if (Array.isArray(path) || path instanceof RegExp) return `${req.baseUrl}${String(path)}`;
  return 'unmatched';
}

/** `GET /metrics`: Prometheus text. */
export function metricsRouter(render: () => Promise<string>): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const body = await render();
    res.setHeader('Content-Type', METRICS_CONTENT_TYPE);
    res.send(body);
  });
  return router;
}
