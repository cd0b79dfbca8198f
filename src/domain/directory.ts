/**
 * The podcast directory (gpodder.net's toplist, search and podcast data: docs/api.md, "Podcast
 * directory"): the podcasts this server publishes — those public and anonymous listeners
 * played or saved (the popularity read model, docs/design.md, "Privacy", 6) — with what their
 * feeds say. Pure: what a directory entry is made of, and which entries a search finds.
 */
import type { Doc } from './documents.js';

export interface DirectoryPodcast {
  readonly url: string;
  readonly title: string | null;
  readonly author: string | null;
  readonly description: string | null;
  readonly website: string | null;
  readonly logo: string | null;
  /** Public and anonymous listeners who played an episode of it: what the directory ranks by. */
  readonly listeners: number;
}

const text = (value: unknown): string | null => (typeof value === 'string' && value.trim() !== '' ? value : null);

/** A cover's image URL: covers are `{src, srcset}` objects, a client's and a feed's alike (src/domain/events.ts `cover`). */
const coverSrc = (cover: unknown): string | null =>
  cover !== null && typeof cover === 'object' && !Array.isArray(cover) ? text((cover as { src?: unknown }).src) : null;

/** An entry from a `podcast_popularity` document joined with its feed's fields (`title`, `author`, `description`, `cover`, `website`). */
export function directoryPodcastOf(doc: Doc): DirectoryPodcast {
  return {
    url: String(doc['rss_source_feed']),
    title: text(doc['title']),
    author: text(doc['author']),
    description: text(doc['description']),
    website: text(doc['website']),
    logo: coverSrc(doc['cover']),
    listeners: typeof doc['plays'] === 'number' ? doc['plays'] : 0,
  };
}

/** The most characters of a search query (gpodder.net's own bound is its URL's). */
export const MAX_QUERY = 200;

/** A query's words, lower case; none for a query of spaces. */
export function searchTerms(query: string): string[] {
  return query.toLowerCase().split(/\s+/u).filter(Boolean);
}

/**
 * Whether an entry answers a search: every word of the query is in its title, its author or its
 * feed's URL, whatever the letter case (a description names too much to rank a search by).
 */
export function matchesSearch(podcast: DirectoryPodcast, terms: readonly string[]): boolean {
  const haystack = [podcast.title, podcast.author, podcast.url]
    .filter((field) => field !== null)
    .join('\n')
    .toLowerCase();
  return terms.length > 0 && terms.every((term) => haystack.includes(term));
}
