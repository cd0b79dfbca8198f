import type { Position } from '../event-store.js';
import { TOMBSTONED, isVisible, type StreamVisibility } from './mapping.js';

const DEFAULT_CAPACITY = 10_000;
const PREFETCH_CONCURRENCY = 8;

/**
 * Remembers, per stream, what hides its events from `$all` consumers (`$tb`, soft delete,
 * tombstone), loading it from the stream's metadata on first sight.
 *
 * An entry holds the stream's *current* state, not its state at the `$all` position being
 * read: an event hidden now must not reach a consumer, even during catch-up from long before
 * the truncation. The subscription invalidates an entry when the stream's `$metadata` (or
 * tombstone) goes by, so while live the cache follows every change in log order.
 *
 * Bounded (least recently used goes first): an evicted stream is simply loaded again.
 */
export class VisibilityCache {
  private readonly entries = new Map<string, StreamVisibility>();
  private readonly loading = new Map<string, Promise<StreamVisibility>>();

  constructor(
    private readonly load: (stream: string) => Promise<StreamVisibility>,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {}

  async isVisible(stream: string, revision: bigint, position?: Position): Promise<boolean> {
    return isVisible(revision, await this.get(stream), position);
  }

  async get(stream: string): Promise<StreamVisibility> {
    const cached = this.entries.get(stream);
    if (cached !== undefined) {
      // Re-insert to mark it most recently used.
      this.entries.delete(stream);
      this.entries.set(stream, cached);
      return cached;
    }
    return this.loading.get(stream) ?? this.startLoad(stream);
  }

  /** Loads several streams at once (a page of `$all`), a few requests in parallel. */
  async prefetch(streams: Iterable<string>): Promise<void> {
    const missing = [...new Set(streams)].filter((stream) => !this.entries.has(stream));
    for (let i = 0; i < missing.length; i += PREFETCH_CONCURRENCY) {
      await Promise.all(missing.slice(i, i + PREFETCH_CONCURRENCY).map((stream) => this.get(stream)));
    }
  }

  /** The stream's metadata changed: forget it, including a load that may have read the old one. */
  invalidate(stream: string): void {
    this.entries.delete(stream);
    this.loading.delete(stream);
  }

  /** A tombstone is final, so it can be recorded without asking the server. */
  markTombstoned(stream: string): void {
    this.loading.delete(stream);
    this.store(stream, TOMBSTONED);
  }

  private startLoad(stream: string): Promise<StreamVisibility> {
    const pending = this.load(stream).then(
      (visibility) => {
        // Only a load that was not invalidated meanwhile may fill the cache.
        if (this.loading.get(stream) === pending) {
          this.loading.delete(stream);
          this.store(stream, visibility);
        }
        return visibility;
      },
      (error: unknown) => {
        if (this.loading.get(stream) === pending) this.loading.delete(stream);
        throw error;
      },
    );
    this.loading.set(stream, pending);
    return pending;
  }

  private store(stream: string, visibility: StreamVisibility): void {
    this.entries.delete(stream);
    this.entries.set(stream, visibility);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }
}
