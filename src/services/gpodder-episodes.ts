/**
 * gpodder episode actions (docs/design.md, "Clients and their APIs"): `POST /api/2/episodes/{u}.json` and its `GET ?since=`.
 *
 * An upload is one atomic append, whatever its size (10,000 actions is one append of 10,000
 * events), through the one write path (src/services/command-handler.ts): the devices it names
 * are created on the user's folded state, and the append expects the revision folded. Exact duplicates are ignored: an action's event id is derived from the action, and
 * ids already in the `episode_actions` read model are left out before appending. The upload
 * does not wait for the read model to catch up first (clients upload in batches of 30 or 100,
 * and waiting for the previous batch's projection would cost more than the upload): a
 * duplicate of an action written but not yet projected is caught by the store, whose event ids
 * are idempotency keys (all known: a retry, nothing added; some known: a conflict), and then
 * the upload waits for the read model and is decided again.
 *
 * Downloads are answered from `episode_actions`, by `$all` position, at most
 * {@link EPISODE_ACTIONS_PAGE} at a time: the answer's `timestamp` is where the next call
 * continues, so a first sync of a long history arrives over a few calls.
 */
import type { GpodderAction, GpodderActionInput } from '../domain/gpodder.js';
import { effectiveSince, latestPerEpisode, pageByPosition, prepareUpload, UNKNOWN_MEDIA_URL } from '../domain/gpodder.js';
import { decideEpisodeActions } from '../domain/gpodder-commands.js';
import { episodeKey } from '../domain/state.js';
import { IdempotencyConflictError } from '../stores/event-store.js';
import type { Principal } from './accounts.js';
import type { GpodderService } from './gpodder.js';
import { EPISODE_ACTIONS, episodeActionDocId } from '../../projections/episode-actions.js';
import type { EpisodeActionDoc } from '../../projections/episode-actions.js';
import { PLAY_STATUSES } from '../../projections/play-statuses.js';
import { userDocId } from '../../projections/projection.js';
import { episodeDocKey } from '../domain/feeds.js';
import { PodcastMetadata } from './podcast-metadata.js';
import { fromJson } from '../domain/json.js';

export const EPISODE_ACTIONS_PAGE = 5_000;
const UPLOAD_ATTEMPTS = 3;

export class EpisodeActionsBusyError extends Error {
  override readonly name = 'EpisodeActionsBusyError';
}

export interface DownloadQuery {
  since?: number | undefined;
  podcast?: string | undefined;
  device?: string | undefined;
  aggregated?: boolean | undefined;
}

export class GpodderEpisodeService {
  constructor(
    private readonly gpodder: GpodderService,
    private readonly pageSize = EPISODE_ACTIONS_PAGE,
  ) {}

  async upload(principal: Principal, inputs: readonly GpodderActionInput[]): Promise<{ timestamp: number; update_urls: [string, string][] }> {
    const { readModels } = this.gpodder;
    const prepared = prepareUpload(principal.userId, inputs, this.gpodder.context(principal).now);
    for (let attempt = 1; ; attempt++) {
      // After an overlap, the earlier upload's events must be in the read model to be left out.
      if (attempt > 1) await readModels.waitFor([EPISODE_ACTIONS], await this.gpodder.userEvents.store.headPosition(), 10_000);
      const stored = await readModels.readModel.getMany(
        EPISODE_ACTIONS,
        prepared.actions.map(({ id }) => episodeActionDocId(principal.userId, id)),
      );
      // Which actions are already stored is idempotency bookkeeping (their ids), not state: the
      // read model answers it; the store catches what it has not projected yet.
      const fresh = prepared.actions.filter(({ id }) => !stored.has(episodeActionDocId(principal.userId, id)));
      try {
        await this.gpodder.write(principal, (state, ctx) => decideEpisodeActions(state, { devices: prepared.devices, actions: fresh }, ctx));
        return { timestamp: await this.gpodder.uploadCursor(principal.userId, EPISODE_ACTIONS), update_urls: prepared.updateUrls };
      } catch (error) {
        if (!(error instanceof IdempotencyConflictError)) throw error;
        if (attempt >= UPLOAD_ATTEMPTS) throw new EpisodeActionsBusyError('Another upload of the same actions is in progress; try again shortly');
      }
    }
  }

  async download(principal: Principal, query: DownloadQuery): Promise<{ actions: GpodderAction[]; timestamp: number }> {
    const { readModels } = this.gpodder;
    const user = principal.userId;
    await readModels.catchUpWithUser(user, [EPISODE_ACTIONS, PLAY_STATUSES]);
    const from = effectiveSince(query.since, await this.gpodder.headCommit());
    // Read before the documents: what is committed in between comes now and maybe again, never skipped.
    const checkpoint = await this.gpodder.checkpointCommit(EPISODE_ACTIONS);
    const where = { user, ...(query.podcast !== undefined ? { feed: query.podcast } : {}), ...(query.device !== undefined ? { device: query.device } : {}) };
    const find = (extra: object) =>
      readModels.readModel
        .find(EPISODE_ACTIONS, { where, greaterThan: { field: 'seq', value: from }, orderBy: [{ field: 'seq', direction: 'asc' }], ...extra })
        .then((docs) => docs.map(({ doc }) => fromJson<EpisodeActionDoc>(doc)));
    const page = pageByPosition(await find({ limit: this.pageSize + 1 }), this.pageSize);
    let docs: EpisodeActionDoc[];
    let timestamp: number;
    if (page.kind === 'whole-position') {
      docs = await readModels.readModel
        .find(EPISODE_ACTIONS, { where: { ...where, seq: page.seq }, orderBy: [{ field: 'seq', direction: 'asc' }] })
        .then((found) => found.map(({ doc }) => fromJson<EpisodeActionDoc>(doc)));
      timestamp = page.seq;
    } else {
      docs = page.items;
      timestamp = page.kind === 'partial' ? page.cursor : Math.max(checkpoint, from);
    }
    const actions = await this.servedActions(user, docs.map((doc) => doc.action));
    return { actions: query.aggregated ? latestPerEpisode(actions.map((action) => ({ action }))).map(({ action }) => action) : actions, timestamp };
  }

  /**
   * The actions as clients may be given them (docs/design.md, "What gpodder clients see"):
   * - a play without a position (a playback start) is left out: AntennaPod applies a served
   *   one as position -1 s, Kasts as 0, moving a newer position;
   * - an action whose event named no media URL is given the URL the user's play status of that
   *   episode knows (from any event that named it, or a checkpoint), else the enclosure URL its
   *   feed lists for the guid (the `podcasts` read model); without either it is left out, since
   *   clients file actions under their URL. Read here, not in the projection, so that a rebuild
   *   after retention (no longer holding the events that named the URL) answers the same, and a
   *   projection never reads another's documents.
   */
  async servedActions(user: string, all: readonly GpodderAction[]): Promise<GpodderAction[]> {
    const actions = all.filter((action) => !(action.action === 'play' && action.position === undefined));
    const unknown = actions.filter((action) => action.episode === UNKNOWN_MEDIA_URL && action.guid !== undefined);
    if (unknown.length === 0) return actions.filter((action) => action.episode !== UNKNOWN_MEDIA_URL);
    const { readModel } = this.gpodder.readModels;
    const statusId = (action: GpodderAction) => userDocId(user, episodeKey(action.podcast, action.guid!));
    const [statuses, listed] = await Promise.all([
      readModel.getMany(PLAY_STATUSES, [...new Set(unknown.map(statusId))]),
      new PodcastMetadata(readModel).episodes(unknown.map((action) => [action.podcast, action.guid!] as const)),
    ]);
    const urlOf = (action: GpodderAction): string | undefined => {
      const known = (statuses.get(statusId(action))?.['rss_enclosure'] as { url?: string } | undefined)?.url;
      const fromFeed = listed.get(episodeDocKey(action.podcast, action.guid!))?.['url'];
      return known ?? (typeof fromFeed === 'string' ? fromFeed : undefined);
    };
    return actions.flatMap((action) => {
      if (action.episode !== UNKNOWN_MEDIA_URL) return [action];
      const url = action.guid === undefined ? undefined : urlOf(action);
      return url === undefined ? [] : [{ ...action, episode: url }];
    });
  }
}
