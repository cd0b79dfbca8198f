/**
 * The feeds the client replicas' tests subscribe to: names, episode guids and media URLs, and a
 * feed with more episodes than one download page holds. Each replica makes its own catalog of
 * them (AntennaPod keeps durations in milliseconds, Kasts in seconds).
 */
import { EPISODE_ACTIONS_PAGE } from '../../src/services/gpodder-episodes.js';
import type { FeedCatalog } from './kasts.js';

export const PASSWORD = 'correct horse battery staple';
export const MINUTE = 60_000;

export const FEED_NEWS = 'https://feeds.example.com/news.xml';
export const FEED_TALK = 'https://feeds.example.com/talk.xml';
export const FEED_DOCS = 'https://feeds.example.com/docs.xml';
/** Streams whose feed gives no durations. */
export const FEED_LIVE = 'https://feeds.example.com/live.xml';
export const FEED_BIG = 'https://feeds.example.com/big.xml';
export const BIG_COUNT = EPISODE_ACTIONS_PAGE + 45;

const slug = (feed: string) => new URL(feed).pathname.replace(/^\/|\.xml$/g, '');
export const guidOf = (feed: string, i: number) => `${slug(feed)}-${i}`;
export const mediaOf = (feed: string, i: number) => `https://cdn.example.com/${slug(feed)}/${i}.mp3`;

/** Episodes 1..count of `feed`: guid, media URL and duration (seconds; 0 when the feed gives none). */
export function feedEpisodes(feed: string, count: number, durationSeconds: number): { guid: string; url: string; durationSeconds: number }[] {
  return Array.from({ length: count }, (_, index) => ({ guid: guidOf(feed, index + 1), url: mediaOf(feed, index + 1), durationSeconds }));
}

/** The feeds most replica tests subscribe to: each with its episode count and duration (seconds; 0: none given). */
export const LISTENING_FEEDS = [
  [FEED_NEWS, 20, 1800],
  [FEED_TALK, 20, 3600],
  [FEED_DOCS, 5, 2400],
] as const;

/** Kasts's catalog of `feeds` (the other app of most replica tests). */
export function kastsCatalogOf(feeds: readonly (readonly [string, number, number])[]): FeedCatalog {
  return new Map(
    feeds.map(([feed, count, seconds]) => [feed, feedEpisodes(feed, count, seconds).map(({ guid, url }) => ({ id: guid, url, duration: seconds }))]),
  );
}
