/**
 * Nextcloud's app-password endpoints of its OCS API (core's AppPasswordController), for apps
 * that log in with the account password and turn it into an app password of their own, as
 * Nextcloud documents ("Converting to app passwords"): GNOME Podcasts's "Log in" does
 * (nextcloud_sync/login.rs), and fails without them.
 * - `GET /ocs/v2.php/core/getapppassword`, Basic with the account password: a new app password,
 *   named after the app's User-Agent as a Login Flow's is, answered as `data.apppassword`;
 *   with an app password: 403, which these apps read as "it already is one" and keep it;
 * - `DELETE /ocs/v2.php/core/apppassword`, Basic with an app password: that app password revoked
 *   (the app's logout); with the account password: 403.
 * Answers are OCS v2 envelopes, XML unless `format=json` or an `Accept` of JSON asks for JSON,
 * as Nextcloud's. Basic only: Nextcloud's session-based variants have no equivalent here.
 */
import { Router } from 'express';
import type { Request, RequestHandler, Response } from 'express';
import type { AccountService } from '../../services/accounts.js';
import type { GpodderAuth } from '../../services/gpodder-auth.js';
import { unauthorized } from '../errors.js';
import { drainUnusedBody } from '../drain.js';
import { CHALLENGE, basicLogin } from '../gpodder/auth.js';
import { principalOf } from '../auth.js';
import { clientName } from '../origin.js';

/** `res.locals` key: the app password the request authenticated with, if it did with one. */
const APP_PASSWORD_ID = 'ocsAppPasswordId';

/** Basic credentials, as every Nextcloud request of these apps carries them; which app password, if one. */
export function ocsUser(auth: GpodderAuth): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (header === undefined || !/^Basic\s/i.test(header)) throw unauthorized('Authentication required', CHALLENGE);
    const login = await basicLogin(auth, header);
    req.principal = { userId: login.account.id, username: login.account.username, tokenId: null };
    res.locals[APP_PASSWORD_ID] = login.appPasswordId;
    next();
  };
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** An OCS v2 answer: the HTTP status is the OCS status code. */
function ocs(req: Request, res: Response, status: 200 | 403, message: string, data: Record<string, string>): void {
  const meta = { status: status === 200 ? 'ok' : 'failure', statuscode: status, message };
  res.status(status).set('Cache-Control', 'no-store');
  if (req.query['format'] === 'json' || (req.query['format'] !== 'xml' && /\bapplication\/json\b/i.test(req.get('accept') ?? ''))) {
    res.json({ ocs: { meta, data: Object.keys(data).length === 0 ? [] : data } });
    return;
  }
  const fields = Object.entries(data).map(([key, value]) => `  <${key}>${escapeXml(value)}</${key}>\n`);
  res
    .type('application/xml')
    .send(
      `<?xml version="1.0"?>\n<ocs>\n <meta>\n  <status>${meta.status}</status>\n  <statuscode>${status}</statuscode>\n  <message>${escapeXml(message)}</message>\n </meta>\n` +
        (fields.length === 0 ? ' <data/>\n' : ` <data>\n${fields.join('')} </data>\n`) +
        '</ocs>\n',
    );
}

export function ocsRouter(accounts: AccountService, authenticated: RequestHandler): Router {
  const router = Router();

  router.get('/ocs/v2.php/core/getapppassword', authenticated, drainUnusedBody, async (req, res) => {
    if (res.locals[APP_PASSWORD_ID] !== undefined) return ocs(req, res, 403, 'You cannot request an new apppassword with an apppassword', {});
    const created = await accounts.createAppPassword(principalOf(req).userId, clientName(req));
    ocs(req, res, 200, 'OK', { apppassword: created.password });
  });

  router.delete('/ocs/v2.php/core/apppassword', authenticated, drainUnusedBody, async (req, res) => {
    const id = res.locals[APP_PASSWORD_ID] as string | undefined;
    if (id === undefined) return ocs(req, res, 403, 'no app password in use', {});
    await accounts.revokeAppPassword(principalOf(req).userId, id);
    ocs(req, res, 200, 'OK', {});
  });

  return router;
}
