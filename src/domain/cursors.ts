/**
 * How far back a cursor reaches when the server cannot know what a client has read
 * (docs/design.md, "Nextcloud cursor" and "Upload cursors"): what the store recorded within this
 * margin is delivered again rather than risked. Ten minutes is far beyond projection lag, the
 * clock skew of phones kept on network time, and the gap between an app's download and its
 * upload in one sync; both AntennaPod and gPodder apply a repeated action idempotently.
 */
export const SINCE_MARGIN_S = 600;

/**
 * How long an append may lie between its recording time and the moment reads see it (a long
 * upload committed whole, a commit queued behind others): where a cursor is this server's own
 * clock, sent back as it was given, it reaches back this far rather than the whole margin
 * (src/domain/nextcloud.ts).
 */
export const RECORDING_GRACE_S = 60;

/**
 * The gpodder API's `timestamp`s are store positions scaled so that a cursor and the one after
 * it name the same position (docs/design.md, "Upload cursors"). Kasts stores every `timestamp`
 * plus one ("to avoid fetching our own previously sent updates"): given positions as they are,
 * in a store whose positions are one apart, that one is the position of the next event, which
 * the next download (after `since`) would skip for good. `gap` is the store's least distance
 * between the positions of two appends (`EventStore.positionGap`): 1 in the embedded store,
 * whose cursors are its positions doubled; 64 in EventStoreDB, whose positions (byte offsets,
 * every log record over 64 bytes) are halved 32 times, which keeps them within the 32-bit ints
 * Kasts reads for 64 GiB of log.
 */
export function gpodderTimestamp(position: number, gap: number): number {
  return Math.floor((2 * position) / gap);
}

/**
 * The position a gpodder `since` names ({@link gpodderTimestamp}): the last one it has seen,
 * from which the next event comes after. 0 ("from the start") and undefined stay as they are.
 */
export function positionOfSince(since: number | undefined, gap: number): number | undefined {
  if (since === undefined || since === 0) return since;
  return Math.ceil(((since + 1) * gap) / 2) - 1;
}
