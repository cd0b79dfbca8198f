/**
 * gpodder episode actions (docs/design.md, "Clients and their APIs"): `POST /api/2/episodes/{u}.json` and its `GET ?since=`.
 *
 * An upload is one atomic append, whatever its size (10,000 actions is one append of 10,000
 * events), through the one write path (src/services/command-handler.ts): the devices it names
 * are created on the user's folded state, and the append expects the revision folded. Exact
 * duplicates are ignored: an action's event id is derived from the action, and ids already in
 * the `episode_actions` read model, or among the user's events it has not applied yet (read from
 * the stream), are left out before appending. The upload does not wait for the read model to
 * catch up first (clients upload in batches of 30 or 100, and waiting for the previous batch's
 * projection would cost more than the upload). Two uploads of the same actions at once are
 * caught by the store, whose event ids are idempotency keys among a stream's last events (all
 * known: a retry, nothing added; some known: a conflict), and then the upload waits for the read
 * model and is decided again.
 *
 * Downloads are answered from `episode_actions`, by `$all` position, at most
 * {@link EPISODE_ACTIONS_PAGE} at a time: the answer's `timestamp` is where the next call
 * continues, so a history longer than a page arrives over successive syncs. When the read model
 * is behind the user (the download right after a large upload), the documents it has not
 * projected yet are made from the user's stream rather than waited for.
 */
import type { GpodderAction, GpodderActionInput } from '../domain/gpodder.js';
import type { ActionServing } from '../domain/gpodder.js';
import { effectiveSince, latestPerEpisode, MAX_ACTIONS_PER_UPLOAD, pageByPosition, prepareUploadSteps } from '../domain/gpodder.js';
import { runPaced } from '../concurrency.js';
import { decideEpisodeActions, finishedEpisodeKeys } from '../domain/gpodder-commands.js';
import { episodeKey } from '../domain/state.js';
import type { Principal } from './accounts.js';
import type { GpodderService } from './gpodder.js';
import {
  ACTION_FEED,
  changesExistingActions,
  DOWNLOAD_READS,
  EPISODE_ACTIONS,
  episodeActionDocId,
  episodeActionsProjection,
} from '../../projections/episode-actions.js';
import type { EpisodeActionDoc } from '../../projections/episode-actions.js';
import { PLAY_STATUSES, playStatusesProjection } from '../../projections/play-statuses.js';
import { emptyView } from '../../projections/staged-view.js';
import type { JoinedRaw, Query, Scalar } from '../domain/documents.js';
import { userDocId } from '../../projections/projection.js';
import type { ProjectedEvent, ProjectionView } from '../../projections/projection.js';
import type { RecordedEvent } from '../stores/event-store.js';
import { comparePositions, IdempotencyConflictError } from '../stores/event-store.js';
import { toProjectedEvent } from '../projector/projected-event.js';
import { applyPending, CONTEXT, replayOnReadModel } from './replay-on-read-model.js';
import { episodeDocKey } from '../domain/feeds.js';
import { PodcastMetadata } from './podcast-metadata.js';
import { fromJson } from '../domain/json.js';
import type { FoldedUser } from './folded-user.js';
import { recordsOf } from './folded-user.js';
import { recordedFromQuery } from '../domain/nextcloud.js';
import { gpodderTimestamp } from '../domain/cursors.js';

/**
 * Actions per download page: as many as one upload may carry. gPodder and AntennaPod download
 * once per sync and keep the answer's `timestamp` for their next sync (gPodder's `my.py`,
 * AntennaPod's `SyncService`): with a smaller page, a new device would get the oldest part of a
 * long history first and the newest actions only a sync or more later.
 */
export const EPISODE_ACTIONS_PAGE = MAX_ACTIONS_PER_UPLOAD;
const UPLOAD_ATTEMPTS = 3;

/** A projection asked for documents already there: the event needs the read model. */
class NeedsViewError extends Error {}
const NO_VIEW: ProjectionView = {
  get() {
    throw new NeedsViewError();
  },
  find() {
    throw new NeedsViewError();
  },
  history() {
    throw new NeedsViewError();
  },
};
/**
 * The `episode_actions` documents of pending events, made by the projection's own `evolve`, in
 * read-model order (by position, then by document id); undefined if one needs more than its event.
 */
function pendingDocs(events: readonly RecordedEvent[]): EpisodeActionDoc[] | undefined {
  const docs: { id: string; doc: EpisodeActionDoc }[] = [];
  for (const recorded of events) {
    const projected = toProjectedEvent(recorded);
    if (projected === undefined) continue;
    let changes;
    try {
      changes = episodeActionsProjection.evolve(projected, NO_VIEW, CONTEXT);
    } catch (error) {
      if (error instanceof NeedsViewError) return undefined;
      throw error;
    }
    for (const change of changes) {
      if (change.op !== 'put') return undefined;
      docs.push({ id: change.id, doc: fromJson<EpisodeActionDoc>(change.doc) });
    }
  }
  return docs.sort((a, b) => a.doc.seq - b.doc.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(({ doc }) => doc);
}

/**
 * An action of a page: those of the read model come as stored, their JSON text (`raw`), parsed
 * only when needed (an action whose URL is resolved, an aggregated answer); those made from
 * pending events, or resolved, as objects.
 */
interface ActionRow {
  readonly seq: number;
  readonly serving: ActionServing;
  raw?: string | undefined;
  action?: GpodderAction;
}

const actionOf = (row: ActionRow): GpodderAction => (row.action ??= JSON.parse(row.raw!) as GpodderAction);
const jsonOf = (row: ActionRow): string => (row.raw ??= JSON.stringify(row.action));
/** The rows' actions as JSON texts joined with commas, in UTF-8. */
const jsonBytes = (rows: readonly ActionRow[]): Buffer => Buffer.from(rows.map(jsonOf).join(','), 'utf8');
const ACTIONS_OPEN = Buffer.from('{"actions":[');
const COMMA = Buffer.from(',');
const rowOf = (doc: EpisodeActionDoc): ActionRow => ({ seq: doc.seq, serving: doc.serving ?? 'as-is', action: doc.action });

/**
 * Where the play statuses an action without a media URL is served with come from: the user's
 * events `play_statuses` has not applied yet (applied to what it holds), or the user's folded
 * state ({@link GpodderEpisodeService.servedAhead}).
 */
type StatusSource = { readonly pending: readonly ProjectedEvent[] } | { readonly folded: FoldedUser };

/** The actions served as the read model stores them (`serving` absent): those a page writes as stored. */
const SERVED_AS_STORED = { serving: null } as const;

/** How a page is planned: `joined` for an answer written as bytes ({@link GpodderEpisodeService.bytesOf}). */
interface PlanOptions {
  readonly joined?: boolean;
}

/** The read model's actions by position, ties as the read model orders them (by id). */
const BY_POSITION: Query['orderBy'] = [{ field: 'seq', direction: 'asc' }];

/**
 * A page of a download, planned from the actions' positions: the read model's actions in it (a
 * query for them and how many it finds; undefined for a whole position, which a page holds
 * whatever its size), then those made from pending events, and the cursor of the next call.
 */
interface PagePlan {
  readonly stored: { readonly query: Query; readonly count: number | undefined; readonly joined?: JoinedRaw } | undefined;
  readonly pending: readonly ActionRow[];
  readonly timestamp: number;
  /** The actions as clients may be given them ({@link GpodderEpisodeService.servedActions}); undefined: wait for the projector. */
  readonly serve: (rows: readonly ActionRow[]) => Promise<ActionRow[] | undefined>;
}

/** The answer of a download: a page of actions and the cursor of the next call. */
export interface ActionsPage {
  readonly actions: GpodderAction[];
  readonly timestamp: number;
}

/**
 * The play statuses `wanted` (document ids) as `play_statuses` will hold them once caught up:
 * those `base` holds, with the pending events that touch them (or every status: a checkpoint)
 * applied by the projection's own `evolve` (the others are skipped: their documents were not read).
 */
function withPendingStatuses(base: ProjectionView, wanted: ReadonlySet<string>, events: readonly ProjectedEvent[]): ProjectionView {
  const touching = events.filter((projected) => {
    const keys = playStatusesProjection.touches(projected.event);
    return keys === 'all' || (keys !== 'none' && keys.some((key) => wanted.has(userDocId(projected.user, key))));
  });
  return applyPending(base, playStatusesProjection, touching);
}

/** A download's filters as a `where` of the user's actions. */
function whereOf(user: string, query: DownloadQuery): Record<string, Scalar> {
  return {
    user,
    ...(query.podcast !== undefined ? { [ACTION_FEED]: query.podcast } : {}),
  };
}

export class EpisodeActionsBusyError extends Error {
  override readonly name = 'EpisodeActionsBusyError';
}

export interface DownloadQuery {
  since?: number | undefined;
  podcast?: string | undefined;
  aggregated?: boolean | undefined;
}

export class GpodderEpisodeService {
  constructor(
    private readonly gpodder: GpodderService,
    private readonly pageSize = EPISODE_ACTIONS_PAGE,
  ) {}

  async upload(principal: Principal, inputs: readonly GpodderActionInput[]): Promise<{ timestamp: number; update_urls: [string, string][] }> {
    const { readModels } = this.gpodder;
    // In steps, other requests served between them: an upload may carry 25,000 actions, each hashed twice.
    const prepared = await runPaced(prepareUploadSteps(principal.userId, inputs, this.gpodder.context(principal).now));
    for (let attempt = 1; ; attempt++) {
      // After an overlap, the earlier upload's events must be in the read model to be left out.
      if (attempt > 1) await readModels.waitFor([EPISODE_ACTIONS], await this.gpodder.userEvents.store.headPosition(), 10_000);
      const docId = (id: string) => episodeActionDocId(principal.userId, id);
      // Which actions are already stored is idempotency bookkeeping (their ids), not state: the
      // read model answers for the events it has applied, the user's stream for those it has not
      // (read first: every event is then in one or the other). The store recognises a retry only
      // among a stream's last events, so an action uploaded again while the projector is behind,
      // from further back than those, was stored twice.
      const { behind } = await readModels.behindUser(principal.userId, EPISODE_ACTIONS);
      const pending = new Set(behind?.events.map((event) => event.id));
      const stored = await readModels.readModel.getMany(
        EPISODE_ACTIONS,
        prepared.actions.flatMap(({ id, formerId }) => [docId(id), docId(formerId)]),
      );
      const known = (id: string) => stored.has(docId(id)) || pending.has(id);
      const fresh = prepared.actions.filter(({ id, formerId }) => !known(id) && !known(formerId));
      try {
        const finishes = finishedEpisodeKeys(fresh.map(({ record }) => record));
        await this.gpodder.write(principal, (state, ctx, user) =>
          decideEpisodeActions(state, { devices: prepared.devices, actions: fresh }, ctx, recordsOf(user, 'play_statuses', finishes)),
        );
        return {
          timestamp: gpodderTimestamp(await this.gpodder.uploadCursor(principal.userId, EPISODE_ACTIONS), this.gpodder.positionGap),
          update_urls: prepared.updateUrls,
        };
      } catch (error) {
        if (!(error instanceof IdempotencyConflictError)) throw error;
        if (attempt >= UPLOAD_ATTEMPTS) throw new EpisodeActionsBusyError('Another upload of the same actions is in progress; try again shortly');
      }
    }
  }

  /** The query with its `since` (a gpodder timestamp as answered, or a client's clock) as the store position it names. */
  private async atPosition(principal: Principal, query: DownloadQuery): Promise<DownloadQuery> {
    return { ...query, since: await this.gpodder.positionOfClientSince(principal.userId, EPISODE_ACTIONS, query.since) };
  }

  async download(principal: Principal, query: DownloadQuery): Promise<ActionsPage> {
    const { value: rows, timestamp } = await this.downloadPage(principal, await this.atPosition(principal, query), (plan) => this.rowsOf(plan));
    const actions = rows.map(actionOf);
    return {
      actions: query.aggregated ? latestPerEpisode(actions.map((action) => ({ action }))).map(({ action }) => action) : actions,
      timestamp: gpodderTimestamp(timestamp, this.gpodder.positionGap),
    };
  }

  /**
   * {@link download}'s answer as the UTF-8 bytes of the JSON text `{"actions":[…],"timestamp":…}`:
   * the actions the read model holds are written as stored, joined by the store (`joinRaw`),
   * neither parsed nor serialized again, with no object or string per action.
   */
  async downloadJson(principal: Principal, query: DownloadQuery): Promise<Buffer> {
    if (query.aggregated) return Buffer.from(JSON.stringify(await this.download(principal, query)), 'utf8');
    const { value: actions, timestamp } = await this.downloadPage(principal, await this.atPosition(principal, query), (plan) => this.bytesOf(plan), {
      joined: true,
    });
    // One copy of the page's bytes, however many parts they came in.
    return Buffer.concat([
      ACTIONS_OPEN,
      ...actions,
      Buffer.from(`],"timestamp":${JSON.stringify(gpodderTimestamp(timestamp, this.gpodder.positionGap))}}`, 'utf8'),
    ]);
  }

  /**
   * A page of the user's actions, made by `make` from its {@link PagePlan}. Read-your-writes
   * without waiting for the projector (docs/design.md, "Read models"): when
   * `episode_actions` has not reached the user's latest event (a download right after an upload
   * of thousands of actions, or other users' writes queued before them), the documents it has
   * not projected yet are made from the user's stream by the projection's own `evolve`, and
   * added after those it holds (up to its checkpoint): the answer the read model gives once
   * caught up, media URLs resolved from the play statuses as they will be ({@link servedAhead}).
   * When a pending event changes actions already there, the page is read from the projection
   * replayed on the read model's documents ({@link replayedPlan}). The download waits for the
   * projector only in what {@link pendingOf} tells, or when a replay gives up.
   */
  private async downloadPage<T>(
    principal: Principal,
    query: DownloadQuery,
    make: (plan: PagePlan) => Promise<T | undefined>,
    options: PlanOptions = {},
  ): Promise<{ value: T; timestamp: number }> {
    const user = principal.userId;
    const ahead = await this.pendingOf(user, query.since);
    if (ahead !== undefined) {
      const { upTo, events, from, latest, statusEvents } = ahead;
      const plan = ahead.changesExisting
        ? await this.replayedPlan(user, query, ahead)
        : await this.plan(user, query, from, { upTo, pending: () => pendingDocs(events), complete: latest }, options, { statusEvents });
      const value = plan === undefined ? undefined : await make(plan);
      if (plan !== undefined && value !== undefined) return { value, timestamp: plan.timestamp };
    }
    await this.gpodder.readModels.catchUpWithUser(user, [EPISODE_ACTIONS, PLAY_STATUSES]);
    const from = effectiveSince(query.since, await this.gpodder.headCommit());
    // Read before the documents: what is committed in between comes now and maybe again, never skipped.
    const checkpoint = await this.gpodder.checkpointCommit(EPISODE_ACTIONS);
    // Caught up, nothing is pending: a plan and its actions are always there.
    const plan = (await this.plan(user, query, from, { upTo: undefined, pending: () => [], complete: checkpoint }, options))!;
    return { value: (await make(plan))!, timestamp: plan.timestamp };
  }

  /**
   * The Nextcloud API's download (`GET …/episode_action?since=`): the user's actions recorded
   * at or after `from` (unix seconds; all of them without it), in `$all` order, unpaged, with
   * those `episode_actions` has not projected yet made from the stream as for gpodder's
   * download ({@link downloadPage}), replayed when a pending event changes actions already there;
   * it waits for the projector in the same cases.
   */
  async recordedFrom(principal: Principal, from: number | undefined): Promise<GpodderAction[]> {
    const user = principal.userId;
    const { readModels } = this.gpodder;
    const query = recordedFromQuery(user, from);
    const recorded = (extra: object) =>
      readModels.readModel.find(EPISODE_ACTIONS, { ...query, ...extra }).then((docs) => docs.map(({ doc }) => fromJson<EpisodeActionDoc>(doc)));
    const ahead = await this.pendingOf(user, undefined);
    if (ahead?.changesExisting) {
      const replayed = await this.replayedActions(user, { ...query, lessThan: { field: 'seq', value: ahead.latest + 1 } }, ahead.events);
      const served = replayed && (await this.servedAhead(user, replayed.map(rowOf), ahead.statusEvents));
      if (served) return served.map(actionOf);
    } else if (ahead !== undefined) {
      const made = pendingDocs(ahead.events);
      const pending = made?.filter((doc) => from === undefined || doc.at >= from);
      if (pending !== undefined) {
        const docs = [...(await recorded({ lessThan: { field: 'seq', value: ahead.upTo + 1 } })), ...pending];
        const served = await this.servedAhead(user, docs.map(rowOf), ahead.statusEvents);
        if (served !== undefined) return served.map(actionOf);
      }
    }
    await readModels.catchUpWithUser(user, [EPISODE_ACTIONS, PLAY_STATUSES]);
    // Caught up, no pending status to apply: always answered.
    return (await this.servedActions(user, (await recorded({})).map(rowOf)))!.map(actionOf);
  }

  /**
   * When `episode_actions` or `play_statuses` has not reached the user's latest event: the
   * `episode_actions` checkpoint (`upTo`, a commit position), the commit of the user's latest
   * event (`latest`: a page that reaches the end answers it as its cursor; the events read are
   * those up to it), where `since` starts (`from`, 0 without it) and the user's events after
   * the checkpoint and after `from`, and whether one of those changes documents already there
   * (`changesExisting`: a `remove`, a `checkpoint` or `account_deleted`; told by type alone, so a
   * page the read model's documents fill does not make the pending ones; then the events are
   * all of those after the checkpoint, before `from` too, for the replay). Undefined when both
   * have caught up (most downloads: then nothing more is read), and when the projector stopped
   * inside one commit (EventStoreDB gives all events of an append one commit position: the read
   * model's order within it, by id, would mix both parts).
   */
  private async pendingOf(
    user: string,
    since: number | undefined,
  ): Promise<
    { upTo: number; events: RecordedEvent[]; from: number; latest: number; changesExisting: boolean; statusEvents: () => Promise<RecordedEvent[]> } | undefined
  > {
    const { readModels } = this.gpodder;
    const [actionsAt, statusesAt] = await Promise.all([EPISODE_ACTIONS, PLAY_STATUSES].map((name) => readModels.checkpointThisTurn(name)));
    if (actionsAt === undefined || statusesAt === undefined) return undefined;
    const latest = await readModels.latestPosition(user);
    if (latest === undefined || (comparePositions(actionsAt.position, latest) >= 0 && comparePositions(statusesAt.position, latest) >= 0)) {
      return undefined;
    }
    // The head is at or after the user's latest event: a cursor not past that needs no read of it.
    const latestCommit = Number(latest.commit);
    const from = effectiveSince(since, since !== undefined && since > latestCommit ? await this.gpodder.headCommit() : latestCommit);
    const read = await readModels.userEventsAfter(user, actionsAt.position, { from });
    const events = read.events.filter((event) => Number(event.position.commit) > from);
    const upTo = Number(actionsAt.position.commit);
    const changesExisting = events.some((event) => changesExistingActions(event.type));
    // Such an event reads the user's documents before the cursor too (a checkpoint lists the
    // episodes that still have an action): replayed, it is given every pending event, not only
    // those after the cursor, or it would miss the documents those make. A complete read holds
    // them all (some at or before the cursor, which `events` leaves out); else they are read.
    const replayed = !changesExisting ? events : read.complete ? read.events : (await readModels.userEventsAfter(user, actionsAt.position)).events;
    if (replayed.some((event) => Number(event.position.commit) === upTo)) return undefined;
    // The user's events `play_statuses` has not applied: those already read when they hold them
    // all (the projector commits its read models together, so both checkpoints are usually the
    // same, and a cursor past the checkpoint cuts the actions, not what was read); read again
    // only when its checkpoint is behind or the cursor stopped the read early.
    const statusEvents = () =>
      read.complete && comparePositions(statusesAt.position, actionsAt.position) >= 0
        ? Promise.resolve(read.events.filter((event) => comparePositions(event.position, statusesAt.position) > 0))
        : readModels.userEventsAfter(user, statusesAt.position).then(({ events: all }) => all);
    return { upTo, events: replayed, from, latest: latestCommit, changesExisting, statusEvents };
  }

  /**
   * A page of the user's actions after `from`, planned from positions alone (`findNumbers`): the
   * read model's documents (up to `upTo`, all of them without it), then the `pending` ones
   * (after `upTo`), made only when the read model's do not fill the page; a page that reaches
   * the end answers `complete` as its cursor. Undefined when the pending ones need more than
   * their events. With `joined`, the positions come with the stored actions' texts, joined in
   * the same read (`joinRaw`), which a page that holds every one of them answers as it is.
   */
  private async plan(
    user: string,
    query: DownloadQuery,
    from: number,
    source: { upTo: number | undefined; pending: () => readonly EpisodeActionDoc[] | undefined; complete: number },
    { joined: joining = false }: PlanOptions = {},
    /** Ahead of the projector: the user's events `play_statuses` has not applied, for the media URLs an action does not name. */
    ahead: { statusEvents: () => Promise<RecordedEvent[]> } | undefined = undefined,
  ): Promise<PagePlan | undefined> {
    const { readModel } = this.gpodder.readModels;
    const { upTo } = source;
    const where = whereOf(user, query);
    const matches = (doc: EpisodeActionDoc) => doc.seq > from && (query.podcast === undefined || doc.action.podcast === query.podcast);
    /** The read model's documents after `from` up to `through` (its positions are commits: a page ends with one). */
    const storedUpTo = (through: number | undefined): Query => ({
      where,
      orderBy: BY_POSITION,
      greaterThan: { field: 'seq', value: from },
      ...(through === undefined ? {} : { lessThan: { field: 'seq', value: through + 1 } }),
    });
    const limit = this.pageSize + 1;
    const found: Query = { ...storedUpTo(upTo), limit };
    // Every document has its position.
    let positions: number[] = [];
    let joined: JoinedRaw | undefined;
    if (upTo !== undefined && from >= upTo) {
      // Nothing stored after the cursor: nothing to read.
    } else if (!joining) positions = (await readModel.findNumbers(EPISODE_ACTIONS, found, 'seq')) as number[];
    else {
      // A page cut short (more than a page after `from`: a first sync of a long history) joins
      // its documents again, the read's text holding one too many.
      joined = await readModel.joinRaw(EPISODE_ACTIONS, found, 'action', { numbers: 'seq', only: SERVED_AS_STORED });
      positions = joined.numbers as number[];
    }
    let pending: readonly ActionRow[] = [];
    if (positions.length < limit) {
      const made = source.pending();
      if (made === undefined) return undefined;
      pending = made.filter(matches).map(rowOf);
    }
    const fetched: { seq: number; row?: ActionRow }[] = positions.map((seq) => ({ seq }));
    for (const row of pending.slice(0, limit - positions.length)) fetched.push({ seq: row.seq, row });
    const page = pageByPosition(fetched, this.pageSize);
    const serve = ahead
      ? (rows: readonly ActionRow[]) => this.servedAhead(user, rows, ahead.statusEvents)
      : (rows: readonly ActionRow[]) => this.servedActions(user, rows);
    if (page.kind === 'whole-position') {
      const held = upTo === undefined || page.seq <= upTo;
      return {
        stored: held ? { query: { where: { ...where, seq: page.seq }, orderBy: BY_POSITION }, count: undefined } : undefined,
        pending: held ? [] : pending.filter((row) => row.seq === page.seq),
        timestamp: page.seq,
        serve,
      };
    }
    // The read model's documents come first: the page holds the first `count` of them.
    const made = page.items.flatMap(({ row }) => (row === undefined ? [] : [row]));
    const count = page.items.length - made.length;
    return {
      // The page holds every document the read found (then its query finds those same ones).
      stored: count === 0 ? undefined : { query: storedUpTo(page.items[count - 1]!.seq), count, ...(joined && count === positions.length ? { joined } : {}) },
      pending: made,
      timestamp: page.kind === 'partial' ? page.cursor : Math.max(source.complete, from),
      serve,
    };
  }

  /**
   * The user's actions `query` finds once `episode_actions` has applied `events` (the user's
   * events after its checkpoint, some of which change actions already there: a `remove` deletes
   * them, a `checkpoint` drops the truncated ones and stands in for the episodes left without
   * any), replayed by the projection's own `evolve` on its documents ({@link replayOnReadModel}).
   * Undefined when the replay gave up.
   */
  private async replayedActions(user: string, query: Query, events: readonly RecordedEvent[]): Promise<EpisodeActionDoc[] | undefined> {
    const projected = events.flatMap((recorded) => toProjectedEvent(recorded) ?? []);
    const docs = await replayOnReadModel(this.gpodder.readModels.readModel, (view) =>
      applyPending(view, episodeActionsProjection, projected).find(EPISODE_ACTIONS, query),
    );
    return docs?.value.map(({ doc }) => fromJson<EpisodeActionDoc>(doc));
  }

  /**
   * A page planned from the user's actions as {@link replayedActions} makes them: every one after
   * the cursor up to the user's latest event, all of them rows (a rare page: after an erasure,
   * a retention pass or an account's deletion the projector has not applied yet).
   */
  private async replayedPlan(
    user: string,
    query: DownloadQuery,
    ahead: { from: number; latest: number; events: readonly RecordedEvent[]; statusEvents: () => Promise<RecordedEvent[]> },
  ): Promise<PagePlan | undefined> {
    const { from, latest } = ahead;
    const docs = await this.replayedActions(
      user,
      { where: whereOf(user, query), orderBy: BY_POSITION, greaterThan: { field: 'seq', value: from }, lessThan: { field: 'seq', value: latest + 1 } },
      ahead.events,
    );
    if (docs === undefined) return undefined;
    const rows = docs.map(rowOf);
    const page = pageByPosition(rows, this.pageSize);
    return {
      stored: undefined,
      pending: page.kind === 'whole-position' ? rows.filter((row) => row.seq === page.seq) : page.items,
      timestamp: page.kind === 'partial' ? page.cursor : page.kind === 'whole-position' ? page.seq : Math.max(latest, from),
      serve: (served) => this.servedAhead(user, served, ahead.statusEvents),
    };
  }

  /** A page's actions, each a row. */
  private async rowsOf(plan: PagePlan): Promise<ActionRow[] | undefined> {
    const { readModel } = this.gpodder.readModels;
    const stored =
      plan.stored === undefined
        ? []
        : (await readModel.findRaw(EPISODE_ACTIONS, plan.stored.query, 'action', DOWNLOAD_READS)).map(({ doc, raw }): ActionRow => {
            const { seq, serving = 'as-is' } = fromJson<Pick<EpisodeActionDoc, 'seq' | 'serving'>>(doc);
            return { seq, serving, raw };
          });
    return plan.serve([...stored, ...plan.pending]);
  }

  /**
   * A page's actions as JSON texts joined with commas, in UTF-8 and in parts the caller
   * concatenates (once, with what surrounds them): the read model's as joined by the store
   * when every one of them is served as stored (the store finds as many of them without a
   * `serving` as the plan counted), else row by row. The bytes the plan's own read
   * joined serve when the page holds all it found (most pages: a page is cut only after
   * {@link EPISODE_ACTIONS_PAGE} actions).
   */
  private async bytesOf(plan: PagePlan): Promise<Buffer[] | undefined> {
    const { stored } = plan;
    if (stored?.count !== undefined) {
      const query = { ...stored.query, where: { ...stored.query.where, ...SERVED_AS_STORED } };
      const joined = stored.joined ?? (await this.gpodder.readModels.readModel.joinRaw(EPISODE_ACTIONS, query, 'action'));
      if (joined.count === stored.count) {
        const pending = await plan.serve(plan.pending);
        if (pending === undefined) return undefined;
        if (pending.length === 0) return [joined.bytes];
        const made = jsonBytes(pending);
        return joined.count === 0 ? [made] : [joined.bytes, COMMA, made];
      }
    }
    const rows = await this.rowsOf(plan);
    return rows && [jsonBytes(rows)];
  }

  /**
   * {@link servedActions} ahead of the projector: an action whose event named no media URL is
   * given the URL of the user's play status as it will be once `play_statuses` has caught up.
   * The user's folded state holds exactly that (the projection evolves its documents by the
   * same domain fold, src/domain/state.ts), so when the folded-user cache holds the user it
   * answers, whatever the projector's lag; otherwise the status `play_statuses` holds, with
   * the user's events after its checkpoint applied by that projection's own `evolve` (replayed
   * on the user's statuses when one of those events may change any of them: a `checkpoint`).
   * Undefined (wait for the projector) when that replay gave up.
   */
  private async servedAhead(user: string, rows: readonly ActionRow[], statusEvents: () => Promise<RecordedEvent[]>): Promise<ActionRow[] | undefined> {
    if (!rows.some((row) => row.serving === 'status-url')) return this.servedActions(user, rows);
    const folded = await this.gpodder.userEvents.loadCachedUser(user);
    if (folded !== undefined) return this.servedActions(user, rows, { folded });
    const pending: ProjectedEvent[] = [];
    for (const recorded of await statusEvents()) {
      const projected = toProjectedEvent(recorded);
      if (projected !== undefined) pending.push(projected);
    }
    return this.servedActions(user, rows, { pending });
  }

  /**
   * The actions as clients may be given them (docs/design.md, "What gpodder clients see"), by
   * their `serving` (src/domain/gpodder.ts, `servingOf`):
   * - a play without a position (a playback start) is left out: AntennaPod applies a served
   *   one as position -1 s, Kasts as 0, moving a newer position;
   * - an action whose event named no media URL is given the URL the user's play status of that
   *   episode knows (from any event that named it, or a checkpoint), else the enclosure URL its
   *   feed lists for the guid (the `podcasts` read model); without either it is left out, since
   *   clients file actions under their URL. Read here, not in the projection, so that a rebuild
   *   after retention (no longer holding the events that named the URL) answers the same, and a
   *   projection never reads another's documents.
   */
  private async servedActions(user: string, all: readonly ActionRow[], statuses: StatusSource = { pending: [] }): Promise<ActionRow[] | undefined> {
    const rows = all.filter((row) => row.serving !== 'never');
    const unknown = rows.filter((row) => row.serving === 'status-url').map(actionOf);
    if (unknown.length === 0) return rows;
    const keyOf = (action: GpodderAction) => episodeKey(action.podcast, action.guid!);
    const known = await this.statusUrls(user, new Set(unknown.map(keyOf)), statuses);
    if (known === undefined) return undefined;
    // The feeds' listings only for the episodes no status knows a URL of (usually none).
    const unlisted = unknown.filter((action) => !known.has(keyOf(action)));
    const listed = await new PodcastMetadata(this.gpodder.readModels.readModel).episodes(unlisted.map((action) => [action.podcast, action.guid!] as const));
    const urlOf = (action: GpodderAction): string | undefined => {
      const fromFeed = listed.get(episodeDocKey(action.podcast, action.guid!))?.['url'];
      return known.get(keyOf(action)) ?? (typeof fromFeed === 'string' ? fromFeed : undefined);
    };
    return rows.flatMap((row): ActionRow[] => {
      if (row.serving !== 'status-url') return [row];
      const action = actionOf(row);
      const url = urlOf(action);
      return url === undefined ? [] : [{ seq: row.seq, serving: 'as-is', action: { ...action, episode: url } }];
    });
  }

  /**
   * The media URL the user's play status of each episode `wanted` (episode keys) knows, those
   * that know one: from the folded user, or from `play_statuses` with the pending events
   * applied ({@link withPendingStatuses}; replayed on the read model when one may change every
   * status). Undefined when that replay gave up.
   */
  private async statusUrls(user: string, wanted: ReadonlySet<string>, source: StatusSource): Promise<Map<string, string> | undefined> {
    const urls = new Map<string, string>();
    const keep = (key: string, status: { rss_enclosure?: unknown } | undefined) => {
      const url = (status?.rss_enclosure as { url?: unknown } | null | undefined)?.url;
      if (typeof url === 'string') urls.set(key, url);
    };
    if ('folded' in source) {
      for (const [key, status] of recordsOf(source.folded, 'play_statuses', wanted)) keep(key, status);
      return urls;
    }
    const { readModel } = this.gpodder.readModels;
    const ids = new Map([...wanted].map((key) => [userDocId(user, key), key]));
    const wantedIds = new Set(ids.keys());
    const { pending } = source;
    const everyStatus = pending.some((projected) => playStatusesProjection.touches(projected.event) === 'all');
    const statuses = everyStatus
      ? (
          await replayOnReadModel(readModel, (view) => {
            const replayed = withPendingStatuses(view, wantedIds, pending);
            for (const id of wantedIds) replayed.get(PLAY_STATUSES, id);
            return replayed;
          })
        )?.value
      : await readModel
          .getMany(PLAY_STATUSES, [...wantedIds])
          .then((held) =>
            withPendingStatuses({ ...emptyView, get: (collection, id) => (collection === PLAY_STATUSES ? held.get(id) : undefined) }, wantedIds, pending),
          );
    if (statuses === undefined) return undefined;
    for (const [id, key] of ids) keep(key, statuses.get(PLAY_STATUSES, id));
    return urls;
  }
}
