/**
 * Where and who, as a request came in: the address apps reach this server at, its scheme (behind
 * a proxy, `X-Forwarded-Proto` when `TRUST_PROXY` trusts it), `Host` and the path it is served
 * under (BASE_PATH) — what Login Flow v2 gives an app as its server, and what the Access page
 * tells a user to enter; and the app's name.
 */
import type { Request } from 'express';
import { basePathOf } from './base-path.js';

/** The app's name, its User-Agent as Nextcloud shows it: for the grant page, app passwords and sessions. */
export function clientName(req: Request): string {
  const agent = (req.get('user-agent') ?? '').replace(/[^\x20-\x7e]/g, '').trim();
  return agent.slice(0, 100) || 'an app';
}

/** This server's address as an app is told it, say `https://example.org/podsync`. */
export function serverUrlOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}${basePathOf(req)}`;
}
