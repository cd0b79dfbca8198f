/**
 * Steps 1–2 of a retention pass for one user (docs/design.md, "Retention"): read the stream,
 * fold it, and append `snapshot` + `checkpoint` at the revision read. One module, so the pass's
 * own thread and its worker threads (src/retention/snapshot-workers.ts) run the same code.
 */
import { newEventId } from '../domain/ids.js';
import type { EventObject } from '../domain/events.js';
import { streams } from '../domain/events.js';
import type { UserState, StateEvent } from '../domain/state.js';
import { fold } from '../domain/state.js';
import { checkpointState, daysBefore } from '../domain/retention.js';
import type { CheckpointData } from '../domain/system-events.js';
import { checkpointEvents } from '../domain/system-events.js';
import type { EventStore, EventToAppend, RecordedEvent } from '../stores/event-store.js';
import { readStreamOrEmpty } from '../stores/event-store.js';
import type { CountedTruncation } from '../stores/retention-capability.js';
import { fromStoreEvent, toStoreSystemEvent } from '../services/codec.js';
import { retryOnConflict } from '../services/retry.js';
import { oldestRetainedAt, retentionCut } from './history.js';
import { RETENTION } from './types.js';

/** What snapshotting one user leaves for the rest of the pass. */
export interface SnapshotOutcome {
  readonly truncateBefore: bigint;
  /** Feeds named by the events the truncation removes: their popularity is rolled. */
  readonly feeds: ReadonlySet<string>;
  /** Events the truncation hides. */
  readonly hidden: number;
  /** Types of the events appended (`snapshot`, `checkpoint`), for the metrics of a connection that did not append them. */
  readonly appended: readonly string[];
}

/** Where a snapshot reads, appends and (for a truncation an earlier pass left undone) truncates. */
export interface SnapshotContext {
  readonly eventStore: EventStore;
  readonly truncate: (truncations: readonly CountedTruncation[]) => Promise<number>;
  readonly warn: (message: string, meta: Record<string, unknown>) => void;
}

/** The feed an event names, if any. */
export function feedOf(event: RecordedEvent): string[] {
  const object = event.data['object'] as EventObject | null | undefined;
  return object?.rss_source_feed ? [object.rss_source_feed] : [];
}

/** The state a checkpoint carries: the fold of the retained stream, less long-gone tombstones. */
export function checkpointStateOf(events: readonly RecordedEvent[], now: Date): UserState {
  return checkpointState(
    fold(events.map(fromStoreEvent).filter((event): event is StateEvent => event !== undefined)),
    now,
    RETENTION.forgetTombstonesAfterDays,
  );
}

/** `snapshot` and `checkpoint`, appended together. */
export function checkpointAppends(user: string, state: UserState, now: Date, data: Omit<CheckpointData, 'state'>): [EventToAppend, EventToAppend] {
  const [snapshot, checkpoint] = checkpointEvents({ snapshot: newEventId(), checkpoint: newEventId() }, user, now, { ...data, state });
  return [toStoreSystemEvent(snapshot), toStoreSystemEvent(checkpoint)];
}

/**
 * A checkpoint whose truncation was not carried out (the process stopped between the append
 * and the `$tb` write): carry it out now. Returns the events that stay visible.
 */
export async function finishTruncation(context: SnapshotContext, stream: string, events: RecordedEvent[]): Promise<RecordedEvent[]> {
  let checkpoint: RecordedEvent | undefined;
  for (let index = events.length - 1; index >= 0 && !checkpoint; index--) if (events[index]!.type === 'checkpoint') checkpoint = events[index];
  const truncateBefore = (checkpoint?.data['data'] as Partial<CheckpointData> | undefined)?.truncate_before;
  if (typeof truncateBefore !== 'number' || BigInt(truncateBefore) <= events[0]!.revision) return events;
  const pending = BigInt(truncateBefore);
  await context.truncate([{ stream, truncateBefore: pending, hidden: 0 }]);
  context.warn('retention: finished a truncation left undone', { stream, truncateBefore: String(pending) });
  return events.filter((event) => event.revision >= pending);
}

/**
 * Steps 1–2 for one user: snapshot + checkpoint at the revision read, so that several workers
 * cannot snapshot one user twice (a conflict reads again). Undefined when nothing of the
 * stream is 45 days old (any more: another worker, or an earlier pass, got here first).
 */
export async function snapshotUser(context: SnapshotContext, user: string, now: Date): Promise<SnapshotOutcome | undefined> {
  const stream = streams.user(user);
  return retryOnConflict(async () => {
    const events = await finishTruncation(context, stream, await readStreamOrEmpty(context.eventStore, stream));
    const oldest = oldestRetainedAt(events);
    if (oldest === undefined || oldest >= daysBefore(now, RETENTION.snapshotAfterDays)) return undefined;
    const cut = retentionCut(events, daysBefore(now, RETENTION.truncateAfterDays));
    const last = events.at(-1)!.revision;
    // Nothing recent: only the new checkpoint (written after the snapshot) stays.
    const truncateBefore = events[cut]?.revision ?? last + 2n;
    const removed = events.slice(0, cut);
    const feeds = new Set(removed.flatMap(feedOf));
    const retainedFrom = oldestRetainedAt(events.slice(cut)) ?? now;
    const data = { truncate_before: Number(truncateBefore), retained_from: retainedFrom.toISOString(), reason: 'retention' } as const;
    const appended = checkpointAppends(user, checkpointStateOf(events, now), now, data);
    await context.eventStore.append(stream, appended, { expectedRevision: last });
    return { truncateBefore, feeds, hidden: removed.length, appended: appended.map(({ type }) => type) };
  });
}
