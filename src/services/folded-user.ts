/**
 * A user's stream folded into what a sync needs, and advanced event by event: the state, the
 * revision it reflects, the request ids of the syncs it holds, and for each record of the
 * three synced slices the last event that touched it (the read models' own `touches`
 * functions), so a sync can answer the records changed after any cursor without the events.
 *
 * {@link foldOnto} never changes what the user it is given answers (maps are copied on their
 * first write), so a folded user can be kept in a cache and shared by concurrent requests;
 * nothing may mutate a folded user or its state. The three synced slices are folded when first
 * read (see {@link FoldedUserImpl}): `state` and `touches` are views whose synced slices are
 * getters, so copy a folded user by its fields, not with a spread.
 */
import type { StateEvent, StateSlice, UserState } from '../domain/state.js';
import { emptyState, fold, foldSlice, recordAt, slicesChangedBy, StateFold, STATE_SLICES } from '../domain/state.js';
import { runPaced } from '../concurrency.js';
import type { Steps } from '../domain/steps.js';
import { finish } from '../domain/steps.js';
import type { Position, RecordedEvent } from '../stores/event-store.js';
import type { ProjectedEvent } from '../../projections/projection.js';
import type { UserRecordProjection } from '../../projections/user-records.js';
import { subscriptionsProjection } from '../../projections/subscriptions.js';
import { playStatusesProjection } from '../../projections/play-statuses.js';
import { playlistsProjection } from '../../projections/playlists.js';
import { fromStoreEvent } from './codec.js';

export type SyncedSlice = 'subscriptions' | 'play_statuses' | 'playlists';

/** The read model of each synced slice: its `touches` says which records an event restamps. */
export const SYNCED_SLICES: Readonly<Record<SyncedSlice, UserRecordProjection>> = {
  subscriptions: subscriptionsProjection,
  play_statuses: playStatusesProjection,
  playlists: playlistsProjection,
};

/**
 * An event that touched a record: its stream revision (which orders touches, as the read
 * models order records by `seq`) and its `$all` commit position (compared with cursors).
 */
export interface Touch {
  readonly revision: bigint;
  readonly commit: bigint;
}

export interface SliceTouches {
  /** Per record key, the last retained event that touched it. */
  readonly keys: ReadonlyMap<string, Touch>;
  /** The last retained event that touched every record (`remove`, `checkpoint`, `account_deleted`). */
  readonly all: Touch | undefined;
}

export interface FoldedUser {
  readonly state: UserState;
  /** Revision of the last event folded (for an optimistic append); 'no_stream' with none. */
  readonly revision: bigint | 'no_stream';
  /** `$all` position of the last event folded; undefined with none. */
  readonly position: Position | undefined;
  /** Request ids of the `sync` events folded, so a retried sync is recognised. */
  readonly syncRequestIds: ReadonlySet<string>;
  readonly touches: Readonly<Record<SyncedSlice, SliceTouches>>;
}

/** The next event of a stream: a state event (undefined for other types) at its place. */
export interface StreamEvent {
  readonly event: StateEvent | undefined;
  readonly revision: bigint;
  readonly position: Position;
}

const noTouches = (): SliceTouches => ({ keys: new Map(), all: undefined });
const SYNCED = Object.keys(SYNCED_SLICES) as SyncedSlice[];
/** The small slices, folded at once (the synced ones wait until they are read: see {@link FoldedUserImpl}). */
const EAGER: readonly StateSlice[] = STATE_SLICES.filter((slice) => !(slice in SYNCED_SLICES));

/**
 * A synced slice as last folded, the records it weighs (for the cache, see {@link recordCounts}),
 * and the events after it not folded yet: the slice is `foldSlice(pending, base)`, the touches
 * `base` with each pending touch set in order.
 */
interface SyncedPart<S extends SyncedSlice> {
  readonly base: UserState[S];
  readonly weight: number;
  readonly pending: PendingEvents;
  readonly touches: SliceTouches;
  readonly pendingTouches: Chunks<PendingTouch>;
}

interface PendingTouch {
  readonly keys: readonly string[] | 'all';
  readonly touch: Touch;
}

type SyncedParts = { -readonly [S in SyncedSlice]: SyncedPart<S> };

/** The records of a synced slice held in a folded user's state. */
type SliceRecord<S extends SyncedSlice> = UserState[S][string];

/**
 * Why the synced slices wait: a sync reads them, but a gpodder upload decides on the devices
 * alone, and folding its hundred plays into a user with 10,000 play statuses copied the whole
 * map (and its touches) on every upload: most of the upload's time on the HTTP thread
 * (bench/RESULTS.md). A slice is folded when read, or once its pending events pass its records
 * (so a slice nobody reads costs about two copies of each record, and the pending events stay
 * bounded). Folding a slice alone is exact: an event changes only the
 * slices `slicesChangedBy` names, each from itself (src/domain/state.ts,
 * test/domain/state-slices.test.ts). Folding replaces the part in place, which changes what is
 * stored, never what is read: the object stays as immutable to its readers as a plain one.
 */
class FoldedUserImpl implements FoldedUser {
  private stateView: UserState | undefined;
  private touchesView: Readonly<Record<SyncedSlice, SliceTouches>> | undefined;

  constructor(
    readonly revision: bigint | 'no_stream',
    readonly position: Position | undefined,
    readonly syncRequestIds: ReadonlySet<string>,
    /** The small slices, folded. */
    readonly eager: Pick<UserState, 'privacy' | 'devices' | 'sync_groups' | 'settings'>,
    private readonly parts: SyncedParts,
  ) {
    for (const slice of SYNCED) if (mustFold(parts[slice])) this.foldSlice(slice);
  }

  /** The state as a plain-looking object: a synced slice is folded when it is first read. */
  get state(): UserState {
    if (this.stateView === undefined) {
      const view = { ...this.eager } as UserState;
      for (const slice of SYNCED) Object.defineProperty(view, slice, { enumerable: true, get: () => this.slice(slice) });
      this.stateView = view;
    }
    return this.stateView;
  }

  get touches(): Readonly<Record<SyncedSlice, SliceTouches>> {
    if (this.touchesView === undefined) {
      const view = {} as Record<SyncedSlice, SliceTouches>;
      for (const slice of SYNCED) Object.defineProperty(view, slice, { enumerable: true, get: () => this.sliceTouches(slice) });
      this.touchesView = view;
    }
    return this.touchesView;
  }

  slice<S extends SyncedSlice>(slice: S): UserState[S] {
    const part = this.parts[slice] as SyncedPart<S>;
    return part.pending === undefined ? part.base : this.foldSlice(slice).base;
  }

  sliceTouches(slice: SyncedSlice): SliceTouches {
    const part = this.parts[slice];
    if (part.pendingTouches === undefined) return part.touches;
    const touches = finish(touchesSteps(part));
    this.setPart(slice, { ...part, touches, pendingTouches: undefined });
    return touches;
  }

  /**
   * The records of `slice` at `keys` (those it holds), without folding the slice while few of
   * its events wait: the records as last folded with the pending events that touch them
   * applied (the read model's own `touches`, as its projection loads and evolves only the
   * records an event touches).
   */
  records<S extends SyncedSlice>(slice: S, keys: Iterable<string>): Map<string, SliceRecord<S>> {
    const waiting = this.parts[slice] as SyncedPart<S>;
    // Past an eighth of its records (and 64 events) waiting, the slice is folded: each such
    // read would look through more appends than the fold copies records, in the end.
    const part = (waiting.pending?.length ?? 0) > Math.max(64, waiting.weight / 8) ? this.foldSlice(slice) : waiting;
    const wanted = [...new Set(keys)];
    let records = part.base as Record<string, SliceRecord<S>>;
    // The appends whose events touch a wanted record, newest first, whole: an event that
    // touches others only adds records not read here.
    const touching: (readonly StateEvent[])[] = [];
    for (let chunk: PendingEvents = part.pending; chunk !== undefined; chunk = chunk.previous) {
      const { keys: touched } = chunk;
      if (touched === 'all' || wanted.some((key) => touched.has(key))) touching.push(chunk.items);
    }
    if (touching.length > 0) {
      const subset: Record<string, SliceRecord<S>> = Object.create(null) as Record<string, SliceRecord<S>>;
      for (const key of wanted) {
        const record = recordAt(records, key);
        if (record !== undefined) subset[key] = record;
      }
      records = foldSlice(slice, touching.reverse().flat(), { ...subset } as UserState[S]) as Record<string, SliceRecord<S>>;
    }
    const found = new Map<string, SliceRecord<S>>();
    for (const key of wanted) {
      const record = recordAt(records, key);
      if (record !== undefined) found.set(key, record);
    }
    return found;
  }

  /**
   * {@link changedRecords} of `slice` since `since`, read without folding the slice or its
   * touches: the keys touched after the cursor (the touches as last folded, each overridden by
   * its last pending touch) and their records by {@link records}. A resync from a recent cursor
   * then reads the few records it answers instead of copying the whole slice and its touches
   * after every write (the copies outlived young collections: bench/RESULTS.md). Undefined
   * where that is not the cheaper read: no cursor, a touch of every record after it, or more
   * than {@link FEW_RECORDS} records touched after it.
   */
  changedSince<S extends SyncedSlice>(slice: S, since: bigint | undefined): SliceRecord<S>[] | undefined {
    if (since === undefined) return undefined;
    const { touches, pendingTouches } = this.parts[slice];
    if (touches.all !== undefined && touches.all.commit > since) return undefined;
    // Each key's last pending touch, the keys in the order they were first touched (as the
    // folded touches order them: records last touched by one event keep that order).
    const latest = new Map<string, Touch>();
    for (const { keys, touch } of itemsOf(pendingTouches)) {
      if (keys !== 'all') for (const key of keys) latest.set(key, touch);
      else if (touch.commit > since) return undefined;
    }
    const touched: { key: string; touch: Touch }[] = [];
    for (const [key, folded] of touches.keys) {
      const touch = latest.get(key) ?? folded;
      if (touch.commit > since && touched.push({ key, touch }) > FEW_RECORDS) return undefined;
    }
    for (const [key, touch] of latest) if (touch.commit > since && !touches.keys.has(key) && touched.push({ key, touch }) > FEW_RECORDS) return undefined;
    const records = this.records(
      slice,
      touched.map(({ key }) => key),
    );
    const changed: { at: bigint; record: SliceRecord<S> }[] = [];
    for (const { key, touch } of touched) {
      const record = records.get(key);
      if (record !== undefined) changed.push({ at: touch.revision, record });
    }
    return byTouch(changed);
  }

  /**
   * Folds what waits of `slice` (its events and touches) {@link SETTLE_STEP} at a time, other
   * work served in between, so that reading it afterwards folds nothing: a first sync of
   * 20,000 play statuses left 20,000 events waiting, folded at once by the answer's read. A
   * read in between folds the slice itself, from the same part, to the same records; the
   * records folded here are then dropped.
   */
  async settle(slice: SyncedSlice): Promise<void> {
    const part = this.parts[slice];
    if (part.pending !== undefined) {
      const base = await runPaced(pendingFoldSteps(slice, part));
      if (this.parts[slice] !== part) return;
      this.setPart(slice, { ...part, base, weight: weigh(slice, base), pending: undefined });
    }
    const waiting = this.parts[slice];
    if (waiting.pendingTouches === undefined) return;
    const touches = await runPaced(touchesSteps(waiting));
    if (this.parts[slice] === waiting) this.setPart(slice, { ...waiting, touches, pendingTouches: undefined });
  }

  /** The part of `slice`, to carry over into a later user. */
  part<S extends SyncedSlice>(slice: S): SyncedPart<S> {
    return this.parts[slice] as SyncedPart<S>;
  }

  /** Records held, counting each pending event as one more (none adds more than one record to its slice). */
  weight(slice: SyncedSlice): number {
    const part = this.parts[slice];
    return part.weight + (part.pending?.length ?? 0);
  }

  private foldSlice<S extends SyncedSlice>(slice: S): SyncedPart<S> {
    const part = this.parts[slice] as SyncedPart<S>;
    const base = finish(pendingFoldSteps(slice, part));
    const folded: SyncedPart<S> = { ...part, base, weight: weigh(slice, base), pending: undefined };
    this.setPart(slice, folded);
    if (part.pendingTouches !== undefined) this.sliceTouches(slice);
    return folded;
  }

  private setPart<S extends SyncedSlice>(slice: S, part: SyncedPart<S>): void {
    (this.parts as Record<SyncedSlice, SyncedPart<SyncedSlice>>)[slice] = part as SyncedPart<SyncedSlice>;
  }
}

/**
 * At most this many records are read by key instead of from the folded slice
 * ({@link FoldedUserImpl.changedSince}, {@link decisionState}): a read by key looks through each
 * pending append for them, so it pays for few records only.
 */
export const FEW_RECORDS = 64;

/** Records in the order of their last touch, those of one touch in the order given (a stable sort). */
function byTouch<R>(changed: { at: bigint; record: R }[]): R[] {
  return changed.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)).map(({ record }) => record);
}

/** Events (or touches) folded between two pauses of the steps below: a few milliseconds. */
const SETTLE_STEP = 2_000;

/** The slice of `part` with its pending events folded on, pausing every {@link SETTLE_STEP} events. */
function* pendingFoldSteps<S extends SyncedSlice>(slice: S, part: SyncedPart<S>): Steps<UserState[S]> {
  const folding = new StateFold({ ...emptyState(), [slice]: part.base });
  const events = itemsOf(part.pending);
  for (let from = 0; from < events.length; from += SETTLE_STEP) {
    if (from > 0) yield;
    folding.add(events.slice(from, from + SETTLE_STEP));
  }
  return folding.state[slice];
}

/** The touches of `part` with its pending touches set in the order they were made, pausing every {@link SETTLE_STEP}. */
function* touchesSteps(part: SyncedPart<SyncedSlice>): Steps<SliceTouches> {
  const keys = new Map(part.touches.keys);
  let all = part.touches.all;
  let set = 0;
  for (const { keys: touched, touch } of itemsOf(part.pendingTouches)) {
    if (touched === 'all') all = touch;
    else
      for (const key of touched) {
        keys.set(key, touch);
        if (++set % SETTLE_STEP === 0) yield;
      }
  }
  return { keys, all };
}

/**
 * Past this many pending events a slice is folded at once: as many as its records, and at least
 * 64 (so each record is copied about twice over however many uploads, and a user weighs at most
 * twice its records: see {@link SyncedPart}).
 */
const mustFold = (part: SyncedPart<SyncedSlice>) => (part.pending?.length ?? 0) > 64 + part.weight || (part.pendingTouches?.length ?? 0) > 64 + part.weight;

/**
 * Items appended a call at a time without copying those before (a user folded from another
 * shares its pending events): each call's items, and the list before them. Undefined: none.
 */
type Chunks<T, Extra = object> = ({ readonly items: readonly T[]; readonly previous: Chunks<T, Extra>; readonly length: number } & Extra) | undefined;

function appendChunk<T>(list: Chunks<T>, items: readonly T[]): Chunks<T> {
  return items.length === 0 ? list : { items, previous: list, length: (list?.length ?? 0) + items.length };
}

/**
 * A synced slice's pending events, each append's with the record keys they touch (the read
 * model's `touches`; 'all' when one touches every record), so that a read of a few records
 * folds only the appends that touch them ({@link FoldedUserImpl.records}).
 */
type PendingEvents = Chunks<StateEvent, { readonly keys: ReadonlySet<string> | 'all' }>;

function appendPending(list: PendingEvents, items: readonly StateEvent[], keys: ReadonlySet<string> | 'all'): PendingEvents {
  return items.length === 0 ? list : { items, keys, previous: list, length: (list?.length ?? 0) + items.length };
}

/** The items in the order they were appended. */
function itemsOf<T, Extra>(list: Chunks<T, Extra>): T[] {
  const chunks: (readonly T[])[] = [];
  for (let chunk = list; chunk !== undefined; chunk = chunk.previous) chunks.push(chunk.items);
  const items: T[] = [];
  for (let index = chunks.length - 1; index >= 0; index--) for (const item of chunks[index]!) items.push(item);
  return items;
}

/** The records a synced slice holds, as the cache weighs them: playlists count their items. */
function weigh(slice: SyncedSlice, value: UserState[SyncedSlice]): number {
  if (slice !== 'playlists') return Object.keys(value).length;
  let records = 0;
  for (const playlist of Object.values(value as UserState['playlists'])) records += 1 + Object.keys(playlist.items).length;
  return records;
}

/** `user` as this module's implementation (a user built elsewhere, say copied in a test, is taken as folded). */
function implOf(user: FoldedUser): FoldedUserImpl {
  if (user instanceof FoldedUserImpl) return user;
  const { state } = user;
  const parts = {} as Record<SyncedSlice, SyncedPart<SyncedSlice>>;
  for (const slice of SYNCED)
    parts[slice] = { base: state[slice], weight: weigh(slice, state[slice]), pending: undefined, touches: user.touches[slice], pendingTouches: undefined };
  return new FoldedUserImpl(user.revision, user.position, user.syncRequestIds, pickEager(state), parts as SyncedParts);
}

const pickEager = (state: UserState) => ({ privacy: state.privacy, devices: state.devices, sync_groups: state.sync_groups, settings: state.settings });

export function emptyFoldedUser(): FoldedUser {
  const empty = emptyState();
  const parts = {} as Record<SyncedSlice, SyncedPart<SyncedSlice>>;
  for (const slice of SYNCED) parts[slice] = { base: empty[slice], weight: 0, pending: undefined, touches: noTouches(), pendingTouches: undefined };
  return new FoldedUserImpl('no_stream', undefined, new Set(), pickEager(empty), parts as SyncedParts);
}

export function streamEventOf(recorded: RecordedEvent): StreamEvent {
  return { event: fromStoreEvent(recorded), revision: recorded.revision, position: recorded.position };
}

/**
 * `user` with the next events of its stream folded on top, oldest first. `user` itself is
 * not changed (maps are copied on their first write). An event that changes every slice
 * (`remove`, `checkpoint`, `account_deleted`) folds the whole state at once; otherwise the
 * synced slices keep the events as pending until read (see {@link FoldedUserImpl}).
 */
export function foldOnto(user: FoldedUser, events: readonly StreamEvent[]): FoldedUser {
  const last = events.at(-1);
  if (last === undefined) return user;
  const from = implOf(user);
  let syncRequestIds: Set<string> | undefined;
  const stateEvents: StateEvent[] = [];
  // Per synced slice the events that change it and its touches; the events of the small slices.
  const own: Record<SyncedSlice, StateEvent[]> = { subscriptions: [], play_statuses: [], playlists: [] };
  const touches: Record<SyncedSlice, PendingTouch[]> = { subscriptions: [], play_statuses: [], playlists: [] };
  // The record keys the events of `own` touch, per slice.
  const ownKeys: Record<SyncedSlice, Set<string> | 'all'> = { subscriptions: new Set(), play_statuses: new Set(), playlists: new Set() };
  const small: StateEvent[] = [];
  let whole = false;
  for (const { event, revision, position } of events) {
    if (event === undefined) continue;
    stateEvents.push(event);
    if (event.type === 'sync') (syncRequestIds ??= new Set(from.syncRequestIds)).add(event.data.request_id);
    const changed = slicesChangedBy(event);
    if (changed.length === STATE_SLICES.length) whole = true;
    if (changed.some((slice) => EAGER.includes(slice))) small.push(event);
    const touch: Touch = { revision, commit: position.commit };
    for (const slice of SYNCED) {
      // Stored events are projected events: the same data the projector hands `touches`.
      const keys = SYNCED_SLICES[slice].touches(event as ProjectedEvent['event']);
      if (keys !== 'none') touches[slice].push({ keys, touch });
      if (!changed.includes(slice)) continue;
      own[slice].push(event);
      const held = ownKeys[slice];
      // An event that changes the slice names the records it touches (else, to be safe, all).
      if (keys === 'all' || keys === 'none') ownKeys[slice] = 'all';
      else if (held !== 'all') for (const key of keys) held.add(key);
    }
  }
  const parts = {} as Record<SyncedSlice, SyncedPart<SyncedSlice>>;
  let eager: FoldedUserImpl['eager'];
  if (whole) {
    // Rare (erasure, retention, account deletion): the whole state folded at once, as it reads.
    const state = fold(stateEvents, from.state);
    for (const slice of SYNCED) {
      const part = from.part(slice);
      parts[slice] = {
        base: state[slice],
        weight: weigh(slice, state[slice]),
        pending: undefined,
        touches: part.touches,
        pendingTouches: appendChunk(part.pendingTouches, touches[slice]),
      };
    }
    eager = pickEager(state);
  } else {
    for (const slice of SYNCED) {
      const part = from.part(slice);
      parts[slice] =
        own[slice].length === 0 && touches[slice].length === 0
          ? part
          : {
              ...part,
              pending: appendPending(part.pending, own[slice], ownKeys[slice]),
              pendingTouches: appendChunk(part.pendingTouches, touches[slice]),
            };
    }
    eager = small.length === 0 ? from.eager : pickEager(fold(small, { ...emptyState(), ...from.eager }));
  }
  return new FoldedUserImpl(last.revision, last.position, syncRequestIds ?? from.syncRequestIds, eager, parts as SyncedParts);
}

/**
 * The records of `slice` at `keys` that `user` holds (absent: none), as {@link FoldedUser.state}
 * would give them, without folding a slice for which few events wait (see
 * {@link FoldedUserImpl.records}): a download after an upload reads a few play statuses of a
 * user with thousands.
 */
export function recordsOf<S extends SyncedSlice>(user: FoldedUser, slice: S, keys: Iterable<string>): Map<string, SliceRecord<S>> {
  return implOf(user).records(slice, keys);
}

/**
 * The records of one slice touched by an event after `since` (all of them without a cursor),
 * in the order of their last touch, as the read model orders them by `seq`; records last
 * touched by the same event (a checkpoint restamps them all) keep the state's order.
 */
export function changedRecords<S extends SyncedSlice>(user: FoldedUser, slice: S, since: bigint | undefined): SliceRecord<S>[] {
  const { keys, all } = user.touches[slice];
  const after = (touch: Touch | undefined): touch is Touch => touch !== undefined && (since === undefined || touch.commit > since);
  const records = user.state[slice] as Record<string, SliceRecord<S>>;
  const changed: { at: bigint; record: SliceRecord<S> }[] = [];
  if (!after(all) && since !== undefined) {
    // The usual resync: only the few records touched since the cursor (erased ones are gone).
    for (const [key, touch] of keys) {
      if (touch.commit <= since) continue;
      const record = records[key];
      if (record !== undefined && Object.hasOwn(records, key)) changed.push({ at: touch.revision, record });
    }
  } else {
    const allAt = after(all) ? all.revision : -1n;
    for (const [key, record] of Object.entries(records)) {
      const touch = keys.get(key);
      const at = after(touch) && touch.revision > allAt ? touch.revision : allAt;
      changed.push({ at, record });
    }
  }
  return byTouch(changed);
}

/** The records of each synced slice changed after a cursor ({@link changedRecords}). */
export type SyncedChanges = { [S in SyncedSlice]: SliceRecord<S>[] };

/**
 * {@link changedRecords} of every synced slice, each read without folding it where it can be
 * ({@link FoldedUserImpl.changedSince}), else folded a step at a time with other work served in
 * between ({@link FoldedUserImpl.settle}): what a sync answers.
 */
export async function changesSince(user: FoldedUser, since: bigint | undefined): Promise<SyncedChanges> {
  const impl = implOf(user);
  const changes = {} as Record<SyncedSlice, unknown[]>;
  for (const slice of SYNCED) {
    const read = impl.changedSince(slice, since);
    if (read !== undefined) changes[slice] = read;
    else {
      await impl.settle(slice);
      changes[slice] = changedRecords(user, slice, since);
    }
  }
  return changes as SyncedChanges;
}

/**
 * What a decision that reads only the records at `reads` sees of `user`'s state (src/domain/sync.ts
 * `syncReads`, bounded by {@link FEW_RECORDS}): the small slices, and of each synced slice the
 * records at those keys, read without folding it ({@link recordsOf}); the whole state without
 * `reads`.
 */
export function decisionState(user: FoldedUser, reads: Readonly<Record<SyncedSlice, readonly string[]>> | undefined): UserState {
  if (reads === undefined) return user.state;
  const impl = implOf(user);
  const state = { ...impl.eager } as UserState;
  for (const slice of SYNCED) {
    const records = Object.create(null) as Record<string, unknown>;
    for (const [key, record] of impl.records(slice, reads[slice])) records[key] = record;
    (state as Record<SyncedSlice, unknown>)[slice] = records;
  }
  return state;
}

/** How many records each part of a folded user holds: what a bounded cache weighs. */
export interface RecordCounts {
  readonly subscriptions: number;
  readonly play_statuses: number;
  /** Playlists and their items. */
  readonly playlists: number;
  readonly syncRequestIds: number;
  /**
   * gpodder devices, sync groups and settings: a device or group one record, settings one
   * record per {@link SETTINGS_RECORD_BYTES} of JSON (a value may be up to 16 KiB), so that a
   * user with megabytes of settings weighs what they hold.
   */
  readonly gpodder: number;
}

export const SETTINGS_RECORD_BYTES = 512;

/** Weighed once per version of the gpodder slices (a later user shares them while they are unchanged). */
const gpodderWeights = new WeakMap<object, number>();

function gpodderRecords(state: Pick<UserState, 'devices' | 'sync_groups' | 'settings'>): number {
  const known = gpodderWeights.get(state);
  if (known !== undefined) return known;
  const records = countGpodderRecords(state);
  gpodderWeights.set(state, records);
  return records;
}

function countGpodderRecords(state: Pick<UserState, 'devices' | 'sync_groups' | 'settings'>): number {
  let records = Object.keys(state.devices).length + state.sync_groups.length;
  for (const settings of Object.values(state.settings)) records += 1 + Math.ceil(JSON.stringify(settings).length / SETTINGS_RECORD_BYTES);
  return records;
}

/**
 * The records `user` holds. A synced slice not folded yet counts each pending event as a
 * record (an upper bound: none adds more than one), so weighing never folds it.
 */
export function recordCounts(user: FoldedUser): RecordCounts {
  const impl = implOf(user);
  return {
    subscriptions: impl.weight('subscriptions'),
    play_statuses: impl.weight('play_statuses'),
    playlists: impl.weight('playlists'),
    syncRequestIds: user.syncRequestIds.size,
    gpodder: gpodderRecords(impl.eager),
  };
}

/** The records of the synced slices (pending events counted as records): what a sync without a cursor answers, about. */
export function syncedRecords(user: FoldedUser): number {
  const impl = implOf(user);
  return SYNCED.reduce((sum, slice) => sum + impl.weight(slice), 0);
}

export function totalRecords(counts: RecordCounts): number {
  return 1 + counts.subscriptions + counts.play_statuses + counts.playlists + counts.syncRequestIds + counts.gpodder;
}
