/** `POST /v1/events`: one or more user actions, validated per type, appended atomically. */
import { Router } from 'express';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { actionInput } from '../domain/events.js';
import { formatPosition } from '../stores/event-store.js';
import type { UserEventService } from '../services/user-events.js';
import { principalOf } from './auth.js';
import { parseInput } from './validate.js';
import { defineRoute, mount } from './routes.js';

export const MAX_EVENTS_PER_REQUEST = 1000;

export const eventsBody = z
  .object({ events: z.array(actionInput).min(1, 'at least one event').max(MAX_EVENTS_PER_REQUEST, `at most ${MAX_EVENTS_PER_REQUEST} events`) })
  .strict();

export const eventsRoutes = {
  append: defineRoute({
    method: 'post',
    path: '/v1/events',
    tag: 'events',
    summary: 'Record user actions',
    description: `1 to ${MAX_EVENTS_PER_REQUEST} actions, each validated by its type, appended atomically (all or none). Client-supplied ids make a retry add nothing.`,
    auth: 'bearer',
    body: eventsBody,
    responses: {
      201: {
        description: 'Appended (or a retry: nothing new); `ids` in the order of the request',
        schema: z.object({ ids: z.array(z.uuid()), position: z.string().meta({ description: 'Store position of the last event ("commit/prepare")' }) }),
      },
      409: { description: 'A client id already names another event (or known and new ids are mixed); nothing written' },
    },
  }),
};

export function eventsRouter(userEvents: UserEventService, authenticated: RequestHandler, router: Router = Router()): Router {
  mount(router, eventsRoutes.append, authenticated, async (req, res) => {
    const { events } = parseInput(eventsRoutes.append.body, req.body);
    const outcome = await userEvents.appendActions(principalOf(req), events);
    res.status(201).json({ ids: outcome.ids, position: formatPosition(outcome.position) });
  });

  return router;
}
