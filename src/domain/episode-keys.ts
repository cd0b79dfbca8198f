/** How an episode (feed URL + RSS guid) is named in keys: state records, read-model ids. Pure. */

/** Characters JSON.stringify leaves as they are (no quote, backslash, control or lone surrogate). */
const JSON_VERBATIM = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/**
 * Unambiguous key for an episode (feed URL + RSS guid): `JSON.stringify([feed, guid])`.
 * Keys are stored (checkpoints, read-model ids), so the format is fixed; the common case is
 * built directly, since a sync computes tens of thousands of keys.
 */
export function episodeKey(feed: string, guid: string): string {
  return JSON_VERBATIM.test(feed) && JSON_VERBATIM.test(guid) ? `["${feed}","${guid}"]` : JSON.stringify([feed, guid]);
}

/**
 * What every {@link episodeKey} of the feed starts with, and no key of another feed: the feed's
 * JSON string is closed by its quote, so `["f",` is not the start of a key of `f2`. A find of a
 * user's episode documents of one feed is then a range of their ids (read-model `idPrefix`).
 */
export function episodeKeyPrefixOf(feed: string): string {
  return `[${JSON_VERBATIM.test(feed) ? `"${feed}"` : JSON.stringify(feed)},`;
}

/** The feed URL and guid an {@link episodeKey} is made of. */
export function episodeOfKey(key: string): { feed: string; guid: string } {
  const [feed, guid] = JSON.parse(key) as [string, string];
  return { feed, guid };
}
