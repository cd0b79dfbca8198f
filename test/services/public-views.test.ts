/**
 * The public views keep their answers while the read models they come from stand still
 * (src/services/public-views.ts, AnswerCache): the same question asks the store once, and a
 * projector commit (a play, a user going private) is in the next answer at once. With
 * PUBLIC_CACHE_MS (docs/design.md, "Public answers"), a young answer outlives commits that only
 * add, never a withdrawal.
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { PublicViews } from '../../src/services/public-views.js';
import type { ReadModelStore } from '../../src/stores/read-model.js';

const FEED = 'https://a.example.com/feed.xml';

/** The store, counting the documents it is asked for (find and getMany calls). */
function counting(store: ReadModelStore): { store: ReadModelStore; reads: () => number } {
  let reads = 0;
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if ((property === 'find' || property === 'getMany') && typeof value === 'function')
        return (...args: unknown[]) => {
          reads += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: counted, reads: () => reads };
}

describe('PublicViews answers kept while the read models stand still', function () {
  this.timeout(20_000);
  let service: TestService;
  before(async () => {
    service = await startTestService({ DEFAULT_PRIVACY: 'private' });
  });
  after(async () => service.stop());

  const post = async (token: string, events: unknown[]) => service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events }).expect(201);
  const play = (timestamp: string, guid: string) => ({
    type: 'play',
    timestamp,
    object: { rss_source_feed: FEED, rss_source_id: guid },
    data: { played: true, position: 60 },
  });

  it('asks the store once for the same question, again after a commit, and answers what the commit changed', async () => {
    const user = await service.login();
    await post(user.token, [
      { type: 'privacy', timestamp: '2026-01-02T09:00:00Z', object: null, data: { privacy: 'public' } },
      play('2026-01-02T10:00:00Z', 'e1'),
    ]);
    await service.settle();
    const { store, reads } = counting(service.stores.readModel);
    const views = new PublicViews(store);

    const first = await views.popularEpisodes(10, FEED);
    const afterFirst = reads();
    expect(afterFirst).to.be.above(0);
    expect(first.map((episode) => episode['rss_source_item'])).to.deep.equal(['e1']);
    expect(await views.popularEpisodes(10, FEED)).to.deep.equal(first);
    const events = await views.events({ limit: 10 });
    const afterEvents = reads();
    expect(await views.events({ limit: 10 })).to.deep.equal(events);
    expect(reads(), 'the same questions again, nothing committed in between').to.equal(afterEvents);
    expect(afterEvents).to.be.above(afterFirst);

    await post(user.token, [play('2026-01-02T11:00:00Z', 'e2')]);
    await service.settle();
    const second = await views.popularEpisodes(10, FEED);
    expect(reads(), 'asked again after the commit').to.be.above(afterEvents);
    expect(second.map((episode) => episode['rss_source_item'])).to.have.members(['e1', 'e2']);

    const mine = (answer: Awaited<ReturnType<PublicViews['events']>>) => answer.events.filter((event) => 'user' in event && event.user === user.username);
    expect(mine(await views.events({ limit: 10 }))).to.have.length(2);
    await post(user.token, [{ type: 'privacy', timestamp: '2026-01-02T12:00:00Z', object: null, data: { privacy: 'private' } }]);
    await service.settle();
    expect(mine(await views.events({ limit: 10 })), 'gone private: gone from the answer at once').to.deep.equal([]);
    const served = await service.http.get('/v1/public/events').expect(200);
    expect((served.body as { events: { user?: string }[] }).events.filter((event) => event.user === user.username)).to.deep.equal([]);
  });

  it("a feed's popular episodes: its own only (not a feed whose URL starts with its), most played first", async () => {
    // Found by a range of ids (an episode's key begins with its feed), with no index on the feed.
    const other = `${FEED}2`;
    const playOf = (feed: string, guid: string, timestamp: string) => ({ ...play(timestamp, guid), object: { rss_source_feed: feed, rss_source_id: guid } });
    const listeners = [await service.login(), await service.login()];
    for (const [at, listener] of listeners.entries()) {
      await post(listener.token, [
        { type: 'privacy', timestamp: `2026-01-03T0${at}:00:00Z`, object: null, data: { privacy: 'public' } },
        playOf(FEED, 'often', `2026-01-03T0${at}:01:00Z`),
        playOf(other, 'elsewhere', `2026-01-03T0${at}:02:00Z`),
      ]);
    }
    await post(listeners[0]!.token, [playOf(FEED, 'once', '2026-01-03T05:00:00Z')]);
    await service.settle();
    const episodes = await new PublicViews(service.stores.readModel).popularEpisodes(10, FEED);
    const often = episodes.findIndex((episode) => episode['rss_source_item'] === 'often');
    expect(episodes.every((episode) => episode['rss_source_feed'] === FEED)).to.equal(true);
    expect(episodes.map((episode) => episode['rss_source_item'])).to.include.members(['often', 'once']);
    expect(often, 'two plays before one').to.be.below(episodes.findIndex((episode) => episode['rss_source_item'] === 'once'));
    const elsewhere = await new PublicViews(service.stores.readModel).popularEpisodes(10, other);
    expect(elsewhere.map((episode) => [episode['rss_source_item'], episode['plays']])).to.deep.equal([['elsewhere', 2]]);
  });

  it('does not keep an answer whose making failed', async () => {
    let fail = true;
    const store = new Proxy(service.stores.readModel, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (property === 'find' && fail) return () => Promise.reject(new Error('store unreachable'));
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const views = new PublicViews(store);
    let error: unknown;
    await views.popularPodcasts(5).catch((caught: unknown) => (error = caught));
    expect(error).to.be.instanceOf(Error);
    fail = false;
    expect(await views.popularPodcasts(5)).to.be.an('array');
  });

  // After the tests above (mocha runs a suite's own tests before its children's): they expect FEED's plays as they left them.
  describe('for a while across commits that only add (PUBLIC_CACHE_MS)', () => {
    const goPublic = (timestamp: string) => ({ type: 'privacy', timestamp, object: null, data: { privacy: 'public' } });
    const playOf = (guid: string, timestamp: string) => play(timestamp, guid);
    const guids = (episodes: Awaited<ReturnType<PublicViews['popularEpisodes']>>) => episodes.map((episode) => episode['rss_source_item']).sort();
    const usersIn = (answer: Awaited<ReturnType<PublicViews['events']>>) => new Set(answer.events.map((event) => ('user' in event ? event.user : undefined)));

    /** A public listener who played `guid`, projected. */
    async function listener(guid: string, timestamp: string) {
      const user = await service.login();
      await post(user.token, [goPublic(timestamp), playOf(guid, timestamp)]);
      await service.settle();
      return user;
    }

    it('serves an answer again after commits that only add, for as long as it is young, then makes it anew', async () => {
      await listener('kept-1', '2026-02-01T10:00:00Z');
      // Public before the answers are made: a privacy choice, either way, is a withdrawal.
      const second = await listener('kept-0', '2026-02-01T10:30:00Z');
      const { store, reads } = counting(service.stores.readModel);
      const young = new PublicViews(store, { reuseForMs: 60_000 });
      const exact = new PublicViews(service.stores.readModel);
      const brief = new PublicViews(service.stores.readModel, { reuseForMs: 300 });
      const first = await young.popularEpisodes(50, FEED);
      await brief.popularEpisodes(50, FEED);
      expect(guids(first)).to.include('kept-1');

      await post(second.token, [playOf('kept-2', '2026-02-01T11:00:00Z')]);
      await service.settle();
      const before = reads();
      expect(await young.popularEpisodes(50, FEED), 'a play only adds: the young answer is served again').to.deep.equal(first);
      expect(reads() - before, 'one read: the withdrawal records, no document').to.equal(1);
      expect(guids(await exact.popularEpisodes(50, FEED)), 'without reuse: the new play at once').to.include('kept-2');
      expect(guids(await brief.popularEpisodes(50, FEED))).to.not.include('kept-2');
      await new Promise((resolve) => setTimeout(resolve, 350));
      expect(guids(await brief.popularEpisodes(50, FEED)), 'older than its 300 ms: made anew').to.include('kept-2');
    });

    for (const [kind, withdraw] of [
      [
        'going private',
        async (token: string) => post(token, [{ type: 'privacy', timestamp: '2026-02-02T12:00:00Z', object: null, data: { privacy: 'private' } }]),
      ],
      ['an erasure', async (token: string) => post(token, [{ type: 'remove', timestamp: '2026-02-02T12:00:00Z', object: null, data: {} }])],
      ['deleting the account', async (token: string) => service.http.delete('/v1/me').set('Authorization', `Bearer ${token}`).expect(204)],
    ] as const) {
      it(`a withdrawal (${kind}) is never served once its projections applied it, however young the answer`, async () => {
        const user = await listener(`withdrawn-${kind.replace(/ /g, '-')}`, '2026-02-02T10:00:00Z');
        const views = new PublicViews(service.stores.readModel, { reuseForMs: 60_000 });
        expect(usersIn(await views.events({ limit: 200 }))).to.include(user.username);
        expect(guids(await views.popularEpisodes(50, FEED))).to.include(`withdrawn-${kind.replace(/ /g, '-')}`);
        const servedUsers = async () =>
          ((await service.http.get('/v1/public/events?limit=200').expect(200)).body as { events: { user?: string }[] }).events.map((event) => event.user);
        expect(await servedUsers(), "the service's own answer, kept (PUBLIC_CACHE_MS)").to.include(user.username);
        await withdraw(user.token);
        await service.settle();
        expect(usersIn(await views.events({ limit: 200 })), 'gone from the timeline at once').to.not.include(user.username);
        expect(guids(await views.popularEpisodes(50, FEED)), 'and from popularity').to.not.include(`withdrawn-${kind.replace(/ /g, '-')}`);
        expect(await servedUsers(), "the service's own answer").to.not.include(user.username);
      });
    }
  });
});
