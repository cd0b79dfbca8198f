/** From a stored event to what projections see (docs/design.md, "Read models", 7). */
import { isUserEventType, streams, userIdFromStream } from '../domain/events.js';
import { FEED_EVENT_TYPES, FEED_STREAM_PREFIX } from '../domain/feeds.js';
import type { EventStore, RecordedEvent } from '../stores/event-store.js';
import { StreamDeletedError, StreamNotFoundError } from '../stores/event-store.js';
import type { ProjectedEvent } from '../../projections/projection.js';
import { projectsRewrittenCopy } from '../retention/history.js';
import { fromJson } from '../domain/json.js';
import { userEventOf } from '../services/codec.js';

/** Projections read the users' streams, the podcasts' `roll_stats` streams and the feeds' streams. */
export const PROJECTED_STREAM_PREFIXES = [streams.userPrefix, streams.podcastStatsPrefix, FEED_STREAM_PREFIX];

const isFeedEvent = (recorded: RecordedEvent) =>
  recorded.stream.startsWith(FEED_STREAM_PREFIX) && (FEED_EVENT_TYPES as readonly string[]).includes(recorded.type);

/**
 * Returns undefined for events no projection reads (`snapshot`, unknown types, and the copies
 * of state-only events an EventStoreDB erasure rewrites: see src/retention/history.ts).
 */
export function toProjectedEvent(recorded: RecordedEvent): ProjectedEvent | undefined {
  if (!projectsRewrittenCopy(recorded)) return undefined;
  const user = userIdFromStream(recorded.stream);
  const projectable =
    user !== undefined
      ? isUserEventType(recorded.type) || recorded.type === 'checkpoint'
      : (recorded.stream.startsWith(streams.podcastStatsPrefix) && recorded.type === 'roll_stats') || isFeedEvent(recorded);
  if (!projectable) return undefined;
  const username = recorded.metadata['username'];
  return {
    // Stored events were validated on the way in (see src/services/codec.ts).
    event: isUserEventType(recorded.type) ? userEventOf(recorded, user) : fromJson<ProjectedEvent['event']>(recorded.data),
    user: user ?? '',
    username: typeof username === 'string' ? username : null,
    position: recorded.position,
    revision: Number(recorded.revision),
    seq: Number(recorded.position.commit),
    recordedAt: recorded.recordedAt.toISOString(),
  };
}

/**
 * A user's events as projections see them, from the first the store holds through revision
 * `through` (ProjectionView.history). A stream that is gone (a deleted account) has none.
 */
export async function userHistory(store: EventStore, user: string, through: number): Promise<ProjectedEvent[]> {
  let recorded: RecordedEvent[];
  try {
    // The first retained revision is 0 or later: through + 1 events reach `through`.
    recorded = await store.readStream(streams.user(user), { maxCount: through + 1 });
  } catch (error) {
    if (error instanceof StreamNotFoundError || error instanceof StreamDeletedError) return [];
    throw error;
  }
  return recorded.filter((event) => Number(event.revision) <= through).flatMap((event) => toProjectedEvent(event) ?? []);
}
