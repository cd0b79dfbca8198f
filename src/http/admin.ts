/**
 * The admin API (`/admin`), guarded by `ADMIN_TOKEN` (`Authorization: Bearer <ADMIN_TOKEN>`).
 * Mounted only when the token is configured; otherwise `/admin` does not exist (404). The
 * same operations as the admin CLI, through the same modules (src/admin).
 */
import { hash, timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { StatsJson } from '../admin/status.js';
import { inspectStream } from '../admin/stream.js';
import { createUser, deleteUser, listUsers, requireAccount, setUserDisabled, setUserPassword, UnknownUserError, userSummary } from '../admin/users.js';
import { passwordSchema } from '../services/accounts.js';
import type { MeService } from '../services/me.js';
import type { AccountStore } from '../stores/accounts.js';
import { UsernameTakenError } from '../stores/accounts.js';
import type { EventStore } from '../stores/event-store.js';
import type { Logger } from '../logger.js';
import { conflict, notFound, unauthorized } from './errors.js';
import { limitAuthentication } from './rate-limit.js';
import { parseJsonBody } from './routes.js';
import type { RateLimiter } from './rate-limit.js';
import { parseInput } from './validate.js';
import { sendJsonPieces } from './json-pieces.js';

export interface AdminDependencies {
  readonly token: string;
  /** Every admin action that succeeds is logged (an audit trail, with the request id). */
  readonly logger: Logger;
  readonly accounts: AccountStore;
  readonly eventStore: EventStore;
  readonly me: MeService;
  readonly stats: () => Promise<StatsJson>;
}

const digest = (text: string) => hash('sha256', text, 'buffer');

/**
 * Compares digests, not the strings: timingSafeEqual needs equal lengths, and comparing
 * digests of equal length leaks neither the token's content nor its length through timing.
 */
export function requireAdminToken(token: string): RequestHandler {
  const expected = digest(token);
  return (req, _res, next) => {
    const match = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw unauthorized('Admin token required', { 'WWW-Authenticate': 'Bearer realm="podsync-admin"' });
    }
    next();
  };
}

const limitQuery = z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(1000) }).loose();
const createBody = z.object({ username: z.string(), password: z.string() }).strict();
const passwordBody = z.object({ password: passwordSchema }).strict();

export function adminRouter(deps: AdminDependencies, limiter?: RateLimiter): Router {
  const router = Router();
  router.use(limitAuthentication(limiter, requireAdminToken(deps.token)));

  const audit = (action: string, username?: string) => deps.logger.info('admin action', { action, ...(username === undefined ? {} : { username }) });

  const account = async (username: string) => {
    try {
      return await requireAccount(deps.accounts, username);
    } catch (error) {
      if (error instanceof UnknownUserError) throw notFound(`No user named ${username}`);
      throw error;
    }
  };

  router.get('/users', async (_req, res) => {
    res.json({ users: await listUsers(deps.accounts) });
  });

  router.post('/users', parseJsonBody, async (req, res) => {
    const body = parseInput(createBody, req.body);
    try {
      const created = await createUser(deps.accounts, body.username, body.password);
      audit('create user', created.username);
      res.status(201).json(created);
    } catch (error) {
      if (error instanceof UsernameTakenError) throw conflict(`Username ${body.username} is taken`);
      throw error;
    }
  });

  router.get('/users/:username', async (req, res) => {
    res.json(userSummary(await account(req.params['username']!)));
  });

  router.get('/users/:username/stream', async (req, res) => {
    const { limit } = parseInput(limitQuery, req.query);
    const inspection = await inspectStream(deps.eventStore, await account(req.params['username']!), { limit });
    audit('read stream', inspection.user.username);
    res.json(inspection);
  });

  router.get('/users/:username/export', async (req, res) => {
    const found = await account(req.params['username']!);
    audit('export user', found.username);
    await sendJsonPieces(res, deps.me.exportJson({ userId: found.id, username: found.username, tokenId: null }));
  });

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    router.post(`/users/:username/${action}`, async (req, res) => {
      try {
        const user = await setUserDisabled(deps.accounts, req.params['username']!, disabled);
        audit(`${action} user`, user.username);
        res.json(user);
      } catch (error) {
        if (error instanceof UnknownUserError) throw notFound(`No user named ${req.params['username']!}`);
        throw error;
      }
    });
  }

  router.post('/users/:username/password', parseJsonBody, async (req, res) => {
    const body = parseInput(passwordBody, req.body);
    const user = await setUserPassword(deps.accounts, (await account(String(req.params['username']))).username, body.password);
    audit('set password', user.username);
    res.json(user);
  });

  // As DELETE /v1/me answers: 204 deleted, 202 under way (it completes shortly).
  router.delete('/users/:username', async (req, res) => {
    let deleted;
    try {
      deleted = await deleteUser(deps.accounts, deps.me, req.params['username']!);
    } catch (error) {
      if (error instanceof UnknownUserError) throw notFound(`No user named ${req.params['username']!}`);
      throw error;
    }
    audit('delete user', deleted.user.username);
    res.status(deleted.outcome === 'deleted' ? 204 : 202).end();
  });

  router.get('/stats', async (_req, res) => {
    res.json(await deps.stats());
  });

  return router;
}
