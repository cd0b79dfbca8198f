/**
 * Writing and reading a user's events: the application layer between HTTP and the store.
 * Decisions are pure (src/domain); this module loads users, and every write goes through the
 * command handler (src/services/command-handler.ts).
 */
import { newEventId } from '../domain/ids.js';
import type { ActionInput, UserEvent } from '../domain/events.js';
import { streams } from '../domain/events.js';
import { decideActionBatch } from '../domain/decide.js';
import type { AppendResult, EventStore, Position, RecordedEvent } from '../stores/event-store.js';
import { IdempotencyConflictError, readStreamPages, START, StreamNotFoundError } from '../stores/event-store.js';
import type { Principal } from './accounts.js';
import { EventIdConflictError, handleCommand } from './command-handler.js';
import type { FoldedUser } from './folded-user.js';
import { emptyFoldedUser, foldOnto, streamEventOf } from './folded-user.js';
import type { CachedUser, UserStateCache } from './user-state-cache.js';
import { cutAfterStates } from './codec.js';
import { yieldToEventLoop } from '../concurrency.js';

/** Events of one append folded into the cached user between two yields. */
const FOLD_STEP = 2_000;

export { EventIdConflictError };

export interface AppendOutcome {
  /** As appended: in timestamp order. */
  readonly events: UserEvent[];
  /** The events' ids in the order of the request's actions (what the client matches them by). */
  readonly ids: string[];
  /** Position of the last event written: reads can wait for the read models to reach it. */
  readonly position: Position;
}

/**
 * The user's state as a sync needs it (see {@link FoldedUser}): shared, possibly with a cache
 * and other requests, so never to be mutated.
 */
export type LoadedUser = FoldedUser;

export class UserEventService {
  /** The last command of each user running or queued here ({@link oneAtATime}). */
  private readonly commandsByUser = new Map<string, Promise<unknown>>();

  constructor(
    readonly store: EventStore,
    /** Folded users kept between requests; without it every load folds the whole stream. */
    readonly cache?: UserStateCache,
    /** Events read at a time when a whole stream is folded (see {@link loadUser}). */
    private readonly pageSize = 2_000,
  ) {}

  /**
   * The user's current state, folded from their retained stream, with the stream revision
   * it reflects (for an optimistic append), the request ids of the syncs it holds (so a
   * retried sync is recognised) and the last event touching each synced record.
   *
   * With a cache, a user folded by an earlier request is brought up to date with only the
   * events appended since, and is used only if the stream still reads as it did:
   * - the events after the cached revision follow it without a gap (none was hidden), none is
   *   a `checkpoint` (retention and erasure append one before they rewrite the stream's past:
   *   erasure deletes events in place), and the stream is not deleted;
   * - the stream's metadata is unchanged (its revision moves with every `$tb` truncation and
   *   soft delete), read *after* the events, so nothing was truncated before they were read.
   * Otherwise the entry is dropped and the whole stream is folded again, as without a cache.
   */
  async loadUser(userId: string): Promise<LoadedUser> {
    const stream = streams.user(userId);
    const cached = await this.loadCachedUser(userId);
    if (cached !== undefined) return cached;
    // Metadata first: if the stream is truncated between the two reads, the entry carries the
    // older metadata revision and the next load drops it.
    const { metaRevision } = this.cache ? await this.store.getStreamMetadata(stream) : { metaRevision: 'no_stream' as const };
    // In pages, other requests served between them: folding a heavy user's whole stream at
    // once (the first request after a start) held every request a third of a second. A
    // truncation between two pages is harmless: the checkpoint before it carries the state.
    let folded = emptyFoldedUser();
    for await (const page of cutAfterStates(readStreamPages(this.store, stream, this.pageSize))) folded = foldOnto(folded, page.map(streamEventOf));
    this.cache?.set(userId, { folded, metaRevision });
    return folded;
  }

  /**
   * {@link loadUser} when the cache holds the user (brought up to date as there), else
   * undefined: for a read that has a cheaper way than folding a whole stream.
   */
  async loadCachedUser(userId: string): Promise<LoadedUser | undefined> {
    const cached = this.cache?.get(userId);
    if (this.cache === undefined || cached === undefined) return undefined;
    const updated = await this.catchUp(streams.user(userId), cached);
    if (updated === undefined) {
      this.cache.record('stale');
      this.cache.delete(userId);
      return undefined;
    }
    this.cache.record('hit');
    if (updated !== cached.folded) this.cache.set(userId, { folded: updated, metaRevision: cached.metaRevision });
    return updated;
  }

  /**
   * Runs the commands of one user in this process one after the other (the command handler
   * wraps every load–decide–append in it). Between a command's load and its append other
   * requests are served (EventStoreDB answers an append over the network; the embedded store
   * commits appends made after the first of a turn at the end of it:
   * src/stores/embedded/sqlite-event-store.ts), so two requests of one user — a client sending
   * in parallel — would both decide on the same revision and all but one start again, as often
   * as there are requests. In turn, each decides on the state the one before it left. Other
   * processes' writes are still met by the expected revision, and retried.
   */
  oneAtATime<T>(userId: string, command: () => Promise<T>): Promise<T> {
    const before = this.commandsByUser.get(userId);
    const run = before ? before.then(command, command) : command();
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.commandsByUser.set(userId, settled);
    void settled.then(() => {
      if (this.commandsByUser.get(userId) === settled) this.commandsByUser.delete(userId);
    });
    return run;
  }

  /**
   * `before` with the events just appended after it (at the revision it was folded to) folded
   * on top, each at the append's last position; kept in the cache in place of `before`, so the
   * next load of the user reads only what others appended since instead of reading back and
   * decoding this append. Only when the cache still holds `before` itself: the entry was then
   * checked against the stream's metadata, and the append at its revision proves no event came
   * between.
   */
  async appended(userId: string, before: FoldedUser, events: readonly UserEvent[], result: AppendResult): Promise<FoldedUser> {
    const first = before.revision === 'no_stream' ? 0n : before.revision + 1n;
    const stamped = events.map((event, index) => ({ event, revision: first + BigInt(index), position: result.position }));
    // A long append (a first sync, a gpodder upload of thousands of actions) is folded a step
    // at a time, other requests served in between: folded in steps or at once, a user answers
    // the same (test/services/folded-user.test.ts).
    let after = before;
    for (let from = 0; from < stamped.length; from += FOLD_STEP) {
      if (from > 0) await yieldToEventLoop();
      after = foldOnto(after, stamped.slice(from, from + FOLD_STEP));
    }
    const cached = this.cache?.peek(userId);
    if (cached !== undefined && cached.folded === before) this.cache?.set(userId, { folded: after, metaRevision: cached.metaRevision });
    return after;
  }

  /** The cached user with the events appended since, or undefined if the entry is no longer valid. */
  private async catchUp(stream: string, cached: CachedUser): Promise<FoldedUser | undefined> {
    const { folded } = cached;
    // Most loads find the stream as the cache left it (this process wrote its last events, see
    // appended): its state alone tells, one read of a row on the embedded store, no event read.
    const state = await this.store.streamState(stream);
    if (state.tombstoned || state.softDeleted || state.metaRevision !== cached.metaRevision) return undefined;
    if (state.lastRevision === folded.revision) return folded;
    // A user with no events yet continues at revision 0 (a re-created stream would not: a gap).
    const next = folded.revision === 'no_stream' ? 0n : folded.revision + 1n;
    let recorded: RecordedEvent[];
    try {
      recorded = await this.store.readStream(stream, { fromRevision: next });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
    let expected = next;
    for (const event of recorded) {
      if (event.revision !== expected++ || event.type === 'checkpoint') return undefined;
    }
    const { metaRevision } = await this.store.getStreamMetadata(stream);
    if (metaRevision !== cached.metaRevision) return undefined;
    return foldOnto(folded, recorded.map(streamEventOf));
  }

  /**
   * Appends the events of a batch of client actions atomically, through the one write path
   * ({@link handleCommand}). Actions are facts from a device: the decision (src/domain/decide.ts)
   * does not depend on the state, but the append still expects the revision loaded, like every
   * write. Client-supplied ids make a retried request add nothing (the store recognises them
   * whatever the expected revision); ids reused for other events, or mixed with new ones, are an
   * {@link EventIdConflictError}.
   */
  async appendActions(principal: Principal, actions: ActionInput[]): Promise<AppendOutcome> {
    const ctx = { user: principal.userId, newId: newEventId };
    const clientIds = actions.flatMap((action) => (action.id === undefined ? [] : [action.id]));
    let outcome;
    try {
      outcome = await handleCommand(this, principal, () => {
        const { events, ids } = decideActionBatch(actions, ctx);
        return { events, result: { ids } };
      });
    } catch (error) {
      if (error instanceof IdempotencyConflictError) throw new EventIdConflictError(clientIds);
      throw error;
    }
    return { events: [...outcome.events], ids: outcome.result.ids, position: outcome.position ?? START };
  }
}
