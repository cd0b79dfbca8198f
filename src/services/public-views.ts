/**
 * What anyone may see (docs/design.md, "Privacy"): the public timeline and popularity. Only documents the
 * projections have already filtered by each user's current privacy choice are read here; the
 * native API (src/http/public.ts) and the public pages (src/web) both answer from this module.
 */
import { compareDocs, type Doc, type Query, type ReadModelStore } from '../stores/read-model.js';
import {
  cursorOf,
  parseCursor,
  PUBLIC_EVENTS,
  PUBLIC_EVENT_OWNERS,
  PUBLIC_FEED,
  PUBLIC_ORDER,
  publicEventsProjection,
} from '../../projections/public-events.js';
import { EPISODE_POPULARITY, PODCAST_POPULARITY, episodesOfFeed, popularityProjection } from '../../projections/popularity.js';
import { podcastsProjection } from '../../projections/podcasts.js';
import { formatPosition } from '../domain/position.js';
import { PodcastMetadata } from './podcast-metadata.js';
import { lastWithdrawals } from '../projector/internal-collections.js';
import type { DirectoryPodcast } from '../domain/directory.js';
import { directoryPodcastOf, matchesSearch, searchTerms } from '../domain/directory.js';

export interface PublicEventQuery {
  readonly feed?: string | undefined;
  /** A username (public users only ever appear with theirs). */
  readonly user?: string | undefined;
  /** The `next_before` of a previous page, or a plain timestamp. */
  readonly before?: string | undefined;
  readonly limit: number;
}

/** A public event as served (its id is its document's): anonymous ones have no `user`. */
export function publicEvent(id: string, doc: Doc) {
  const { type, timestamp, object, data, user } = doc;
  return user === null || user === undefined ? { id, type, timestamp, object, data } : { id, type, timestamp, object, data, user };
}
export type PublicEvent = ReturnType<typeof publicEvent>;

function popularity(doc: Doc) {
  const { rss_source_feed, rss_source_item, title, feed_title, author, description, cover, plays, plays_people, likes, likes_people } = doc;
  return Object.fromEntries(
    Object.entries({ rss_source_feed, rss_source_item, title, feed_title, author, description, cover, plays, plays_people, likes, likes_people }).filter(
      ([, value]) => value !== undefined,
    ),
  );
}

/** How many of a user's newest published events the preview looks at (newest by revision; shown by time). */
const PREVIEW_PUBLISHED = 2000;

const byPopularity: Query['orderBy'] = [
  { field: 'plays', direction: 'desc' },
  { field: 'likes', direction: 'desc' },
];

/**
 * The podcasts a directory search looks through: the most played. A search filters them in
 * memory (the read models' queries have no text search), so a podcast less played than these is
 * not found by a search, though its data is, by its feed's URL ({@link PublicViews.directoryPodcast}).
 */
const DIRECTORY_SIZE = 1_000;

/** At most this many podcasts answer a search. */
const SEARCH_RESULTS = 100;

/** At most this many answers are kept (one per distinct query: limits, feeds, users, pages). */
const ANSWERS_KEPT = 500;

/**
 * The public views' answers, shared by everyone who asks the same question (the timeline's first
 * page, the top lists). An answer is a function of its read models' documents, which change only
 * in a projector's commit, which moves the projection's checkpoint. So an answer is served again:
 * - while every checkpoint it depends on is where it was when the answer was made (read before
 *   the documents: documents committed meanwhile make it newer, never older, than that);
 * - or, for `reuseForMs` after it was made, while none of those projections has applied a
 *   withdrawal since (docs/design.md, "Public answers"; the record read before the documents:
 *   internal-collections.ts). New activity then shows up at most that late, but what a privacy
 *   choice, an erasure, retention or an account's deletion took out is never served once
 *   committed. Under writes every commit moves the checkpoints: remaking each answer after each
 *   of them cost the HTTP thread about a quarter of its capacity (bench/RESULTS.md, "Public
 *   answers kept for a second").
 */
class AnswerCache {
  private readonly answers = new Map<string, Kept>();

  constructor(
    private readonly store: ReadModelStore,
    private readonly reuseForMs: number,
  ) {}

  async answer<T>(key: string, projections: readonly string[], make: () => Promise<T>): Promise<T> {
    const kept = this.answers.get(key);
    // Young: one read (the withdrawal records) tells, whatever the checkpoints say.
    let withdrawals = kept !== undefined && performance.now() - kept.madeAt < this.reuseForMs ? await lastWithdrawals(this.store, projections) : undefined;
    if (kept !== undefined && withdrawals === kept.withdrawals) return this.served(key, kept);
    const checkpoints = await Promise.all(projections.map((projection) => this.store.getCheckpoint(projection)));
    const at = checkpoints.map((checkpoint) => (checkpoint ? formatPosition(checkpoint.position) : '')).join(' ');
    if (kept !== undefined && kept.at === at) return this.served(key, kept);
    // Both read before the documents (above).
    withdrawals ??= this.reuseForMs > 0 ? await lastWithdrawals(this.store, projections) : '';
    // The promise is kept: identical questions asked while it is being made share it.
    const answer = make();
    const entry: Kept = { at, withdrawals, madeAt: performance.now(), answer };
    this.answers.delete(key);
    this.answers.set(key, entry);
    if (this.answers.size > ANSWERS_KEPT) this.answers.delete(this.answers.keys().next().value!);
    answer.catch(() => {
      if (this.answers.get(key) === entry) this.answers.delete(key);
    });
    return answer;
  }

  /** A kept answer, moved to the end of the map's order: the least recently used go first. */
  private served<T>(key: string, kept: Kept): Promise<T> {
    this.answers.delete(key);
    this.answers.set(key, kept);
    return kept.answer as Promise<T>;
  }
}

interface Kept {
  /** The checkpoints it was made at. */
  readonly at: string;
  /** The projections' last withdrawals when it was made. */
  readonly withdrawals: string;
  readonly madeAt: number;
  readonly answer: Promise<unknown>;
}

const EVENT_SOURCES = [publicEventsProjection.name, podcastsProjection.name];
const POPULARITY_SOURCES = [popularityProjection.name, podcastsProjection.name];

/**
 * Titles and covers come from the feeds where clients sent none (docs/design.md, "Feeds"),
 * joined when read: the public projections never read the `podcasts` read model.
 *
 * Answers are shared between callers (see AnswerCache): callers must not change them.
 */
export class PublicViews {
  private readonly metadata: PodcastMetadata;
  private readonly cache: AnswerCache;

  /** `reuseForMs`: how long an answer may be served after its read models moved on, withdrawals aside (PUBLIC_CACHE_MS; 0: never). */
  constructor(
    private readonly store: ReadModelStore,
    { reuseForMs = 0 }: { readonly reuseForMs?: number } = {},
  ) {
    this.metadata = new PodcastMetadata(store);
    this.cache = new AnswerCache(store, reuseForMs);
  }

  private async withFeedTitles(events: readonly PublicEvent[]): Promise<PublicEvent[]> {
    return (await this.metadata.publicEvents(events as readonly Doc[])) as PublicEvent[];
  }

  events(query: PublicEventQuery): Promise<{ events: PublicEvent[]; next_before: string | null }> {
    const key = JSON.stringify(['events', query.feed ?? null, query.user ?? null, query.before ?? null, query.limit]);
    return this.cache.answer(key, EVENT_SOURCES, () => this.readEvents(query));
  }

  private async readEvents(query: PublicEventQuery): Promise<{ events: PublicEvent[]; next_before: string | null }> {
    const where: Record<string, string> = {};
    if (query.feed !== undefined) where[PUBLIC_FEED] = query.feed;
    if (query.user !== undefined) where['user'] = query.user;
    // After a page's last event, or before a time alone.
    const before = query.before === undefined ? undefined : parseCursor(query.before);
    const docs = await this.store.find(PUBLIC_EVENTS, {
      where,
      ...(before?.id !== undefined ? { after: { value: before.timestamp, id: before.id } } : {}),
      ...(before !== undefined && before.id === undefined ? { lessThan: { field: 'timestamp', value: before.timestamp } } : {}),
      orderBy: PUBLIC_ORDER,
      limit: query.limit,
    });
    const last = docs.at(-1);
    return {
      events: await this.withFeedTitles(docs.map(({ id, doc }) => publicEvent(id, doc))),
      next_before: docs.length === query.limit && last ? cursorOf({ timestamp: String(last.doc['timestamp']), id: last.id }) : null,
    };
  }

  popularPodcasts(limit: number) {
    return this.cache.answer(JSON.stringify(['podcasts', limit]), POPULARITY_SOURCES, () => this.readPopularPodcasts(limit));
  }

  private async readPopularPodcasts(limit: number) {
    const docs = await this.store.find(PODCAST_POPULARITY, { orderBy: byPopularity, limit });
    return (await this.metadata.popularPodcasts(docs.map(({ doc }) => doc))).map(popularity);
  }

  /** The `count` most played published podcasts as a directory lists them (gpodder.net's toplist). */
  toplist(count: number): Promise<DirectoryPodcast[]> {
    return this.cache.answer(JSON.stringify(['toplist', count]), POPULARITY_SOURCES, () => this.readDirectory(count));
  }

  /** The published podcasts whose title, author or feed URL hold every word of `query`, most played first. */
  async search(query: string): Promise<DirectoryPodcast[]> {
    const terms = searchTerms(query);
    const directory = await this.toplist(DIRECTORY_SIZE);
    return directory.filter((podcast) => matchesSearch(podcast, terms)).slice(0, SEARCH_RESULTS);
  }

  /** One podcast's directory entry; undefined unless this server publishes it. */
  directoryPodcast(url: string): Promise<DirectoryPodcast | undefined> {
    return this.cache.answer(JSON.stringify(['directory-podcast', url]), POPULARITY_SOURCES, async () => {
      const doc = await this.store.get(PODCAST_POPULARITY, url);
      return doc === undefined ? undefined : (await this.metadata.popularPodcasts([doc])).map(directoryPodcastOf)[0];
    });
  }

  private async readDirectory(limit: number): Promise<DirectoryPodcast[]> {
    const docs = await this.store.find(PODCAST_POPULARITY, { orderBy: byPopularity, limit });
    return (await this.metadata.popularPodcasts(docs.map(({ doc }) => doc))).map(directoryPodcastOf);
  }

  popularEpisodes(limit: number, feed?: string) {
    return this.cache.answer(JSON.stringify(['episodes', limit, feed ?? null]), POPULARITY_SOURCES, () => this.readPopularEpisodes(limit, feed));
  }

  private async readPopularEpisodes(limit: number, feed?: string) {
    const docs = await this.store.find(EPISODE_POPULARITY, {
      ...(feed !== undefined ? episodesOfFeed(feed) : {}),
      orderBy: byPopularity,
      limit,
    });
    return (await this.metadata.popularEpisodes(docs.map(({ doc }) => doc))).map(popularity);
  }

  /**
   * Exactly what others see of one user's events, public and anonymous alike (the privacy
   * page's preview): the public documents of the user's newest shareable events, newest first.
   */
  async seenOf(userId: string, limit: number): Promise<PublicEvent[]> {
    // Bounded: the newest published events are enough to fill a preview (and a heavy
    // listener's whole history would be a large read for one page).
    const owned = await this.store.find(PUBLIC_EVENT_OWNERS, {
      where: { user: userId },
      orderBy: [{ field: 'revision', direction: 'desc' }],
      limit: PREVIEW_PUBLISHED,
    });
    const ids = owned.map(({ id }) => id);
    const published = [...(await this.store.getMany(PUBLIC_EVENTS, ids))].map(([id, doc]) => ({ id, doc }));
    return this.withFeedTitles(
      published
        .sort(compareDocs(PUBLIC_ORDER))
        .slice(0, limit)
        .map(({ id, doc }) => publicEvent(id, doc)),
    );
  }
}
