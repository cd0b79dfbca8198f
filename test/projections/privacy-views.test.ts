/** Public events and popularity under the privacy rules' (docs/design.md, "Privacy") privacy rules, tested purely (no I/O). */
import { expect } from 'chai';
import { PUBLIC_EVENT_OWNERS, PUBLIC_EVENTS, publicEventsProjection } from '../../projections/public-events.js';
import type { UserEvent } from '../../src/domain/events.js';
import { EPISODE_POPULARITY, PODCAST_POPULARITY, PEOPLE_LIMIT, popularityProjection } from '../../projections/popularity.js';
import { episodeKey } from '../../src/domain/state.js';
import type { Actor } from './harness.js';
import { events, FEED_A, FEED_B, ProjectionHarness } from './harness.js';

const alice: Actor = { user: 'u-alice', username: 'alice' };
const bob: Actor = { user: 'u-bob', username: 'bob' };
const carol: Actor = { user: 'u-carol', username: 'carol' };

const harness = () => new ProjectionHarness([publicEventsProjection, popularityProjection]);
const episode = (h: ProjectionHarness, guid: string, feed = FEED_A) => h.doc(EPISODE_POPULARITY, episodeKey(feed, guid));
const podcast = (h: ProjectionHarness, feed = FEED_A) => h.doc(PODCAST_POPULARITY, feed);

describe('public_events projection (docs/design.md, "Privacy")', () => {
  it("shows a public user's events with their username, without the device", () => {
    const h = harness().apply(alice, events.privacy(alice, 'public'), events.play(alice, 'e1'));
    const [doc] = h.docs(PUBLIC_EVENTS);
    expect(doc).to.include({ type: 'play', user: 'alice' });
    expect(doc!['data']).to.not.have.property('device');
  });

  it("shows an anonymous user's events with no trace of identity", () => {
    const h = harness().apply(alice, events.privacy(alice, 'anonymous'), events.play(alice, 'e1'));
    const docs = h.docs(PUBLIC_EVENTS);
    expect(docs).to.have.length(1);
    expect(docs[0]!['user']).to.equal(null);
    const text = JSON.stringify(docs);
    expect(text).to.not.contain('alice');
    expect(text).to.not.contain('u-alice');
    expect(text).to.not.contain('phone');
  });

  it('keeps nothing of a private event, and going public shows of it only what the level may publish', () => {
    const secret = 'https://cdn.example.com/e1.mp3?token=SECRET';
    const share: UserEvent = { ...events.play(alice, 'e1'), type: 'share', data: { to: 'SECRET@example.com', message: 'listen' } } as UserEvent;
    const h = harness().apply(alice, events.play(alice, 'e1', FEED_A, { enclosure: { url: secret } }), share);
    expect(h.lastChanges, 'a private event writes no document').to.deep.equal([]);
    h.apply(alice, events.privacy(alice, 'public'));
    const published = h.docs(PUBLIC_EVENTS);
    expect(published.map((doc) => [doc['type'], doc['data'], doc['object']])).to.have.deep.members([
      ['play', { played: true, position: 10, rss_item_title: 'Episode e1', rss_feed_title: 'Feed title' }, { rss_source_feed: FEED_A, rss_source_id: 'e1' }],
      ['share', { message: 'listen' }, { rss_source_feed: FEED_A, rss_source_id: 'e1' }],
    ]);
    expect(JSON.stringify(published)).to.not.include('SECRET');
    // The owners name the user (never served), and nothing more of the events.
    expect(JSON.stringify(h.docs(PUBLIC_EVENT_OWNERS))).to.not.include('SECRET');
    expect(h.docs(PUBLIC_EVENT_OWNERS).map((owner) => owner['user'])).to.deep.equal([alice.user, alice.user]);
  });

  it('keeps private users (the deployment default) out entirely', () => {
    const h = harness().apply(alice, events.play(alice, 'e1'), events.subscribe(alice));
    expect(h.docs(PUBLIC_EVENTS)).to.deep.equal([]);
  });

  it('is retroactive: going private removes past events, going public restores them', () => {
    const h = harness().apply(alice, events.privacy(alice, 'public'), events.play(alice, 'e1'), events.play(alice, 'e2'));
    expect(h.docs(PUBLIC_EVENTS)).to.have.length(2);
    h.apply(alice, events.privacy(alice, 'private'));
    expect(h.docs(PUBLIC_EVENTS)).to.deep.equal([]);
    h.apply(alice, events.privacy(alice, 'anonymous'));
    expect(h.docs(PUBLIC_EVENTS).map((doc) => doc['user'])).to.deep.equal([null, null]);
    h.apply(alice, events.privacy(alice, 'public'));
    expect(h.docs(PUBLIC_EVENTS).map((doc) => doc['user'])).to.deep.equal(['alice', 'alice']);
  });

  /** Alice public, FEED_B private by its own choice, a play of each feed. */
  const withFeedBPrivate = () =>
    harness().apply(
      alice,
      events.privacy(alice, 'public'),
      events.privacy(alice, 'private', FEED_B),
      events.play(alice, 'a1', FEED_A),
      events.play(alice, 'b1', FEED_B),
    );

  it('applies a per-feed override over the account setting', () => {
    const h = withFeedBPrivate();
    expect(h.docs(PUBLIC_EVENTS).map((doc) => (doc['object'] as { rss_source_feed: string }).rss_source_feed)).to.deep.equal([FEED_A]);
    h.apply(alice, events.privacy(alice, 'public', FEED_B));
    expect(h.docs(PUBLIC_EVENTS)).to.have.length(2);
  });

  it("takes a feed's own choice back (privacy null): the feed follows the account's level again, whatever it becomes", () => {
    const feeds = (h: ReturnType<typeof harness>) =>
      h.docs(PUBLIC_EVENTS).map((doc) => [(doc['object'] as { rss_source_feed: string }).rss_source_feed, doc['user']]);
    const h = withFeedBPrivate();
    expect(feeds(h)).to.deep.equal([[FEED_A, 'alice']]);
    h.apply(alice, events.privacy(alice, null, FEED_B));
    expect(feeds(h).sort()).to.deep.equal(
      [
        [FEED_A, 'alice'],
        [FEED_B, 'alice'],
      ].sort(),
    );
    h.apply(alice, events.privacy(alice, 'anonymous'));
    expect(feeds(h).sort(), 'it follows a later account choice too').to.deep.equal(
      [
        [FEED_A, null],
        [FEED_B, null],
      ].sort(),
    );
    // Taken back from a feed that had none, and the account's own back to the server's default (private here): nothing shown.
    h.apply(alice, events.privacy(alice, null, FEED_A), events.privacy(alice, null));
    expect(h.docs(PUBLIC_EVENTS)).to.deep.equal([]);
  });

  it('erases only the removed scope', () => {
    const h = harness().apply(alice, events.privacy(alice, 'public'), events.play(alice, 'a1'), events.play(alice, 'a2'), events.play(alice, 'b1', FEED_B));
    h.apply(alice, events.remove(alice, { rss_source_feed: FEED_A, rss_source_id: 'a1' }));
    expect(
      h
        .docs(PUBLIC_EVENTS)
        .map((doc) => (doc['object'] as { rss_source_id: string }).rss_source_id)
        .sort(),
    ).to.deep.equal(['a2', 'b1']);
    h.apply(alice, events.remove(alice, { rss_source_feed: FEED_B }));
    expect(h.docs(PUBLIC_EVENTS)).to.have.length(1);
    h.apply(alice, events.remove(alice, null));
    expect(h.docs(PUBLIC_EVENTS)).to.deep.equal([]);
  });

  it("does not let one user's privacy change touch another user's events", () => {
    const h = harness()
      .apply(alice, events.privacy(alice, 'public'), events.play(alice, 'e1'))
      .apply(bob, events.privacy(bob, 'public'), events.play(bob, 'e1'));
    h.apply(alice, events.privacy(alice, 'private'));
    expect(h.docs(PUBLIC_EVENTS).map((doc) => doc['user'])).to.deep.equal(['bob']);
  });
});

describe('popularity projection (docs/design.md, "Privacy", 6)', () => {
  it('counts public and anonymous plays, lists only public people, ignores private users', () => {
    const h = harness()
      .apply(alice, events.privacy(alice, 'public'), events.play(alice, 'e1'))
      .apply(bob, events.privacy(bob, 'anonymous'), events.play(bob, 'e1'))
      .apply(carol, events.play(carol, 'e1'));
    expect(episode(h, 'e1')).to.include({ plays: 2, likes: 0, title: 'Episode e1' });
    expect(episode(h, 'e1')!['plays_people']).to.deep.equal(['alice']);
    expect(podcast(h)).to.include({ plays: 2 });
  });

  it('writes no popularity document when a play changes nothing shown', () => {
    const h = harness().apply(bob, events.privacy(bob, 'public'), events.play(bob, 'e1'));
    const popularityWrites = () => h.lastChanges.filter((change) => change.collection === EPISODE_POPULARITY || change.collection === PODCAST_POPULARITY);
    expect(popularityWrites()).to.have.length(2);
    h.apply(alice, events.play(alice, 'e1'));
    expect(popularityWrites(), 'a private user').to.deep.equal([]);
    h.apply(bob, events.play(bob, 'e1'));
    expect(popularityWrites(), 'a play again by the one listed first').to.deep.equal([]);
    h.apply(carol, events.play(carol, 'e2', FEED_B));
    expect(popularityWrites(), 'a private user, no document').to.deep.equal([]);
    expect(podcast(h, FEED_B)).to.equal(undefined);
  });

  it('counts a user once per episode however often they play it', () => {
    const h = harness().apply(alice, events.privacy(alice, 'public'), events.play(alice, 'e1'), events.play(alice, 'e1'), events.play(alice, 'e2'));
    expect(episode(h, 'e1')).to.include({ plays: 1 });
    expect(podcast(h)).to.include({ plays: 2 });
    expect(podcast(h)!['plays_people']).to.deep.equal(['alice']);
  });

  it('orders people by recency, most recent first, bounded', () => {
    const h = harness();
    const people = Array.from({ length: PEOPLE_LIMIT + 3 }, (_, i) => ({ user: `u${i}`, username: `person${i}` }));
    for (const person of people) h.apply(person, events.privacy(person, 'public'), events.play(person, 'e1'));
    h.apply(people[0]!, events.play(people[0]!, 'e1'));
    const listed = episode(h, 'e1')!['plays_people'] as string[];
    expect(listed).to.have.length(PEOPLE_LIMIT);
    expect(listed[0]).to.equal('person0');
    expect(listed[1]).to.equal(`person${PEOPLE_LIMIT + 2}`);
    expect(episode(h, 'e1')).to.include({ plays: PEOPLE_LIMIT + 3 });
  });

  it('counts a save as a like, until it is removed from every playlist', () => {
    const h = harness().apply(alice, events.privacy(alice, 'public'), events.save(alice, 'e1'), events.save(alice, 'e1', { playlist: 'later' }));
    expect(episode(h, 'e1')).to.include({ likes: 1, plays: 0 });
    expect(episode(h, 'e1')!['likes_people']).to.deep.equal(['alice']);
    h.apply(alice, events.save(alice, 'e1', { removed: true }));
    expect(episode(h, 'e1')).to.include({ likes: 1 });
    h.apply(alice, events.save(alice, 'e1', { playlist: 'later', removed: true }));
    expect(episode(h, 'e1')).to.equal(undefined);
  });

  it('is retroactive on privacy changes, and re-ranks people from what is retained', () => {
    const h = harness()
      .apply(alice, events.privacy(alice, 'public'), events.play(alice, 'e1'))
      .apply(bob, events.privacy(bob, 'public'), events.play(bob, 'e1'));
    expect(episode(h, 'e1')!['plays_people']).to.deep.equal(['bob', 'alice']);
    h.apply(bob, events.privacy(bob, 'private'));
    expect(episode(h, 'e1')).to.include({ plays: 1 });
    expect(episode(h, 'e1')!['plays_people']).to.deep.equal(['alice']);
    h.apply(bob, events.privacy(bob, 'anonymous'));
    expect(episode(h, 'e1')).to.include({ plays: 2 });
    expect(episode(h, 'e1')!['plays_people']).to.deep.equal(['alice']);
    h.apply(bob, events.privacy(bob, 'public'));
    expect(episode(h, 'e1')!['plays_people']).to.deep.equal(['bob', 'alice']);
    expect(podcast(h)!['plays_people']).to.deep.equal(['bob', 'alice']);
  });

  it('keeps nothing of a private user, and rebuilds their counts from their history when they start counting', () => {
    // Bob plays first, privately; Alice later, publicly; Bob's save is removed again.
    const h = harness()
      .apply(bob, events.play(bob, 'e1'), events.save(bob, 'e2'), events.save(bob, 'e2', { removed: true }), events.play(bob, 'e3', FEED_B))
      .apply(alice, events.privacy(alice, 'public'), events.play(alice, 'e1'));
    expect(h.stored('popularity_episode_contributions').map(({ id }) => id)).to.deep.equal([`u-alice|${episodeKey(FEED_A, 'e1')}`]);
    expect(h.stored('popularity_podcast_contributions').map(({ id }) => id)).to.deep.equal([`u-alice|${FEED_A}`]);
    // Public for FEED_A only: its plays count again, ranked by when they happened (before Alice's).
    h.apply(bob, events.privacy(bob, 'public', FEED_A));
    expect(episode(h, 'e1')).to.include({ plays: 2, likes: 0 });
    expect(episode(h, 'e1')!['plays_people']).to.deep.equal(['alice', 'bob']);
    expect(podcast(h)!['plays_people']).to.deep.equal(['alice', 'bob']);
    expect(episode(h, 'e2'), 'a save removed again is no like').to.equal(undefined);
    expect(podcast(h, FEED_B), 'still private there').to.equal(undefined);
    // Private again: nothing of Bob stays.
    h.apply(bob, events.privacy(bob, 'private', FEED_A));
    expect(h.stored('popularity_episode_contributions').map(({ doc }) => doc['user'])).to.deep.equal(['u-alice']);
    expect(episode(h, 'e1')).to.include({ plays: 1 });
  });

  it('stores a play without like fields, and counts and lists a like added to it', () => {
    const h = harness().apply(alice, events.privacy(alice, 'public'), events.play(alice, 'e1'));
    const contribution = () => h.stored('popularity_episode_contributions')[0]!.doc;
    expect(contribution()).to.include({ played: true }).and.not.to.have.any.keys('liked', 'like_seq', 'saved_in');
    h.apply(alice, events.save(alice, 'e1'));
    expect(contribution()).to.include({ played: true, liked: true });
    expect(episode(h, 'e1')).to.include({ plays: 1, likes: 1 });
    expect(episode(h, 'e1')!['likes_people']).to.deep.equal(['alice']);
    h.apply(alice, events.save(alice, 'e1', { removed: true }));
    expect(episode(h, 'e1')).to.include({ plays: 1, likes: 0 });
    expect(episode(h, 'e1')!['likes_people']).to.deep.equal([]);
  });

  it('honours a per-feed override for popularity too', () => {
    const h = harness().apply(
      alice,
      events.privacy(alice, 'public'),
      events.privacy(alice, 'private', FEED_B),
      events.play(alice, 'a1'),
      events.play(alice, 'b1', FEED_B),
    );
    expect(podcast(h, FEED_A)).to.include({ plays: 1 });
    expect(podcast(h, FEED_B)).to.equal(undefined);
    h.apply(alice, events.privacy(alice, null, FEED_B));
    expect(podcast(h, FEED_B), 'the choice taken back: counted as the account says').to.include({ plays: 1 });
  });

  it('erasure takes the scope out of the counts and lists', () => {
    const h = harness().apply(alice, events.privacy(alice, 'public'), events.play(alice, 'e1'), events.play(alice, 'e2'), events.save(alice, 'e2'));
    h.apply(alice, events.remove(alice, { rss_source_feed: FEED_A, rss_source_id: 'e2' }));
    expect(episode(h, 'e2')).to.equal(undefined);
    expect(podcast(h)).to.include({ plays: 1, likes: 0 });
    h.apply(alice, events.remove(alice, null));
    expect(h.docs(PODCAST_POPULARITY)).to.deep.equal([]);
    expect(h.docs(EPISODE_POPULARITY)).to.deep.equal([]);
  });
});
