/** From a stored event to what projections see (SPEC 6). */
import { isUserEventType, streams, userIdFromStream } from '../domain/events.js';
import type { RecordedEvent } from '../stores/event-store.js';
import type { CheckpointEvent, ProjectedEvent } from '../../projections/projection.js';
import type { UserEvent } from '../domain/events.js';

/** Projections read the users' streams only. */
export const PROJECTED_STREAM_PREFIXES = [streams.userPrefix];

/** Returns undefined for events no projection reads (`snapshot`, unknown types). */
export function toProjectedEvent(recorded: RecordedEvent): ProjectedEvent | undefined {
  const user = userIdFromStream(recorded.stream);
  if (user === undefined) return undefined;
  if (!isUserEventType(recorded.type) && recorded.type !== 'checkpoint') return undefined;
  const username = recorded.metadata['username'];
  return {
    event: recorded.data as unknown as UserEvent | CheckpointEvent,
    user,
    username: typeof username === 'string' ? username : null,
    position: recorded.position,
    revision: Number(recorded.revision),
    seq: Number(recorded.position.commit),
    recordedAt: recorded.recordedAt.toISOString(),
  };
}
