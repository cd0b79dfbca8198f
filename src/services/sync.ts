/**
 * `POST /v1/sync` (docs/design.md, "Sync"): through the one write path (src/services/command-handler.ts),
 * load the user's state, decide the differences (pure, in src/domain/sync.ts), append them with
 * the closing `sync` event in one atomic append at the expected revision, retry on a concurrent
 * writer, then answer with every record that
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
 *
 * The user is loaded folded (src/services/folded-user.ts), from a cache when the service has
 * one: a resync then reads and folds only the events appended since the last request.
 */
import { newEventId } from '../domain/ids.js';
import type { UserEvent } from '../domain/events.js';
import type { SyncRequest } from '../domain/sync.js';
import { decideSyncSteps, syncClosingEvent, syncCounts, syncReads } from '../domain/sync.js';
import { runPaced, yieldToEventLoop } from '../concurrency.js';
import { toJsonObject } from '../domain/json.js';
import type { PlayStatusState, SubscriptionState } from '../domain/state.js';
import type { Doc } from '../stores/read-model.js';
import type { Principal } from './accounts.js';
import { LONG_APPEND, handleCommand } from './command-handler.js';
import { FEW_RECORDS, changesSince, decisionState, syncedRecords } from './folded-user.js';
import type { UserEventService } from './user-events.js';
import { presentPlaylist } from '../../projections/playlists.js';

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
    const ctx = { user: principal.userId, newId: newEventId, now: this.clock().toISOString() };
    const command = await handleCommand(
      this.userEvents,
      principal,
      async (user) => {
        // A retried sync (its request_id already folded) decides nothing.
        if (user.syncRequestIds.has(request.request_id)) return { events: [], result: { changes: [] as UserEvent[], duplicate: true } };
        // In steps, other requests served between them: a first sync compares up to 50,000 records.
        // A resync of a few records reads those alone, without folding the user's slices.
        const changes = await runPaced(decideSyncSteps(decisionState(user, syncReads(request, FEW_RECORDS)), request, ctx));
        return { events: [...changes, syncClosingEvent(request, syncCounts(changes), ctx)], result: { changes, duplicate: false } };
      },
      { metadata: { request_id: request.request_id } },
    );
    const { duplicate, changes } = command.result;
    // A sync that changed many records, or a first one of a user holding many, answers many: its
    // records are gathered on a turn of their own, after the requests that waited for the
    // decision or the append, from slices folded a step at a time. (A small one answers at once:
    // under load, a turn is other requests' work to wait for.)
    if (changes.length >= LONG_APPEND || (since === undefined && syncedRecords(command.after) >= LONG_APPEND)) await yieldToEventLoop();
    const changed = await changesSince(command.after, since);
    // Nothing appended: every event of the user at the time of the read is answered. Otherwise
    // every event of this append is at or below its last position, above the client's cursor.
    const last = command.appended?.position.commit ?? command.user.position?.commit ?? 0n;
    const cursor = command.appended === undefined && since !== undefined && since > last ? since : last;
    return {
      since: String(cursor),
      subscriptions: changed.subscriptions,
      play_statuses: changed.play_statuses,
      playlists: changed.playlists
        .map((playlist) => presentPlaylist(toJsonObject(playlist), { includeDeleted: true }))
        .filter((playlist) => playlist !== undefined),
      applied: { events: duplicate ? 0 : changes.length + 1, duplicate },
    };
  }
}
