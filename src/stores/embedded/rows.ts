import type { JsonObject, MetadataPatch, RecordedEvent, StreamMetadata } from '../event-store.js';

/** An `events` row as read with safe integers on (INTEGER columns arrive as bigint). */
export interface EventRow {
  readonly position: bigint;
  readonly stream: string;
  readonly revision: bigint;
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
  readonly recorded_at: bigint;
}

/** A `streams` row as read with safe integers on. */
export interface StreamRow {
  readonly last_revision: bigint | null;
  readonly truncate_before: bigint | null;
  readonly deleted: bigint;
  readonly tombstoned: bigint;
  readonly metadata: string | null;
  readonly meta_revision: bigint | null;
}

/** A `streams` row as an append reads it: with the hashes it checks retries against. */
export interface StreamRowForAppend extends StreamRow {
  /** Hashes of the ids of the stream's last events (recent-ids.ts); null before the first append that kept them. */
  readonly recent_ids: Buffer | null;
}

/**
 * An `events` row of one stream's read, as its columns' values in order: a read of one stream
 * knows the stream, and neither decoding its name for every row nor building an object per row
 * is free (bench/RESULTS.md, "One stream's rows read as values, without its name").
 */
export type StreamEventValues = readonly [position: bigint, revision: bigint, id: string, type: string, data: string, metadata: string, recordedAt: bigint];

/** The columns of {@link StreamEventValues}, in order, of an `events` table aliased `e`. */
export const STREAM_EVENT_COLUMNS = 'e.position, e.revision, e.id, e.type, e.data, e.metadata, e.recorded_at';

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return recordedEvent(row.stream, row.position, row.revision, row.id, row.type, row.data, row.metadata, row.recorded_at);
}

/** The recorded events of one stream's rows ({@link StreamEventValues}). */
export function streamEventsOf(stream: string, rows: readonly StreamEventValues[]): RecordedEvent[] {
  return rows.map((row) => recordedEvent(stream, row[0], row[1], row[2], row[3], row[4], row[5], row[6]));
}

/**
 * `data` and `metadata` are parsed when first read: a reader that looks only at types and
 * positions skips the JSON (the erasure reactor follows every event of `$all` on the HTTP thread
 * for its `remove`s: parsing them all was 3 % of that thread during gpodder uploads). Getters of
 * the object itself, so spreading, JSON and structured clones see plain values.
 */
function recordedEvent(
  stream: string,
  position: bigint,
  revision: bigint,
  id: string,
  type: string,
  rawDataText: string,
  rawMetadataText: string,
  recordedAt: bigint,
): RecordedEvent {
  let rawData: string | undefined = rawDataText;
  let rawMetadata: string | undefined = rawMetadataText;
  let data: JsonObject | undefined;
  let metadata: JsonObject | undefined;
  return {
    id,
    type,
    get data(): JsonObject {
      if (data === undefined) {
        data = JSON.parse(rawData!) as JsonObject;
        rawData = undefined;
      }
      return data;
    },
    get metadata(): JsonObject {
      if (metadata === undefined) {
        metadata = JSON.parse(rawMetadata!) as JsonObject;
        rawMetadata = undefined;
      }
      return metadata;
    },
    stream,
    revision,
    position: { commit: position, prepare: position },
    recordedAt: new Date(Number(recordedAt)),
  };
}

/** The metadata keys kept as JSON; `truncateBefore` lives in its own column so SQL can filter on it. */
type StoredMetadata = Omit<StreamMetadata, 'truncateBefore'>;

export function toStreamMetadata(row: StreamRow | undefined): StreamMetadata {
  if (!row) return {};
  const parsed = row.metadata === null ? {} : (JSON.parse(row.metadata) as StoredMetadata);
  // Only `custom` is shown: other keys earlier versions stored (`maxAge`, `maxCount`) are not.
  const stored: StoredMetadata = parsed.custom === undefined ? {} : { custom: parsed.custom };
  return row.truncate_before === null ? stored : { ...stored, truncateBefore: row.truncate_before };
}

/** Applies a metadata patch: `$tb` replaced, every other key kept. */
export function mergeMetadata(current: StreamMetadata, patch: MetadataPatch): StreamMetadata {
  return { ...current, truncateBefore: patch.truncateBefore };
}

export function storedMetadataJson(metadata: StreamMetadata): string {
  const { truncateBefore: _inColumn, ...stored } = metadata;
  return JSON.stringify(stored);
}
