/**
 * gpodder API authentication: HTTP Basic, the `sessionid` cookie, or a bearer token (a native
 * token, or an app password).
 *
 * Client quirks honoured here:
 * - every 401 carries `WWW-Authenticate: Basic realm="…"`: urllib-based clients (mygpoclient,
 *   so gPodder) only send credentials after such a challenge;
 * - any successful Basic authentication sets `sessionid`, which then authenticates alone:
 *   mygpoclient answers at most three challenges per client object, so a long session must
 *   run on the cookie;
 * - the `{u}` of the path must be the authenticated user (else 401).
 */
import { Router } from 'express';
import type { Request, RequestHandler, Response } from 'express';
import type { AccountService, Principal } from '../../services/accounts.js';
import { InvalidCredentialsError } from '../../services/accounts.js';
import type { BasicLogin, GpodderAuth } from '../../services/gpodder-auth.js';
import { SESSION_COOKIE } from '../../services/gpodder-auth.js';
import { principalOf } from '../auth.js';
import { parseBasic } from '../basic.js';
import { clientName } from '../origin.js';
import { cookiePath } from '../base-path.js';
import { unauthorized } from '../errors.js';
import { isStorageFull } from '../../stores/store-errors.js';

export const REALM = 'podsync';
export const CHALLENGE = { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"` };
const BEARER = /^Bearer ([A-Za-z0-9_-]{20,200})$/;
const SESSION_VALUE = /^[A-Za-z0-9_-]{20,200}$/;

/** The session this request runs on, for logout: the cookie's, or one opened by this request. */
interface SessionRef {
  readonly userId: string;
  readonly tokenId: string;
}

const challenge = (message: string) => unauthorized(message, CHALLENGE);

export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function setSessionCookie(req: Request, res: Response, value: string, maxAge?: number): void {
  const attributes = [
    `${SESSION_COOKIE}=${value}`,
    `Path=${cookiePath(req)}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(req.secure ? ['Secure'] : []),
    ...(maxAge !== undefined ? [`Max-Age=${maxAge}`] : []),
  ];
  res.append('Set-Cookie', attributes.join('; '));
}

export function sessionOf(res: Response): SessionRef | undefined {
  return res.locals['gpodderSession'] as SessionRef | undefined;
}

async function fromCookie(auth: GpodderAuth, req: Request): Promise<Principal | undefined> {
  const value = readCookie(req, SESSION_COOKIE);
  return value !== undefined && SESSION_VALUE.test(value) ? auth.fromSession(value) : undefined;
}

/** Who a `Basic` Authorization header names, its password checked; else a 401 with the challenge. */
export async function basicLogin(auth: GpodderAuth, header: string): Promise<BasicLogin> {
  const credentials = parseBasic(header);
  if (!credentials) throw challenge('Malformed Basic credentials');
  try {
    return await auth.verifyBasic(credentials.username, credentials.password);
  } catch (error) {
    if (error instanceof InvalidCredentialsError) throw challenge(error.message);
    throw error;
  }
}

/**
 * Authenticates a gpodder (or Nextcloud) request, or answers 401 with a Basic challenge.
 * `sessions`: whether a Basic login opens a session cookie (gpodder clients need one).
 */
export function gpodderUser(auth: GpodderAuth, accounts: AccountService, options: { sessions: boolean } = { sessions: true }): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (header !== undefined && /^Basic\s/i.test(header)) {
      const login = await basicLogin(auth, header);
      const { account } = login;
      req.principal = { userId: account.id, username: account.username, tokenId: null };
      // Clients of the Nextcloud API send Basic with every request and need no session.
      if (!options.sessions) return next();
      const session = await fromCookie(auth, req);
      if (session?.userId === account.id && session.tokenId !== null) {
        res.locals['gpodderSession'] = { userId: account.id, tokenId: session.tokenId } satisfies SessionRef;
      } else {
        // On a full disk no session can be stored: this request goes on with its Basic
        // credentials, and the client sends them again (docs/operations.md, "A full disk").
        const opened = await auth.openSession(login, clientName(req)).catch((error: unknown) => {
          if (isStorageFull(error)) return undefined;
          throw error;
        });
        if (opened) {
          setSessionCookie(req, res, opened.secret);
          res.locals['gpodderSession'] = { userId: account.id, tokenId: opened.tokenId } satisfies SessionRef;
        }
      }
      return next();
    }
    const bearer = header !== undefined ? BEARER.exec(header) : null;
    if (bearer) {
      // A native token, or an app password sent as Nextcloud takes one (Music Assistant does).
      const principal = await accounts.authenticateToken(bearer[1]!, { appPasswords: true });
      if (!principal) throw challenge('Invalid or revoked token');
      req.principal = principal;
      return next();
    }
    const session = await fromCookie(auth, req);
    if (session) {
      req.principal = session;
      if (session.tokenId !== null) res.locals['gpodderSession'] = { userId: session.userId, tokenId: session.tokenId } satisfies SessionRef;
      return next();
    }
    if (readCookie(req, SESSION_COOKIE) !== undefined) setSessionCookie(req, res, '', 0);
    throw challenge(header === undefined ? 'Authentication required' : 'Unsupported Authorization scheme: use Basic');
  };
}

/**
 * The principal, checked against the `{u}` of the path. Usernames are unique regardless of
 * letter case (the accounts store finds `Carol` for `carol`), so they compare that way here.
 */
export function ownerOf(req: Request, username: string): Principal {
  const principal = principalOf(req);
  if (principal.username.toLowerCase() !== username.toLowerCase()) throw challenge(`Authenticated as ${principal.username}, not as ${username}`);
  return principal;
}

/** `POST /api/2/auth/{u}/login.json`, `POST /api/2/auth/{u}/logout.json`: empty 200s, as gpodder.net. */
export function gpodderAuthRouter(auth: GpodderAuth, authenticated: RequestHandler): Router {
  const router = Router();
  router.post('/api/2/auth/:username/login.json', authenticated, (req, res) => {
    ownerOf(req, String(req.params['username']));
    res.status(200).end();
  });
  router.post('/api/2/auth/:username/logout.json', authenticated, async (req, res) => {
    ownerOf(req, String(req.params['username']));
    const session = sessionOf(res);
    if (session) await auth.closeSession(session.userId, session.tokenId);
    setSessionCookie(req, res, '', 0);
    res.status(200).end();
  });
  return router;
}
