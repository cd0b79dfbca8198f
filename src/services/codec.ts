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
import { fromJson, toJsonObject } from '../domain/json.js';

export interface EventMetadata {
  username?: string;
  request_id?: string;
}

export function toStoreEvent(event: UserEvent, metadata: EventMetadata = {}): EventToAppend {
  return { id: event.id, type: event.type, data: toJsonObject(event), metadata: metadata as JsonObject };
}

/** A system event as the store's (no metadata: no username goes with it). */
export function toStoreSystemEvent(event: SystemEvent): EventToAppend {
  return { id: event.id, type: event.type, data: toJsonObject(event) };
}

/** Stored events were validated on the way in, so they are trusted on the way out. */
export function fromStoreEvent(recorded: RecordedEvent): StateEvent | undefined {
  if (isUserEventType(recorded.type)) return fromJson<UserEvent>(recorded.data);
  // Checkpoints are built by src/domain/system-events.ts and never taken from a client.
  if (recorded.type === 'checkpoint') return fromJson<StateEvent>(recorded.data);
  return undefined;
}

export function usernameOf(recorded: RecordedEvent): string | undefined {
  const value = recorded.metadata['username'];
  return typeof value === 'string' ? value : undefined;
}
