/**
 * Web sessions and CSRF protection (docs/design.md, "Web pages").
 *
 * A session is a bearer token of the account (kind `session`, labelled "Web session"), kept in
 * an HttpOnly, SameSite=Lax cookie, Secure when the request came over TLS (behind a proxy:
 * TRUST_PROXY). Signing out revokes it, so a copied cookie dies with it; a password change ends
 * it (but in the browser that made the change); it is listed and revocable with the user's other
 * tokens.
 *
 * Every form carries a CSRF token: an HMAC of the session's secret (signed in) or of a
 * random pre-session cookie (signed out). Another site cannot read either cookie, so it cannot
 * compute the token; no server-side state is needed, and any number of workers agree.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { AccountService, Principal } from '../services/accounts.js';
import type { Account } from '../stores/accounts.js';
import { cookiePath } from '../http/base-path.js';

export const SESSION_COOKIE = 'podsync_session';
export const PRE_SESSION_COOKIE = 'podsync_csrf';
export const CSRF_FIELD = '_csrf';
const SESSION_LABEL = 'Web session';
const SESSION_DAYS = 30;
const SECRET = /^[A-Za-z0-9_-]{20,200}$/;

/** What each page knows about its visitor (res.locals.web). */
export interface WebContext {
  readonly principal: Principal | undefined;
  /** The session's token id (to mark "this session" in the token list). */
  readonly sessionId: string | null;
  readonly csrf: string;
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const name = part.slice(0, at).trim();
    // The first of two same-named cookies wins, as browsers send the most specific first.
    if (name && !cookies.has(name)) cookies.set(name, part.slice(at + 1).trim());
  }
  return cookies;
}

function cookie(req: Request, name: string, value: string, maxAgeSeconds: number): string {
  const secure = req.secure ? '; Secure' : '';
  return `${name}=${value}; Path=${cookiePath(req)}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure}`;
}

const csrfOf = (secret: string) => createHmac('sha256', secret).update('podsync csrf v1').digest('base64url');

/** Reads the session and the CSRF secret of a page request into `res.locals.web`. */
export function webContext(accounts: AccountService): RequestHandler {
  return async (req, res, next) => {
    const cookies = parseCookies(req.get('cookie'));
    const secret = cookies.get(SESSION_COOKIE);
    const principal = secret && SECRET.test(secret) ? await accounts.authenticateToken(secret) : undefined;
    let csrfSecret = principal ? secret! : cookies.get(PRE_SESSION_COOKIE);
    if (!csrfSecret || !SECRET.test(csrfSecret)) {
      csrfSecret = randomBytes(24).toString('base64url');
      res.append('Set-Cookie', cookie(req, PRE_SESSION_COOKIE, csrfSecret, SESSION_DAYS * 86_400));
    }
    // A session cookie that no longer authenticates (revoked, account deleted) is dropped.
    if (secret && !principal) res.append('Set-Cookie', cookie(req, SESSION_COOKIE, '', 0));
    const context: WebContext = { principal, sessionId: principal?.tokenId ?? null, csrf: csrfOf(csrfSecret) };
    res.locals['web'] = context;
    next();
  };
}

export function contextOf(res: Response): WebContext {
  return res.locals['web'] as WebContext;
}

/** True if the form's CSRF field matches this visitor's token (constant time). */
export function csrfValid(res: Response, body: unknown): boolean {
  const sent = (body as Record<string, unknown> | undefined)?.[CSRF_FIELD];
  if (typeof sent !== 'string') return false;
  const expected = Buffer.from(contextOf(res).csrf);
  const given = Buffer.from(sent);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Opens a session for an account whose password was just checked. */
export async function startSession(accounts: AccountService, req: Request, res: Response, account: Account): Promise<void> {
  const { token } = await accounts.issueTokenFor(account, SESSION_LABEL, { kind: 'session' });
  res.append('Set-Cookie', cookie(req, SESSION_COOKIE, token, SESSION_DAYS * 86_400));
}

/** Revokes the session's token and clears its cookie. */
export async function endSession(accounts: AccountService, req: Request, res: Response): Promise<void> {
  const { principal } = contextOf(res);
  if (principal?.tokenId) await accounts.revokeToken(principal.userId, principal.tokenId);
  res.append('Set-Cookie', cookie(req, SESSION_COOKIE, '', 0));
  res.locals['web'] = { ...contextOf(res), principal: undefined, sessionId: null };
}
