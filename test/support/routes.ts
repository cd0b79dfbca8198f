/** The routes an Express app serves, read from its router stack (for coverage checks). */
import type { Express } from 'express';

export interface AppRoute {
  readonly method: string;
  /** Express syntax, e.g. `/v1/auth/tokens/:id`. */
  readonly path: string;
}

interface Layer {
  readonly rawPath?: unknown;
  readonly slash?: boolean;
  readonly route?: { readonly path: unknown; readonly methods: Record<string, boolean> };
  readonly handle?: { readonly stack?: readonly Layer[] };
}

/** Every (method, path) of `app`, nested routers included (string paths only). */
export function appRoutes(app: Express): AppRoute[] {
  const root = (app as unknown as { router: { stack: readonly Layer[] } }).router;
  const routes: AppRoute[] = [];
  const walk = (stack: readonly Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        if (typeof layer.route.path !== 'string') continue;
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') routes.push({ method, path: prefix + layer.route.path });
      } else if (layer.handle?.stack) {
        const mountedAt = typeof layer.rawPath === 'string' && !layer.slash ? layer.rawPath.replace(/\/$/, '') : '';
        walk(layer.handle.stack, prefix + mountedAt);
      }
    }
  };
  walk(root.stack, '');
  return routes;
}
