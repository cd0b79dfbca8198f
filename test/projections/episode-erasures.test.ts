/**
 * Erasures of single episodes (`remove` with a feed and a guid) come in batches (a client
 * clearing part of its history): each must cost what it erases, not what the user holds. What
 * the per-user projections read for one, and that they still erase exactly it.
 */
import { expect } from 'chai';
import type { UserEvent } from '../../src/domain/events.js';
import { episodeKey } from '../../src/domain/state.js';
import type { Projection, ProjectionView } from '../../projections/projection.js';
import { userDocKey } from '../../projections/projection.js';
import { PLAY_STATUSES, playStatusesProjection } from '../../projections/play-statuses.js';
import { ACTION_FEED, EPISODE_ACTIONS, episodeActionsProjection } from '../../projections/episode-actions.js';
import type { Actor } from './harness.js';
import { events, ProjectionHarness } from './harness.js';

const alice: Actor = { user: 'u-alice', username: 'alice' };
const FEEDS = ['https://a.example/feed.xml', 'https://b.example/feed.xml'];

/** `projection`, noting each read it makes. */
function reading(projection: Projection, reads: string[]): Projection {
  return {
    ...projection,
    evolve(projected, view, context) {
      const noted: ProjectionView = {
        get: (collection, id) => (reads.push(`get ${userDocKey(alice.user, id)}`), view.get(collection, id)),
        find: (collection, query) => (reads.push(`find ${JSON.stringify(query.where)}`), view.find(collection, query)),
        history: (user, through) => (reads.push('history'), view.history(user, through)),
      };
      return projection.evolve(projected, noted, context);
    },
  };
}

const plays = Array.from({ length: 200 }, (_, n) => events.play(alice, `g${n}`, FEEDS[n % 2]));
const erase = (guid: string, feed: string): UserEvent => events.remove(alice, { rss_source_feed: feed, rss_source_id: guid });

describe("erasures of single episodes: each reads what it erases, not the user's data", () => {
  it("play_statuses reads and deletes the episode's status alone", () => {
    const reads: string[] = [];
    const h = new ProjectionHarness([reading(playStatusesProjection, reads)]).apply(alice, ...plays);
    for (const [guid, feed] of [
      ['g4', FEEDS[0]!],
      ['g7', FEEDS[1]!],
      ['never-played', FEEDS[0]!],
    ] as const) {
      reads.length = 0;
      h.apply(alice, erase(guid, feed));
      expect(reads).to.deep.equal([`get ${episodeKey(feed, guid)}`]);
      expect(h.lastChanges.map(({ op, id }) => [op, userDocKey(alice.user, id)])).to.deep.equal(
        guid === 'never-played' ? [] : [['delete', episodeKey(feed, guid)]],
      );
    }
    expect(h.docs(PLAY_STATUSES)).to.have.length(198);
    // A feed's erasure still reads them all: its statuses are not known by key.
    reads.length = 0;
    h.apply(alice, events.remove(alice, { rss_source_feed: FEEDS[0]! }));
    expect(reads).to.deep.equal([`find ${JSON.stringify({ user: alice.user })}`]);
    expect(h.docs(PLAY_STATUSES)).to.have.length(99);
  });

  it("episode_actions reads the feed's actions, one query for every episode of a feed, and deletes the episode's", () => {
    const reads: string[] = [];
    const replayed = events.play(alice, 'g10', FEEDS[0]);
    const h = new ProjectionHarness([reading(episodeActionsProjection, reads)]).apply(alice, ...plays, replayed);
    const erasures = ['g10', 'g12', 'g14'].map((guid) => erase(guid, FEEDS[0]!));
    h.apply(alice, ...erasures);
    expect(reads).to.deep.equal(erasures.map(() => `find ${JSON.stringify({ user: alice.user, [ACTION_FEED]: FEEDS[0] })}`));
    const left = h.docs(EPISODE_ACTIONS).map((doc) => doc['guid'] as string);
    // Two actions of g10 (played twice), one each of g12 and g14.
    expect(left).to.have.length(200 + 1 - 4);
    expect(left).to.not.include('g10');
    expect(left).to.not.include('g12');
    expect(left).to.include.members(['g11', 'g13', 'g16']);
  });
});
