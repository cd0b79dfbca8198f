/**
 * Pure translations between the event store port and `@eventstore/db-client` v6, plus the
 * decisions the EventStoreDB adapter makes without I/O (what `$all` consumers may see, how
 * metadata merges, how a retried append is recognised). Kept free of I/O so that
 * test/stores/eventstoredb-mapping.test.ts checks them without a server.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  ANY,
  BACKWARDS,
  END,
  FORWARDS,
  NO_STREAM,
  START as CLIENT_START,
  STREAM_EXISTS,
  type AppendExpectedRevision,
  type Direction,
  type ExpectedRevision as ClientExpectedRevision,
  type Position as ClientPosition,
  type ReadRevision,
} from '@eventstore/db-client';
import type { AllFilter, ExpectedRevision, JsonObject, Position, ReadStreamOptions, RecordedEvent, MetadataPatch, StreamMetadata } from '../event-store.js';

// ---- names ----

/** EventStoreDB reserves names starting with `$` (system streams, `$$` metastreams, `$` types). */
export function isSystemName(name: string): boolean {
  return name.startsWith('$');
}

export const METADATA_EVENT_TYPE = '$metadata';
/** The type of the record a tombstone (hard delete) writes into the deleted stream itself. */
export const TOMBSTONE_EVENT_TYPE = '$streamDeleted';

export function metastreamOf(stream: string): string {
  return `$$${stream}`;
}

/** The stream whose metadata an event of `$all` changes, if it is a `$metadata` event. */
export function metadataTarget(stream: string, type: string): string | undefined {
  return type === METADATA_EVENT_TYPE && stream.startsWith('$$') ? stream.slice(2) : undefined;
}

// ---- connection ----

/**
 * KurrentDB (EventStoreDB's new name) documents `kurrentdb://` and `kdb://` connection strings,
 * which the configuration accepts; the v6 client only parses `esdb://` and `esdb+discover://`.
 * The rest of the string has the same format, so only the scheme is rewritten.
 */
export function toEsdbConnectionString(connectionString: string): string {
  return connectionString.replace(/^(?:kurrentdb|kdb)(\+discover)?:\/\//i, (_match, discover: string | undefined) => `esdb${discover ?? ''}://`);
}

// ---- expected revisions ----

/** The client spells these exactly like the port; mapping through its constants keeps that explicit. */
export function toClientAppendRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return expected;
  }
}

/**
 * Delete and tombstone take the client's narrower `ExpectedRevision` (no `stream_exists`: the v6
 * client would send the string as a revision number). The adapter resolves `stream_exists` to the
 * current revision itself before calling this.
 */
export function toClientDeleteRevision(expected: Exclude<ExpectedRevision, 'stream_exists'>): ClientExpectedRevision {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    default:
      return expected;
  }
}

/** The client reports "no stream" as the string, or (delete errors, failed appends) as -1. */
export function toCurrentRevision(actual: bigint | 'no_stream' | undefined): bigint | 'no_stream' {
  if (actual === undefined || actual === 'no_stream' || actual < 0n) return 'no_stream';
  return actual;
}

export interface RevisionState {
  readonly lastRevision: bigint | 'no_stream';
  readonly softDeleted: boolean;
}

/**
 * Checks an expectation against a stream's state without writing (used for empty appends, which
 * EventStoreDB would turn into a write that re-creates a soft-deleted stream). Mirrors the
 * server: a soft-deleted stream counts as absent for `no_stream`/`stream_exists`, while an exact
 * revision is compared with its last revision (the server accepts that to re-create it).
 * Returns the revision to report in a WrongExpectedVersionError, or undefined if it matches.
 */
export function expectationFailure(expected: ExpectedRevision, state: RevisionState): bigint | 'no_stream' | undefined {
  const exists = state.lastRevision !== 'no_stream' && !state.softDeleted;
  switch (expected) {
    case 'any':
      return undefined;
    case 'no_stream':
      return exists ? state.lastRevision : undefined;
    case 'stream_exists':
      return exists ? undefined : 'no_stream';
    default:
      return expected === state.lastRevision ? undefined : state.lastRevision;
  }
}

// ---- reads ----

export interface ClientReadStreamOptions {
  readonly direction: Direction;
  readonly fromRevision: ReadRevision;
  readonly maxCount?: number;
}

export function validateMaxCount(maxCount: number | undefined): number | undefined {
  if (maxCount === undefined) return undefined;
  if (!Number.isSafeInteger(maxCount) || maxCount < 0) {
    throw new RangeError(`maxCount must be a non-negative integer, got ${maxCount}`);
  }
  return maxCount;
}

/** The port's defaults (forwards from the start, backwards from the end) are the client's too. */
export function toClientReadOptions(options: ReadStreamOptions): ClientReadStreamOptions {
  const backwards = options.direction === 'backwards';
  const from = options.fromRevision ?? (backwards ? 'end' : 'start');
  const fromRevision: ReadRevision = from === 'start' ? CLIENT_START : from === 'end' ? END : from;
  const maxCount = validateMaxCount(options.maxCount);
  const direction: Direction = backwards ? BACKWARDS : FORWARDS;
  return maxCount === undefined ? { direction, fromRevision } : { direction, fromRevision, maxCount };
}

// ---- positions ----

export function toPosition(position: ClientPosition): Position {
  return { commit: position.commit, prepare: position.prepare };
}

export function isStartPosition(position: Position): boolean {
  return position.commit === 0n && position.prepare === 0n;
}

/**
 * `after` is exclusive in the port. The client's readAll starts *at* its fromPosition and
 * subscribeToAll *after* it; comparing here gives the port's semantics whichever the server does.
 */
export function isAfter(position: Position, after: Position | undefined): boolean {
  if (after === undefined) return true;
  if (position.commit !== after.commit) return position.commit > after.commit;
  return position.prepare > after.prepare;
}

// ---- events ----

/** The fields of the client's RecordedEvent the adapter reads (its type is a conditional union). */
export interface ClientRecordLike {
  readonly streamId: string;
  readonly id: string;
  readonly type: string;
  readonly revision: bigint;
  readonly created: Date;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly isJson: boolean;
  readonly position?: ClientPosition | undefined;
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/**
 * Converts a recorded event. `fallbackCommit` is the resolved event's commit position, used only
 * when the server (older than 22.6) omits positions on stream reads: events written by this
 * adapter are single-record transactions, whose commit and prepare positions are equal.
 * Events whose data is not a JSON object were not written through the port; rather than invent
 * a payload, conversion fails loudly, naming the event.
 */
export function toRecordedEvent(record: ClientRecordLike, fallbackCommit?: bigint): RecordedEvent {
  const where = `${record.streamId}@${record.revision}`;
  const data = record.isJson ? record.data : decompressedData(record.data);
  if (!isJsonObject(data)) {
    throw new TypeError(`Event ${where} (${record.type}) does not hold a JSON object; it was not written through this store`);
  }
  if (record.metadata !== undefined && !isJsonObject(record.metadata)) {
    throw new TypeError(`Event ${where} (${record.type}) has metadata that is not a JSON object`);
  }
  const position =
    record.position !== undefined
      ? toPosition(record.position)
      : fallbackCommit !== undefined
        ? { commit: fallbackCommit, prepare: fallbackCommit }
        : undefined;
  if (position === undefined) {
    throw new Error(`EventStoreDB gave no position for ${where}; the adapter needs server 22.6 or later`);
  }
  return {
    id: record.id,
    type: record.type,
    data,
    metadata: record.metadata ?? {},
    stream: record.streamId,
    revision: record.revision,
    position,
    // The client already converts the server's ticks to a Date; copy it so callers cannot share it.
    recordedAt: new Date(record.created.getTime()),
  };
}

/**
 * Data past this many characters of JSON is stored gzip-compressed, as a binary event (the
 * metadata stays JSON). Only a checkpoint (a user's whole state) comes near it, clients' events
 * being a few KB at most; EventStoreDB takes at most `MaxAppendSize` in one append (16 MiB at
 * most), about 30,000 play statuses as JSON and many times that compressed
 * (docs/architecture.md, "How much one append takes").
 */
export const COMPRESS_FROM_CHARS = 256 * 1024;
/** gzip's first two bytes (RFC 1952): how a stored event's data is known to be compressed. */
const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** The data of a large event as it is stored: its JSON, gzip-compressed (level 1: 14 ms for 16 MB, within 10 % of the size level 6 gives). */
export function compressData(json: string): Uint8Array {
  return gzipSync(Buffer.from(json, 'utf8'), { level: 1 });
}

/** The JSON object a binary event written by {@link compressData} holds; undefined for any other data. */
function decompressedData(data: unknown): unknown {
  if (!(data instanceof Uint8Array) || data[0] !== GZIP_MAGIC[0] || data[1] !== GZIP_MAGIC[1]) return undefined;
  try {
    return JSON.parse(gunzipSync(data).toString('utf8'));
  } catch {
    return undefined;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SerializedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  /** `data` as JSON text (what the client sends of it, or compresses: {@link COMPRESS_FROM_CHARS}). */
  readonly dataJson: string;
  readonly metadata: JsonObject | undefined;
}

/**
 * Validates and round-trips an event through JSON *before* the client sees it: the v6 client
 * serialises inside a promise executor, so a throwing JSON.stringify (a bigint, a cycle) would
 * leave its append promise pending forever instead of failing the call.
 */
export function serializeEvent(event: { id: string; type: string; data: JsonObject; metadata?: JsonObject }): SerializedEvent {
  if (!UUID.test(event.id)) throw new TypeError(`Event id must be a UUID, got ${JSON.stringify(event.id)}`);
  if (event.type.length === 0) throw new TypeError('Event type must not be empty');
  const data = roundTrip(event.data, `data of event ${event.id}`);
  return {
    id: event.id,
    type: event.type,
    data: data.value,
    dataJson: data.text,
    metadata: event.metadata === undefined ? undefined : roundTrip(event.metadata, `metadata of event ${event.id}`).value,
  };
}

function roundTrip(value: JsonObject, what: string): { value: JsonObject; text: string } {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`The ${what} cannot be serialised as JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed: unknown = text === undefined ? undefined : JSON.parse(text);
  if (!isJsonObject(parsed)) throw new TypeError(`The ${what} must be a JSON object`);
  return { value: parsed, text: text! };
}

// ---- idempotent retries ----

export interface TailEvent {
  readonly id: string;
  readonly revision: bigint;
  readonly position: Position;
}

export type TailMatch =
  | { readonly kind: 'none' }
  | { readonly kind: 'some' }
  /** Every id was found: `last` is the batch's last event, which answers the retry. */
  | { readonly kind: 'all'; readonly last: TailEvent };

/** Ids compare case-insensitively: the server answers them lower-case whatever was sent. */
export function matchBatchInTail(tail: readonly TailEvent[], ids: readonly string[]): TailMatch {
  const byId = new Map(tail.map((event) => [event.id.toLowerCase(), event]));
  const found = ids.map((id) => byId.get(id.toLowerCase())).filter((event): event is TailEvent => event !== undefined);
  if (found.length === 0) return { kind: 'none' };
  if (found.length < ids.length) return { kind: 'some' };
  const last = found.reduce((latest, event) => (event.revision > latest.revision ? event : latest));
  return { kind: 'all', last };
}

// ---- stream metadata ----

/** Stream metadata as EventStoreDB stores it: `$tb`, `$maxAge`, `$maxCount`, `$acl`, custom keys. */
export type RawMetadata = JsonObject;

/** The `$tb` a soft delete writes (Int64.MaxValue); JSON.parse turns it into 2^63. */
export const SOFT_DELETE_TRUNCATE_BEFORE = 9223372036854775807n;

export function readRawMetadata(data: unknown): RawMetadata {
  return isJsonObject(data) ? data : {};
}

type TruncateBefore = { readonly kind: 'none' } | { readonly kind: 'revision'; readonly value: bigint } | { readonly kind: 'deleted' };

/** A `$tb` past 2^53 can only be the soft-delete marker: no stream holds that many events. */
function readTruncateBefore(raw: RawMetadata): TruncateBefore {
  const value = raw['$tb'];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) return { kind: 'none' };
  if (!Number.isSafeInteger(value)) return { kind: 'deleted' };
  return { kind: 'revision', value: BigInt(value) };
}

/** Raw metadata as the port shows it; ACLs, cache control, `$maxAge` / `$maxCount` (see StreamMetadata) are kept on write but not shown. */
export function toStreamMetadata(raw: RawMetadata): StreamMetadata {
  const metadata: { -readonly [K in keyof StreamMetadata]: StreamMetadata[K] } = {};
  const truncateBefore = readTruncateBefore(raw);
  if (truncateBefore.kind === 'revision') metadata.truncateBefore = truncateBefore.value;
  if (truncateBefore.kind === 'deleted') metadata.truncateBefore = SOFT_DELETE_TRUNCATE_BEFORE;
  const custom = Object.entries(raw).filter(([key]) => !isSystemName(key));
  if (custom.length > 0) metadata.custom = Object.fromEntries(custom);
  return metadata;
}

export function validateMetadataPatch(patch: MetadataPatch): void {
  if (patch.truncateBefore < 0n || patch.truncateBefore > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`truncateBefore must be between 0 and 2^53-1, got ${patch.truncateBefore}`);
  }
}

/**
 * Merges a patch into raw metadata: `$tb` replaced, every other key kept (custom keys, `$acl`,
 * `$cacheControl`, `$maxAge`, `$maxCount`: set outside the service, never by it).
 * The soft-delete marker is never written back: JSON would turn 2^63-1 into 2^63, which the
 * server cannot read as a long, and a write to a soft-deleted stream's metastream makes the
 * server re-create the stream with its own `$tb` anyway.
 */
export function mergeRawMetadata(raw: RawMetadata, patch: MetadataPatch): RawMetadata {
  validateMetadataPatch(patch);
  const merged: RawMetadata = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === '$tb' && readTruncateBefore(raw).kind !== 'revision') continue;
    merged[key] = value;
  }
  merged['$tb'] = Number(patch.truncateBefore);
  return merged;
}

// ---- what `$all` consumers may see ----

/** What the adapter must know about a stream to hide its events from `$all` consumers. */
export interface StreamVisibility {
  /** Events with a smaller revision are hidden (0 when there is no `$tb`). */
  readonly truncateBefore: bigint;
  readonly softDeleted: boolean;
  /**
   * Where the soft delete's `$metadata` record is in `$all`. An event after it belongs to the
   * stream's next life: appending to a soft-deleted stream writes the events and only then the
   * server's undelete record (StorageWriterService.SoftUndeleteStream: `$tb` = the first new
   * revision), so a live consumer meets the new events while the metadata still says deleted.
   */
  readonly softDeletedAt?: Position;
  readonly tombstoned: boolean;
}

export const FULLY_VISIBLE: StreamVisibility = Object.freeze({ truncateBefore: 0n, softDeleted: false, tombstoned: false });
export const TOMBSTONED: StreamVisibility = Object.freeze({ truncateBefore: 0n, softDeleted: false, tombstoned: true });

/** `at`: the metadata record's position in `$all`, if known (see {@link StreamVisibility.softDeletedAt}). */
export function visibilityFromRawMetadata(raw: RawMetadata, at?: Position): StreamVisibility {
  const truncateBefore = readTruncateBefore(raw);
  const softDeleted = truncateBefore.kind === 'deleted';
  return {
    truncateBefore: truncateBefore.kind === 'revision' ? truncateBefore.value : 0n,
    softDeleted,
    ...(softDeleted && at !== undefined ? { softDeletedAt: at } : {}),
    tombstoned: false,
  };
}

/**
 * The hiding rule EventStoreDB applies to stream reads (and to `$all` only after a scavenge):
 * a tombstoned or soft-deleted stream hides everything, `$tb` hides smaller revisions. An event
 * written after the soft delete (`position` after {@link StreamVisibility.softDeletedAt}) is the
 * re-created stream's, which the server's undelete record is about to make visible.
 */
export function isVisible(revision: bigint, visibility: StreamVisibility, position?: Position): boolean {
  if (visibility.tombstoned) return false;
  if (visibility.softDeleted) return position !== undefined && visibility.softDeletedAt !== undefined && isAfter(position, visibility.softDeletedAt);
  return revision >= visibility.truncateBefore;
}

/** The consumer's filter, applied client-side; system streams and `$` types are never delivered. */
export function matchesConsumerFilter(stream: string, type: string, filter: AllFilter | undefined): boolean {
  if (isSystemName(stream) || isSystemName(type)) return false;
  const types = filter?.eventTypes ?? [];
  if (types.length > 0 && !types.includes(type)) return false;
  const prefixes = filter?.streamPrefixes ?? [];
  return prefixes.length === 0 || prefixes.some((prefix) => stream.startsWith(prefix));
}

export type ServerFilterPlan = { readonly kind: 'none' } | { readonly kind: 'stream-prefixes'; readonly prefixes: string[] };

/**
 * The server-side filter for a subscription. It must let through, besides the consumer's events,
 * what keeps the hiding cache right while live: `$metadata` events (in `$$<stream>`) and
 * tombstones (`$streamDeleted`, in the stream itself). Filtering server-side on the consumer's
 * filter alone would drop those; filtering nothing server-side would ship every event of the
 * cluster to every projector. So:
 * - with stream prefixes: filter on prefixes, each also as its `$$` metastream prefix (the
 *   tombstone is in the stream, so it already matches);
 * - with no filter: no server-side filter (consumers of everything see every stream anyway).
 * The consumer's filter is always re-applied client-side ({@link matchesConsumerFilter}).
 */
export function serverFilterFor(filter: AllFilter | undefined): ServerFilterPlan {
  const prefixes = filter?.streamPrefixes ?? [];
  if (prefixes.length > 0) {
    return { kind: 'stream-prefixes', prefixes: [...prefixes, ...prefixes.map(metastreamOf)] };
  }
  return { kind: 'none' };
}
