/**
 * The one write path of user streams (docs/design.md, "Events and streams": "every write is one
 * atomic append at the revision the decision read, retried on a concurrent writer"), on the
 * model of Emmett's `handleCommand`: load the folded user → decide (a pure function of the
 * user's state and the command, src/domain) → append the events at the revision the state was
 * folded to → on a concurrent writer, load and decide again. What a write sets off afterwards
 * (erasure of a `remove`) is a reactor's job (src/retention/erasure-reactor.ts), not the request's.
 *
 * Why one path: a decision taken on anything but the state it is appended after (read models
 * that lag, or no state at all with `any`) can act on a stale state — a device created twice, a
 * subscription diffed against a list another device just changed — and every path had its own
 * retry and idempotency rules. Native events, sync, the gpodder and Nextcloud
 * APIs and the web pages all write through {@link handleCommand}; reads are not its business.
 *
 * Idempotency: events may carry ids a client chose (or, for gpodder episode actions, ids derived
 * from the action). Both stores recognise a retried append — all its ids among the stream's last
 * events — whatever the expected revision, and answer it as the first time without writing (the
 * event store port, test/stores/event-store.contract.ts, "idempotency"). A retry is loaded after
 * its original, so its append comes back at or below the revision decided on: nothing was
 * written, and the events stored under those ids must be the ones decided, or
 * {@link EventIdConflictError}.
 */
import type { UserEvent } from '../domain/events.js';
import { streams } from '../domain/events.js';
import type { AppendResult, JsonObject, Position } from '../stores/event-store.js';
import { toStoreEvent, userEventOf } from './codec.js';
import type { Principal } from './accounts.js';
import type { FoldedUser } from './folded-user.js';
import { retryOnConflict } from './retry.js';
import type { UserEventService } from './user-events.js';
import { jsonEqual } from '../domain/json.js';
import { yieldToEventLoop } from '../concurrency.js';

/** Events from which an append is long enough to be folded on a turn of its own. */
export const LONG_APPEND = 1_000;

/**
 * A client reused event ids: for other content than the events stored under them, or mixed with
 * new ids in one request (neither a retry nor a new write). Nothing was written.
 */
export class EventIdConflictError extends Error {
  override readonly name = 'EventIdConflictError';
  constructor(readonly ids: readonly string[]) {
    super(`Event ids already used for other events: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`);
  }
}

/** What a decision gives: the events to append (none: nothing to write) and what the caller answers with. */
export interface Decision<R> {
  readonly events: readonly UserEvent[];
  readonly result: R;
}

/**
 * Decides on the user as loaded. Pure apart from fresh ids and the clock it closes over: it may be
 * called again after a conflict, with the state another writer left. A domain error it throws
 * (e.g. a 400 naming a field) ends the command with nothing written. A long decision may be
 * taken in steps (a promise), other requests served between them: the user it reads is a
 * folded state, which nothing changes in place, and no other command of the user runs meanwhile.
 */
export type Decide<R> = (user: FoldedUser) => Decision<R> | Promise<Decision<R>>;

export interface CommandOptions {
  /** Stored with every event beside the username (a sync's `request_id`). */
  readonly metadata?: JsonObject;
  /** Load–decide–append rounds before a conflict is given up (see {@link retryOnConflict}). */
  readonly attempts?: number;
}

export interface CommandOutcome<R> {
  /** The user the decision was taken on (the events are appended after it). */
  readonly user: FoldedUser;
  /**
   * The user after the command: `user` with the events written folded on top, each at the
   * append's last position (EventStoreDB gives all events of an append one commit position; a
   * cursor is never inside an append). `user` itself when nothing was written.
   */
  readonly after: FoldedUser;
  /** The events decided, in stream order. */
  readonly events: readonly UserEvent[];
  readonly result: R;
  /** The store's answer; undefined when nothing was decided. */
  readonly appended: AppendResult | undefined;
  /** False when nothing was decided, or the store recognised the events as already written (a retry). */
  readonly written: boolean;
  /** Position of the user's last event after the command (reads wait for read models to reach it). */
  readonly position: Position | undefined;
}

/**
 * Loads, decides, appends at the expected revision, retries on a concurrent writer; one
 * command of a user at a time in this process (UserEventService.oneAtATime).
 */
export async function handleCommand<R>(
  userEvents: UserEventService,
  principal: Principal,
  decide: Decide<R>,
  options: CommandOptions = {},
): Promise<CommandOutcome<R>> {
  const stream = streams.user(principal.userId);
  return userEvents.oneAtATime(principal.userId, () =>
    retryOnConflict(async (): Promise<CommandOutcome<R>> => {
      const user = await userEvents.loadUser(principal.userId);
      const { events, result } = await decide(user);
      if (events.length === 0) return { user, after: user, events, result, appended: undefined, written: false, position: user.position };
      const appended = await userEvents.store.append(
        stream,
        events.map((event) => toStoreEvent(event, { username: principal.username, ...options.metadata })),
        { expectedRevision: user.revision },
      );
      const written = user.revision === 'no_stream' || appended.nextRevision > user.revision;
      if (!written) await checkRetry(userEvents, stream, events, appended);
      // A long append (a first sync: up to 50,000 events) is folded on a later turn than its
      // commit, and in steps: requests that waited for the commit are served in between.
      else if (events.length >= LONG_APPEND) await yieldToEventLoop();
      const after = written ? await userEvents.appended(principal.userId, user, events, appended) : user;
      return { user, after, events, result, appended, written, position: appended.position };
    }, options.attempts),
  );
}

/**
 * A retried append wrote nothing: the stored events under its ids must be these events, or a
 * client reused an id for something else, which would otherwise be dropped silently. The
 * original append is read back where it ends (its events were appended together).
 */
async function checkRetry(userEvents: UserEventService, stream: string, events: readonly UserEvent[], result: AppendResult): Promise<void> {
  const from = result.nextRevision - BigInt(events.length - 1);
  const read = await userEvents.store.readStream(stream, { fromRevision: from < 0n ? 0n : from, maxCount: events.length });
  const stored = new Map(read.map((event) => [event.id, event]));
  const conflicts = events
    .filter((event) => {
      const found = stored.get(event.id);
      return found !== undefined && !jsonEqual(userEventOf(found), event);
    })
    .map((event) => event.id);
  if (conflicts.length > 0) throw new EventIdConflictError(conflicts);
}
