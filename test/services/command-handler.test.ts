/**
 * The one write path (src/services/command-handler.ts): a decision is taken on the user folded
 * at the revision its append expects; a concurrent writer between the load and the append makes
 * it load and decide again (nothing lost, nothing written twice); client event ids make a retried `POST /v1/events` add nothing, on the embedded
 * store and on the EventStoreDB adapter (over its stand-in client), which a retry reaches
 * expecting the revision its original left.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ActionInput, UserEvent } from '../../src/domain/events.js';
import { streams } from '../../src/domain/events.js';
import { subscribedFeeds } from '../../src/domain/gpodder-commands.js';
import type { Principal } from '../../src/services/accounts.js';
import { toStoreEvent } from '../../src/services/codec.js';
import { toJsonObject } from '../../src/domain/json.js';
import { EventIdConflictError, handleCommand } from '../../src/services/command-handler.js';
import type { FoldedUser } from '../../src/services/folded-user.js';
import { UserEventService } from '../../src/services/user-events.js';
import { UserStateCache } from '../../src/services/user-state-cache.js';
import type { EventStore } from '../../src/stores/event-store.js';
import { readStreamOrEmpty, WrongExpectedVersionError } from '../../src/stores/event-store.js';
import { SqliteEventStore } from '../../src/stores/embedded/sqlite-event-store.js';
import { EventStoreDbEventStore } from '../../src/stores/eventstoredb/index.js';
import { FakeEsdbClient } from '../stores/fixtures/fake-esdb-client.js';
import { uuidOf } from '../domain/spec.js';

const USER_ID = '5b1c9a2e-0d7f-4a8e-9c41-2f3e4d5a6b7c';
const principal: Principal = { userId: USER_ID, username: 'alice', tokenId: null };
const FEED_A = 'https://a.example/feed.xml';
const FEED_B = 'https://b.example/feed.xml';

let nextId = 0x5000;
const subscribe = (feed: string, minute: number): UserEvent => ({
  id: uuidOf(nextId++),
  user: USER_ID,
  timestamp: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(),
  type: 'subscribe',
  object: { rss_source_feed: feed },
  data: {},
});

const stores: { name: string; open: () => { store: EventStore; close: () => Promise<void> } }[] = [
  {
    name: 'embedded store',
    open: () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'podsync-command-'));
      const store = SqliteEventStore.open(path.join(dir, 'events.db'));
      return {
        store,
        close: async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'EventStoreDB adapter (stand-in client)',
    open: () => {
      const store = new EventStoreDbEventStore(new FakeEsdbClient().client);
      return { store, close: () => store.close() };
    },
  },
];

for (const { name, open } of stores) {
  describe(`handleCommand on the ${name}`, function () {
    let store: EventStore;
    let close: () => Promise<void>;
    let userEvents: UserEventService;
    /** Writes of another device, each landing just before the service's next append. */
    let interleaved: (() => Promise<unknown>)[];

    beforeEach(function () {
      ({ store, close } = open());
      interleaved = [];
      const racing = new Proxy(store, {
        get(target, property) {
          if (property === 'append') {
            return async (...args: Parameters<EventStore['append']>) => {
              await interleaved.shift()?.();
              return target.append(...args);
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      userEvents = new UserEventService(racing);
    });
    afterEach(async function () {
      await close();
    });

    const stored = async () => (await readStreamOrEmpty(store, streams.user(USER_ID))).map((event) => event.id);
    const writeConcurrently = (event: UserEvent) =>
      store.append(streams.user(USER_ID), [toStoreEvent(event, { username: 'alice' })], { expectedRevision: 'any' });

    it('appends what the decision gives, expecting the revision it was decided on', async function () {
      await writeConcurrently(subscribe(FEED_A, 1));
      const outcome = await handleCommand(userEvents, principal, (user) => ({ events: [subscribe(FEED_B, 2)], result: user.revision }));
      expect(outcome.result).to.equal(0n);
      expect(outcome.written).to.equal(true);
      expect(outcome.appended?.nextRevision).to.equal(1n);
      expect(await stored()).to.have.length(2);
    });

    it('a writer between the load and the append makes it decide again on the new state: nothing lost, nothing twice', async function () {
      const concurrent = subscribe(FEED_A, 1);
      const seen: FoldedUser[] = [];
      const decided: UserEvent[][] = [];
      const outcome = await handleCommand(userEvents, principal, (user) => {
        seen.push(user);
        // The first decision is overtaken by another device's write before it is appended.
        if (seen.length === 1) interleaved.push(() => writeConcurrently(concurrent));
        // Subscribe to what is not subscribed yet (as gpodder's uploads decide).
        const events = [FEED_A, FEED_B].filter((feed) => !subscribedFeeds(user.state).has(feed)).map((feed, i) => subscribe(feed, 2 + i));
        decided.push(events);
        return { events, result: events.length };
      });
      expect(seen).to.have.length(2);
      expect(seen[0]!.revision).to.equal('no_stream');
      expect(seen[1]!.revision).to.equal(0n);
      expect(decided[0]).to.have.length(2);
      expect(outcome.result, 'decided again: FEED_A is subscribed already').to.equal(1);
      const ids = await stored();
      expect(ids).to.deep.equal([concurrent.id, decided[1]![0]!.id]);
      expect(ids).not.to.include(decided[0]![0]!.id);
    });

    it("with the cache of folded users: a load after its own write reads no event, one after another device's write reads that one", async function () {
      const reads: string[] = [];
      const counted = new Proxy(store, {
        get(target, property) {
          const value: unknown = Reflect.get(target, property, target);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (property === 'readStream' || property === 'readStreamTail' || property === 'readAll') reads.push(String(property));
            return (value as (...args: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const cached = new UserEventService(counted, new UserStateCache(10_000));
      await handleCommand(cached, principal, () => ({ events: [subscribe(FEED_A, 1)], result: undefined }));
      reads.length = 0;
      const loaded = await cached.loadUser(USER_ID);
      expect(reads, 'the stream as the cache left it').to.deep.equal([]);
      expect([...subscribedFeeds(loaded.state)]).to.deep.equal([FEED_A]);
      await writeConcurrently(subscribe(FEED_B, 2));
      const after = await cached.loadUser(USER_ID);
      expect(reads, 'the event another device appended').to.deep.equal(['readStream']);
      expect(after.revision).to.equal(1n);
      expect([...subscribedFeeds(after.state)].sort()).to.deep.equal([FEED_A, FEED_B]);
    });

    it('commands of one user made at once run one after the other, each deciding on the state the one before left', async function () {
      const revisions: (bigint | 'no_stream')[] = [];
      const feeds = Array.from({ length: 8 }, (_, i) => `https://f${i}.example/feed.xml`);
      const outcomes = await Promise.all(
        feeds.map((feed, i) =>
          handleCommand(userEvents, principal, (user) => {
            revisions.push(user.revision);
            return { events: [subscribe(feed, i)], result: subscribedFeeds(user.state).size };
          }),
        ),
      );
      // Each decided once (no conflict, no retry), in the order made, on its predecessor's state.
      expect(revisions).to.deep.equal(['no_stream', 0n, 1n, 2n, 3n, 4n, 5n, 6n]);
      expect(outcomes.map((outcome) => outcome.result)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(await stored()).to.have.length(8);
    });

    it('gives up after the bounded attempts with the conflict, having written nothing of its own', async function () {
      let calls = 0;
      const error = await handleCommand(
        userEvents,
        principal,
        () => {
          calls++;
          interleaved.push(() => writeConcurrently(subscribe(FEED_A, calls)));
          return { events: [subscribe(FEED_B, 30)], result: undefined };
        },
        { attempts: 3 },
      ).catch((caught: unknown) => caught);
      expect(error).to.be.instanceOf(WrongExpectedVersionError);
      expect(calls).to.equal(3);
      expect(await stored()).to.have.length(3);
    });

    describe('POST /v1/events with client ids (UserEventService.appendActions)', function () {
      const actions: ActionInput[] = [
        { id: '6f1f3a52-9a8e-4a53-9b1e-3f7c2a1d0e02', type: 'subscribe', timestamp: '2026-01-01T00:02:00.000Z', object: { rss_source_feed: FEED_B }, data: {} },
        { id: '6f1f3a52-9a8e-4a53-9b1e-3f7c2a1d0e01', type: 'subscribe', timestamp: '2026-01-01T00:01:00.000Z', object: { rss_source_feed: FEED_A }, data: {} },
      ];

      it('a retry adds nothing and answers as the first time, even after another write', async function () {
        const first = await userEvents.appendActions(principal, actions);
        expect(first.ids, 'in the order of the request').to.deep.equal(actions.map((action) => action.id));
        const retry = await userEvents.appendActions(principal, actions);
        expect(retry.ids).to.deep.equal(first.ids);
        expect(retry.position).to.deep.equal(first.position);
        await writeConcurrently(subscribe(FEED_A, 5));
        const late = await userEvents.appendActions(principal, actions);
        expect(late.position).to.deep.equal(first.position);
        expect(await stored()).to.have.length(3);
      });

      it('an id reused for another event, or mixed with new ids, is a conflict and writes nothing', async function () {
        await userEvents.appendActions(principal, actions);
        const changed = actions.map((action) => ({ ...action, timestamp: '2026-01-01T00:09:00.000Z' }));
        expect(await userEvents.appendActions(principal, changed).catch((caught: unknown) => caught)).to.be.instanceOf(EventIdConflictError);
        const mixed: ActionInput[] = [actions[0]!, { ...actions[1]!, id: '6f1f3a52-9a8e-4a53-9b1e-3f7c2a1d0e03' }];
        expect(await userEvents.appendActions(principal, mixed).catch((caught: unknown) => caught)).to.be.instanceOf(EventIdConflictError);
        expect(await stored()).to.have.length(2);
      });

      it('events stored with the whole envelope as their data (an older store) are recognised as well', async function () {
        const envelopes = actions.map((action) => ({ ...action, id: action.id!, user: USER_ID }) as UserEvent);
        await store.append(
          streams.user(USER_ID),
          envelopes.map((event) => ({ id: event.id, type: event.type, data: toJsonObject(event), metadata: { username: 'alice' } })),
          { expectedRevision: 'no_stream' },
        );
        const retry = await userEvents.appendActions(principal, actions);
        expect(retry.ids).to.deep.equal(actions.map((action) => action.id));
        expect(await stored()).to.have.length(2);
        const changed = actions.map((action) => ({ ...action, timestamp: '2026-01-01T00:09:00.000Z' }));
        expect(await userEvents.appendActions(principal, changed).catch((caught: unknown) => caught)).to.be.instanceOf(EventIdConflictError);
        expect(await stored()).to.have.length(2);
      });
    });
  });
}
