/**
 * `POST /v1/sync` (SPEC 5): load the user's state, decide the differences (pure, in
 * src/domain/sync.ts), append them with the closing `sync` event in one atomic append at
 * the expected revision, retry on a concurrent writer, then answer from the read models
 * with everything that changed after the client's cursor.
 *
 * The cursor is the `$all` commit position (a server sequence), never a client clock, so a
 * change uploaded late by another device with an old timestamp still reaches every device
 * that syncs from an earlier cursor.
 */
import { randomUUID } from 'node:crypto';
import { streams } from '../domain/events.js';
import type { UserEvent } from '../domain/events.js';
import type { SyncRequest } from '../domain/sync.js';
import { decideSync, syncClosingEvent, syncCounts } from '../domain/sync.js';
import type { Position } from '../stores/event-store.js';
import type { Doc } from '../stores/read-model.js';
import { toStoreEvent } from './codec.js';
import type { Principal } from './accounts.js';
import type { ReadModelService } from './read-models.js';
import { retryOnConflict } from './retry.js';
import type { UserEventService } from './user-events.js';
import { SUBSCRIPTIONS } from '../../projections/subscriptions.js';
import { PLAY_STATUSES } from '../../projections/play-statuses.js';
import { PLAYLISTS, presentPlaylist } from '../../projections/playlists.js';
import { recordOf } from '../../projections/user-records.js';

export const SYNC_PROJECTIONS = [SUBSCRIPTIONS, PLAY_STATUSES, PLAYLISTS] as const;

export interface SyncAnswer {
  since: string;
  subscriptions: Doc[];
  play_statuses: Doc[];
  playlists: Doc[];
  /** What this request added: 0 for a repeated request_id. */
  applied: { events: number; duplicate: boolean };
}

export class SyncService {
  constructor(
    private readonly userEvents: UserEventService,
    private readonly readModels: ReadModelService,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Applies the client's state; returns how many events landed and the position to wait for. */
  private async apply(principal: Principal, request: SyncRequest): Promise<{ events: number; duplicate: boolean; position?: Position; changes?: UserEvent[] }> {
    return retryOnConflict(async () => {
      const user = await this.userEvents.loadUser(principal.userId);
      if (user.syncRequestIds.has(request.request_id)) return { events: 0, duplicate: true };
      const ctx = { user: principal.userId, newId: randomUUID, now: this.clock().toISOString() };
      const changes = decideSync(user.state, request, ctx);
      const closing = syncClosingEvent(request, syncCounts(changes), ctx);
      const result = await this.userEvents.store.append(
        streams.user(principal.userId),
        [...changes, closing].map((event) => toStoreEvent(event, { username: principal.username, request_id: request.request_id })),
        { expectedRevision: user.revision },
      );
      return { events: changes.length + 1, duplicate: false, position: result.position, changes };
    });
  }

  async sync(principal: Principal, request: SyncRequest): Promise<SyncAnswer> {
    const applied = await this.apply(principal, request);
    if (applied.changes) await this.userEvents.afterAppend(principal.userId, applied.changes);
    await this.readModels.catchUpWithUser(principal.userId, SYNC_PROJECTIONS);
    // The cursor is read before the documents: anything committed in between is answered now
    // and possibly again next time, never skipped.
    const cursor = await this.cursor();
    const since = request.since === undefined || request.since === null ? undefined : Number(request.since);
    const changed = async (collection: string, present: (doc: Doc) => Doc | undefined = recordOf) => {
      const docs = await this.readModels.readModel.find(collection, {
        where: { user: principal.userId },
        ...(since !== undefined ? { greaterThan: { field: 'seq', value: since } } : {}),
        orderBy: [{ field: 'seq', direction: 'asc' }],
      });
      return docs.map(({ doc }) => present(doc)).filter((doc) => doc !== undefined);
    };
    const [subscriptions, play_statuses, playlists] = await Promise.all([changed(SUBSCRIPTIONS), changed(PLAY_STATUSES), changed(PLAYLISTS, (doc) => presentPlaylist(doc, { includeDeleted: true }))]);
    return { since: String(cursor), subscriptions, play_statuses, playlists, applied: { events: applied.events, duplicate: applied.duplicate } };
  }

  /** The new cursor: every change at or below it has been answered. */
  private async cursor(): Promise<bigint> {
    let low: bigint | undefined;
    for (const name of SYNC_PROJECTIONS) {
      const checkpoint = await this.readModels.readModel.getCheckpoint(name);
      const commit = checkpoint?.position.commit ?? 0n;
      if (low === undefined || commit < low) low = commit;
    }
    return low ?? 0n;
  }
}
