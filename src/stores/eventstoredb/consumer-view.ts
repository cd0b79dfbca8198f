import type { AllFilter, Position, RecordedEvent } from '../event-store.js';
import { TOMBSTONE_EVENT_TYPE, isAfter, matchesConsumerFilter, metadataTarget, toPosition, toRecordedEvent, type ClientRecordLike } from './mapping.js';
import type { VisibilityCache } from './visibility-cache.js';

/** A record read from `$all`: the client always sets its position there. */
export type AllRecord = ClientRecordLike & { readonly position: NonNullable<ClientRecordLike['position']> };

/**
 * `$all` as a consumer of the port must see it: strictly after `after`, matching the consumer's
 * filter, without system events, and without events EventStoreDB still delivers on `$all` but
 * hides everywhere else (truncated by `$tb`, soft-deleted or tombstoned streams; they stay in
 * `$all` until a scavenge).
 */
export class ConsumerView {
  constructor(
    private readonly cache: VisibilityCache,
    private readonly filter: AllFilter | undefined,
    private readonly after: Position | undefined,
  ) {}

  /** Could this record reach the consumer, before looking at its stream's visibility? */
  isCandidate(record: AllRecord): boolean {
    return isAfter(toPosition(record.position), this.after) && matchesConsumerFilter(record.streamId, record.type, this.filter);
  }

  /** Learns from every record (even ones the consumer will not see), then decides on this one. */
  async accepts(record: AllRecord): Promise<boolean> {
    this.observe(record);
    return this.isCandidate(record) && (await this.cache.isVisible(record.streamId, record.revision, toPosition(record.position)));
  }

  /** The record as the consumer receives it, or undefined if it must not see it. */
  async admit(record: AllRecord): Promise<RecordedEvent | undefined> {
    return (await this.accepts(record)) ? toRecordedEvent(record) : undefined;
  }

  /** Warms the cache for a batch of records read together (readAll pages). */
  async prefetch(records: readonly AllRecord[]): Promise<void> {
    await this.cache.prefetch(records.filter((record) => this.isCandidate(record)).map((record) => record.streamId));
  }

  /** `$metadata` may change `$tb` or soft-delete; `$streamDeleted` is a tombstone. */
  private observe(record: AllRecord): void {
    const changed = metadataTarget(record.streamId, record.type);
    if (changed !== undefined) this.cache.invalidate(changed);
    else if (record.type === TOMBSTONE_EVENT_TYPE) this.cache.markTombstoned(record.streamId);
  }
}
