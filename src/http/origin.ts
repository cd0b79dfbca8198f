/**
 * The address apps reach this server at, as the request came in: its scheme (behind a proxy,
 * `X-Forwarded-Proto` when `TRUST_PROXY` trusts it) and `Host`. What Login Flow v2 gives an app
 * as its server, and what the Access page tells a user to enter.
 */
import type { Request } from 'express';

export function originOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}
