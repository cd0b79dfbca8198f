/**
 * Writing and reading a user's events: the application layer between HTTP and the store.
 * Decisions are pure (src/domain); this module only loads, appends and retries.
 */
import { randomUUID } from 'node:crypto';
import type { ActionInput, UserEvent } from '../domain/events.js';
import { streams } from '../domain/events.js';
import { actionToEvent, byTimestamp } from '../domain/decide.js';
import { isDeepStrictEqual } from 'node:util';
import type { AppendResult, EventStore, Position, RecordedEvent } from '../stores/event-store.js';
import { comparePositions, IdempotencyConflictError, readStreamOrEmpty, StreamNotFoundError } from '../stores/event-store.js';
import { toStoreEvent } from './codec.js';
import type { Principal } from './accounts.js';
import type { FoldedUser } from './folded-user.js';
import { emptyFoldedUser, foldOnto, streamEventOf } from './folded-user.js';
import type { CachedUser, UserStateCache } from './user-state-cache.js';

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
  constructor(
    readonly store: EventStore,
    /** Folded users kept between requests; without it every load folds the whole stream. */
    readonly cache?: UserStateCache,
  ) {}

  /**
   * Called after every append of user events, once the append has landed: the one place for
   * what a write sets off in the request. Nothing, today: a `remove` is erased for real by the
   * erasure reactor (src/retention/erasure-reactor.ts, docs/design.md, "Erasure"), which reads
   * it from `$all` shortly after, so the request does not wait for the erasure.
   */
  async afterAppend(_userId: string, _events: readonly UserEvent[]): Promise<void> {}

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
    const cached = this.cache?.get(userId);
    if (this.cache && cached) {
      const updated = await this.catchUp(stream, cached);
      if (updated !== undefined) {
        this.cache.record('hit');
        if (updated !== cached.folded) this.cache.set(userId, { folded: updated, metaRevision: cached.metaRevision });
        return updated;
      }
      this.cache.record('stale');
      this.cache.delete(userId);
    }
    // Metadata first: if the stream is truncated between the two reads, the entry carries the
    // older metadata revision and the next load drops it.
    const { metaRevision } = this.cache ? await this.store.getStreamMetadata(stream) : { metaRevision: 'no_stream' as const };
    const recorded = await readStreamOrEmpty(this.store, stream);
    const folded = foldOnto(emptyFoldedUser(), recorded.map(streamEventOf));
    this.cache?.set(userId, { folded, metaRevision });
    return folded;
  }

  /** The cached user with the events appended since, or undefined if the entry is no longer valid. */
  private async catchUp(stream: string, cached: CachedUser): Promise<FoldedUser | undefined> {
    const { folded } = cached;
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
   * A retried append wrote nothing: the stored events under its ids must be these events, or a
   * client reused an id for something else, which would otherwise be dropped silently. The
   * original append is read back where it ends (its events were appended together).
   */
  private async checkRetry(stream: string, events: readonly UserEvent[], result: AppendResult): Promise<void> {
    const from = result.nextRevision - BigInt(events.length - 1);
    const stored = new Map((await this.store.readStream(stream, { fromRevision: from < 0n ? 0n : from, maxCount: events.length })).map((event) => [event.id, event.data]));
    const conflicts = events.filter((event) => stored.has(event.id) && !isDeepStrictEqual(stored.get(event.id), toStoreEvent(event).data)).map((event) => event.id);
    if (conflicts.length > 0) throw new EventIdConflictError(conflicts);
  }

  /**
   * Appends the events of a batch of client actions atomically. Actions do not depend on the
   * current state, so no expected revision is needed: concurrent writers never conflict, and
   * client-supplied ids make a retried request add nothing (the store dedupes by id).
   */
  async appendActions(principal: Principal, actions: ActionInput[]): Promise<AppendOutcome> {
    const inRequestOrder = actions.map((action) => actionToEvent(action, { user: principal.userId, newId: randomUUID }));
    const events = byTimestamp(inRequestOrder);
    const stream = streams.user(principal.userId);
    const clientIds = actions.flatMap((action) => (action.id === undefined ? [] : [action.id]));
    // Only a request with client ids can be a retry; the head tells a retry (found at or before
    // it) from a new write (after it).
    const headBefore = clientIds.length > 0 ? await this.store.headPosition() : undefined;
    let result: AppendResult;
    try {
      result = await this.store.append(stream, events.map((event) => toStoreEvent(event, { username: principal.username })), { expectedRevision: 'any' });
    } catch (error) {
      if (error instanceof IdempotencyConflictError) throw new EventIdConflictError(clientIds);
      throw error;
    }
    if (headBefore !== undefined && comparePositions(result.position, headBefore) <= 0) await this.checkRetry(stream, events, result);
    await this.afterAppend(principal.userId, events);
    return { events, ids: inRequestOrder.map((event) => event.id), position: result.position };
  }
}
