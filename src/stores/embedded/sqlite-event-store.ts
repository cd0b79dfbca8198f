import BetterSqlite3 from 'better-sqlite3';
import type { Database, Statement, Transaction } from 'better-sqlite3';
import {
  IdempotencyConflictError,
  START,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AllFilter,
  type AllSubscription,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type EventToAppend,
  type ExpectedRevision,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SetMetadataOptions,
  type MetadataPatch,
  type StreamMetadataResult,
  type StreamState,
  type StreamTail,
  type StreamTailOptions,
  type StreamTruncation,
  type SubscribeToAllOptions,
  AppendTooLargeError,
  appendSize,
  DEFAULT_MAX_APPEND_BYTES,
} from '../event-store.js';
import { applyPragmas, createSchema, RECENT_IDS, writeWithoutBlocking, type MigrationProgress, type SchemaMigration } from './schema.js';
import { RecentIds } from './recent-ids.js';
import { mapPaced } from '../../concurrency.js';
import {
  mergeMetadata,
  STREAM_EVENT_COLUMNS,
  storedMetadataJson,
  streamEventsOf,
  toRecordedEvent,
  toStreamMetadata,
  type EventRow,
  type StreamEventValues,
  type StreamRow,
  type StreamRowForAppend,
} from './rows.js';
import { SqliteAllSubscription, type SubscriptionPage } from './sqlite-subscription.js';

export interface SqliteEventStoreOptions {
  /** Sets `recordedAt` of appended events; injectable so retention can be tested. */
  readonly clock?: () => Date;
  /** How often an idle subscription looks for events written by other processes. */
  readonly pollIntervalMs?: number;
  /** Events a subscription reads per query while catching up. */
  readonly subscriptionPageSize?: number;
  /** Told how a migration of a store an earlier version made comes along (schema.ts: `createSchema`). */
  readonly onMigrationProgress?: MigrationProgress;
  /** The most one client append may carry ({@link DEFAULT_MAX_APPEND_BYTES}; counted by {@link appendSize}); `system` appends are not held to it. */
  readonly maxAppendBytes?: number;
}

export interface SqliteEventStoreOpenOptions extends SqliteEventStoreOptions {
  /** A file path, or ':memory:'. */
  readonly path: string;
}

const DEFAULT_POLL_INTERVAL_MS = 250;
const DEFAULT_PAGE_SIZE = 500;
/** SQLite's "no limit". */
const UNLIMITED = -1;
const MAX_POSITION = 9223372036854775807n;
/** EventStoreDB's revision number for "no stream", answered by an empty append to a new stream. */
const NO_STREAM_REVISION = -1n;

/** The columns of an {@link EventRow}: a stream's own ({@link STREAM_EVENT_COLUMNS}) and the stream's name (its row `s`). */
const EVENT_COLUMNS = `${STREAM_EVENT_COLUMNS}, s.name AS stream`;

/** An event already serialised, so a bad payload fails before the write transaction starts. */
interface SerializedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
}

/** How a stream looks to expected-revision checks. */
type RevisionForChecks = bigint | 'no_stream';

interface QueuedAppend {
  readonly stream: string;
  readonly events: readonly SerializedEvent[];
  readonly expected: ExpectedRevision;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

interface AppendOutcome {
  readonly result: AppendResult;
  /** False for an idempotent retry or an empty append: nothing to wake subscriptions for. */
  readonly written: boolean;
}

interface PurgeTarget {
  readonly id: bigint;
  readonly truncate_before: bigint | null;
  readonly tombstoned: bigint;
}

interface PreparedStatements {
  readonly selectStream: Statement<[string], StreamRow>;
  /** The row with its recent ids' hashes (a 512-byte blob only an append needs). */
  readonly selectStreamForAppend: Statement<[string], StreamRowForAppend>;
  readonly selectTail: Statement<[bigint, number], { id: string; revision: bigint; position: bigint }>;
  readonly selectEventAt: Statement<[bigint, bigint], { id: string; position: bigint }>;
  readonly insertEvent: Statement<[bigint, bigint, string, string, string, string, number]>;
  /** A new stream's row (it has no events yet): its number. */
  readonly insertStream: Statement<[string], bigint>;
  readonly setStreamRevision: Statement<[bigint, Buffer, bigint]>;
  readonly upsertMetadata: Statement<[string, bigint | null, string, bigint]>;
  readonly softDelete: Statement<[bigint, bigint, string]>;
  readonly tombstone: Statement<[string]>;
  readonly readForwards: Statement<[bigint, bigint, number], StreamEventValues>;
  readonly readBackwards: Statement<[bigint, bigint, bigint, number], StreamEventValues>;
  readonly lastRevisionAtOrBefore: Statement<[bigint, bigint], bigint>;
  readonly lastVisiblePosition: Statement<[string], { last_revision: bigint | null; deleted: bigint; tombstoned: bigint; position: bigint | null }>;
  readonly head: Statement<[], { seq: bigint }>;
  readonly truncatedStreams: Statement<[], PurgeTarget>;
  readonly truncatedStream: Statement<[string], PurgeTarget>;
  readonly deleteBefore: Statement<[bigint, bigint]>;
  readonly deleteAll: Statement<[bigint]>;
}

/** How many events past a batch's length an append reads back when the stream's recent ids cannot tell a retry (the EventStoreDB adapter's slack after a conflict). */
const RETRY_TAIL_SLACK = 256;

/**
 * Appends committed together at most ({@link SqliteEventStore.append}). A commit's cost grows
 * little with the appends it holds; but each is answered only when its group is committed, so
 * a backlog of a thousand committed at once answered them all at once, and their requests
 * then waited for one another's reads (bench/RESULTS.md, "Appends committed in groups").
 */
const APPEND_GROUP_LIMIT = 32;

/**
 * The embedded {@link EventStore}: one SQLite file (better-sqlite3, WAL) with EventStoreDB's
 * semantics. Positions are the global sequence (`commit = prepare`).
 *
 * It may share its connection with read models (pass a Database): appends then nest as savepoints
 * inside a caller's transaction, and `close()` leaves a borrowed connection open.
 *
 * Retention works through `truncateBefore` plus {@link purgeTruncated}, as the port documents.
 */
export class SqliteEventStore implements EventStore {
  /** Positions count events (`events.position`, one per event). */
  readonly positionGap = 1;
  readonly database: Database;
  /** What opening did to a store an earlier version made (the service logs it). */
  readonly migration: SchemaMigration;
  private readonly ownsDatabase: boolean;
  private readonly clock: () => Date;
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;
  /** The most one append may carry (see {@link SqliteEventStoreOptions.maxAppendBytes}). */
  readonly maxAppendBytes: number;
  private readonly statements: PreparedStatements;
  private readonly readAllStatements = new Map<string, Statement<unknown[], EventRow>>();
  private readonly subscriptions = new Set<SqliteAllSubscription>();
  /** Bumped by truncation and deletes so subscriptions drop pages read before them. */
  private hidingGeneration = 0;
  // Each write runs in one better-sqlite3 transaction (a savepoint inside a caller's transaction).
  private readonly appendTransaction: Transaction<(stream: string, events: readonly SerializedEvent[], expected: ExpectedRevision) => AppendOutcome>;
  /** Appends waiting for the end of the turn, committed together ({@link append}). */
  private appendQueue: QueuedAppend[] = [];
  private appendsInFlight: Promise<void> | undefined;
  /** Whether this turn of the event loop committed an append at once already (later ones are grouped). */
  private appendedThisTurn = false;
  private readonly appendGroupTransaction: Transaction<(group: readonly QueuedAppend[]) => (AppendOutcome | { readonly error: unknown })[]>;
  private readonly setMetadataTransaction: Transaction<(stream: string, patch: MetadataPatch, expected: ExpectedRevision) => StreamMetadataResult>;
  private readonly softDeleteTransaction: Transaction<(stream: string, expected: ExpectedRevision) => void>;
  private readonly tombstoneTransaction: Transaction<(stream: string, expected: ExpectedRevision) => void>;
  private readonly purgeTransaction: Transaction<(stream: string | undefined) => number>;
  private readonly truncateTransaction: Transaction<(truncations: readonly StreamTruncation[]) => void>;
  private readonly purgeStreamsTransaction: Transaction<(streams: readonly string[]) => number>;
  /**
   * Every read in one snapshot (BEGIN DEFERRED … COMMIT), made once: better-sqlite3 builds four
   * wrapper functions per `transaction()` call, which cost more than a small read itself.
   */
  private readonly snapshotTransaction: Transaction<(read: () => unknown) => unknown>;

  /** Opens `source.path`, or uses a connection the caller owns (e.g. shared with read models). */
  constructor(source: Database | SqliteEventStoreOpenOptions, options: SqliteEventStoreOptions = {}) {
    const borrowed = isDatabase(source);
    const settings: SqliteEventStoreOptions = borrowed ? options : { ...options, ...source };
    this.database = borrowed ? source : new BetterSqlite3(source.path);
    this.ownsDatabase = !borrowed;
    this.clock = settings.clock ?? (() => new Date());
    this.pollIntervalMs = settings.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.pageSize = settings.subscriptionPageSize ?? DEFAULT_PAGE_SIZE;
    this.maxAppendBytes = settings.maxAppendBytes ?? DEFAULT_MAX_APPEND_BYTES;
    applyPragmas(this.database);
    this.migration = createSchema(this.database, settings.onMigrationProgress);
    this.statements = prepareStatements(this.database);
    this.appendTransaction = this.database.transaction((stream, events, expected) => this.appendInTransaction(stream, events, expected));
    // Each append of a group in a savepoint (appendTransaction nested): one that fails leaves
    // nothing of its own and the others go on. One append alone (most of them) is the
    // transaction itself, with no savepoint to set and release: what it throws fails its group
    // of one, and so that append alone.
    this.appendGroupTransaction = this.database.transaction((group) => {
      const [only] = group;
      if (group.length === 1 && only) return [this.appendInTransaction(only.stream, only.events, only.expected)];
      return group.map(({ stream, events, expected }) => {
        try {
          return this.appendTransaction(stream, events, expected);
        } catch (error) {
          // Some failures (disk full, I/O) end the whole transaction, not the savepoint: the
          // appends after it would run outside of one. The group fails then, nothing written.
          if (!this.database.inTransaction) throw error;
          return { error };
        }
      });
    });
    this.setMetadataTransaction = this.database.transaction((stream, patch, expected) => this.setMetadataInTransaction(stream, patch, expected));
    this.softDeleteTransaction = this.database.transaction((stream, expected) => this.softDeleteInTransaction(stream, expected));
    this.tombstoneTransaction = this.database.transaction((stream, expected) => this.tombstoneInTransaction(stream, expected));
    this.purgeTransaction = this.database.transaction((stream) => this.purgeInTransaction(stream));
    this.snapshotTransaction = this.database.transaction((read: () => unknown) => read());
    this.truncateTransaction = this.database.transaction((truncations) => {
      for (const { stream, truncateBefore } of truncations) {
        const state = this.statements.selectStream.get(stream);
        // A tombstoned stream hides everything already; a `$tb` is never moved back.
        if (state?.tombstoned || (state?.truncate_before ?? -1n) >= truncateBefore) continue;
        this.setMetadataInTransaction(stream, { truncateBefore }, 'any');
      }
    });
    this.purgeStreamsTransaction = this.database.transaction((streams) => {
      let purged = 0;
      for (const stream of streams) purged += this.purgeInTransaction(stream);
      return purged;
    });
  }

  /** The time this store records appends at (its clock), for a connection that appends on its behalf. */
  recordingTime(): Date {
    return this.clock();
  }

  /** Opens (creating if needed) the store at `path`; the store owns and closes the connection. */
  static open(path: string, options: SqliteEventStoreOptions = {}): SqliteEventStore {
    return new SqliteEventStore({ ...options, path });
  }

  /**
   * The first append of a turn of the event loop is committed at once, as alone. Those made
   * after it in the same turn (requests parsed together, a backlog of them under load) are
   * committed together at the end of the turn: one transaction, each append in a savepoint of
   * its own, so each succeeds or fails alone exactly as it would have by itself, in the order
   * made, and each is answered only once the commit holding it is done. A commit writes the
   * pages it touched to the WAL, whatever it holds: most of an append's cost, shared by every
   * append of the group; a lone append (most of them, below saturation) waits for nothing.
   * Inside a caller's transaction on a borrowed connection an append is a savepoint of that
   * transaction, made at once.
   */
  async append(stream: string, events: readonly EventToAppend[], options: AppendOptions = {}): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    if (this.database.inTransaction) {
      const serialized = events.map(serializeEvent);
      if (!options.system) this.checkAppendSize(stream, serialized);
      const { result, written } = this.appendTransaction(stream, serialized, expected);
      if (written) this.wakeSubscriptions(serialized);
      return result;
    }
    // A long append (a first sync: up to 50,000 events) is written out as JSON a slice at a
    // time, other requests served in between; it is then committed whole, as any append. (It
    // may so be committed after an append made later to another stream: appends of different
    // streams are not ordered, and a stream's own are made one at a time.)
    const serialized = events.length > SERIALIZE_PACED ? await mapPaced(events, serializeEvent) : events.map(serializeEvent);
    if (!options.system) this.checkAppendSize(stream, serialized);
    return new Promise<AppendResult>((resolve, reject) => {
      const append: QueuedAppend = { stream, events: serialized, expected, resolve, reject };
      if (!this.appendedThisTurn && this.appendQueue.length === 0 && this.appendsInFlight === undefined) {
        // The turn's first append, nothing pending: committed at once, as alone.
        this.appendedThisTurn = true;
        setImmediate(() => (this.appendedThisTurn = false));
        this.startGroup([append]);
        return;
      }
      this.appendQueue.push(append);
      if (this.appendQueue.length === 1) setImmediate(() => this.commitQueuedAppends());
    });
  }

  /**
   * Refuses, before anything is written, an append EventStoreDB would refuse at the same limit.
   * Counting bytes walks every string, so an append is counted only when its characters, at the
   * most bytes one can take, could pass the limit (almost never).
   */
  private checkAppendSize(stream: string, serialized: readonly SerializedEvent[]): void {
    let bound = 0;
    for (const event of serialized) bound += (event.data.length + event.metadata.length) * 3 + event.type.length * 2;
    if (bound <= this.maxAppendBytes) return;
    const bytes = appendSize(serialized);
    if (bytes > this.maxAppendBytes) throw new AppendTooLargeError(stream, this.maxAppendBytes, bytes);
  }

  /**
   * The next group: at most {@link APPEND_GROUP_LIMIT} appends, the rest in groups of their own
   * on later turns, so that those answered first are served before a backlog's later ones are
   * even committed. A group starts once the one before it is done (a group waiting for the
   * write lock is never overtaken).
   */
  private commitQueuedAppends(): void {
    const group = this.appendQueue.splice(0, APPEND_GROUP_LIMIT);
    if (this.appendQueue.length > 0) setImmediate(() => this.commitQueuedAppends());
    this.startGroup(group);
  }

  /** Commits `group` now, or once the group before it is done. */
  private startGroup(group: readonly QueuedAppend[]): void {
    const before = this.appendsInFlight;
    const done = before ? before.then(() => this.commitAppends(group)) : this.commitAppends(group);
    this.appendsInFlight = done;
    void done.then(() => {
      if (this.appendsInFlight === done) this.appendsInFlight = undefined;
    });
  }

  private async commitAppends(group: readonly QueuedAppend[]): Promise<void> {
    let outcomes: (AppendOutcome | { readonly error: unknown })[];
    try {
      // Not sleeping this thread (the HTTP thread) while a checkpoint holds the write lock to
      // copy and sync: the group waits on a timer, and other requests are served meanwhile.
      outcomes = await writeWithoutBlocking(this.database, () => this.appendGroupTransaction.immediate(group));
    } catch (error) {
      for (const append of group) append.reject(error);
      return;
    }
    const written = group.flatMap((append, index) => {
      const outcome = outcomes[index]!;
      return 'written' in outcome && outcome.written ? append.events : [];
    });
    if (written.length > 0) this.wakeSubscriptions(written);
    group.forEach((append, index) => {
      const outcome = outcomes[index]!;
      if ('error' in outcome) append.reject(outcome.error);
      else append.resolve(outcome.result);
    });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    // One snapshot, so the truncation point and the rows agree even if another process writes.
    return this.readSnapshot(() => this.readStreamInSnapshot(stream, options));
  }

  /**
   * Where the stream passes `after` (and `from`) is found in its index, without reading the
   * events before it: a user's events lie on pages of their own in a large store (other
   * users' events interleave), and reading back a fixed number of them to find the ones a
   * projection has not applied read mostly events it had (bench/RESULTS.md, "A stream's tail
   * from its index").
   */
  async readStreamTail(stream: string, after: Position, { from = 0, maxCount = Infinity }: StreamTailOptions = {}): Promise<StreamTail> {
    return this.readSnapshot(() => {
      const state = this.statements.selectStream.get(stream);
      if (state?.tombstoned) throw new StreamDeletedError(stream);
      if (!state || state.last_revision === null || state.deleted) return { events: [], complete: true };
      const last = state.last_revision;
      const firstVisible = state.truncate_before ?? 0n;
      /** The first visible revision after the events at or before `position`. */
      const firstAfter = (position: bigint): bigint => {
        const boundary = this.statements.lastRevisionAtOrBefore.get(state.id, position);
        const next = boundary === undefined ? 0n : boundary + 1n;
        return next > firstVisible ? next : firstVisible;
      };
      // Only those after `from`: a download's cursor is usually past a lagging projection's
      // checkpoint, and what lies between was answered by the download before.
      const fromPosition = BigInt(Math.max(0, Math.trunc(from)));
      const afterAll = firstAfter(after.commit);
      const wanted = fromPosition <= after.commit ? afterAll : firstAfter(fromPosition);
      const newest = Number.isFinite(maxCount) ? last - BigInt(Math.max(0, Math.trunc(maxCount))) + 1n : wanted;
      const start = newest > wanted ? newest : wanted;
      // Complete when nothing visible after `after` was left out, by `from` or by `maxCount`.
      const complete = start === afterAll;
      if (start > last) return { events: [], complete };
      return { events: streamEventsOf(stream, this.statements.readForwards.all(state.id, start, Number(last - start + 1n))), complete };
    });
  }

  /**
   * One statement (its own snapshot): the stream's row and, from the (stream, revision) index
   * alone, the newest revision still there at or after the first visible one (an erasure may
   * have deleted the last revision's row). No event row is read or decoded.
   */
  async lastPosition(stream: string): Promise<Position | undefined> {
    const row = this.statements.lastVisiblePosition.get(stream);
    if (row?.tombstoned) throw new StreamDeletedError(stream);
    if (!row || row.last_revision === null || row.deleted || row.position === null) return undefined;
    return { commit: row.position, prepare: row.position };
  }

  private readStreamInSnapshot(stream: string, options: ReadStreamOptions): RecordedEvent[] {
    const state = this.statements.selectStream.get(stream);
    if (state?.tombstoned) throw new StreamDeletedError(stream);
    if (!state || state.last_revision === null || state.deleted) throw new StreamNotFoundError(stream);
    const limit = toLimit(options.maxCount);
    if (limit === 0) return [];
    const firstVisible = state.truncate_before ?? 0n;
    const rows =
      options.direction === 'backwards'
        ? this.readBackwardsRows(state.id, options.fromRevision ?? 'end', state.last_revision, firstVisible, limit)
        : this.readForwardsRows(state.id, options.fromRevision ?? 'start', state.last_revision, firstVisible, limit);
    return streamEventsOf(stream, rows);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const limit = toLimit(options.maxCount);
    if (limit === 0) return [];
    const after = options.after?.commit ?? 0n;
    return this.selectVisible(after, MAX_POSITION, limit, options.filter).map(toRecordedEvent);
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): AllSubscription {
    const filter = options.filter;
    const subscription = new SqliteAllSubscription(
      {
        fetchPage: (after, limit) => this.fetchSubscriptionPage(after, limit, filter),
        hidingGeneration: () => this.hidingGeneration,
      },
      options.after?.commit ?? 0n,
      this.pageSize,
      this.pollIntervalMs,
      (ended) => this.subscriptions.delete(ended),
      filter?.eventTypes,
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  async getStreamMetadata(stream: string): Promise<StreamMetadataResult> {
    const state = this.statements.selectStream.get(stream);
    if (state?.tombstoned) throw new StreamDeletedError(stream);
    return metadataResult(state);
  }

  async setStreamMetadata(stream: string, patch: MetadataPatch, options: SetMetadataOptions = {}): Promise<StreamMetadataResult> {
    validateMetadataPatch(patch);
    const result = this.setMetadataTransaction.immediate(stream, patch, options.expectedMetaRevision ?? 'any');
    this.hidingGeneration++;
    return result;
  }

  async streamState(stream: string): Promise<StreamState> {
    const state = this.statements.selectStream.get(stream);
    return {
      lastRevision: state?.last_revision ?? 'no_stream',
      softDeleted: Boolean(state?.deleted),
      tombstoned: Boolean(state?.tombstoned),
      metaRevision: state?.tombstoned ? 'no_stream' : (state?.meta_revision ?? 'no_stream'),
    };
  }

  async deleteStream(stream: string): Promise<void> {
    this.softDeleteTransaction.immediate(stream, 'any');
    this.hidingGeneration++;
  }

  async tombstoneStream(stream: string, options: { expectedRevision?: ExpectedRevision } = {}): Promise<void> {
    this.tombstoneTransaction.immediate(stream, options.expectedRevision ?? 'any');
    this.hidingGeneration++;
  }

  async headPosition(): Promise<Position> {
    const head = this.readHead();
    return head === 0n ? START : { commit: head, prepare: head };
  }

  /**
   * Physically deletes the events hidden by truncation, soft delete or tombstone (the embedded
   * equivalent of an EventStoreDB scavenge), for one stream or all. Returns how many rows went.
   * Idempotency for the purged ids is lost, as it is in EventStoreDB after a scavenge.
   */
  purgeTruncated(stream?: string): number {
    return this.purgeTransaction.immediate(stream);
  }

  /**
   * Truncates many streams at once (a retention pass): sets each one's `$tb`, merged into its
   * metadata as {@link setStreamMetadata} does but never lowered, in one transaction. The rows
   * stay until {@link purgeStreams} (or {@link purgeTruncated}) deletes them.
   */
  truncateStreams(truncations: readonly StreamTruncation[]): void {
    if (truncations.length === 0) return;
    for (const { truncateBefore } of truncations) validateMetadataPatch({ truncateBefore });
    this.truncateTransaction.immediate(truncations);
    this.hidingGeneration++;
  }

  /**
   * Physically deletes the rows hidden by truncation, soft delete or tombstone in each of these
   * streams, all in one transaction (as {@link purgeTruncated} does stream by stream). A retention
   * pass purges thousands of streams: one transaction per stream writes the pages it touches
   * (users' rows share table pages) once per stream instead of once per batch, and took twice as
   * long (scripts/bench/retention.ts). Returns how many rows went.
   */
  purgeStreams(streams: readonly string[]): number {
    if (streams.length === 0) return 0;
    return this.purgeStreamsTransaction.immediate(streams);
  }

  /**
   * Stops SQLite's automatic WAL checkpoints on this connection until the returned function is
   * called (a bulk purge then writes each page back once, at the caller's WAL truncation,
   * instead of at every commit). A no-op when they are off already (the service's background
   * checkpointer, wal-checkpointer.ts, runs them on a worker thread).
   */
  pauseWalCheckpoints(): () => void {
    const current = () => Number(this.database.pragma('wal_autocheckpoint', { simple: true }));
    const previous = current();
    if (previous === 0) return () => undefined; // already off (a background checkpointer runs them)
    this.database.pragma('wal_autocheckpoint = 0');
    // Unless someone else changed the setting meanwhile.
    return () => void (current() === 0 && this.database.pragma(`wal_autocheckpoint = ${Math.trunc(previous)}`));
  }

  /**
   * Physically deletes the given events of a stream (erasure, docs/design.md, "Erasure"): the rows go, and with
   * `secure_delete` (set by the service) their bytes are overwritten. Old page images stay in the
   * WAL until it is written back and truncated: the caller does that (the retention capability's
   * `checkpointWal`, on the WAL checkpointer's thread; a retention pass erasing for many users
   * does it once).
   * Revisions of the remaining events do not change. Each event is found by its revision (the
   * stream's index), and goes only if it has the id given. Returns how many rows went.
   */
  eraseEvents(stream: string, events: readonly Pick<RecordedEvent, 'id' | 'revision'>[]): number {
    if (events.length === 0) return 0;
    const erase = this.database.prepare('DELETE FROM events WHERE stream_id = (SELECT id FROM streams WHERE name = ?) AND revision = ? AND id = ?');
    const removed = this.database.transaction(() => events.reduce((sum, event) => sum + erase.run(stream, event.revision, event.id).changes, 0)).immediate();
    this.hidingGeneration++;
    return removed;
  }

  /** Ends every subscription, then closes the connection if this store opened it (appends made before are committed first). */
  async close(): Promise<void> {
    while (this.appendQueue.length > 0 || this.appendsInFlight) {
      await (this.appendsInFlight ?? new Promise((resolve) => setImmediate(resolve)));
    }
    await Promise.all([...this.subscriptions].map((subscription) => subscription.unsubscribe()));
    if (this.ownsDatabase && this.database.open) this.database.close();
  }

  // ---- append ----

  /** Order matters: a tombstone beats everything; a retry answers whatever the expected revision. */
  private appendInTransaction(stream: string, events: readonly SerializedEvent[], expected: ExpectedRevision): AppendOutcome {
    const state = this.statements.selectStreamForAppend.get(stream);
    if (state?.tombstoned) throw new StreamDeletedError(stream);
    // A stream with no row has no events, so the retry check can be skipped (the common first write).
    const recent = RecentIds.of(state?.recent_ids);
    const retry = events.length > 0 && state?.last_revision != null ? this.findRetry(state.id, stream, events, state.last_revision, recent) : undefined;
    if (retry) return { result: retry, written: false };
    checkExpectedRevision(stream, expected, revisionForChecks(state));
    if (events.length === 0) return { result: this.currentAppendResult(state), written: false };
    const streamId = state?.id ?? this.statements.insertStream.get(stream)!;
    return { result: this.insertEvents(streamId, events, state?.last_revision ?? NO_STREAM_REVISION, recent), written: true };
  }

  /**
   * The answer to a retried append: all its ids are among the stream's last events. Throws if
   * only some are, since that is neither a retry nor a new write. Like the EventStoreDB adapter
   * (which reads the stream's tail), a retry is recognised among the stream's last events, not
   * its whole history: a batch none of whose ids is among the {@link RECENT_IDS} the stream's
   * row keeps (`recent`, the last ending at `lastRevision`, src/stores/embedded/recent-ids.ts) is
   * new; one all of whose ids are there, each confirmed at its revision, is a retry. When they
   * cannot tell (some of its ids there, an event they name erased since, a row that keeps fewer:
   * a store made before it kept them), the batch and {@link RETRY_TAIL_SLACK} events more are
   * read back from the stream. No index of every event by its id: that cost every append a page write
   * (bench/RESULTS.md, "Retries recognised from a stream's last ids").
   */
  private findRetry(streamId: bigint, stream: string, events: readonly SerializedEvent[], lastRevision: bigint, recent: RecentIds): AppendResult | undefined {
    const ids = new Set(events.map((event) => event.id));
    /** Each id the kept hashes match, with the revision it would be at. */
    const matched: { id: string; revision: bigint }[] = [];
    for (const id of ids) {
      const index = recent.lastIndexOf(id);
      if (index >= 0) matched.push({ id, revision: lastRevision - BigInt(recent.length - 1 - index) });
    }
    // Every event of the stream since revision 0, or a full window: an id it does not hold is not recent.
    const whole = recent.length >= RECENT_IDS || BigInt(recent.length) === lastRevision + 1n;
    if (matched.length === 0 && whole) return undefined;
    if (matched.length === ids.size) {
      // Each confirmed where its hash says (a hash may match another id; an event may have been erased since).
      let last: { revision: bigint; position: bigint } | undefined;
      for (const { id, revision } of matched) {
        const row = this.statements.selectEventAt.get(streamId, revision);
        if (row === undefined || row.id !== id) {
          last = undefined;
          break;
        }
        if (last === undefined || row.position > last.position) last = { revision, position: row.position };
      }
      if (last !== undefined) return { nextRevision: last.revision, position: { commit: last.position, prepare: last.position } };
    }
    return this.findRetryInTail(streamId, stream, ids);
  }

  /** {@link findRetry} from the stream's last events as stored. */
  private findRetryInTail(streamId: bigint, stream: string, ids: ReadonlySet<string>): AppendResult | undefined {
    const found = this.statements.selectTail.all(streamId, ids.size + RETRY_TAIL_SLACK).filter((row) => ids.has(row.id));
    if (found.length === 0) return undefined;
    if (new Set(found.map((row) => row.id)).size < ids.size) throw new IdempotencyConflictError(stream);
    let last = found[0]!;
    for (const row of found) if (row.position > last.position) last = row;
    return { nextRevision: last.revision, position: { commit: last.position, prepare: last.position } };
  }

  /** `recent`: the ids the stream's row keeps of its last events (they end at `lastRevision`). */
  private insertEvents(streamId: bigint, events: readonly SerializedEvent[], lastRevision: bigint, recent: RecentIds): AppendResult {
    const recordedAt = this.clock().getTime();
    let revision = lastRevision;
    let position = 0n;
    for (const event of events) {
      revision++;
      const info = this.statements.insertEvent.run(streamId, revision, event.id, event.type, event.data, event.metadata, recordedAt);
      position = BigInt(info.lastInsertRowid);
    }
    this.statements.setStreamRevision.run(
      revision,
      recent.appended(
        events.map((event) => event.id),
        RECENT_IDS,
      ),
      streamId,
    );
    return { nextRevision: revision, position: { commit: position, prepare: position } };
  }

  /** What an empty append answers: the stream as it is. */
  private currentAppendResult(state: StreamRow | undefined): AppendResult {
    const lastRevision = state?.last_revision;
    if (state === undefined || lastRevision == null) return { nextRevision: NO_STREAM_REVISION, position: START };
    const last = this.statements.selectEventAt.get(state.id, lastRevision);
    const position = last?.position ?? this.readHead();
    return { nextRevision: lastRevision, position: { commit: position, prepare: position } };
  }

  /** `appended`: the events of this process's append (a subscription none of them is for sleeps on). */
  private wakeSubscriptions(appended?: readonly { readonly type: string }[]): void {
    for (const subscription of this.subscriptions) subscription.wake(appended);
  }

  /**
   * Another connection to the same file appended (the service's HTTP thread, when this store
   * serves the projector's thread): subscriptions look now instead of at their next poll.
   */
  notifyAppended(): void {
    this.wakeSubscriptions();
  }

  // ---- metadata and deletes ----

  private setMetadataInTransaction(stream: string, patch: MetadataPatch, expected: ExpectedRevision): StreamMetadataResult {
    const state = this.statements.selectStream.get(stream);
    if (state?.tombstoned) throw new StreamDeletedError(stream);
    checkExpectedRevision(metadataStreamName(stream), expected, state?.meta_revision ?? 'no_stream');
    const merged = mergeMetadata(toStreamMetadata(state), patch);
    const metaRevision = nextMetaRevision(state);
    this.statements.upsertMetadata.run(stream, merged.truncateBefore ?? null, storedMetadataJson(merged), metaRevision);
    return { metadata: merged, metaRevision };
  }

  private softDeleteInTransaction(stream: string, expected: ExpectedRevision): void {
    const state = this.statements.selectStream.get(stream);
    if (state?.tombstoned) throw new StreamDeletedError(stream);
    checkExpectedRevision(stream, expected, revisionForChecks(state));
    // Nothing was ever written: nothing to hide (a retried delete, e.g. of an account, succeeds).
    if (!state || state.last_revision === null) return;
    // EventStoreDB semantics: `$tb` past the last event hides the history for good, and the next
    // append continues the revisions, so it becomes the first visible event.
    this.statements.softDelete.run(state.last_revision + 1n, nextMetaRevision(state), stream);
  }

  private tombstoneInTransaction(stream: string, expected: ExpectedRevision): void {
    const state = this.statements.selectStream.get(stream);
    if (state?.tombstoned) throw new StreamDeletedError(stream);
    checkExpectedRevision(stream, expected, revisionForChecks(state));
    this.statements.tombstone.run(stream);
  }

  private purgeInTransaction(stream: string | undefined): number {
    const targets = stream === undefined ? this.statements.truncatedStreams.all() : this.statements.truncatedStream.all(stream);
    let purged = 0;
    for (const target of targets) {
      const info = target.tombstoned ? this.statements.deleteAll.run(target.id) : this.statements.deleteBefore.run(target.id, target.truncate_before ?? 0n);
      purged += info.changes;
    }
    return purged;
  }

  // ---- reads ----

  private readForwardsRows(streamId: bigint, from: bigint | 'start' | 'end', lastRevision: bigint, firstVisible: bigint, limit: number): StreamEventValues[] {
    // Like EventStoreDB, reading forwards from 'end' starts after the last event.
    const start = from === 'start' ? 0n : from === 'end' ? lastRevision + 1n : from;
    // Past the last revision there is nothing to read: the usual answer to a cached reader
    // asking what came after what it holds (src/services/user-events.ts), without a query.
    if (start > lastRevision) return [];
    return this.statements.readForwards.all(streamId, start > firstVisible ? start : firstVisible, limit);
  }

  private readBackwardsRows(streamId: bigint, from: bigint | 'start' | 'end', lastRevision: bigint, firstVisible: bigint, limit: number): StreamEventValues[] {
    const start = from === 'end' ? lastRevision : from === 'start' ? 0n : from;
    return this.statements.readBackwards.all(streamId, start, firstVisible, limit);
  }

  /** One snapshot: the head and the page below it, so `scannedUpTo` never passes an unseen commit. */
  private fetchSubscriptionPage(after: bigint, limit: number, filter: AllFilter | undefined): SubscriptionPage {
    return this.readSnapshot(() => {
      const head = this.readHead();
      if (head <= after) return { events: [], scannedUpTo: after };
      const rows = this.selectVisible(after, head, limit, filter);
      const scannedUpTo = rows.length < limit ? head : rows[rows.length - 1]!.position;
      return { events: rows.map(toRecordedEvent), scannedUpTo };
    });
  }

  private readSnapshot<T>(read: () => T): T {
    return this.snapshotTransaction.deferred(read) as T;
  }

  /** `$all` after `after` up to `until` (inclusive), hiding truncated, soft-deleted and tombstoned events. */
  private selectVisible(after: bigint, until: bigint, limit: number, filter: AllFilter | undefined): EventRow[] {
    const prefixes = filter?.streamPrefixes ?? [];
    const types = filter?.eventTypes ?? [];
    const statement = this.readAllStatement(prefixes.length, types.length);
    return statement.all(after, until, ...prefixes.flatMap((prefix) => [prefix, prefix]), ...types, limit);
  }

  /** Prepared per filter shape (how many prefixes and types), then reused. */
  private readAllStatement(prefixCount: number, typeCount: number): Statement<unknown[], EventRow> {
    const key = `${prefixCount}/${typeCount}`;
    let statement = this.readAllStatements.get(key);
    if (!statement) {
      statement = this.database.prepare<unknown[], EventRow>(readAllSql(prefixCount, typeCount)).safeIntegers(true);
      this.readAllStatements.set(key, statement);
    }
    return statement;
  }

  private readHead(): bigint {
    return this.statements.head.get()?.seq ?? 0n;
  }
}

function prepareStatements(db: Database): PreparedStatements {
  // Safe integers everywhere: revisions and positions are bigint in the API and may pass 2^53.
  const prepare = <P extends unknown[], R = unknown>(sql: string): Statement<P, R> => db.prepare<P, R>(sql).safeIntegers(true);
  return {
    selectStream: prepare('SELECT id, last_revision, truncate_before, deleted, tombstoned, metadata, meta_revision FROM streams WHERE name = ?'),
    selectStreamForAppend: prepare(
      'SELECT id, last_revision, truncate_before, deleted, tombstoned, metadata, meta_revision, recent_ids FROM streams WHERE name = ?',
    ),
    selectTail: prepare('SELECT id, revision, position FROM events WHERE stream_id = ? ORDER BY revision DESC LIMIT ?'),
    selectEventAt: prepare('SELECT id, position FROM events WHERE stream_id = ? AND revision = ?'),
    insertEvent: prepare('INSERT INTO events (stream_id, revision, id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    insertStream: prepare<[string], bigint>('INSERT INTO streams (name) VALUES (?) RETURNING id').pluck(),
    setStreamRevision: prepare('UPDATE streams SET last_revision = ?, deleted = 0, recent_ids = ? WHERE id = ?'),
    upsertMetadata: prepare(
      `INSERT INTO streams (name, truncate_before, metadata, meta_revision) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET truncate_before = excluded.truncate_before,
         metadata = excluded.metadata, meta_revision = excluded.meta_revision`,
    ),
    softDelete: prepare('UPDATE streams SET deleted = 1, truncate_before = ?, meta_revision = ? WHERE name = ?'),
    tombstone: prepare(
      `INSERT INTO streams (name, tombstoned) VALUES (?, 1)
       ON CONFLICT (name) DO UPDATE SET tombstoned = 1`,
    ),
    // Rows as arrays of their values, without the stream they were read from (rows.ts).
    readForwards: prepare<[bigint, bigint, number], StreamEventValues>(
      `SELECT ${STREAM_EVENT_COLUMNS} FROM events e WHERE e.stream_id = ? AND e.revision >= ? ORDER BY e.revision LIMIT ?`,
    ).raw(true),
    readBackwards: prepare<[bigint, bigint, bigint, number], StreamEventValues>(
      `SELECT ${STREAM_EVENT_COLUMNS} FROM events e WHERE e.stream_id = ? AND e.revision <= ? AND e.revision >= ?
       ORDER BY e.revision DESC LIMIT ?`,
    ).raw(true),
    lastVisiblePosition: prepare(
      `SELECT s.last_revision, s.deleted, s.tombstoned,
         (SELECT e.position FROM events e WHERE e.stream_id = s.id AND e.revision >= coalesce(s.truncate_before, 0)
          ORDER BY e.revision DESC LIMIT 1) AS position
       FROM streams s WHERE s.name = ?`,
    ),
    // From the (stream, revision) index alone (its entries hold the position, the rowid),
    // walked back from the stream's end past the events after the position: no row is read.
    lastRevisionAtOrBefore: prepare<[bigint, bigint], bigint>(
      'SELECT revision FROM events WHERE stream_id = ? AND position <= ? ORDER BY revision DESC LIMIT 1',
    ).pluck(),
    // The highest position ever given out; a new store's sequence starts at 1 with no event
    // there (schema.ts), so up to 1 the head is what the table holds.
    head: prepare("SELECT CASE WHEN seq > 1 THEN seq ELSE (SELECT IFNULL(MAX(position), 0) FROM events) END AS seq FROM sqlite_sequence WHERE name = 'events'"),
    truncatedStreams: prepare('SELECT id, truncate_before, tombstoned FROM streams WHERE truncate_before > 0 OR tombstoned = 1'),
    truncatedStream: prepare('SELECT id, truncate_before, tombstoned FROM streams WHERE name = ? AND (truncate_before > 0 OR tombstoned = 1)'),
    deleteBefore: prepare('DELETE FROM events WHERE stream_id = ? AND revision < ?'),
    deleteAll: prepare('DELETE FROM events WHERE stream_id = ?'),
  };
}

/**
 * CROSS JOIN pins `events` as the outer loop so SQLite walks positions in order and stops at the
 * limit, instead of scanning streams and sorting. Prefixes use substr() rather than LIKE, which is
 * case-insensitive and treats `_`/`%` as wildcards.
 */
function readAllSql(prefixCount: number, typeCount: number): string {
  const conditions = ['e.position > ?', 'e.position <= ?', 's.tombstoned = 0', 's.deleted = 0', 'e.revision >= coalesce(s.truncate_before, 0)'];
  if (prefixCount > 0) {
    conditions.push(`(${Array.from({ length: prefixCount }, () => 'substr(s.name, 1, length(?)) = ?').join(' OR ')})`);
  }
  if (typeCount > 0) conditions.push(`e.type IN (${Array.from({ length: typeCount }, () => '?').join(', ')})`);
  return `SELECT ${EVENT_COLUMNS} FROM events e CROSS JOIN streams s ON s.id = e.stream_id
          WHERE ${conditions.join(' AND ')} ORDER BY e.position LIMIT ?`;
}

function isDatabase(source: Database | SqliteEventStoreOpenOptions): source is Database {
  return typeof (source as Partial<Database>).prepare === 'function';
}

/** Events from which an append is written out as JSON a slice at a time (`mapPaced`). */
const SERIALIZE_PACED = 2_000;

function serializeEvent(event: EventToAppend): SerializedEvent {
  return {
    id: event.id,
    type: event.type,
    data: JSON.stringify(event.data),
    metadata: JSON.stringify(event.metadata ?? {}),
  };
}

/**
 * A soft-deleted stream counts as absent for `no_stream` / `stream_exists`, as in EventStoreDB where
 * it reads as not found; its last revision is what `streamState` reports and what an append
 * continues from.
 */
function revisionForChecks(state: StreamRow | undefined): RevisionForChecks {
  if (!state || state.last_revision === null || state.deleted) return 'no_stream';
  return state.last_revision;
}

function checkExpectedRevision(stream: string, expected: ExpectedRevision, actual: RevisionForChecks): void {
  const matches =
    expected === 'any' ||
    (expected === 'no_stream' && actual === 'no_stream') ||
    (expected === 'stream_exists' && actual !== 'no_stream') ||
    (typeof expected === 'bigint' && expected === actual);
  if (!matches) throw new WrongExpectedVersionError(stream, expected, actual);
}

function metadataStreamName(stream: string): string {
  return `$$${stream}`;
}

function nextMetaRevision(state: StreamRow | undefined): bigint {
  return state?.meta_revision == null ? 0n : state.meta_revision + 1n;
}

function metadataResult(state: StreamRow | undefined): StreamMetadataResult {
  return { metadata: toStreamMetadata(state), metaRevision: state?.meta_revision ?? 'no_stream' };
}

function validateMetadataPatch(patch: MetadataPatch): void {
  if (patch.truncateBefore < 0n) {
    throw new RangeError(`truncateBefore must be >= 0, got ${patch.truncateBefore}`);
  }
}

function toLimit(maxCount: number | undefined): number {
  if (maxCount === undefined) return UNLIMITED;
  if (!Number.isInteger(maxCount) || maxCount < 0) throw new RangeError(`maxCount must be a non-negative integer, got ${maxCount}`);
  return maxCount;
}
