/**
 * The retention pass (docs/design.md, "Retention") and erasure for real (docs/design.md, "Erasure").
 *
 * Retention, for each user whose stream holds events recorded more than 45 days ago:
 * 1. append `snapshot` and, as its effect, `checkpoint` carrying the user's state (minus
 *    long-gone tombstones) and the truncation point — one append at the expected revision,
 *    so several workers cannot snapshot one user twice;
 * 2. projections take the checkpoint as a source of truth and drop what truncation removes;
 * 3. one `roll_stats` per feed concerned recomputes its popularity (same projection code);
 * 4. the events recorded more than 31 days ago are removed: `$tb` (merged into the stream
 *    metadata) everywhere, and real deletion in the embedded store.
 * Users are processed a few at a time (EventStoreDB round trips overlap); the truncations come
 * last, all together (the embedded store deletes the rows in log order, see
 * SqliteEventStore.truncateStreams).
 *
 * Erasure: after a `remove` has been projected, the events in its scope (and the `remove`
 * itself, which names the scope) are deleted for real: rows deleted in the embedded store;
 * in EventStoreDB, which cannot delete single events, the stream is rewritten without them
 * and truncated (src/retention/history.ts), and a scavenge removes them from disk.
 */
import { newEventId } from '../domain/ids.js';
import { availableParallelism } from 'node:os';
import type { Privacy } from '../domain/events.js';
import { streams } from '../domain/events.js';
import { feedKey } from '../domain/feeds.js';
import type { EventObject } from '../domain/events.js';
import { daysBefore } from '../domain/retention.js';
import { erasedEventIds } from '../domain/erasure.js';
import type { Descriptive, RollStatsData } from '../domain/system-events.js';
import { rollStatsEvent } from '../domain/system-events.js';
import type { Logger } from '../logger.js';
import type { EventStore, JsonObject, Position, RecordedEvent } from '../stores/event-store.js';
import { comparePositions, readWholeStream, truncateStream } from '../stores/event-store.js';
import type { CountedTruncation, RetentionCapability } from '../stores/retention-capability.js';
import { EmbeddedRetention } from '../stores/embedded/retention-capability.js';
import { RewritingRetention } from '../stores/eventstoredb/retention-capability.js';
import type { ReadModelStore, StoredDoc } from '../stores/read-model.js';
import { toStoreSystemEvent } from '../services/codec.js';
import { ReadModelService } from '../services/read-models.js';
import type { Stores } from '../runtime.js';
import { allProjections } from '../../projections/index.js';
import { retryOnConflict } from '../services/retry.js';
import { RETENTION_INDEX } from '../../projections/retention-index.js';
import { EPISODE_POPULARITY, PODCAST_POPULARITY, episodesOfFeed } from '../../projections/popularity.js';
import { oldestRetainedAt } from './history.js';
import type { SnapshotOutcome, TruncatingContext } from './snapshot.js';
import { checkpointAppends, checkpointStateOfPaced, feedOf, finishTruncation, snapshotUser } from './snapshot.js';
import type { RetentionPass, RetentionProgress, RetentionSummary } from './types.js';
import { RETENTION } from './types.js';
import { forEachConcurrently, yieldToEventLoop } from '../concurrency.js';
import { SnapshotOnCallerThread, SnapshotWorkers } from './snapshot-workers.js';

export interface RetentionDependencies {
  readonly eventStore: EventStore;
  readonly readModel: ReadModelStore;
  readonly readModels: ReadModelService;
  /** Projections that must have seen a `remove` before its events are deleted. */
  readonly projections: readonly string[];
  readonly logger: Logger;
  /**
   * How the store truncates and erases (src/stores/retention-capability.ts); by default the
   * EventStoreDB way, through the port alone (`$tb`, and erasure by rewrite).
   */
  readonly capability?: RetentionCapability;
  /** Told of the events snapshot threads append on their own connections (see Stores.appendedElsewhere). */
  readonly appendedElsewhere?: Stores['appendedElsewhere'];
  /** A pass over at least this many users snapshots them on worker threads where the store allows (default 200). */
  readonly parallelFrom?: number;
  /** How many such threads (default: the machine's parallelism, at most 4; 0: none). */
  readonly snapshotThreads?: number;
  /**
   * Truncations carried out while users are still being snapshotted, once the users done hide
   * this many events (default {@link TRUNCATE_WHILE_SNAPSHOTTING}; Infinity: all at the end).
   */
  readonly truncateEvery?: number;
}

/** Users failing one after the other that make a pass give up (the store is likely down). */
const MAX_FAILURES_IN_A_ROW = 10;
/** From this many users a pass snapshots on worker threads, where the store allows (see startSnapshotWorkers). */
const PARALLEL_FROM_USERS = 200;
const MAX_SNAPSHOT_THREADS = 4;
/** Users handed to each snapshot thread at once: one being folded, the next ones queued behind it. */
const IN_FLIGHT_PER_THREAD = 4;
/** Feeds rolled, and erasure rewrites confirmed, at once. */
const WRITE_CONCURRENCY = 8;
/**
 * The truncations of the users snapshotted so far are carried out once they hide this many
 * events, while the other users are snapshotted: small batches, each a short transaction the
 * snapshot threads' appends wait little behind, of rows the snapshots have just read. A pass
 * over 10,000 users × 200 events took 26–28 s and 36–38 s of CPU instead of 29.5–30 s and 42 s
 * with every truncation after the last snapshot (bench/RESULTS.md, "Truncations while snapshotting").
 */
const TRUNCATE_WHILE_SNAPSHOTTING = 2_000;

/** Stream of a podcast's `roll_stats` events: the feed URL hashed into a safe stream name (its feed key). */
export const podcastStatsStream = (feed: string) => streams.podcastStats(feedKey(feed));

export class RetentionService implements RetentionPass {
  private readonly store: RetentionCapability;

  /** A snapshot's context, and the store's truncation for an erasure's finishing one left undone. */
  private readonly snapshotContext: TruncatingContext;

  constructor(private readonly deps: RetentionDependencies) {
    this.store = deps.capability ?? new RewritingRetention(deps.eventStore);
    this.snapshotContext = {
      eventStore: deps.eventStore,
      truncate: (truncations) => this.store.truncate(truncations),
      warn: (message, meta) => deps.logger.warn(message, meta),
    };
  }

  async run(now: Date, options: { onProgress?: (progress: RetentionProgress) => void; touch?: () => Promise<void> } = {}): Promise<RetentionSummary> {
    const started = Date.now();
    const cutoff = daysBefore(now, RETENTION.snapshotAfterDays).toISOString();
    const due = await this.deps.readModel.find(RETENTION_INDEX, { lessThan: { field: 'oldest_recorded_at', value: cutoff } });
    const pendingErasures = new Set((await this.deps.readModel.find(RETENTION_INDEX, { where: { pending_erasure: true } })).map(({ id }) => id));
    const users = [...new Set([...pendingErasures, ...due.map(({ id }) => id)])];
    await this.confirmRewrites();
    users.push(...(await this.unfinishedTruncations(now, new Set(users))));
    let snapshotted = 0;
    let removed = 0;
    let done = 0;
    let failed = 0;
    let failedInARow = 0;
    const feeds = new Set<string>();
    /** Feeds of erased events: rolled with the others, or at once if the pass stops early. */
    const erasedFeeds = new Set<string>();
    const truncations: CountedTruncation[] = [];
    /** Feeds rolled so far: a truncation comes after the rolls of the feeds its events name (docs/design.md, "Retention"). */
    const rolled = new Set<string>();
    /** Rolls the feeds of these truncations not rolled yet, then carries them out; one batch at a time. */
    const truncateNow = async (batch: readonly CountedTruncation[], batchFeeds: ReadonlySet<string>) => {
      const unrolled = [...batchFeeds].filter((feed) => !rolled.has(feed));
      await this.rollFeeds(unrolled, now);
      for (const feed of unrolled) rolled.add(feed);
      // Awaited first, as below: users erased meanwhile add to `removed` too.
      const purged = await this.store.truncate(batch, options.touch);
      removed += purged;
    };
    const early = { every: this.deps.truncateEvery ?? TRUNCATE_WHILE_SNAPSHOTTING, hidden: 0, feeds: new Set<string>() };
    let truncating: Promise<void> | undefined;
    let truncateFailure: { error: unknown } | undefined;
    const truncateEarly = () => {
      const batch = truncations.splice(0);
      const batchFeeds = early.feeds;
      early.hidden = 0;
      early.feeds = new Set();
      truncating = truncateNow(batch, batchFeeds)
        .catch((error: unknown) => void (truncateFailure ??= { error }))
        .finally(() => (truncating = undefined));
    };
    const workers = await this.startSnapshotWorkers(users.length);
    const snapshot = async (user: string): Promise<SnapshotOutcome | undefined> => {
      if (workers) {
        try {
          const outcome = await workers.threads.snapshot(user, now, workers.clock());
          if (outcome) this.deps.appendedElsewhere?.(outcome.appended.map((type) => ({ type })));
          return outcome;
        } catch (error) {
          if (!(error instanceof SnapshotOnCallerThread)) throw error;
        }
      }
      return snapshotUser(this.snapshotContext, user, now);
    };
    const concurrency = workers ? workers.threads.size * IN_FLIGHT_PER_THREAD : this.store.userConcurrency;
    const eachUser = forEachConcurrently(users, concurrency, async (user) => {
      let outcome: SnapshotOutcome | undefined;
      try {
        // Only a user the index says has a `remove` to carry out can have one: a stream read saved.
        if (pendingErasures.has(user)) {
          // Awaited first: `removed += await …` would read `removed` before the await, and
          // lose what users running meanwhile added.
          const erased = await this.eraseScopes(user, now, { waitForProjections: false, checkpointWal: false, rollInto: erasedFeeds });
          removed += erased;
        }
        outcome = await snapshot(user);
        failedInARow = 0;
      } catch (error) {
        // One user's failure (e.g. a history beyond EventStoreDB's append size) must not stop
        // everyone's retention; a failing store fails the pass.
        if (++failedInARow >= MAX_FAILURES_IN_A_ROW) throw error;
        failed++;
        this.deps.logger.error('retention: user skipped, the next pass tries again', { user, error: error instanceof Error ? error.message : String(error) });
      }
      if (outcome) {
        snapshotted++;
        for (const feed of outcome.feeds) {
          feeds.add(feed);
          early.feeds.add(feed);
        }
        truncations.push({ stream: streams.user(user), truncateBefore: outcome.truncateBefore, hidden: outcome.hidden });
        early.hidden += outcome.hidden;
        if (early.hidden >= early.every && truncating === undefined && truncateFailure === undefined) truncateEarly();
      }
      done++;
      options.onProgress?.({ usersTotal: users.length, usersDone: done });
      if (done % 50 === 0) await options.touch?.();
      await yieldToEventLoop();
    });
    await eachUser
      .finally(() => workers?.threads.close())
      .finally(() => truncating)
      .then(() => {
        if (truncateFailure) throw truncateFailure.error;
      })
      .catch(async (error: unknown) => {
        // Stopped (shutdown, a failing store): what the erasures left still goes.
        await this.rollFeeds(erasedFeeds, now).catch(() => undefined);
        await this.store.checkpointWal().catch(() => undefined);
        throw error;
      });
    // Step 4 once per feed for the whole pass (a popular feed concerns thousands of users),
    // then step 5: the feeds not rolled before an early truncation, then the truncations left.
    // An erased feed rolled early needs no second roll: the erasures a pass carries out are of
    // `remove`s the projections had applied before it started (the retention index's
    // `pending_erasure`), so every roll of the pass reads what they left. A pass stopped before
    // a truncation leaves checkpoints whose truncation is not done: the next pass (or erasure)
    // of each of those users carries it out first.
    for (const feed of erasedFeeds) feeds.add(feed);
    await this.rollFeeds(
      [...feeds].filter((feed) => !rolled.has(feed)),
      now,
    );
    await options.touch?.();
    removed += await this.store.truncate(truncations, options.touch);
    // Once for the pass: the erasures and truncations left old page images in the WAL.
    await this.store.checkpointWal();
    if (failed > 0) this.deps.logger.warn('retention pass skipped users after errors', { users: failed });
    return {
      asOf: now.toISOString(),
      usersConsidered: users.length,
      usersSnapshotted: snapshotted,
      eventsRemoved: removed,
      feedsRolled: feeds.size,
      snapshotThreads: workers?.threads.size ?? 0,
      seconds: (Date.now() - started) / 1000,
    };
  }

  /**
   * Worker threads for the snapshots of a large pass, where the store lets them open it
   * (src/retention/snapshot-workers.ts); undefined for a small pass (a thread costs about a
   * second to start), on other stores, or if they cannot start (the pass then runs here).
   */
  private async startSnapshotWorkers(users: number): Promise<{ threads: SnapshotWorkers; clock: () => Date } | undefined> {
    const parallel = this.store.parallelSnapshots;
    const count = this.deps.snapshotThreads ?? Math.min(MAX_SNAPSHOT_THREADS, availableParallelism());
    if (parallel === undefined || count < 1 || users < (this.deps.parallelFrom ?? PARALLEL_FROM_USERS)) return undefined;
    try {
      const threads = await SnapshotWorkers.start({
        file: parallel.file,
        checkpointsElsewhere: parallel.checkpointsElsewhere,
        maxAppendBytes: parallel.maxAppendBytes,
        count,
        logger: this.deps.logger,
      });
      return { threads, clock: parallel.clock };
    } catch (error) {
      this.deps.logger.warn('retention: snapshot threads could not start; this pass snapshots on its own thread', {
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  /**
   * EventStoreDB erasures whose `$tb` write may have failed after their rewrite was appended
   * (the retention index keeps them until the user's next checkpoint): sets any `$tb` missing,
   * at the cost of one metadata read per such user. (Only rewrites set the flag: none on the
   * embedded store, which erases in place.)
   */
  private async confirmRewrites(): Promise<void> {
    const rewritten = await this.deps.readModel.find(RETENTION_INDEX, { where: { rewrite_unconfirmed: true } });
    await this.forEachTruncationMissing(rewritten, 'rewritten_before', 'an erasure rewrite', async (_user, stream, truncateBefore) => {
      this.deps.logger.warn('retention: finishing a truncation left undone', { stream, truncateBefore: String(truncateBefore) });
      await truncateStream(this.deps.eventStore, stream, truncateBefore);
    });
  }

  /**
   * Users a retention checkpoint of the last day asked to truncate whose stream does not show it
   * (a pass stopped in between, and the projections applied the checkpoint since: the index no
   * longer says their events are old, so they would wait until their retained events are). Their
   * snapshot hands the truncation back to the pass (src/retention/snapshot.ts).
   */
  private async unfinishedTruncations(now: Date, considered: ReadonlySet<string>): Promise<string[]> {
    const recent = await this.deps.readModel.find(RETENTION_INDEX, { greaterThan: { field: 'truncation_check_until', value: now.toISOString() } });
    const unfinished: string[] = [];
    await this.forEachTruncationMissing(
      recent.filter(({ id }) => !considered.has(id)),
      'truncation_before',
      'a truncation',
      (user) => void unfinished.push(user),
    );
    return unfinished;
  }

  /**
   * For each of these `retention_index` documents whose user's stream has a `$tb` below the
   * truncation its `field` records (one metadata read each, a few at a time): `missing`. A read
   * or a `missing` that fails is logged (`what` could not be checked) and the next pass tries
   * again.
   */
  private async forEachTruncationMissing(
    docs: readonly StoredDoc[],
    field: string,
    what: string,
    missing: (user: string, stream: string, truncateBefore: bigint) => Promise<void> | void,
  ): Promise<void> {
    await forEachConcurrently(docs, WRITE_CONCURRENCY, async ({ id, doc }) => {
      const recorded = doc[field];
      if (typeof recorded !== 'number') return;
      const stream = streams.user(id);
      try {
        const { metadata } = await this.deps.eventStore.getStreamMetadata(stream);
        if ((metadata.truncateBefore ?? 0n) < BigInt(recorded)) await missing(id, stream, BigInt(recorded));
      } catch (error) {
        this.deps.logger.error(`retention: could not check ${what}, the next pass tries again`, {
          stream,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    });
  }

  /**
   * Writes back and truncates the store files' write-ahead logs, where deletions leave old page
   * images of the rows they removed (embedded store; a no-op elsewhere): after an account deletion.
   */
  forgetErasedBytes(): Promise<void> {
    return this.store.checkpointWal();
  }

  /**
   * Step 3: `roll_stats` for each feed that still has popularity (also after erasure and
   * account deletion), carrying the podcast's descriptive fields as they are now. A feed with
   * none needs no recount, and naming an erased feed in a new event would keep its URL in the
   * store.
   */
  async rollFeeds(feeds: Iterable<string>, now: Date): Promise<void> {
    let rolled = 0;
    await forEachConcurrently([...feeds], WRITE_CONCURRENCY, async (feed) => {
      const podcast = await this.deps.readModel.get(PODCAST_POPULARITY, feed);
      if (podcast) await this.rollStats(feed, podcast, now);
      else await this.dropStats(feed);
      if (++rolled % 20 === 0) await yieldToEventLoop();
    });
  }

  /**
   * A feed whose last counted contribution is gone: its `roll_stats` go too (they hold its URL,
   * which can carry a secret token, and titles users supplied). Deleted, and purged for real in
   * the embedded store; a later contribution starts the stream again.
   */
  private async dropStats(feed: string): Promise<void> {
    const stream = podcastStatsStream(feed);
    const state = await this.deps.eventStore.streamState(stream);
    if (state.lastRevision === 'no_stream' || state.softDeleted || state.tombstoned) return;
    await this.deps.eventStore.deleteStream(stream);
    this.store.purge(stream);
  }

  private async rollStats(feed: string, podcast: JsonObject, now: Date): Promise<void> {
    const episodes = await this.deps.readModel.find(EPISODE_POPULARITY, episodesOfFeed(feed));
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
    const id = newEventId();
    const stream = podcastStatsStream(feed);
    const appended = await this.deps.eventStore.append(stream, [toStoreSystemEvent(rollStatsEvent(id, now, data))], { expectedRevision: 'any', system: true });
    // Each roll recomputes the feed whole: the earlier ones only keep what it has since lost
    // (titles of erased contributions, episodes gone), so only the latest is retained.
    await truncateStream(this.deps.eventStore, stream, appended.nextRevision);
    this.store.purge(stream);
  }

  /**
   * Erasure (docs/design.md, "Erasure") of every `remove` in the user's stream: once the projections have seen
   * them (the scope is already gone from every read model), delete the events in each scope
   * and the `remove` events themselves, superseded checkpoints too, and append a new
   * checkpoint. Returns how many events were deleted (hidden until the scavenge, on
   * EventStoreDB).
   *
   * Embedded store: the rows are deleted in place after an erasure checkpoint. EventStoreDB:
   * the stream is rewritten in one append — copies of the kept events, then the snapshot and
   * the checkpoint, which truncates before the first copy — and `$tb` moves to the first copy
   * (src/retention/history.ts).
   */
  async eraseScopes(
    user: string,
    now: Date,
    options: {
      waitForProjections: boolean;
      /** False: the WAL is left to the caller's checkpoint (a pass checkpoints once, at its end). */
      checkpointWal?: boolean;
      /** Feeds to roll are added here, for the caller to roll (once per pass), instead of now. */
      rollInto?: Set<string>;
      /**
       * Only the `remove` events at or before this position (one every projection has reached:
       * the erasure reactor's wait) are carried out; a later one waits for its own turn.
       */
      upTo?: Position;
    },
  ): Promise<number> {
    const stream = streams.user(user);
    let upTo = options.upTo;
    if (options.waitForProjections) {
      const position = await this.deps.readModels.latestPosition(user);
      if (position && !(await this.deps.readModels.waitFor(this.deps.projections, position, 10_000))) {
        this.deps.logger.warn('erasure postponed: projections are behind; the retention job will finish it', { user });
        return 0;
      }
      upTo ??= position;
    }
    const feeds = new Set<string>();
    const erasure = await retryOnConflict(async () => {
      // Paged, and the state folded so too: this runs on the HTTP thread (the erasure reactor),
      // and a heavy user's stream read and folded at once held every request for a third of a
      // second per erasure (bench/RESULTS.md, "An erasure of a heavy user's episode").
      const events = await finishTruncation(this.snapshotContext, stream, await readWholeStream(this.deps.eventStore, stream));
      // The fold first: it parses each event's data a page at a time, which the matching below
      // then reads parsed (parsing 34,000 events there held the thread 70 ms).
      const state = await checkpointStateOfPaced(events, now);
      const ids = erasedIds(upTo ? events.filter((event) => comparePositions(event.position, upTo) <= 0) : events);
      if (ids.size === 0) return undefined;
      feeds.clear();
      for (const event of events) if (ids.has(event.id)) for (const feed of feedOf(event)) feeds.add(feed);
      const last = events.at(-1)!.revision;
      // Other requests served between the steps too (for a heavy user each is tens of
      // milliseconds, and together they held every request 150–330 ms): a write to the stream
      // meanwhile makes the append below fail on its expected revision, and all starts again.
      await yieldToEventLoop();
      const plan = this.store.planErasure(stream, events, ids, ({ truncateBefore, kept }) => {
        const retainedFrom = oldestRetainedAt(kept) ?? now;
        const closing = checkpointAppends(user, state, now, {
          truncate_before: truncateBefore === null ? null : Number(truncateBefore),
          retained_from: retainedFrom.toISOString(),
          reason: 'erasure',
        });
        return { checkpointId: closing[1].id, events: closing };
      });
      await yieldToEventLoop();
      await this.deps.eventStore.append(stream, plan.events, { expectedRevision: last, system: true });
      return plan;
    });
    if (!erasure) return 0;
    // Descriptive fields (titles, covers) may have come from the erased events: a roll_stats
    // sets them explicitly, so live and rebuilt popularity documents agree.
    if (options.rollInto) for (const feed of feeds) options.rollInto.add(feed);
    else await this.rollFeeds(feeds, now);
    return erasure.complete({ checkpointWal: options.checkpointWal ?? true });
  }
}

/** Ids of the events erased by the `remove` events of a stream, the `remove` events included (docs/design.md, "Erasure"). */
export function erasedIds(events: readonly RecordedEvent[]): Set<string> {
  return erasedEventIds(events.map((event) => ({ id: event.id, type: event.type, object: (event.data['object'] ?? null) as EventObject | null })));
}

/** The pass as the service, the Agenda job and the CLI build it from the opened stores. */
export function createRetentionPass(
  stores: Stores,
  options: { defaultPrivacy: Privacy; logger: Logger; projections?: readonly string[] } & Pick<
    RetentionDependencies,
    'parallelFrom' | 'snapshotThreads' | 'truncateEvery'
  >,
): RetentionService {
  return new RetentionService({
    ...(options.parallelFrom === undefined ? {} : { parallelFrom: options.parallelFrom }),
    ...(options.snapshotThreads === undefined ? {} : { snapshotThreads: options.snapshotThreads }),
    ...(options.truncateEvery === undefined ? {} : { truncateEvery: options.truncateEvery }),
    eventStore: stores.eventStore,
    readModel: stores.readModel,
    readModels: new ReadModelService(stores.eventStore, stores.readModel),
    ...(stores.appendedElsewhere === undefined ? {} : { appendedElsewhere: stores.appendedElsewhere }),
    projections: options.projections ?? allProjections.map((projection) => projection.name),
    logger: options.logger,
    capability: stores.embedded?.eventStore
      ? new EmbeddedRetention(stores.embedded.eventStore, {
          truncateWal: stores.embedded.truncateWal,
          files: [stores.embedded.database, ...(stores.embedded.readModelDatabase ? [stores.embedded.readModelDatabase] : [])],
        })
      : new RewritingRetention(stores.eventStore),
  });
}
