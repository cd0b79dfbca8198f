/**
 * An in-process, bounded, least-recently-used cache of folded users (src/services/folded-user.ts),
 * so a sync reads and folds only the events appended since the user's last request instead of
 * the whole stream. It holds no truth: {@link UserEventService.loadUser} checks every entry
 * against the store before using it (see there), so several processes, retention and erasure
 * may change the stream behind it.
 *
 * Bounded by the records the entries hold (subscriptions, play statuses, playlists and their
 * items, sync request ids), not by users: one heavy user weighs as much as many light ones.
 * An entry heavier than the whole budget is not kept.
 */
import type { FoldedUser } from './folded-user.js';
import { recordCounts, totalRecords } from './folded-user.js';

export interface CachedUser {
  readonly folded: FoldedUser;
  /** Revision of the stream's metadata when `folded` was read: any change (`$tb`, delete) drops the entry. */
  readonly metaRevision: bigint | 'no_stream';
}

export interface UserStateCacheStats {
  readonly users: number;
  readonly records: number;
  readonly hits: number;
  readonly misses: number;
  /** Entries found but no longer valid (the stream's metadata changed, a checkpoint, a gap). */
  readonly stale: number;
}

export class UserStateCache {
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  private readonly entries = new Map<string, { entry: CachedUser; weight: number }>();
  private weight = 0;
  private readonly counts = { hits: 0, misses: 0, stale: 0 };

  constructor(
    /** The budget in records (see the module comment); 0 keeps nothing. */
    readonly maxRecords: number,
    /** Told of every lookup's outcome (the service counts them for /metrics). */
    private readonly onLookup: (outcome: 'hit' | 'miss' | 'stale') => void = () => undefined,
  ) {}

  get(userId: string): CachedUser | undefined {
    const found = this.entries.get(userId);
    if (found === undefined) {
      this.counts.misses++;
      this.onLookup('miss');
      return undefined;
    }
    this.entries.delete(userId);
    this.entries.set(userId, found);
    return found.entry;
  }

  /** The user's entry, if kept, without counting a lookup or refreshing its place. */
  peek(userId: string): CachedUser | undefined {
    return this.entries.get(userId)?.entry;
  }

  /** Counts a hit, or a stale entry (dropped). */
  record(outcome: 'hit' | 'stale'): void {
    if (outcome === 'hit') this.counts.hits++;
    else this.counts.stale++;
    this.onLookup(outcome);
  }

  /**
   * Keeps `entry` as the user's, unless the entry already kept reflects a later revision (a
   * concurrent request got further; it is as valid and more useful).
   */
  set(userId: string, entry: CachedUser): void {
    const current = this.entries.get(userId);
    if (current !== undefined && laterThan(current.entry.folded.revision, entry.folded.revision)) return;
    const weight = totalRecords(recordCounts(entry.folded));
    this.delete(userId);
    if (weight > this.maxRecords) return;
    this.entries.set(userId, { entry, weight });
    this.weight += weight;
    for (const [oldest, { weight: dropped }] of this.entries) {
      if (this.weight <= this.maxRecords) break;
      this.entries.delete(oldest);
      this.weight -= dropped;
    }
  }

  delete(userId: string): void {
    const found = this.entries.get(userId);
    if (found === undefined) return;
    this.entries.delete(userId);
    this.weight -= found.weight;
  }

  clear(): void {
    this.entries.clear();
    this.weight = 0;
  }

  stats(): UserStateCacheStats {
    return { users: this.entries.size, records: this.weight, ...this.counts };
  }
}

function laterThan(a: bigint | 'no_stream', b: bigint | 'no_stream'): boolean {
  return a !== 'no_stream' && (b === 'no_stream' || a > b);
}
