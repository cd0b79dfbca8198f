/**
 * Mapping between domain events and store events. The store event's `data` is the whole
 * envelope (so an admin reading a stream in the EventStoreDB UI sees the complete event);
 * its `metadata` carries what only the service needs (the username, for public views).
 */
import type { StateEvent } from '../domain/state.js';
import type { UserEvent } from '../domain/events.js';
import { isUserEventType } from '../domain/events.js';
import type { EventToAppend, JsonObject, RecordedEvent } from '../stores/event-store.js';

export interface EventMetadata {
  username?: string;
  request_id?: string;
}

export function toStoreEvent(event: UserEvent, metadata: EventMetadata = {}): EventToAppend {
  return { id: event.id, type: event.type, data: event as unknown as JsonObject, metadata: metadata as JsonObject };
}

/** Stored events were validated on the way in, so they are trusted on the way out. */
export function fromStoreEvent(recorded: RecordedEvent): StateEvent | undefined {
  if (isUserEventType(recorded.type)) return recorded.data as unknown as UserEvent;
  if (recorded.type === 'checkpoint') return recorded.data as unknown as StateEvent;
  return undefined;
}

export function usernameOf(recorded: RecordedEvent): string | undefined {
  const value = recorded.metadata['username'];
  return typeof value === 'string' ? value : undefined;
}
