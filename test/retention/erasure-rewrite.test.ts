/**
 * Erasure by rewrite (docs/design.md, "Erasure", the EventStoreDB way: src/retention/history.ts), run through the
 * event store port on the embedded store with no physical eraser, with the real projector:
 * - the stream reads as copies of the kept events, a snapshot and a checkpoint; `$tb` hides the
 *   rest; nothing of the erased scope is left in what the stream shows;
 * - the state folded from it is the state before, less the scope;
 * - projections count nothing twice (live read models equal rebuilt ones, popularity exact),
 *   and never re-publish what a later privacy change hid, not even between two batches;
 * - retention ages the copies by their originals' recorded times;
 * - a rewrite whose `$tb` write failed is finished by the next erasure or retention of the user.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import { EPISODE_POPULARITY } from '../../projections/popularity.js';
import { PUBLIC_EVENTS } from '../../projections/public-events.js';
import { RETENTION_INDEX } from '../../projections/retention-index.js';
import type { EventObject, UserEvent } from '../../src/domain/events.js';
import { episodeKey, fold } from '../../src/domain/state.js';
import type { StateEvent } from '../../src/domain/state.js';
import { checkpointState } from '../../src/domain/retention.js';
import { streams } from '../../src/domain/events.js';
import { formatStream, inspectStream } from '../../src/admin/stream.js';
import { silentLogger } from '../../src/logger.js';
import { Projector } from '../../src/projector/projector.js';
import { retainedAt, rewriteOrigin } from '../../src/retention/history.js';
import { RetentionService } from '../../src/retention/retention-service.js';
import { RETENTION } from '../../src/retention/types.js';
import type { Stores } from '../../src/runtime.js';
import { openStores } from '../../src/runtime.js';
import { envelopeOf, fromStoreEvent, toStoreEvent } from '../../src/services/codec.js';
import { ReadModelService } from '../../src/services/read-models.js';
import type { EventStore, RecordedEvent } from '../../src/stores/event-store.js';
import { readStreamOrEmpty } from '../../src/stores/event-store.js';
import type { Doc } from '../../src/stores/read-model.js';
import { dumpDocs, expectSameDocs, memoryReadModel } from '../projector/support.js';

const DAY = 24 * 60 * 60 * 1000;
const START = Date.UTC(2026, 0, 1);
const FEED_A = 'https://erased.example.com/feed.xml';
const FEED_B = 'https://kept.example.com/feed.xml';

const stateOf = (events: readonly RecordedEvent[]) => fold(events.map(fromStoreEvent).filter((event): event is StateEvent => event !== undefined));

describe('erasure by rewrite through the event store port (EventStoreDB semantics)', function () {
  this.timeout(60_000);
  let dataDir: string;
  let stores: Stores;
  let now = START;
  let projector: Projector;
  /** Public documents seen after each committed batch, once `watching` is set. */
  const seenPublic: Promise<Doc[]>[] = [];
  let watching = false;

  const projectorFor = (readModel: Stores['readModel'], onBatch?: () => void) =>
    new Projector({
      eventStore: stores.eventStore,
      readModel,
      projections: allProjections,
      context: { defaultPrivacy: 'private' },
      logger: silentLogger(),
      batchSize: 1,
      ...(onBatch ? { onBatch } : {}),
    });

  /** A pass or an erasure with no physical eraser: what runs against EventStoreDB. */
  const rewriting = (eventStore: EventStore = stores.eventStore) =>
    new RetentionService({
      eventStore,
      readModel: stores.readModel,
      readModels: new ReadModelService(eventStore, stores.readModel),
      projections: allProjections.map((projection) => projection.name),
      logger: silentLogger(),
    });

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-rewrite-'));
    stores = await openStores(
      { DATA_DIR: dataDir, STORE: 'embedded', READ_MODEL: 'embedded', EVENTSTORE_URL: undefined, MONGO_URL: undefined },
      { clock: () => new Date(now) },
    );
    projector = projectorFor(stores.readModel, () => {
      if (watching) seenPublic.push(stores.readModel.find(PUBLIC_EVENTS).then((docs) => docs.map(({ doc }) => doc)));
    });
    await projector.prepare();
  });
  after(async () => {
    await stores.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  let minute = 0;
  const at = () => new Date(START + minute++ * 60_000).toISOString();
  const episode = (feed: string, guid: string): EventObject => ({ rss_source_feed: feed, rss_source_id: guid });
  const write = async (user: string, day: number, ...events: Omit<UserEvent, 'id' | 'user' | 'timestamp'>[]) => {
    now = START + day * DAY;
    const full = events.map((event) => ({ ...event, id: randomUUID(), user, timestamp: at() }) as UserEvent);
    await stores.eventStore.append(
      streams.user(user),
      full.map((event) => toStoreEvent(event, { username: user })),
    );
    return full;
  };
  const read = (user: string) => readStreamOrEmpty(stores.eventStore, streams.user(user));

  async function expectRebuildEqualsLive(): Promise<void> {
    await projector.catchUp();
    const fresh = memoryReadModel();
    try {
      const rebuild = projectorFor(fresh.readModel);
      await rebuild.prepare();
      await rebuild.catchUp();
      expectSameDocs(await dumpDocs(stores.readModel, allProjections), await dumpDocs(fresh.readModel, allProjections));
    } finally {
      fresh.close();
    }
  }

  let annIds: string[] = [];

  it('rewrites the streams without the scope: exact state, no double counts, no re-publication', async () => {
    // ann was public, then went private; cat is public; bob is public and erases nothing.
    const annEvents = [
      ...(await write(
        'ann',
        0,
        { type: 'privacy', object: null, data: { privacy: 'public' } },
        { type: 'subscribe', object: { rss_source_feed: FEED_A }, data: { rss_feed_title: 'A' } },
      )),
      ...(await write(
        'ann',
        1,
        { type: 'play', object: episode(FEED_B, 'b1'), data: { played: true, position: 10, rss_item_title: 'B one' } },
        { type: 'share', object: episode(FEED_B, 'b1'), data: { message: 'listen' } },
      )),
      ...(await write(
        'ann',
        2,
        { type: 'sync_group', object: null, data: { synchronize: [['phone', 'laptop']], stop_synchronize: [] } },
        { type: 'sync_group', object: null, data: { synchronize: [], stop_synchronize: ['phone'] } },
      )),
      ...(await write(
        'ann',
        3,
        { type: 'sync_group', object: null, data: { synchronize: [['phone', 'tablet']], stop_synchronize: [] } },
        { type: 'privacy', object: null, data: { privacy: 'private' } },
      )),
      ...(await write('ann', 4, { type: 'play', object: episode(FEED_A, 'a1'), data: { played: false, position: 5 } })),
    ];
    annIds = annEvents.map((event) => event.id);
    await write(
      'cat',
      1,
      { type: 'privacy', object: null, data: { privacy: 'public' } },
      { type: 'subscribe', object: { rss_source_feed: FEED_B }, data: { rss_feed_title: 'B' } },
    );
    await write(
      'cat',
      2,
      { type: 'play', object: episode(FEED_A, 'a1'), data: { played: true, position: 100, rss_item_title: 'A one' } },
      { type: 'save', object: episode(FEED_A, 'a1'), data: { item_title: 'A one' } },
    );
    await write(
      'cat',
      3,
      { type: 'play', object: episode(FEED_B, 'b1'), data: { played: true, position: 20 } },
      { type: 'save', object: episode(FEED_B, 'b1'), data: { playlist: 'later' } },
    );
    await write(
      'bob',
      3,
      { type: 'privacy', object: null, data: { privacy: 'public' } },
      { type: 'play', object: episode(FEED_B, 'b1'), data: { played: true, position: 7 } },
    );
    await write('bob', 4, { type: 'play', object: episode(FEED_A, 'a1'), data: { played: true, position: 8 } });
    await projector.catchUp();
    expect((await stores.readModel.get(EPISODE_POPULARITY, episodeKey(FEED_A, 'a1')))?.['plays']).to.equal(2);

    await write('ann', 29, { type: 'remove', object: { rss_source_feed: FEED_A }, data: {} });
    await write('cat', 29, { type: 'remove', object: { rss_source_feed: FEED_A }, data: {} });
    await projector.catchUp();
    const before = { ann: await read('ann'), cat: await read('cat') };

    now = START + 30 * DAY;
    const retention = rewriting();
    expect(await retention.eraseScopes('ann', new Date(now), { waitForProjections: true })).to.equal(3);
    expect(await retention.eraseScopes('cat', new Date(now), { waitForProjections: true })).to.equal(3);

    for (const user of ['ann', 'cat'] as const) {
      const after = await read(user);
      const originals = before[user];
      const kept = originals.filter((event) => !JSON.stringify(event.data).includes(FEED_A));
      // Copies of the kept events, in order, then the snapshot and the checkpoint.
      expect(after.map((event) => event.type)).to.deep.equal([...kept.map((event) => event.type), 'snapshot', 'checkpoint']);
      expect(
        after.some((event) => JSON.stringify([event.data, event.metadata]).includes(FEED_A)),
        `${user}: the erased feed is still readable`,
      ).to.equal(false);
      for (const [index, copy] of after.slice(0, kept.length).entries()) {
        const original = kept[index]!;
        // The same domain event, its original's id included (the copy's own store id is another).
        expect(envelopeOf(copy)).to.deep.equal(envelopeOf(original));
        expect(copy.id).to.not.equal(original.id);
        expect(copy.metadata['username']).to.equal(user);
        expect(rewriteOrigin(copy.metadata)).to.deep.include({
          event_id: original.id,
          revision: original.revision.toString(),
          recorded_at: original.recordedAt.toISOString(),
        });
        expect(retainedAt(copy).getTime()).to.equal(original.recordedAt.getTime());
      }
      const { metadata } = await stores.eventStore.getStreamMetadata(streams.user(user));
      expect(metadata.truncateBefore).to.equal(originals.at(-1)!.revision + 1n);
      expect(after[0]!.revision).to.equal(metadata.truncateBefore);
      const checkpoint = after.at(-1)!.data['data'] as { truncate_before: number; retained_from: string; reason: string };
      expect(checkpoint).to.include({ truncate_before: Number(metadata.truncateBefore), reason: 'erasure', retained_from: kept[0]!.recordedAt.toISOString() });
      // The state: the same as before, less the scope (the `remove` took it out of the fold).
      expect(stateOf(after), `state of ${user}`).to.deep.equal(checkpointState(stateOf(originals), new Date(now), RETENTION.forgetTombstonesAfterDays));
    }
    // Admins see each copy with its original's revision and recorded time.
    const inspection = await inspectStream(stores.eventStore, {
      id: 'cat',
      username: 'cat',
      passwordHash: '',
      createdAt: new Date(START).toISOString(),
      disabled: false,
      deleting: false,
    });
    expect(inspection.truncate_before).to.equal(String(before.cat.at(-1)!.revision + 1n));
    expect(inspection.events[0]!.rewritten_from).to.deep.equal({ revision: '0', recorded_at: before.cat[0]!.recordedAt.toISOString() });
    expect(inspection.events.at(-1)!.rewritten_from).to.equal(null);
    expect(formatStream(inspection)).to.contain(`${before.cat[0]!.recordedAt.toISOString()} (copy of r0)`);
    expect(stateOf(await read('ann')).sync_groups).to.deep.equal([['phone', 'tablet']]);
    expect(stateOf(await read('ann')).privacy.account).to.equal('private');

    // Project the rewrites one event per batch: ann's events must never be public again.
    watching = true;
    await projector.catchUp();
    watching = false;
    const snapshots = await Promise.all(seenPublic);
    expect(snapshots.length).to.be.greaterThan(10);
    for (const docs of snapshots) expect(docs.filter((doc) => annIds.includes(String(doc['id'])))).to.deep.equal([]);

    // Counted once: cat's and bob's plays of b1, bob's of a1; cat's feed B events still public.
    expect((await stores.readModel.get(EPISODE_POPULARITY, episodeKey(FEED_B, 'b1')))?.['plays']).to.equal(2);
    expect((await stores.readModel.get(EPISODE_POPULARITY, episodeKey(FEED_A, 'a1')))?.['plays']).to.equal(1);
    const publicDocs = (await stores.readModel.find(PUBLIC_EVENTS)).map(({ doc }) => doc);
    expect(
      publicDocs
        .filter((doc) => doc['user'] === 'cat')
        .map((doc) => `${doc['type']} ${(doc['object'] as { rss_source_feed: string }).rss_source_feed}`)
        .sort(),
    ).to.deep.equal([`play ${FEED_B}`, `save ${FEED_B}`, `subscribe ${FEED_B}`]);
    expect(publicDocs.some((doc) => doc['feed'] === FEED_A && doc['user'] !== 'bob')).to.equal(false);
    await expectRebuildEqualsLive();
  });

  it('retention ages the copies by their originals: they go when the originals would have', async () => {
    // Day 50: the originals (days 0-4) are past 45 days, their copies were written on day 30.
    now = START + 50 * DAY;
    const stateBefore = stateOf(await read('cat'));
    const summary = await rewriting().run(new Date(now));
    expect(summary.usersSnapshotted).to.equal(3);
    for (const user of ['ann', 'bob', 'cat']) {
      // No copy is left; what stays is younger than 31 days (the erasure's own checkpoint, for two).
      const events = await read(user);
      const expected = user === 'bob' ? ['checkpoint'] : ['snapshot', 'checkpoint', 'snapshot', 'checkpoint'];
      expect(
        events.map((event) => event.type),
        user,
      ).to.deep.equal(expected);
      expect(events.every((event) => retainedAt(event).getTime() >= now - RETENTION.truncateAfterDays * DAY)).to.equal(true);
    }
    expect(stateOf(await read('cat'))).to.deep.equal(checkpointState(stateBefore, new Date(now), RETENTION.forgetTombstonesAfterDays));
    await projector.catchUp();
    expect((await rewriting().run(new Date(now))).usersSnapshotted, 'a second pass').to.equal(0);
    await expectRebuildEqualsLive();
  });

  it('a rewrite whose $tb write failed is finished by the next pass, or erasure, without a second copy', async () => {
    now = START + 60 * DAY;
    const failingOnce = () => {
      let failures = 0;
      return new Proxy(stores.eventStore, {
        get(target, property, receiver) {
          if (property === 'setStreamMetadata' && failures++ === 0) return () => Promise.reject(new Error('connection lost'));
          const value = Reflect.get(target, property, receiver) as unknown;
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    };
    const originals = new Map<string, RecordedEvent[]>();
    for (const user of ['dan', 'eve']) {
      await write(
        user,
        60,
        { type: 'subscribe', object: { rss_source_feed: FEED_A }, data: {} },
        { type: 'subscribe', object: { rss_source_feed: FEED_B }, data: {} },
      );
      await write(user, 60, { type: 'remove', object: { rss_source_feed: FEED_A }, data: {} });
      await projector.catchUp();
      originals.set(user, await read(user));
      let error: unknown;
      await rewriting(failingOnce())
        .eraseScopes(user, new Date(now), { waitForProjections: false })
        .catch((caught: unknown) => (error = caught));
      expect(String(error)).to.contain('connection lost');
      // Appended but not truncated: the checkpoint, last, still gives the right state.
      const unfinished = await read(user);
      expect(unfinished.length).to.equal(originals.get(user)!.length + 3);
      expect(Object.keys(stateOf(unfinished).subscriptions)).to.deep.equal([FEED_B]);
    }
    await projector.catchUp();
    expect(await stores.readModel.get(RETENTION_INDEX, 'dan')).to.deep.include({
      rewrite_unconfirmed: true,
      rewritten_before: Number(originals.get('dan')!.at(-1)!.revision + 1n),
    });

    // eve: her next erasure sets the missing $tb before anything else.
    expect(await rewriting().eraseScopes('eve', new Date(now), { waitForProjections: false })).to.equal(0);
    expect((await read('eve'))[0]!.revision).to.equal(originals.get('eve')!.at(-1)!.revision + 1n);
    expect((await read('dan'))[0]!.revision).to.equal(0n);
    // dan: so does the next pass, although he is neither due nor pending any more.
    expect((await rewriting().run(new Date(now))).usersConsidered).to.equal(0);
    for (const user of ['dan', 'eve']) {
      const finished = await read(user);
      expect(
        finished.map((event) => event.type),
        user,
      ).to.deep.equal(['subscribe', 'snapshot', 'checkpoint']);
      expect(finished[0]!.revision).to.equal(originals.get(user)!.at(-1)!.revision + 1n);
    }
    await expectRebuildEqualsLive();
  });
});
