/**
 * Pure decisions over a user's stored history, shared by retention (docs/design.md, "Retention") and erasure
 * (docs/design.md, "Erasure"): how old an event is, where a retention pass cuts, and how EventStoreDB's erasure
 * rewrites a stream.
 *
 * EventStoreDB cannot delete single events, so erasing a scope there rewrites the stream:
 *
 *   before   [… e1 e2(scope) e3 … remove]
 *   after    [… e1 e2(scope) e3 … remove │ e1' e3' … snapshot checkpoint]
 *                                        └ $tb: everything before it is hidden, and gone after a scavenge
 *
 * Copies (e1', e3') of the kept events are appended in one append with the snapshot and the
 * checkpoint after them, then `$tb` moves to the first copy. The layout is the one a retention
 * pass leaves ([kept events…, snapshot, checkpoint]), with the checkpoint *last* on purpose:
 * - the fold replaces the state at the checkpoint, so the state folded from the stream is exact
 *   whatever the copies hold (a checkpoint first would re-apply them on a state that already
 *   holds them: wrong for sync groups, whose edits do not commute, and for privacy in between);
 * - the checkpoint's `truncate_before` is the first copy's revision, so every projection drops
 *   what came from the originals exactly as after a retention truncation, and the copies put
 *   back what they keep per event (public events, popularity, gpodder actions): nothing is
 *   counted twice, and a rebuild (which never sees the originals) gives the same documents.
 *
 * A copy keeps its original's type, data (with the original's domain id:
 * src/services/codec.ts, `copiedData`) and metadata, plus `rewritten_from` naming the original
 * (first original, for a copy of a copy): its store id, revision and recorded time. Retention
 * measures ages from that recorded time ({@link retainedAt}), not from when the copy was written.
 *
 * Projections see copies through {@link projectsRewrittenCopy}: only copies of events some read
 * model keeps one by one are projected; copies of state-only events (privacy, playlists,
 * devices, sync groups, settings, sync records) are not, since the checkpoint after them holds
 * their effect and re-applying an old privacy change would briefly publish what a later one
 * hid.
 */
import { hash } from 'node:crypto';
import type { EventToAppend, JsonObject, RecordedEvent } from '../stores/event-store.js';
import { copiedData } from '../services/codec.js';

/** Metadata key of a rewritten copy. */
export const REWRITTEN_FROM = 'rewritten_from';

/** The original of a rewritten copy, as its metadata names it. */
export interface RewriteOrigin {
  /** Store id of the original event. */
  readonly event_id: string;
  /** Its revision in the stream (a decimal string: revisions are 64-bit). */
  readonly revision: string;
  /** When the store recorded the original (ISO-8601): retention ages are measured from it. */
  readonly recorded_at: string;
  /** Id of the checkpoint that ends the rewrite this copy belongs to. */
  readonly checkpoint: string;
}

/** The event's original, if it is a rewritten copy. */
export function rewriteOrigin(metadata: JsonObject): RewriteOrigin | undefined {
  const value = metadata[REWRITTEN_FROM];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { event_id, revision, recorded_at, checkpoint } = value;
  if (typeof event_id !== 'string' || typeof revision !== 'string' || typeof recorded_at !== 'string' || typeof checkpoint !== 'string') return undefined;
  if (Number.isNaN(Date.parse(recorded_at))) return undefined;
  return { event_id, revision, recorded_at, checkpoint };
}

/** When the store first recorded this event's content: the original's time for a copy. */
export function retainedAt(event: Pick<RecordedEvent, 'recordedAt' | 'metadata'>): Date {
  const origin = rewriteOrigin(event.metadata);
  return origin ? new Date(origin.recorded_at) : event.recordedAt;
}

/**
 * Types some read model keeps one document or contribution per event of: public events
 * (subscribe, unsubscribe, play, save, share), popularity (play, save) and gpodder's episode
 * actions (play, position, episode_action). Add a type here when a projection starts keeping
 * per-event documents for it, or a rebuild after an EventStoreDB erasure would lack them.
 */
const HISTORY_TYPES: ReadonlySet<string> = new Set(['subscribe', 'unsubscribe', 'play', 'position', 'save', 'share', 'episode_action']);

/**
 * The skip rule for rewritten copies (see the module comment): an event that is not a copy is
 * always projected; a copy only if its type is one of {@link HISTORY_TYPES}. Re-projecting those
 * is safe: they re-apply last-writer-wins records (an older write never wins), and the
 * checkpoint after them resets every per-user record and truncates what the originals left.
 */
export function projectsRewrittenCopy(event: Pick<RecordedEvent, 'type' | 'metadata'>): boolean {
  return rewriteOrigin(event.metadata) === undefined || HISTORY_TYPES.has(event.type);
}

/**
 * Where a retention pass cuts a stream (docs/design.md, "Retention"): the index of the first event it keeps, just
 * after the last event recorded before `keepFrom` (0 if there is none, `events.length` if every
 * event goes). Ages are {@link retainedAt}: after an erasure rewrite, old copies sit after
 * newer events, and they must still go, with everything before them. On a stream whose ages
 * grow with revisions (every stream without copies) this is the first event recorded at or
 * after `keepFrom`.
 */
export function retentionCut(events: readonly Pick<RecordedEvent, 'recordedAt' | 'metadata'>[], keepFrom: Date): number {
  for (let index = events.length - 1; index >= 0; index--) {
    if (retainedAt(events[index]!) < keepFrom) return index + 1;
  }
  return 0;
}

/** The oldest {@link retainedAt} of some events, or undefined if there are none. */
export function oldestRetainedAt(events: Iterable<Pick<RecordedEvent, 'recordedAt' | 'metadata'>>): Date | undefined {
  let oldest: Date | undefined;
  for (const event of events) {
    const at = retainedAt(event);
    if (oldest === undefined || at < oldest) oldest = at;
  }
  return oldest;
}

/**
 * The store id of the copy of `original` made by the rewrite ending with `checkpoint`: derived,
 * so a retried rewrite appends the same ids and the store recognises the retry. UUID-shaped
 * (version 5 style) as EventStoreDB requires.
 */
export function copyId(checkpoint: string, original: string): string {
  const hex = hash('sha256', `${checkpoint}\u0000${original.toLowerCase()}`, 'hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The copy of one kept event, for the rewrite ending with `checkpoint`. */
export function copyOf(event: RecordedEvent, checkpoint: string): EventToAppend {
  const earlier = rewriteOrigin(event.metadata);
  const origin: RewriteOrigin = earlier
    ? { ...earlier, checkpoint }
    : { event_id: event.id, revision: event.revision.toString(), recorded_at: event.recordedAt.toISOString(), checkpoint };
  return { id: copyId(checkpoint, event.id), type: event.type, data: copiedData(event), metadata: { ...event.metadata, [REWRITTEN_FROM]: { ...origin } } };
}

export interface ErasureRewrite {
  /** One append, at the stream's last revision: the copies, then the snapshot and the checkpoint. */
  readonly events: readonly EventToAppend[];
  /** The new `$tb`: the revision of the first appended event. */
  readonly truncateBefore: bigint;
  /** The events the rewrite keeps (their copies are appended), in stream order. */
  readonly kept: readonly RecordedEvent[];
}

/**
 * The rewrite of a stream that erases `erased` (see the module comment): copies of every other
 * user event, in order, then `closing` (the snapshot and the checkpoint, whose data the caller
 * builds with {@link ErasureRewrite.truncateBefore} and the ages of {@link ErasureRewrite.kept}).
 * Earlier snapshots and checkpoints are not copied: the new checkpoint supersedes them.
 */
export function planErasureRewrite(
  events: readonly RecordedEvent[],
  erased: ReadonlySet<string>,
  isUserEvent: (type: string) => boolean,
  closing: (plan: { truncateBefore: bigint; kept: readonly RecordedEvent[] }) => { readonly checkpointId: string; readonly events: readonly EventToAppend[] },
): ErasureRewrite {
  const last = events.at(-1);
  if (last === undefined) throw new Error('nothing to rewrite: the stream is empty');
  const truncateBefore = last.revision + 1n;
  const kept = events.filter((event) => isUserEvent(event.type) && !erased.has(event.id));
  const end = closing({ truncateBefore, kept });
  return { events: [...kept.map((event) => copyOf(event, end.checkpointId)), ...end.events], truncateBefore, kept };
}
