/**
 * Mapping between domain events and store events. The store event's `data` is the whole
 * envelope (so an admin reading a stream in the EventStoreDB UI sees the complete event);
 * its `metadata` carries what only the service needs (the username, for public views).
 */
import type { StateEvent } from '../domain/state.js';
import type { UserEvent } from '../domain/events.js';
import { isUserEventType } from '../domain/events.js';
import type { SystemEvent } from '../domain/system-events.js';
import type { EventToAppend, JsonObject, RecordedEvent } from '../stores/event-store.js';

export interface EventMetadata {
  username?: string;
  request_id?: string;
}

/**
 * A domain event as the store's JSON. The one cast on the way in: events are JSON by
 * construction (user events are parsed by their zod schemas, system events are built from
 * JSON values by src/domain/system-events.ts), but TypeScript interfaces carry no index
 * signature, so none is assignable to JsonObject.
 */
export function jsonOf(event: UserEvent | SystemEvent): JsonObject {
  return event as unknown as JsonObject;
}

export function toStoreEvent(event: UserEvent, metadata: EventMetadata = {}): EventToAppend {
  return { id: event.id, type: event.type, data: jsonOf(event), metadata: metadata as JsonObject };
}

/** A system event as the store's (no metadata: no username goes with it). */
export function toStoreSystemEvent(event: SystemEvent): EventToAppend {
  return { id: event.id, type: event.type, data: jsonOf(event) };
}

/** Stored events were validated on the way in, so they are trusted on the way out. */
export function fromStoreEvent(recorded: RecordedEvent): StateEvent | undefined {
  // JsonObject to an interface: the data was parsed by the event's schema when it was appended.
  if (isUserEventType(recorded.type)) return recorded.data as unknown as UserEvent;
  // Checkpoints are built by src/domain/system-events.ts and never taken from a client.
  if (recorded.type === 'checkpoint') return recorded.data as unknown as StateEvent;
  return undefined;
}

export function usernameOf(recorded: RecordedEvent): string | undefined {
  const value = recorded.metadata['username'];
  return typeof value === 'string' ? value : undefined;
}
