/**
 * `podcast_popularity` and `episode_popularity` read models (docs/design.md, "Privacy", 6).
 *
 * Counts: an episode's `plays` is the number of users who played it, `likes` the number of
 * users who have it saved in at least one playlist; a podcast's counts are the sums over its
 * episodes. Only public and anonymous users count. `plays_people` / `likes_people` list the
 * usernames of the most recent public users (most recent first, at most {@link PEOPLE_LIMIT}),
 * "recent" meaning the `$all` position of their latest play or save, so live processing and a
 * rebuild order people identically.
 *
 * Both models live in one projection because they are fed by the same per-user
 * contributions (internal collections): splitting them would keep that state twice.
 * Privacy is retroactive: a change re-evaluates the user's contributions and re-ranks the
 * people lists from the contributions themselves. Only counted levels keep contributions: when
 * a change starts counting a feed of a private user, theirs are rebuilt from the user's
 * history (ProjectionView.history).
 */
import type { EventObject, Privacy, UserEvent } from '../src/domain/events.js';
import { DEFAULT_PLAYLIST } from '../src/domain/events.js';
import type { PrivacyState } from '../src/domain/state.js';
import { effectivePrivacy, episodeKey, episodeKeyPrefixOf } from '../src/domain/state.js';
import { scopeCovers } from '../src/domain/erasure.js';
import type { Doc, DocChange, IndexSpec, Query } from '../src/domain/documents.js';
import type { ProjectedEvent, Projection, ProjectionContext, ProjectionView } from './projection.js';
import type { Descriptive, RollStatsEvent } from '../src/domain/system-events.js';
import { del, put, userDocId } from './projection.js';
import { privacyChange, privacyChanges, privacyCollection, privacyDeleted, privacyOf, sortedKeys } from './privacy.js';
import { StagedView } from './staged-view.js';
import { retainedHistory, type EventAbout } from './retained-history.js';
import { fromJson, toJsonObject, jsonEqual } from '../src/domain/json.js';

export const PODCAST_POPULARITY = 'podcast_popularity';
export const EPISODE_POPULARITY = 'episode_popularity';
const EPISODE_CONTRIBUTIONS = 'popularity_episode_contributions';
const PODCAST_CONTRIBUTIONS = 'popularity_podcast_contributions';
const PRIVACY_COPY = 'popularity_privacy';
export const PEOPLE_LIMIT = 10;

/** One user's relation to one episode. */
interface EpisodeContribution {
  user: string;
  username: string | null;
  feed: string;
  guid: string;
  episode: string;
  level: Privacy;
  played: boolean;
  play_seq: number;
  /** Stream revision of the latest play: retention drops plays whose events it removes. */
  play_rev: number;
  /** Playlists holding the episode, each with the stream revision of the save; liked = non-empty. */
  saved_in: Record<string, number>;
  liked: boolean;
  like_seq: number;
}

/**
 * A contribution as stored: without its `episode` key, which its feed and guid make (and its
 * document id holds): a copy of both in every document, and in the people indexes. Nor its
 * like fields while it likes nothing (most contributions are plays): {@link contributionOf}
 * puts them back, and the like people index matches `liked: true` only.
 */
function contributionDoc(contribution: EpisodeContribution): Doc {
  const { episode: _episode, ...stored } = contribution;
  if (!stored.liked && stored.like_seq === 0 && Object.keys(stored.saved_in).length === 0) {
    const { liked: _liked, like_seq: _likeSeq, saved_in: _savedIn, ...played } = stored;
    return asDoc(played);
  }
  return asDoc(stored);
}

/** A stored contribution with its `episode` key and its like fields. */
function contributionOf(doc: Doc): EpisodeContribution {
  // The keys first: keys added after a spread take V8's slow path (bench/RESULTS.md, "Object copies in the projections").
  return fromJson<EpisodeContribution>({ episode: episodeKey(String(doc['feed']), String(doc['guid'])), saved_in: {}, liked: false, like_seq: 0, ...doc });
}

/** One user's relation to one podcast: how many of its episodes they played / like. */
interface PodcastContribution {
  user: string;
  username: string | null;
  feed: string;
  level: Privacy;
  played_episodes: number;
  played: boolean;
  play_seq: number;
  liked_episodes: number;
  liked: boolean;
  like_seq: number;
}

type Kind = 'play' | 'like';
const counted = (c: { level: Privacy } | undefined) => c !== undefined && c.level !== 'private';
const has = (c: EpisodeContribution | PodcastContribution | undefined, kind: Kind) => c !== undefined && (kind === 'play' ? c.played : c.liked);
const seqOf = (c: EpisodeContribution | PodcastContribution, kind: Kind) => (kind === 'play' ? c.play_seq : c.like_seq);
const asDoc = toJsonObject;

interface PopularityDoc {
  plays: number;
  likes: number;
  plays_people: string[];
  likes_people: string[];
  [field: string]: unknown;
}

function popularityDoc(view: ProjectionView, collection: string, id: string, init: () => Record<string, unknown>): PopularityDoc {
  const doc = fromJson<PopularityDoc | undefined>(view.get(collection, id));
  // Object.assign: keys added to a spread copy take V8's slow path (bench/RESULTS.md, "Object copies in the projections").
  return doc ? { ...doc } : Object.assign(init(), { plays: 0, likes: 0, plays_people: [], likes_people: [] });
}

const COUNT_FIELD = { play: 'plays', like: 'likes' } as const;
const PEOPLE_FIELD = { play: 'plays_people', like: 'likes_people' } as const;

/** Moves a count by the change in whether one episode contribution counts. */
function adjustCount(doc: PopularityDoc, kind: Kind, before: EpisodeContribution | undefined, after: EpisodeContribution | undefined): void {
  const wasCounted = counted(before) && has(before, kind);
  const isCounted = counted(after) && has(after, kind);
  doc[COUNT_FIELD[kind]] += Number(isCounted) - Number(wasCounted);
}

/**
 * Updates a people list for one contribution's change: a new play/save takes the user to the
 * front (it is the most recent by construction); any other change in who is listed re-ranks
 * the list from the contributions themselves.
 */
function adjustPeople<C extends EpisodeContribution | PodcastContribution>(
  doc: PopularityDoc,
  kind: Kind,
  before: C | undefined,
  after: C | undefined,
  rerank: () => string[],
  fresh: boolean,
): void {
  const field = PEOPLE_FIELD[kind];
  const wasListed = before?.level === 'public' && has(before, kind);
  const isListed = after?.level === 'public' && has(after, kind);
  const name = after?.username ?? null;
  if (isListed && fresh && name !== null && (!wasListed || seqOf(after!, kind) !== seqOf(before!, kind))) {
    doc[field] = [name, ...doc[field].filter((person) => person !== name)].slice(0, PEOPLE_LIMIT);
  } else if (wasListed !== isListed) {
    doc[field] = rerank();
  }
}

/** The index {@link rankPeople} reads: public contributions with the flag set, by recency. */
function peopleIndex(key: readonly string[], kind: Kind): IndexSpec {
  return kind === 'play'
    ? { fields: [...key, 'play_seq'], where: { level: 'public', played: true }, sort: 'desc' }
    : { fields: [...key, 'like_seq'], where: { level: 'public', liked: true }, sort: 'desc' };
}

/** Who is ranked for an episode: its contributions' feed and guid. */
const ofEpisode = (contribution: { feed: string; guid: string }) => ({ feed: contribution.feed, guid: contribution.guid });

function rankPeople(view: ProjectionView, collection: string, where: Record<string, string | boolean>, kind: Kind): string[] {
  const seqField = kind === 'play' ? 'play_seq' : 'like_seq';
  const flag = kind === 'play' ? 'played' : 'liked';
  return view
    .find(collection, { where: { ...where, level: 'public', [flag]: true }, orderBy: [{ field: seqField, direction: 'desc' }], limit: PEOPLE_LIMIT })
    .map(({ doc }) => doc['username'])
    .filter((name): name is string => typeof name === 'string');
}

function podcastContributionFor(view: ProjectionView, user: string, feed: string, template: EpisodeContribution): PodcastContribution {
  const doc = fromJson<PodcastContribution | undefined>(view.get(PODCAST_CONTRIBUTIONS, userDocId(user, feed)));
  return doc
    ? { ...doc }
    : {
        user,
        username: template.username,
        feed,
        level: template.level,
        played_episodes: 0,
        played: false,
        play_seq: 0,
        liked_episodes: 0,
        liked: false,
        like_seq: 0,
      };
}

/**
 * How a contribution's change came about: `fresh` for a play or save just projected (its user
 * goes to the front of the people lists, its recency to the podcast contribution); `restored`
 * for one rebuilt from the user's history when their privacy starts counting a feed (its
 * recency goes to the podcast contribution, the people lists are re-ranked); `reevaluated`
 * otherwise (a privacy level, a truncation, an erasure: the lists are re-ranked).
 */
type Cause = 'fresh' | 'restored' | 'reevaluated';

/**
 * The heart of the projection: one episode contribution goes from `before` to `after`
 * (either may be absent); the podcast contribution, both popularity documents and the
 * contributions themselves are updated through `staged`.
 */
function transition(
  staged: StagedView,
  before: EpisodeContribution | undefined,
  after: EpisodeContribution | undefined,
  cause: Cause,
  titles: Titles,
  erased = false,
): void {
  const fresh = cause === 'fresh';
  const recent = cause !== 'reevaluated';
  const ref = (after ?? before)!;
  const { user, feed, episode, guid } = ref;
  staged.apply([after ? put(EPISODE_CONTRIBUTIONS, userDocId(user, episode), contributionDoc(after)) : del(EPISODE_CONTRIBUTIONS, userDocId(user, episode))]);

  const podcastBefore = podcastContributionFor(staged, user, feed, ref);
  const podcastAfter: PodcastContribution = { ...podcastBefore, username: ref.username, level: after?.level ?? podcastBefore.level };
  for (const kind of ['play', 'like'] as const) {
    const delta = Number(has(after, kind)) - Number(has(before, kind));
    if (kind === 'play') {
      podcastAfter.played_episodes += delta;
      podcastAfter.played = podcastAfter.played_episodes > 0;
      if (after && has(after, kind) && recent) podcastAfter.play_seq = Math.max(podcastAfter.play_seq, after.play_seq);
    } else {
      podcastAfter.liked_episodes += delta;
      podcastAfter.liked = podcastAfter.liked_episodes > 0;
      if (after && has(after, kind) && recent) podcastAfter.like_seq = Math.max(podcastAfter.like_seq, after.like_seq);
    }
  }
  // No play (like) left, no recency either: a rebuild that never saw them holds 0.
  if (!podcastAfter.played) podcastAfter.play_seq = 0;
  if (!podcastAfter.liked) podcastAfter.like_seq = 0;
  const podcastGone = podcastAfter.played_episodes === 0 && podcastAfter.liked_episodes === 0;
  const podcastId = userDocId(user, feed);
  staged.apply([podcastGone ? del(PODCAST_CONTRIBUTIONS, podcastId) : put(PODCAST_CONTRIBUTIONS, podcastId, asDoc(podcastAfter))]);

  const episodeDoc = popularityDoc(staged, EPISODE_POPULARITY, episode, () => ({
    rss_source_feed: feed,
    rss_source_item: guid,
    title: null,
    feed_title: null,
    cover: null,
  }));
  const podcastDoc = popularityDoc(staged, PODCAST_POPULARITY, feed, () => ({
    rss_source_feed: feed,
    title: null,
    author: null,
    description: null,
    cover: null,
  }));
  const podcastWas = podcastBefore.played_episodes + podcastBefore.liked_episodes > 0 ? podcastBefore : undefined;
  for (const kind of ['play', 'like'] as const) {
    // A podcast counts the plays of its episodes, and lists people by their podcast-level contribution.
    adjustCount(episodeDoc, kind, before, after);
    adjustCount(podcastDoc, kind, before, after);
    adjustPeople(episodeDoc, kind, before, after, () => rankPeople(staged, EPISODE_CONTRIBUTIONS, ofEpisode(ref), kind), fresh);
    adjustPeople(podcastDoc, kind, podcastWas, podcastGone ? undefined : podcastAfter, () => rankPeople(staged, PODCAST_CONTRIBUTIONS, { feed }, kind), fresh);
  }
  // Titles and covers are free text and URLs a client chose: only a public user's are shown
  // (anonymous means no trace, and an anonymous user's title could be anything).
  if (after?.level === 'public') applyTitles(episodeDoc, podcastDoc, titles);
  // An erased public contribution may have supplied the titles and cover shown: they go with it
  // (a later public play supplies them again). Which user supplied them is not kept, so they
  // go whoever did; the roll_stats that follows an erasure carries the nulls into the store.
  if (erased && before?.level === 'public') forgetTitles(episodeDoc, podcastDoc);
  writePopularity(staged, EPISODE_POPULARITY, episode, episodeDoc);
  writePopularity(staged, PODCAST_POPULARITY, feed, podcastDoc);
}

/**
 * A popularity document with nothing counted is removed, so a rebuild cannot differ by empty
 * documents. Nothing is written when nothing changed: most plays (a private user's, a play
 * again by someone already counted and listed first) leave both documents as they were.
 */
function writePopularity(staged: StagedView, collection: string, id: string, doc: PopularityDoc): void {
  const current = staged.get(collection, id);
  if (doc.plays === 0 && doc.likes === 0) {
    if (current !== undefined) staged.apply([del(collection, id)]);
  } else if (current === undefined || !jsonEqual(current, doc)) {
    staged.apply([put(collection, id, asDoc(doc))]);
  }
}

interface Titles {
  feedTitle?: string | undefined;
  itemTitle?: string | undefined;
  cover?: { src?: string | undefined; srcset?: string | undefined } | undefined;
}

function applyTitles(episodeDoc: PopularityDoc, podcastDoc: PopularityDoc, titles: Titles): void {
  if (titles.itemTitle !== undefined) episodeDoc['title'] = titles.itemTitle;
  if (titles.feedTitle !== undefined) {
    episodeDoc['feed_title'] = titles.feedTitle;
    podcastDoc['title'] = titles.feedTitle;
  }
  if (titles.cover !== undefined) episodeDoc['cover'] = titles.cover;
}

function forgetTitles(episodeDoc: PopularityDoc, podcastDoc: PopularityDoc): void {
  episodeDoc['title'] = null;
  episodeDoc['feed_title'] = null;
  episodeDoc['cover'] = null;
  podcastDoc['title'] = null;
}

function titlesOf(event: UserEvent): Titles {
  if (event.type === 'play') return { feedTitle: event.data.rss_feed_title, itemTitle: event.data.rss_item_title, cover: event.data.enclosure?.cover };
  if (event.type === 'save') return { feedTitle: event.data.feed_title, itemTitle: event.data.item_title };
  return {};
}

/** A play or a save: what counts in popularity. */
type Activity = EventAbout & { event: Extract<UserEvent, { type: 'play' | 'save' }> };
const isActivity = (projected: ProjectedEvent): projected is Activity => projected.event.type === 'play' || projected.event.type === 'save';

/** A user's contribution to an episode before any play or save. */
function noContribution(projected: ProjectedEvent, feed: string, guid: string, level: Privacy): EpisodeContribution {
  return {
    user: projected.user,
    username: projected.username,
    feed,
    guid,
    episode: episodeKey(feed, guid),
    level,
    played: false,
    play_seq: 0,
    play_rev: -1,
    saved_in: {},
    liked: false,
    like_seq: 0,
  };
}

/** A play or a save applied to a contribution (in place): live, and when rebuilt from history. */
function applyActivity(contribution: EpisodeContribution, { event, seq, revision, username }: Activity): void {
  if (username !== null) contribution.username = username;
  if (event.type === 'play') {
    contribution.played = true;
    contribution.play_seq = seq;
    contribution.play_rev = revision;
    return;
  }
  const playlist = event.data.playlist ?? DEFAULT_PLAYLIST;
  if (event.data.removed) delete contribution.saved_in[playlist];
  else contribution.saved_in = sortedKeys({ ...contribution.saved_in, [playlist]: revision });
  contribution.liked = Object.keys(contribution.saved_in).length > 0;
  // No like, no recency: what a rebuild that never saw the earlier saves would hold.
  contribution.like_seq = event.data.removed ? (contribution.liked ? contribution.like_seq : 0) : seq;
}

/**
 * A play or a save. Only counted levels keep a contribution: a private user's plays count
 * nowhere, and if their privacy changes the contributions are rebuilt from their history
 * ({@link restoreFromHistory}), so nothing of them is copied here meanwhile.
 */
function onActivity(projected: Activity, view: ProjectionView, context: ProjectionContext): DocChange[] {
  const { rss_source_feed: feed, rss_source_id: guid } = projected.event.object;
  const level = effectivePrivacy(privacyOf(view, PRIVACY_COPY, projected.user, [feed]), feed, context.defaultPrivacy);
  const stored = view.get(EPISODE_CONTRIBUTIONS, userDocId(projected.user, episodeKey(feed, guid)));
  const before = stored === undefined ? undefined : contributionOf(stored);
  if (before === undefined && level === 'private') return [];
  const after = before ? { ...before, saved_in: { ...before.saved_in }, level } : noContribution(projected, feed, guid, level);
  applyActivity(after, projected);
  const next = after.played || after.liked ? after : undefined;
  // Un-saving an episode the user never saved nor played: nothing counted, nothing to undo
  // (transition() needs a contribution on at least one side).
  if (before === undefined && next === undefined) return [];
  const staged = new StagedView(view);
  transition(staged, before, next, 'fresh', titlesOf(projected.event));
  return staged.changes();
}

/**
 * The contributions to the feeds a privacy change starts counting (from private), rebuilt
 * from the user's retained plays and saves of them, as live projection would have kept them.
 */
function restoreFromHistory(staged: StagedView, projected: ProjectedEvent, counting: (feed: string) => Privacy | undefined): void {
  const restored = new Map<string, EpisodeContribution>();
  for (const activity of retainedHistory(staged, projected, isActivity)) {
    const { rss_source_feed: feed, rss_source_id: guid } = activity.event.object;
    const level = counting(feed);
    if (level === undefined) continue;
    const episode = episodeKey(feed, guid);
    let contribution = restored.get(episode);
    if (!contribution) restored.set(episode, (contribution = noContribution(activity, feed, guid, level)));
    applyActivity(contribution, activity);
  }
  for (const contribution of restored.values()) {
    if (contribution.played || contribution.liked) transition(staged, undefined, contribution, 'restored', {});
  }
}

/** The user's episode contributions (of one feed): a range of their ids, `user|["feed",…` (no index of their own). */
function contributionsOf(view: ProjectionView, user: string, feed?: string): EpisodeContribution[] {
  const idPrefix = userDocId(user, feed === undefined ? '' : episodeKeyPrefixOf(feed));
  return view.find(EPISODE_CONTRIBUTIONS, { idPrefix }).map(({ doc }) => contributionOf(doc));
}

/** What retention's truncation leaves of a contribution: only what retained events support. */
function truncated(contribution: EpisodeContribution, truncateBefore: number | null): EpisodeContribution {
  if (truncateBefore === null) return contribution;
  const next = { ...contribution, saved_in: Object.fromEntries(Object.entries(contribution.saved_in).filter(([, rev]) => rev >= truncateBefore)) };
  if (next.play_rev < truncateBefore) Object.assign(next, { played: false, play_seq: 0, play_rev: -1 });
  next.liked = Object.keys(next.saved_in).length > 0;
  if (!next.liked) next.like_seq = 0;
  return next;
}

/**
 * Re-evaluates every contribution of the user after a privacy change and/or a truncation
 * (checkpoint), or an erasure (`remove`: its scope goes first, then per-feed overrides of the
 * erased feeds are dropped). The same `transition` as live plays keeps counts and lists exact.
 */
function reevaluate(
  projected: ProjectedEvent,
  view: ProjectionView,
  context: ProjectionContext,
  options: { truncateBefore: number | null; erase?: EventObject | null },
): DocChange[] {
  const staged = new StagedView(view);
  if (options.erase !== undefined) {
    const scope = options.erase;
    for (const before of contributionsOf(staged, projected.user, scope?.rss_source_feed)) {
      if (scopeCovers(scope, before.feed, before.guid)) transition(staged, before, undefined, 'reevaluated', {}, true);
    }
  }
  const change = privacyChange(staged, PRIVACY_COPY, projected);
  if (change) staged.apply(privacyChanges(PRIVACY_COPY, projected, change));
  if (!change && options.truncateBefore === null) return staged.changes();
  // A truncation re-evaluates every contribution, with every choice; a change of some feeds'
  // choices, the contributions to those feeds (the change read only theirs: privacyChange).
  const feeds = options.truncateBefore === null && change !== undefined ? change.feeds : 'all';
  const privacy = change?.after ?? privacyOf(staged, PRIVACY_COPY, projected.user, 'all');
  const reevaluated = feeds === 'all' ? contributionsOf(staged, projected.user) : feeds.flatMap((feed) => contributionsOf(staged, projected.user, feed));
  for (const before of reevaluated) {
    const after = { ...truncated(before, options.truncateBefore), level: effectivePrivacy(privacy, before.feed, context.defaultPrivacy) };
    if (jsonEqual(before, after)) continue;
    const counts = after.level !== 'private' && (after.played || after.liked);
    transition(staged, before, counts ? after : undefined, 'reevaluated', {});
  }
  if (change) {
    const levelOf = (state: PrivacyState, feed: string) => effectivePrivacy(state, feed, context.defaultPrivacy);
    restoreFromHistory(staged, projected, (feed) => {
      const after = levelOf(change.after, feed);
      return levelOf(change.before, feed) === 'private' && after !== 'private' ? after : undefined;
    });
  }
  return staged.changes();
}

function onAccountDeleted(projected: ProjectedEvent, view: ProjectionView): DocChange[] {
  const staged = new StagedView(view);
  for (const before of contributionsOf(staged, projected.user)) transition(staged, before, undefined, 'reevaluated', {}, true);
  staged.apply(privacyDeleted(staged, PRIVACY_COPY, projected.user));
  return staged.changes();
}

/**
 * A feed's episode popularity documents: a range of their ids, since an episode's key begins
 * with its feed ({@link episodeKeyPrefixOf}). No index on the feed: each would be written with
 * every count that changes, and a feed has few episodes to sort.
 */
export const episodesOfFeed = (feed: string): Query => ({ idPrefix: episodeKeyPrefixOf(feed) });

/**
 * `roll_stats` (docs/design.md, "Retention"): recompute one podcast's and its episodes' popularity from the
 * contributions (the same counting and ranking as live events) and take the descriptive
 * fields the event carries, so a rebuild after retention ends with the same documents.
 */
function onRollStats(event: RollStatsEvent, view: ProjectionView): DocChange[] {
  const { feed } = event.data;
  const changes: DocChange[] = [];
  const contributions = view.find(EPISODE_CONTRIBUTIONS, { where: { feed } }).map(({ doc }) => contributionOf(doc));
  const byEpisode = new Map<string, EpisodeContribution[]>();
  for (const contribution of contributions) byEpisode.set(contribution.episode, [...(byEpisode.get(contribution.episode) ?? []), contribution]);
  const countOf = (list: readonly EpisodeContribution[], kind: Kind) => list.filter((c) => counted(c) && has(c, kind)).length;
  let plays = 0;
  let likes = 0;
  for (const { id } of view.find(EPISODE_POPULARITY, episodesOfFeed(feed))) if (!byEpisode.has(id)) changes.push(del(EPISODE_POPULARITY, id));
  for (const [episode, list] of byEpisode) {
    const guid = list[0]!.guid;
    const doc = {
      rss_source_feed: feed,
      rss_source_item: guid,
      ...descriptiveOf(event.data.episodes[guid]),
      plays: countOf(list, 'play'),
      likes: countOf(list, 'like'),
      plays_people: rankPeople(view, EPISODE_CONTRIBUTIONS, ofEpisode(list[0]!), 'play'),
      likes_people: rankPeople(view, EPISODE_CONTRIBUTIONS, ofEpisode(list[0]!), 'like'),
    };
    plays += doc.plays;
    likes += doc.likes;
    changes.push(doc.plays === 0 && doc.likes === 0 ? del(EPISODE_POPULARITY, episode) : put(EPISODE_POPULARITY, episode, asDoc(doc)));
  }
  const podcast = {
    rss_source_feed: feed,
    ...descriptiveOf(event.data.podcast),
    plays,
    likes,
    plays_people: rankPeople(view, PODCAST_CONTRIBUTIONS, { feed }, 'play'),
    likes_people: rankPeople(view, PODCAST_CONTRIBUTIONS, { feed }, 'like'),
  };
  changes.push(plays === 0 && likes === 0 ? del(PODCAST_POPULARITY, feed) : put(PODCAST_POPULARITY, feed, asDoc(podcast)));
  return changes;
}

function descriptiveOf(fields: Descriptive | undefined): Record<string, unknown> {
  return {
    title: fields?.title ?? null,
    feed_title: fields?.feed_title ?? null,
    author: fields?.author ?? null,
    description: fields?.description ?? null,
    cover: fields?.cover ?? null,
  };
}

export const popularityProjection: Projection = {
  name: 'popularity',
  // 2: no contributions of private users (rebuilt from their history when they start counting).
  // 3: episode contributions without their `episode` key (their feed and guid make it).
  // 4: the privacy copy a document per feed's choice (projections/privacy.ts).
  version: 4,
  collections: [
    // Most played first (GET /v1/public/popular/*): plays, then likes, descending.
    // A feed's episodes, most played first, are a range of ids sorted (episodesOfFeed).
    { name: EPISODE_POPULARITY, indexes: [{ fields: ['plays', 'likes'], sort: 'desc' }] },
    { name: PODCAST_POPULARITY, indexes: [{ fields: ['plays', 'likes'], sort: 'desc' }] },
    // The people lists are re-ranked from public contributions only: partial indexes hold just
    // those, so the private and anonymous majority (the default is private) costs them nothing.
    // A user's contributions are found by their ids ({@link contributionsOf}), not by an index.
    {
      name: EPISODE_CONTRIBUTIONS,
      indexes: [['feed'], peopleIndex(['feed', 'guid'], 'play'), peopleIndex(['feed', 'guid'], 'like')],
    },
    { name: PODCAST_CONTRIBUTIONS, indexes: [peopleIndex(['feed'], 'play'), peopleIndex(['feed'], 'like')] },
    privacyCollection(PRIVACY_COPY),
  ],
  evolve(projected, view, context) {
    const { event } = projected;
    switch (event.type) {
      case 'play':
      case 'save':
        return isActivity(projected) ? onActivity(projected, view, context) : [];
      case 'privacy':
        return reevaluate(projected, view, context, { truncateBefore: null });
      case 'checkpoint':
        return reevaluate(projected, view, context, { truncateBefore: event.data.truncate_before });
      case 'remove':
        return reevaluate(projected, view, context, { truncateBefore: null, erase: event.object });
      case 'account_deleted':
        return onAccountDeleted(projected, view);
      case 'roll_stats':
        return onRollStats(event, view);
      default:
        return [];
    }
  },
};
