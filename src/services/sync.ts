/**
 * `POST /v1/sync` (SPEC 5): load the user's state, decide the differences (pure, in
 * src/domain/sync.ts), append them with the closing `sync` event in one atomic append at
 * the expected revision, retry on a concurrent writer, then answer with every record that
 * changed after the client's cursor.
 *
 * The cursor is the `$all` commit position (a server sequence), never a client clock, so a
 * change uploaded late by another device with an old timestamp still reaches every device
 * that syncs from an earlier cursor.
 *
 * The answer is computed from the user's stream, which the sync loads anyway to decide,
 * rather than from the read models: a user's records depend only on their own stream, so the
 * state after this append plus the positions of the events that touched each record say
 * exactly what changed after the cursor, with no wait for the projector and no queries. The
 * records touched are the ones the read models would restamp (the same `touches` functions),
 * so the answer is what the read models would give once caught up, and the new cursor is the
 * position of this append: nothing of this user at or below it is left unanswered.
 */
import { randomUUID } from 'node:crypto';
import { streams } from '../domain/events.js';
import type { SyncRequest } from '../domain/sync.js';
import { decideSync, syncClosingEvent, syncCounts } from '../domain/sync.js';
import type { PlayStatusState, SubscriptionState, UserState } from '../domain/state.js';
import { fold } from '../domain/state.js';
import type { Doc } from '../stores/read-model.js';
import { toStoreEvent } from './codec.js';
import type { Principal } from './accounts.js';
import { retryOnConflict } from './retry.js';
import type { PositionedEvent, UserEventService } from './user-events.js';
import type { ProjectedEvent } from '../../projections/projection.js';
import { subscriptionsProjection } from '../../projections/subscriptions.js';
import { playStatusesProjection } from '../../projections/play-statuses.js';
import { playlistsProjection, presentPlaylist } from '../../projections/playlists.js';
import type { UserRecordProjection } from '../../projections/user-records.js';

export interface SyncAnswer {
  since: string;
  subscriptions: SubscriptionState[];
  play_statuses: PlayStatusState[];
  playlists: Doc[];
  /** What this request added: 0 for a repeated request_id. */
  applied: { events: number; duplicate: boolean };
}

export class SyncService {
  constructor(
    private readonly userEvents: UserEventService,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async sync(principal: Principal, request: SyncRequest): Promise<SyncAnswer> {
    const since = request.since === undefined || request.since === null ? undefined : BigInt(request.since);
    const outcome = await retryOnConflict(async () => {
      const user = await this.userEvents.loadUser(principal.userId, since === undefined ? {} : { historyAfter: since });
      if (user.syncRequestIds.has(request.request_id)) {
        const last = user.position?.commit ?? 0n;
        // Nothing is appended: every event of the user at the time of the read is answered.
        return { state: user.state, history: user.history, cursor: since !== undefined && since > last ? since : last, changes: [], duplicate: true };
      }
      const ctx = { user: principal.userId, newId: randomUUID, now: this.clock().toISOString() };
      const changes = decideSync(user.state, request, ctx);
      const closing = syncClosingEvent(request, syncCounts(changes), ctx);
      const result = await this.userEvents.store.append(
        streams.user(principal.userId),
        [...changes, closing].map((event) => toStoreEvent(event, { username: principal.username, request_id: request.request_id })),
        { expectedRevision: user.revision },
      );
      // Every event of this append is at or below its last position (EventStoreDB may give
      // them all one commit position), which is above the client's cursor.
      const written = [...changes, closing].map((event) => ({ event, position: result.position }));
      return { state: fold(changes, user.state), history: [...user.history, ...written], cursor: result.position.commit, changes, duplicate: false };
    });
    if (outcome.changes.length > 0) await this.userEvents.afterAppend(principal.userId, outcome.changes);
    const { state, history } = outcome;
    return {
      since: String(outcome.cursor),
      subscriptions: changedRecords(subscriptionsProjection, 'subscriptions', state, history, since),
      play_statuses: changedRecords(playStatusesProjection, 'play_statuses', state, history, since),
      playlists: changedRecords(playlistsProjection, 'playlists', state, history, since)
        .map((playlist) => presentPlaylist(playlist as unknown as Doc, { includeDeleted: true }))
        .filter((playlist) => playlist !== undefined),
      applied: { events: outcome.duplicate ? 0 : outcome.changes.length + 1, duplicate: outcome.duplicate },
    };
  }
}

/**
 * The records of one slice of `state` touched by an event after `since` (all of them without
 * a cursor), in the order of their last touch, as the read model orders them by `seq`.
 */
function changedRecords<S extends 'subscriptions' | 'play_statuses' | 'playlists'>(
  projection: UserRecordProjection,
  slice: S,
  state: UserState,
  history: readonly PositionedEvent[],
  since: bigint | undefined,
): UserState[S][string][] {
  const lastTouch = new Map<string, number>();
  let allTouched = -1;
  history.forEach(({ event, position }, index) => {
    if (since !== undefined && position.commit <= since) return;
    // Stored events are projected events: the same data the projector hands `touches`.
    const keys = projection.touches(event as ProjectedEvent['event']);
    if (keys === 'all') allTouched = index;
    else if (keys !== 'none') for (const key of keys) lastTouch.set(key, index);
  });
  const records = state[slice] as Record<string, UserState[S][string]>;
  const changed: { at: number; record: UserState[S][string] }[] = [];
  if (allTouched < 0 && since !== undefined) {
    // The usual resync: only the few records touched since the cursor (erased ones are gone).
    for (const [key, at] of lastTouch) {
      const record = records[key];
      if (record !== undefined && Object.hasOwn(records, key)) changed.push({ at, record });
    }
  } else {
    for (const [key, record] of Object.entries(records)) changed.push({ at: Math.max(lastTouch.get(key) ?? -1, allTouched), record });
  }
  return changed.sort((a, b) => a.at - b.at).map(({ record }) => record);
}
