/**
 * A synthetic but realistic listening workload, shared by the rebuild benchmark and the
 * projector crash test: users with a handful of feeds drawn from a Zipf-like popularity, each
 * append being one user's sync-sized burst of mostly plays and positions, with some
 * (un)subscriptions, saves and shares, a few privacy changes and rare erasures.
 *
 * Deterministic for a given seed, and generated lazily (an iterator of appends) so a million
 * events never sit in memory at once.
 */
import type { Privacy, UserEvent } from '../../src/domain/events.js';
import type { EventToAppend } from '../../src/stores/event-store.js';
import { toStoreEvent } from '../../src/services/codec.js';
import { streams } from '../../src/domain/events.js';

export interface WorkloadOptions {
  readonly events: number;
  readonly users: number;
  readonly feeds: number;
  readonly episodesPerFeed: number;
  readonly minFeedsPerUser: number;
  readonly maxFeedsPerUser: number;
  /** Events per append: uniform in 1..maxBatch. */
  readonly maxBatch: number;
  readonly seed: number;
}

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  events: 1_000_000,
  users: 10_000,
  feeds: 5_000,
  episodesPerFeed: 50,
  minFeedsPerUser: 2,
  maxFeedsPerUser: 20,
  maxBatch: 8,
  seed: 42,
};

export interface WorkloadAppend {
  readonly stream: string;
  readonly events: EventToAppend[];
}

/** mulberry32: small, fast, seedable; Math.random cannot be seeded. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples 0..n-1 with weight 1/(k+1)^s: a few feeds are huge, most have a handful of listeners. */
function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / Math.pow(k + 1, s);
  return () => {
    const target = random() * sum;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cdf[middle]! < target) low = middle + 1;
      else high = middle;
    }
    return low;
  };
}

type Kind = 'play' | 'position' | 'subscribe' | 'unsubscribe' | 'save' | 'share' | 'privacy' | 'remove';

/** Per 10,000 events. */
const MIX: readonly (readonly [Kind, number])[] = [
  ['play', 4_600],
  ['position', 3_800],
  ['subscribe', 450],
  ['unsubscribe', 200],
  ['save', 600],
  ['share', 300],
  ['privacy', 45],
  ['remove', 5],
];

function kindSampler(random: () => number): () => Kind {
  const total = MIX.reduce((sum, [, weight]) => sum + weight, 0);
  return () => {
    let target = random() * total;
    for (const [kind, weight] of MIX) if ((target -= weight) < 0) return kind;
    return 'play';
  };
}

const feedUrl = (feed: number) => `https://feeds.example.com/podcast-${feed}/rss.xml`;
const guidOf = (feed: number, episode: number) => `urn:podcast-${feed}:episode-${episode}`;

/** Generates the appends; the first event of each user is an account privacy choice. */
export function* generateWorkload(options: WorkloadOptions): Generator<WorkloadAppend> {
  const random = createRandom(options.seed);
  const pickFeed = zipfSampler(options.feeds, 1.0, random);
  const pickKind = kindSampler(random);
  const int = (n: number) => Math.floor(random() * n);
  const userFeeds: (number[] | undefined)[] = new Array(options.users);
  let clock = Date.UTC(2026, 0, 1);
  let idCounter = 0;

  /** UUID-shaped (version 4 / variant bits set) and unique: the seed, then a counter. */
  const nextId = () => {
    const n = (idCounter++).toString(16).padStart(12, '0');
    const s = (options.seed >>> 0).toString(16).padStart(8, '0');
    return `${s}-0000-4000-8000-${n}`;
  };

  const level = (): Privacy => {
    const r = random();
    return r < 0.5 ? 'public' : r < 0.8 ? 'anonymous' : 'private';
  };

  const eventFor = (user: number, kind: Kind, timestamp: string): UserEvent => {
    const feeds = userFeeds[user]!;
    const feed = feeds[int(feeds.length)]!;
    // Listeners favour recent episodes: the square skews towards the low (recent) numbers.
    const episode = Math.floor(Math.pow(random(), 2) * options.episodesPerFeed);
    const base = { id: nextId(), timestamp, user: String(user) };
    const episodeObject = { rss_source_feed: feedUrl(feed), rss_source_id: guidOf(feed, episode) };
    switch (kind) {
      case 'play':
        return {
          ...base,
          type: 'play',
          object: episodeObject,
          data: {
            played: random() < 0.3,
            position: int(3600),
            rss_feed_title: `Podcast number ${feed}`,
            rss_item_title: `Episode ${episode}: a title of a typical length`,
            enclosure: {
              url: `https://cdn.example.com/${feed}/${episode}.mp3`,
              duration: 1800 + int(3600),
              size: 20_000_000 + int(60_000_000),
              cover: { src: `https://cdn.example.com/${feed}/cover.jpg` },
            },
            device: 'phone',
          },
        };
      case 'position':
        return { ...base, type: 'position', object: episodeObject, data: { position: int(3600), device: 'phone' } };
      case 'subscribe':
        return { ...base, type: 'subscribe', object: { rss_source_feed: feedUrl(feed) }, data: { rss_feed_title: `Podcast number ${feed}`, device: 'phone' } };
      case 'unsubscribe':
        return { ...base, type: 'unsubscribe', object: { rss_source_feed: feedUrl(feed) }, data: { device: 'phone' } };
      case 'save':
        return {
          ...base,
          type: 'save',
          object: episodeObject,
          data: {
            ...(random() < 0.2 ? { playlist: 'later' } : {}),
            ...(random() < 0.2 ? { removed: true } : {}),
            item_title: `Episode ${episode}: a title of a typical length`,
            feed_title: `Podcast number ${feed}`,
          },
        };
      case 'share':
        return { ...base, type: 'share', object: episodeObject, data: { to: 'a friend', message: 'You have to hear this one' } };
      case 'privacy':
        return { ...base, type: 'privacy', object: random() < 0.5 ? null : { rss_source_feed: feedUrl(feed) }, data: { privacy: level() } };
      case 'remove':
        return { ...base, type: 'remove', object: random() < 0.5 ? { rss_source_feed: feedUrl(feed) } : episodeObject, data: {} };
    }
  };

  for (let made = 0; made < options.events;) {
    const user = int(options.users);
    const size = Math.min(1 + int(options.maxBatch), options.events - made);
    const events: EventToAppend[] = [];
    const metadata = { username: `listener${user}` };
    if (!userFeeds[user]) {
      const count = options.minFeedsPerUser + int(options.maxFeedsPerUser - options.minFeedsPerUser + 1);
      userFeeds[user] = [...new Set(Array.from({ length: count }, pickFeed))];
      clock += 1000;
      events.push(
        toStoreEvent(
          { id: nextId(), timestamp: new Date(clock).toISOString(), user: String(user), type: 'privacy', object: null, data: { privacy: level() } },
          metadata,
        ),
      );
    }
    while (events.length < size) {
      clock += 1000 + int(60_000);
      events.push(toStoreEvent(eventFor(user, pickKind(), new Date(clock).toISOString()), metadata));
    }
    made += events.length;
    yield { stream: streams.user(String(user)), events };
  }
}
