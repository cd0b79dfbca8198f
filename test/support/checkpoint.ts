/** A checkpoint appended to a user's stream as retention or erasure appends one (src/retention/snapshot.ts). */
import { streams } from '../../src/domain/events.js';
import { checkpointAppends, checkpointStateOf } from '../../src/retention/snapshot.js';
import type { EventStore } from '../../src/stores/event-store.js';

/**
 * Appends the `snapshot` and `checkpoint` of the user's current stream: an erasure's (it truncates
 * nothing) with `truncateBefore` null, else a retention's (events before that revision are dropped).
 */
export async function appendCheckpoint(eventStore: EventStore, user: string, truncateBefore: number | null): Promise<void> {
  const stream = streams.user(user);
  const now = new Date();
  const state = checkpointStateOf(await eventStore.readStream(stream), now);
  const reason = truncateBefore === null ? 'erasure' : 'retention';
  await eventStore.append(stream, checkpointAppends(user, state, now, { truncate_before: truncateBefore, retained_from: now.toISOString(), reason }));
}
