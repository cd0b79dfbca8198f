/**
 * The `podcasts` read model: subscriber counts follow the domain fold (so the job fetches what
 * someone subscribes to, a new feed at once), feed events keep the last state of each feed
 * (changes merged, a full event replacing), and no other projection reacts to feed events.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { UserEvent } from '../../src/domain/events.js';
import type { FeedEvent, FeedFetchedData } from '../../src/domain/feeds.js';
import { feedKey } from '../../src/domain/feeds.js';
import type { ProjectedEvent } from '../../projections/projection.js';
import type { CheckpointEvent } from '../../src/domain/system-events.js';
import { fold } from '../../src/domain/state.js';
import { allProjections } from '../../projections/index.js';
import { NEVER_FETCHED, PODCAST_EPISODES, PODCASTS, podcastsProjection } from '../../projections/podcasts.js';
import { emptyView, StagedView } from '../../projections/staged-view.js';
import type { Actor } from './harness.js';
import { events, FEED_A, FEED_B, ProjectionHarness } from './harness.js';

const alice: Actor = { user: 'u-alice', username: 'alice' };
const bob: Actor = { user: 'u-bob', username: 'bob' };

const episode = (guid: string, title = `Episode ${guid}`) => ({
  guid,
  title,
  url: `https://cdn.example/${guid}.mp3`,
  type: 'audio/mpeg',
  size: 10,
  duration: 60,
  published: '2026-02-01T00:00:00.000Z',
});

function fetched(data: Partial<FeedFetchedData>): FeedEvent {
  return {
    id: randomUUID(),
    timestamp: '2026-03-01T00:00:00.000Z',
    type: 'feed_fetched',
    data: {
      url: FEED_A,
      full: false,
      not_modified: false,
      podcast: {},
      episodes: [],
      removed: [],
      etag: null,
      last_modified: null,
      next_fetch_at: '2026-03-01T06:00:00.000Z',
      ...data,
    },
  };
}

/** Feed events as the projector hands them over: a stream without a user. */
class FeedHarness {
  readonly view = new StagedView(emptyView);
  private seq = 1000;
  private revision = 0;
  apply(...feedEvents: FeedEvent[]): this {
    for (const event of feedEvents) {
      this.seq++;
      const projected: ProjectedEvent = {
        event,
        user: '',
        username: null,
        position: { commit: BigInt(this.seq), prepare: BigInt(this.seq) },
        revision: this.revision++,
        seq: this.seq,
        recordedAt: event.timestamp,
      };
      this.view.apply(podcastsProjection.evolve(projected, this.view, { defaultPrivacy: 'private' }));
    }
    return this;
  }
  podcast() {
    return this.view.get(PODCASTS, feedKey(FEED_A));
  }
  episodes() {
    return this.view.find(PODCAST_EPISODES, {}).map(({ doc }) => doc);
  }
}

describe('podcasts projection', () => {
  it('counts subscribers as the domain does, and makes a newly subscribed feed due at once', () => {
    const harness = new ProjectionHarness([podcastsProjection]);
    harness.apply(alice, events.subscribe(alice), events.subscribe(alice));
    const podcast = harness.doc(PODCASTS, feedKey(FEED_A))!;
    expect(podcast).to.include({ url: FEED_A, subscribers: 1, subscribed: true });
    expect(podcast['next_fetch_at'], 'due at once').to.equal(NEVER_FETCHED);
    harness.apply(bob, events.subscribe(bob));
    expect(harness.doc(PODCASTS, feedKey(FEED_A))).to.include({ subscribers: 2 });
    harness.apply(alice, { ...events.subscribe(alice), type: 'unsubscribe', object: { rss_source_feed: FEED_A }, data: {} } as UserEvent);
    expect(harness.doc(PODCASTS, feedKey(FEED_A))).to.include({ subscribers: 1 });
    harness.apply(bob, events.remove(bob, null));
    expect(harness.doc(PODCASTS, feedKey(FEED_A)), 'known only from (erased) subscriptions: no trace').to.equal(undefined);
    harness.apply(alice, events.subscribe(alice, FEED_B));
    expect(harness.doc(PODCASTS, feedKey(FEED_B))).to.include({ subscribers: 1 });
  });

  it('follows checkpoints (the state they carry) and account deletion', () => {
    const harness = new ProjectionHarness([podcastsProjection]);
    const subscribeB = events.subscribe(alice, FEED_B);
    harness.apply(alice, events.subscribe(alice), subscribeB);
    harness.apply(bob, events.subscribe(bob, FEED_B));
    // A checkpoint whose state keeps only FEED_B.
    const state = fold([subscribeB]);
    harness.apply(alice, {
      type: 'checkpoint',
      id: randomUUID(),
      user: alice.user,
      timestamp: '2026-04-01T00:00:00.000Z',
      object: null,
      data: { state, truncate_before: 1, retained_from: '2026-01-01T00:00:00.000Z', reason: 'retention' },
    } as unknown as CheckpointEvent);
    expect(harness.doc(PODCASTS, feedKey(FEED_A))).to.equal(undefined);
    expect(harness.doc(PODCASTS, feedKey(FEED_B))).to.include({ subscribers: 2 });
    harness.apply(alice, {
      type: 'account_deleted',
      id: randomUUID(),
      user: alice.user,
      timestamp: '2026-04-02T00:00:00.000Z',
      object: null,
      data: {},
    } as UserEvent);
    expect(harness.doc(PODCASTS, feedKey(FEED_B))).to.include({ subscribers: 1 });
  });

  it('keeps the last state per feed: changes merged, full events replacing, failures recorded without losing facts', () => {
    const feed = new FeedHarness().apply(
      fetched({
        full: true,
        podcast: { title: 'One', author: 'A', description: null, link: null, podcast_guid: null, cover: { src: 'https://img.example/1.jpg' } },
        episodes: [episode('e1'), episode('e2')],
        etag: '"1"',
      }),
    );
    const firstSeq = feed.episodes().find((doc) => doc['guid'] === 'e1')!['first_seq'];
    feed.apply(fetched({ podcast: { title: 'Two' }, episodes: [episode('e1', 'Renamed'), episode('e3')], removed: ['e2'], etag: '"2"' }));
    expect(feed.podcast()).to.include({ title: 'Two', author: 'A', etag: '"2"', failures: 0 });
    expect(feed.episodes().map((doc) => [doc['guid'], doc['title']])).to.have.deep.members([
      ['e1', 'Renamed'],
      ['e3', 'Episode e3'],
    ]);
    expect(feed.episodes().find((doc) => doc['guid'] === 'e1')!['first_seq'], 'first seen stays').to.equal(firstSeq);

    feed.apply({
      id: randomUUID(),
      timestamp: '2026-03-02T00:00:00.000Z',
      type: 'feed_fetch_failed',
      data: { url: FEED_A, error: 'http_status', message: 'HTTP 404', failures: 2, next_fetch_at: '2026-03-03T00:00:00.000Z' },
    });
    expect(feed.podcast()).to.include({ title: 'Two', failures: 2, next_fetch_at: '2026-03-03T00:00:00.000Z' });
    expect(feed.episodes()).to.have.length(2);

    feed.apply(
      fetched({
        full: true,
        podcast: { title: 'Three', author: null, description: null, link: null, podcast_guid: null, cover: null },
        episodes: [episode('e4')],
      }),
    );
    expect(feed.podcast()).to.include({ title: 'Three', author: null, cover: null, failures: 0, last_error: null });
    expect(feed.episodes().map((doc) => doc['guid'])).to.deep.equal(['e4']);
  });

  it('a fetched feed keeps its facts when no one subscribes any more (feed facts are not user data)', () => {
    const feed = new FeedHarness();
    const subscribe = events.subscribe(alice);
    const projected = (event: ProjectedEvent['event'], seq: number): ProjectedEvent => ({
      event,
      user: alice.user,
      username: alice.username,
      position: { commit: BigInt(seq), prepare: BigInt(seq) },
      revision: seq,
      seq,
      recordedAt: '2026-03-01T00:00:00.000Z',
    });
    feed.view.apply(podcastsProjection.evolve(projected(subscribe, 1), feed.view, { defaultPrivacy: 'private' }));
    feed.apply(fetched({ full: true, podcast: { title: 'Kept', author: null, description: null, link: null, podcast_guid: null, cover: null } }));
    feed.view.apply(podcastsProjection.evolve(projected(events.remove(alice, null), 2000), feed.view, { defaultPrivacy: 'private' }));
    expect(feed.podcast()).to.include({ title: 'Kept', subscribers: 0, subscribed: false });
  });

  it('a rebuild from the last full event gives the same documents (older fetch events can be truncated)', () => {
    const full = fetched({
      full: true,
      podcast: { title: 'T', author: null, description: null, link: null, podcast_guid: null, cover: null },
      episodes: [episode('e1')],
    });
    const live = new FeedHarness().apply(
      fetched({
        full: true,
        podcast: { title: 'old', author: 'x', description: null, link: null, podcast_guid: null, cover: null },
        episodes: [episode('e0')],
      }),
      full,
    );
    const rebuilt = new FeedHarness().apply(full);
    const strip = (doc: Record<string, unknown> | undefined) => ({ ...doc, revision: null, seq: null, full_revision: null });
    expect(strip(rebuilt.podcast())).to.deep.equal(strip(live.podcast()));
    expect(rebuilt.episodes().map((doc) => doc['guid'])).to.deep.equal(live.episodes().map((doc) => doc['guid']));
  });

  it('no other projection reacts to feed events', () => {
    const projected: ProjectedEvent = {
      event: fetched({ full: true, episodes: [episode('e1')] }),
      user: '',
      username: null,
      position: { commit: 1n, prepare: 1n },
      revision: 0,
      seq: 1,
      recordedAt: '2026-03-01T00:00:00.000Z',
    };
    for (const projection of allProjections.filter((candidate) => candidate !== podcastsProjection)) {
      expect(projection.evolve(projected, emptyView, { defaultPrivacy: 'public' }), projection.name).to.deep.equal([]);
    }
  });
});
