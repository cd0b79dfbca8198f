/** Sign-up, sign-in, sign-out and password change, over the same AccountService as `/v1/auth`. */
import { z } from 'zod';
import type { AccountService } from '../services/accounts.js';
import { credentialsSchema, InvalidCredentialsError, passwordSchema } from '../services/accounts.js';
import { UsernameTakenError } from '../stores/accounts.js';
import type { RateLimiter } from '../http/rate-limit.js';
import { addressKey, admit, PASSWORD_CHECK_COST } from '../http/rate-limit.js';
import type { Site } from './site.js';
import { localPath, principalOf, show, seeOther } from './site.js';
import { contextOf, endSession, startSession } from './session.js';

const signInForm = z.object({ username: z.string().max(64).default(''), password: z.string().max(256).default(''), next: z.string().max(600).optional() });
const passwordForm = z.object({ current: z.string().max(256).default(''), password: z.string().max(256).default('') });

const NOTICES: Record<string, string> = { password: 'Your password was changed.' };

export interface AccountPagesOptions {
  readonly accounts: AccountService;
  readonly registration: 'open' | 'closed';
  /** The API's limiter: a password check costs the same here as at `/v1/auth/token`. */
  readonly limiter: RateLimiter | undefined;
}

export function accountPages(site: Site, { accounts, registration, limiter }: AccountPagesOptions): void {
  site.page('/signin', (req, res) => {
    if (contextOf(res).principal) return seeOther(res, '/');
    show(res, 'signin', { username: '', error: null, next: localPath(req.query['next']), registration });
  });

  site.form('/signin', async (req, res) => {
    admit(limiter, addressKey(req), PASSWORD_CHECK_COST);
    const form = signInForm.parse(req.body);
    const next = localPath(form.next);
    try {
      await startSession(accounts, req, res, await accounts.verify(form.username, form.password));
    } catch (error) {
      if (!(error instanceof InvalidCredentialsError)) throw error;
      return show(res, 'signin', { username: form.username, error: 'Wrong username or password.', next, registration }, 401);
    }
    seeOther(res, next);
  });

  site.page('/signup', (_req, res) => {
    if (registration === 'closed')
      return show(res, 'message', { title: 'Registration is closed', message: 'This server does not take new accounts. Ask its administrator for one.' }, 403);
    show(res, 'signup', { username: '', error: null });
  });

  site.form('/signup', async (req, res) => {
    if (registration === 'closed') return show(res, 'message', { title: 'Registration is closed', message: 'This server does not take new accounts.' }, 403);
    admit(limiter, addressKey(req), PASSWORD_CHECK_COST);
    const { _csrf: _, ...fields } = req.body as Record<string, unknown>;
    const parsed = credentialsSchema.safeParse(fields);
    const username = typeof fields['username'] === 'string' ? fields['username'].slice(0, 64) : '';
    if (!parsed.success) {
      const error = parsed.error.issues.map((issue) => `${String(issue.path[0] ?? 'form')}: ${issue.message}`).join('; ');
      return show(res, 'signup', { username, error }, 400);
    }
    try {
      const account = await accounts.register(parsed.data.username, parsed.data.password);
      await startSession(accounts, req, res, account);
    } catch (error) {
      if (!(error instanceof UsernameTakenError)) throw error;
      return show(res, 'signup', { username, error: 'That username is taken.' }, 409);
    }
    seeOther(res, '/');
  });

  site.userForm('/signout', async (req, res) => {
    await endSession(accounts, req, res);
    seeOther(res, '/signin');
  });

  site.userPage('/account', (req, res) => {
    const done = typeof req.query['done'] === 'string' ? NOTICES[req.query['done']] : undefined;
    show(res, 'account', { error: null, notice: done ?? null });
  });

  site.userForm('/account/password', async (req, res) => {
    admit(limiter, addressKey(req), PASSWORD_CHECK_COST);
    const form = passwordForm.parse(req.body);
    const strong = passwordSchema.safeParse(form.password);
    if (!strong.success) return show(res, 'account', { error: `New password: ${strong.error.issues[0]?.message ?? 'not accepted'}`, notice: null }, 400);
    try {
      const principal = principalOf(res);
      await accounts.changePassword(principal.userId, form.current, strong.data, principal.tokenId);
    } catch (error) {
      if (!(error instanceof InvalidCredentialsError)) throw error;
      return show(res, 'account', { error: 'The current password is wrong.', notice: null }, 401);
    }
    seeOther(res, '/account?done=password');
  });
}
