/**
 * Rate limiting (docs/design.md, "Clients and their APIs": 429): token buckets keyed by credential and by client address, so
 * password and token guessing is slowed and one client cannot starve the others.
 *
 * - A request without credentials is charged to its client address ({@link limitByAddress}).
 * - A request with credentials goes through {@link limitAuthentication}, the one limiter in
 *   front of every authenticated surface: an authenticated request is charged to its
 *   credential (token, or user for a password); one that fails to authenticate is charged to
 *   its address — and a failed password to the username too, ten times a request, as the login
 *   endpoints charge, with no password check at all once either is out of tokens.
 * - A request with credentials to a route that does not authenticate (public views) is charged
 *   to its address there (see `mount` in routes.ts).
 *
 * Buckets live in this process's memory: with N workers a client can get up to N times the
 * limit. That is deliberate — no shared store is needed, the limit is a guard against abuse
 * rather than a quota, and nothing depends on it for correctness.
 */
import type { Request, RequestHandler } from 'express';
import { parseBasic } from './basic.js';
import { HttpError } from './errors.js';

export interface RateLimitOptions {
  /** Requests per minute per key, sustained; a full minute's worth may come in a burst. */
  readonly perMinute: number;
  /** Most keys tracked at once; the least recently used beyond it are forgotten. */
  readonly maxKeys?: number;
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export type Admission = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  private readonly perMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: RateLimitOptions) {
    this.capacity = options.perMinute;
    this.perMs = options.perMinute / 60_000;
    this.maxKeys = options.maxKeys ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /** Whether `key` has `cost` tokens now, taking none. */
  peek(key: string, cost = 1): Admission {
    const bucket = this.buckets.get(key);
    if (!bucket) return { allowed: true };
    const tokens = Math.min(this.capacity, bucket.tokens + (this.now() - bucket.updatedMs) * this.perMs);
    return tokens >= cost ? { allowed: true } : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((cost - tokens) / this.perMs / 1000)) };
  }

  /** Takes `cost` tokens from `key`'s bucket, or says how long until they are there. */
  take(key: string, cost = 1): Admission {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.capacity, updatedMs: now };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.updatedMs) * this.perMs);
    bucket.updatedMs = now;
    // Re-inserted so that the map's order is least recently used first.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.forgetOldest();
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((cost - bucket.tokens) / this.perMs / 1000)) };
  }

  private forgetOldest(): void {
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= this.maxKeys) return;
      this.buckets.delete(key);
    }
  }
}

/** The 429 answer, in the standard error shape, with `Retry-After`. */
export function tooManyRequests(retryAfterSeconds: number): HttpError {
  return new HttpError(
    429,
    'rate_limited',
    `Too many requests; retry in ${retryAfterSeconds} s`,
    { retry_after: retryAfterSeconds },
    { 'Retry-After': String(retryAfterSeconds) },
  );
}

/** Throws a 429 unless `key` may make a request costing `cost`. */
export function admit(limiter: RateLimiter | undefined, key: string, cost = 1): void {
  const admission = limiter?.take(key, cost);
  if (admission && !admission.allowed) throw tooManyRequests(admission.retryAfterSeconds);
}

/** Paths never limited: orchestrators probe them, and they do no work worth guarding. */
const UNLIMITED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Requests that check a password weigh more, so guessing is slower than browsing: at the
 * default 600 per minute, an address (or a username) gets 60 password checks a minute.
 */
export const PASSWORD_CHECK_COST = 10;
/**
 * Password checks in the body (login, registration, the Login Flow v2 grant page); a password
 * in a header is limitAuthentication's.
 */
const PASSWORD_CHECK = /^\/(v1\/auth\/(token|register)|index\.php\/login\/v2\/flow\/[^/]+)$/;

/** Set on `res.locals` for a request with credentials: charges its address unless it authenticates. */
export const UNCHARGED = 'rateLimitUncharged';

/** Whether the request presents credentials (a header or a cookie); which are valid is found later. */
function presentsCredentials(req: Request): boolean {
  return req.get('authorization') !== undefined || /(^|;)\s*sessionid=/.test(req.get('cookie') ?? '');
}

/**
 * Before any body is read: a request without credentials is charged to its address (a password
 * check, e.g. `POST /v1/auth/token`, weighs {@link PASSWORD_CHECK_COST}). A request with
 * credentials is left to {@link limitAuthentication} (or, on a route that authenticates nobody,
 * to `mount`), which knows whether they are valid.
 */
export function limitByAddress(limiter: RateLimiter | undefined): RequestHandler {
  return (req, res, next) => {
    if (!limiter || UNLIMITED_PATHS.has(req.path)) return next();
    if (req.method === 'POST' && PASSWORD_CHECK.test(req.path)) admit(limiter, addressKey(req), PASSWORD_CHECK_COST);
    else if (!presentsCredentials(req)) admit(limiter, addressKey(req));
    else res.locals[UNCHARGED] = () => admit(limiter, addressKey(req));
    next();
  };
}

/** The username a request's Basic credentials name, if any. */
function basicUsername(req: Request): string | undefined {
  return parseBasic(req.get('authorization') ?? '')?.username;
}

const usernameKey = (username: string) => `username:${username.toLowerCase()}`;

/** Before a password is checked: 429 if the address or the username has no password check left. */
export function admitPasswordCheck(limiter: RateLimiter | undefined, req: Request, username: string, options: { addressPaid?: boolean } = {}): void {
  if (!limiter) return;
  for (const key of options.addressPaid ? [usernameKey(username)] : [addressKey(req), usernameKey(username)]) {
    const admission = limiter.peek(key, PASSWORD_CHECK_COST);
    if (!admission.allowed) throw tooManyRequests(admission.retryAfterSeconds);
  }
}

/**
 * A wrong password: charged to the username, and to the address unless it paid for the check
 * already (the login endpoints, see limitByAddress).
 */
export function chargeFailedPassword(limiter: RateLimiter | undefined, req: Request, username: string, options: { addressPaid?: boolean } = {}): void {
  limiter?.take(usernameKey(username), PASSWORD_CHECK_COST);
  if (!options.addressPaid) limiter?.take(addressKey(req), PASSWORD_CHECK_COST);
}

/**
 * THE limiter of authenticated surfaces: wraps a surface's authentication middleware (one that
 * sets `req.principal` or fails with a 401), whatever the credential — bearer token, Basic
 * password, session cookie, app password. Native, gpodder and admin routes go through it; a
 * new surface (e.g. Nextcloud's) needs one call: `limitAuthentication(limiter, itsAuth)` in
 * place of `itsAuth`.
 *
 * - A password (Basic) is checked only while the address and the username have a password
 *   check left; a wrong one costs both {@link PASSWORD_CHECK_COST}, like a failed login.
 * - Any other credential that fails costs its address 1 (so guessing tokens is no way around
 *   the limit); a 429 rather than the 401 once the address is out.
 * - An authenticated request costs its credential 1: the token's bucket, or the user's for a
 *   password (clients behind one address do not share a budget).
 */
export function limitAuthentication(limiter: RateLimiter | undefined, authenticate: RequestHandler): RequestHandler {
  if (!limiter) return authenticate;
  return async (req, res, next) => {
    delete res.locals[UNCHARGED];
    const username = basicUsername(req);
    if (username !== undefined) admitPasswordCheck(limiter, req, username);
    let failure: unknown;
    let passed = false;
    try {
      await authenticate(req, res, (error?: unknown) => {
        if (error !== undefined && error !== null) failure = error;
        else passed = true;
      });
    } catch (error) {
      failure = error;
    }
    if (failure !== undefined || !passed) {
      if (failure instanceof HttpError && failure.status === 401) {
        if (username !== undefined) chargeFailedPassword(limiter, req, username);
        else admit(limiter, addressKey(req));
      }
      throw failure ?? new Error('authentication neither passed nor failed');
    }
    const principal = req.principal;
    if (principal) admit(limiter, principal.tokenId === null ? `user:${principal.userId}` : `token:${principal.tokenId}`);
    next();
  };
}

/**
 * The client address (behind a proxy, set Express's `trust proxy` so this is the client's,
 * not the proxy's).
 */
export function addressKey(req: Request): string {
  return `address:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`;
}
