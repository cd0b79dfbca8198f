/**
 * A user's own records read ahead of the projector (src/services/own-records.ts): with the
 * projector stopped, subscriptions, play statuses and playlists answer at once what the read
 * models answer once caught up; a pending event that may change any record waits; a read the
 * projector's commits overtake is made again.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import type { Principal } from '../../src/services/accounts.js';
import type { Query } from '../../src/domain/documents.js';
import { ownRecords } from '../../src/services/own-records.js';
import { ReadModelsBehindError, ReadModelService } from '../../src/services/read-models.js';
import { UserEventService } from '../../src/services/user-events.js';
import { GpodderService } from '../../src/services/gpodder.js';
import { subscriptionsProjection } from '../../projections/subscriptions.js';
import { playStatusesProjection } from '../../projections/play-statuses.js';
import { playlistsProjection } from '../../projections/playlists.js';
import type { UserRecordProjection } from '../../projections/user-records.js';
import { appendCheckpoint } from '../support/checkpoint.js';

const feed = (n: number) => `https://feeds.example.com/${n}.xml`;
const episode = (n: number, e: number) => ({ rss_source_feed: feed(n), rss_source_id: `urn:${n}:${e}` });

/** A small random mix of the actions the three read models project (a seeded generator: the same every run). */
function actionsFor(seed: number, count: number, clock: { at: number }): object[] {
  let state = seed;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const int = (n: number) => Math.floor(random() * n);
  return Array.from({ length: count }, () => {
    const timestamp = new Date((clock.at += 1000 + int(60_000))).toISOString();
    // Some older than what is already there: newer wins.
    const at = random() < 0.2 ? new Date(clock.at - 3_600_000).toISOString() : timestamp;
    const [n, e] = [int(4), int(3)];
    switch (int(6)) {
      case 0:
        return { type: 'subscribe', timestamp: at, object: { rss_source_feed: feed(n) }, data: { rss_feed_title: `Podcast ${n}` } };
      case 1:
        return { type: 'unsubscribe', timestamp: at, object: { rss_source_feed: feed(n) }, data: {} };
      case 2:
        return {
          type: 'play',
          timestamp: at,
          object: episode(n, e),
          data: { played: random() < 0.3, position: int(3600), enclosure: { url: `https://cdn.example.com/${n}/${e}.mp3` } },
        };
      case 3:
        return { type: 'position', timestamp: at, object: episode(n, e), data: { position: int(3600) } };
      case 4:
        return {
          type: 'save',
          timestamp: at,
          object: episode(n, e),
          data: { ...(random() < 0.3 ? { playlist: 'later' } : {}), ...(random() < 0.2 ? { removed: true } : {}) },
        };
      default:
        return { type: 'share', timestamp: at, object: episode(n, e), data: { to: 'a friend' } };
    }
  });
}

describe('own records ahead of the projector', function () {
  this.timeout(60_000);
  let service: TestService;
  let readModels: ReadModelService;
  let users: UserEventService;
  let principal: Principal;
  before(async () => {
    service = await startTestService({}, { runProjector: false });
    await service.projector.acquireLeases();
    const { eventStore, readModel } = service.stores;
    // Waiting gives up after 300 ms: an answer with the projector stopped did not wait.
    readModels = new ReadModelService(eventStore, readModel, 300);
    users = new UserEventService(eventStore);
  });
  after(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    const { userId, username } = await service.login();
    principal = { userId, username, tokenId: null };
  });

  const queries = (user: string, since: number): [UserRecordProjection, Query][] => [
    [subscriptionsProjection, { where: { user }, orderBy: [{ field: 'created_at', direction: 'asc' }] }],
    [subscriptionsProjection, { where: { user }, greaterThan: { field: 'seq', value: since }, orderBy: [{ field: 'seq', direction: 'asc' }] }],
    [playStatusesProjection, { where: { user }, greaterThan: { field: 'seq', value: since }, orderBy: [{ field: 'seq', direction: 'asc' }] }],
    [playStatusesProjection, { where: { user }, greaterThan: { field: 'at', value: 0 }, orderBy: [{ field: 'seq', direction: 'asc' }] }],
    [playlistsProjection, { where: { user }, orderBy: [{ field: 'created_at', direction: 'asc' }] }],
  ];

  it('answers what the read models answer once caught up, at any point of a random history', async () => {
    const clock = { at: Date.parse('2026-03-01T10:00:00Z') };
    let since = 0;
    let answered = 0;
    for (let round = 0; round < 12; round++) {
      // Some projected, some pending, in appends of one to five actions.
      for (let append = 0; append < 1 + (round % 4); append++) {
        await users.appendActions(principal, actionsFor(round * 31 + append, 1 + ((round + append) % 5), clock) as never);
      }
      const ahead = [];
      for (const [projection, query] of queries(principal.userId, since)) ahead.push(await ownRecords(readModels, projection, principal.userId, query));
      const latest = Number((await readModels.latestPosition(principal.userId))!.commit);
      expect(
        ahead.every(({ cursor }) => cursor >= latest),
        'the cursor: at least the user’s latest event',
      ).to.equal(true);
      await service.projector.catchUp();
      for (const [i, [projection, query]] of queries(principal.userId, since).entries()) {
        const caughtUp = await ownRecords(readModels, projection, principal.userId, query);
        expect(ahead[i]!.docs, `round ${round}, ${projection.name} ${JSON.stringify(query)}`).to.deep.equal(caughtUp.docs);
        expect(caughtUp.cursor).to.be.at.least(latest);
      }
      answered += ahead.filter(({ docs }) => docs.length > 0).length;
      // Half the rounds project only part of what comes next.
      if (round % 2 === 1) await users.appendActions(principal, actionsFor(round, 2, clock) as never);
      since = ahead[1]!.cursor - 3;
    }
    expect(answered, 'answers with records').to.be.above(30);
  });

  it('answers the gpodder subscription changes ahead of the projector', async () => {
    const gpodder = new GpodderService(users, readModels);
    await gpodder.uploadSubscriptionChanges(principal, 'phone', [feed(1), feed(2)], []);
    await service.projector.catchUp();
    const first = await gpodder.subscriptionChanges(principal, 0);
    const now = new Date(Date.now() + 60_000).toISOString();
    await users.appendActions(principal, [
      { type: 'unsubscribe', timestamp: now, object: { rss_source_feed: feed(1) }, data: {} },
      { type: 'subscribe', timestamp: now, object: { rss_source_feed: feed(3) }, data: {} },
    ] as never);
    const next = await gpodder.subscriptionChanges(principal, first.timestamp);
    expect(next).to.deep.include({ add: [feed(3)], remove: [feed(1)] });
    expect(await gpodder.currentSubscriptions(principal)).to.deep.equal([
      { url: feed(2), title: null },
      { url: feed(3), title: null },
    ]);
    await service.projector.catchUp();
    expect(await gpodder.subscriptionChanges(principal, first.timestamp)).to.deep.include({ add: [feed(3)], remove: [feed(1)] });
    expect(await gpodder.subscriptionChanges(principal, next.timestamp)).to.deep.include({ add: [], remove: [] });
  });

  it('replays a pending event that may change any of the user’s records (a remove of everything, checkpoints)', async () => {
    const clock = { at: Date.parse('2026-03-01T10:00:00Z') };
    const { eventStore } = service.stores;
    const checkpoint = (truncateBefore: number | null) => appendCheckpoint(eventStore, principal.userId, truncateBefore);
    const compare = async (label: string) => {
      const ahead = [];
      for (const [projection, query] of queries(principal.userId, 0)) ahead.push(await ownRecords(readModels, projection, principal.userId, query));
      await service.projector.catchUp();
      for (const [i, [projection, query]] of queries(principal.userId, 0).entries()) {
        expect(ahead[i]!.docs, `${label}: ${projection.name} ${JSON.stringify(query)}`).to.deep.equal(
          (await ownRecords(readModels, projection, principal.userId, query)).docs,
        );
      }
      return ahead;
    };
    await users.appendActions(principal, actionsFor(7, 12, clock) as never);
    await service.projector.catchUp();
    await users.appendActions(principal, [{ type: 'remove', timestamp: new Date((clock.at += 60_000)).toISOString(), object: null, data: {} }] as never);
    await users.appendActions(principal, actionsFor(8, 6, clock) as never);
    const afterRemove = await compare('a remove of everything');
    expect(afterRemove.some(({ docs }) => docs.length > 0)).to.equal(true);
    await users.appendActions(principal, actionsFor(9, 6, clock) as never);
    await checkpoint(null);
    await users.appendActions(principal, actionsFor(10, 4, clock) as never);
    await compare('an erasure’s checkpoint');
    await checkpoint(5);
    await users.appendActions(principal, actionsFor(11, 4, clock) as never);
    await compare('a retention’s checkpoint');
  });

  it('answers as the read models do once caught up after any mix of actions, removes, checkpoints and catch-ups (property)', async function () {
    this.timeout(Number(process.env['PROPERTY_TIMEOUT_MS'] ?? 240_000));
    const { eventStore } = service.stores;
    const anOperation = fc.oneof(
      fc.record({ op: fc.constant('actions' as const), seed: fc.nat(), count: fc.integer({ min: 1, max: 6 }) }),
      fc.record({
        op: fc.constant('remove' as const),
        feed: fc.option(fc.nat(3), { nil: undefined }),
        episode: fc.option(fc.nat(2), { nil: undefined }),
      }),
      fc.record({ op: fc.constant('checkpoint' as const), truncate: fc.option(fc.nat(30), { nil: null }) }),
      fc.constant({ op: 'catch up' as const }),
    );
    await service.projector.catchUp();
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(anOperation, { maxLength: 10 }), fc.nat(), async (firstSeed, operations, sincePick) => {
        const { userId, username } = await service.login();
        principal = { userId, username, tokenId: null };
        const clock = { at: Date.parse('2026-03-01T10:00:00Z') };
        // Actions first: a checkpoint is of a stream that exists.
        await users.appendActions(principal, actionsFor(firstSeed, 3, clock) as never);
        const cursors = [0];
        for (const operation of operations) {
          switch (operation.op) {
            case 'actions':
              await users.appendActions(principal, actionsFor(operation.seed, operation.count, clock) as never);
              break;
            case 'remove': {
              const scope =
                operation.feed === undefined
                  ? null
                  : operation.episode === undefined
                    ? { rss_source_feed: feed(operation.feed) }
                    : episode(operation.feed, operation.episode);
              await users.appendActions(principal, [
                { type: 'remove', timestamp: new Date((clock.at += 60_000)).toISOString(), object: scope, data: {} },
              ] as never);
              break;
            }
            case 'checkpoint':
              await appendCheckpoint(eventStore, principal.userId, operation.truncate);
              break;
            case 'catch up':
              await service.projector.catchUp();
              cursors.push(Number((await readModels.latestPosition(principal.userId))!.commit));
              break;
          }
        }
        const since = cursors[sincePick % cursors.length]!;
        const ahead = [];
        for (const [projection, query] of queries(principal.userId, since)) ahead.push(await ownRecords(readModels, projection, principal.userId, query));
        await service.projector.catchUp();
        for (const [i, [projection, query]] of queries(principal.userId, since).entries()) {
          expect(ahead[i]!.docs, `${projection.name} ${JSON.stringify(query)}`).to.deep.equal(
            (await ownRecords(readModels, projection, principal.userId, query)).docs,
          );
        }
      }),
      { numRuns: Number(process.env['PROPERTY_RUNS'] ?? 40) },
    );
  });

  it('waits when more of the user’s events are pending than it reads ahead', async () => {
    const clock = { at: Date.parse('2026-03-01T10:00:00Z') };
    for (let append = 0; append < 8; append++) await users.appendActions(principal, actionsFor(11 + append, 5, clock) as never);
    const [projection, query] = queries(principal.userId, 0)[0]!;
    let error: unknown;
    // 40 pending: the latest and the first read back (16) pass 5, and more are left.
    await ownRecords(readModels, projection, principal.userId, query, { maxPending: 5 }).catch((caught: unknown) => (error = caught));
    expect(error).to.be.instanceOf(ReadModelsBehindError);
    const ahead = await ownRecords(readModels, projection, principal.userId, query, { maxPending: 40 });
    await service.projector.catchUp();
    expect(ahead.docs).to.deep.equal((await ownRecords(readModels, projection, principal.userId, query)).docs);
  });

  it('answers gpodder devices, sync groups and settings with the user’s writes at once, as once caught up', async () => {
    const gpodder = new GpodderService(users, readModels);
    await gpodder.updateDevice(principal, 'phone', { caption: 'Phone', type: 'mobile' });
    await service.projector.catchUp();
    // The projector is stopped and waiting gives up after 300 ms: these answers did not wait.
    await gpodder.updateDevice(principal, 'laptop', { caption: 'Laptop', type: 'laptop' });
    const settings = await gpodder.updateSettings(principal, { scope: 'device', device: 'phone' }, { wifi_only: true }, []);
    const groups = await gpodder.updateSyncGroups(principal, [['phone', 'laptop']], []);
    const ahead = {
      devices: await gpodder.listDevices(principal),
      status: await gpodder.syncStatus(principal),
      phone: await gpodder.settings(principal, { scope: 'device', device: 'phone' }),
      account: await gpodder.settings(principal, { scope: 'account' }),
    };
    expect(settings).to.deep.equal({ wifi_only: true });
    expect(groups).to.deep.equal({ synchronized: [['laptop', 'phone']], 'not-synchronized': [] });
    expect(ahead.devices.map((device) => device.id)).to.deep.equal(['laptop', 'phone']);
    await service.projector.catchUp();
    expect(ahead).to.deep.equal({
      devices: await gpodder.listDevices(principal),
      status: await gpodder.syncStatus(principal),
      phone: await gpodder.settings(principal, { scope: 'device', device: 'phone' }),
      account: await gpodder.settings(principal, { scope: 'account' }),
    });
  });

  it('answers gpodder favorites with the user’s saves and plays at once, as once caught up', async () => {
    const gpodder = new GpodderService(users, readModels);
    await users.appendActions(principal, actionsFor(21, 8, { at: Date.parse('2026-03-01T10:00:00Z') }) as never);
    await service.projector.catchUp();
    await users.appendActions(principal, [
      {
        type: 'play',
        timestamp: '2026-03-02T10:00:00Z',
        object: episode(7, 1),
        data: { played: false, position: 5, enclosure: { url: 'https://cdn.example.com/7/1.mp3' } },
      },
      { type: 'save', timestamp: '2026-03-02T10:01:00Z', object: episode(7, 1), data: { item_title: 'Saved ahead' } },
    ] as never);
    const ahead = await gpodder.favorites(principal);
    expect(ahead.find((favorite) => favorite.guid === 'urn:7:1')).to.deep.include({ url: 'https://cdn.example.com/7/1.mp3', title: 'Saved ahead' });
    await service.projector.catchUp();
    expect(ahead).to.deep.equal(await gpodder.favorites(principal));
  });

  it('answers a gpodder subscription upload without waiting, with a cursor that skips nothing', async () => {
    const gpodder = new GpodderService(users, readModels);
    await gpodder.uploadSubscriptionChanges(principal, 'phone', [feed(1), feed(3)], []);
    // The first upload is pending: the second neither waits nor answers a cursor past it.
    const uploaded = await gpodder.uploadSubscriptionChanges(principal, 'laptop', [feed(2)], [feed(1)]);
    const next = await gpodder.subscriptionChanges(principal, uploaded.timestamp);
    expect(next.add).to.have.members([feed(2), feed(3)]);
    expect(next.remove).to.deep.equal([feed(1)]);
    await service.projector.catchUp();
    expect(await gpodder.subscriptionChanges(principal, uploaded.timestamp)).to.deep.include({ add: next.add, remove: next.remove });
  });

  it('reads again when the projector commits while the documents are read', async () => {
    await users.appendActions(principal, [{ type: 'subscribe', timestamp: '2026-03-01T10:00:00Z', object: { rss_source_feed: feed(1) }, data: {} }] as never);
    await service.projector.catchUp();
    await users.appendActions(principal, [{ type: 'subscribe', timestamp: '2026-03-01T11:00:00Z', object: { rss_source_feed: feed(2) }, data: {} }] as never);
    const { readModel } = service.stores;
    const { getCheckpoint } = readModel;
    let calls = 0;
    // The second read of the first attempt sees a checkpoint further on: as if the projector had committed in between.
    readModel.getCheckpoint = async (name) => {
      const checkpoint = await getCheckpoint.call(readModel, name);
      return ++calls === 2 && checkpoint
        ? { ...checkpoint, position: { commit: checkpoint.position.commit + 1n, prepare: checkpoint.position.prepare + 1n } }
        : checkpoint;
    };
    let answer;
    try {
      answer = await ownRecords(readModels, subscriptionsProjection, principal.userId, queries(principal.userId, 0)[0]![1]);
    } finally {
      readModel.getCheckpoint = getCheckpoint;
    }
    expect(calls, 'two attempts, two checkpoint reads each').to.equal(4);
    expect(answer.docs.map(({ doc }) => doc['rss_source_feed'])).to.deep.equal([feed(1), feed(2)]);
  });
});
