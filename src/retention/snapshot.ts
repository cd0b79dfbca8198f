/**
 * Steps 1–2 of a retention pass for one user (docs/design.md, "Retention"): read the stream,
 * fold it, and append `snapshot` + `checkpoint` at the revision read. One module, so the pass's
 * own thread and its worker threads (src/retention/snapshot-workers.ts) run the same code.
 */
import { yieldToEventLoop } from '../concurrency.js';
import { newEventId } from '../domain/ids.js';
import type { EventObject } from '../domain/events.js';
import { streams } from '../domain/events.js';
import type { UserState } from '../domain/state.js';
import { fold, StateFold } from '../domain/state.js';
import { checkpointState, daysBefore } from '../domain/retention.js';
import type { CheckpointData } from '../domain/system-events.js';
import { checkpointEvents } from '../domain/system-events.js';
import type { EventStore, EventToAppend, RecordedEvent } from '../stores/event-store.js';
import { readStreamOrEmpty } from '../stores/event-store.js';
import type { CountedTruncation } from '../stores/retention-capability.js';
import { piecesAfterStates, stateEventsOf, toStoreSystemEvent } from '../services/codec.js';
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

/** Where a snapshot reads and appends. */
export interface SnapshotContext {
  readonly eventStore: EventStore;
  readonly warn: (message: string, meta: Record<string, unknown>) => void;
}

/** A snapshot's context with the store's truncation, for {@link finishTruncation} (the pass's thread only). */
export interface TruncatingContext extends SnapshotContext {
  readonly truncate: (truncations: readonly CountedTruncation[]) => Promise<number>;
}

/** The feed an event names, if any. */
export function feedOf(event: RecordedEvent): string[] {
  const object = event.data['object'] as EventObject | null | undefined;
  return object?.rss_source_feed ? [object.rss_source_feed] : [];
}

/** The state a checkpoint carries: the fold of the retained stream, less long-gone tombstones. */
export function checkpointStateOf(events: readonly RecordedEvent[], now: Date): UserState {
  return checkpointState(fold(stateEventsOf(events)), now, RETENTION.forgetTombstonesAfterDays);
}

/**
 * {@link checkpointStateOf}, folded 2,000 events at a time with other work done in between: for
 * the erasure reactor, which runs on the HTTP thread (a heavy user's 34,000 events folded at
 * once held every request 150 ms).
 */
export async function checkpointStateOfPaced(events: readonly RecordedEvent[], now: Date): Promise<UserState> {
  const folded = new StateFold();
  let first = true;
  for (let from = 0; from < events.length; from += PACED_FOLD) {
    // A slice also ends after each event carrying a whole state (megabytes for a heavy user,
    // decoded and folded in tens of milliseconds).
    for (const piece of piecesAfterStates(events.slice(from, from + PACED_FOLD))) {
      if (!first) await yieldToEventLoop();
      first = false;
      folded.add(stateEventsOf(piece));
    }
  }
  return checkpointState(folded.state, now, RETENTION.forgetTombstonesAfterDays);
}

const PACED_FOLD = 2_000;

/** `snapshot` and `checkpoint`, appended together. */
export function checkpointAppends(user: string, state: UserState, now: Date, data: Omit<CheckpointData, 'state'>): [EventToAppend, EventToAppend] {
  const [snapshot, checkpoint] = checkpointEvents({ snapshot: newEventId(), checkpoint: newEventId() }, user, now, { ...data, state });
  return [toStoreSystemEvent(snapshot), toStoreSystemEvent(checkpoint)];
}

/**
 * The truncation of the stream's last checkpoint, if it was not carried out (the process
 * stopped between the append and the `$tb` write): where it cuts, the events that stay
 * visible and those it removes.
 */
export function truncationLeftUndone(events: RecordedEvent[]): { truncateBefore: bigint; kept: RecordedEvent[]; removed: RecordedEvent[] } | undefined {
  let checkpoint: RecordedEvent | undefined;
  for (let index = events.length - 1; index >= 0 && !checkpoint; index--) if (events[index]!.type === 'checkpoint') checkpoint = events[index];
  const truncateBefore = (checkpoint?.data['data'] as Partial<CheckpointData> | undefined)?.truncate_before;
  if (typeof truncateBefore !== 'number' || BigInt(truncateBefore) <= events[0]!.revision) return undefined;
  const cut = BigInt(truncateBefore);
  return { truncateBefore: cut, kept: events.filter((event) => event.revision >= cut), removed: events.filter((event) => event.revision < cut) };
}

/**
 * A checkpoint whose truncation was not carried out: carry it out now (`truncate`: the
 * store's). Returns the events that stay visible.
 */
export async function finishTruncation(context: TruncatingContext, stream: string, events: RecordedEvent[]): Promise<RecordedEvent[]> {
  const undone = truncationLeftUndone(events);
  if (!undone) return events;
  await context.truncate([{ stream, truncateBefore: undone.truncateBefore, hidden: 0 }]);
  context.warn('retention: finished a truncation left undone', { stream, truncateBefore: String(undone.truncateBefore) });
  return undone.kept;
}

/**
 * Steps 1–2 for one user: snapshot + checkpoint at the revision read, so that several workers
 * cannot snapshot one user twice (a conflict reads again). Undefined when nothing of the
 * stream is 45 days old (any more: another worker, or an earlier pass, got here first) and no
 * truncation was left undone. A truncation an earlier pass left undone (stopped in between) is
 * handed back to the pass with the rest, or alone: the pass rolls the feeds of the events it
 * removes before it carries it out, as for its own.
 */
export async function snapshotUser(context: SnapshotContext, user: string, now: Date): Promise<SnapshotOutcome | undefined> {
  const stream = streams.user(user);
  return retryOnConflict(async () => {
    const read = await readStreamOrEmpty(context.eventStore, stream);
    const undone = truncationLeftUndone(read);
    if (undone) context.warn('retention: a truncation left undone goes with this pass', { stream, truncateBefore: String(undone.truncateBefore) });
    const events = undone?.kept ?? read;
    const oldest = oldestRetainedAt(events);
    if (oldest === undefined || oldest >= daysBefore(now, RETENTION.snapshotAfterDays)) {
      return undone && { truncateBefore: undone.truncateBefore, feeds: new Set(undone.removed.flatMap(feedOf)), hidden: undone.removed.length, appended: [] };
    }
    const cut = retentionCut(events, daysBefore(now, RETENTION.truncateAfterDays));
    const last = events.at(-1)!.revision;
    // Nothing recent: only the new checkpoint (written after the snapshot) stays.
    const truncateBefore = events[cut]?.revision ?? last + 2n;
    const removed = [...(undone?.removed ?? []), ...events.slice(0, cut)];
    const feeds = new Set(removed.flatMap(feedOf));
    const retainedFrom = oldestRetainedAt(events.slice(cut)) ?? now;
    const data = { truncate_before: Number(truncateBefore), retained_from: retainedFrom.toISOString(), reason: 'retention' } as const;
    const appended = checkpointAppends(user, checkpointStateOf(events, now), now, data);
    await context.eventStore.append(stream, appended, { expectedRevision: last, system: true });
    return { truncateBefore, feeds, hidden: removed.length, appended: appended.map(({ type }) => type) };
  });
}
