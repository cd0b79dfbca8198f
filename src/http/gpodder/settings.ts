/**
 * Settings: `GET /api/2/settings/{u}/{scope}.json` (scope `account`, `device` with
 * `?device=`, `podcast` with `?podcast=`, `episode` with `?podcast=&episode=`) → the settings
 * object; `POST` the same with `{set: {...}, remove: [...]}` answers the settings after it.
 */
import { Router } from 'express';
import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import { LIMITS, SETTING_SCOPES, boundedJson, boundedString, httpUrl } from '../../domain/events.js';
import type { SettingScope } from '../../domain/events.js';
import type { SettingsTarget } from '../../domain/gpodder-state.js';
import { gpodderDeviceId } from '../../domain/gpodder.js';
import type { GpodderService } from '../../services/gpodder.js';
import type { JsonValue } from '../../stores/event-store.js';
import { parseInput } from '../validate.js';
import { ownerOf } from './auth.js';
import { jsonBody, splitFile } from './common.js';

const MAX_KEYS = 200;
const settingKey = boundedString(LIMITS.id).min(1, 'must not be empty');

const settingsBody = z
  .object({
    set: z.record(settingKey, boundedJson).default({}),
    remove: z.array(settingKey).max(MAX_KEYS).default([]),
  })
  .refine((body) => Object.keys(body.set).length <= MAX_KEYS, { message: `at most ${MAX_KEYS} settings at once`, path: ['set'] });

const scopeQuery = z.object({
  device: gpodderDeviceId.optional(),
  podcast: httpUrl.optional(),
  // The episode's media URL; it identifies the episode in the event, so it is bounded like a guid.
  episode: httpUrl.pipe(z.string().max(LIMITS.guid, `at most ${LIMITS.guid} characters`)).optional(),
});

/** The settings scope a request addresses; the scope's own parameter is required. */
function targetOf(req: Request): SettingsTarget & { scope: SettingScope } {
  const scope = parseInput(z.enum(SETTING_SCOPES), splitFile(req.params['file'], ['json']).name, ['scope']);
  const query = parseInput(
    scopeQuery.superRefine((value, ctx) => {
      const need = (field: 'device' | 'podcast' | 'episode') =>
        value[field] === undefined && ctx.addIssue({ code: 'custom', path: [field], message: `required for ${scope} settings` });
      if (scope === 'device') need('device');
      if (scope === 'podcast' || scope === 'episode') need('podcast');
      if (scope === 'episode') need('episode');
    }),
    req.query,
    ['query'],
  );
  return {
    scope,
    device: scope === 'device' ? query.device : undefined,
    podcast: scope === 'podcast' || scope === 'episode' ? query.podcast : undefined,
    episode: scope === 'episode' ? query.episode : undefined,
  };
}

export function settingsRouter(gpodder: GpodderService, authenticated: RequestHandler, bodyLimit: string): Router {
  const router = Router();

  router.get('/api/2/settings/:username/:file', authenticated, async (req, res) => {
    const principal = ownerOf(req, String(req.params['username']));
    res.json(await gpodder.settings(principal, targetOf(req)));
  });

  router.post('/api/2/settings/:username/:file', authenticated, jsonBody(bodyLimit), async (req, res) => {
    const principal = ownerOf(req, String(req.params['username']));
    const target = targetOf(req);
    const body = parseInput(settingsBody, req.body ?? {});
    res.json(await gpodder.updateSettings(principal, target, body.set as Record<string, JsonValue>, body.remove));
  });

  return router;
}
