/**
 * Listeners for the podcast directory's tests (docs/api.md, "Podcast directory"): SHOW played by
 * a public and an anonymous listener and by a private one, OTHER by the public one, PRIVATE by
 * the private one alone. So the directory lists SHOW (2 listeners), then OTHER (1), never PRIVATE.
 */
import { expect } from 'chai';
import type { TestService } from './service.js';

export const SHOW = 'https://feeds.example.com/rust-weekly.xml';
export const OTHER = 'https://feeds.example.com/garden-hour.xml';
export const PRIVATE = 'https://feeds.example.com/very-private-matters.xml';

export const privacy = (level: string, timestamp = '2026-05-01T00:00:00Z') => ({ type: 'privacy', timestamp, object: null, data: { privacy: level } });

export const play = (feed: string, guid: string, title: string) => ({
  type: 'play',
  timestamp: '2026-05-02T00:00:00Z',
  object: { rss_source_feed: feed, rss_source_id: guid },
  data: { played: true, position: 60, rss_feed_title: title },
});

/** `events` written for `token`'s account through `POST /v1/events`. */
export async function postEvents(service: TestService, token: string, events: unknown[]): Promise<void> {
  const response = await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events });
  expect(response.status, JSON.stringify(response.body)).to.equal(201);
}

/** Writes the three listeners and waits for the projections. */
export async function publishListeners(service: TestService): Promise<void> {
  const writes = [
    [privacy('public'), play(SHOW, 'e1', 'Rust Weekly'), play(OTHER, 'g1', 'The Garden Hour')],
    [privacy('anonymous'), play(SHOW, 'e2', 'Rust Weekly')],
    // Private (the default): played, never listed.
    [play(PRIVATE, 's1', 'Very Private Matters'), play(SHOW, 'e1', 'Rust Weekly')],
  ];
  for (const events of writes) await postEvents(service, (await service.login()).token, events);
  await service.settle();
}
