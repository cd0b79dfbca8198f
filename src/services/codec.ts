/**
 * Mapping between domain events and store events (docs/architecture.md, "Events and streams").
 * A user event's envelope `{id, timestamp, user, type, object, data}` is stored as the store
 * event's own id and type, in the user's stream (`user-<id>`), with `{timestamp, object, data}`
 * as its `data`: each field once, as EventStoreDB shows an event (its id, type and stream beside
 * its JSON). Events stored with the whole envelope as their data read the same. Its `metadata`
 * carries what only the service needs (the username, for public views).
 */
import type { StateEvent } from '../domain/state.js';
import type { UserEvent } from '../domain/events.js';
import { isUserEventType, userIdFromStream } from '../domain/events.js';
import type { SystemEvent } from '../domain/system-events.js';
import type { EventToAppend, JsonObject, RecordedEvent } from '../stores/event-store.js';
import { fromJson, toJsonObject } from '../domain/json.js';
import { yieldToEventLoop } from '../concurrency.js';

export interface EventMetadata {
  username?: string;
  request_id?: string;
}

export function toStoreEvent(event: UserEvent, metadata: EventMetadata = {}): EventToAppend {
  return { id: event.id, type: event.type, data: storedBody(event), metadata: metadata as JsonObject };
}

/** What a user event's store `data` holds: the envelope without what the store event itself says. */
function storedBody(event: UserEvent): JsonObject {
  return fromJson<JsonObject>({ timestamp: event.timestamp, object: event.object, data: event.data });
}

/**
 * The user event a store event holds (its type a user event type, in a user's stream): the
 * envelope put back together from the store event's id, type and stream and its data. Data that
 * names an id is taken at its word: an event stored with the whole envelope, or the copy an
 * EventStoreDB erasure makes of one (src/retention/history.ts), which keeps its original's id.
 * `streamUser`: the user the stream's name names, when the caller has it already.
 */
export function userEventOf(recorded: RecordedEvent, streamUser = userIdFromStream(recorded.stream)): UserEvent {
  const body = recorded.data;
  const id = body['id'] ?? recorded.id;
  const user = body['user'] ?? streamUser;
  if (user === undefined) throw new Error(`event ${recorded.id} of stream ${recorded.stream} names no user`);
  // The envelope's fields in the order they have always had (every one is in a stored event).
  const envelope: JsonObject = {
    id,
    user,
    timestamp: body['timestamp'] ?? null,
    object: body['object'] ?? null,
    type: recorded.type,
    data: body['data'] ?? null,
  };
  return fromJson<UserEvent>(envelope);
}

/** A stored event as its envelope: a user event's put back together, any other's data as stored. */
export function envelopeOf(recorded: RecordedEvent): JsonObject {
  return isUserEventType(recorded.type) ? toJsonObject(userEventOf(recorded)) : recorded.data;
}

/** The data of a copy of `recorded` (an erasure's rewrite): with its domain id, which the copy's own store id is not. */
export function copiedData(recorded: RecordedEvent): JsonObject {
  if (!isUserEventType(recorded.type) || recorded.data['id'] !== undefined) return recorded.data;
  return fromJson<JsonObject>({ id: recorded.id, ...recorded.data });
}

/** A system event as the store's (no metadata: no username goes with it). */
export function toStoreSystemEvent(event: SystemEvent): EventToAppend {
  return { id: event.id, type: event.type, data: toJsonObject(event) };
}

/** Stored events were validated on the way in, so they are trusted on the way out. */
export function fromStoreEvent(recorded: RecordedEvent): StateEvent | undefined {
  if (isUserEventType(recorded.type)) return userEventOf(recorded);
  // Checkpoints are built by src/domain/system-events.ts and never taken from a client.
  if (recorded.type === 'checkpoint') return fromJson<StateEvent>(recorded.data);
  return undefined;
}

/**
 * The pages of a stream cut after each event that carries a user's whole state (`snapshot` and
 * `checkpoint`: megabytes for a heavy user, each read, folded or written out in tens of
 * milliseconds), other work served between the pieces: a page holding the checkpoints of three
 * erasures was handled at once, 160 ms of every other request (bench/RESULTS.md).
 */
export async function* cutAfterStates(pages: AsyncIterable<readonly RecordedEvent[]>): AsyncGenerator<readonly RecordedEvent[]> {
  for await (const page of pages) {
    const pieces = piecesAfterStates(page);
    for (const [index, piece] of pieces.entries()) {
      if (index > 0) await yieldToEventLoop();
      yield piece;
    }
  }
}

/** `events` cut after each event that {@link carriesState} (none of the pieces empty). */
export function piecesAfterStates(events: readonly RecordedEvent[]): (readonly RecordedEvent[])[] {
  const pieces: (readonly RecordedEvent[])[] = [];
  let start = 0;
  for (let index = 0; index < events.length; index++) {
    if (index === events.length - 1 || carriesState(events[index]!)) {
      // A page with no state but its last is handed on as it is, not copied (most of them).
      pieces.push(start === 0 && index === events.length - 1 ? events : events.slice(start, index + 1));
      start = index + 1;
    }
  }
  return pieces;
}

/** A `snapshot` or a `checkpoint`: an event that carries a user's whole state. */
const carriesState = (event: RecordedEvent): boolean => event.type === 'checkpoint' || event.type === 'snapshot';

/** The events of `recorded` that the state folds, in order (the others left out). */
export function stateEventsOf(recorded: readonly RecordedEvent[]): StateEvent[] {
  return recorded.map(fromStoreEvent).filter((event): event is StateEvent => event !== undefined);
}

export function usernameOf(recorded: RecordedEvent): string | undefined {
  const value = recorded.metadata['username'];
  return typeof value === 'string' ? value : undefined;
}
