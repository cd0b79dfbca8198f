/**
 * Writing and reading a user's events: the application layer between HTTP and the store.
 * Decisions are pure (src/domain); this module only loads, appends and retries.
 */
import { randomUUID } from 'node:crypto';
import type { ActionInput, UserEvent } from '../domain/events.js';
import { streams } from '../domain/events.js';
import type { StateEvent, UserState } from '../domain/state.js';
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

export interface LoadedUser {
  readonly state: UserState;
  readonly revision: bigint | 'no_stream';
  readonly syncRequestIds: ReadonlySet<string>;
  /** `$all` position of the user's last event; undefined with none. */
  readonly position: Position | undefined;
  /**
   * The retained events after `historyAfter` (all without it), oldest first, with their
   * positions: what a sync answer needs to tell which records changed after a cursor.
   */
  readonly history: readonly PositionedEvent[];
}

export interface PositionedEvent {
  readonly event: StateEvent;
  readonly position: Position;
}

export class UserEventService {
  constructor(
    readonly store: EventStore,
    /** Carries out erasure for real once a `remove` has landed (SPEC 8); see src/retention. */
    private readonly eraseScopes: (userId: string) => Promise<unknown> = async () => undefined,
  ) {}

  /** Called after every append of user events: a `remove` among them is erased for real. */
  async afterAppend(userId: string, events: readonly UserEvent[]): Promise<void> {
    if (events.some((event) => event.type === 'remove')) await this.eraseScopes(userId);
  }

  /**
   * The user's current state, folded from their retained stream, with the stream revision
   * it reflects (for an optimistic append) and the request ids of the syncs it holds (so a
   * retried sync is recognised).
   */
  async loadUser(userId: string, options: { historyAfter?: bigint } = {}): Promise<LoadedUser> {
    const recorded = await readStreamOrEmpty(this.store, streams.user(userId));
    const events: StateEvent[] = [];
    const history: PositionedEvent[] = [];
    const syncRequestIds = new Set<string>();
    for (const stored of recorded) {
      const event = fromStoreEvent(stored);
      if (!event) continue;
      if (event.type === 'sync') syncRequestIds.add(event.data.request_id);
      events.push(event);
      if (options.historyAfter === undefined || stored.position.commit > options.historyAfter) history.push({ event, position: stored.position });
    }
    const last = recorded.at(-1);
    return { state: fold(events), revision: last?.revision ?? 'no_stream', position: last?.position, syncRequestIds, history };
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
    await this.afterAppend(principal.userId, events);
    return { events, position: result.position };
  }
}
