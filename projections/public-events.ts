/**
 * `public_events` read model (docs/design.md, "Privacy"): the users' activity as the public may see it.
 * - public: the event with the user's username;
 * - anonymous: the event with no trace of identity (no user, no device, a document id that
 *   is the event's random UUID);
 * - private: absent.
 *
 * Privacy is retroactive: a change re-evaluates every retained event of the user (or of the
 * feed), as if the user had always had that setting. To do so without reading the event
 * store, the projection keeps an internal `public_event_sources` collection: each shareable
 * event with its owner, never served.
 */
import type { EventObject, Privacy, UserEvent } from '../src/domain/events.js';
import type { PrivacyState } from '../src/domain/state.js';
import { effectivePrivacy } from '../src/domain/state.js';
import { scopeCovers } from '../src/domain/erasure.js';
import type { Doc, DocChange } from '../src/domain/documents.js';
import type { ProjectedEvent, Projection, ProjectionContext, ProjectionView } from './projection.js';
import { del, put } from './projection.js';
import { privacyChange, privacyDoc, privacyOf } from './privacy.js';
import { StagedView } from './staged-view.js';
import { fromJson, toJsonObject } from '../src/domain/json.js';

export const PUBLIC_EVENTS = 'public_events';
export const PUBLIC_EVENT_SOURCES = 'public_event_sources';
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

/** The data fields some level may publish: all a source keeps (never an enclosure, a device or a recipient). */
const publishableData = (type: string, data: Doc): Doc => pick(data, new Set([...(PUBLIC_DATA[type]?.public ?? []), ...(PUBLIC_DATA[type]?.anonymous ?? [])]));

/**
 * A shareable event as its source keeps it (never served): its id, feed and episode are the
 * source's own fields, so the body holds the rest, with only the data some level may publish.
 * A type alias, not an interface: its implicit index signature makes it a Doc as it is.
 */
type PublicBody = {
  type: string;
  timestamp: string;
  data: Doc;
};

interface Source {
  event_id: string;
  user: string;
  username: string | null;
  feed: string;
  /** The episode (`rss_source_id`), null for a feed-level event. */
  guid: string | null;
  revision: number;
  body: PublicBody;
}

/** Orders public events by time, ties by id, as one string: the `before=` cursor. */
export const cursorOf = (body: { timestamp: string; id: string }) => `${body.timestamp}|${body.id}`;

function publicDoc(source: Source, level: Privacy): Doc | undefined {
  if (level === 'private') return undefined;
  const { body, event_id: id, feed, guid } = source;
  return {
    id,
    type: body.type,
    timestamp: body.timestamp,
    object: guid === null ? { rss_source_feed: feed } : { rss_source_feed: feed, rss_source_id: guid },
    data: publicData(body.type, body.data, level),
    user: level === 'public' ? source.username : null,
    feed,
    cursor: cursorOf({ timestamp: body.timestamp, id }),
  };
}

function levelOf(privacy: PrivacyState, feed: string, context: ProjectionContext): Privacy {
  return effectivePrivacy(privacy, feed, context.defaultPrivacy);
}

/** Re-publishes a source under a level, as a put or a delete of its public document. */
function publish(stored: Doc, level: Privacy): DocChange {
  const source = fromJson<Source>(stored);
  const doc = publicDoc(source, level);
  return doc ? put(PUBLIC_EVENTS, source.event_id, doc) : del(PUBLIC_EVENTS, source.event_id);
}

function sourcesOf(view: ProjectionView, user: string, feed?: string) {
  return view.find(PUBLIC_EVENT_SOURCES, { where: feed === undefined ? { user } : { user, feed } });
}

function onShareable(projected: ProjectedEvent, event: UserEvent, view: ProjectionView, context: ProjectionContext): DocChange[] {
  const object = event.object as EventObject;
  const source: Source = {
    event_id: event.id,
    user: projected.user,
    username: projected.username,
    feed: object.rss_source_feed,
    guid: object.rss_source_id ?? null,
    revision: projected.revision,
    body: { type: event.type, timestamp: event.timestamp, data: publishableData(event.type, event.data as Doc) },
  };
  const level = levelOf(privacyOf(view, PRIVACY_COPY, projected.user), source.feed, context);
  const stored = toJsonObject(source);
  // A new event has no public document yet: a private one needs no delete (most events, with
  // private as the default, and a rebuild would otherwise look each of them up for nothing).
  if (level === 'private') return [put(PUBLIC_EVENT_SOURCES, event.id, stored)];
  return [put(PUBLIC_EVENT_SOURCES, event.id, stored), publish(stored, level)];
}

function onPrivacy(projected: ProjectedEvent, view: ProjectionView, context: ProjectionContext): DocChange[] {
  const change = privacyChange(view, PRIVACY_COPY, projected);
  if (!change) return [];
  const changes: DocChange[] = [put(PRIVACY_COPY, projected.user, privacyDoc(projected, change.after))];
  for (const { doc } of sourcesOf(view, projected.user)) {
    const feed = String(doc['feed']);
    const before = levelOf(change.before, feed, context);
    const after = levelOf(change.after, feed, context);
    if (before !== after) changes.push(publish(doc, after));
  }
  return changes;
}

function onRemove(projected: ProjectedEvent, scope: EventObject | null, view: ProjectionView): DocChange[] {
  return sourcesOf(view, projected.user, scope?.rss_source_feed)
    .filter(({ doc }) => scopeCovers(scope, String(doc['feed']), (doc['guid'] ?? undefined) as string | undefined))
    .flatMap(({ id }) => [del(PUBLIC_EVENT_SOURCES, id), del(PUBLIC_EVENTS, id)]);
}

/** Retention removes the events before `truncateBefore`: so do their public traces. */
function onTruncation(projected: ProjectedEvent, truncateBefore: number | null, view: ProjectionView): DocChange[] {
  if (truncateBefore === null) return [];
  return sourcesOf(view, projected.user)
    .filter(({ doc }) => Number(doc['revision']) < truncateBefore)
    .flatMap(({ id }) => [del(PUBLIC_EVENT_SOURCES, id), del(PUBLIC_EVENTS, id)]);
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
      staged.apply([...onRemove(projected, null, staged), del(PRIVACY_COPY, projected.user)]);
      break;
  }
  return staged.changes();
}

export const publicEventsProjection: Projection = {
  name: 'public_events',
  // 2: sources keep only what some level may publish, without copies of their own fields.
  version: 2,
  collections: [
    // Newest first (GET /v1/public/events): sorted by cursor descending.
    {
      name: PUBLIC_EVENTS,
      indexes: [
        { fields: ['cursor'], sort: 'desc' },
        { fields: ['feed', 'cursor'], sort: 'desc' },
        { fields: ['user', 'cursor'], sort: 'desc' },
      ],
    },
    { name: PUBLIC_EVENT_SOURCES, indexes: [['user', 'feed']] },
    { name: PRIVACY_COPY, indexes: [] },
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
        return SHAREABLE.has(event.type) ? onShareable(projected, event, view, context) : [];
    }
  },
};
