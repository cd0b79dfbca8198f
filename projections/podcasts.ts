/**
 * `podcasts` read model (docs/design.md, "Feeds"): the last known state of each feed, from
 * its own stream (`feed-<hash>`), and which feeds anyone subscribes to, from the users'
 * streams, so the `feeds` job knows what to fetch and when.
 *
 * Collections, all owned here:
 * - `podcasts`: one document per feed (id: {@link feedKey}): the podcast's fields, the fetch
 *   bookkeeping (validators, failures, `next_fetch_at`) and `subscribers`, the number of users
 *   subscribed now. A feed never fetched is due at once ({@link NEVER_FETCHED}); one known only
 *   from subscriptions has no document once no one subscribes.
 * - `podcast_episodes`: one document per episode of a feed (id: {@link episodeDocKey}), with
 *   `first_seq`, the `$all` position of the event that first listed it (the gpodder `updates`
 *   cursor), kept when the episode changes.
 * - `podcast_subscribers`: per user and feed, the user's subscription record (the domain's
 *   `SubscriptionState`), so subscriber counts follow the domain fold exactly (a late
 *   `subscribe` older than an `unsubscribe` does not count), erasure and retention included.
 */
import type { FeedEpisode, FeedEvent, FeedFetchedEvent, FeedPodcast } from '../src/domain/feeds.js';
import { episodeDocKey, feedKey, isFeedEvent } from '../src/domain/feeds.js';
import type { SubscriptionState } from '../src/domain/state.js';
import { emptyState, evolve, isSubscribed } from '../src/domain/state.js';
import type { Doc, DocChange } from '../src/domain/documents.js';
import type { ProjectedEvent, Projection, ProjectionView } from './projection.js';
import { del, put, recordedSeconds, userDocId } from './projection.js';
import { StagedView } from './staged-view.js';
import { subscriptionsProjection } from './subscriptions.js';
import { fromJson, toJsonObject, jsonEqual } from '../src/domain/json.js';

export const PODCASTS = 'podcasts';
export const PODCAST_EPISODES = 'podcast_episodes';
const PODCAST_SUBSCRIBERS = 'podcast_subscribers';

const PODCAST_FIELDS = ['title', 'author', 'description', 'link', 'podcast_guid', 'cover'] as const satisfies readonly (keyof FeedPodcast)[];

/** A new feed document: nothing known but its URL. */
function newPodcast(url: string, nextFetchAt: string | null): Doc {
  return {
    url,
    ...Object.fromEntries(PODCAST_FIELDS.map((field) => [field, null])),
    subscribers: 0,
    subscribed: false,
    next_fetch_at: nextFetchAt,
    etag: null,
    last_modified: null,
    fetched_at: null,
    checked_at: null,
    failures: 0,
    last_error: null,
    revision: null,
    full_revision: null,
    seq: 0,
  };
}

export const podcastsProjection: Projection = {
  name: 'podcasts',
  collections: [
    // The job's query: subscribed feeds due, soonest first.
    { name: PODCASTS, indexes: [['subscribed', 'next_fetch_at']] },
    // `feed_key` alone (a full fetch replaces a feed's episodes) and with the updates cursor.
    { name: PODCAST_EPISODES, indexes: [['feed_key', 'first_seq']] },
    // A user's are found by their ids (`user|…`), not by an index.
    { name: PODCAST_SUBSCRIBERS, indexes: [] },
  ],
  evolve(projected, view) {
    const { event } = projected;
    if (event.type === 'roll_stats') return [];
    if (isFeedEvent(event)) return onFeedEvent(projected, event, view);
    return onUserEvent(projected, view);
  },
};

// ---- users' subscriptions ------------------------------------------------------------------

type StateEvent = Exclude<ProjectedEvent['event'], FeedEvent | { type: 'roll_stats' }>;

function onUserEvent(projected: ProjectedEvent, view: ProjectionView): DocChange[] {
  const event = projected.event as StateEvent;
  // The same rule as the `subscriptions` read model: which records an event touches.
  const keys = subscriptionsProjection.touches(event);
  if (keys === 'none') return [];
  const user = projected.user;
  const before: Record<string, SubscriptionState> = Object.fromEntries(
    keys === 'all'
      ? view.find(PODCAST_SUBSCRIBERS, { idPrefix: userDocId(user, '') }).map(({ doc }) => [String(doc['rss_source_feed']), recordOf(doc)])
      : keys.flatMap((feed) => {
          const doc = view.get(PODCAST_SUBSCRIBERS, userDocId(user, feedKey(feed)));
          return doc ? [[feed, recordOf(doc)]] : [];
        }),
  );
  const after = evolve({ ...emptyState(), subscriptions: before }, event).subscriptions;
  const staged = new StagedView(view);
  const feeds = new Set([...Object.keys(before), ...(keys === 'all' ? Object.keys(after) : keys)]);
  for (const feed of feeds) {
    const old = before[feed];
    const now = after[feed];
    const id = userDocId(user, feedKey(feed));
    if (now === undefined) staged.apply([del(PODCAST_SUBSCRIBERS, id)]);
    // A copy: the document outlives this event's state. (No `user` inside: the id holds it.)
    else if (!jsonEqual(old, now)) staged.apply([put(PODCAST_SUBSCRIBERS, id, Object.assign({}, toJsonObject(now)))]);
    const delta = Number(now !== undefined && isSubscribed(now)) - Number(old !== undefined && isSubscribed(old));
    if (delta !== 0) staged.apply([adjustSubscribers(staged, feed, delta)]);
  }
  return staged.netChanges();
}

function recordOf(doc: Doc): SubscriptionState {
  const { user: _user, ...record } = doc;
  return fromJson<SubscriptionState>(record);
}

/**
 * `next_fetch_at` of a feed never fetched: due at once, and the same whichever event first names
 * the feed (a rebuild after retention or erasure may first see it in a checkpoint).
 */
export const NEVER_FETCHED = '1970-01-01T00:00:00.000Z';

function adjustSubscribers(view: ProjectionView, feed: string, delta: number): DocChange {
  const id = feedKey(feed);
  const doc = { ...(view.get(PODCASTS, id) ?? newPodcast(feed, NEVER_FETCHED)) };
  const subscribers = Math.max(0, Number(doc['subscribers'] ?? 0) + delta);
  // Known only from subscriptions, and no one subscribes any more: nothing to keep. (Erased
  // subscriptions leave no trace; a rebuild, which never sees them, has no document either.)
  if (subscribers === 0 && doc['revision'] === null) return del(PODCASTS, id);
  return put(PODCASTS, id, { ...doc, subscribers, subscribed: subscribers > 0 });
}

// ---- the feeds' own streams ----------------------------------------------------------------

function onFeedEvent(projected: ProjectedEvent, event: FeedEvent, view: ProjectionView): DocChange[] {
  const { url } = event.data;
  const id = feedKey(url);
  const doc: Doc = {
    ...(view.get(PODCASTS, id) ?? newPodcast(url, null)),
    next_fetch_at: event.data.next_fetch_at,
    revision: projected.revision,
    seq: projected.seq,
  };
  if (event.type === 'feed_fetch_failed') {
    const { error, message, failures } = event.data;
    return [put(PODCASTS, id, { ...doc, failures, last_error: { error, message, at: event.timestamp } })];
  }
  const changes: DocChange[] = [];
  const data = event.data;
  for (const field of PODCAST_FIELDS) {
    if (data.full) doc[field] = (data.podcast[field] ?? null) as Doc[string];
    else if (field in data.podcast) doc[field] = (data.podcast[field] ?? null) as Doc[string];
  }
  Object.assign(doc, {
    etag: data.etag,
    last_modified: data.last_modified,
    checked_at: event.timestamp,
    failures: 0,
    last_error: null,
    ...(data.not_modified ? {} : { fetched_at: event.timestamp }),
    ...(data.full ? { full_revision: projected.revision } : {}),
  });
  changes.push(put(PODCASTS, id, doc));
  changes.push(...episodeChanges(projected, event, view));
  return changes;
}

function episodeChanges(projected: ProjectedEvent, event: FeedFetchedEvent, view: ProjectionView): DocChange[] {
  const { url, full, episodes, removed } = event.data;
  const changes: DocChange[] = [];
  if (full) {
    // A full event is the whole list: episodes it does not name are gone.
    const listed = new Set(episodes.map((episode) => episodeDocKey(url, episode.guid)));
    for (const { id } of view.find(PODCAST_EPISODES, { where: { feed_key: feedKey(url) } })) if (!listed.has(id)) changes.push(del(PODCAST_EPISODES, id));
  }
  for (const guid of removed) changes.push(del(PODCAST_EPISODES, episodeDocKey(url, guid)));
  for (const episode of episodes) changes.push(episodeDoc(projected, url, episode, view));
  return changes;
}

function episodeDoc(projected: ProjectedEvent, feed: string, episode: FeedEpisode, view: ProjectionView): DocChange {
  const id = episodeDocKey(feed, episode.guid);
  const existing = view.get(PODCAST_EPISODES, id);
  return put(PODCAST_EPISODES, id, {
    feed,
    feed_key: feedKey(feed),
    ...episode,
    first_seq: typeof existing?.['first_seq'] === 'number' ? existing['first_seq'] : projected.seq,
    at: recordedSeconds(projected),
  });
}
