/**
 * Admin pages (`/manage`), for whoever holds ADMIN_TOKEN: users (create, disable, enable, set a
 * password), a user's stream (as `npm run admin -- stream`), projections with lag and parked
 * events, the retention job's last and next run. They call the same modules as the admin API and
 * CLI (src/admin). Signing in with the token sets a cookie holding an HMAC of it, not the token:
 * changing ADMIN_TOKEN signs every admin out.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AdminDependencies } from '../http/admin.js';
import type { RetentionStatus } from '../admin/retention-status.js';
import { inspectStream } from '../admin/stream.js';
import { createUser, deleteUser, listUsers, requireAccount, setUserDisabled, setUserPassword, UnknownUserError } from '../admin/users.js';
import { UsernameTakenError } from '../stores/accounts.js';
import { credentialsSchema, passwordSchema } from '../services/accounts.js';
import type { RateLimiter } from '../http/rate-limit.js';
import { addressKey, admit, PASSWORD_CHECK_COST } from '../http/rate-limit.js';
import type { Site } from './site.js';
import { show, showMessage, seeOther } from './site.js';
import { parseCookies } from './session.js';
import { servedPath } from '../http/base-path.js';

const ADMIN_COOKIE = 'podsync_admin';
const ADMIN_HOURS = 12;
const STREAM_EVENTS = 200;
const tokenForm = z.object({ token: z.string().max(512).default('') });
const username = z.string().min(1).max(64);

export interface AdminPagesOptions {
  readonly admin: AdminDependencies;
  readonly retention: () => Promise<RetentionStatus | undefined>;
  readonly limiter: RateLimiter | undefined;
}

const NOTICES: Record<string, string> = {
  created: 'User created.',
  disabled: 'User disabled: their tokens and app passwords stop working.',
  enabled: 'User enabled.',
  password: 'Password set: tell the user. Their app passwords and tokens keep working.',
  deleted: 'Account deleted, with all its data.',
  pending: 'Deletion under way: the account no longer signs in, and its data goes as soon as the read models catch up (seconds).',
};
const deleteForm = z.object({ confirm: z.literal('yes').optional(), username: z.string().max(64).optional() });
const passwordForm = z.object({ password: passwordSchema });

export function adminPages(site: Site, { admin, retention, limiter }: AdminPagesOptions): void {
  const sessionValue = createHmac('sha256', admin.token).update('podsync admin session v1').digest('base64url');
  const isAdmin = (req: Request) => {
    const given = Buffer.from(parseCookies(req.get('cookie')).get(ADMIN_COOKIE) ?? '');
    const expected = Buffer.from(sessionValue);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const cookie = (req: Request, value: string, maxAge: number) =>
    `${ADMIN_COOKIE}=${value}; Path=${servedPath(req, '/manage')}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${req.secure ? '; Secure' : ''}`;
  const audit = (action: string, user?: string) => admin.logger.info('admin action', { action, via: 'web', ...(user === undefined ? {} : { username: user }) });
  /** Runs `then` for an admin; others get the sign-in page (GET) or a 403 (POST). */
  const guarded = (then: (req: Request, res: Response) => Promise<void>) => async (req: Request, res: Response) => {
    if (isAdmin(req)) return then(req, res);
    if (req.method === 'GET') return show(res, 'admin-signin', { error: null });
    showMessage(res, 403, 'Admins only', 'Sign in with the admin token first.', '/manage');
  };

  const dashboard = async (res: Response, extra: { notice?: string | undefined; error?: string }, status = 200) => {
    const [users, stats, job] = await Promise.all([listUsers(admin.accounts), admin.stats(), retention()]);
    show(res, 'admin', { users, stats, retention: job ?? null, notice: extra.notice ?? null, error: extra.error ?? null }, status);
  };

  site.page(
    '/manage',
    guarded(async (req, res) => dashboard(res, { notice: typeof req.query['done'] === 'string' ? NOTICES[req.query['done']] : undefined })),
  );

  site.form('/manage/signin', async (req, res) => {
    admit(limiter, addressKey(req), PASSWORD_CHECK_COST);
    const { token } = tokenForm.parse(req.body);
    const given = createHmac('sha256', token).update('podsync admin session v1').digest();
    if (!timingSafeEqual(given, Buffer.from(sessionValue, 'base64url'))) return show(res, 'admin-signin', { error: 'That is not the admin token.' }, 401);
    audit('sign in');
    res.append('Set-Cookie', cookie(req, sessionValue, ADMIN_HOURS * 3600));
    seeOther(res, '/manage');
  });

  site.form('/manage/signout', async (req, res) => {
    res.append('Set-Cookie', cookie(req, '', 0));
    seeOther(res, '/');
  });

  site.form(
    '/manage/users',
    guarded(async (req, res) => {
      const { _csrf: _, ...fields } = req.body as Record<string, unknown>;
      const parsed = credentialsSchema.safeParse(fields);
      if (!parsed.success)
        return dashboard(res, { error: parsed.error.issues.map((issue) => `${String(issue.path[0] ?? 'form')}: ${issue.message}`).join('; ') }, 400);
      try {
        const created = await createUser(admin.accounts, parsed.data.username, parsed.data.password);
        audit('create user', created.username);
      } catch (error) {
        if (!(error instanceof UsernameTakenError)) throw error;
        return dashboard(res, { error: 'That username is taken.' }, 409);
      }
      seeOther(res, '/manage?done=created');
    }),
  );

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    site.form(
      `/manage/users/:username/${action}`,
      guarded(async (req, res) => {
        try {
          const user = await setUserDisabled(admin.accounts, username.parse(req.params['username']), disabled);
          audit(`${action} user`, user.username);
        } catch (error) {
          if (!(error instanceof UnknownUserError)) throw error;
          return showMessage(res, 404, 'Not found', 'No such user.', '/manage');
        }
        seeOther(res, `/manage?done=${action}d`);
      }),
    );
  }

  /** The account the address's `:username` names; undefined for a name no account has (or no name at all). */
  const accountNamed = async (req: Request) => {
    const name = username.safeParse(req.params['username']);
    try {
      return name.success ? await requireAccount(admin.accounts, name.data) : undefined;
    } catch (failure) {
      if (!(failure instanceof UnknownUserError)) throw failure;
      return undefined;
    }
  };

  site.form(
    '/manage/users/:username/delete',
    guarded(async (req, res) => {
      const account = await accountNamed(req);
      if (!account) return showMessage(res, 404, 'Not found', 'No such user.', '/manage');
      const page = `/manage/users/${encodeURIComponent(account.username)}`;
      const confirmPage = (error: string | null, status = 200) =>
        show(
          res,
          'confirm',
          {
            title: `Delete the account ${account.username}?`,
            message:
              'The account, all its data, app passwords and tokens are deleted, and its public activity and popularity with them. This cannot be undone.',
            action: `${page}/delete`,
            fields: {},
            button: 'Delete the account',
            typeToConfirm: account.username,
            typeLabel: 'Type the username',
            cancel: page,
            error,
          },
          status,
        );
      const form = deleteForm.safeParse(req.body);
      if (!form.success || form.data.confirm !== 'yes') return confirmPage(null);
      if ((form.data.username ?? '').toLowerCase() !== account.username.toLowerCase()) return confirmPage('That is not the username.', 400);
      const { outcome } = await deleteUser(admin.accounts, admin.me, account.username);
      audit('delete user', account.username);
      seeOther(res, `/manage?done=${outcome}`);
    }),
  );

  /** The user's page: their stream, and the form to set their password (with `error`, refused). */
  const userPage = async (req: Request, res: Response, error: string | null = null) => {
    const account = await accountNamed(req);
    if (!account) return showMessage(res, 404, 'Not found', 'No such user.', '/manage');
    const stream = await inspectStream(admin.eventStore, account, { limit: STREAM_EVENTS });
    audit('read stream', account.username);
    show(res, 'admin-stream', { stream, error }, error === null ? 200 : 400);
  };

  site.page(
    '/manage/users/:username',
    guarded(async (req, res) => userPage(req, res)),
  );

  site.form(
    '/manage/users/:username/password',
    guarded(async (req, res) => {
      const form = passwordForm.safeParse(req.body);
      if (!form.success) return userPage(req, res, `password: ${form.error.issues.map((issue) => issue.message).join('; ')}`);
      try {
        const user = await setUserPassword(admin.accounts, username.parse(req.params['username']), form.data.password);
        audit('set password', user.username);
      } catch (error) {
        if (!(error instanceof UnknownUserError)) throw error;
        return showMessage(res, 404, 'Not found', 'No such user.', '/manage');
      }
      seeOther(res, '/manage?done=password');
    }),
  );
}
