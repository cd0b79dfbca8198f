/** fast-check arbitraries of user events, shared by the property tests of the fold. */
import fc from 'fast-check';
import type { EventObject, UserEvent } from '../../src/domain/events.js';
import type { StateEvent } from '../../src/domain/state.js';
import { ev, t, uuidOf } from './spec.js';

const FEED = 'https://a.example.com/feed';
const OTHER = 'https://b.example.com/feed';

let serial = 0;
const full = (at: string, event: Pick<UserEvent, 'type' | 'object' | 'data'>): UserEvent =>
  ({ id: uuidOf(100_000 + serial++), user: 'u', timestamp: at, ...event }) as UserEvent;

const at = fc.integer({ min: 0, max: 20 }).map(t);
const feed = fc.constantFrom(FEED, OTHER);
const guid = fc.constantFrom('g1', 'g2');
const device = fc.constantFrom('phone', 'laptop', 'tablet');
/** Any event that changes a user's state, of every type, over two feeds and three devices. */
export const anEvent: fc.Arbitrary<StateEvent> = fc.oneof(
  fc.tuple(feed, at).map(([f, when]) => ev.subscribe(f, when, { rss_feed_title: `t${when}` })),
  fc.tuple(feed, at).map(([f, when]) => ev.unsubscribe(f, when)),
  fc.tuple(feed, guid, at, fc.nat(100)).map(([f, g, when, position]) => ev.play(f, g, when, { played: position > 50, position })),
  fc.tuple(feed, guid, at, fc.nat(100)).map(([f, g, when, position]) => ev.position(f, g, when, position)),
  fc
    .tuple(feed, guid, at, fc.constantFrom('new', 'download', 'delete') as fc.Arbitrary<'new'>)
    .map(([f, g, when, action]) => ev.episodeAction(f, g, when, action)),
  fc.tuple(feed, guid, at, fc.boolean()).map(([f, g, when, removed]) => ev.save(f, g, when, { removed, playlist: 'p1' })),
  fc
    .tuple(at, fc.constantFrom('upsert', 'delete') as fc.Arbitrary<'upsert' | 'delete'>)
    .map(([when, action]) => ev.playlist(when, { playlist_id: 'p1', action })),
  fc
    .tuple(at, fc.constantFrom('public', 'private', 'anonymous', null) as fc.Arbitrary<'public' | null>, fc.option(feed, { nil: undefined }))
    .map(([when, level, f]) => ev.privacy(when, level, f)),
  fc
    .tuple(at, fc.constantFrom(null, { rss_source_feed: FEED }, { rss_source_feed: OTHER, rss_source_id: 'g1' }))
    .map(([when, scope]) => ev.remove(when, scope)),
  fc.tuple(at, device).map(([when, id]) => full(when, { type: 'device', object: null, data: { device_id: id, caption: `c${when}` } })),
  fc.tuple(at, device).map(([when, id]) => full(when, { type: 'device', object: null, data: { device_id: id, forgotten: true } })),
  fc.tuple(at, device, device).map(([when, a, b]) =>
    full(when, {
      type: 'sync_group',
      object: null,
      data: a === b ? { synchronize: [], stop_synchronize: [a] } : { synchronize: [[a, b]], stop_synchronize: [] },
    }),
  ),
  fc.tuple(at, fc.option(feed, { nil: undefined }), fc.nat(9)).map(([when, f, n]) =>
    full(when, {
      type: 'setting',
      object: f === undefined ? null : { rss_source_feed: f },
      data: { scope: f === undefined ? 'account' : 'podcast', set: { [`k${n}`]: n }, remove: n % 3 === 0 ? ['k0'] : [] },
    }),
  ),
  fc
    .tuple(at, device, fc.nat(9))
    .map(([when, id, n]) =>
      full(when, { type: 'setting', object: null, data: { scope: 'device', device: id, set: { [`k${n}`]: n }, remove: n % 3 === 0 ? ['k0'] : [] } }),
    ),
  at.map((when) => full(when, { type: 'account_deleted', object: null, data: {} })),
  at.map((when) => full(when, { type: 'sync', object: null, data: { device: 'd', request_id: `r${when}`, counts: {} } })),
);

/** Two feeds, two guids: an episode, and the scope of an erasure (everything, a feed or an episode). */
export const ERASURE_FEEDS = ['https://a.example/feed', 'https://b.example/feed'];
export const anErasureFeed = fc.constantFrom(...ERASURE_FEEDS);
export const anEpisode = fc.tuple(anErasureFeed, fc.constantFrom('g1', 'g2')).map(([f, g]): EventObject => ({ rss_source_feed: f, rss_source_id: g }));
export const anErasureScope = fc.oneof(
  fc.constant(null),
  anErasureFeed.map((f): EventObject => ({ rss_source_feed: f })),
  anEpisode,
);
