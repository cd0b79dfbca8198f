/**
 * The event store port, shaped on EventStoreDB so that the embedded SQLite adapter and the
 * EventStoreDB adapter are interchangeable and can be checked by one contract suite
 * (test/stores/event-store.contract.ts).
 *
 * Semantics every adapter must honour (the contract suite checks each):
 * - Streams have revisions 0, 1, 2, ... ; `$all` has a global, strictly increasing position.
 * - `append` is atomic: every event of the call lands, or none does.
 * - `append` is idempotent by event id: appending events whose ids are already the last
 *   events of the stream adds nothing and answers as the first time did.
 * - `expectedRevision` gives optimistic concurrency; a mismatch throws
 *   {@link WrongExpectedVersionError}.
 * - Stream metadata is *merged* on write (a patch never drops keys it does not name).
 * - `truncateBefore` hides every event with a smaller revision, from stream reads *and* from
 *   `$all` reads and subscriptions as seen by consumers (EventStoreDB keeps delivering them on
 *   `$all` until a scavenge; the adapter filters them).
 * - Soft delete hides the whole stream; appending again re-creates it, continuing revisions.
 *   Tombstoning is final: any later read or write throws {@link StreamDeletedError}.
 */

export type { Position } from '../domain/position.js';
export { START, comparePositions, formatPosition, parsePosition } from '../domain/position.js';
import { yieldToEventLoop } from '../concurrency.js';
import type { Position } from '../domain/position.js';
import { comparePositions } from '../domain/position.js';

export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

export type { JsonObject, JsonValue } from '../domain/json.js';
import type { JsonObject } from '../domain/json.js';

export interface EventToAppend {
  /** UUID; the idempotency key. */
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata?: JsonObject;
}

export interface RecordedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
  readonly stream: string;
  readonly revision: bigint;
  readonly position: Position;
  /** When the store wrote it (retention ages are measured from this). */
  readonly recordedAt: Date;
}

/** One stream's truncation point: the new `$tb` (events with a smaller revision are hidden, then removed). */
export interface StreamTruncation {
  readonly stream: string;
  readonly truncateBefore: bigint;
}

export interface AppendResult {
  /** Revision of the last event of the stream after the append. */
  readonly nextRevision: bigint;
  /** Position of the last event appended (or found, on an idempotent retry). */
  readonly position: Position;
}

export interface ReadStreamOptions {
  readonly direction?: 'forwards' | 'backwards';
  /** Inclusive. Default: the first retained event (forwards) or the last (backwards). */
  readonly fromRevision?: bigint | 'start' | 'end';
  readonly maxCount?: number;
}

export interface AllFilter {
  /** Only streams whose name starts with one of these. */
  readonly streamPrefixes?: readonly string[];
  /**
   * Only events of these types (exact names). A consumer that reacts to a rare type asks for it
   * alone, so it is not handed every other event; {@link AllSubscription.idlePosition} tells it
   * how far the events it was not handed go.
   */
  readonly eventTypes?: readonly string[];
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Default: from the start. */
  readonly after?: Position;
  readonly maxCount?: number;
  readonly filter?: AllFilter;
}

export interface SubscribeToAllOptions {
  /** Exclusive: deliver events strictly after this position. Default: from the start. */
  readonly after?: Position;
  readonly filter?: AllFilter;
}

/** A catch-up subscription: historical events first, then live ones, in `$all` order. */
export interface AllSubscription extends AsyncIterable<RecordedEvent> {
  /** Ends the iteration; pending `next()` calls resolve with `done`. */
  unsubscribe(): Promise<void>;
  /**
   * While the subscription waits for the store with nothing to hand out: the position up to
   * which it has read `$all`, every event of it the filter lets through already handed out (so
   * none at or before it will come). Undefined while it reads, or holds an event not yet taken.
   * A consumer whose filter passes few events checkpoints here, so its lag counts what it read,
   * not only what it was handed.
   */
  idlePosition(): Position | undefined;
}

/**
 * No `maxAge` / `maxCount`: EventStoreDB applies `$maxAge` and `$maxCount` to stream reads but
 * not to `$all`, so the read models would go on counting what the streams hide (the adapter
 * can emulate `$tb` on `$all`, not a count over a stream it does not read). Retention works
 * through `truncateBefore` alone; do not set the others by hand either.
 */
export interface StreamMetadata {
  /** Events with a smaller revision are hidden (EventStoreDB's `$tb`). */
  readonly truncateBefore?: bigint;
  /** Keys set outside the service (e.g. in EventStoreDB's UI), shown by the admin views; never written through the port. */
  readonly custom?: JsonObject;
}

/** What the service writes into a stream's metadata: `$tb` alone (see {@link truncateStream}). */
export interface MetadataPatch {
  readonly truncateBefore: bigint;
}

export interface StreamMetadataResult {
  readonly metadata: StreamMetadata;
  /** Revision of the metadata stream (`$$<stream>`), for optimistic writes. */
  readonly metaRevision: bigint | 'no_stream';
}

export interface SetMetadataOptions {
  /** Expected revision of the metadata stream; default 'any'. */
  readonly expectedMetaRevision?: ExpectedRevision;
}

export interface StreamState {
  /** Revision of the last event written to the stream ever ('no_stream' if none). */
  readonly lastRevision: bigint | 'no_stream';
  readonly softDeleted: boolean;
  readonly tombstoned: boolean;
  /**
   * The metadata's revision, as {@link EventStore.getStreamMetadata} answers it ('no_stream' for
   * a tombstoned stream, whose metadata cannot be read): with `lastRevision`, what tells a
   * reader holding the stream folded whether anything changed since (src/services/user-events.ts).
   */
  readonly metaRevision: bigint | 'no_stream';
}

export interface AppendOptions {
  readonly expectedRevision?: ExpectedRevision;
  /**
   * An append the service makes of its own accord (a retention or erasure checkpoint, an
   * erasure's copies), never a client's write: the embedded store takes it whatever its size,
   * since refusing it would stop retention and erasure for that user there as well. EventStoreDB
   * applies its `MaxAppendSize` to every append (docs/production.md, "Not covered").
   */
  readonly system?: boolean;
}

export interface EventStore {
  /**
   * The least distance between the `$all` commit positions of two appends: what the gpodder
   * API's cursors are scaled by (src/domain/cursors.ts). 1 where positions count events (the
   * embedded store); EventStoreDB's are byte offsets in its log (docs/production.md).
   */
  readonly positionGap: number;
  /**
   * Appends `events` atomically. One past the store's limit on an append is refused whole with
   * {@link AppendTooLargeError}; on the embedded store not when `system` (see {@link AppendOptions}).
   */
  append(stream: string, events: readonly EventToAppend[], options?: AppendOptions): Promise<AppendResult>;
  /** Throws {@link StreamNotFoundError} if the stream has no (visible) events or was soft-deleted. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /**
   * The stream's visible events after `after` (an `$all` position: those a projection there has
   * not applied; positions grow along a stream, so they are its tail), in stream order (see
   * {@link StreamTailOptions}). An absent or soft-deleted stream has none.
   */
  readStreamTail(stream: string, after: Position, options?: StreamTailOptions): Promise<StreamTail>;
  /**
   * The `$all` position of the stream's last visible event (the one `readStream` backwards
   * from the end gives first), without the event: what a read-your-writes read compares the
   * read models' checkpoints with. Undefined when the stream has no visible event (absent,
   * soft-deleted, truncated past its end); throws {@link StreamDeletedError} if tombstoned.
   */
  lastPosition(stream: string): Promise<Position | undefined>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  subscribeToAll(options?: SubscribeToAllOptions): AllSubscription;
  getStreamMetadata(stream: string): Promise<StreamMetadataResult>;
  /** Sets `$tb`, keeping every other key of the current metadata. */
  setStreamMetadata(stream: string, patch: MetadataPatch, options?: SetMetadataOptions): Promise<StreamMetadataResult>;
  streamState(stream: string): Promise<StreamState>;
  /** Soft delete, whatever the stream's revision: the stream reads as not found; a later append re-creates it. */
  deleteStream(stream: string): Promise<void>;
  /** Hard delete, final. */
  tombstoneStream(stream: string, options?: { expectedRevision?: ExpectedRevision }): Promise<void>;
  /** The position of the last event in `$all` (START if empty). */
  headPosition(): Promise<Position>;
  close(): Promise<void>;
}

export class WrongExpectedVersionError extends Error {
  override readonly name = 'WrongExpectedVersionError';
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    readonly actual: bigint | 'no_stream',
  ) {
    super(`Wrong expected version for stream ${stream}: expected ${String(expected)}, actual ${String(actual)}`);
  }
}

export class StreamNotFoundError extends Error {
  override readonly name = 'StreamNotFoundError';
  constructor(readonly stream: string) {
    super(`Stream ${stream} not found`);
  }
}

export class StreamDeletedError extends Error {
  override readonly name = 'StreamDeletedError';
  constructor(readonly stream: string) {
    super(`Stream ${stream} is tombstoned`);
  }
}

/**
 * The most one append may carry by default, counted as EventStoreDB counts it: the largest
 * `MaxAppendSize` a node accepts (16 MiB less a record's overhead, TFConsts
 * `EffectiveMaxLogRecordSize`), which docker-compose.yml sets. The embedded store refuses
 * beyond its own limit (this, unless configured) so that a write the production store would
 * refuse is refused on both (docs/architecture.md, "Events and streams").
 */
export const DEFAULT_MAX_APPEND_BYTES = 16_767_216;

/**
 * An append's size as EventStoreDB's gRPC append sums it (`Event.SizeOnDisk`): each event's
 * data and metadata in UTF-8 bytes, and its type twice.
 */
export function appendSize(events: readonly { readonly type: string; readonly data: string; readonly metadata: string }[]): number {
  let size = 0;
  for (const event of events) size += Buffer.byteLength(event.data) + Buffer.byteLength(event.metadata) + event.type.length * 2;
  return size;
}

/** An append larger than the store takes in one: nothing of it was written. */
export class AppendTooLargeError extends Error {
  override readonly name = 'AppendTooLargeError';
  constructor(
    readonly stream: string,
    readonly maxBytes: number,
    /** Unknown when the server refused it (EventStoreDB says only its limit). */
    readonly bytes: number | undefined,
  ) {
    super(
      `An append to ${stream} of ${bytes === undefined ? 'more than' : `${bytes} bytes, more than`} ${maxBytes} bytes, the most the event store takes in one append`,
    );
  }
}

/** Some ids of an append were already written and some were not: neither a retry nor new. */
export class IdempotencyConflictError extends Error {
  override readonly name = 'IdempotencyConflictError';
  constructor(readonly stream: string) {
    super(`Append to ${stream} mixes already-written and new event ids`);
  }
}

export interface StreamTailOptions {
  /**
   * A commit position: events at or before it are not wanted (a download's cursor), so the
   * reading may stop there; some may still be returned (those read on the way).
   */
  readonly from?: number;
  /** At most this many of the newest events are returned. */
  readonly maxCount?: number;
}

export interface StreamTail {
  readonly events: RecordedEvent[];
  /** Whether every visible event after `after` is among them (false when `from` or `maxCount` left some out). */
  readonly complete: boolean;
}

/** Events read back from the end of a stream at a time by {@link readTailBackwards}: at most… */
const READ_BACK_CHUNK = 1_000;
/** …and first (a read right after an append of a few events). */
const FIRST_READ_BACK = 16;

/**
 * {@link EventStore.readStreamTail} for a store that can only read a stream (EventStoreDB):
 * backwards from the end, in reads that grow from {@link FIRST_READ_BACK} events to
 * {@link READ_BACK_CHUNK}, so a read right after a small append reads a few events once and
 * one after a large upload a chunk at a time, down to `after`, the first event at or before
 * `from`, or `maxCount` events.
 */
export async function readTailBackwards(
  store: Pick<EventStore, 'readStream'>,
  stream: string,
  after: Position,
  { from = 0, maxCount = Infinity }: StreamTailOptions = {},
): Promise<StreamTail> {
  const newestFirst: RecordedEvent[] = [];
  const result = (complete: boolean): StreamTail => ({ events: newestFirst.reverse(), complete });
  let fromRevision: bigint | 'end' = 'end';
  for (let size = FIRST_READ_BACK; ; size = Math.min(size * 4, READ_BACK_CHUNK)) {
    let chunk: RecordedEvent[];
    try {
      chunk = await store.readStream(stream, { direction: 'backwards', fromRevision, maxCount: size });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return result(true);
      throw error;
    }
    // The chunk read is kept whole down to `after`; `from` and `maxCount` stop the reading after it.
    let more = true;
    for (const event of chunk) {
      if (comparePositions(event.position, after) <= 0) return result(true);
      if (newestFirst.length >= maxCount) return result(false);
      newestFirst.push(event);
      if (Number(event.position.commit) <= from) more = false;
    }
    // Down to the first event the stream shows: every one after `after` was read.
    if (chunk.length < size || chunk.at(-1)!.revision === 0n) return result(true);
    if (!more) return result(false);
    fromRevision = chunk.at(-1)!.revision - 1n;
  }
}

/**
 * Reads the whole (visible) stream in pages of `pageSize` events, oldest first, letting other
 * work run between pages: a user's stream can hold tens of thousands of events, and reading and
 * handling them in one go held every other request (an export of 34,000 events: 0.4 s). Not a
 * snapshot: events appended meanwhile are read too, and a truncation meanwhile shows as a page
 * that starts later. Nothing if the stream does not exist.
 */
export async function* readStreamPages(store: EventStore, stream: string, pageSize = 2_000): AsyncGenerator<RecordedEvent[]> {
  let fromRevision: bigint | 'start' = 'start';
  for (;;) {
    let page: RecordedEvent[];
    try {
      page = await store.readStream(stream, { fromRevision, maxCount: pageSize });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return;
      throw error;
    }
    if (page.length === 0) return;
    yield page;
    if (page.length < pageSize) return;
    fromRevision = page.at(-1)!.revision + 1n;
    await yieldToEventLoop();
  }
}

/**
 * The whole (visible) stream, read a page at a time ({@link readStreamPages}: other work runs
 * between pages) and read again should its metadata change meanwhile (a truncation, a
 * deletion), so that the pages are of one version of the stream. Events appended meanwhile are
 * read too: an append expecting the last revision read still meets any after it. After three
 * such changes in a row, one read of it all. [] if the stream does not exist.
 */
export async function readWholeStream(store: EventStore, stream: string, pageSize?: number): Promise<RecordedEvent[]> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = (await store.getStreamMetadata(stream)).metaRevision;
    const events: RecordedEvent[] = [];
    for await (const page of readStreamPages(store, stream, pageSize)) for (const event of page) events.push(event);
    if ((await store.getStreamMetadata(stream)).metaRevision === before) return events;
  }
  return readStreamOrEmpty(store, stream);
}

/** Reads the whole (visible) stream, or [] if it does not exist. */
export async function readStreamOrEmpty(store: EventStore, stream: string): Promise<RecordedEvent[]> {
  try {
    return await store.readStream(stream);
  } catch (error) {
    if (error instanceof StreamNotFoundError) return [];
    throw error;
  }
}

/**
 * Moves a stream's `$tb` up to `truncateBefore`: the metadata is read, merged (the port keeps
 * every other key) and written expecting the metastream revision just read, so a concurrent
 * writer's change is never lost (on a conflict it is read again). A `$tb` already there or
 * beyond (a soft delete's) is left alone: truncation never moves back.
 */
export async function truncateStream(store: EventStore, stream: string, truncateBefore: bigint, attempts = 8): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { metadata, metaRevision } = await store.getStreamMetadata(stream);
    if ((metadata.truncateBefore ?? 0n) >= truncateBefore) return;
    try {
      await store.setStreamMetadata(stream, { truncateBefore }, { expectedMetaRevision: metaRevision });
      return;
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError) || attempt >= attempts) throw error;
    }
  }
}
