/** Which stored events an erasure deletes (src/domain/erasure.ts, docs/design.md "Erasure"). */
import { expect } from 'chai';
import fc from 'fast-check';
import type { EventObject } from '../../src/domain/events.js';
import type { ErasableEvent } from '../../src/domain/erasure.js';
import { erasedEventIds, erasureCovers } from '../../src/domain/erasure.js';
import { anEpisode as episode, anErasureFeed as feed, anErasureScope as scope, ERASURE_FEEDS as FEEDS } from './arbitraries.js';

type Stored = ErasableEvent & { id: string };

const stored: fc.Arbitrary<Omit<Stored, 'id'>> = fc.oneof(
  episode.map((object) => ({ type: 'play', object })),
  feed.map((f) => ({ type: 'subscribe', object: { rss_source_feed: f } })),
  fc
    .oneof(
      fc.constant(null),
      feed.map((f): EventObject => ({ rss_source_feed: f })),
    )
    .map((object) => ({ type: 'privacy', object })),
  fc.constantFrom('playlist', 'sync', 'checkpoint').map((type) => ({ type, object: null })),
  scope.map((object) => ({ type: 'remove', object })),
);
const withIds = (events: Omit<Stored, 'id'>[]): Stored[] => events.map((event, index) => ({ ...event, id: `e${index}` }));

describe('erasedEventIds', () => {
  it('deletes each remove, the earlier events it covers and the earlier checkpoints (property)', () => {
    // The rule, stated plainly: every remove against every event before it.
    const expected = (events: Stored[]) => {
      const ids = new Set<string>();
      events.forEach((event, index) => {
        if (event.type !== 'remove') return;
        ids.add(event.id);
        for (const earlier of events.slice(0, index)) if (earlier.type === 'checkpoint' || erasureCovers(event.object, earlier)) ids.add(earlier.id);
      });
      return ids;
    };
    fc.assert(
      fc.property(fc.array(stored, { maxLength: 40 }).map(withIds), (events) => {
        expect([...erasedEventIds(events)].sort()).to.deep.equal([...expected(events)].sort());
      }),
      { numRuns: 500 },
    );
  });

  it('is linear in the stream: 4,000 episode erasures after 40,000 plays in well under a second', () => {
    const events = withIds([
      ...Array.from({ length: 40_000 }, (_, n) => ({ type: 'play', object: { rss_source_feed: FEEDS[n % 2]!, rss_source_id: `g${n}` } })),
      ...Array.from({ length: 4_000 }, (_, n) => ({ type: 'remove', object: { rss_source_feed: FEEDS[n % 2]!, rss_source_id: `g${n}` } })),
    ]);
    const started = performance.now();
    const ids = erasedEventIds(events);
    // Each remove matched against every earlier event: 2.6 s here, on the service's thread.
    expect(performance.now() - started).to.be.below(500);
    expect(ids.size).to.equal(8_000);
    expect(ids.has('e3999')).to.equal(true);
    expect(ids.has('e4000')).to.equal(false);
  });
});
