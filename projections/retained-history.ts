/**
 * A user's retained events, read from their stream (ProjectionView.history), for projections
 * that re-evaluate a user's history on a privacy change instead of keeping a copy of it.
 */
import type { EventObject, UserEvent } from '../src/domain/events.js';
import { ErasureScopes } from '../src/domain/erasure.js';
import type { ProjectedEvent, ProjectionView } from './projection.js';

/** A projected user event that names a feed (and maybe an episode). */
export type EventAbout = ProjectedEvent & { event: UserEvent & { object: EventObject } };

/**
 * The user's events through the current one that `keep` selects, as the store will hold them
 * once retention and erasure have run: those a `remove` covers and those before a checkpoint's
 * `truncate_before` are dropped here even while the store still holds them (erasure and
 * truncation run after the projections passed the event that orders them). Read from the end,
 * so that each event is matched once against every later `remove` (src/domain/erasure.ts's
 * rule), not each `remove` against every event kept before it.
 */
export function retainedHistory<E extends EventAbout>(view: ProjectionView, projected: ProjectedEvent, keep: (event: ProjectedEvent) => event is E): E[] {
  const history = view.history(projected.user, projected.revision);
  const retained: E[] = [];
  const laterRemoves = new ErasureScopes();
  let truncatedBefore = -Infinity;
  for (let index = history.length - 1; index >= 0; index--) {
    const earlier = history[index]!;
    const { event } = earlier;
    if (keep(earlier)) {
      if (earlier.revision >= truncatedBefore && !laterRemoves.coverEvent(earlier.event)) retained.push(earlier);
    } else if (event.type === 'remove') laterRemoves.add(event.object);
    else if (event.type === 'checkpoint' && event.data.truncate_before !== null) truncatedBefore = Math.max(truncatedBefore, event.data.truncate_before);
    else if (event.type === 'account_deleted') break;
  }
  return retained.reverse();
}
