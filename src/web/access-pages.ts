/** App passwords and API tokens: create (the secret shown once), list with last use, revoke. */
import type { Response } from 'express';
import { z } from 'zod';
import type { AccountService } from '../services/accounts.js';
import { appPasswordName } from '../services/accounts.js';
import { isBearerToken } from '../stores/accounts.js';
import type { Site } from './site.js';
import { principalOf, show, showMessage, seeOther } from './site.js';
import { serverUrlOf } from '../http/origin.js';

const nameForm = z.object({ name: appPasswordName });
const labelForm = z.object({ label: appPasswordName });
const id = z.uuid();
const NOTICES: Record<string, string> = { revoked: 'Revoked: it no longer works.' };

interface Created {
  kind: 'App password' | 'Token';
  name: string;
  secret: string;
  /** For an app password: what to enter in the app besides it. */
  setup?: { server: string; username: string };
}

async function showAccess(res: Response, accounts: AccountService, extra: { created?: Created; error?: string; notice?: string }, status = 200) {
  const { userId } = principalOf(res);
  const [appPasswords, tokens] = await Promise.all([accounts.listAppPasswords(userId), accounts.listTokens(userId)]);
  show(
    res,
    'access',
    {
      appPasswords,
      tokens: tokens.filter(isBearerToken),
      created: extra.created ?? null,
      error: extra.error ?? null,
      notice: extra.notice ?? null,
    },
    status,
  );
}

export function accessPages(site: Site, accounts: AccountService): void {
  site.userPage('/access', async (req, res) => {
    const done = typeof req.query['done'] === 'string' ? NOTICES[req.query['done']] : undefined;
    await showAccess(res, accounts, done ? { notice: done } : {});
  });

  site.userForm('/access/app-passwords', async (req, res) => {
    const form = nameForm.safeParse(req.body);
    if (!form.success) return showAccess(res, accounts, { error: 'Give the app password a name (at most 128 characters).' }, 400);
    const created = await accounts.createAppPassword(principalOf(res).userId, form.data.name);
    // Answered directly, not redirected: the password exists only in this answer.
    res.setHeader('Cache-Control', 'no-store');
    const setup = { server: serverUrlOf(req), username: principalOf(res).username };
    await showAccess(res, accounts, { created: { kind: 'App password', name: created.name, secret: created.password, setup } });
  });

  site.userForm('/access/tokens', async (req, res) => {
    const form = labelForm.safeParse(req.body);
    if (!form.success) return showAccess(res, accounts, { error: 'Give the token a label (at most 128 characters).' }, 400);
    const account = await accounts.account(principalOf(res).userId);
    if (!account) return showMessage(res, 403, 'Signed out', 'Your account is gone.');
    const issued = await accounts.issueTokenFor(account, form.data.label);
    res.setHeader('Cache-Control', 'no-store');
    await showAccess(res, accounts, { created: { kind: 'Token', name: form.data.label, secret: issued.token } });
  });

  site.userForm('/access/app-passwords/:id/revoke', async (req, res) => {
    const parsed = id.safeParse(req.params['id']);
    if (!parsed.success || !(await accounts.revokeAppPassword(principalOf(res).userId, parsed.data)))
      return showMessage(res, 404, 'Not found', 'No such app password.', '/access');
    seeOther(res, '/access?done=revoked');
  });

  site.userForm('/access/tokens/:id/revoke', async (req, res) => {
    const parsed = id.safeParse(req.params['id']);
    const { userId } = principalOf(res);
    const owned = parsed.success && (await accounts.listTokens(userId)).some((token) => token.id === parsed.data && isBearerToken(token));
    if (!owned || !(await accounts.revokeToken(userId, parsed.data!))) return showMessage(res, 404, 'Not found', 'No such token.', '/access');
    seeOther(res, '/access?done=revoked');
  });
}
