/**
 * A tiny given/when/then helper in the style of Emmett's DeciderSpecification:
 *
 *   spec.given([events...]).when(command).then([expected events...])
 *
 * `given` folds the events into the server state, `when` runs the decision with a
 * deterministic context, `then` checks every emitted event against the `userEvent` schema,
 * its user and the uniqueness of ids, and compares the events without their ids (which are
 * noise in expectations). It returns the events and the state after folding them, for
 * further assertions.
 */
import { expect } from 'chai';
import type { UserEvent } from '../../src/domain/events.js';
import { userEvent } from '../../src/domain/events.js';
import type { StateEvent, UserState } from '../../src/domain/state.js';
import { fold } from '../../src/domain/state.js';

export const USER = 'user-1';
export const NOW = '2026-06-01T00:00:00.000Z';

/** Deterministic v4-shaped UUIDs: 00000000-0000-4000-8000-00000000000n. */
export function uuidOf(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export function idSequence(start = 1): () => string {
  let next = start;
  return () => uuidOf(next++);
}

/** Minute `n` of 2026-01-01, in the normalised form the schemas produce. */
export function t(n: number): string {
  return new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString();
}

export interface TestContext {
  user: string;
  newId: () => string;
  now: string;
}

export function testContext(): TestContext {
  // Ids of emitted events start far from those of `given` events so collisions show up.
  return { user: USER, newId: idSequence(0x100000), now: NOW };
}

/** An event without its id: what expectations compare. */
export function withoutId(event: UserEvent): Omit<UserEvent, 'id'> {
  const { id: _id, ...rest } = event;
  return rest;
}

export interface Outcome {
  events: UserEvent[];
  /** The server state after folding the emitted events. */
  state: UserState;
}

export function deciderSpec<C>(decide: (state: UserState, command: C, ctx: TestContext) => UserEvent[]) {
  return {
    given(history: StateEvent[] | UserState) {
      const state = Array.isArray(history) ? fold(history) : history;
      return {
        when(command: C) {
          const ctx = testContext();
          return {
            then(expected: UserEvent[]): Outcome {
              const events = decide(state, command, ctx);
              assertWellFormed(events);
              expect(events.map(withoutId)).to.deep.equal(expected.map(withoutId));
              return { events, state: fold(events, state) };
            },
            thenNothing(): Outcome {
              return this.then([]);
            },
          };
        },
      };
    },
  };
}

export function assertWellFormed(events: readonly UserEvent[]): void {
  for (const [index, event] of events.entries()) {
    const parsed = userEvent.safeParse(event);
    expect(parsed.success, `event ${index} (${event.type}) fails the schema: ${parsed.error?.message}`).to.equal(true);
    expect(parsed.data, `event ${index} (${event.type}) is not in normalised form`).to.deep.equal(event);
    expect(event.user).to.equal(USER);
  }
  const ids = events.map((event) => event.id);
  expect(new Set(ids).size, 'event ids are unique').to.equal(ids.length);
}

// ---- event builders (full events, for `given` and for expectations) -----------------------

const givenIds = idSequence(1);
const envelope = (timestamp: string) => ({ id: givenIds(), user: USER, timestamp });
const episode = (feed: string, guid: string) => ({ rss_source_feed: feed, rss_source_id: guid });

type Data<T extends UserEvent['type']> = Extract<UserEvent, { type: T }>['data'];

export const ev = {
  subscribe: (feed: string, at: string, data: Data<'subscribe'> = {}): UserEvent => ({
    ...envelope(at),
    type: 'subscribe',
    object: { rss_source_feed: feed },
    data,
  }),
  unsubscribe: (feed: string, at: string, data: Data<'unsubscribe'> = {}): UserEvent => ({
    ...envelope(at),
    type: 'unsubscribe',
    object: { rss_source_feed: feed },
    data,
  }),
  play: (feed: string, guid: string, at: string, data: Data<'play'>): UserEvent => ({
    ...envelope(at),
    type: 'play',
    object: episode(feed, guid),
    data,
  }),
  position: (feed: string, guid: string, at: string, position: number): UserEvent => ({
    ...envelope(at),
    type: 'position',
    object: episode(feed, guid),
    data: { position },
  }),
  episodeAction: (feed: string, guid: string, at: string, action: Data<'episode_action'>['action']): UserEvent => ({
    ...envelope(at),
    type: 'episode_action',
    object: episode(feed, guid),
    data: { action },
  }),
  save: (feed: string, guid: string, at: string, data: Data<'save'> = {}): UserEvent => ({
    ...envelope(at),
    type: 'save',
    object: episode(feed, guid),
    data,
  }),
  playlist: (at: string, data: Data<'playlist'>): UserEvent => ({ ...envelope(at), type: 'playlist', object: null, data }),
  privacy: (at: string, privacy: Data<'privacy'>['privacy'], feed?: string): UserEvent => ({
    ...envelope(at),
    type: 'privacy',
    object: feed === undefined ? null : { rss_source_feed: feed },
    data: { privacy },
  }),
  remove: (at: string, scope: { rss_source_feed: string; rss_source_id?: string } | null): UserEvent => ({
    ...envelope(at),
    type: 'remove',
    object: scope,
    data: {},
  }),
  checkpoint: (at: string, state: UserState): StateEvent => ({ type: 'checkpoint', timestamp: at, data: { state } }),
};
