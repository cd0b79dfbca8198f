/**
 * Known-absent documents (src/projector/written-ids.ts, LoadingView.trackAbsence): a projection
 * tells which documents do not exist from the ids its collections held when it first read them
 * by id and the ids it has committed since, instead of asking the store. The Bloom filter may
 * say "written" wrongly, never "not written" wrongly.
 */
import { expect } from 'chai';
import { subscriptionsProjection, SUBSCRIPTIONS } from '../../projections/subscriptions.js';
import { streams } from '../../src/domain/events.js';
import { silentLogger } from '../../src/logger.js';
import { Projector, type ProjectorOptions } from '../../src/projector/projector.js';
import { WrittenIds } from '../../src/projector/written-ids.js';
import { toStoreEvent } from '../../src/services/codec.js';
import { SqliteEventStore } from '../../src/stores/embedded/index.js';
import { START } from '../../src/stores/event-store.js';
import type { CommitOptions, ProjectionCommit, ReadModelStore } from '../../src/stores/read-model.js';
import type { Projection } from '../../projections/projection.js';
import { put } from '../../projections/projection.js';
import { memoryStores } from './support.js';

const FEED = 'https://e.example.com/feed.xml';

/** The read model, counting the ids asked of getMany. */
function countingReads(readModel: ReadModelStore): { readModel: ReadModelStore; idsAsked: () => number } {
  let asked = 0;
  const wrapped = new Proxy(readModel, {
    get(target, property, receiver) {
      if (property === 'getMany') {
        return (collection: string, ids: readonly string[]) => {
          asked += ids.length;
          return target.getMany(collection, ids);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { readModel: wrapped, idsAsked: () => asked };
}

describe('WrittenIds (Bloom filter of the ids a projection wrote)', function () {
  it('never says "not written" of an id it was given, through many growths', function () {
    const ids = new WrittenIds();
    for (let n = 0; n < 300_000; n++) ids.add(`user-${n % 977}|["https://feeds.example.com/${n}/rss.xml","urn:episode:${n}"]`);
    expect(ids.size).to.be.within(290_000, 300_000);
    for (let n = 0; n < 300_000; n++)
      expect(ids.mayHave(`user-${n % 977}|["https://feeds.example.com/${n}/rss.xml","urn:episode:${n}"]`), `id ${n}`).to.equal(true);
  });

  it('says "written" of few ids it was not given (a needless load each), in about 10 bits per id', function () {
    const ids = new WrittenIds();
    for (let n = 0; n < 100_000; n++) ids.add(`user-${n}|feed-${n % 50}`);
    let wrong = 0;
    for (let n = 100_000; n < 200_000; n++) if (ids.mayHave(`user-${n}|feed-${n % 50}`)) wrong++;
    expect(wrong / 100_000).to.be.below(0.03);
    // Layers double: at most about twice the final layer's 10 bits per id.
    expect(ids.bytes).to.be.below((100_000 * 10 * 2.5) / 8);
  });
});

describe('absence tracking in the projector', function () {
  let eventStore: SqliteEventStore;
  let close: () => Promise<void>;
  let base: ReadModelStore;

  beforeEach(async function () {
    ({ eventStore, readModel: base, close } = memoryStores());
  });

  afterEach(async function () {
    await close();
  });

  const SUBSCRIBED_AT = '2026-01-01T00:00:00.000Z';
  const UNSUBSCRIBED_AT = '2026-01-02T00:00:00.000Z';

  async function append(user: string, type: 'subscribe' | 'unsubscribe', n: number): Promise<void> {
    const timestamp = type === 'subscribe' ? SUBSCRIBED_AT : UNSUBSCRIBED_AT;
    const event = { id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, user, timestamp, type, object: { rss_source_feed: FEED }, data: {} };
    await eventStore.append(streams.user(user), [toStoreEvent(event, { username: user })]);
  }

  /** A catch-up of the subscriptions, in batches of 5 with 2 documents cached, unless `options` say otherwise. */
  async function catchUp(readModel: ReadModelStore, options: Partial<ProjectorOptions> = {}): Promise<void> {
    const projector = new Projector({
      eventStore,
      readModel,
      projections: [subscriptionsProjection],
      context: { defaultPrivacy: 'private' },
      logger: silentLogger(),
      batchSize: 5,
      cachedDocs: 2,
      owner: 'test',
      ...options,
    });
    expect(await projector.acquireLeases(false)).to.equal(true);
    try {
      await projector.prepare();
      await projector.catchUp();
    } finally {
      await projector.stop();
    }
  }

  it('from empty collections, asks the store only for documents it wrote (and so may exist)', async function () {
    // 40 users subscribe, then each unsubscribes: the subscribe finds nothing (known absent),
    // the unsubscribe reads the document back (the cache holds 2 documents).
    for (let n = 0; n < 40; n++) await append(`u${n}`, 'subscribe', n);
    for (let n = 0; n < 40; n++) await append(`u${n}`, 'unsubscribe', 100 + n);
    const counted = countingReads(base);
    await catchUp(counted.readModel);
    const docs = await base.find(SUBSCRIPTIONS);
    expect(docs).to.have.length(40);
    // Each unsubscribe saw its subscribe: both dates are kept.
    for (const { doc } of docs) expect([doc['subscribed_at'], doc['unsubscribed_at']]).to.deep.equal([SUBSCRIBED_AT, UNSUBSCRIBED_AT]);
    expect(counted.idsAsked()).to.be.at.least(30).and.at.most(45);
  });

  it('with the option off, asks the store for every document it lacks', async function () {
    for (let n = 0; n < 40; n++) await append(`u${n}`, 'subscribe', n);
    for (let n = 0; n < 40; n++) await append(`u${n}`, 'unsubscribe', 100 + n);
    const counted = countingReads(base);
    await catchUp(counted.readModel, { trackAbsence: false });
    expect(counted.idsAsked()).to.equal(80);
  });

  it('over documents already there (no checkpoint), learns their ids: asks the store for those only', async function () {
    // A document without a checkpoint: e.g. left by a read model restored without its checkpoints.
    const restored = {
      rss_source_feed: FEED,
      rss_feed_title: null,
      subscribed_at: '2025-06-01T00:00:00.000Z',
      unsubscribed_at: null,
      created_at: '2025-06-01T00:00:00.000Z',
      user: 'u1',
      key: FEED,
      seq: 1,
      rev: 0,
    };
    await base.commit('elsewhere', [{ op: 'put', collection: SUBSCRIPTIONS, id: `u1|${FEED}`, doc: restored }], START);
    await append('u1', 'unsubscribe', 1);
    await append('u2', 'subscribe', 2);
    const counted = countingReads(base);
    await catchUp(counted.readModel);
    // Had it taken the collection for empty, u1's unsubscribe would have lost the subscription date.
    const u1 = await base.get(SUBSCRIPTIONS, `u1|${FEED}`);
    expect([u1?.['subscribed_at'], u1?.['unsubscribed_at']]).to.deep.equal(['2025-06-01T00:00:00.000Z', UNSUBSCRIBED_AT]);
    // u1's document (it exists), not u2's (its id is not among the collection's).
    expect(counted.idsAsked()).to.equal(1);
  });

  it('learns the ids of a collection while a commit that writes it is in flight, and still finds those documents later', async function () {
    // A projection that writes `marks` on subscribe without reading it, and reads it by id on
    // unsubscribe: its first read by id (of a document nobody wrote) comes in the batch after the
    // subscribes, whose commit is still in flight (pipelined, each commit held back) when the
    // collection's ids are read: they are learnt from that commit once it has landed.
    const MARKS = 'marks';
    const marks: Projection = {
      name: 'marks',
      collections: [{ name: MARKS, indexes: [] }],
      evolve({ event, user }, view) {
        if (event.type === 'subscribe') return [put(MARKS, user, { n: 1 })];
        if (event.type !== 'unsubscribe') return [];
        const n = Number(view.get(MARKS, user)?.['n'] ?? 0);
        return [put(MARKS, user, { n: n + 1 })];
      },
    };
    for (let n = 0; n < 5; n++) await append(`u${n}`, 'subscribe', n);
    await append('w', 'unsubscribe', 100);
    // Other users' documents push those out of the cache (2 documents)...
    for (let n = 0; n < 19; n++) await append(`v${n}`, 'subscribe', 200 + n);
    // ...so these read them back from the store, where the filter must not call them absent.
    for (let n = 0; n < 5; n++) await append(`u${n}`, 'unsubscribe', 300 + n);
    await catchUp(base, {
      projections: [marks],
      pipeline: true,
      commitAll: async (commits: readonly ProjectionCommit[], options?: CommitOptions) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        await base.commitAll(commits, options);
      },
    });
    const docs = new Map((await base.find(MARKS)).map(({ id, doc }) => [id, doc['n']]));
    expect([0, 1, 2, 3, 4].map((n) => docs.get(`u${n}`))).to.deep.equal([2, 2, 2, 2, 2]);
    expect(docs.get('w')).to.equal(1);
  });

  it('after a restart on a grown read model (the live case): reads the documents that exist, not those it is about to create', async function () {
    for (let n = 0; n < 40; n++) await append(`old${n}`, 'subscribe', n);
    await catchUp(base);
    // Another projector (a restart): new users subscribe, the earlier ones unsubscribe.
    for (let n = 0; n < 40; n++) await append(`new${n}`, 'subscribe', 100 + n);
    for (let n = 0; n < 40; n++) await append(`old${n}`, 'unsubscribe', 200 + n);
    const counted = countingReads(base);
    await catchUp(counted.readModel);
    const docs = await base.find(SUBSCRIPTIONS);
    expect(docs).to.have.length(80);
    for (const { id, doc } of docs) {
      const expected = id.startsWith('old') ? [SUBSCRIBED_AT, UNSUBSCRIBED_AT] : [SUBSCRIBED_AT, null];
      expect([doc['subscribed_at'], doc['unsubscribed_at']], id).to.deep.equal(expected);
    }
    // The 40 earlier users' documents (and a few false "written" at most), none of the new ones' (~80 without).
    expect(counted.idsAsked()).to.be.at.least(40).and.at.most(45);
  });
});
