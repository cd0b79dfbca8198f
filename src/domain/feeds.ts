/**
 * Feed facts (docs/design.md, "Feeds"): what a podcast's own feed says about it, kept in one
 * stream per feed, never in user streams. Pure: the event vocabulary, the stream name, what
 * changed between two fetches, and when a feed is fetched next.
 */
import { hash } from 'node:crypto';
import { z } from 'zod';
import { boundedString, cover, httpUrl, isoTimestamp, LIMITS } from './events.js';

/** A feed's episodes beyond this many (the newest first, as feeds list them) are not kept. */
export const MAX_FEED_EPISODES = 2000;

export const feedPodcast = z
  .object({
    title: boundedString(LIMITS.title).nullable(),
    author: boundedString(LIMITS.title).nullable(),
    description: boundedString(LIMITS.text).nullable(),
    link: httpUrl.nullable(),
    /** Podcasting 2.0 `podcast:guid`. */
    podcast_guid: boundedString(LIMITS.id).nullable(),
    /** `src` from `itunes:image` (or RSS `image`, Atom `logo`), `srcset` from `podcast:images`. */
    cover: cover.nullable(),
  })
  .strict();
export type FeedPodcast = z.infer<typeof feedPodcast>;

export const feedEpisode = z
  .object({
    guid: boundedString(LIMITS.guid).min(1),
    title: boundedString(LIMITS.title).nullable(),
    /** The enclosure. */
    url: httpUrl.nullable(),
    type: boundedString(LIMITS.id).nullable(),
    size: z.number().int().nonnegative().nullable(),
    duration: z.number().nonnegative().max(LIMITS.seconds).nullable(),
    published: isoTimestamp.nullable(),
  })
  .strict();
export type FeedEpisode = z.infer<typeof feedEpisode>;

/** Everything one fetch learnt. */
export interface FeedFacts {
  readonly podcast: FeedPodcast;
  readonly episodes: readonly FeedEpisode[];
}

const validators = { etag: z.string().max(1024).nullable(), last_modified: z.string().max(1024).nullable() };

/**
 * A fetch that got an answer: 200 (parsed) or 304. `full` events carry the whole state (the
 * first fetch, and a periodic snapshot after which older events are truncated); others carry
 * what changed: podcast fields that differ, episodes added or changed, guids gone.
 */
export const feedFetchedData = z
  .object({
    url: httpUrl,
    full: z.boolean(),
    not_modified: z.boolean(),
    podcast: feedPodcast.partial().strict(),
    episodes: z.array(feedEpisode).max(MAX_FEED_EPISODES),
    removed: z.array(boundedString(LIMITS.guid)).max(MAX_FEED_EPISODES),
    ...validators,
    next_fetch_at: isoTimestamp,
  })
  .strict();
export type FeedFetchedData = z.infer<typeof feedFetchedData>;

/** A fetch that failed: what went wrong, how many times in a row, when to try again. The facts stay. */
export const feedFetchFailedData = z
  .object({
    url: httpUrl,
    error: z.enum(['bad_url', 'refused_address', 'timeout', 'too_large', 'too_many_redirects', 'http_status', 'network', 'malformed', 'invalid']),
    message: boundedString(LIMITS.text),
    failures: z.number().int().min(1),
    next_fetch_at: isoTimestamp,
  })
  .strict();
export type FeedFetchFailedData = z.infer<typeof feedFetchFailedData>;

export const FEED_EVENT_TYPES = ['feed_fetched', 'feed_fetch_failed'] as const;

export interface FeedFetchedEvent {
  readonly type: 'feed_fetched';
  readonly id: string;
  readonly timestamp: string;
  readonly data: FeedFetchedData;
}
export interface FeedFetchFailedEvent {
  readonly type: 'feed_fetch_failed';
  readonly id: string;
  readonly timestamp: string;
  readonly data: FeedFetchFailedData;
}
export type FeedEvent = FeedFetchedEvent | FeedFetchFailedEvent;

/** Whether a projected event comes from a feed stream (projections of user data ignore those). */
export const isFeedEvent = (event: { readonly type: string }): event is FeedEvent => (FEED_EVENT_TYPES as readonly string[]).includes(event.type);

export const feedEvent = z.discriminatedUnion('type', [
  z.object({ id: z.uuid(), timestamp: isoTimestamp, type: z.literal('feed_fetched'), data: feedFetchedData }).strict(),
  z.object({ id: z.uuid(), timestamp: isoTimestamp, type: z.literal('feed_fetch_failed'), data: feedFetchFailedData }).strict(),
]);

export const FEED_STREAM_PREFIX = 'feed-';
/**
 * SHA-256 of `text`, first 128 bits in hex: a short, safe stand-in for a URL or a guid. The
 * one-shot `hash`, not a `createHash` object: each of those is a native object the next
 * scavenge must process (a popular-episodes answer hashed ~40 of them; bench/RESULTS.md).
 */
const shortHash = (text: string): string => hash('sha256', text, 'hex').slice(0, 32);

/**
 * The keys of the feeds seen lately: every public page and popularity list joins the same few
 * feeds' metadata by key, and hashing them again on every request was ~4 % of the HTTP thread's
 * time under load.
 * A pure function's memo, bounded: emptied when full.
 */
const FEED_KEYS_KEPT = 10_000;
const feedKeys = new Map<string, string>();

/** The key of a feed: its URL, hashed (stream names and document ids stay short and safe). */
export function feedKey(url: string): string {
  let key = feedKeys.get(url);
  if (key === undefined) {
    if (feedKeys.size >= FEED_KEYS_KEPT) feedKeys.clear();
    feedKeys.set(url, (key = shortHash(url)));
  }
  return key;
}
export const feedStream = (url: string): string => `${FEED_STREAM_PREFIX}${feedKey(url)}`;
/** A short stable id of an episode within its feed (guids are up to 2,048 characters). */
export const episodeDocKey = (url: string, guid: string): string => `${feedKey(url)}|${shortHash(guid)}`;

/** The whole state as a `full` event carries it. */
export function fullChange(facts: FeedFacts): Pick<FeedFetchedData, 'podcast' | 'episodes' | 'removed'> {
  return { podcast: facts.podcast, episodes: [...facts.episodes], removed: [] };
}

/** What changed from `before` (the known state) to `after` (this fetch): the event's payload. */
export function factsChange(before: FeedFacts, after: FeedFacts): Pick<FeedFetchedData, 'podcast' | 'episodes' | 'removed'> {
  const podcast: Partial<FeedPodcast> = {};
  for (const key of Object.keys(after.podcast) as (keyof FeedPodcast)[]) {
    if (JSON.stringify(before.podcast[key] ?? null) !== JSON.stringify(after.podcast[key] ?? null))
      (podcast as Record<string, unknown>)[key] = after.podcast[key];
  }
  const known = new Map(before.episodes.map((episode) => [episode.guid, episode]));
  const episodes = after.episodes.filter((episode) => {
    const old = known.get(episode.guid);
    return old === undefined || JSON.stringify(normalisedEpisode(old)) !== JSON.stringify(normalisedEpisode(episode));
  });
  const present = new Set(after.episodes.map((episode) => episode.guid));
  const removed = before.episodes.filter((episode) => !present.has(episode.guid)).map((episode) => episode.guid);
  return { podcast, episodes, removed };
}

const normalisedEpisode = (episode: FeedEpisode) => [episode.guid, episode.title, episode.url, episode.type, episode.size, episode.duration, episode.published];

export const isEmptyChange = (change: Pick<FeedFetchedData, 'podcast' | 'episodes' | 'removed'>): boolean =>
  Object.keys(change.podcast).length === 0 && change.episodes.length === 0 && change.removed.length === 0;

/**
 * Exponential backoff of a failing feed: the refresh interval doubled per failure in a row
 * (6 h, 12 h, 24 h, ...), at most a week; with a few minutes' jitter-free floor so a feed that
 * failed on its first fetch is retried soon. Pure: the job passes the clock.
 */
export function nextFetchAfterFailure(now: Date, failures: number, refreshHours: number): Date {
  const first = 5 * 60_000;
  const delay = Math.min(7 * 24 * 3600_000, failures <= 1 ? first : Math.max(first, refreshHours * 3600_000 * 2 ** (failures - 2)));
  return new Date(now.getTime() + delay);
}

export const nextFetchAfterSuccess = (now: Date, refreshHours: number): Date => new Date(now.getTime() + refreshHours * 3600_000);

/** After this many events since the last `full` one, the next fetch writes a full one and truncates before it. */
export const SNAPSHOT_EVERY = 32;

/** A feed as its stream tells it: the facts and the fetch bookkeeping the next fetch starts from. */
export interface FeedState {
  readonly facts: FeedFacts | undefined;
  readonly etag: string | null;
  readonly lastModified: string | null;
  /** Failed fetches in a row. */
  readonly failures: number;
  /** Events since the last `full` one (all of them if there is none). */
  readonly sinceFull: number;
}

export const EMPTY_FEED_STATE: FeedState = { facts: undefined, etag: null, lastModified: null, failures: 0, sinceFull: 0 };

/** Folds a feed's events (oldest first) into its state: the same rules as the `podcasts` projection. */
export function foldFeed(events: readonly FeedEvent[]): FeedState {
  let state = EMPTY_FEED_STATE;
  for (const event of events) {
    if (event.type === 'feed_fetch_failed') {
      state = { ...state, failures: event.data.failures, sinceFull: state.sinceFull + 1 };
      continue;
    }
    const data = event.data;
    const base = data.full || !state.facts ? { podcast: emptyPodcast(), episodes: [] } : state.facts;
    const podcast = { ...base.podcast, ...data.podcast };
    const changed = new Map(data.episodes.map((episode) => [episode.guid, episode]));
    const removed = new Set(data.removed);
    const kept = base.episodes.filter((episode) => !removed.has(episode.guid)).map((episode) => changed.get(episode.guid) ?? episode);
    const known = new Set(kept.map((episode) => episode.guid));
    const added = data.episodes.filter((episode) => !known.has(episode.guid));
    state = {
      facts: { podcast, episodes: [...added, ...kept] },
      etag: data.etag,
      lastModified: data.last_modified,
      failures: 0,
      sinceFull: data.full ? 0 : state.sinceFull + 1,
    };
  }
  return state;
}

const emptyPodcast = (): FeedPodcast => ({ title: null, author: null, description: null, link: null, podcast_guid: null, cover: null });
