/**
 * What the feeds say, joined at read time into answers built from what clients sent
 * (docs/design.md, "Feeds"): popularity, public events, gpodder podcast objects. The rule, in
 * this one place: a value a client sent wins; the feed's fills what is missing (null or absent).
 *
 * Done here and not in the projections: a projection reads only its own collections, and the
 * `podcasts` read model is another projection's, rebuilt on its own.
 */
import type { JsonObject, JsonValue } from '../stores/event-store.js';
import type { Doc, ReadModelStore } from '../stores/read-model.js';
import { episodeDocKey, feedKey } from '../domain/feeds.js';
import { PODCAST_EPISODES, PODCASTS } from '../../projections/podcasts.js';

const missing = (value: unknown) => value === undefined || value === null;

/** `target` with each `fields[targetField] = sourceField` taken from `source` where the target has none. */
export function fillMissing(target: Doc, source: Doc | undefined, fields: Readonly<Record<string, string>>): Doc {
  if (!source) return target;
  const filled: Doc = { ...target };
  for (const [targetField, sourceField] of Object.entries(fields)) {
    const value = source[sourceField];
    if (missing(filled[targetField]) && !missing(value)) filled[targetField] = value as JsonValue;
  }
  return filled;
}

export class PodcastMetadata {
  constructor(private readonly readModel: ReadModelStore) {}

  /** The `podcasts` documents of these feeds, by feed URL (unknown feeds absent). */
  async podcasts(feeds: Iterable<string>): Promise<Map<string, Doc>> {
    const urls = [...new Set(feeds)];
    if (urls.length === 0) return new Map();
    const keys = urls.map(feedKey);
    const byKey = await this.readModel.getMany(PODCASTS, keys);
    return new Map(urls.flatMap((url, i) => (byKey.has(keys[i]!) ? [[url, byKey.get(keys[i]!)!]] : [])));
  }

  /** The `podcast_episodes` documents of these (feed, guid) pairs, by {@link episodeDocKey}. */
  async episodes(pairs: Iterable<readonly [string, string]>): Promise<Map<string, Doc>> {
    const ids = [...new Set([...pairs].map(([feed, guid]) => episodeDocKey(feed, guid)))];
    return ids.length === 0 ? new Map() : this.readModel.getMany(PODCAST_EPISODES, ids);
  }

  /** `podcast_popularity` documents with the feed's title, author, description, cover and website (its `link`) where clients sent none. */
  async popularPodcasts(docs: readonly Doc[]): Promise<Doc[]> {
    const podcasts = await this.podcasts(docs.map((doc) => String(doc['rss_source_feed'])));
    return docs.map((doc) =>
      fillMissing(doc, podcasts.get(String(doc['rss_source_feed'])), {
        title: 'title',
        author: 'author',
        description: 'description',
        cover: 'cover',
        website: 'link',
      }),
    );
  }

  /** `episode_popularity` documents with the episode's and the feed's titles, and the feed's cover, where clients sent none. */
  async popularEpisodes(docs: readonly Doc[]): Promise<Doc[]> {
    const [podcasts, episodes] = await Promise.all([
      this.podcasts(docs.map((doc) => String(doc['rss_source_feed']))),
      this.episodes(docs.map((doc) => [String(doc['rss_source_feed']), String(doc['rss_source_item'])] as const)),
    ]);
    return docs.map((doc) => {
      const feed = String(doc['rss_source_feed']);
      const withEpisode = fillMissing(doc, episodes.get(episodeDocKey(feed, String(doc['rss_source_item']))), { title: 'title' });
      return fillMissing(withEpisode, podcasts.get(feed), { feed_title: 'title', cover: 'cover' });
    });
  }

  /**
   * Public events with `data.rss_feed_title` / `data.rss_item_title` from the feed where the
   * client sent none, and the feed's `cover` beside them.
   */
  async publicEvents(events: readonly Doc[]): Promise<Doc[]> {
    const objectOf = (event: Doc) =>
      event['object'] !== null && typeof event['object'] === 'object' && !Array.isArray(event['object']) ? (event['object'] as JsonObject) : undefined;
    const feeds = events.flatMap((event) => (typeof objectOf(event)?.['rss_source_feed'] === 'string' ? [String(objectOf(event)!['rss_source_feed'])] : []));
    const pairs = events.flatMap((event) => {
      const object = objectOf(event);
      return typeof object?.['rss_source_feed'] === 'string' && typeof object['rss_source_id'] === 'string'
        ? [[object['rss_source_feed'], object['rss_source_id']] as const]
        : [];
    });
    const [podcasts, episodes] = await Promise.all([this.podcasts(feeds), this.episodes(pairs)]);
    return events.map((event) => {
      const object = objectOf(event);
      const feed = typeof object?.['rss_source_feed'] === 'string' ? object['rss_source_feed'] : undefined;
      if (feed === undefined) return event;
      const podcast = podcasts.get(feed);
      const guid = object?.['rss_source_id'];
      const episode = typeof guid === 'string' ? episodes.get(episodeDocKey(feed, guid)) : undefined;
      const data = event['data'] !== null && typeof event['data'] === 'object' && !Array.isArray(event['data']) ? (event['data'] as Doc) : {};
      // A save names its titles `feed_title` / `item_title`; every other event `rss_feed_title` / `rss_item_title`.
      const [feedTitle, itemTitle] = event['type'] === 'save' ? ['feed_title', 'item_title'] : ['rss_feed_title', 'rss_item_title'];
      const filled = fillMissing(fillMissing(data, podcast, { [feedTitle]: 'title' }), episode, guid === undefined ? {} : { [itemTitle]: 'title' });
      const cover = podcast?.['cover'];
      return { ...event, data: filled, ...(missing(cover) ? {} : { cover: cover as JsonValue }) };
    });
  }
}
