/**
 * A user's retained events, read from their stream (ProjectionView.history), for projections
 * that re-evaluate a user's history on a privacy change instead of keeping a copy of it.
 */
import type { EventObject, UserEvent } from '../src/domain/events.js';
import { erasureCovers } from '../src/domain/erasure.js';
import type { ProjectedEvent, ProjectionView } from './projection.js';

/** A projected user event that names a feed (and maybe an episode). */
export type EventAbout = ProjectedEvent & { event: UserEvent & { object: EventObject } };

/**
 * The user's events through the current one that `keep` selects, as the store will hold them
 * once retention and erasure have run: those a `remove` covers and those before a checkpoint's
 * `truncate_before` are dropped here even while the store still holds them (erasure and
 * truncation run after the projections passed the event that orders them).
 */
export function retainedHistory<E extends EventAbout>(view: ProjectionView, projected: ProjectedEvent, keep: (event: ProjectedEvent) => event is E): E[] {
  let retained: E[] = [];
  for (const earlier of view.history(projected.user, projected.revision)) {
    const { event } = earlier;
    if (keep(earlier)) retained.push(earlier);
    else if (event.type === 'remove') {
      // The rule the store's erasure deletes by (src/domain/erasure.ts).
      const scope = event.object;
      retained = retained.filter(({ event: kept }) => !erasureCovers(scope, kept));
    } else if (event.type === 'checkpoint' && event.data.truncate_before !== null) {
      const cut = event.data.truncate_before;
      retained = retained.filter(({ revision }) => revision >= cut);
    } else if (event.type === 'account_deleted') retained = [];
  }
  return retained;
}
