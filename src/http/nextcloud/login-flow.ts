/**
 * Nextcloud Login Flow v2 at Nextcloud's paths (docs/design.md, "Login Flow v2"):
 * - `POST /index.php/login/v2` → `{poll: {token, endpoint}, login}`; the app opens `login`;
 * - `GET|POST /index.php/login/v2/flow/{token}`: the page where the user signs in and grants
 *   (or denies) access; a plain form, no script;
 * - `POST /index.php/login/v2/poll` with `token=` (a form, or a JSON body `{"token": …}`, which
 *   Nextcloud's request parsing takes too and PinePods sends) → 404 `[]` until granted, then once
 *   `{server, loginName, appPassword}`, then 404 again.
 * `server` is this server's base URL as the request reached it (behind a proxy, set
 * TRUST_PROXY so the scheme and host are the proxy's).
 */
import express, { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { LoginFlowService } from '../../services/login-flow.js';
import { InvalidCredentialsError } from '../../services/accounts.js';
import { renderPage } from '../../web/render.js';
import { drainUnusedBody } from '../drain.js';
import { clientName, serverUrlOf } from '../origin.js';
import { appUrl } from '../base-path.js';

const FORM_LIMIT = '16kb';
const token = z.string().regex(/^[A-Za-z0-9_-]{20,200}$/);
const grantForm = z.object({
  username: z.string().max(64).default(''),
  password: z.string().max(256).default(''),
  decision: z.enum(['grant', 'deny']).default('grant'),
});

export function loginFlowRouter(flows: LoginFlowService, pages: RequestHandler[]): Router {
  const router = Router();
  // A body that is not a form (or comes where none is taken) is read off the wire before the
  // answer, or a client closing the connection could see a reset instead of it (src/http/drain.ts).
  const form = [express.urlencoded({ extended: false, limit: FORM_LIMIT }), drainUnusedBody];
  // Nextcloud reads a request's parameters from a JSON body as from a form (its Request's
  // decodeContent, for any JSON content type); PinePods polls with `{"token": …}`.
  const formOrJson = [express.json({ limit: FORM_LIMIT, type: ['application/json', 'application/*+json'] }), ...form];

  router.post('/index.php/login/v2', drainUnusedBody, async (req, res) => {
    const started = await flows.start(clientName(req));
    const base = serverUrlOf(req);
    res.json({
      poll: { token: started.pollToken, endpoint: `${base}/index.php/login/v2/poll` },
      login: `${base}/index.php/login/v2/flow/${started.loginToken}`,
    });
  });

  router.post('/index.php/login/v2/poll', ...formOrJson, async (req, res) => {
    const parsed = token.safeParse((req.body as Record<string, unknown> | undefined)?.['token']);
    const result = parsed.success ? await flows.poll(parsed.data) : undefined;
    if (!result) {
      // Nextcloud's answer for "not (yet) granted", "expired" and "already taken" alike.
      res.status(404).json([]);
      return;
    }
    res.json({ server: serverUrlOf(req), loginName: result.loginName, appPassword: result.appPassword });
  });

  /** A page with the site's header (res.locals.web, when the page middleware read the visitor). */
  const page = (res: express.Response, view: string, data: Record<string, unknown>) => renderPage(res, view, { ...data, web: res.locals['web'] });
  const gone = (res: express.Response) =>
    res
      .status(404)
      .type('html')
      .send(page(res, 'message', { title: 'This link has expired', message: 'Start the connection again from your app.' }));

  router.get('/index.php/login/v2/flow/:token', ...pages, drainUnusedBody, async (req, res) => {
    const loginToken = token.safeParse(req.params['token']);
    const flow = loginToken.success ? await flows.pending(loginToken.data) : undefined;
    if (!flow) return gone(res);
    const signedIn = (res.locals['web'] as { principal?: { username: string } } | undefined)?.principal?.username;
    res.type('html').send(page(res, 'login-flow', { clientName: flow.clientName, action: appUrl(req), username: signedIn ?? '', error: null }));
  });

  router.post('/index.php/login/v2/flow/:token', ...pages, ...form, async (req, res) => {
    const loginToken = token.safeParse(req.params['token']);
    const flow = loginToken.success ? await flows.pending(loginToken.data) : undefined;
    if (!loginToken.success || !flow) return gone(res);
    const input = grantForm.safeParse(req.body ?? {});
    if (!input.success) {
      res
        .status(400)
        .type('html')
        .send(page(res, 'message', { title: 'Something went wrong', message: 'The form was not understood. Go back and try again.' }));
      return;
    }
    if (input.data.decision === 'deny') {
      await flows.deny(loginToken.data);
      res.type('html').send(page(res, 'message', { title: 'Access denied', message: `${flow.clientName} was not connected. You can close this window.` }));
      return;
    }
    try {
      if (!(await flows.grant(loginToken.data, input.data.username, input.data.password))) return gone(res);
    } catch (error) {
      if (!(error instanceof InvalidCredentialsError)) throw error;
      res
        .status(401)
        .type('html')
        .send(
          page(res, 'login-flow', {
            clientName: flow.clientName,
            action: appUrl(req),
            username: input.data.username,
            error: 'Wrong username or password.',
          }),
        );
      return;
    }
    res.type('html').send(
      page(res, 'message', {
        title: 'Account connected',
        message: `${flow.clientName} can now sync with your account. You can close this window and return to the app.`,
      }),
    );
  });

  return router;
}
