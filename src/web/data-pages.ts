/**
 * My data (docs/design.md, "Erasure"): export, erase a feed / an episode / everything, delete the account. Each
 * destructive form is posted twice: first it answers a confirmation page, and only the
 * confirmed form (confirm=yes) acts.
 */
import { z } from 'zod';
import { httpUrl, LIMITS } from '../domain/events.js';
import type { ListenerService, EraseScope } from '../services/listener.js';
import type { MeService } from '../services/me.js';
import { AccountDeletionPendingError } from '../services/me.js';
import type { Site } from './site.js';
import { principalOf, show, showMessage, seeOther } from './site.js';
import { endSession } from './session.js';
import type { AccountService } from '../services/accounts.js';
import { sendJsonPieces } from '../http/json-pieces.js';
import { importNotice } from './subscription-pages.js';

const eraseForm = z.union([
  z.object({ scope: z.literal('all'), confirm: z.literal('yes').optional() }),
  z.object({ feed: httpUrl, guid: z.string().min(1).max(LIMITS.guid).optional(), confirm: z.literal('yes').optional() }),
]);
const deleteForm = z.object({ confirm: z.literal('yes').optional(), username: z.string().max(64).optional() });
const NOTICES: Record<string, string> = { erased: 'Erased.' };

export interface DataPagesOptions {
  readonly listener: ListenerService;
  readonly me: MeService;
  readonly accounts: AccountService;
}

export function dataPages(site: Site, { listener, me, accounts }: DataPagesOptions): void {
  site.userPage('/data', async (req, res) => {
    const overview = await listener.overview(principalOf(res).userId);
    const done = typeof req.query['done'] === 'string' && Object.hasOwn(NOTICES, req.query['done']) ? NOTICES[req.query['done']] : undefined;
    show(res, 'data', { feeds: overview.subscriptions, notice: done ?? importNotice(req.query) });
  });

  site.userPage('/data/export', async (_req, res) => {
    const principal = principalOf(res);
    res.setHeader('Content-Disposition', `attachment; filename="${principal.username}-export.json"`);
    res.setHeader('Cache-Control', 'no-store');
    await sendJsonPieces(res, me.exportJson(principal));
  });

  site.userForm('/data/erase', async (req, res) => {
    const form = eraseForm.safeParse(req.body);
    if (!form.success)
      return showMessage(res, 400, 'That did not work', 'Name a podcast by its feed URL (and an episode by its id), or erase everything.', '/data');
    const scope: EraseScope = 'scope' in form.data ? {} : { feed: form.data.feed, guid: form.data.guid };
    if (form.data.confirm !== 'yes') {
      const what =
        scope.feed === undefined
          ? 'all your listening data'
          : scope.guid === undefined
            ? `everything about ${scope.feed}`
            : `episode ${scope.guid} of ${scope.feed}`;
      const fields = scope.feed === undefined ? { scope: 'all' } : { feed: scope.feed, ...(scope.guid !== undefined ? { guid: scope.guid } : {}) };
      return show(res, 'confirm', {
        title: 'Erase for good?',
        message: `This erases ${what}, for real. It cannot be undone.`,
        action: '/data/erase',
        fields,
        button: 'Yes, erase it',
        typeToConfirm: null,
        error: null,
      });
    }
    await listener.erase(principalOf(res), scope);
    seeOther(res, '/data?done=erased');
  });

  site.userForm('/data/delete', async (req, res) => {
    const principal = principalOf(res);
    const form = deleteForm.safeParse(req.body);
    const confirmPage = (error: string | null, status = 200) =>
      show(
        res,
        'confirm',
        {
          title: 'Delete your account?',
          message: 'Your account, all its data, app passwords and tokens are deleted. This cannot be undone.',
          action: '/data/delete',
          fields: {},
          button: 'Delete my account',
          typeToConfirm: principal.username,
          error,
        },
        status,
      );
    if (!form.success || form.data.confirm !== 'yes') return confirmPage(null);
    if ((form.data.username ?? '').toLowerCase() !== principal.username.toLowerCase()) return confirmPage('That is not your username.', 400);
    try {
      await me.deleteAccount(principal);
    } catch (error) {
      if (!(error instanceof AccountDeletionPendingError)) throw error;
      res.setHeader('Retry-After', '5');
      return showMessage(res, 503, 'Not yet', 'The server is busy catching up. Try again in a few seconds.', '/data');
    }
    await endSession(accounts, req, res);
    showMessage(res, 200, 'Account deleted', 'Your account and all its data are gone.');
  });
}
