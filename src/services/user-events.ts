/**
 * Writing and reading a user's events: the application layer between HTTP and the store.
 * Decisions are pure (src/domain); this module only loads, appends and retries.
 */
import { randomUUID } from 'node:crypto';
import type { ActionInput, UserEvent } from '../domain/events.js';
import { streams } from '../domain/events.js';
import type { UserState } from '../domain/state.js';
import { fold } from '../domain/state.js';
import { decideActions } from '../domain/decide.js';
import type { EventStore, Position } from '../stores/event-store.js';
import { readStreamOrEmpty } from '../stores/event-store.js';
import { fromStoreEvent, toStoreEvent } from './codec.js';
import type { Principal } from './accounts.js';

export interface AppendOutcome {
  readonly events: UserEvent[];
  /** Position of the last event written: reads can wait for the read models to reach it. */
  readonly position: Position;
}

export class UserEventService {
  constructor(private readonly store: EventStore) {}

  /** The user's current state, folded from their retained stream. */
  async loadState(userId: string): Promise<{ state: UserState; revision: bigint | 'no_stream' }> {
    const recorded = await readStreamOrEmpty(this.store, streams.user(userId));
    const events = recorded.map(fromStoreEvent).filter((event) => event !== undefined);
    const last = recorded.at(-1);
    return { state: fold(events), revision: last ? last.revision : 'no_stream' };
  }

  /**
   * Appends the events of a batch of client actions atomically. Actions do not depend on the
   * current state, so no expected revision is needed: concurrent writers never conflict, and
   * client-supplied ids make a retried request add nothing (the store dedupes by id).
   */
  async appendActions(principal: Principal, actions: ActionInput[]): Promise<AppendOutcome> {
    const events = decideActions(actions, { user: principal.userId, newId: randomUUID });
    const result = await this.store.append(
      streams.user(principal.userId),
      events.map((event) => toStoreEvent(event, { username: principal.username })),
      { expectedRevision: 'any' },
    );
    return { events, position: result.position };
  }
}
