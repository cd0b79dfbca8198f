/**
 * How far back a cursor reaches when the server cannot know what a client has read
 * (docs/design.md, "Nextcloud cursor" and "Upload cursors"): what the store recorded within this
 * margin is delivered again rather than risked. Ten minutes is far beyond projection lag, the
 * clock skew of phones kept on network time, and the gap between an app's download and its
 * upload in one sync; both AntennaPod and gPodder apply a repeated action idempotently.
 */
export const SINCE_MARGIN_S = 600;

/**
 * The gpodder API's `timestamp`s are store positions doubled, and a `since` names the position
 * of its half, rounded down (docs/design.md, "Upload cursors"). Kasts stores every `timestamp`
 * plus one ("to avoid fetching our own previously sent updates"): with positions as they are,
 * that one is the position of the next event, which the next download (after `since`) would
 * skip for good; a `since` past the head would even read as "from the start" and Kasts would ask
 * again for ever. Doubled, a cursor and the one after it name the same position, so clients that
 * send back what they were given and Kasts read the same.
 */
export function gpodderTimestamp(position: number): number {
  return position * 2;
}

/** The position a gpodder `since` names ({@link gpodderTimestamp}); undefined stays undefined. */
export function positionOfSince(since: number | undefined): number | undefined {
  return since === undefined ? undefined : Math.floor(since / 2);
}
