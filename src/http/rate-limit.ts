/**
 * Rate limiting (SPEC 9: 429): a token bucket per API token, or per client address for
 * requests without one (registration, login, public views, gpodder's Basic auth), so password
 * guessing is slowed and one client cannot starve the others.
 *
 * Buckets live in this process's memory: with N workers a client can get up to N times the
 * limit. That is deliberate — no shared store is needed, the limit is a guard against abuse
 * rather than a quota, and nothing depends on it for correctness.
 */
import type { Request, RequestHandler } from 'express';
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
  return new HttpError(429, 'rate_limited', `Too many requests; retry in ${retryAfterSeconds} s`, { retry_after: retryAfterSeconds }, { 'Retry-After': String(retryAfterSeconds) });
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
 * default 600 per minute, an address gets 60 login or registration attempts a minute.
 */
export const PASSWORD_CHECK_COST = 10;
/** POSTs that check a password (scrypt): the API's logins and the Login Flow v2 grant page. */
const PASSWORD_CHECK = /^\/(v1\/auth\/(token|register)|api\/2\/auth\/[^/]+\/login\.json|index\.php\/login\/v2\/flow\/[^/]+)$/;

/**
 * Limits requests that carry no bearer token by client address. Requests with one are
 * limited per token once authenticated ({@link admit} in `requireUser`); a bearer token that
 * does not authenticate is charged to the address there too.
 */
export function limitByAddress(limiter: RateLimiter | undefined): RequestHandler {
  return (req, _res, next) => {
    if (!limiter || UNLIMITED_PATHS.has(req.path) || /^Bearer /i.test(req.get('authorization') ?? '')) return next();
    admit(limiter, addressKey(req), req.method === 'POST' && PASSWORD_CHECK.test(req.path) ? PASSWORD_CHECK_COST : 1);
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
