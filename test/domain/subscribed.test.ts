/**
 * Subscribed or not: one rule (docs/design.md, "Events and streams"), `isSubscribed`, used by
 * the fold's readers, the read models, retention and sync. A subscribe and an unsubscribe with
 * the same timestamp leave the feed unsubscribed, in whichever order they come.
 */
import { expect } from 'chai';
import { checkpointState } from '../../src/domain/retention.js';
import { emptyState, fold, isSubscribed } from '../../src/domain/state.js';
import { decideSync, syncRequest } from '../../src/domain/sync.js';
import { ev, t, testContext } from './spec.js';

const FEED = 'https://example.com/feed.xml';

describe('subscribed or not: the one rule', () => {
  it('a tie is unsubscribed, in either order of the events', () => {
    for (const events of [
      [ev.subscribe(FEED, t(2)), ev.unsubscribe(FEED, t(2))],
      [ev.unsubscribe(FEED, t(2)), ev.subscribe(FEED, t(2))],
    ]) {
      const record = fold(events).subscriptions[FEED]!;
      expect(record).to.include({ subscribed_at: t(2), unsubscribed_at: t(2) });
      expect(isSubscribed(record)).to.equal(false);
    }
  });

  it('the later date decides; no subscribe date is unsubscribed; no unsubscribe date is subscribed', () => {
    expect(isSubscribed({ subscribed_at: t(3), unsubscribed_at: t(2) })).to.equal(true);
    expect(isSubscribed({ subscribed_at: t(2), unsubscribed_at: t(3) })).to.equal(false);
    expect(isSubscribed({ subscribed_at: null, unsubscribed_at: t(3) })).to.equal(false);
    expect(isSubscribed({ subscribed_at: t(3), unsubscribed_at: null })).to.equal(true);
    expect(isSubscribed({ subscribed_at: t(3) })).to.equal(true);
  });

  it('retention forgets a tie unsubscribed long ago, as it forgets any unsubscribed feed', () => {
    const now = new Date('2026-06-01T00:00:00.000Z');
    const state = fold([ev.subscribe(FEED, t(2)), ev.unsubscribe(FEED, t(2))]);
    expect(checkpointState(state, now, 45).subscriptions).to.deep.equal({});
    const subscribed = fold([ev.subscribe(FEED, t(3)), ev.unsubscribe(FEED, t(2))]);
    expect(Object.keys(checkpointState(subscribed, now, 45).subscriptions)).to.deep.equal([FEED]);
  });

  it('sync reads a client tie as unsubscribed, and the server ends unsubscribed too', () => {
    const request = syncRequest.parse({
      device: 'phone',
      request_id: 'r',
      subscriptions: [{ rss_source_feed: FEED, subscribed_at: t(2), unsubscribed_at: t(2) }],
      play_statuses: [],
      playlists: [],
    });
    const after = fold(decideSync(emptyState(), request, testContext()));
    expect(isSubscribed(after.subscriptions[FEED]!)).to.equal(false);
  });
});
