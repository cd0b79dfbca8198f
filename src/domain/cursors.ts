/**
 * How far back a cursor reaches when the server cannot know what a client has read
 * (docs/design.md, "Nextcloud cursor" and "Upload cursors"): what the store recorded within this
 * margin is delivered again rather than risked. Ten minutes is far beyond projection lag, the
 * clock skew of phones kept on network time, and the gap between an app's download and its
 * upload in one sync; both AntennaPod and gPodder apply a repeated action idempotently.
 */
export const SINCE_MARGIN_S = 600;
