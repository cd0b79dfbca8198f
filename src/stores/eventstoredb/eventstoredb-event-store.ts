/**
 * The production {@link EventStore}: EventStoreDB through `@eventstore/db-client` v6 (gRPC).
 *
 * Notes for operators and admins
 * - Streams: every stream name of the service is a stream of the same name in EventStoreDB
 *   (`user-<id>` per user, per-podcast streams for `roll_stats`; see the domain for the exact
 *   names). Stream metadata lives in `$$<stream>` (`$tb` = truncate before, custom keys at the
 *   top level); the web UI shows both under "Stream Browser". Do not set `$maxAge` or
 *   `$maxCount` by hand: the server applies them to stream reads only, and the read models,
 *   fed from `$all`, would go on counting what they hide.
 * - Why this adapter filters `$all`: EventStoreDB hides events before `$tb`, and whole
 *   soft-deleted or tombstoned streams, from *stream* reads at once, but `$all` reads and
 *   subscriptions keep delivering them until a scavenge removes them from disk. Read models are
 *   fed from `$all` and must not count hidden events (docs/design.md, "Read models", 7, 8), so every `$all` read here
 *   looks up the stream's current metadata (cached per read or subscription, refreshed when the
 *   stream's `$metadata` goes by) and drops what the stream itself would not show.
 * - Physical removal (retention and erasure need it, docs/design.md, "Retention" and "Erasure"): run a scavenge regularly, from
 *   the admin UI (Admin → Scavenge) or with `curl -X POST -u admin:<password>
 *   https://<node>:2113/admin/scavenge` on every node of the cluster. Until then truncated and
 *   deleted events stay on disk (hidden, as above).
 * - Soft delete (`deleteStream`) replaces the stream's metadata with `{"$tb": Int64.MaxValue}`:
 *   custom metadata does not survive it (EventStoreDB behaviour). The next append, or the next
 *   metadata write, re-creates the stream with `$tb` just past its old last event.
 * - Needs EventStoreDB 22.6 or later (event positions on stream reads), and credentials that
 *   may read `$all` and metastreams (an admin or `$ops` user in a secure cluster).
 */
import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  MaxAppendSizeExceededError as ClientMaxAppendSizeExceededError,
  NO_STREAM,
  START as CLIENT_START,
  StreamDeletedError as ClientStreamDeletedError,
  StreamNotFoundError as ClientStreamNotFoundError,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
  binaryEvent,
  jsonEvent,
  streamNameFilter,
  type AppendExpectedRevision,
  type AppendResult as ClientAppendResult,
  type EventData,
  type Filter,
  type ReadPosition,
  type ReadStreamOptions as ClientReadStreamOptions,
} from '@eventstore/db-client';
import {
  AppendTooLargeError,
  IdempotencyConflictError,
  START,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  comparePositions,
  readTailBackwards,
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
  type SubscribeToAllOptions,
} from '../event-store.js';
import { EventStoreDbAllSubscription } from './all-subscription.js';
import { ConsumerView, type AllRecord } from './consumer-view.js';
import {
  COMPRESS_FROM_CHARS,
  TOMBSTONED,
  compressData,
  expectationFailure,
  isAfter,
  isStartPosition,
  matchBatchInTail,
  mergeRawMetadata,
  metastreamOf,
  readRawMetadata,
  serializeEvent,
  serverFilterFor,
  toClientAppendRevision,
  toClientDeleteRevision,
  toClientReadOptions,
  toCurrentRevision,
  toEsdbConnectionString,
  toPosition,
  toRecordedEvent,
  toStreamMetadata,
  validateMaxCount,
  validateMetadataPatch,
  visibilityFromRawMetadata,
  type ClientRecordLike,
  type RawMetadata,
  type SerializedEvent,
  type StreamVisibility,
} from './mapping.js';
import { VisibilityCache } from './visibility-cache.js';

/** How many events beyond the batch an `any` append inspects for an earlier copy of it. */
const ANY_TAIL_SLACK = 32;
/** The same after a conflict (rare, so it may look further back). */
const CONFLICT_TAIL_SLACK = 256;
/** Read-then-append rounds an `any` append tries before leaving dedupe to the server alone. */
const ANY_ATTEMPTS = 5;
/** Read-merge-write rounds of an unconditional metadata update under concurrent writers. */
const METADATA_ATTEMPTS = 5;
/** `$all` records per request when reading (the v6 client cannot filter readAll server-side). */
const READ_ALL_PAGE_SIZE = 512;
/** Records of a page whose streams' metadata readAll loads together. */
const PREFETCH_CHUNK = 32;
/** headPosition's first page (usually enough: the head is a user event or close to one). */
const HEAD_FIRST_PAGE_SIZE = 64;
/** Its later pages, after a run of system records (a retention pass writes one `$metadata` per user). */
const HEAD_PAGE_SIZE = 1024;
/**
 * An expected revision no stream reaches: an empty append with it writes nothing and makes the
 * server answer WrongExpectedVersion with the stream's true last revision, which is the only
 * way to learn it when no event is readable (soft-deleted, or truncated past its end).
 */
const PROBE_REVISION = 2n ** 62n;
/** What EventStoreDB (and the embedded store) answer as "revision" of a stream with no events. */
const NO_STREAM_REVISION = -1n;

type AppendOutcome =
  | { readonly kind: 'appended'; readonly result: ClientAppendResult }
  | { readonly kind: 'wrong-version'; readonly actual: bigint | 'no_stream' }
  | { readonly kind: 'deleted' };

type TailCheck = { readonly kind: 'retry'; readonly result: AppendResult } | { readonly kind: 'new'; readonly lastRevision?: bigint };

interface StreamInspection extends StreamState {
  /** The last readable event, if any. */
  readonly last?: RecordedEvent;
}

interface ReadRecord {
  readonly record: ClientRecordLike;
  readonly commitPosition: bigint | undefined;
}

interface MetadataRead {
  readonly raw: RawMetadata;
  readonly metaRevision: bigint | 'no_stream';
  /** The metadata record's position in `$all`. */
  readonly position?: Position;
}

const TOMBSTONED_STATE: StreamInspection = Object.freeze({ lastRevision: 'no_stream', softDeleted: false, tombstoned: true, metaRevision: 'no_stream' });

export class EventStoreDbEventStore implements EventStore {
  /**
   * Commit positions are byte offsets in the server's log, and every log record is at least 90
   * bytes (docs/production.md, the EventStoreDB table), so two appends' commit positions are further apart.
   */
  readonly positionGap = 64;
  private readonly subscriptions = new Set<EventStoreDbAllSubscription>();
  /** headPosition's last answer and the raw head it scanned from (see headPosition). */
  private lastHead: { readonly raw: Position; readonly visible: Position } | undefined;

  /** Uses a client the caller created; {@link close} disposes it. */
  constructor(private readonly client: EventStoreDBClient) {}

  /**
   * E.g. `esdb://admin:changeit@localhost:2113?tls=false`. The client connects lazily: a wrong
   * address surfaces on the first operation (`UnavailableError`), not here.
   */
  static connect(connectionString: string): Promise<EventStoreDbEventStore> {
    const client = EventStoreDBClient.connectionString(toEsdbConnectionString(connectionString));
    return Promise.resolve(new EventStoreDbEventStore(client));
  }

  // ---- append ----

  async append(stream: string, events: readonly EventToAppend[], options: AppendOptions = {}): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    const serialized = events.map(serializeEvent);
    if (serialized.length === 0) return this.appendNothing(stream, expected);
    if (expected === 'any') return this.appendUnchecked(stream, serialized);
    if (expected === 'stream_exists') return this.appendToExisting(stream, serialized);
    return this.appendExpecting(stream, serialized, expected);
  }

  /**
   * An exact expectation makes the server itself recognise a retry at the same place (same ids
   * after the same revision) and answer it like the first time. A retry loaded after its original
   * expects the revision the original left (or a later one): there the server sees an expectation
   * met and would write the batch again, so an expected revision first costs a look at the
   * stream's tail (at most a window's worth of events, however long the batch), as `any` does.
   * A conflict looks further back, to tell a retry of an older write from a real conflict.
   */
  private async appendExpecting(stream: string, events: readonly SerializedEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (typeof expected === 'bigint') {
      const tail = await this.checkTail(stream, events, ANY_TAIL_SLACK, Math.min(events.length, ANY_TAIL_SLACK));
      if (tail.kind === 'retry') return tail.result;
    }
    const outcome = await this.appendRaw(stream, events.map(toEventData), toClientAppendRevision(expected));
    switch (outcome.kind) {
      case 'appended':
        return this.toAppendResult(stream, outcome.result);
      case 'deleted':
        throw await this.explainDeleted(stream, expected);
      case 'wrong-version': {
        const tail = await this.checkTail(stream, events, CONFLICT_TAIL_SLACK);
        if (tail.kind === 'retry') return tail.result;
        throw new WrongExpectedVersionError(stream, expected, outcome.actual);
      }
    }
  }

  /**
   * The server checks `stream_exists` like `any`: a retry is recognised only through its bounded
   * in-memory cache of recent ids (IndexWriter.CheckCommit), lost on restart, so a retried
   * append could be written twice. Instead the tail is read (a retry is answered from it) and
   * the append expects the exact revision read; the stream's existence is what that revision says.
   */
  private async appendToExisting(stream: string, events: readonly SerializedEvent[]): Promise<AppendResult> {
    const proposed = events.map(toEventData);
    let actual: bigint | 'no_stream' = 'no_stream';
    for (let attempt = 0; attempt < ANY_ATTEMPTS; attempt++) {
      const tail = await this.checkTail(stream, events, ANY_TAIL_SLACK);
      if (tail.kind === 'retry') return tail.result;
      const revision = tail.lastRevision ?? (await this.existingRevision(stream));
      const outcome = await this.appendRaw(stream, proposed, revision);
      if (outcome.kind === 'appended') return this.toAppendResult(stream, outcome.result);
      if (outcome.kind === 'deleted') throw new StreamDeletedError(stream);
      actual = outcome.actual;
    }
    throw new WrongExpectedVersionError(stream, 'stream_exists', actual);
  }

  /** The last revision of a stream with no readable event, which must exist (not soft-deleted). */
  private async existingRevision(stream: string): Promise<bigint> {
    const state = await this.inspect(stream);
    if (state.tombstoned) throw new StreamDeletedError(stream);
    if (state.lastRevision === 'no_stream' || state.softDeleted) throw new WrongExpectedVersionError(stream, 'stream_exists', 'no_stream');
    return state.lastRevision;
  }

  /**
   * With `any` the server's dedupe is best effort (an in-memory cache of recent ids), so the
   * adapter reads the tail first, then appends expecting the revision it saw: a concurrent
   * writer (perhaps a retry of the same batch) makes that fail, and the tail is read again.
   */
  private async appendUnchecked(stream: string, events: readonly SerializedEvent[]): Promise<AppendResult> {
    const proposed = events.map(toEventData);
    for (let attempt = 0; attempt < ANY_ATTEMPTS; attempt++) {
      const tail = await this.checkTail(stream, events, ANY_TAIL_SLACK);
      if (tail.kind === 'retry') return tail.result;
      // Nothing readable (new, soft-deleted or fully truncated stream): nothing to compare with.
      const outcome = await this.appendRaw(stream, proposed, tail.lastRevision ?? ANY);
      if (outcome.kind === 'appended') return this.toAppendResult(stream, outcome.result);
      if (outcome.kind === 'deleted') throw new StreamDeletedError(stream);
    }
    const outcome = await this.appendRaw(stream, proposed, ANY);
    switch (outcome.kind) {
      case 'appended':
        return this.toAppendResult(stream, outcome.result);
      case 'deleted':
        throw new StreamDeletedError(stream);
      case 'wrong-version':
        // Only a client with throwOnAppendFailure=false answers this to `any`; it is no deletion.
        throw new WrongExpectedVersionError(stream, 'any', outcome.actual);
    }
  }

  /**
   * An empty append writes nothing; EventStoreDB would still turn it into a write (that re-creates
   * a soft-deleted stream), and the v6 client reads its "no stream" answer as revision 0, so the
   * expectation is checked here from the stream's state instead.
   */
  private async appendNothing(stream: string, expected: ExpectedRevision): Promise<AppendResult> {
    const state = await this.inspect(stream);
    if (state.tombstoned) throw new StreamDeletedError(stream);
    const actual = expectationFailure(expected, state);
    if (actual !== undefined) throw new WrongExpectedVersionError(stream, expected, actual);
    if (state.lastRevision === 'no_stream') return { nextRevision: NO_STREAM_REVISION, position: START };
    // A soft-deleted or truncated stream's last event is not readable: its position is unknown.
    return { nextRevision: state.lastRevision, position: state.last?.position ?? START };
  }

  private async appendRaw(stream: string, events: EventData[], expected: AppendExpectedRevision): Promise<AppendOutcome> {
    try {
      const result = await this.client.appendToStream(stream, events, { expectedRevision: expected });
      // With `throwOnAppendFailure=false` in the connection string the client answers instead of throwing.
      if (!result.success) return { kind: 'wrong-version', actual: toCurrentRevision(result.nextExpectedRevision) };
      return { kind: 'appended', result };
    } catch (error) {
      if (error instanceof ClientWrongExpectedVersionError) {
        return { kind: 'wrong-version', actual: toCurrentRevision(error.actualVersion) };
      }
      if (error instanceof ClientStreamDeletedError) return { kind: 'deleted' };
      // The unary and the batch append both answer it so (appendToStream/unpackError.js); nothing was written.
      if (error instanceof ClientMaxAppendSizeExceededError) throw new AppendTooLargeError(stream, error.maxAppendSize, undefined);
      throw error;
    }
  }

  /**
   * Looks for the batch among the stream's last events: all there is a retry (answered like the
   * first time: the batch's last event), some is a conflict, none is a new write.
   */
  private async checkTail(stream: string, events: readonly SerializedEvent[], slack: number, batchWindow = events.length): Promise<TailCheck> {
    const ids = events.map((event) => event.id);
    const window = batchWindow + slack;
    const tail = await this.readTail(stream, window);
    let match = matchBatchInTail(tail, ids);
    const oldest = tail[tail.length - 1];
    if (match.kind === 'some' && tail.length === window && oldest !== undefined && oldest.revision > 0n) {
      // The batch may straddle the start of the window: look just before it too.
      const before = await this.readBackwardsFrom(stream, oldest.revision - 1n, ids.length);
      match = matchBatchInTail([...tail, ...before], ids);
    }
    if (match.kind === 'some') throw new IdempotencyConflictError(stream);
    if (match.kind === 'all') return { kind: 'retry', result: { nextRevision: match.last.revision, position: match.last.position } };
    const last = tail[0];
    return last === undefined ? { kind: 'new' } : { kind: 'new', lastRevision: last.revision };
  }

  /** The server answers StreamDeleted to `stream_exists` on a soft-deleted stream too. */
  private async explainDeleted(stream: string, expected: ExpectedRevision): Promise<Error> {
    if (expected !== 'stream_exists') return new StreamDeletedError(stream);
    const state = await this.inspect(stream);
    return state.tombstoned ? new StreamDeletedError(stream) : new WrongExpectedVersionError(stream, expected, 'no_stream');
  }

  private async toAppendResult(stream: string, result: ClientAppendResult): Promise<AppendResult> {
    const nextRevision = result.nextExpectedRevision;
    if (result.position !== undefined) return { nextRevision, position: toPosition(result.position) };
    // Older servers answer an idempotent retry without a position: read it from the event.
    const [last] = await this.readEvents(stream, { direction: FORWARDS, fromRevision: nextRevision, maxCount: 1 });
    if (last === undefined) throw new Error(`EventStoreDB reported ${stream}@${nextRevision} as written but it cannot be read`);
    return { nextRevision, position: last.position };
  }

  // ---- stream reads ----

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const clientOptions = toClientReadOptions(options);
    if (clientOptions.maxCount === 0) {
      // Nothing to return, but a missing or deleted stream must still say so.
      await this.readEvents(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
      return [];
    }
    return this.readEvents(stream, clientOptions);
  }

  /** EventStoreDB cannot tell where a stream passes a position without reading it: read back from the end. */
  readStreamTail(stream: string, after: Position, options?: StreamTailOptions): Promise<StreamTail> {
    return readTailBackwards(this, stream, after, options);
  }

  /** One event read back from the end: the server holds no separate record of a stream's last position. */
  async lastPosition(stream: string): Promise<Position | undefined> {
    const [last] = await this.readTail(stream, 1);
    return last?.position;
  }

  private async readEvents(stream: string, options: ClientReadStreamOptions): Promise<RecordedEvent[]> {
    const records = await this.readRecords(stream, options);
    return records.map(({ record, commitPosition }) => toRecordedEvent(record, commitPosition));
  }

  /** Reads unconverted records; `reportAs` names the port-level stream in errors (a metastream's owner). */
  private async readRecords(stream: string, options: ClientReadStreamOptions, reportAs = stream): Promise<ReadRecord[]> {
    const records: ReadRecord[] = [];
    try {
      for await (const resolved of this.client.readStream(stream, options)) {
        if (resolved.event !== undefined) records.push({ record: resolved.event, commitPosition: resolved.commitPosition });
      }
    } catch (error) {
      throw translateReadError(error, reportAs);
    }
    return records;
  }

  /** The last `count` readable events, newest first; [] for a missing or soft-deleted stream. */
  private readTail(stream: string, count: number): Promise<RecordedEvent[]> {
    return this.readBackwardsFrom(stream, END, count);
  }

  private async readBackwardsFrom(stream: string, from: bigint | typeof END, count: number): Promise<RecordedEvent[]> {
    try {
      return await this.readEvents(stream, { direction: BACKWARDS, fromRevision: from, maxCount: count });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
  }

  // ---- $all ----

  /**
   * The v6 client cannot filter readAll server-side, so this pages through `$all` and filters
   * here (subscriptions do filter server-side). Starting at `after` keeps the scan short for the
   * usual callers (projectors resuming from a checkpoint).
   */
  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const limit = validateMaxCount(options.maxCount) ?? Number.POSITIVE_INFINITY;
    const after = fromTheStart(options.after) ? undefined : options.after;
    const view = new ConsumerView(this.newVisibilityCache(), options.filter, after);
    const events: RecordedEvent[] = [];
    let cursor = after;
    while (events.length < limit) {
      const page = await this.readAllPage(cursor);
      for (let i = 0; i < page.records.length && events.length < limit; i += PREFETCH_CHUNK) {
        const chunk = page.records.slice(i, i + PREFETCH_CHUNK);
        // Metadata for a chunk at a time: a small maxCount should not load a whole page's streams.
        await view.prefetch(chunk);
        for (const record of chunk) {
          const admitted = await view.admit(record);
          if (admitted !== undefined) events.push(admitted);
          if (events.length >= limit) break;
        }
      }
      if (page.last === undefined || page.exhausted) break;
      cursor = page.last;
    }
    return events;
  }

  /** One page of `$all` strictly after `cursor` (the client's fromPosition is inclusive). */
  private async readAllPage(cursor: Position | undefined): Promise<{ records: AllRecord[]; exhausted: boolean; last?: Position }> {
    const records: AllRecord[] = [];
    let count = 0;
    let last: Position | undefined;
    const fromPosition: ReadPosition = cursor ?? CLIENT_START;
    for await (const resolved of this.client.readAll({ fromPosition, maxCount: READ_ALL_PAGE_SIZE, direction: FORWARDS })) {
      count++;
      const event = resolved.event;
      if (event === undefined) continue;
      last = toPosition(event.position);
      if (isAfter(last, cursor)) records.push(event);
    }
    return last === undefined ? { records, exhausted: count < READ_ALL_PAGE_SIZE } : { records, exhausted: count < READ_ALL_PAGE_SIZE, last };
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): AllSubscription {
    const after = fromTheStart(options.after) ? undefined : options.after;
    const filter = toClientFilter(options.filter);
    const source = this.client.subscribeToAll({
      fromPosition: after ?? CLIENT_START,
      ...(filter === undefined ? {} : { filter }),
    });
    const view = new ConsumerView(this.newVisibilityCache(), options.filter, after);
    const subscription = new EventStoreDbAllSubscription(source, view, (ended) => this.subscriptions.delete(ended));
    this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * The position of the newest event a consumer could see, so that "has my projection caught
   * up with the head?" can become true: the raw last record of `$all` is usually a system event
   * (metadata writes, scavenge and projection bookkeeping) that no consumer is ever delivered,
   * so projector checkpoints never reach it and a wait for it lasts its whole timeout. The scan
   * goes back as far as it takes (a retention pass leaves one `$metadata` record per user on
   * top), but only once: it stops at the raw head the previous call scanned from and answers
   * that call's event, so each call reads only what was written since. START if no event is
   * visible at all.
   */
  async headPosition(): Promise<Position> {
    const view = new ConsumerView(this.newVisibilityCache(), undefined, undefined);
    const previous = this.lastHead;
    let cursor: Position | undefined;
    let raw: Position | undefined;
    let answer: Position | undefined;
    for (let pageSize = HEAD_FIRST_PAGE_SIZE; answer === undefined; pageSize = HEAD_PAGE_SIZE) {
      const page = await this.readAllBackwardsPage(cursor, pageSize);
      if (raw === undefined && page.records[0] !== undefined) raw = toPosition(page.records[0].position);
      for (const record of page.records) {
        const position = toPosition(record.position);
        if (previous !== undefined && comparePositions(position, previous.raw) <= 0) {
          answer = previous.visible;
          break;
        }
        if (await view.accepts(record)) {
          answer = position;
          break;
        }
      }
      const oldest = page.records[page.records.length - 1];
      if (answer !== undefined || oldest === undefined || page.exhausted) break;
      cursor = toPosition(oldest.position);
    }
    // Nothing visible at all is remembered too: the next call then stops at this raw head.
    const visible = answer ?? START;
    if (raw !== undefined) this.lastHead = { raw, visible };
    return visible;
  }

  private async readAllBackwardsPage(cursor: Position | undefined, maxCount: number): Promise<{ records: AllRecord[]; exhausted: boolean }> {
    const records: AllRecord[] = [];
    let count = 0;
    const fromPosition: ReadPosition = cursor ?? END;
    for await (const resolved of this.client.readAll({ fromPosition, maxCount, direction: BACKWARDS })) {
      count++;
      const event = resolved.event;
      // Whether a backwards read includes its start position is not specified: skip it if so.
      if (event !== undefined && (cursor === undefined || comparePositions(toPosition(event.position), cursor) < 0)) {
        records.push(event);
      }
    }
    return { records, exhausted: count < maxCount };
  }

  private newVisibilityCache(): VisibilityCache {
    return new VisibilityCache((stream) => this.loadVisibility(stream));
  }

  /** A tombstoned stream's metastream reads as deleted too. */
  private async loadVisibility(stream: string): Promise<StreamVisibility> {
    try {
      const metadata = await this.readMetadata(stream);
      return visibilityFromRawMetadata(metadata.raw, metadata.position);
    } catch (error) {
      if (error instanceof StreamDeletedError) return TOMBSTONED;
      throw error;
    }
  }

  // ---- metadata ----

  async getStreamMetadata(stream: string): Promise<StreamMetadataResult> {
    const current = await this.readMetadata(stream);
    return { metadata: toStreamMetadata(current.raw), metaRevision: current.metaRevision };
  }

  /**
   * Read, merge, write expecting the exact revision just read, so a concurrent writer's keys are
   * never lost: on conflict the merge is redone on fresh metadata (the caller's expectation is
   * checked again on it), unless the caller expected an exact revision or no metadata, which a
   * conflict contradicts. `stream_exists` is never sent: the server would accept it whatever was
   * written since the read. Writing to a soft-deleted stream's metastream makes the server append
   * its own undelete record right after (StorageWriterService.SoftUndeleteMetastream: the same
   * metadata with `$tb` past the old events), so the answer is then read back, not assumed.
   */
  async setStreamMetadata(stream: string, patch: MetadataPatch, options: SetMetadataOptions = {}): Promise<StreamMetadataResult> {
    validateMetadataPatch(patch);
    const expected = options.expectedMetaRevision ?? 'any';
    let actual: bigint | 'no_stream' = 'no_stream';
    for (let attempt = 0; attempt < METADATA_ATTEMPTS; attempt++) {
      const current = await this.readMetadata(stream);
      const mismatch = expectationFailure(expected, { lastRevision: current.metaRevision, softDeleted: false });
      if (mismatch !== undefined) throw new WrongExpectedVersionError(stream, expected, mismatch);
      const merged = mergeRawMetadata(current.raw, patch);
      const event = jsonEvent({ type: '$metadata', data: merged });
      const outcome = await this.appendRaw(metastreamOf(stream), [event], toExpectation(current.metaRevision));
      if (outcome.kind === 'appended') {
        if (visibilityFromRawMetadata(current.raw).softDeleted) return this.getStreamMetadata(stream);
        return { metadata: toStreamMetadata(merged), metaRevision: outcome.result.nextExpectedRevision };
      }
      if (outcome.kind === 'deleted') throw new StreamDeletedError(stream);
      if (expected !== 'any' && expected !== 'stream_exists') throw new WrongExpectedVersionError(stream, expected, outcome.actual);
      actual = outcome.actual;
    }
    throw new WrongExpectedVersionError(stream, expected, actual);
  }

  /**
   * Reads `$$<stream>` directly rather than through client.getStreamMetadata, whose v6
   * implementation reports the event's commit *position* as `metastreamRevision`.
   */
  private async readMetadata(stream: string): Promise<MetadataRead> {
    let records: ReadRecord[];
    try {
      records = await this.readRecords(metastreamOf(stream), { direction: BACKWARDS, fromRevision: END, maxCount: 1 }, stream);
    } catch (error) {
      if (error instanceof StreamNotFoundError) return { raw: {}, metaRevision: 'no_stream' };
      throw error;
    }
    const last = records[0];
    if (last === undefined) return { raw: {}, metaRevision: 'no_stream' };
    const { record, commitPosition } = last;
    // Like the server, treat metadata that is not a JSON object as empty.
    const raw = record.isJson ? readRawMetadata(record.data) : {};
    const position =
      record.position !== undefined
        ? toPosition(record.position)
        : commitPosition !== undefined
          ? { commit: commitPosition, prepare: commitPosition }
          : undefined;
    return position === undefined ? { raw, metaRevision: record.revision } : { raw, metaRevision: record.revision, position };
  }

  // ---- state and deletion ----

  async streamState(stream: string): Promise<StreamState> {
    const { lastRevision, softDeleted, tombstoned, metaRevision } = await this.inspect(stream);
    return { lastRevision, softDeleted, tombstoned, metaRevision };
  }

  /**
   * The last readable event and the metadata, read together. Only when no event is readable
   * although metadata exists (soft-deleted or truncated past its end) does finding the last
   * revision take a probe. EventStoreDB does not reveal a tombstoned stream's last revision:
   * it is reported as 'no_stream'.
   */
  private async inspect(stream: string): Promise<StreamInspection> {
    let tail: RecordedEvent[];
    let metadata: MetadataRead;
    try {
      [tail, metadata] = await Promise.all([this.readTail(stream, 1), this.readMetadata(stream)]);
    } catch (error) {
      if (error instanceof StreamDeletedError) return TOMBSTONED_STATE;
      throw error;
    }
    const softDeleted = visibilityFromRawMetadata(metadata.raw).softDeleted;
    const { metaRevision } = metadata;
    const last = tail[0];
    if (last !== undefined) return { lastRevision: last.revision, softDeleted, tombstoned: false, metaRevision, last };
    // Without metadata nothing can hide an event: no readable event means no stream.
    if (metaRevision === 'no_stream') return { lastRevision: 'no_stream', softDeleted, tombstoned: false, metaRevision };
    return { lastRevision: await this.probeLastRevision(stream), softDeleted, tombstoned: false, metaRevision };
  }

  /** See {@link PROBE_REVISION}. */
  private async probeLastRevision(stream: string): Promise<bigint | 'no_stream'> {
    const outcome = await this.appendRaw(stream, [], PROBE_REVISION);
    if (outcome.kind === 'wrong-version') return outcome.actual;
    if (outcome.kind === 'deleted') throw new StreamDeletedError(stream);
    throw new Error(`EventStoreDB accepted an empty append to ${stream} at revision ${PROBE_REVISION}`);
  }

  /**
   * EventStoreDB answers WrongExpectedVersion to a soft delete of a stream that has no events,
   * whatever the expectation; that is success here, as in the embedded store: nothing was
   * written, so nothing is left to hide.
   */
  async deleteStream(stream: string): Promise<void> {
    const expectedRevision = await this.deleteExpectation(stream, 'any');
    try {
      await this.client.deleteStream(stream, { expectedRevision });
    } catch (error) {
      const nothingWritten = error instanceof ClientWrongExpectedVersionError && toCurrentRevision(error.actualVersion) === 'no_stream';
      if (nothingWritten) return;
      throw translateWriteError(error, stream, 'any');
    }
  }

  async tombstoneStream(stream: string, options: { expectedRevision?: ExpectedRevision } = {}): Promise<void> {
    const expected = options.expectedRevision ?? 'any';
    const expectedRevision = await this.deleteExpectation(stream, expected);
    try {
      await this.client.tombstoneStream(stream, { expectedRevision });
    } catch (error) {
      throw translateWriteError(error, stream, expected);
    }
  }

  /** Deletes cannot say `stream_exists` to the v6 client: it becomes the current revision. */
  private async deleteExpectation(stream: string, expected: ExpectedRevision): Promise<ReturnType<typeof toClientDeleteRevision>> {
    if (expected !== 'stream_exists') return toClientDeleteRevision(expected);
    const state = await this.inspect(stream);
    if (state.tombstoned) throw new StreamDeletedError(stream);
    if (state.lastRevision === 'no_stream' || state.softDeleted) throw new WrongExpectedVersionError(stream, expected, 'no_stream');
    return state.lastRevision;
  }

  /** Ends every subscription, then closes the client's connections. */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.unsubscribe()));
    await this.client.dispose();
  }
}

function toEventData(event: SerializedEvent): EventData {
  const { id, type, data, metadata } = event;
  if (event.dataJson.length > COMPRESS_FROM_CHARS) {
    const compressed = compressData(event.dataJson);
    return metadata === undefined ? binaryEvent({ id, type, data: compressed }) : binaryEvent({ id, type, data: compressed, metadata });
  }
  return metadata === undefined ? jsonEvent({ id, type, data }) : jsonEvent({ id, type, data, metadata });
}

function toExpectation(metaRevision: bigint | 'no_stream'): AppendExpectedRevision {
  return metaRevision === 'no_stream' ? NO_STREAM : metaRevision;
}

/** `START` (0/0) means "from the beginning": no event sits at 0/0 (the log starts with a system record). */
function fromTheStart(after: Position | undefined): boolean {
  return after === undefined || isStartPosition(after);
}

function toClientFilter(filter: ReadAllOptions['filter']): Filter | undefined {
  const plan = serverFilterFor(filter);
  switch (plan.kind) {
    case 'stream-prefixes':
      return streamNameFilter({ prefixes: plan.prefixes });
    case 'none':
      return undefined;
  }
}

function translateReadError(error: unknown, stream: string): unknown {
  if (error instanceof ClientStreamNotFoundError) return new StreamNotFoundError(stream);
  if (error instanceof ClientStreamDeletedError) return new StreamDeletedError(stream);
  return error;
}

function translateWriteError(error: unknown, stream: string, expected: ExpectedRevision): unknown {
  if (error instanceof ClientWrongExpectedVersionError) {
    return new WrongExpectedVersionError(stream, expected, toCurrentRevision(error.actualVersion));
  }
  if (error instanceof ClientStreamDeletedError) return new StreamDeletedError(stream);
  return error;
}
