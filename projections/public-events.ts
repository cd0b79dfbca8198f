/**
 * `public_events` read model (docs/design.md, "Privacy"): the users' activity as the public may see it.
 * - public: the event with the user's username;
 * - anonymous: the event with no trace of identity (no user, no device, a document id that
 *   is the event's random UUID);
 * - private: absent.
 *
 * Privacy is retroactive: a change re-evaluates every retained event of the user (or of the
 * feed), as if the user had always had that setting, read from the user's stream
 * (ProjectionView.history). An internal `public_event_owners` collection, never served, names
 * the owner of each published event, for the erasures and truncations that delete them (an
 * anonymous public document holds no trace of its user).
 */
import type { EventObject, Privacy } from '../src/domain/events.js';
import type { PrivacyState } from '../src/domain/state.js';
import { effectivePrivacy } from '../src/domain/state.js';
import { scopeCovers } from '../src/domain/erasure.js';
import type { Doc, DocChange, Query } from '../src/domain/documents.js';
import type { ProjectedEvent, Projection, ProjectionContext, ProjectionView } from './projection.js';
import { del, put } from './projection.js';
import { privacyChange, privacyChanges, privacyCollection, privacyDeleted, privacyOf } from './privacy.js';
import { StagedView } from './staged-view.js';
import { retainedHistory, type EventAbout } from './retained-history.js';
import { fromJson, toJsonObject } from '../src/domain/json.js';

export const PUBLIC_EVENTS = 'public_events';
/** The field of a public document that names its feed. */
export const PUBLIC_FEED = 'object.rss_source_feed';
/** The order public events are listed in, newest first (ties by id ascending, the port's rule). */
export const PUBLIC_ORDER: Query['orderBy'] = [{ field: 'timestamp', direction: 'desc' }];
export const PUBLIC_EVENT_OWNERS = 'public_event_owners';
const PRIVACY_COPY = 'public_events_privacy';

const SHAREABLE = new Set(['subscribe', 'unsubscribe', 'play', 'save', 'share']);

/**
 * The data fields the public sees, per event type and level: the one place that decides (the
 * shapes are documented in docs/security.md). Anything else a client sends — devices, share
 * recipients, playlist names, enclosure URLs (which can carry a secret token) — is never
 * published. An anonymous event carries no free text at all (titles, messages): a client may
 * put anything in those, an e-mail address or a name, and anonymous means no trace of identity.
 */
const PUBLIC_DATA: Readonly<Record<string, { readonly public: readonly string[]; readonly anonymous: readonly string[] }>> = {
  subscribe: { public: ['rss_feed_title'], anonymous: [] },
  unsubscribe: { public: [], anonymous: [] },
  play: { public: ['played', 'position', 'started', 'total', 'rss_feed_title', 'rss_item_title'], anonymous: ['played', 'position', 'started', 'total'] },
  save: { public: ['removed', 'item_title', 'feed_title'], anonymous: ['removed'] },
  share: { public: ['message'], anonymous: [] },
};

/** The fields of `data` named, those it has. */
function pick(data: Doc, fields: Iterable<string>): Doc {
  return Object.fromEntries([...fields].filter((field) => data[field] !== undefined).map((field) => [field, data[field]!])) as Doc;
}

const publicData = (type: string, data: Doc, level: 'public' | 'anonymous'): Doc => pick(data, PUBLIC_DATA[type]?.[level] ?? []);

/**
 * Which user a published event belongs to, and its stream revision (what a truncation deletes
 * by): kept apart from the public document, which holds no trace of an anonymous user. Its
 * feed and episode, which an erasure's scope is matched against, are the public document's.
 */
interface Owner {
  user: string;
  revision: number;
}

/**
 * A page's `next_before`: the time and id of its last event. Public events are listed newest
 * first, ties by id ascending (the read-model port's keyset order, {@link Query.after}), so the
 * two name the place where the next page starts without a stored cursor field.
 */
export const cursorOf = (body: { timestamp: string; id: string }) => `${body.timestamp}|${body.id}`;

/** A `before=` value: a {@link cursorOf} cursor, or a time alone (`<time>|` after HTTP validation). */
export function parseCursor(cursor: string): { timestamp: string; id: string | undefined } {
  const bar = cursor.indexOf('|');
  if (bar < 0) return { timestamp: cursor, id: undefined };
  const id = cursor.slice(bar + 1);
  return { timestamp: cursor.slice(0, bar), id: id === '' ? undefined : id };
}

/** A projected event of a type the public may see (all of them name a feed). */
type Shareable = EventAbout;
const isShareable = (projected: ProjectedEvent): projected is Shareable => SHAREABLE.has(projected.event.type);

function publicDoc(projected: Shareable, level: 'public' | 'anonymous'): Doc {
  const { event } = projected;
  const feed = event.object.rss_source_feed;
  // The event's id is the document's id, not repeated inside; nor is anything the queries
  // could read from these fields (a feed, a cursor): every copy is written per published event.
  return {
    type: event.type,
    timestamp: event.timestamp,
    object: event.object.rss_source_id === undefined ? { rss_source_feed: feed } : { rss_source_feed: feed, rss_source_id: event.object.rss_source_id },
    data: publicData(event.type, event.data as Doc, level),
    user: level === 'public' ? projected.username : null,
  };
}

function levelOf(privacy: PrivacyState, feed: string, context: ProjectionContext): Privacy {
  return effectivePrivacy(privacy, feed, context.defaultPrivacy);
}

/** A shareable event under a level: its public document and owner put, or both deleted. */
function publish(projected: Shareable, level: Privacy): DocChange[] {
  const { event } = projected;
  if (level === 'private') return [del(PUBLIC_EVENTS, event.id), del(PUBLIC_EVENT_OWNERS, event.id)];
  const owner: Owner = { user: projected.user, revision: projected.revision };
  return [put(PUBLIC_EVENTS, event.id, publicDoc(projected, level)), put(PUBLIC_EVENT_OWNERS, event.id, toJsonObject(owner))];
}

/** The user's published events (one index, by user and revision: erasures are rare, and filter these). */
function ownersOf(view: ProjectionView, user: string) {
  return view.find(PUBLIC_EVENT_OWNERS, { where: { user } }).map(({ id, doc }) => ({ id, owner: fromJson<Owner>(doc) }));
}

const unpublish = (id: string): DocChange[] => [del(PUBLIC_EVENT_OWNERS, id), del(PUBLIC_EVENTS, id)];

function onShareable(projected: Shareable, view: ProjectionView, context: ProjectionContext): DocChange[] {
  const feed = projected.event.object.rss_source_feed;
  const level = levelOf(privacyOf(view, PRIVACY_COPY, projected.user, [feed]), feed, context);
  // A new event has no public document yet: a private one needs no delete (most events, with
  // private as the default, and a rebuild would otherwise look each of them up for nothing).
  // The copy of an event an EventStoreDB erasure rewrote replaces its original's (same id).
  return level === 'private' ? [] : publish(projected, level);
}

function onPrivacy(projected: ProjectedEvent, view: ProjectionView, context: ProjectionContext): DocChange[] {
  const change = privacyChange(view, PRIVACY_COPY, projected);
  if (!change) return [];
  // Of the user's choices, those the event may change, or all of them (privacyChange): a level
  // compared below is the same before and after for every feed not read.
  const changes: DocChange[] = privacyChanges(PRIVACY_COPY, projected, change);
  for (const shareable of retainedHistory(view, projected, isShareable)) {
    const feed = shareable.event.object.rss_source_feed;
    const before = levelOf(change.before, feed, context);
    const after = levelOf(change.after, feed, context);
    if (before !== after) changes.push(...publish(shareable, after));
  }
  return changes;
}

function onRemove(projected: ProjectedEvent, scope: EventObject | null, view: ProjectionView): DocChange[] {
  const covered = ({ id }: { id: string }) => {
    if (scope === null) return true;
    // Erasures are rare: the scope is matched against each published event's own document.
    const object = view.get(PUBLIC_EVENTS, id)?.['object'] as EventObject | undefined;
    // A public document gone without its owner (never, but harmless) goes with it.
    return object === undefined || scopeCovers(scope, object.rss_source_feed, object.rss_source_id);
  };
  return ownersOf(view, projected.user)
    .filter(covered)
    .flatMap(({ id }) => unpublish(id));
}

/** Retention removes the events before `truncateBefore`: so do their public traces. */
function onTruncation(projected: ProjectedEvent, truncateBefore: number | null, view: ProjectionView): DocChange[] {
  if (truncateBefore === null) return [];
  return ownersOf(view, projected.user)
    .filter(({ owner }) => owner.revision < truncateBefore)
    .flatMap(({ id }) => unpublish(id));
}

/** Events that re-evaluate several of the user's public events, in steps that see each other's changes. */
function onAccountChange(
  projected: ProjectedEvent,
  event: Extract<ProjectedEvent['event'], { type: 'privacy' | 'checkpoint' | 'remove' | 'account_deleted' }>,
  view: ProjectionView,
  context: ProjectionContext,
): DocChange[] {
  const staged = new StagedView(view);
  switch (event.type) {
    case 'privacy':
      staged.apply(onPrivacy(projected, staged, context));
      break;
    case 'checkpoint':
      staged.apply(onTruncation(projected, event.data.truncate_before, staged));
      staged.apply(onPrivacy(projected, staged, context));
      break;
    case 'remove':
      staged.apply(onRemove(projected, event.object, staged));
      staged.apply(onPrivacy(projected, staged, context));
      break;
    case 'account_deleted':
      staged.apply([...onRemove(projected, null, staged), ...privacyDeleted(staged, PRIVACY_COPY, projected.user)]);
      break;
  }
  return staged.changes();
}

export const publicEventsProjection: Projection = {
  name: 'public_events',
  // 3: no copy of every shareable event (`public_event_sources`): a privacy change reads the
  // user's history; only published events have an owner.
  // 4: no `id`, `feed` or `cursor` inside the public document (its id, its object's feed, and
  // its time with its id), and indexes on the time instead of the cursor.
  // 5: owners without the feed and episode (the public document has them).
  // 6: the privacy copy a document per feed's choice (projections/privacy.ts).
  version: 6,
  retiredCollections: ['public_event_sources'],
  collections: [
    // Newest first (GET /v1/public/events): sorted by time descending, ties by id (PUBLIC_ORDER).
    {
      name: PUBLIC_EVENTS,
      indexes: [
        { fields: ['timestamp'], sort: 'desc' },
        { fields: [PUBLIC_FEED, 'timestamp'], sort: 'desc' },
        { fields: ['user', 'timestamp'], sort: 'desc' },
      ],
    },
    // By user: the erasures, truncations and the privacy preview (newest first) ask for a user's.
    { name: PUBLIC_EVENT_OWNERS, indexes: [{ fields: ['user', 'revision'], sort: 'desc' }] },
    privacyCollection(PRIVACY_COPY),
  ],
  evolve(projected, view, context) {
    const { event } = projected;
    switch (event.type) {
      case 'privacy':
      case 'checkpoint':
      case 'remove':
      case 'account_deleted':
        return onAccountChange(projected, event, view, context);
      case 'roll_stats':
      case 'feed_fetched':
      case 'feed_fetch_failed':
        return [];
      default:
        // One step: no staging needed (and most events take this path).
        return isShareable(projected) ? onShareable(projected, view, context) : [];
    }
  },
};
