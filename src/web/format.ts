/** How the pages (and the activity feeds) write times, durations, addresses and public events (every view gets these as `it.format`). */
import type { PublicEvent } from '../services/public-views.js';

/** An ISO timestamp to the minute, in UTC ("2026-12-07 15:29 UTC"); null for none. */
export function minute(iso: string | null | undefined): string | null {
  return iso ? `${iso.replace('T', ' ').slice(0, 16)} UTC` : null;
}

/** Seconds as a player shows them: "4:05", "1:02:03". */
export function clock(seconds: number): string {
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor(whole / 60) % 60;
  const rest = String(whole % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

/** A podcast's page (src/web/podcast-page.ts). */
export function podcastPath(feed: string): string {
  return `/podcast?feed=${encodeURIComponent(feed)}`;
}

const textOf = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

/**
 * What a public event says happened, in words: "finished “Pilot” (The Show)", with the titles
 * it carries (or the feed's), else its addresses. The Explore pages, the privacy page's preview
 * and the activity feeds all say it so.
 */
export function activity(event: PublicEvent): string {
  const data = (event.data ?? {}) as Record<string, unknown>;
  const object = (event.object ?? {}) as Record<string, unknown>;
  const podcast = textOf(data['rss_feed_title']) ?? textOf(data['feed_title']) ?? textOf(object['rss_source_feed']) ?? 'a podcast';
  const episodeTitle = textOf(data['rss_item_title']) ?? textOf(data['item_title']) ?? textOf(object['rss_source_id']);
  const episode = episodeTitle === undefined ? `an episode of ${podcast}` : `“${episodeTitle}” (${podcast})`;
  switch (event.type) {
    case 'subscribe':
      return `subscribed to ${podcast}`;
    case 'unsubscribe':
      return `unsubscribed from ${podcast}`;
    case 'play':
      return data['played'] === true ? `finished ${episode}` : `listened to ${episode}`;
    case 'save':
      return data['removed'] === true ? `took ${episode} off a playlist` : `saved ${episode}`;
    case 'share':
      return `shared ${episode}`;
    default:
      return `${String(event.type)} ${episode}`;
  }
}

export const FORMAT = { minute, clock, podcastPath, activity } as const;
