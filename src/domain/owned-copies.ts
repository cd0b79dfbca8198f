/**
 * Copies a fold of the user's state owns (src/domain/state.ts `fold`): the state's maps are
 * copied on their first write in a fold and updated in place after, so that a fold is linear in
 * its events however many records they touch. Shared by every part of the fold that writes a
 * map (the listening state, gpodder's devices and settings).
 */
import type { StateSlice, UserState } from './state.js';

/**
 * Maps (records by key) created by the running fold, which it may therefore update in place:
 * nothing outside that fold holds them. Undefined outside a fold.
 *
 * Why: `evolve` is pure, so each event used to copy the map it touched, making a fold
 * quadratic in the number of records (10,000 play statuses took ~40 s; 5,000 per-feed privacy
 * choices or gpodder setting scopes 3.3 s). During a fold the first write to a map copies it
 * once and later writes reuse the copy; the caller's `initial` state and every map outside the
 * fold are never mutated, so the results are identical. Folds are synchronous, so the set
 * cannot leak into another call.
 */
let ownedByFold: WeakSet<object> | undefined;

/**
 * Runs `run` (a fold) with the maps it creates its own ({@link writable}); with `owned`, also
 * those an earlier run given the same set created (a fold fed in pieces: src/domain/state.ts
 * `StateFold`).
 */
export function withOwnedCopies<T>(run: () => T, owned: WeakSet<object> = new WeakSet()): T {
  const outer = ownedByFold;
  ownedByFold = owned;
  try {
    return run();
  } finally {
    ownedByFold = outer;
  }
}

/** A copy of `map` that the caller may write into, or `map` itself if the running fold owns it. */
export function writable<T>(map: Record<string, T>): Record<string, T> {
  if (ownedByFold?.has(map)) return map;
  const copy = { ...map };
  ownedByFold?.add(copy);
  return copy;
}

/**
 * `state` with `slice` set to `value`: the state itself when the running fold owns it (made by
 * an earlier event of the same fold), else a copy the fold then owns. A state is a small object,
 * but a fold of thousands of events made one per event.
 */
export function withSlice<K extends StateSlice>(state: UserState, slice: K, value: UserState[K]): UserState {
  if (ownedByFold?.has(state)) {
    state[slice] = value;
    return state;
  }
  const copy = { ...state, [slice]: value };
  ownedByFold?.add(copy);
  return copy;
}

/** `map` with `key` set to `value`, copying it unless the running fold owns it. */
export function withEntry<T>(map: Record<string, T>, key: string, value: T): Record<string, T> {
  const next = writable(map);
  // Keys come from clients (playlist ids); assigning "__proto__" would set the prototype
  // instead of adding a record, so that one key is defined as an own property.
  if (key === '__proto__') Object.defineProperty(next, key, { value, writable: true, enumerable: true, configurable: true });
  else next[key] = value;
  return next;
}

/** `map` without `keys`: the map itself when it holds none of them, else a copy unless the running fold owns it. */
export function withoutEntries<T>(map: Record<string, T>, keys: readonly string[]): Record<string, T> {
  if (keys.length === 0) return map;
  const next = writable(map);
  for (const key of keys) delete next[key];
  return next;
}
