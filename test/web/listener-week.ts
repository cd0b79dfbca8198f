/** A listener's week as their apps sync it, for the suites that look at the pages in a browser. */
import { expect } from 'chai';

export const NIGHT_SHIFT = 'https://feeds.example.com/night-shift.xml';
export const LONG_WALKS = 'https://podcasts.example.org/long-walks/feed';

/**
 * Two subscriptions (one with the title its app sent, one without), an episode finished on the
 * phone, one half-way on the laptop, and an episode saved: times counted back from `now`.
 */
export function listenersWeek(now = Date.now()): object[] {
  const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
  return [
    { type: 'subscribe', timestamp: at(30), object: { rss_source_feed: NIGHT_SHIFT }, data: { rss_feed_title: 'The Night Shift', device: 'pixel-7' } },
    { type: 'subscribe', timestamp: at(29), object: { rss_source_feed: LONG_WALKS }, data: { device: 'pixel-7' } },
    {
      type: 'play',
      timestamp: at(20),
      object: { rss_source_feed: NIGHT_SHIFT, rss_source_id: 'ns-41' },
      data: {
        played: true,
        position: 2700,
        rss_item_title: 'Episode 41: Lighthouses',
        rss_feed_title: 'The Night Shift',
        enclosure: { duration: 2700 },
        device: 'pixel-7',
      },
    },
    {
      type: 'play',
      timestamp: at(5),
      object: { rss_source_feed: NIGHT_SHIFT, rss_source_id: 'ns-42' },
      data: {
        played: false,
        position: 1280,
        rss_item_title: 'Episode 42: Night Trains',
        rss_feed_title: 'The Night Shift',
        enclosure: { duration: 3200 },
        device: 'laptop',
      },
    },
    { type: 'save', timestamp: at(4), object: { rss_source_feed: LONG_WALKS, rss_source_id: 'lw-7' }, data: { item_title: 'Walk 7: The Coast Path' } },
  ];
}

/** Appends `events` as `username` through the native API of the service at `base`, as an app's sync does. */
export async function syncEvents(base: string, username: string, password: string, events: readonly object[]): Promise<void> {
  const issued = await fetch(`${base}/v1/auth/token`, { method: 'POST', body: JSON.stringify({ username, password }) });
  const { token } = (await issued.json()) as { token: string };
  const posted = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ events }),
  });
  expect(posted.status, 'the events appended').to.equal(201);
}
