/**
 * The retention pass (SPEC 7) and erasure for real (SPEC 8).
 *
 * Retention, for each user whose stream holds events recorded more than 45 days ago:
 * 1. append `snapshot` and, as its effect, `checkpoint` carrying the user's state (minus
 *    long-gone tombstones) and the truncation point — one append at the expected revision,
 *    so several workers cannot snapshot one user twice;
 * 2. projections take the checkpoint as a source of truth and drop what truncation removes;
 * 3. one `roll_stats` per feed concerned recomputes its popularity (same projection code);
 * 4. the events recorded more than 31 days ago are removed: `$tb` (merged into the stream
 *    metadata) everywhere, and real deletion in the embedded store.
 *
 * Erasure: after a `remove` has been projected, the events in its scope (and the `remove`
 * itself, which names the scope) are deleted for real and a new checkpoint is appended.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Privacy } from '../domain/events.js';
import { streams } from '../domain/events.js';
import type { EventObject } from '../domain/events.js';
import { fold } from '../domain/state.js';
import type { StateEvent } from '../domain/state.js';
import { checkpointState, daysBefore, erasureCovers } from '../domain/retention.js';
import type { Logger } from '../logger.js';
import type { EventStore, EventToAppend, JsonObject, RecordedEvent } from '../stores/event-store.js';
import { readStreamOrEmpty } from '../stores/event-store.js';
import type { ReadModelStore } from '../stores/read-model.js';
import { fromStoreEvent } from '../services/codec.js';
import { ReadModelService } from '../services/read-models.js';
import type { Stores } from '../runtime.js';
import { allProjections } from '../../projections/index.js';
import { retryOnConflict } from '../services/retry.js';
import type { CheckpointData, Descriptive, RollStatsData } from '../../projections/projection.js';
import { RETENTION_INDEX } from '../../projections/retention-index.js';
import { EPISODE_POPULARITY, PODCAST_POPULARITY } from '../../projections/popularity.js';
import type { RetentionPass, RetentionProgress, RetentionSummary } from './types.js';
import { RETENTION } from './types.js';

/** What only the embedded store can do: delete rows for real. */
export interface PhysicalEraser {
  purgeTruncated(stream: string): number;
  eraseEvents(stream: string, ids: readonly string[]): number;
}

export interface RetentionDependencies {
  readonly eventStore: EventStore;
  readonly readModel: ReadModelStore;
  readonly readModels: ReadModelService;
  /** Projections that must have seen a `remove` before its events are deleted. */
  readonly projections: readonly string[];
  readonly logger: Logger;
  readonly eraser?: PhysicalEraser;
}

interface SnapshotOutcome {
  readonly truncateBefore: number | null;
  readonly feeds: ReadonlySet<string>;
}

/** Stream of a podcast's `roll_stats` events: the feed URL hashed into a safe stream name. */
export const podcastStatsStream = (feed: string) => streams.podcastStats(createHash('sha256').update(feed).digest('hex').slice(0, 32));

const envelope = (user: string, type: string, at: Date, data: JsonObject): EventToAppend => {
  const id = randomUUID();
  return { id, type, data: { id, timestamp: at.toISOString(), user, type, object: null, data } };
};

export class RetentionService implements RetentionPass {
  constructor(private readonly deps: RetentionDependencies) {}

  async run(now: Date, options: { onProgress?: (progress: RetentionProgress) => void; touch?: () => Promise<void> } = {}): Promise<RetentionSummary> {
    const started = Date.now();
    const cutoff = daysBefore(now, RETENTION.snapshotAfterDays).toISOString();
    const due = await this.deps.readModel.find(RETENTION_INDEX, { lessThan: { field: 'oldest_recorded_at', value: cutoff } });
    const pendingErasures = await this.deps.readModel.find(RETENTION_INDEX, { where: { pending_erasure: true } });
    const users = [...new Set([...pendingErasures.map(({ id }) => id), ...due.map(({ id }) => id)])];
    let snapshotted = 0;
    let removed = 0;
    const feeds = new Set<string>();
    const truncations: [string, number | null][] = [];
    for (const [index, user] of users.entries()) {
      removed += await this.eraseScopes(user, now, { waitForProjections: false });
      const outcome = await this.snapshotForRetention(user, now);
      if (outcome) {
        snapshotted++;
        for (const feed of outcome.feeds) feeds.add(feed);
        truncations.push([user, outcome.truncateBefore]);
      }
      options.onProgress?.({ usersTotal: users.length, usersDone: index + 1 });
      if (index % 50 === 49) await options.touch?.();
    }
    // Step 4 once per feed for the whole pass (a popular feed concerns thousands of users),
    // then step 5. A pass stopped before the truncations leaves checkpoints only: the next
    // pass snapshots those users again and truncates.
    await this.rollFeeds(feeds, now);
    await options.touch?.();
    for (const [user, truncateBefore] of truncations) removed += await this.truncate(user, truncateBefore);
    return { asOf: now.toISOString(), usersConsidered: users.length, usersSnapshotted: snapshotted, eventsRemoved: removed, feedsRolled: feeds.size, seconds: (Date.now() - started) / 1000 };
  }

  /** Steps 1–2: snapshot + checkpoint; returns the truncation point and the feeds whose events go. */
  private async snapshotForRetention(user: string, now: Date): Promise<SnapshotOutcome | undefined> {
    const stream = streams.user(user);
    const outcome = await retryOnConflict(async () => {
      const events = await readStreamOrEmpty(this.deps.eventStore, stream);
      const oldest = events[0];
      // Another worker (or an earlier pass) got here first: nothing is 45 days old any more.
      if (!oldest || oldest.recordedAt >= daysBefore(now, RETENTION.snapshotAfterDays)) return undefined;
      const keepFrom = daysBefore(now, RETENTION.truncateAfterDays);
      const last = events.at(-1)!.revision;
      const firstKept = events.find((event) => event.recordedAt >= keepFrom);
      // Nothing recent: only the new checkpoint (written after the snapshot) stays.
      const truncateBefore = Number(firstKept?.revision ?? last + 2n);
      const feeds = new Set(events.filter((event) => Number(event.revision) < truncateBefore).flatMap(feedOf));
      const retainedFrom = firstKept?.recordedAt.toISOString() ?? now.toISOString();
      await this.appendCheckpoint(user, events, now, { truncate_before: truncateBefore, retained_from: retainedFrom, reason: 'retention' });
      return { truncateBefore, feeds };
    });
    return outcome;
  }

  private async appendCheckpoint(user: string, events: readonly RecordedEvent[], now: Date, data: Omit<CheckpointData, 'state'>): Promise<void> {
    const state = checkpointState(fold(events.map(fromStoreEvent).filter((event): event is StateEvent => event !== undefined)), now, RETENTION.forgetTombstonesAfterDays);
    const snapshot = envelope(user, 'snapshot', now, { reason: data.reason, truncate: data.truncate_before !== null });
    const checkpoint = envelope(user, 'checkpoint', now, { ...data, state } as unknown as JsonObject);
    const last = events.at(-1)?.revision;
    await this.deps.eventStore.append(streams.user(user), [snapshot, checkpoint], { expectedRevision: last ?? 'no_stream' });
  }

  /** Step 3: a `roll_stats` carrying the podcast's descriptive fields as they are now. */
  /**
   * `roll_stats` for each feed that still has popularity (also after erasure and account
   * deletion). A feed with none needs no recount, and naming an erased feed in a new event
   * would keep its URL in the store.
   */
  async rollFeeds(feeds: Iterable<string>, now: Date): Promise<void> {
    for (const feed of feeds) if (await this.deps.readModel.get(PODCAST_POPULARITY, feed)) await this.rollStats(feed, now);
  }

  private async rollStats(feed: string, now: Date): Promise<void> {
    const podcast = await this.deps.readModel.get(PODCAST_POPULARITY, feed);
    const episodes = await this.deps.readModel.find(EPISODE_POPULARITY, { where: { rss_source_feed: feed } });
    const descriptive = (doc: JsonObject | undefined): Descriptive => ({
      title: (doc?.['title'] ?? null) as string | null,
      feed_title: (doc?.['feed_title'] ?? null) as string | null,
      author: (doc?.['author'] ?? null) as string | null,
      description: (doc?.['description'] ?? null) as string | null,
      cover: (doc?.['cover'] ?? null) as Descriptive['cover'],
    });
    const data: RollStatsData = {
      feed,
      podcast: descriptive(podcast),
      episodes: Object.fromEntries(episodes.map(({ doc }) => [String(doc['rss_source_item']), descriptive(doc)])),
    };
    const id = randomUUID();
    await this.deps.eventStore.append(podcastStatsStream(feed), [{ id, type: 'roll_stats', data: { id, timestamp: now.toISOString(), type: 'roll_stats', data: data as unknown as JsonObject } }], { expectedRevision: 'any' });
  }

  /** Step 4: `$tb` (merged with the stream's other metadata), then real deletion where possible. */
  private async truncate(user: string, truncateBefore: number | null): Promise<number> {
    if (truncateBefore === null) return 0;
    const stream = streams.user(user);
    await this.deps.eventStore.setStreamMetadata(stream, { truncateBefore: BigInt(truncateBefore) });
    return this.deps.eraser?.purgeTruncated(stream) ?? 0;
  }

  /**
   * Erasure (SPEC 8) of every `remove` in the user's stream: once the projections have seen
   * them (the scope is already gone from every read model), delete the events in each scope
   * and the `remove` events themselves, superseded checkpoints too, and append a new
   * checkpoint. Returns how many events were deleted.
   */
  async eraseScopes(user: string, now: Date, options: { waitForProjections: boolean }): Promise<number> {
    const stream = streams.user(user);
    if (options.waitForProjections) {
      const position = await this.deps.readModels.latestPosition(user);
      if (position && !(await this.deps.readModels.waitFor(this.deps.projections, position, 10_000))) {
        this.deps.logger.warn('erasure postponed: projections are behind; the retention job will finish it', { user });
        return 0;
      }
    }
    const feeds = new Set<string>();
    const doomed = await retryOnConflict(async () => {
      const events = await readStreamOrEmpty(this.deps.eventStore, stream);
      const ids = erasedIds(events);
      if (ids.size === 0) return ids;
      for (const event of events) if (ids.has(event.id)) for (const feed of feedOf(event)) feeds.add(feed);
      const remaining = events.filter((event) => !ids.has(event.id));
      const retainedFrom = remaining[0]?.recordedAt.toISOString() ?? now.toISOString();
      await this.appendCheckpoint(user, events, now, { truncate_before: null, retained_from: retainedFrom, reason: 'erasure' });
      return ids;
    });
    if (doomed.size === 0) return 0;
    // Descriptive fields (titles, covers) may have come from the erased events: a roll_stats
    // sets them explicitly, so live and rebuilt popularity documents agree.
    await this.rollFeeds(feeds, now);
    if (!this.deps.eraser) {
      this.deps.logger.warn('erasure: this event store cannot delete single events; they stay until the stream is rewritten', { user, events: doomed.size });
      return 0;
    }
    return this.deps.eraser.eraseEvents(stream, [...doomed]);
  }
}

export function feedOf(event: RecordedEvent): string[] {
  const object = event.data['object'] as EventObject | null | undefined;
  return object?.rss_source_feed ? [object.rss_source_feed] : [];
}

/** Ids of the events erased by the `remove` events of a stream, the `remove` events included. */
export function erasedIds(events: readonly RecordedEvent[]): Set<string> {
  const ids = new Set<string>();
  for (const [index, event] of events.entries()) {
    if (event.type !== 'remove') continue;
    const scope = (event.data['object'] ?? null) as EventObject | null;
    ids.add(event.id);
    for (const earlier of events.slice(0, index)) {
      if (earlier.type === 'checkpoint' || erasureCovers(scope, { type: earlier.type, object: (earlier.data['object'] ?? null) as EventObject | null })) ids.add(earlier.id);
    }
  }
  return ids;
}

/** The pass as the service, the Agenda job and the CLI build it from the opened stores. */
export function createRetentionPass(stores: Stores, options: { defaultPrivacy: Privacy; logger: Logger; projections?: readonly string[] }): RetentionService {
  return new RetentionService({
    eventStore: stores.eventStore,
    readModel: stores.readModel,
    readModels: new ReadModelService(stores.eventStore, stores.readModel),
    projections: options.projections ?? allProjections.map((projection) => projection.name),
    logger: options.logger,
    ...(stores.embedded?.eventStore ? { eraser: stores.embedded.eventStore } : {}),
  });
}
