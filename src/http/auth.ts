/** `POST /v1/auth/register`, `POST /v1/auth/token`, token listing/revocation, bearer auth. */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { AccountService } from '../services/accounts.js';
import { appPasswordName, credentialsSchema, InvalidCredentialsError, tokenRequestSchema } from '../services/accounts.js';
import { isBearerToken, UsernameTakenError } from '../stores/accounts.js';
import { conflict, forbidden, HttpError, notFound, unauthorized } from './errors.js';
import { parseInput } from './validate.js';
import type { RateLimiter } from './rate-limit.js';
import { admitPasswordCheck, chargeFailedPassword } from './rate-limit.js';
import { tokenRecord } from './responses.js';
import { defineRoute, mount } from './routes.js';

export interface AuthRouterOptions {
  accounts: AccountService;
  registration: 'open' | 'closed';
  /** Bearer authentication for the token routes (default: {@link requireUser} without limits). */
  authenticated?: RequestHandler;
  /** Failed logins are charged to their username (the address pays for every login). */
  limiter?: RateLimiter;
}

const BEARER = /^Bearer ([A-Za-z0-9_-]{20,200})$/;

/**
 * Authenticates `Authorization: Bearer <token>`; 401 otherwise. Limits are not its business:
 * wrap it in limitAuthentication (src/http/rate-limit.ts), as app.ts does.
 */
export function requireUser(accounts: AccountService): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization');
    const match = header ? BEARER.exec(header) : null;
    if (!match)
      throw unauthorized(header ? 'Malformed Authorization header: expected "Bearer <token>"' : 'Missing bearer token', { 'WWW-Authenticate': 'Bearer' });
    const principal = await accounts.authenticateToken(match[1]!);
    if (!principal) throw unauthorized('Invalid or revoked token', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    req.principal = principal;
    next();
  };
}

export function principalOf(req: Express.Request) {
  if (!req.principal) throw unauthorized();
  return req.principal;
}

const accountAnswer = z.object({ id: z.uuid(), username: z.string() });
const appPasswordRecord = z.object({ id: z.uuid(), name: z.string(), created_at: z.string(), last_used_at: z.string().nullable() });

export const authRoutes = {
  register: defineRoute({
    method: 'post',
    path: '/v1/auth/register',
    tag: 'accounts',
    summary: 'Create an account',
    description: 'Can be turned off (REGISTRATION=closed).',
    auth: 'none',
    body: credentialsSchema,
    responses: {
      201: { description: 'The account', schema: accountAnswer },
      403: { description: 'Registration is closed on this server' },
      409: { description: 'The username is taken (usernames are case-insensitive)' },
    },
  }),
  token: defineRoute({
    method: 'post',
    path: '/v1/auth/token',
    tag: 'accounts',
    summary: 'Log in: issue a bearer token',
    auth: 'none',
    body: tokenRequestSchema,
    responses: {
      200: {
        description: 'A new token (256 random bits; only its hash is stored)',
        schema: z.object({ token: z.string(), id: z.uuid(), user: accountAnswer }),
      },
      401: { description: 'Wrong username or password (the same answer for both)' },
    },
  }),
  listTokens: defineRoute({
    method: 'get',
    path: '/v1/auth/tokens',
    tag: 'accounts',
    summary: "The user's tokens",
    auth: 'bearer',
    responses: { 200: { description: 'Tokens, without their secrets', schema: z.object({ tokens: z.array(tokenRecord) }) } },
  }),
  createAppPassword: defineRoute({
    method: 'post',
    path: '/v1/auth/app-passwords',
    tag: 'accounts',
    summary: 'Create an app password (the Basic password for one app on the gpodder and Nextcloud APIs)',
    description: 'The password is in this answer only: it is stored hashed. Login Flow v2 creates one too.',
    auth: 'bearer',
    body: z.object({ name: appPasswordName }).strict(),
    responses: { 201: { description: 'The app password, shown once', schema: appPasswordRecord.extend({ password: z.string() }) } },
  }),
  listAppPasswords: defineRoute({
    method: 'get',
    path: '/v1/auth/app-passwords',
    tag: 'accounts',
    summary: "The user's app passwords, with their last use",
    auth: 'bearer',
    responses: { 200: { description: 'App passwords, without the passwords', schema: z.object({ app_passwords: z.array(appPasswordRecord) }) } },
  }),
  revokeAppPassword: defineRoute({
    method: 'delete',
    path: '/v1/auth/app-passwords/:id',
    tag: 'accounts',
    summary: 'Revoke an app password (it, and every session opened with it, stop working at once)',
    auth: 'bearer',
    params: z.object({ id: z.uuid('must be an app password id') }),
    responses: { 204: { description: 'Revoked' }, 404: { description: 'No such app password of this user' } },
  }),
  revokeToken: defineRoute({
    method: 'delete',
    path: '/v1/auth/tokens/:id',
    tag: 'accounts',
    summary: 'Revoke a token (it stops working at once)',
    auth: 'bearer',
    params: z.object({ id: z.uuid('must be a token id') }),
    responses: { 204: { description: 'Revoked' }, 404: { description: 'No such token of this user' } },
  }),
};

export function authRouter({ accounts, registration, authenticated = requireUser(accounts), limiter }: AuthRouterOptions, router: Router = Router()): Router {
  mount(router, authRoutes.register, async (req, res) => {
    if (registration === 'closed') throw forbidden('Registration is closed on this server');
    const { username, password } = parseInput(authRoutes.register.body, req.body);
    try {
      const account = await accounts.register(username, password);
      res.status(201).json({ id: account.id, username: account.username });
    } catch (error) {
      if (error instanceof UsernameTakenError) throw conflict(`Username ${username} is taken`);
      throw error;
    }
  });

  mount(router, authRoutes.token, async (req, res) => {
    const { username, password, label, expires_in_days: expiresInDays } = parseInput(authRoutes.token.body, req.body);
    admitPasswordCheck(limiter, req, username, { addressPaid: true });
    try {
      const issued = await accounts.issueToken(username, password, label, expiresInDays);
      res.status(200).json({ token: issued.token, id: issued.id, user: { id: issued.account.id, username: issued.account.username } });
    } catch (error) {
      if (error instanceof InvalidCredentialsError) {
        chargeFailedPassword(limiter, req, username, { addressPaid: true });
        throw new HttpError(401, 'invalid_credentials', error.message);
      }
      throw error;
    }
  });

  mount(router, authRoutes.createAppPassword, authenticated, async (req, res) => {
    const { name } = parseInput(authRoutes.createAppPassword.body, req.body);
    res.status(201).json(await accounts.createAppPassword(principalOf(req).userId, name));
  });
  mount(router, authRoutes.listAppPasswords, authenticated, async (req, res) => {
    res.json({ app_passwords: await accounts.listAppPasswords(principalOf(req).userId) });
  });
  mount(router, authRoutes.revokeAppPassword, authenticated, async (req, res) => {
    const { id } = parseInput(authRoutes.revokeAppPassword.params, req.params);
    if (!(await accounts.revokeAppPassword(principalOf(req).userId, id))) throw notFound('No such app password');
    res.status(204).end();
  });

  mount(router, authRoutes.listTokens, authenticated, async (req, res) => {
    const tokens = (await accounts.listTokens(principalOf(req).userId)).filter(isBearerToken);
    res.json({
      tokens: tokens.map(({ id, label, createdAt, lastUsedAt, expiresAt }) => ({
        id,
        label,
        created_at: createdAt,
        last_used_at: lastUsedAt,
        expires_at: expiresAt,
      })),
    });
  });
  mount(router, authRoutes.revokeToken, authenticated, async (req, res) => {
    const { id } = parseInput(authRoutes.revokeToken.params, req.params);
    if (!(await accounts.revokeToken(principalOf(req).userId, id))) throw notFound('No such token');
    res.status(204).end();
  });
  return router;
}
