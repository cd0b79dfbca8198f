/**
 * The EventStoreDB adapter's requests and its reading of the server's answers, on a stand-in
 * client (test/stores/fixtures/fake-esdb-client.ts, which documents the server rules it models).
 * The same behaviours run against a real server in the contract suite when EVENTSTORE_URL is set.
 */
import { expect } from 'chai';
import { NO_STREAM, STREAM_EXISTS, WrongExpectedVersionError as ClientWrongExpectedVersionError, type EventStoreDBClient } from '@eventstore/db-client';
import { AppendTooLargeError, StreamDeletedError, WrongExpectedVersionError, type EventToAppend } from '../../src/stores/event-store.js';
import { EventStoreDbEventStore } from '../../src/stores/eventstoredb/index.js';
import { FakeEsdbClient } from './fixtures/fake-esdb-client.js';

const event = (n: number): EventToAppend => ({ id: `0b7d4a5e-7a40-4c1e-9f57-${String(n).padStart(12, '0')}`, type: 'play', data: { n } });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('EventStoreDB adapter on a stand-in client', function () {
  let fake: FakeEsdbClient;
  let store: EventStoreDbEventStore;

  beforeEach(function () {
    fake = new FakeEsdbClient();
    store = new EventStoreDbEventStore(fake.client);
  });

  describe('lastPosition and streamState', function () {
    it("answer the last readable event's position and the metadata's revision, as reads of the stream do", async function () {
      expect(await store.lastPosition('user-1')).to.equal(undefined);
      await store.append('user-1', [event(1), event(2)]);
      await store.append('user-2', [event(3)]);
      const [last] = await store.readStream('user-1', { direction: 'backwards', maxCount: 1 });
      expect(await store.lastPosition('user-1')).to.deep.equal(last!.position);
      expect(await store.streamState('user-1')).to.deep.equal({ lastRevision: 1n, softDeleted: false, tombstoned: false, metaRevision: 'no_stream' });
      await store.setStreamMetadata('user-1', { truncateBefore: 1n });
      expect(await store.lastPosition('user-1')).to.deep.equal(last!.position);
      expect((await store.streamState('user-1')).metaRevision).to.equal((await store.getStreamMetadata('user-1')).metaRevision);
      await store.setStreamMetadata('user-1', { truncateBefore: 2n });
      expect(await store.lastPosition('user-1')).to.equal(undefined);
      await store.deleteStream('user-2');
      expect(await store.lastPosition('user-2')).to.equal(undefined);
      expect(await store.streamState('user-2')).to.include({ softDeleted: true });
      // (A tombstone is left to the contract suite against a real server: the stand-in does not model it.)
    });
  });

  describe("an append past the server's MaxAppendSize", function () {
    it("is an AppendTooLargeError naming the server's limit, whatever the expectation; nothing is written", async function () {
      fake.maxAppendSize = 1_000;
      const big = (n: number): EventToAppend => ({ ...event(n), data: { n, blob: 'é'.repeat(300) } });
      await store.append('user-1', [event(1)]);
      for (const expectedRevision of [undefined, 0n, 'stream_exists', 'no_stream'] as const) {
        const refused = await rejection(store.append('user-1', [big(2), big(3)], expectedRevision === undefined ? {} : { expectedRevision }));
        expect(refused, String(expectedRevision)).to.be.instanceOf(AppendTooLargeError);
        expect(refused).to.include({ stream: 'user-1', maxBytes: 1_000, bytes: undefined });
      }
      expect(fake.records('user-1')).to.have.length(1);
      await store.append('user-1', [big(2)], { expectedRevision: 0n });
      expect(fake.records('user-1')).to.have.length(2);
    });

    it("stores data past 256 KiB of JSON (a heavy user's checkpoint) gzip-compressed, so 18 MB of state fits, and reads it back as JSON", async function () {
      this.timeout(20_000);
      // 100,000 play statuses of short URLs: about 18 MB as JSON, past the largest MaxAppendSize.
      const statuses: Record<string, { feed: string; url: string; position: number; played: boolean }> = {};
      for (let i = 0; i < 100_000; i++)
        statuses[`https://example.org/episodes/${i}`] = {
          feed: `https://feeds.example.org/show-${i % 300}.xml`,
          url: `https://media.example.org/show-${i % 300}/episode-${i}.mp3`,
          position: i,
          played: i % 2 === 0,
        };
      const checkpoint: EventToAppend = { ...event(9), type: 'checkpoint', data: { state: { play_statuses: statuses } }, metadata: { username: 'heavy' } };
      expect(JSON.stringify(checkpoint.data).length).to.be.above(16_767_216);
      await store.append('user-9', [event(1), checkpoint]);
      const [small, stored] = fake.records('user-9');
      expect(small!.isJson, 'a small event stays JSON').to.equal(true);
      expect(stored!.isJson).to.equal(false);
      expect((stored!.data as Uint8Array).length).to.be.below(16_767_216 / 4);
      const read = await store.readStream('user-9');
      expect(read[1]!.data).to.deep.equal(checkpoint.data);
      // …and on $all, as the projector reads it.
      expect((await store.readAll({})).find((recorded) => recorded.id === checkpoint.id)?.data).to.deep.equal(checkpoint.data);
    });
  });

  describe('append with an exact expected revision', function () {
    it('recognises a retry expecting the revision its original left, which the server would write again', async function () {
      await store.append('user-1', [event(1)]);
      const batch = [event(2), event(3)];
      const first = await store.append('user-1', batch, { expectedRevision: 0n });
      const retry = await store.append('user-1', batch, { expectedRevision: first.nextRevision });
      expect(retry).to.deep.equal(first);
      expect(fake.records('user-1').map((record) => record.revision)).to.deep.equal([0n, 1n, 2n]);
    });

    it('recognises a batch longer than the window it reads first', async function () {
      const batch = Array.from({ length: 100 }, (_, n) => event(n + 10));
      const first = await store.append('user-1', batch, { expectedRevision: 'no_stream' });
      await store.append('user-1', [event(1)], { expectedRevision: first.nextRevision });
      expect(await store.append('user-1', batch, { expectedRevision: first.nextRevision + 1n })).to.deep.equal(first);
      expect(fake.records('user-1')).to.have.length(101);
    });
  });

  describe("append with 'stream_exists'", function () {
    it('sends the exact revision it read, so the server recognises a retry after a restart', async function () {
      await store.append('user-1', [event(1)]);
      const first = await store.append('user-1', [event(2)], { expectedRevision: 'stream_exists' });
      // The retry (a lost answer): the server's cache of recent ids is gone.
      const retry = await store.append('user-1', [event(2)], { expectedRevision: 'stream_exists' });
      expect(fake.records('user-1').map((record) => record.revision)).to.deep.equal([0n, 1n]);
      expect(retry).to.deep.equal(first);
      const sent = fake.calls.filter((call) => call.method === 'appendToStream' && call.stream === 'user-1').map((call) => call.expectedRevision);
      expect(sent).not.to.include(STREAM_EXISTS);
    });

    it('still refuses a stream that does not exist', async function () {
      const error = await rejection(store.append('user-2', [event(1)], { expectedRevision: 'stream_exists' }));
      expect(error).to.be.instanceOf(WrongExpectedVersionError);
      expect(fake.records('user-2')).to.have.length(0);
    });
  });

  describe("setStreamMetadata with 'stream_exists'", function () {
    it("keeps a concurrent writer's keys (writes expecting the revision it merged over)", async function () {
      await store.append('user-1', [event(1)]);
      await fake.appendToStream('$$user-1', [{ id: crypto.randomUUID(), type: '$metadata', data: { a: 1 }, contentType: 'application/json' } as never]);
      let interleaved = false;
      fake.beforeAppend = async (stream) => {
        if (stream !== '$$user-1' || interleaved) return;
        interleaved = true;
        // Another process merges its key between this read and this write.
        await fake.appendToStream('$$user-1', [{ id: crypto.randomUUID(), type: '$metadata', data: { a: 1, b: 2 }, contentType: 'application/json' } as never]);
      };
      await store.setStreamMetadata('user-1', { truncateBefore: 0n }, { expectedMetaRevision: 'stream_exists' });
      expect((await store.getStreamMetadata('user-1')).metadata).to.deep.equal({ truncateBefore: 0n, custom: { a: 1, b: 2 } });
    });
  });

  describe('deleteStream of a stream never written', function () {
    it('succeeds, as the embedded store does (the server answers WrongExpectedVersion)', async function () {
      await store.deleteStream('user-9');
    });
  });

  describe('headPosition', function () {
    it('finds the newest visible event behind more than 4,096 system records (a retention pass over many users)', async function () {
      const visible = fake.write('user-1', 'play', { n: 1 });
      for (let i = 0; i < 5000; i++) fake.write(`$$user-x${i}`, '$metadata', { $tb: 1 });
      expect(await store.headPosition()).to.deep.equal(visible.position);
    });

    it('scans that run once: the next call reads only what was written since', async function () {
      const visible = fake.write('user-1', 'play', { n: 1 });
      for (let i = 0; i < 3000; i++) fake.write(`$$user-x${i}`, '$metadata', { $tb: 1 });
      expect(await store.headPosition()).to.deep.equal(visible.position);
      for (let i = 0; i < 10; i++) fake.write(`$$user-y${i}`, '$metadata', { $tb: 1 });
      const before = fake.calls.filter((call) => call.method === 'readAll').length;
      expect(await store.headPosition()).to.deep.equal(visible.position);
      expect(fake.calls.filter((call) => call.method === 'readAll').length - before).to.equal(1);
      const newer = fake.write('user-2', 'play', { n: 2 });
      expect(await store.headPosition()).to.deep.equal(newer.position);
    });

    it('answers START when no event is visible, and does not scan the log again for it', async function () {
      for (let i = 0; i < 2000; i++) fake.write(`$$user-x${i}`, '$metadata', { $tb: 1 });
      expect(await store.headPosition()).to.deep.equal({ commit: 0n, prepare: 0n });
      const before = fake.calls.filter((call) => call.method === 'readAll').length;
      fake.write('$$user-y', '$metadata', { $tb: 1 });
      expect(await store.headPosition()).to.deep.equal({ commit: 0n, prepare: 0n });
      expect(fake.calls.filter((call) => call.method === 'readAll').length - before).to.equal(1);
    });
  });

  describe('metadata of a soft-deleted stream', function () {
    it('answers with what the server holds after its undelete record (revision and $tb)', async function () {
      await store.append('user-1', [event(1), event(2)]);
      await store.deleteStream('user-1');
      const written = await store.setStreamMetadata('user-1', { truncateBefore: 1n });
      const read = await store.getStreamMetadata('user-1');
      expect(written).to.deep.equal(read);
      expect(read.metadata.truncateBefore).to.equal(2n);
    });
  });

  describe("append 'any' under constant contention", function () {
    it('reports the conflict as WrongExpectedVersionError, not StreamDeletedError', async function () {
      // A client configured with throwOnAppendFailure=false answers success: false instead of throwing.
      const client = {
        readStream: fake.readStream.bind(fake),
        appendToStream: async () => ({ success: false, nextExpectedRevision: 7n }),
      } as unknown as EventStoreDBClient;
      const error = await rejection(new EventStoreDbEventStore(client).append('user-1', [event(1)]));
      expect(error).to.be.instanceOf(WrongExpectedVersionError).and.not.to.be.instanceOf(StreamDeletedError);
    });
  });

  it("(the stand-in answers a missing stream's delete as the server does)", async function () {
    const error = await rejection(fake.deleteStream('never', { expectedRevision: NO_STREAM }));
    expect(error).to.be.instanceOf(ClientWrongExpectedVersionError);
  });
});
