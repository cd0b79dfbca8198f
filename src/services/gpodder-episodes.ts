/**
 * gpodder episode actions (SPEC 10): `POST /api/2/episodes/{u}.json` and its `GET ?since=`.
 *
 * An upload is one atomic append, whatever its size (10,000 actions is one append of 10,000
 * events). Exact duplicates are ignored: an action's event id is derived from the action, and
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
import { actionToEvent, effectiveSince, latestPerEpisode, pageByPosition, prepareUpload } from '../domain/gpodder.js';
import { byTimestamp } from '../domain/decide.js';
import { IdempotencyConflictError } from '../stores/event-store.js';
import type { Principal } from './accounts.js';
import type { GpodderService } from './gpodder.js';
import { EPISODE_ACTIONS, episodeActionDocId } from '../../projections/episode-actions.js';
import type { EpisodeActionDoc } from '../../projections/episode-actions.js';
import { GPODDER_DEVICES } from '../../projections/gpodder-devices.js';
import { episodeDocKey } from '../domain/feeds.js';
import type { ReadModelStore } from '../stores/read-model.js';
import { PodcastMetadata } from './podcast-metadata.js';

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
      if (attempt > 1) await readModels.waitFor([EPISODE_ACTIONS, GPODDER_DEVICES], await this.gpodder.userEvents.store.headPosition(), 10_000);
      const stored = await readModels.readModel.getMany(
        EPISODE_ACTIONS,
        prepared.actions.map(({ id }) => episodeActionDocId(principal.userId, id)),
      );
      const fresh = prepared.actions.filter(({ id }) => !stored.has(episodeActionDocId(principal.userId, id)));
      const events = [
        ...(await this.gpodder.deviceEventsFor(principal, prepared.devices)),
        // In time order: the fold is last-writer-wins by time anyway, and the stream reads naturally.
        ...byTimestamp(fresh.map(({ id, record }) => actionToEvent(principal.userId, id, record))),
      ];
      if (events.length === 0) return { timestamp: await this.gpodder.userCursor(principal.userId), update_urls: prepared.updateUrls };
      try {
        const position = await this.gpodder.append(principal, events);
        return { timestamp: Number(position.commit), update_urls: prepared.updateUrls };
      } catch (error) {
        if (!(error instanceof IdempotencyConflictError)) throw error;
        if (attempt >= UPLOAD_ATTEMPTS) throw new EpisodeActionsBusyError('Another upload of the same actions is in progress; try again shortly');
      }
    }
  }

  async download(principal: Principal, query: DownloadQuery): Promise<{ actions: GpodderAction[]; timestamp: number }> {
    const { readModels } = this.gpodder;
    const user = principal.userId;
    await readModels.catchUpWithUser(user, [EPISODE_ACTIONS]);
    const from = effectiveSince(query.since, await this.gpodder.headCommit());
    // Read before the documents: what is committed in between comes now and maybe again, never skipped.
    const checkpoint = await this.gpodder.checkpointCommit(EPISODE_ACTIONS);
    const where = { user, ...(query.podcast !== undefined ? { feed: query.podcast } : {}), ...(query.device !== undefined ? { device: query.device } : {}) };
    const find = (extra: object) =>
      readModels.readModel
        .find(EPISODE_ACTIONS, { where, greaterThan: { field: 'seq', value: from }, orderBy: [{ field: 'seq', direction: 'asc' }], ...extra })
        .then((docs) => docs.map(({ doc }) => doc as unknown as EpisodeActionDoc));
    const page = pageByPosition(await find({ limit: this.pageSize + 1 }), this.pageSize);
    let docs: EpisodeActionDoc[];
    let timestamp: number;
    if (page.kind === 'whole-position') {
      docs = await readModels.readModel
        .find(EPISODE_ACTIONS, { where: { ...where, seq: page.seq }, orderBy: [{ field: 'seq', direction: 'asc' }] })
        .then((found) => found.map(({ doc }) => doc as unknown as EpisodeActionDoc));
      timestamp = page.seq;
    } else {
      docs = page.items;
      timestamp = page.kind === 'partial' ? page.cursor : Math.max(checkpoint, from);
    }
    const resolved = await withMediaUrls(readModels.readModel, docs);
    const selected = query.aggregated ? latestPerEpisode(resolved) : resolved;
    return { actions: selected.map((doc) => doc.action), timestamp };
  }
}

/**
 * Native plays and positions whose media URL no event made known, on the enclosure URL their
 * feed lists for the guid; those the feed does not list are left out (docs/design.md, "What
 * gpodder clients see"). Read time, as the projection cannot read the `podcasts` read model.
 */
export async function withMediaUrls(readModel: ReadModelStore, docs: readonly EpisodeActionDoc[]): Promise<EpisodeActionDoc[]> {
  const pending = docs.filter((doc) => doc.media_unknown);
  if (pending.length === 0) return [...docs];
  const episodes = await new PodcastMetadata(readModel).episodes(pending.map((doc) => [doc.feed, doc.guid] as const));
  return docs.flatMap((doc) => {
    if (!doc.media_unknown) return [doc];
    const url = episodes.get(episodeDocKey(doc.feed, doc.guid))?.['url'];
    if (typeof url !== 'string') return [];
    const { guid: _guid, ...action } = doc.action;
    return [{ ...doc, action: { ...action, episode: url, ...(doc.guid !== url ? { guid: doc.guid } : {}) } }];
  });
}
