/**
 * The simple API: `GET|PUT /subscriptions/{u}/{device}.{opml|json|txt}` and
 * `GET /subscriptions/{u}.{opml|json|txt}`. A PUT's list replaces the subscriptions (which are
 * the account's, shared by its devices); it answers an empty 200, as mygpoclient expects.
 */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { CONTENT_TYPES, ListFormatError, MAX_LIST_ENTRIES, SIMPLE_FORMATS, formatList, parseList } from '../../domain/gpodder-formats.js';
import type { GpodderService } from '../../services/gpodder.js';
import { HttpError } from '../errors.js';
import { ownerOf } from './auth.js';
import { deviceIdOf, splitFile, textBody } from './common.js';

export function simpleRouter(gpodder: GpodderService, authenticated: RequestHandler, bodyLimit: string): Router {
  const router = Router();

  router.get('/subscriptions/:file', authenticated, async (req, res) => {
    const { name, ext } = splitFile(req.params['file'], SIMPLE_FORMATS);
    const principal = ownerOf(req, name);
    res.type(CONTENT_TYPES[ext]).send(formatList(ext, await gpodder.currentSubscriptions(principal)));
  });

  router.get('/subscriptions/:username/:file', authenticated, async (req, res) => {
    const principal = ownerOf(req, String(req.params['username']));
    const { name, ext } = splitFile(req.params['file'], SIMPLE_FORMATS);
    deviceIdOf(name);
    res.type(CONTENT_TYPES[ext]).send(formatList(ext, await gpodder.currentSubscriptions(principal)));
  });

  router.put('/subscriptions/:username/:file', authenticated, textBody(bodyLimit), async (req, res) => {
    const principal = ownerOf(req, String(req.params['username']));
    const { name, ext } = splitFile(req.params['file'], SIMPLE_FORMATS);
    const device = deviceIdOf(name);
    let urls: string[];
    try {
      urls = parseList(ext, typeof req.body === 'string' ? req.body : '');
    } catch (error) {
      if (error instanceof ListFormatError)
        throw new HttpError(400, 'bad_list', `The body is not a ${ext} subscription list: ${error.message}`, {
          issues: [{ path: '(body)', message: error.message }],
        });
      throw error;
    }
    if (urls.length > MAX_LIST_ENTRIES)
      throw new HttpError(400, 'bad_list', `At most ${MAX_LIST_ENTRIES} subscriptions`, {
        issues: [{ path: '(body)', message: `at most ${MAX_LIST_ENTRIES} entries` }],
      });
    await gpodder.replaceSubscriptions(principal, device, urls);
    res.status(200).end();
  });

  return router;
}
