/**
 * `privacy_settings` read model: a user's account-wide and per-feed privacy choices.
 *
 * The public projections keep their own copy of these choices (through {@link privacyChange}
 * on their own collection), because a projection may only read what it owns. Each keeps them
 * as this one does: the account's choice in a document by the user's id (with how many feeds
 * have one of their own), each feed's in one of its own (`<user>|<feed>`), so that a choice
 * reads and writes its own documents whatever else the user chose. In one document per user,
 * each of 3,000 per-feed choices copied, compared and rewrote all of them: the projector took
 * 11 s a projection (bench/RESULTS.md, "Privacy choices a document each").
 */
import type { Privacy } from '../src/domain/events.js';
import type { PrivacyState } from '../src/domain/state.js';
import { emptyState, evolve } from '../src/domain/state.js';
import type { Doc, DocChange, StoredDoc } from '../src/domain/documents.js';
import type { ProjectedEvent, Projection, ProjectionView } from './projection.js';
import { del, put, userDocId, userDocKey } from './projection.js';
import { jsonEqual } from '../src/domain/json.js';
import { feedRecordsTouchedBy } from './user-records.js';

export const PRIVACY_SETTINGS = 'privacy_settings';

/** The collection of a user's privacy choices: found by user when all of them are read. */
export const privacyCollection = (name: string) => ({ name, indexes: [['user']] });

/**
 * The feeds whose choices an event may change, or 'all': those a reader of the change needs
 * every choice for (a change of the account's choice re-evaluates every feed without one of its
 * own; a checkpoint replaces them all; an erasure of everything drops them all).
 */
function feedsChangedBy(event: ProjectedEvent['event']): readonly string[] | 'all' | 'none' {
  if (event.type === 'privacy') return event.object === null ? 'all' : [event.object.rss_source_feed];
  return feedRecordsTouchedBy(event);
}

/** A user's choices as read: those of the feeds read, and how many feeds have one in all. */
interface Choices {
  readonly privacy: PrivacyState;
  readonly count: number;
}

/**
 * The user's choices that `docs` (of `user`'s privacy documents) hold. The account's document
 * counts the feeds with a choice of their own, so that most users (none) cost one read an event.
 */
function choicesOf(user: string, docs: readonly StoredDoc[], all: boolean): Choices {
  let account: Privacy | null = null;
  let count = 0;
  const feeds: [string, Privacy][] = [];
  for (const { id, doc } of docs) {
    if (id === user) {
      account = (doc['account'] ?? null) as Privacy | null;
      count = Number(doc['feeds'] ?? 0);
    } else feeds.push([userDocKey(user, id), doc['level'] as Privacy]);
  }
  // From entries: a feed is a URL, but a map is never built by assignment from keys.
  return { privacy: { account, feeds: Object.fromEntries(feeds) }, count: all ? feeds.length : count };
}

/** The account's document first: with no feed's choice counted there, no other is read. */
function readChoices(view: ProjectionView, collection: string, user: string, feeds: readonly string[] | 'all'): Choices {
  const account = view.get(collection, user);
  const docs: StoredDoc[] = account === undefined ? [] : [{ id: user, doc: account }];
  if (Number(account?.['feeds'] ?? 0) === 0) return choicesOf(user, docs, false);
  if (feeds === 'all') return choicesOf(user, view.find(collection, { where: { user } }), true);
  for (const id of feeds.map((feed) => userDocId(user, feed))) {
    const doc = view.get(collection, id);
    if (doc !== undefined) docs.push({ id, doc });
  }
  return choicesOf(user, docs, false);
}

/**
 * The user's privacy choices that decide the level of `feeds` (the account's, and those feeds'
 * own), or all of them: as a state whose `feeds` holds the feeds read that have a choice.
 */
export function privacyOf(view: ProjectionView, collection: string, user: string, feeds: readonly string[] | 'all'): PrivacyState {
  return readChoices(view, collection, user, feeds).privacy;
}

/** A change of the user's choices: before and after, of the feeds read (`feeds`: all, or these). */
export interface PrivacyChange {
  readonly before: PrivacyState;
  readonly after: PrivacyState;
  readonly feeds: readonly string[] | 'all';
  /** How many feeds had a choice of their own before, in all. */
  readonly count: number;
}

/**
 * The privacy before and after an event, or undefined if the event does not change it: of the
 * feeds it may change, all of them when it may change the level of any (so a level compared
 * before and after is the same for every feed not read).
 */
export function privacyChange(view: ProjectionView, collection: string, projected: ProjectedEvent): PrivacyChange | undefined {
  const { event } = projected;
  // Erasure drops per-feed choices of the erased feeds, so `remove` can change privacy too.
  if (event.type !== 'privacy' && event.type !== 'checkpoint' && event.type !== 'remove') return undefined;
  const feeds = feedsChangedBy(event);
  if (feeds === 'none') return undefined;
  const { privacy: before, count } = readChoices(view, collection, projected.user, feeds);
  const after = evolve({ ...emptyState(), privacy: before }, event).privacy;
  return jsonEqual(before, after) ? undefined : { before, after, feeds, count };
}

/**
 * The documents of a change: each feed's choice that changed (removed when gone), and the
 * account's document (its choice, and how many feeds have one) when either changed; none is
 * kept for a user with neither.
 */
export function privacyChanges(collection: string, projected: ProjectedEvent, { before, after, count }: PrivacyChange): DocChange[] {
  const { user } = projected;
  const changes: DocChange[] = [];
  let counted = count;
  for (const feed of Object.keys(before.feeds)) {
    if (Object.hasOwn(after.feeds, feed)) continue;
    changes.push(del(collection, userDocId(user, feed)));
    counted--;
  }
  for (const [feed, level] of Object.entries(after.feeds)) {
    const had = Object.hasOwn(before.feeds, feed);
    if (had && before.feeds[feed] === level) continue;
    changes.push(put(collection, userDocId(user, feed), { user, level } satisfies Doc));
    if (!had) counted++;
  }
  if (before.account !== after.account || counted !== count) {
    changes.push(after.account === null && counted === 0 ? del(collection, user) : put(collection, user, { user, account: after.account, feeds: counted }));
  }
  return changes;
}

/** Every privacy document of the user (an account deleted). */
export function privacyDeleted(view: ProjectionView, collection: string, user: string): DocChange[] {
  return view.find(collection, { where: { user } }).map(({ id }) => del(collection, id));
}

/** Documents are compared as JSON, so objects used as maps keep their keys sorted. */
export function sortedKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export const privacySettingsProjection: Projection = {
  name: 'privacy_settings',
  // 2: a document per feed's choice beside the account's, not one document per user.
  version: 2,
  collections: [privacyCollection(PRIVACY_SETTINGS)],
  evolve(projected, view) {
    if (projected.event.type === 'account_deleted') return privacyDeleted(view, PRIVACY_SETTINGS, projected.user);
    const change = privacyChange(view, PRIVACY_SETTINGS, projected);
    return change ? privacyChanges(PRIVACY_SETTINGS, projected, change) : [];
  },
};
