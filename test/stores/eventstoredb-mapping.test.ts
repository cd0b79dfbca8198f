/**
 * The EventStoreDB adapter's decisions that need no server: expected-revision and read-option
 * mapping, metadata merge and `$tb` mapping, position comparison, the hiding rule for `$all`,
 * retry recognition, the server-side filter plan, and the subscription iterator's life cycle.
 * The adapter's behaviour against a real server is covered by the shared contract suite when
 * EVENTSTORE_URL is set.
 */
import { PassThrough } from 'node:stream';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import type { AllStreamResolvedEvent, AllStreamSubscription } from '@eventstore/db-client';
import type { Position, RecordedEvent } from '../../src/stores/event-store.js';
import { EventStoreDbAllSubscription } from '../../src/stores/eventstoredb/all-subscription.js';
import { ConsumerView, type AllRecord } from '../../src/stores/eventstoredb/consumer-view.js';
import {
  FULLY_VISIBLE,
  SOFT_DELETE_TRUNCATE_BEFORE,
  TOMBSTONED,
  expectationFailure,
  isAfter,
  isStartPosition,
  isVisible,
  matchBatchInTail,
  matchesConsumerFilter,
  mergeRawMetadata,
  metadataTarget,
  metastreamOf,
  readRawMetadata,
  compressData,
  serializeEvent,
  serverFilterFor,
  toClientAppendRevision,
  toClientDeleteRevision,
  toClientReadOptions,
  toCurrentRevision,
  toEsdbConnectionString,
  toRecordedEvent,
  toStreamMetadata,
  validateMaxCount,
  visibilityFromRawMetadata,
  type ClientRecordLike,
  type StreamVisibility,
} from '../../src/stores/eventstoredb/mapping.js';
import { VisibilityCache } from '../../src/stores/eventstoredb/visibility-cache.js';

const ID_A = '0b7d4a5e-7a40-4c1e-9f57-3f3c1c7f0a01';
const ID_B = '0b7d4a5e-7a40-4c1e-9f57-3f3c1c7f0a02';
const ID_C = '0b7d4a5e-7a40-4c1e-9f57-3f3c1c7f0a03';

function pos(commit: bigint, prepare = commit): Position {
  return { commit, prepare };
}

function record(overrides: Partial<AllRecord> = {}): AllRecord {
  return {
    streamId: 'user-1',
    id: ID_A,
    type: 'play',
    revision: 0n,
    created: new Date('2025-01-02T03:04:05.678Z'),
    data: { n: 1 },
    metadata: undefined,
    isJson: true,
    position: pos(100n),
    ...overrides,
  };
}

describe('EventStoreDB adapter mapping', function () {
  describe('connection strings', function () {
    it('rewrites KurrentDB schemes, which the v6 client cannot parse, to esdb', function () {
      expect(toEsdbConnectionString('kurrentdb://admin:pw@db:2113?tls=false')).to.equal('esdb://admin:pw@db:2113?tls=false');
      expect(toEsdbConnectionString('kdb+discover://db:2113')).to.equal('esdb+discover://db:2113');
      expect(toEsdbConnectionString('esdb://db:2113?tls=false')).to.equal('esdb://db:2113?tls=false');
      expect(toEsdbConnectionString('esdb://kdb://x')).to.equal('esdb://kdb://x');
    });
  });

  describe('expected revisions', function () {
    it('maps every port expectation to the client constant of the same meaning', function () {
      expect(toClientAppendRevision('any')).to.equal('any');
      expect(toClientAppendRevision('no_stream')).to.equal('no_stream');
      expect(toClientAppendRevision('stream_exists')).to.equal('stream_exists');
      expect(toClientAppendRevision(7n)).to.equal(7n);
      expect(toClientDeleteRevision('any')).to.equal('any');
      expect(toClientDeleteRevision('no_stream')).to.equal('no_stream');
      expect(toClientDeleteRevision(0n)).to.equal(0n);
    });

    it("reads the client's current revision, where -1 also means no stream", function () {
      expect(toCurrentRevision('no_stream')).to.equal('no_stream');
      expect(toCurrentRevision(-1n)).to.equal('no_stream');
      expect(toCurrentRevision(undefined)).to.equal('no_stream');
      expect(toCurrentRevision(0n)).to.equal(0n);
      expect(toCurrentRevision(41n)).to.equal(41n);
    });

    it('checks an expectation against a stream state like the server does', function () {
      const missing = { lastRevision: 'no_stream' as const, softDeleted: false };
      const existing = { lastRevision: 3n, softDeleted: false };
      const softDeleted = { lastRevision: 3n, softDeleted: true };

      for (const state of [missing, existing, softDeleted]) expect(expectationFailure('any', state)).to.equal(undefined);

      expect(expectationFailure('no_stream', missing)).to.equal(undefined);
      expect(expectationFailure('no_stream', softDeleted)).to.equal(undefined);
      expect(expectationFailure('no_stream', existing)).to.equal(3n);

      expect(expectationFailure('stream_exists', existing)).to.equal(undefined);
      expect(expectationFailure('stream_exists', missing)).to.equal('no_stream');
      expect(expectationFailure('stream_exists', softDeleted)).to.equal('no_stream');

      expect(expectationFailure(3n, existing)).to.equal(undefined);
      expect(expectationFailure(3n, softDeleted)).to.equal(undefined);
      expect(expectationFailure(2n, existing)).to.equal(3n);
      expect(expectationFailure(0n, missing)).to.equal('no_stream');
    });
  });

  describe('stream read options', function () {
    it('defaults to forwards from the start, or backwards from the end', function () {
      expect(toClientReadOptions({})).to.deep.equal({ direction: 'forwards', fromRevision: 'start' });
      expect(toClientReadOptions({ direction: 'backwards' })).to.deep.equal({ direction: 'backwards', fromRevision: 'end' });
    });

    it('passes revisions, start/end and maxCount through', function () {
      expect(toClientReadOptions({ fromRevision: 3n, maxCount: 2 })).to.deep.equal({
        direction: 'forwards',
        fromRevision: 3n,
        maxCount: 2,
      });
      expect(toClientReadOptions({ direction: 'backwards', fromRevision: 'start' })).to.deep.equal({
        direction: 'backwards',
        fromRevision: 'start',
      });
      expect(toClientReadOptions({ fromRevision: 'end' })).to.deep.equal({ direction: 'forwards', fromRevision: 'end' });
    });

    it('rejects a maxCount that is not a non-negative integer', function () {
      expect(validateMaxCount(undefined)).to.equal(undefined);
      expect(validateMaxCount(0)).to.equal(0);
      for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => validateMaxCount(bad)).to.throw(RangeError);
      }
    });
  });

  describe('positions', function () {
    it('treats `after` as exclusive, comparing commit then prepare', function () {
      expect(isAfter(pos(10n), undefined)).to.equal(true);
      expect(isAfter(pos(10n), pos(10n))).to.equal(false);
      expect(isAfter(pos(11n), pos(10n))).to.equal(true);
      expect(isAfter(pos(9n), pos(10n))).to.equal(false);
      expect(isAfter(pos(10n, 12n), pos(10n, 11n))).to.equal(true);
      expect(isAfter(pos(10n, 11n), pos(10n, 12n))).to.equal(false);
      expect(isAfter(pos(11n, 0n), pos(10n, 99n))).to.equal(true);
    });

    it('recognises the port START as "from the beginning"', function () {
      expect(isStartPosition(pos(0n, 0n))).to.equal(true);
      expect(isStartPosition(pos(0n, 1n))).to.equal(false);
    });
  });

  describe('recorded events', function () {
    it('converts a client record, defaulting metadata to {} and copying the date', function () {
      const source = record({ metadata: undefined, revision: 4n, position: pos(7n, 8n) });
      const event = toRecordedEvent(source);
      expect(event).to.deep.equal({
        id: ID_A,
        type: 'play',
        data: { n: 1 },
        metadata: {},
        stream: 'user-1',
        revision: 4n,
        position: { commit: 7n, prepare: 8n },
        recordedAt: new Date('2025-01-02T03:04:05.678Z'),
      });
      expect(event.recordedAt).to.not.equal(source.created);
      expect(toRecordedEvent(record({ metadata: { device: 'phone' } })).metadata).to.deep.equal({ device: 'phone' });
    });

    it('falls back to the commit position only when the server sent no position', function () {
      const withoutPosition: ClientRecordLike = { ...record(), position: undefined };
      expect(toRecordedEvent(withoutPosition, 42n).position).to.deep.equal({ commit: 42n, prepare: 42n });
      expect(() => toRecordedEvent(withoutPosition)).to.throw(/22\.6/);
    });

    it('reads data stored gzip-compressed (a binary event of compressData) as the JSON object it holds', function () {
      const data = { state: { play_statuses: { a: { position: 1 } } }, note: 'é' };
      expect(toRecordedEvent(record({ isJson: false, data: compressData(JSON.stringify(data)) })).data).to.deep.equal(data);
    });

    it('refuses events that do not hold JSON objects instead of inventing a payload', function () {
      expect(() => toRecordedEvent(record({ isJson: false, data: new Uint8Array([1]) }))).to.throw(TypeError, /user-1@0/);
      expect(() => toRecordedEvent(record({ isJson: false, data: compressData('[1, 2]') }))).to.throw(TypeError, /user-1@0/);
      expect(() => toRecordedEvent(record({ isJson: false, data: new Uint8Array([0x1f, 0x8b, 0, 1]) }))).to.throw(TypeError, /user-1@0/);
      expect(() => toRecordedEvent(record({ data: 'text' }))).to.throw(TypeError);
      expect(() => toRecordedEvent(record({ data: [1, 2] }))).to.throw(TypeError);
      expect(() => toRecordedEvent(record({ metadata: new Uint8Array([1]) }))).to.throw(TypeError);
    });
  });

  describe('events to append', function () {
    it('serialises data and metadata up front', function () {
      const serialized = serializeEvent({ id: ID_A, type: 'play', data: { n: 1 }, metadata: { device: 'tv' } });
      expect(serialized).to.deep.equal({ id: ID_A, type: 'play', data: { n: 1 }, dataJson: '{"n":1}', metadata: { device: 'tv' } });
      expect(serializeEvent({ id: ID_A, type: 'play', data: {} }).metadata).to.equal(undefined);
    });

    it('fails before the client sees an unserialisable event', function () {
      const bigint = { big: 1n } as unknown as { [key: string]: never };
      expect(() => serializeEvent({ id: ID_A, type: 'bad', data: bigint })).to.throw(TypeError, /cannot be serialised/);
      expect(() => serializeEvent({ id: ID_A, type: 'bad', data: {}, metadata: bigint })).to.throw(TypeError);
    });

    it('requires a UUID id and a type', function () {
      expect(() => serializeEvent({ id: 'not-a-uuid', type: 'play', data: {} })).to.throw(TypeError, /UUID/);
      expect(() => serializeEvent({ id: ID_A, type: '', data: {} })).to.throw(TypeError);
      expect(serializeEvent({ id: ID_A.toUpperCase(), type: 'play', data: {} }).id).to.equal(ID_A.toUpperCase());
    });
  });

  describe('retried appends', function () {
    const tail = [
      { id: ID_C, revision: 4n, position: pos(40n) },
      { id: ID_B, revision: 3n, position: pos(30n) },
      { id: ID_A, revision: 2n, position: pos(20n) },
    ];

    it('recognises a retry when every id is in the tail, answering with the last of them', function () {
      expect(matchBatchInTail(tail, [ID_A, ID_B])).to.deep.equal({ kind: 'all', last: tail[1] });
      expect(matchBatchInTail(tail, [ID_C])).to.deep.equal({ kind: 'all', last: tail[0] });
    });

    it('compares ids case-insensitively (the server answers lower case)', function () {
      expect(matchBatchInTail(tail, [ID_A.toUpperCase()])).to.deep.equal({ kind: 'all', last: tail[2] });
    });

    it('tells a partial overlap from a new batch', function () {
      const unknown = '0b7d4a5e-7a40-4c1e-9f57-3f3c1c7f0aff';
      expect(matchBatchInTail(tail, [ID_C, unknown])).to.deep.equal({ kind: 'some' });
      expect(matchBatchInTail(tail, [unknown])).to.deep.equal({ kind: 'none' });
      expect(matchBatchInTail([], [unknown])).to.deep.equal({ kind: 'none' });
    });
  });

  describe('stream metadata', function () {
    it('maps $tb and custom keys, hiding ACLs and $maxAge / $maxCount (not in the port)', function () {
      const raw = { $tb: 3, $maxAge: 3600, $maxCount: 10, $acl: { $r: '$all' }, $cacheControl: 5, owner: 'me', n: { a: 1 } };
      expect(toStreamMetadata(raw)).to.deep.equal({
        truncateBefore: 3n,
        custom: { owner: 'me', n: { a: 1 } },
      });
      expect(toStreamMetadata({})).to.deep.equal({});
    });

    it('shows the soft-delete marker as Int64.MaxValue, as JSON.parse reads it', function () {
      const raw = readRawMetadata(JSON.parse('{"$tb":9223372036854775807}'));
      expect(toStreamMetadata(raw)).to.deep.equal({ truncateBefore: SOFT_DELETE_TRUNCATE_BEFORE });
      expect(visibilityFromRawMetadata(raw)).to.deep.equal({ truncateBefore: 0n, softDeleted: true, tombstoned: false });
    });

    it('ignores malformed system values and non-object metadata', function () {
      expect(toStreamMetadata({ $tb: 'x', $maxAge: -1, $maxCount: 1.5 })).to.deep.equal({});
      expect(readRawMetadata('text')).to.deep.equal({});
      expect(readRawMetadata([1])).to.deep.equal({});
      expect(readRawMetadata(null)).to.deep.equal({});
    });

    it('merges a patch: $tb replaced, every other key kept', function () {
      const raw = { $tb: 1, $acl: { $r: 'ops' }, $maxAge: 60, a: 1, nested: { x: 1 } };
      expect(mergeRawMetadata(raw, { truncateBefore: 5n })).to.deep.equal({ ...raw, $tb: 5 });
      expect(raw).to.deep.equal({ $tb: 1, $acl: { $r: 'ops' }, $maxAge: 60, a: 1, nested: { x: 1 } });
    });

    it('round-trips through the port shape', function () {
      expect(toStreamMetadata(mergeRawMetadata({}, { truncateBefore: 12n }))).to.deep.equal({ truncateBefore: 12n });
    });

    it('never writes the soft-delete marker back (2^63 is not a long)', function () {
      const softDeleted = readRawMetadata(JSON.parse('{"$tb":9223372036854775807,"keep":true}'));
      expect(mergeRawMetadata(softDeleted, { truncateBefore: 4n })).to.deep.equal({ keep: true, $tb: 4 });
    });

    it('rejects values EventStoreDB cannot store', function () {
      expect(() => mergeRawMetadata({}, { truncateBefore: -1n })).to.throw(RangeError);
      expect(() => mergeRawMetadata({}, { truncateBefore: 2n ** 53n })).to.throw(RangeError);
    });

    it('names the metastream and recognises metadata events in $all', function () {
      expect(metastreamOf('user-1')).to.equal('$$user-1');
      expect(metadataTarget('$$user-1', '$metadata')).to.equal('user-1');
      expect(metadataTarget('user-1', '$metadata')).to.equal(undefined);
      expect(metadataTarget('$$user-1', 'play')).to.equal(undefined);
    });
  });

  describe('hiding truncated and deleted events from $all', function () {
    it('hides revisions before $tb and whole deleted streams', function () {
      const truncated = visibilityFromRawMetadata({ $tb: 3 });
      expect(truncated).to.deep.equal({ truncateBefore: 3n, softDeleted: false, tombstoned: false });
      expect(isVisible(2n, truncated)).to.equal(false);
      expect(isVisible(3n, truncated)).to.equal(true);
      expect(isVisible(0n, FULLY_VISIBLE)).to.equal(true);
      expect(isVisible(99n, TOMBSTONED)).to.equal(false);
      expect(isVisible(99n, visibilityFromRawMetadata({ $tb: 9.3e18 }))).to.equal(false);
    });

    it("applies the consumer's filter and never delivers system events", function () {
      const filter = { streamPrefixes: ['user-', 'podcast-'] };
      expect(matchesConsumerFilter('user-1', 'play', filter)).to.equal(true);
      expect(matchesConsumerFilter('podcast-1', 'play', filter)).to.equal(true);
      expect(matchesConsumerFilter('other-1', 'play', filter)).to.equal(false);
      expect(matchesConsumerFilter('user-1', 'save', undefined)).to.equal(true);
      expect(matchesConsumerFilter('user-1', 'save', { streamPrefixes: [] })).to.equal(true);
      expect(matchesConsumerFilter('$$user-1', '$metadata', undefined)).to.equal(false);
      expect(matchesConsumerFilter('user-1', '$streamDeleted', undefined)).to.equal(false);
      expect(matchesConsumerFilter('$stats-1', 'play', undefined)).to.equal(false);
    });

    it('applies event types on the client: the server filters on stream prefixes only (one filter per subscription)', function () {
      const filter = { streamPrefixes: ['user-'], eventTypes: ['remove'] };
      expect(matchesConsumerFilter('user-1', 'remove', filter)).to.equal(true);
      expect(matchesConsumerFilter('user-1', 'play', filter)).to.equal(false);
      expect(matchesConsumerFilter('other-1', 'remove', filter)).to.equal(false);
      expect(matchesConsumerFilter('user-1', 'play', { eventTypes: [] })).to.equal(true);
      expect(serverFilterFor(filter)).to.deep.equal({ kind: 'stream-prefixes', prefixes: ['user-', '$$user-'] });
    });
  });

  describe('server-side subscription filter', function () {
    it('filters on prefixes and their metastreams, so metadata changes still arrive', function () {
      expect(serverFilterFor({ streamPrefixes: ['user-'] })).to.deep.equal({
        kind: 'stream-prefixes',
        prefixes: ['user-', '$$user-'],
      });
    });

    it('needs no server-side filter without a consumer filter', function () {
      expect(serverFilterFor(undefined)).to.deep.equal({ kind: 'none' });
      expect(serverFilterFor({ streamPrefixes: [] })).to.deep.equal({ kind: 'none' });
    });
  });

  describe('visibility cache', function () {
    function loader(answers: Map<string, StreamVisibility>) {
      const calls: string[] = [];
      const load = async (stream: string) => {
        calls.push(stream);
        return answers.get(stream) ?? FULLY_VISIBLE;
      };
      return { calls, load };
    }

    it('loads each stream once, and again after an invalidation', async function () {
      const answers = new Map([['user-1', visibilityFromRawMetadata({ $tb: 2 })]]);
      const { calls, load } = loader(answers);
      const cache = new VisibilityCache(load);
      expect(await cache.isVisible('user-1', 1n)).to.equal(false);
      expect(await cache.isVisible('user-1', 2n)).to.equal(true);
      expect(calls).to.deep.equal(['user-1']);

      answers.set('user-1', visibilityFromRawMetadata({ $tb: 5 }));
      cache.invalidate('user-1');
      expect(await cache.isVisible('user-1', 2n)).to.equal(false);
      expect(calls).to.deep.equal(['user-1', 'user-1']);
    });

    it('does not let a load started before an invalidation fill the cache', async function () {
      let release: (v: StreamVisibility) => void = () => undefined;
      let calls = 0;
      const cache = new VisibilityCache(async () => {
        calls++;
        return calls === 1 ? new Promise<StreamVisibility>((resolve) => (release = resolve)) : FULLY_VISIBLE;
      });
      const stale = cache.get('user-1');
      cache.invalidate('user-1');
      release(TOMBSTONED);
      expect(await stale).to.equal(TOMBSTONED);
      expect(await cache.get('user-1')).to.equal(FULLY_VISIBLE);
      expect(calls).to.equal(2);
    });

    it('records tombstones without loading, and evicts the least recently used', async function () {
      const { calls, load } = loader(new Map());
      const cache = new VisibilityCache(load, 2);
      cache.markTombstoned('user-9');
      expect(await cache.isVisible('user-9', 0n)).to.equal(false);
      expect(calls).to.deep.equal([]);

      await cache.get('user-1');
      await cache.get('user-2'); // evicts user-9
      await cache.get('user-1'); // a hit: user-1 becomes the most recently used
      await cache.get('user-3'); // evicts user-2
      expect(calls).to.deep.equal(['user-1', 'user-2', 'user-3']);
      await cache.prefetch(['user-1', 'user-2', 'user-2']);
      expect(calls).to.deep.equal(['user-1', 'user-2', 'user-3', 'user-2']);
    });
  });

  describe('consumer view of $all', function () {
    it("shows a re-created soft-deleted stream's events that come before the server's undelete record", async function () {
      // The server writes the new events, then the undelete metadata: live, the cache still says deleted.
      const deleted = visibilityFromRawMetadata({ $tb: Number(SOFT_DELETE_TRUNCATE_BEFORE) }, pos(100n));
      const view = new ConsumerView(new VisibilityCache(async () => deleted), undefined, undefined);
      expect(await view.admit(record({ revision: 3n, position: pos(50n) }))).to.equal(undefined);
      expect(await view.admit(record({ revision: 4n, position: pos(150n) }))).to.not.equal(undefined);
    });

    it('delivers strictly after `after`, filtered, hiding what the stream hides', async function () {
      const answers = new Map([['user-1', visibilityFromRawMetadata({ $tb: 1 })]]);
      const load = async (stream: string) => answers.get(stream) ?? FULLY_VISIBLE;
      const view = new ConsumerView(new VisibilityCache(load), { streamPrefixes: ['user-'] }, pos(100n));
      const admitted = async (r: AllRecord) => (await view.admit(r))?.id;

      expect(await admitted(record({ position: pos(100n), revision: 5n }))).to.equal(undefined);
      expect(await admitted(record({ position: pos(101n), revision: 0n }))).to.equal(undefined);
      expect(await admitted(record({ position: pos(102n), revision: 1n, id: ID_B }))).to.equal(ID_B);
      expect(await admitted(record({ position: pos(103n), streamId: 'podcast-1', id: ID_C }))).to.equal(undefined);
    });

    it("refreshes a stream's visibility when its $metadata goes by, and learns tombstones", async function () {
      const answers = new Map<string, StreamVisibility>();
      const load = async (stream: string) => answers.get(stream) ?? FULLY_VISIBLE;
      const view = new ConsumerView(new VisibilityCache(load), undefined, undefined);
      const ids: (string | undefined)[] = [];
      const feed = async (r: AllRecord) => ids.push((await view.admit(r))?.id);

      await feed(record({ position: pos(1n), revision: 0n, id: ID_A }));
      answers.set('user-1', visibilityFromRawMetadata({ $tb: 2 }));
      await feed(record({ position: pos(2n), revision: 1n, id: ID_B }));
      await feed(record({ position: pos(3n), streamId: '$$user-1', type: '$metadata', revision: 0n }));
      await feed(record({ position: pos(4n), revision: 1n, id: ID_B }));
      await feed(record({ position: pos(5n), revision: 2n, id: ID_C }));
      await feed(record({ position: pos(6n), type: '$streamDeleted', revision: 9223372036854775807n }));
      await feed(record({ position: pos(7n), revision: 3n, id: ID_C }));

      // The cached state holds until the $metadata event; the tombstone hides everything after it.
      expect(ids).to.deep.equal([ID_A, ID_B, undefined, undefined, ID_C, undefined, undefined]);
    });
  });

  describe('subscription iterator', function () {
    /**
     * A stand-in for the client's subscription: a real object-mode Readable with the client's
     * `unsubscribe()`, so the iterator's life cycle is tested without a server.
     */
    function source() {
      const stream = new PassThrough({ objectMode: true }) as PassThrough & { unsubscribe: () => Promise<void>; cancelled: boolean };
      stream.cancelled = false;
      stream.unsubscribe = async () => {
        stream.cancelled = true;
        stream.end();
      };
      // Why the cast: AllStreamSubscription is the client's Readable interface with overloads for
      // its own events; a PassThrough with unsubscribe() is that object at runtime.
      return stream as typeof stream & AllStreamSubscription;
    }

    function view() {
      return new ConsumerView(new VisibilityCache(async () => FULLY_VISIBLE), undefined, undefined);
    }

    function resolved(r: AllRecord): AllStreamResolvedEvent {
      return { event: r as AllStreamResolvedEvent['event'] };
    }

    it('delivers converted events and skips system ones', async function () {
      const client = source();
      const subscription = new EventStoreDbAllSubscription(client, view(), () => undefined);
      client.write(resolved(record({ streamId: '$$user-1', type: '$metadata', position: pos(1n) })));
      client.write(resolved(record({ position: pos(2n) })));
      const first = await subscription.next();
      expect(first.done).to.equal(false);
      expect((first.value as RecordedEvent).position).to.deep.equal(pos(2n));
      await subscription.unsubscribe();
      expect(client.cancelled).to.equal(true);
    });

    it('resolves a pending next() with done on unsubscribe, and reports its end once', async function () {
      const client = source();
      const ended: unknown[] = [];
      const subscription = new EventStoreDbAllSubscription(client, view(), (s) => ended.push(s));
      const pending = subscription.next();
      await subscription.unsubscribe();
      expect(await pending).to.deep.equal({ done: true, value: undefined });
      expect(await subscription.next()).to.deep.equal({ done: true, value: undefined });
      await subscription.unsubscribe();
      expect(ended).to.have.length(1);
    });

    it('unsubscribes when a for-await loop breaks', async function () {
      const client = source();
      const subscription = new EventStoreDbAllSubscription(client, view(), () => undefined);
      client.write(resolved(record({ position: pos(1n) })));
      for await (const event of subscription) {
        expect(event.position).to.deep.equal(pos(1n));
        break;
      }
      expect(client.cancelled).to.equal(true);
    });

    it('surfaces an error emitted before anyone iterated, then ends', async function () {
      const client = source();
      const subscription = new EventStoreDbAllSubscription(client, view(), () => undefined);
      client.emit('error', new Error('connection lost'));
      let failure: unknown;
      try {
        await subscription.next();
      } catch (error) {
        failure = error;
      }
      expect(failure).to.be.instanceOf(Error).with.property('message', 'connection lost');
      expect(await subscription.next()).to.deep.equal({ done: true, value: undefined });
      expect(client.cancelled).to.equal(true);
    });

    it('does not keep delivered records reachable while it stays subscribed', async function () {
      v8.setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const client = source();
      const subscription = new EventStoreDbAllSubscription(client, view(), () => undefined);
      const refs: WeakRef<object>[] = [];
      for (let i = 1n; i <= 20n; i++) {
        const data = { payload: 'x'.repeat(1000) };
        refs.push(new WeakRef(data));
        client.write(resolved(record({ position: pos(i), revision: i, data })));
        await subscription.next();
      }
      // Let the WeakRefs' targets go (they are kept until the current job ends), then collect.
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      const alive = refs.filter((ref) => ref.deref() !== undefined).length;
      await subscription.unsubscribe();
      // The last read's record may still sit in the client's Readable machinery; earlier ones may not.
      expect(alive).to.be.at.most(1);
    });

    it('idlePosition: the last record read, handed out or left out, only while it waits for the next', async function () {
      const client = source();
      const types = new ConsumerView(new VisibilityCache(async () => FULLY_VISIBLE), { eventTypes: ['remove'] }, undefined);
      const subscription = new EventStoreDbAllSubscription(client, types, () => undefined);
      expect(subscription.idlePosition(), 'before a read').to.equal(undefined);
      const pending = subscription.next();
      client.write(resolved(record({ position: pos(1n), type: 'play' })));
      client.write(resolved(record({ position: pos(2n), type: 'play' })));
      await new Promise((resolve) => setImmediate(resolve));
      expect(subscription.idlePosition(), 'both plays read and left out').to.deep.equal(pos(2n));
      client.write(resolved(record({ position: pos(3n), type: 'remove' })));
      const handed = await pending;
      expect((handed.value as RecordedEvent).position).to.deep.equal(pos(3n));
      expect(subscription.idlePosition(), 'while the consumer holds it').to.equal(undefined);
      const next = subscription.next();
      await new Promise((resolve) => setImmediate(resolve));
      expect(subscription.idlePosition()).to.deep.equal(pos(3n));
      await subscription.unsubscribe();
      await next;
      expect(subscription.idlePosition(), 'after unsubscribe').to.equal(undefined);
    });

    it('treats an end it did not ask for as a failure', async function () {
      const client = source();
      const subscription = new EventStoreDbAllSubscription(client, view(), () => undefined);
      client.end();
      let failure: unknown;
      try {
        await subscription.next();
      } catch (error) {
        failure = error;
      }
      expect(failure).to.be.instanceOf(Error).with.property('message').that.matches(/ended/);
    });
  });
});
