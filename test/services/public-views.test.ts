/**
 * The public views keep their answers while the read models they come from stand still
 * (src/services/public-views.ts, AnswerCache): the same question asks the store once, and a
 * projector commit (a play, a user going private) is in the next answer at once.
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
});
