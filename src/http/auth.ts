/** `POST /v1/auth/register`, `POST /v1/auth/token`, token listing/revocation, bearer auth. */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { AccountService } from '../services/accounts.js';
import { credentialsSchema, InvalidCredentialsError, tokenRequestSchema } from '../services/accounts.js';
import { UsernameTakenError } from '../stores/accounts.js';
import { conflict, forbidden, HttpError, notFound, unauthorized } from './errors.js';
import { parseInput } from './validate.js';

export interface AuthRouterOptions {
  accounts: AccountService;
  registration: 'open' | 'closed';
}

const BEARER = /^Bearer ([A-Za-z0-9_-]{20,200})$/;

/** Authenticates `Authorization: Bearer <token>`; 401 otherwise. */
export function requireUser(accounts: AccountService): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization');
    const match = header ? BEARER.exec(header) : null;
    if (!match) throw unauthorized(header ? 'Malformed Authorization header: expected "Bearer <token>"' : 'Missing bearer token', { 'WWW-Authenticate': 'Bearer' });
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

export function authRouter({ accounts, registration }: AuthRouterOptions): Router {
  const router = Router();

  router.post('/v1/auth/register', async (req, res) => {
    if (registration === 'closed') throw forbidden('Registration is closed on this server');
    const { username, password } = parseInput(credentialsSchema, req.body);
    try {
      const account = await accounts.register(username, password);
      res.status(201).json({ id: account.id, username: account.username });
    } catch (error) {
      if (error instanceof UsernameTakenError) throw conflict(`Username ${username} is taken`);
      throw error;
    }
  });

  router.post('/v1/auth/token', async (req, res) => {
    const { username, password, label } = parseInput(tokenRequestSchema, req.body);
    try {
      const issued = await accounts.issueToken(username, password, label);
      res.status(200).json({ token: issued.token, id: issued.id, user: { id: issued.account.id, username: issued.account.username } });
    } catch (error) {
      if (error instanceof InvalidCredentialsError) throw new HttpError(401, 'invalid_credentials', error.message);
      throw error;
    }
  });

  const authenticated = requireUser(accounts);
  router.get('/v1/auth/tokens', authenticated, async (req, res) => {
    const tokens = await accounts.listTokens(principalOf(req).userId);
    res.json({ tokens: tokens.map(({ id, label, createdAt, lastUsedAt }) => ({ id, label, created_at: createdAt, last_used_at: lastUsedAt })) });
  });
  router.delete('/v1/auth/tokens/:id', authenticated, async (req, res) => {
    const id = parseInput(z.uuid('must be a token id'), req.params['id'], ['id']);
    if (!(await accounts.revokeToken(principalOf(req).userId, id))) throw notFound('No such token');
    res.status(204).end();
  });
  return router;
}
