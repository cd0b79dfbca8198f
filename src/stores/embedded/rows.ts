import type { JsonObject, MetadataPatch, Position, RecordedEvent, StreamMetadata } from '../event-store.js';

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
  /** The stream's number: what its events' rows name it by (`events.stream_id`, schema.ts). */
  readonly id: bigint;
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
  return new StoredEvent(row.stream, row.position, row.revision, row.id, row.type, row.data, row.metadata, row.recorded_at);
}

/** The recorded events of one stream's rows ({@link StreamEventValues}). */
export function streamEventsOf(stream: string, rows: readonly StreamEventValues[]): RecordedEvent[] {
  return rows.map((row) => new StoredEvent(stream, row[0], row[1], row[2], row[3], row[4], row[5], row[6]));
}

/**
 * `data` and `metadata` are parsed when first read: a reader that looks only at types and
 * positions skips the JSON (the erasure reactor follows every event of `$all` on the HTTP thread
 * for its `remove`s: parsing them all was 3 % of that thread during gpodder uploads). Getters of
 * the object itself, so spreading, JSON and structured clones see plain values.
 *
 * The getters are two functions every event shares, reading the event's private fields: an
 * object literal's own getters are new closures per object, which V8 keeps in a dictionary
 * (slow) object, costlier to make and to read every property of (bench/RESULTS.md, "Recorded
 * events as fast objects").
 */
class StoredEvent implements RecordedEvent {
  #rawData: string | undefined;
  #rawMetadata: string | undefined;
  #data: JsonObject | undefined;
  #metadata: JsonObject | undefined;
  // Declared, not fields: assigned in the constructor in the order readers see them.
  declare readonly id: string;
  declare readonly type: string;
  declare readonly data: JsonObject;
  declare readonly metadata: JsonObject;
  declare readonly stream: string;
  declare readonly revision: bigint;
  declare readonly position: Position;
  declare readonly recordedAt: Date;

  static readonly #lazy: PropertyDescriptorMap = {
    data: {
      enumerable: true,
      get(this: StoredEvent): JsonObject {
        if (this.#data === undefined) {
          this.#data = JSON.parse(this.#rawData!) as JsonObject;
          this.#rawData = undefined;
        }
        return this.#data;
      },
    },
    metadata: {
      enumerable: true,
      get(this: StoredEvent): JsonObject {
        if (this.#metadata === undefined) {
          this.#metadata = JSON.parse(this.#rawMetadata!) as JsonObject;
          this.#rawMetadata = undefined;
        }
        return this.#metadata;
      },
    },
  };

  constructor(stream: string, position: bigint, revision: bigint, id: string, type: string, rawData: string, rawMetadata: string, recordedAt: bigint) {
    this.id = id;
    this.type = type;
    Object.defineProperties(this, StoredEvent.#lazy);
    this.stream = stream;
    this.revision = revision;
    this.position = { commit: position, prepare: position };
    this.recordedAt = new Date(Number(recordedAt));
    this.#rawData = rawData;
    this.#rawMetadata = rawMetadata;
  }
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
