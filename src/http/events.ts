/** `POST /v1/events`: one or more user actions, validated per type, appended atomically. */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { actionInput } from '../domain/events.js';
import { formatPosition } from '../stores/event-store.js';
import type { UserEventService } from '../services/user-events.js';
import { principalOf } from './auth.js';
import { parseInput } from './validate.js';

export const MAX_EVENTS_PER_REQUEST = 1000;

export const eventsBody = z
  .object({ events: z.array(actionInput).min(1, 'at least one event').max(MAX_EVENTS_PER_REQUEST, `at most ${MAX_EVENTS_PER_REQUEST} events`) })
  .strict();

export function eventsRouter(userEvents: UserEventService, authenticated: RequestHandler): Router {
  const router = Router();

  router.post('/v1/events', authenticated, async (req, res) => {
    const { events } = parseInput(eventsBody, req.body);
    const outcome = await userEvents.appendActions(principalOf(req), events);
    res.status(201).json({ ids: outcome.events.map((event) => event.id), position: formatPosition(outcome.position) });
  });

  return router;
}
