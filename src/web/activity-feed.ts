/**
 * Public activity as Atom feeds (RFC 4287), for feed readers: the public timeline
 * (`/explore/activity.atom`) and a public user's (`/explore/users/NAME/activity.atom`), the same
 * events as the Explore pages, read from {@link PublicViews} alone (docs/design.md, "Web pages").
 * An anonymous event names nobody, as on the pages: its entry's author is "someone".
 *
 * Written with fast-xml-parser's builder (already the feed parser's library), which escapes
 * text and attributes; characters XML 1.0 cannot hold at all (most control characters, lone
 * surrogates), which an app's title may carry, are dropped first.
 */
import { XMLBuilder } from 'fast-xml-parser';
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { PublicEvent, PublicViews } from '../services/public-views.js';
import { activity } from './format.js';
import { serverUrlOf } from '../http/origin.js';
import { validationError } from '../http/errors.js';
import { pageHeaders } from './security.js';
import { PAGE_PATHS } from './site.js';

/** Entries per feed: readers poll, and keep what they have seen. */
const FEED_ENTRIES = 50;
const ATOM = 'application/atom+xml; charset=utf-8';
const username = z.string().min(1).max(64);

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true, suppressEmptyNode: true });

const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const xmlText = (text: string) => text.replace(NOT_XML, '');

const textOf = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? xmlText(value.trim()) : undefined);

export interface ActivityFeed {
  readonly title: string;
  /** The feed's own address (its id and `rel="self"`). */
  readonly self: string;
  /** The page showing the same events. */
  readonly page: string;
  /** The server's address, for people's pages. */
  readonly server: string;
  readonly events: readonly PublicEvent[];
}

/** The feed's XML. `updated` is its newest event's time (the Unix epoch when it has none), so an unchanged feed reads the same. */
export function atomFeed(feed: ActivityFeed): string {
  const authorOf = (user: string | undefined) =>
    user === undefined ? { name: 'someone' } : { name: xmlText(user), uri: `${feed.server}/explore/users/${encodeURIComponent(user)}` };
  const entries = feed.events.map((event) => {
    const user = 'user' in event && typeof event.user === 'string' ? event.user : undefined;
    const who = user === undefined ? 'Someone' : xmlText(user);
    const title = xmlText(activity(event));
    const podcastFeed = textOf((event.object as Record<string, unknown> | null)?.['rss_source_feed']);
    const message = event.type === 'share' ? textOf((event.data as Record<string, unknown> | null)?.['message']) : undefined;
    return {
      id: `urn:uuid:${event.id}`,
      title: `${who} ${title}`,
      updated: String(event.timestamp),
      author: authorOf(user),
      ...(podcastFeed === undefined ? {} : { link: { '@_rel': 'related', '@_type': 'application/rss+xml', '@_href': podcastFeed } }),
      content: { '@_type': 'text', '#text': message === undefined ? `${who} ${title}.` : `${who} ${title}: ${message}` },
    };
  });
  return builder.build({
    '?xml': { '@_version': '1.0', '@_encoding': 'utf-8' },
    feed: {
      '@_xmlns': 'http://www.w3.org/2005/Atom',
      title: xmlText(feed.title),
      id: feed.self,
      updated: feed.events[0] === undefined ? '1970-01-01T00:00:00Z' : String(feed.events[0].timestamp),
      link: [
        { '@_rel': 'self', '@_type': 'application/atom+xml', '@_href': feed.self },
        { '@_rel': 'alternate', '@_type': 'text/html', '@_href': feed.page },
      ],
      generator: 'podsync',
      entry: entries,
    },
  }) as string;
}

/** The address of the public timeline's feed, or of a user's. */
export function activityFeedPath(user?: string): string {
  return user === undefined ? '/explore/activity.atom' : `/explore/users/${encodeURIComponent(user)}/activity.atom`;
}

/** The two feeds' routes, on the pages' router (no session is read or set: a reader holds no cookie). */
export function activityFeeds(router: Router, views: PublicViews): void {
  const send = (req: Request, res: Response, feed: Omit<ActivityFeed, 'server' | 'self'> & { path: string }) => {
    const server = serverUrlOf(req);
    res.type(ATOM).send(atomFeed({ ...feed, server, self: `${server}${feed.path}`, page: `${server}${feed.page}` }));
  };
  const timelineFeed = activityFeedPath();
  const userFeed = '/explore/users/:username/activity.atom';
  // Pages, not the native API (the OpenAPI document's coverage test tells them apart).
  PAGE_PATHS.add(timelineFeed).add(userFeed);
  router.get(timelineFeed, pageHeaders, async (req, res) => {
    const { events } = await views.events({ limit: FEED_ENTRIES });
    send(req, res, { title: 'Public listening activity', path: timelineFeed, page: '/explore', events });
  });
  router.get(userFeed, pageHeaders, async (req, res) => {
    const name = username.safeParse(req.params['username']);
    if (!name.success) throw validationError(name.error, ['username']);
    const { events } = await views.events({ user: name.data, limit: FEED_ENTRIES });
    send(req, res, { title: `${name.data}'s listening`, path: activityFeedPath(name.data), page: `/explore/users/${encodeURIComponent(name.data)}`, events });
  });
}
