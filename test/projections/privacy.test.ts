/** Privacy choices as the projections keep them: a feed's choice costs the same however many feeds have one. */
import { expect } from 'chai';
import type { Projection, ProjectionView } from '../../projections/projection.js';
import { privacySettingsProjection, PRIVACY_SETTINGS } from '../../projections/privacy.js';
import { publicEventsProjection } from '../../projections/public-events.js';
import { popularityProjection } from '../../projections/popularity.js';
import type { Actor } from './harness.js';
import { events, FEED_A, ProjectionHarness } from './harness.js';

const alice: Actor = { user: 'u-alice', username: 'alice' };
const feed = (n: number) => `https://feeds.example/${n}.xml`;

/** `projection`, noting each read of a privacy collection (its own, or its copy). */
function reading(projection: Projection, reads: string[]): Projection {
  const privacy = (collection: string) => collection === PRIVACY_SETTINGS || collection.endsWith('_privacy');
  return {
    ...projection,
    evolve(projected, view, context) {
      const noted: ProjectionView = {
        get: (collection, id) => {
          if (privacy(collection)) reads.push(`get ${id}`);
          return view.get(collection, id);
        },
        find: (collection, query) => {
          if (privacy(collection)) reads.push(`find ${JSON.stringify(query.where)}`);
          return view.find(collection, query);
        },
        history: (user, through) => view.history(user, through),
      };
      return projection.evolve(projected, noted, context);
    },
  };
}

describe('privacy choices in the projections', () => {
  for (const projection of [privacySettingsProjection, publicEventsProjection, popularityProjection]) {
    it(`${projection.name}: a feed's choice reads its own and the account's, however many feeds have one`, () => {
      const reads: string[] = [];
      const h = new ProjectionHarness([reading(projection, reads)]).apply(
        alice,
        events.play(alice, 'a1'),
        ...Array.from({ length: 300 }, (_, n) => events.privacy(alice, n % 2 === 0 ? 'public' : 'anonymous', feed(n))),
      );
      reads.length = 0;
      h.apply(alice, events.privacy(alice, 'public', FEED_A));
      expect(reads).to.deep.equal([`get ${alice.user}`, `get ${alice.user}|${FEED_A}`]);
      // A play of a user with no feed's choice reads the account's document alone.
      const bob: Actor = { user: 'u-bob', username: 'bob' };
      h.apply(bob, events.privacy(bob, 'public'));
      reads.length = 0;
      h.apply(bob, events.play(bob, 'b1'));
      expect(reads).to.deep.equal(projection === privacySettingsProjection ? [] : [`get ${bob.user}`]);
      // The account's choice re-evaluates every feed without one of its own: it reads them all.
      reads.length = 0;
      h.apply(alice, events.privacy(alice, 'anonymous'));
      expect(reads).to.deep.equal([`get ${alice.user}`, `find ${JSON.stringify({ user: alice.user })}`]);
    });
  }

  it('privacy_settings writes a feed choice alone, the account choice alone, and deletes them all with the account', () => {
    const h = new ProjectionHarness([privacySettingsProjection]).apply(
      alice,
      ...Array.from({ length: 50 }, (_, n) => events.privacy(alice, 'public', feed(n))),
    );
    h.apply(alice, events.privacy(alice, 'anonymous', feed(7)));
    expect(h.lastChanges).to.deep.equal([
      { op: 'put', collection: PRIVACY_SETTINGS, id: `${alice.user}|${feed(7)}`, doc: { user: alice.user, level: 'anonymous' } },
    ]);
    h.apply(alice, events.privacy(alice, 'public'));
    expect(h.lastChanges).to.deep.equal([{ op: 'put', collection: PRIVACY_SETTINGS, id: alice.user, doc: { user: alice.user, account: 'public', feeds: 50 } }]);
    // The account's document counts the feeds with a choice, so a user with none is one read.
    h.apply(alice, events.remove(alice, { rss_source_feed: feed(3) }));
    expect(h.lastChanges).to.deep.equal([
      { op: 'delete', collection: PRIVACY_SETTINGS, id: `${alice.user}|${feed(3)}` },
      { op: 'put', collection: PRIVACY_SETTINGS, id: alice.user, doc: { user: alice.user, account: 'public', feeds: 49 } },
    ]);
    expect(h.stored(PRIVACY_SETTINGS)).to.have.length(50);
    h.apply(alice, { ...events.remove(alice, null), type: 'account_deleted', object: null, data: {} });
    expect(h.stored(PRIVACY_SETTINGS)).to.deep.equal([]);
  });
});
