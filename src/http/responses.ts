/**
 * Schemas of the main answers, for the OpenAPI document. The record schemas are typed
 * against the domain's record interfaces, so a field added to the fold without being added
 * here fails to compile rather than going undocumented.
 */
import { z } from 'zod';
import { enclosure } from '../domain/events.js';
import type { PlayStatusState, PlaylistItemState, SubscriptionState } from '../domain/state.js';

const timestamp = z.string().meta({ description: 'UTC ISO-8601 timestamp' });

export const subscriptionRecord: z.ZodType<SubscriptionState> = z.object({
  rss_source_feed: z.string(),
  rss_feed_title: z.string().nullable(),
  subscribed_at: timestamp.nullable(),
  unsubscribed_at: timestamp.nullable(),
  created_at: timestamp,
});

export const playStatusRecord: z.ZodType<PlayStatusState> = z.object({
  rss_source_feed: z.string(),
  rss_source_id: z.string(),
  rss_feed_title: z.string().nullable(),
  rss_item_title: z.string().nullable(),
  rss_enclosure: enclosure.nullable(),
  played: z.boolean(),
  position: z.number(),
  updated_at: timestamp,
});

export const playlistItemRecord: z.ZodType<PlaylistItemState> = z.object({
  item_id: z.string(),
  rss_source_feed: z.string(),
  rss_source_id: z.string(),
  item_title: z.string().nullable(),
  feed_title: z.string().nullable(),
  created_at: timestamp,
  updated_at: timestamp,
  deleted_at: timestamp.nullable(),
});

/** A playlist as the APIs present it: items as a list in creation order. */
export const playlistRecord = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  created_at: timestamp,
  updated_at: timestamp,
  deleted_at: timestamp.nullable(),
  items: z.array(playlistItemRecord),
});

export const syncAnswer = z.object({
  since: z.string().meta({ description: 'Cursor to send as `since` next time (a server sequence)' }),
  subscriptions: z.array(subscriptionRecord),
  play_statuses: z.array(playStatusRecord),
  playlists: z.array(playlistRecord),
  applied: z.object({ events: z.number().int(), duplicate: z.boolean() }),
});

export const publicEventRecord = z.object({
  id: z.string(),
  type: z.string(),
  timestamp,
  object: z.record(z.string(), z.unknown()).nullable(),
  data: z.record(z.string(), z.unknown()),
  user: z.string().optional().meta({ description: 'Username; absent for anonymous users' }),
  cover: z
    .object({ src: z.string().optional(), srcset: z.string().optional() })
    .optional()
    .meta({ description: "The podcast's cover, from its feed, when known" }),
});

export const popularityRecord = z
  .object({
    rss_source_feed: z.string(),
    rss_source_item: z.string().optional(),
    title: z.string().nullable().optional(),
    plays: z.number().int(),
    likes: z.number().int(),
    plays_people: z.array(z.string()).optional(),
    likes_people: z.array(z.string()).optional(),
  })
  .loose();

export const tokenRecord = z.object({
  id: z.uuid(),
  label: z.string().nullable(),
  created_at: timestamp,
  last_used_at: timestamp.nullable().meta({ description: 'When the token was last used, to the hour' }),
  expires_at: timestamp.nullable().meta({ description: 'When the token stops working; null: when revoked' }),
});

export const userState = z
  .object({
    subscriptions: z.record(z.string(), subscriptionRecord),
    play_statuses: z.record(z.string(), playStatusRecord),
    playlists: z.record(z.string(), z.unknown()),
    privacy: z.object({ account: z.string().nullable(), feeds: z.record(z.string(), z.string()) }),
  })
  .loose()
  .meta({ description: 'The state folded from the events (keys: feed URL, JSON [feed, guid], playlist id)' });

export const exportAnswer = z.object({
  user: z.object({ id: z.uuid(), username: z.string(), created_at: timestamp.nullable() }),
  events: z.array(z.record(z.string(), z.unknown())).meta({ description: 'Every retained event, with `recorded_at` and `revision`' }),
  state: userState,
});
