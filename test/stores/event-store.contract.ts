/**
 * The contract every EventStore adapter must honour (see the port's doc comment).
 *
 * Written to run against a shared, non-empty EventStoreDB too: every test uses streams under its
 * own random prefix, reads `$all` only through that prefix (or test-unique event types), and
 * starts `$all` reads and subscriptions at the head position taken when the test begins.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  AppendTooLargeError,
  DEFAULT_MAX_APPEND_BYTES,
  IdempotencyConflictError,
  START,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  comparePositions,
  type AllSubscription,
  type EventStore,
  type EventToAppend,
  type JsonObject,
  type Position,
  type RecordedEvent,
  type StreamState,
  readStreamPages,
  readWholeStream,
  truncateStream,
} from '../../src/stores/event-store.js';
import { isUserEventType } from '../../src/domain/events.js';
import { planErasureRewrite, rewriteOrigin } from '../../src/retention/history.js';

export type EventStoreFactory = () => Promise<{ store: EventStore; cleanup: () => Promise<void> }>;

/** How long a subscription may take to deliver something expected (a real server is slower). */
const DELIVERY_TIMEOUT_MS = 10_000;
/** How long we watch to be confident that nothing more arrives. */
const QUIET_PERIOD_MS = 300;

export function eventStoreContract(name: string, factory: EventStoreFactory): void {
  describe(`${name}: EventStore contract`, function () {
    let store: EventStore;
    let cleanup: () => Promise<void>;
    /** Unique per test; every stream of the test starts with it. */
    let ns: string;
    /** `$all` head when the test began: reads and subscriptions start here. */
    let head: Position;

    before(async function () {
      ({ store, cleanup } = await factory());
    });

    after(async function () {
      await cleanup?.();
    });

    beforeEach(async function () {
      ns = `ct${randomUUID().replaceAll('-', '').slice(0, 12)}-`;
      head = await store.headPosition();
    });

    const inTest = () => ({ streamPrefixes: [ns] });
    /** `count` play events, numbered `n` from 0, appended to `stream`. */
    const appendPlays = (stream: string, count: number) =>
      store.append(
        stream,
        Array.from({ length: count }, (_, n) => event('play', { n })),
      );
    const readTestEvents = () => store.readAll({ after: head, filter: inTest() });
    const subscribeTestEvents = () => store.subscribeToAll({ after: head, filter: inTest() });

    describe('append and readStream', function () {
      it('reads back what was appended, in order, with revisions from 0', async function () {
        const stream = `${ns}user-1`;
        const first = [event('subscribe', { feed: 'a' }, { device: 'phone' }), event('play', { episode: 1 })];
        const second = [event('position', { seconds: 42 })];

        const r1 = await store.append(stream, first);
        const r2 = await store.append(stream, second);

        expect(r1.nextRevision).to.equal(1n);
        expect(r2.nextRevision).to.equal(2n);
        expect(comparePositions(r2.position, r1.position)).to.equal(1);
        const read = await store.readStream(stream);
        expect(read.map(summary)).to.deep.equal([
          { id: first[0]!.id, type: 'subscribe', revision: 0n, stream },
          { id: first[1]!.id, type: 'play', revision: 1n, stream },
          { id: second[0]!.id, type: 'position', revision: 2n, stream },
        ]);
        expect(read[0]!.data).to.deep.equal({ feed: 'a' });
        expect(read[0]!.metadata).to.include({ device: 'phone' });
        expect(read[2]!.data).to.deep.equal({ seconds: 42 });
        expect(read[2]!.recordedAt).to.be.instanceOf(Date);
        expect(Number.isNaN(read[2]!.recordedAt.getTime())).to.equal(false);
        expect(read[1]!.position).to.deep.equal(r1.position);
        expect(read[2]!.position).to.deep.equal(r2.position);
        expect(comparePositions(await store.headPosition(), r2.position)).to.be.at.least(0);
        await expectState(stream, { lastRevision: 2n, softDeleted: false, tombstoned: false });
      });

      it('refuses an append past the largest one EventStoreDB takes, writing none of it', async function () {
        this.timeout(60_000);
        const stream = `${ns}heavy`;
        // 17 events of 1 MB: past 16,767,216 bytes, what docker-compose.yml and CI give EventStoreDB.
        // Random text, so the EventStoreDB adapter's compression of large data cannot shrink it.
        const megabyte = randomBytes(750_000).toString('base64');
        const refused = await rejection(
          store.append(
            stream,
            Array.from({ length: 17 }, (_, n) => event('checkpoint', { n, blob: megabyte })),
          ),
          AppendTooLargeError,
        );
        expect(refused.maxBytes).to.equal(DEFAULT_MAX_APPEND_BYTES);
        expect(refused.stream).to.equal(stream);
        await rejection(store.readStream(stream), StreamNotFoundError);
        await store.append(stream, [event('checkpoint', { blob: megabyte })]);
        expect((await store.readStream(stream)).map((read) => read.data['blob'])).to.deep.equal([megabyte]);
      });

      it('reads back an event of megabytes of data as written, from the stream and from $all (EventStoreDB: stored compressed)', async function () {
        this.timeout(60_000);
        const stream = `${ns}heavy`;
        const statuses = Object.fromEntries(
          Array.from({ length: 20_000 }, (_, n) => [`https://media.example.org/e${n}.mp3`, { position: n, played: n % 3 === 0, note: 'é' }]),
        );
        const checkpoint = event('checkpoint', { state: { play_statuses: statuses } }, { username: 'heavy' });
        await store.append(stream, [event('play', { n: 1 }), checkpoint]);
        const [, read] = await store.readStream(stream);
        expect(read!.data).to.deep.equal(checkpoint.data);
        expect(read!.metadata).to.include({ username: 'heavy' });
        expect((await readTestEvents()).find((recorded) => recorded.id === checkpoint.id)?.data).to.deep.equal(checkpoint.data);
      });

      it('throws StreamNotFoundError for a stream never written', async function () {
        const error = await rejection(store.readStream(`${ns}nobody`), StreamNotFoundError);
        expect(error.stream).to.equal(`${ns}nobody`);
        await expectState(`${ns}nobody`, { lastRevision: 'no_stream', softDeleted: false, tombstoned: false });
      });

      it('reads backwards, from a revision, and up to maxCount', async function () {
        const stream = `${ns}user-1`;
        await store.append(
          stream,
          [0, 1, 2, 3, 4].map((n) => event('play', { n })),
        );

        const revisions = async (options: Parameters<EventStore['readStream']>[1]) => (await store.readStream(stream, options)).map((e) => e.revision);
        expect(await revisions({ direction: 'backwards' })).to.deep.equal([4n, 3n, 2n, 1n, 0n]);
        expect(await revisions({ direction: 'backwards', fromRevision: 2n, maxCount: 2 })).to.deep.equal([2n, 1n]);
        expect(await revisions({ direction: 'backwards', maxCount: 1 })).to.deep.equal([4n]);
        expect(await revisions({ fromRevision: 3n })).to.deep.equal([3n, 4n]);
        expect(await revisions({ maxCount: 2 })).to.deep.equal([0n, 1n]);
        expect(await revisions({ fromRevision: 1n, maxCount: 3 })).to.deep.equal([1n, 2n, 3n]);
        expect(await revisions({ fromRevision: 'start', maxCount: 1 })).to.deep.equal([0n]);
        // Past the last event: nothing yet (a sync's cached state reads what was appended since).
        expect(await revisions({ fromRevision: 5n })).to.deep.equal([]);
        expect((await store.readStream(stream, { direction: 'backwards' }))[0]!.data).to.deep.equal({ n: 4 });
      });

      it('a stream read, forwards, backwards or its tail, gives each event as $all records it (stream, position, time, data, metadata)', async function () {
        const [stream, other] = [`${ns}user-1`, `${ns}user-2`];
        await store.append(stream, [event('play', { n: 0 }, { username: 'ann' }), event('position', { n: 1 })]);
        await store.append(other, [event('play', { n: 0 }, { username: 'bob' })]);
        await store.append(stream, [event('save', { text: 'é', list: [1, null] }, { username: 'ann' })]);
        const whole = (e: RecordedEvent) => ({ ...summary(e), position: e.position, recordedAt: e.recordedAt.getTime(), data: e.data, metadata: e.metadata });
        const recorded = (await readTestEvents()).filter((e) => e.stream === stream).map(whole);
        expect(recorded).to.have.length(3);
        expect((await store.readStream(stream)).map(whole)).to.deep.equal(recorded);
        expect((await store.readStream(stream, { direction: 'backwards' })).map(whole)).to.deep.equal([...recorded].reverse());
        expect((await store.readStreamTail(stream, START)).events.map(whole)).to.deep.equal(recorded);
      });

      it('readStreamTail: the visible events after a position, as the stream read whole has them; `from` and `maxCount` may leave older ones out, and say so', async function () {
        const stream = `${ns}user-1`;
        const other = `${ns}user-2`;
        // Appends of both streams interleave, so the stream's positions are not consecutive.
        for (let n = 0; n < 12; n++) {
          await store.append(stream, n % 3 === 0 ? [event('play', { n }), event('position', { n })] : [event('play', { n })]);
          await store.append(other, [event('play', { n })]);
        }
        const positions = [START, ...(await readTestEvents()).map((e) => e.position)];
        await truncateStream(store, stream, 3n);
        const visible = await store.readStream(stream);
        const ids = (events: readonly RecordedEvent[]) => events.map((e) => e.id);
        for (const after of positions) {
          const expected = visible.filter((e) => comparePositions(e.position, after) > 0);
          const label = `after ${after.commit}/${after.prepare}`;
          const whole = await store.readStreamTail(stream, after);
          expect(ids(whole.events), label).to.deep.equal(ids(expected));
          expect(whole.complete, label).to.equal(true);
          const newest = await store.readStreamTail(stream, after, { maxCount: 3 });
          expect(ids(newest.events), `${label}, maxCount 3`).to.deep.equal(ids(expected.slice(-3)));
          expect(newest.complete, `${label}, maxCount 3`).to.equal(expected.length <= 3);
          for (const cursor of expected) {
            const from = Number(cursor.position.commit);
            const since = await store.readStreamTail(stream, after, { from });
            // The newest, down to those after `from` at least; complete when none was left out.
            const needed = expected.filter((e) => Number(e.position.commit) > from);
            expect(ids(since.events.slice(-needed.length || Infinity)), `${label}, from ${from}`).to.deep.equal(ids(needed));
            expect(ids(expected).slice(-since.events.length || Infinity), `${label}, from ${from}`).to.deep.equal(ids(since.events));
            expect(since.complete, `${label}, from ${from}`).to.equal(since.events.length === expected.length);
          }
        }
        expect(await store.readStreamTail(`${ns}never-written`, START)).to.deep.equal({ events: [], complete: true });
        await store.deleteStream(other);
        expect(await store.readStreamTail(other, START)).to.deep.equal({ events: [], complete: true });
        await store.tombstoneStream(stream);
        await rejection(store.readStreamTail(stream, START), StreamDeletedError);
      });

      it('lastPosition: the position of the last visible event, as readStream backwards gives it first', async function () {
        const stream = `${ns}user-1`;
        const other = `${ns}user-2`;
        const lastRead = async () => (await store.readStream(stream, { direction: 'backwards', maxCount: 1 }))[0]!.position;
        expect(await store.lastPosition(stream)).to.equal(undefined);
        await store.append(stream, [event('a'), event('b')]);
        // Another stream's later events are not this one's.
        await store.append(other, [event('c')]);
        expect(await store.lastPosition(stream)).to.deep.equal(await lastRead());
        await store.append(stream, [event('d')]);
        await store.append(other, [event('e')]);
        const last = await store.lastPosition(stream);
        expect(last).to.deep.equal(await lastRead());
        expect(comparePositions(last!, (await store.readStream(stream))[1]!.position)).to.be.greaterThan(0);
        // Truncated before its last event: still that one; past it: none.
        await store.setStreamMetadata(stream, { truncateBefore: 2n });
        expect(await store.lastPosition(stream)).to.deep.equal(last);
        await store.setStreamMetadata(stream, { truncateBefore: 3n });
        expect(await store.lastPosition(stream)).to.equal(undefined);
        await store.deleteStream(other);
        expect(await store.lastPosition(other)).to.equal(undefined);
        await store.append(other, [event('f')]);
        expect(await store.lastPosition(other)).to.deep.equal((await store.readStream(other))[0]!.position);
        await store.tombstoneStream(other);
        await rejection(store.lastPosition(other), StreamDeletedError);
      });

      it('accepts an empty append and answers the current state', async function () {
        const stream = `${ns}user-1`;
        await store.append(stream, [event('a'), event('b')]);
        const result = await store.append(stream, [], { expectedRevision: 1n });
        expect(result.nextRevision).to.equal(1n);
        await rejection(store.append(stream, [], { expectedRevision: 0n }), WrongExpectedVersionError);
        expect(await store.readStream(stream)).to.have.length(2);
      });
    });

    describe('$all', function () {
      it('readAll returns events of all streams in global order, after an exclusive position', async function () {
        const [a, b] = [`${ns}user-a`, `${ns}user-b`];
        const e1 = event('subscribe');
        const e2 = event('subscribe');
        const e3 = event('play');
        await store.append(a, [e1]);
        await store.append(b, [e2]);
        await store.append(a, [e3]);

        const all = await readTestEvents();
        expect(all.map(summary)).to.deep.equal([
          { id: e1.id, type: 'subscribe', revision: 0n, stream: a },
          { id: e2.id, type: 'subscribe', revision: 0n, stream: b },
          { id: e3.id, type: 'play', revision: 1n, stream: a },
        ]);
        expectStrictlyIncreasing(all.map((e) => e.position));
        expect(all[2]!.data).to.deep.equal(e3.data);

        const limited = await store.readAll({ after: head, maxCount: 2, filter: inTest() });
        expect(limited.map((e) => e.id)).to.deep.equal([e1.id, e2.id]);
        const rest = await store.readAll({ after: all[1]!.position, filter: inTest() });
        expect(rest.map((e) => e.id)).to.deep.equal([e3.id]);
        expect(await store.readAll({ after: all[2]!.position, filter: inTest() })).to.deep.equal([]);
      });

      it('positionGap: two appends are at least that far apart in $all, the smallest possible events too (the gpodder cursors rely on it)', async function () {
        const [a, b] = [`${ns}g`, `${ns}h`];
        const smallest = (): EventToAppend => ({ id: randomUUID(), type: 'x', data: {} });
        const appends = [
          await store.append(a, [smallest()]),
          await store.append(b, [smallest(), smallest(), smallest()]),
          await store.append(a, [smallest()]),
          await store.append(b, [smallest()]),
        ];
        const all = await readTestEvents();
        expect(all).to.have.length(6);
        for (const [i, append] of appends.entries()) {
          if (i === 0) continue;
          const ofAppend = all.filter(
            (recorded) => comparePositions(recorded.position, appends[i - 1]!.position) > 0 && comparePositions(recorded.position, append.position) <= 0,
          );
          const first = ofAppend[0]!.position.commit;
          expect(Number(first - appends[i - 1]!.position.commit), `append ${i}`).to.be.at.least(store.positionGap);
        }
      });

      it('filters by stream prefixes', async function () {
        const type = (base: string) => `${base}-${ns}`;
        const users = event(type('subscribe'));
        const stats = event(type('roll_stats'));
        const plays = event(type('play'));
        await store.append(`${ns}user-1`, [users, plays]);
        await store.append(`${ns}podcast-1`, [stats]);
        await store.append(`${ns}other-1`, [event(type('subscribe'))]);

        const ids = (events: RecordedEvent[]) => events.map((e) => e.id);
        const byPrefixes = await store.readAll({ after: head, filter: { streamPrefixes: [`${ns}user-`, `${ns}podcast-`] } });
        expect(ids(byPrefixes)).to.deep.equal([users.id, plays.id, stats.id]);
      });

      it('filters by event types, in reads and subscriptions alike', async function () {
        const [wanted, other] = [`wanted-${ns}`, `other-${ns}`];
        const events = [event(other), event(wanted), event(other), event(wanted)];
        await store.append(`${ns}user-1`, events.slice(0, 2));
        await store.append(`${ns}user-2`, events.slice(2));
        const filter = { streamPrefixes: [ns], eventTypes: [wanted] };
        const expected = [events[1]!.id, events[3]!.id];

        expect((await store.readAll({ after: head, filter })).map((e) => e.id)).to.deep.equal(expected);
        const received = await collectUntil(store.subscribeToAll({ after: head, filter }), (seen) => seen.length === 2);
        expect(received.map((e) => e.id)).to.deep.equal(expected);
      });

      it('idlePosition: none before a read or while an event is held; once waiting, past every event read, nothing at or before it coming after', async function () {
        const [rare, common] = [`rare-${ns}`, `common-${ns}`];
        const subscription = store.subscribeToAll({ after: head, filter: { streamPrefixes: [ns], eventTypes: [rare] } });
        const iterator = subscription[Symbol.asyncIterator]();
        try {
          expect(subscription.idlePosition(), 'before anything was asked').to.equal(undefined);
          const first = iterator.next();
          const skipped = await store.append(`${ns}user-1`, [event(common), event(common), event(common)]);
          // Handed nothing, the subscription still tells how far it read.
          const idle = await eventually(() => {
            const position = subscription.idlePosition();
            return position !== undefined && comparePositions(position, skipped.position) >= 0 ? position : undefined;
          });
          const wanted = await store.append(`${ns}user-2`, [event(rare)]);
          const delivered = await withTimeout(first, DELIVERY_TIMEOUT_MS, 'the rare event');
          expect(delivered.done).to.equal(false);
          expect(delivered.value!.position).to.deep.equal(wanted.position);
          expect(comparePositions(delivered.value!.position, idle)).to.equal(1);
          // Taken and not yet followed by another next(): the subscription is not waiting.
          expect(subscription.idlePosition(), 'while the consumer holds the event').to.equal(undefined);
          iterator.next().catch(() => undefined);
          const after = await eventually(() => subscription.idlePosition());
          expect(comparePositions(after, wanted.position)).to.be.at.least(0);
        } finally {
          await subscription.unsubscribe();
        }
        expect(subscription.idlePosition(), 'after unsubscribe').to.equal(undefined);
      });

      it('a subscription catches up, then delivers live events, in global order', async function () {
        const [a, b] = [`${ns}user-a`, `${ns}user-b`];
        const historical = [event('h1'), event('h2')];
        await store.append(a, [historical[0]!]);
        await store.append(b, [historical[1]!]);

        const subscription = subscribeTestEvents();
        const iterator = subscription[Symbol.asyncIterator]();
        try {
          const caughtUp = [await nextWithin(iterator), await nextWithin(iterator)];
          expect(caughtUp.map((e) => e.id)).to.deep.equal(historical.map((e) => e.id));

          // The next read is pending before the append: the event must arrive live.
          const pending = nextWithin(iterator);
          await delay(50);
          const live = event('live');
          const appended = await store.append(a, [live]);
          const delivered = await pending;
          expect(summary(delivered)).to.deep.equal({ id: live.id, type: 'live', revision: 1n, stream: a });
          expect(delivered.position).to.deep.equal(appended.position);

          const later = [event('l2'), event('l3')];
          await store.append(b, [later[0]!]);
          await store.append(a, [later[1]!]);
          const more = [await nextWithin(iterator), await nextWithin(iterator)];
          expect(more.map((e) => e.id)).to.deep.equal(later.map((e) => e.id));
          expectStrictlyIncreasing([...caughtUp, delivered, ...more].map((e) => e.position));
        } finally {
          await subscription.unsubscribe();
        }
      });

      it('a subscription resumes strictly after a given position', async function () {
        const stream = `${ns}user-1`;
        const events = [event('a'), event('b'), event('c')];
        await store.append(stream, events);
        const [, second] = await readTestEvents();

        const resumed = store.subscribeToAll({ after: second!.position, filter: inTest() });
        const received = await collectUntil(resumed, (seen) => seen.length === 1);
        expect(received.map((e) => e.id)).to.deep.equal([events[2]!.id]);
      });

      it('unsubscribe ends the iteration and resolves a pending next() as done', async function () {
        const subscription = subscribeTestEvents();
        const iterator = subscription[Symbol.asyncIterator]();
        const pending = iterator.next();
        await delay(50);
        await subscription.unsubscribe();
        const result = await withTimeout(pending, DELIVERY_TIMEOUT_MS, 'pending next() after unsubscribe');
        expect(result.done).to.equal(true);
      });
    });

    describe('optimistic concurrency', function () {
      it("'no_stream' succeeds only when the stream does not exist", async function () {
        const stream = `${ns}user-1`;
        await store.append(stream, [event('a')], { expectedRevision: 'no_stream' });
        const error = await rejection(store.append(stream, [event('b')], { expectedRevision: 'no_stream' }), WrongExpectedVersionError);
        expect(error.stream).to.equal(stream);
        expect(error.expected).to.equal('no_stream');
        expect(error.actual).to.equal(0n);
        await expectRevisions(stream, [0n]);
      });

      it("'stream_exists' fails on a new stream and succeeds on an existing one", async function () {
        const stream = `${ns}user-1`;
        const error = await rejection(store.append(stream, [event('a')], { expectedRevision: 'stream_exists' }), WrongExpectedVersionError);
        expect(error.actual).to.equal('no_stream');
        await rejection(store.readStream(stream), StreamNotFoundError);

        await store.append(stream, [event('a')]);
        const result = await store.append(stream, [event('b')], { expectedRevision: 'stream_exists' });
        expect(result.nextRevision).to.equal(1n);
      });

      it('an exact revision must equal the last revision', async function () {
        const stream = `${ns}user-1`;
        const onNew = await rejection(store.append(stream, [event('a')], { expectedRevision: 0n }), WrongExpectedVersionError);
        expect(onNew.actual).to.equal('no_stream');

        await store.append(stream, [event('a')]);
        expect((await store.append(stream, [event('b')], { expectedRevision: 0n })).nextRevision).to.equal(1n);
        const stale = await rejection(store.append(stream, [event('c')], { expectedRevision: 0n }), WrongExpectedVersionError);
        expect(stale.expected).to.equal(0n);
        expect(stale.actual).to.equal(1n);
        await rejection(store.append(stream, [event('c')], { expectedRevision: 5n }), WrongExpectedVersionError);
        await expectRevisions(stream, [0n, 1n]);
      });

      it("'any' always succeeds", async function () {
        const stream = `${ns}user-1`;
        expect((await store.append(stream, [event('a')], { expectedRevision: 'any' })).nextRevision).to.equal(0n);
        expect((await store.append(stream, [event('b')], { expectedRevision: 'any' })).nextRevision).to.equal(1n);
      });

      it('a failed append writes nothing, not even its valid events', async function () {
        const stream = `${ns}user-1`;
        await store.append(stream, [event('a')]);
        const conflicting = [event('b'), event('c')];
        await rejection(store.append(stream, conflicting, { expectedRevision: 7n }), WrongExpectedVersionError);

        // JSON cannot encode a bigint: the second event is unserialisable, so the call must fail whole.
        const unserialisable = { id: randomUUID(), type: 'bad', data: { big: 1n } as unknown as JsonObject };
        const newStream = `${ns}user-2`;
        let failed = false;
        try {
          await store.append(newStream, [event('ok'), unserialisable]);
        } catch {
          failed = true;
        }
        expect(failed, 'append of an unserialisable event should fail').to.equal(true);

        await expectRevisions(stream, [0n]);
        await rejection(store.readStream(newStream), StreamNotFoundError);
        expect((await readTestEvents()).map((e) => e.type)).to.deep.equal(['a']);
      });
      it('a long append is one append: whole, in order, ending at its answer’s position; failing anywhere, or retried, it writes nothing', async function () {
        const stream = `${ns}user-1`;
        // Past the embedded store's slice of 2,000 events written out at a time.
        const long = Array.from({ length: 2_500 }, (_, n) => event('play', { n }));
        const result = await store.append(stream, long, { expectedRevision: 'no_stream' });
        expect(result.nextRevision).to.equal(2_499n);
        const read = await store.readStream(stream);
        expect(read.map((e) => e.data['n'])).to.deep.equal(long.map((_, n) => n));
        expect(read.at(-1)!.position).to.deep.equal(result.position);
        expect((await store.append(stream, long, { expectedRevision: 'no_stream' })).nextRevision).to.equal(2_499n);

        const unserialisable = { id: randomUUID(), type: 'bad', data: { big: 1n } as unknown as JsonObject };
        const other = `${ns}user-2`;
        const failing = [...Array.from({ length: 2_400 }, (_, n) => event('play', { n })), unserialisable];
        let failed = false;
        try {
          await store.append(other, failing);
        } catch {
          failed = true;
        }
        expect(failed, 'a long append with an unserialisable last event should fail').to.equal(true);
        await rejection(
          store.append(
            stream,
            long.map(() => event('play')),
            { expectedRevision: 0n },
          ),
          WrongExpectedVersionError,
        );
        await rejection(store.readStream(other), StreamNotFoundError);
        await expectState(stream, { lastRevision: 2_499n, softDeleted: false, tombstoned: false });
        expect(await readTestEvents()).to.have.length(2_500);
      });
    });

    describe('idempotency', function () {
      it('a retried append with the same ids adds nothing and gives the same answer', async function () {
        const stream = `${ns}user-1`;
        await store.append(stream, [event('before')]);
        const batch = [event('a'), event('b')];
        const first = await store.append(stream, batch, { expectedRevision: 0n });
        const retry = await store.append(stream, batch, { expectedRevision: 0n });
        expect(retry.nextRevision).to.equal(first.nextRevision);
        expect(retry.position).to.deep.equal(first.position);
        await expectRevisions(stream, [0n, 1n, 2n]);
        expect(await readTestEvents()).to.have.length(3);
      });

      // The one write path (src/services/command-handler.ts) loads the user again before a retry,
      // so a retried batch expects the revision its original left, or a later one.
      it('a retry expecting the revision its original left (or a later one) adds nothing and gives the same answer', async function () {
        const stream = `${ns}user-1`;
        await store.append(stream, [event('before')]);
        const batch = [event('a'), event('b')];
        const first = await store.append(stream, batch, { expectedRevision: 0n });
        const retry = await store.append(stream, batch, { expectedRevision: first.nextRevision });
        expect(retry).to.deep.equal(first);
        await store.append(stream, [event('later')], { expectedRevision: 2n });
        expect(await store.append(stream, batch, { expectedRevision: 3n })).to.deep.equal(first);
        await expectRevisions(stream, [0n, 1n, 2n, 3n]);
        expect(await readTestEvents()).to.have.length(4);
      });

      it('a retry of a stream-creating append with no_stream is recognised too', async function () {
        const stream = `${ns}user-1`;
        const batch = [event('a')];
        const first = await store.append(stream, batch, { expectedRevision: 'no_stream' });
        const retry = await store.append(stream, batch, { expectedRevision: 'no_stream' });
        expect(retry).to.deep.equal(first);
        await expectRevisions(stream, [0n]);
      });

      it('an append mixing written and new ids throws IdempotencyConflictError and writes nothing', async function () {
        const stream = `${ns}user-1`;
        const written = [event('a'), event('b')];
        await store.append(stream, written);
        const mixed = [written[1]!, event('c')];
        const error = await rejection(store.append(stream, mixed), IdempotencyConflictError);
        expect(error.stream).to.equal(stream);
        await expectRevisions(stream, [0n, 1n]);
      });
    });

    describe('truncation', function () {
      it('truncateBefore hides earlier events from readStream, readAll and later subscriptions', async function () {
        const stream = `${ns}user-1`;
        const other = `${ns}user-2`;
        const events = [0, 1, 2, 3, 4].map((n) => event('play', { n }));
        await store.append(stream, events);
        const untouched = event('subscribe');
        await store.append(other, [untouched]);

        await store.setStreamMetadata(stream, { truncateBefore: 3n });

        await expectRevisions(stream, [3n, 4n]);
        expect((await store.readStream(stream, { direction: 'backwards' })).map((e) => e.revision)).to.deep.equal([4n, 3n]);
        expect((await store.readStream(stream, { fromRevision: 1n })).map((e) => e.revision)).to.deep.equal([3n, 4n]);
        const visible = [events[3]!.id, events[4]!.id, untouched.id];
        expect((await readTestEvents()).map((e) => e.id)).to.deep.equal(visible);

        const marker = event('marker');
        await store.append(`${ns}zz-marker`, [marker]);
        const delivered = await collectUntil(subscribeTestEvents(), (seen) => seen.some((e) => e.id === marker.id));
        expect(delivered.map((e) => e.id)).to.deep.equal([...visible, marker.id]);
        expect((await store.streamState(stream)).lastRevision).to.equal(4n);
      });

      it('a stream truncated past its last event reads as empty, not as not found', async function () {
        const stream = `${ns}user-1`;
        await store.append(stream, [event('a'), event('b')]);
        await store.setStreamMetadata(stream, { truncateBefore: 2n });
        expect(await store.readStream(stream)).to.deep.equal([]);
        expect(await readTestEvents()).to.deep.equal([]);

        const next = await store.append(stream, [event('c')]);
        expect(next.nextRevision).to.equal(2n);
        await expectRevisions(stream, [2n]);
      });
    });

    describe('readStreamPages (src/stores/event-store.ts, over readStream)', function () {
      it('gives the stream as one read does, in pages, letting other work run between them; nothing for a stream never written', async function () {
        const stream = `${ns}user-1`;
        await appendPlays(stream, 7);
        let pagesWhenOtherWorkRan: number | undefined;
        const pages: bigint[][] = [];
        setImmediate(() => (pagesWhenOtherWorkRan = pages.length));
        for await (const page of readStreamPages(store, stream, 3)) pages.push(page.map((e) => e.revision));
        expect(pages).to.deep.equal([[0n, 1n, 2n], [3n, 4n, 5n], [6n]]);
        expect(pagesWhenOtherWorkRan, 'a turn of the event loop before the last page').to.be.below(3);
        const none: RecordedEvent[][] = [];
        for await (const page of readStreamPages(store, `${ns}nobody`)) none.push(page);
        expect(none).to.deep.equal([]);
      });

      it('a truncated stream from its first visible event; a stream of exactly whole pages ends without an empty one', async function () {
        const stream = `${ns}user-1`;
        await appendPlays(stream, 6);
        await store.setStreamMetadata(stream, { truncateBefore: 2n });
        const pages: bigint[][] = [];
        for await (const page of readStreamPages(store, stream, 2)) pages.push(page.map((e) => e.revision));
        expect(pages).to.deep.equal([
          [2n, 3n],
          [4n, 5n],
        ]);
      });
    });

    describe('readWholeStream (src/stores/event-store.ts, over readStream)', function () {
      it('reads again when the stream is truncated between two pages, so that no page is of its former version', async function () {
        const stream = `${ns}user-1`;
        await appendPlays(stream, 6);
        let truncated = false;
        // The store, truncating the stream right after the first page is read.
        const truncating: EventStore = Object.create(store) as EventStore;
        truncating.readStream = async (name, options) => {
          const page = await store.readStream(name, options);
          if (!truncated) {
            truncated = true;
            await store.setStreamMetadata(stream, { truncateBefore: 4n });
          }
          return page;
        };
        expect((await readWholeStream(truncating, stream, 2)).map((e) => e.revision)).to.deep.equal([4n, 5n]);
        expect(truncated).to.equal(true);
        expect(await readWholeStream(store, `${ns}nobody`)).to.deep.equal([]);
      });
    });

    describe('erasure rewrite (how EventStoreDB erases single events: src/retention/history.ts)', function () {
      it('copies of the kept events, then the checkpoint, one append; $tb at the first copy hides the rest everywhere', async function () {
        const stream = `${ns}user-1`;
        const originals = [
          event('play', { n: 0 }, { username: 'ann' }),
          event('play', { n: 1, erased: true }, { username: 'ann' }),
          event('privacy', { n: 2 }, { username: 'ann' }),
        ];
        await store.append(stream, originals);
        const read = await store.readStream(stream);
        const checkpoint = event('checkpoint', { n: 3 });
        const rewrite = planErasureRewrite(read, new Set([originals[1]!.id]), isUserEventType, () => ({
          checkpointId: checkpoint.id,
          events: [event('snapshot'), checkpoint],
        }));
        expect(rewrite.truncateBefore).to.equal(3n);

        const appended = await store.append(stream, rewrite.events, { expectedRevision: 2n });
        expect(appended.nextRevision).to.equal(6n);
        // A retried rewrite (same derived ids) adds nothing.
        expect((await store.append(stream, rewrite.events, { expectedRevision: 2n })).nextRevision).to.equal(6n);

        // Another writer changes the metadata between truncateStream's read and its write.
        let interleaved = false;
        const racing = new Proxy(store, {
          get(target, property) {
            const value = Reflect.get(target, property) as unknown;
            if (property !== 'getStreamMetadata') return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
            return async (name: string) => {
              const current = await target.getStreamMetadata(name);
              if (!interleaved) {
                interleaved = true;
                await target.setStreamMetadata(name, { truncateBefore: 1n });
              }
              return current;
            };
          },
        });
        await truncateStream(racing, stream, rewrite.truncateBefore);
        expect(interleaved).to.equal(true);

        const after = await store.readStream(stream);
        expect(after.map((e) => [e.revision, e.type])).to.deep.equal([
          [3n, 'play'],
          [4n, 'privacy'],
          [5n, 'snapshot'],
          [6n, 'checkpoint'],
        ]);
        for (const [index, original] of [read[0]!, read[2]!].entries()) {
          // The original's data with its domain id, which the copy's own store id is not.
          expect(after[index]!.data).to.deep.equal({ id: original.id, ...original.data });
          expect(after[index]!.metadata['username']).to.equal('ann');
          expect(rewriteOrigin(after[index]!.metadata)).to.deep.equal({
            event_id: original.id,
            revision: original.revision.toString(),
            recorded_at: original.recordedAt.toISOString(),
            checkpoint: checkpoint.id,
          });
        }
        const { metadata, metaRevision } = await store.getStreamMetadata(stream);
        expect(metadata.truncateBefore).to.equal(3n);
        expect(metaRevision, "the concurrent write, then truncateStream's after reading it again").to.equal(1n);
        // Consumers of $all never see the originals, the erased one least of all.
        expect((await readTestEvents()).map((e) => e.revision)).to.deep.equal([3n, 4n, 5n, 6n]);
        const delivered = await collectUntil(subscribeTestEvents(), (seen) => seen.some((e) => e.id === checkpoint.id));
        expect(delivered.map((e) => e.revision)).to.deep.equal([3n, 4n, 5n, 6n]);
        expect(delivered.some((e) => e.data['erased'] === true)).to.equal(false);

        // $tb never moves back, and an unchanged $tb writes nothing.
        await truncateStream(store, stream, 1n);
        await truncateStream(store, stream, 3n);
        expect(await store.getStreamMetadata(stream)).to.deep.equal({ metadata, metaRevision });
      });
    });

    describe('stream metadata', function () {
      it('starts with no metadata revision, then counts writes', async function () {
        const stream = `${ns}user-1`;
        const initial = await store.getStreamMetadata(stream);
        expect(initial.metaRevision).to.equal('no_stream');
        expect(initial.metadata.truncateBefore).to.equal(undefined);

        expect((await store.setStreamMetadata(stream, { truncateBefore: 0n })).metaRevision).to.equal(0n);
        expect((await store.setStreamMetadata(stream, { truncateBefore: 0n })).metaRevision).to.equal(1n);
        expect((await store.getStreamMetadata(stream)).metaRevision).to.equal(1n);
        expect((await store.streamState(stream)).metaRevision).to.equal(1n);
      });

      it('answers what it wrote, as a read then does', async function () {
        const stream = `${ns}user-1`;
        await store.append(stream, [event('a'), event('b')]);
        await store.setStreamMetadata(stream, { truncateBefore: 0n });
        const written = await store.setStreamMetadata(stream, { truncateBefore: 1n });
        const read = await store.getStreamMetadata(stream);
        for (const result of [written, read]) {
          expect(result.metadata).to.deep.equal({ truncateBefore: 1n });
          expect(result.metaRevision).to.equal(1n);
        }
      });

      it('checks the expected metadata revision', async function () {
        const stream = `${ns}user-1`;
        await store.setStreamMetadata(stream, { truncateBefore: 1n }, { expectedMetaRevision: 'no_stream' });
        await rejection(store.setStreamMetadata(stream, { truncateBefore: 2n }, { expectedMetaRevision: 'no_stream' }), WrongExpectedVersionError);
        const stale = await rejection(store.setStreamMetadata(stream, { truncateBefore: 3n }, { expectedMetaRevision: 5n }), WrongExpectedVersionError);
        expect(stale.actual).to.equal(0n);
        const ok = await store.setStreamMetadata(stream, { truncateBefore: 4n }, { expectedMetaRevision: 0n });
        expect(ok.metaRevision).to.equal(1n);
        await store.setStreamMetadata(stream, { truncateBefore: 5n }, { expectedMetaRevision: 'stream_exists' });
        expect((await store.getStreamMetadata(stream)).metadata).to.deep.equal({ truncateBefore: 5n });
        await rejection(store.setStreamMetadata(`${ns}fresh`, { truncateBefore: 1n }, { expectedMetaRevision: 'stream_exists' }), WrongExpectedVersionError);
      });
    });

    describe('deletion', function () {
      it('soft delete hides the stream; appending re-creates it with continuing revisions', async function () {
        const stream = `${ns}user-1`;
        const old = [event('a'), event('b'), event('c')];
        await store.append(stream, old);

        await store.deleteStream(stream);
        await rejection(store.readStream(stream), StreamNotFoundError);
        expect(await readTestEvents()).to.deep.equal([]);
        await expectState(stream, { lastRevision: 2n, softDeleted: true, tombstoned: false });

        const reborn = event('d');
        const result = await store.append(stream, [reborn]);
        expect(result.nextRevision).to.equal(3n);
        expect((await store.readStream(stream)).map(summary)).to.deep.equal([{ id: reborn.id, type: 'd', revision: 3n, stream }]);
        expect((await readTestEvents()).map((e) => e.id)).to.deep.equal([reborn.id]);
        const delivered = await collectUntil(subscribeTestEvents(), (seen) => seen.some((e) => e.id === reborn.id));
        expect(delivered.map((e) => e.id)).to.deep.equal([reborn.id]);
        await expectState(stream, { lastRevision: 3n, softDeleted: false, tombstoned: false });
      });

      it('soft delete of a stream never written succeeds, and the stream can be written after', async function () {
        const stream = `${ns}user-never`;
        await store.deleteStream(stream);
        await store.deleteStream(stream);
        await store.append(stream, [event('a')], { expectedRevision: 'no_stream' });
      });

      it('metadata written to a soft-deleted stream is answered as it is then stored', async function () {
        const stream = `${ns}user-1`;
        await store.append(stream, [event('a'), event('b')]);
        await store.deleteStream(stream);
        const written = await store.setStreamMetadata(stream, { truncateBefore: 2n });
        expect(written).to.deep.equal(await store.getStreamMetadata(stream));
        // The next write expects what the answer said.
        await store.setStreamMetadata(stream, { truncateBefore: 2n }, { expectedMetaRevision: written.metaRevision });
      });

      it('a live subscriber sees the first event of a re-created soft-deleted stream', async function () {
        const stream = `${ns}user-1`;
        await store.append(stream, [event('a')]);
        await store.deleteStream(stream);
        const live = subscribeTestEvents();
        // Let the subscription go live and learn that the stream is deleted before it is re-created.
        await new Promise((resolve) => setTimeout(resolve, 300));
        const reborn = event('b');
        await store.append(stream, [reborn]);
        const delivered = await collectUntil(live, (seen) => seen.some((e) => e.id === reborn.id));
        expect(delivered.map((e) => e.id)).to.deep.equal([reborn.id]);
      });

      it('a tombstoned stream refuses reads, appends and metadata, and vanishes from $all', async function () {
        const stream = `${ns}user-1`;
        const survivor = event('kept');
        await store.append(stream, [event('a'), event('b')]);
        await store.append(`${ns}user-2`, [survivor]);

        await store.tombstoneStream(stream);

        await rejection(store.readStream(stream), StreamDeletedError);
        await rejection(store.append(stream, [event('c')]), StreamDeletedError);
        await rejection(store.getStreamMetadata(stream), StreamDeletedError);
        await rejection(store.setStreamMetadata(stream, { truncateBefore: 1n }), StreamDeletedError);
        await rejection(store.deleteStream(stream), StreamDeletedError);
        // Its last revision is not told by EventStoreDB: only that it is tombstoned.
        expect(await store.streamState(stream)).to.include({ tombstoned: true, metaRevision: 'no_stream' });
        expect((await readTestEvents()).map((e) => e.id)).to.deep.equal([survivor.id]);
        const delivered = await collectUntil(subscribeTestEvents(), (seen) => seen.some((e) => e.id === survivor.id));
        expect(delivered.map((e) => e.id)).to.deep.equal([survivor.id]);
      });
    });

    /** The state as expected, its metadata revision the one the metadata is read at ('no_stream' once tombstoned). */
    async function expectState(stream: string, expected: Omit<StreamState, 'metaRevision'>): Promise<void> {
      const { metaRevision, ...state } = await store.streamState(stream);
      expect(state).to.deep.equal(expected);
      expect(metaRevision).to.equal(expected.tombstoned ? 'no_stream' : (await store.getStreamMetadata(stream)).metaRevision);
    }

    async function expectRevisions(stream: string, revisions: bigint[]): Promise<void> {
      expect((await store.readStream(stream)).map((e) => e.revision)).to.deep.equal(revisions);
    }
  });
}

// ---- helpers ----

function event(type: string, data: JsonObject = {}, metadata?: JsonObject): EventToAppend {
  return metadata ? { id: randomUUID(), type, data, metadata } : { id: randomUUID(), type, data };
}

function summary(e: RecordedEvent): { id: string; type: string; revision: bigint; stream: string } {
  return { id: e.id, type: e.type, revision: e.revision, stream: e.stream };
}

function expectStrictlyIncreasing(positions: Position[]): void {
  for (let i = 1; i < positions.length; i++) {
    expect(comparePositions(positions[i]!, positions[i - 1]!), `position ${i} after position ${i - 1}`).to.equal(1);
  }
}

/** Awaits `promise`, which must reject with `type`; returns the error for further checks. */
async function rejection<E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (error) {
    expect(error, `expected a ${type.name}, got ${String(error)}`).to.be.instanceOf(type);
    return error as E;
  }
  throw new Error(`expected a ${type.name}, but the call succeeded with ${stringify(outcome)}`);
}

function stringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `probe` until it answers something, for at most the delivery timeout. */
async function eventually<T>(probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
  for (;;) {
    const answer = probe();
    if (answer !== undefined) return answer;
    if (Date.now() > deadline) throw new Error(`timed out after ${DELIVERY_TIMEOUT_MS} ms waiting for a condition`);
    await delay(10);
  }
}

async function nextWithin(iterator: AsyncIterator<RecordedEvent>): Promise<RecordedEvent> {
  const result = await withTimeout(iterator.next(), DELIVERY_TIMEOUT_MS, 'a subscription event');
  if (result.done) throw new Error('subscription ended while an event was expected');
  return result.value;
}

/**
 * Reads `subscription` until `enough` says so, then keeps listening for a short quiet period so an
 * unexpected extra event is caught too; always unsubscribes.
 */
async function collectUntil(subscription: AllSubscription, enough: (seen: RecordedEvent[]) => boolean): Promise<RecordedEvent[]> {
  const seen: RecordedEvent[] = [];
  const iterator = subscription[Symbol.asyncIterator]();
  try {
    while (!enough(seen)) seen.push(await nextWithin(iterator));
    const extra = await Promise.race([iterator.next(), delay(QUIET_PERIOD_MS).then(() => undefined)]);
    if (extra && !extra.done) seen.push(extra.value);
    return seen;
  } finally {
    await subscription.unsubscribe();
  }
}
