import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { SqliteEventStore } from '../../src/stores/embedded/index.js';
import { RecentIds } from '../../src/stores/embedded/recent-ids.js';
import type { EventToAppend, JsonObject, Position, RecordedEvent, StreamTailOptions } from '../../src/stores/event-store.js';
import { AppendTooLargeError, appendSize, readTailBackwards, StreamDeletedError, WrongExpectedVersionError } from '../../src/stores/event-store.js';
import { eventStoreContract, withTimeout } from './event-store.contract.js';
import { turnCounter } from '../support/turns.js';

/** A fresh directory per store, removed by the returned cleanup. */
function tempDatabasePath(): { path: string; removeDirectory: () => void } {
  const directory = mkdtempSync(join(tmpdir(), 'podsync-events-'));
  return {
    path: join(directory, 'events.db'),
    removeDirectory: () => rmSync(directory, { recursive: true, force: true }),
  };
}

eventStoreContract('SqliteEventStore', async () => {
  const { path, removeDirectory } = tempDatabasePath();
  const store = SqliteEventStore.open(path, { pollIntervalMs: 50 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      removeDirectory();
    },
  };
});

// The tail as EventStoreDB's adapter reads it (backwards from the end, readTailBackwards), over
// the embedded store's reads: the same contract as the embedded store's own, from its index.
eventStoreContract('SqliteEventStore, tails read back from the end', async () => {
  const { path, removeDirectory } = tempDatabasePath();
  const inner = SqliteEventStore.open(path, { pollIntervalMs: 50 });
  const readStreamTail = (stream: string, after: Position, options?: StreamTailOptions) => readTailBackwards(inner, stream, after, options);
  const store = new Proxy(inner, { get: (target, key) => (key === 'readStreamTail' ? readStreamTail : (Reflect.get(target, key) as unknown)) });
  return {
    store,
    cleanup: async () => {
      await inner.close();
      removeDirectory();
    },
  };
});

function event(type: string, data: JsonObject = {}): EventToAppend {
  return { id: randomUUID(), type, data };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function nextWithin(iterator: AsyncIterator<RecordedEvent>, ms = 5000): Promise<IteratorResult<RecordedEvent>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no subscription result within ${ms} ms`)), ms);
  });
  return Promise.race([iterator.next(), timeout]).finally(() => clearTimeout(timer));
}

describe('SqliteEventStore (embedded only)', function () {
  let path: string;
  let removeDirectory: () => void;
  const opened: SqliteEventStore[] = [];
  /** Connections the tests opened themselves (a store leaves a borrowed one open). */
  const borrowed: BetterSqlite3.Database[] = [];

  /** Opens a store on this test's file; closed after the test. */
  function open(options: Parameters<typeof SqliteEventStore.open>[1] = {}): SqliteEventStore {
    const store = SqliteEventStore.open(path, { pollIntervalMs: 50, ...options });
    opened.push(store);
    return store;
  }

  function countRows(store: SqliteEventStore, stream?: string): number {
    const sql = stream === undefined ? 'SELECT count(*) FROM events' : 'SELECT count(*) FROM events WHERE stream_id = (SELECT id FROM streams WHERE name = ?)';
    const params = stream === undefined ? [] : [stream];
    return (
      store.database
        .prepare<unknown[], number>(sql)
        .pluck()
        .get(...params) ?? -1
    );
  }

  beforeEach(function () {
    ({ path, removeDirectory } = tempDatabasePath());
  });

  afterEach(async function () {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    for (const database of borrowed.splice(0)) database.close();
    removeDirectory();
  });

  it('reads events whose data and metadata (parsed when first read) spread, clone and serialise as plain values', async function () {
    const store = open();
    const data: JsonObject = { nested: { list: [1, 'two', null] }, text: 'é' };
    await store.append('user-lazy', [{ id: randomUUID(), type: 'play', data, metadata: { username: 'ann' } }]);
    const [event] = await store.readStream('user-lazy');
    const plain = { ...event! };
    expect(plain.data).to.deep.equal(data);
    expect(plain.metadata).to.deep.equal({ username: 'ann' });
    expect(structuredClone(event!).data).to.deep.equal(data);
    expect(JSON.parse(JSON.stringify(event!, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))).data).to.deep.equal(data);
    expect(event!.data, 'the same object on every read').to.equal(event!.data);
  });

  it('reads events as objects of one shape with fast properties, not dictionaries (every reader of every event reads them)', async function () {
    // V8's own view of the objects: natives are allowed for functions compiled after this.
    setFlagsFromString('--allow-natives-syntax');
    const fastAndAlike = new Function('a', 'b', 'return %HasFastProperties(a) && %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
    const store = open();
    await store.append('user-shape', [event('play'), event('position')]);
    const [first, second] = await store.readStream('user-shape');
    const [fromAll] = await store.readAll({ maxCount: 1 });
    expect(fastAndAlike(first!, second!)).to.equal(true);
    expect(fastAndAlike(first!, fromAll!)).to.equal(true);
    void first!.data;
    expect(fastAndAlike(first!, second!), 'after its data is parsed').to.equal(true);
  });

  describe('retries recognised from the stream’s last ids (no index of every event by id)', function () {
    const ids = (events: readonly EventToAppend[]) => events.map((item) => item.id);

    it('has no index by id, and keeps the last 64 ids of each stream in its row', async function () {
      const store = open();
      const indexes = store.database.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL").pluck().all();
      expect(indexes).to.deep.equal([]);
      const first = Array.from({ length: 40 }, () => event('play'));
      const second = Array.from({ length: 40 }, () => event('play'));
      await store.append('user-1', first);
      await store.append('user-1', second);
      const recent = RecentIds.of(store.database.prepare("SELECT recent_ids FROM streams WHERE name = 'user-1'").pluck().get() as Buffer);
      expect(recent.length).to.equal(64);
      const kept = [...ids(first), ...ids(second)].slice(-64);
      expect(kept.map((id) => recent.lastIndexOf(id))).to.deep.equal(kept.map((_id, index) => index));
      expect(
        ids(first.slice(0, 16)).map((id) => recent.lastIndexOf(id)),
        'those before the last 64',
      ).to.deep.equal(Array(16).fill(-1));
    });

    it('answers a retry among them like the first time, after later appends too; a mix is a conflict; one gone past them is new', async function () {
      const store = open();
      const batch = [event('play'), event('play')];
      const first = await store.append('user-1', batch);
      for (let n = 0; n < 62; n++) await store.append('user-1', [event('play')]);
      expect(await store.append('user-1', batch), 'its ids among the last 64').to.deep.equal(first);
      const error = await store.append('user-1', [batch[1]!, event('play')]).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).to.have.property('name', 'IdempotencyConflictError');
      await store.append('user-1', [event('play')]);
      // Its first id has left the window, its second not: the stream's tail read back decides.
      expect(await store.append('user-1', batch), 'half in the window').to.deep.equal(first);
      await store.append('user-1', [event('play')]);
      // Both gone past the last 64 events: a new write, as the EventStoreDB adapter's window of
      // the tail it reads makes it for an append expecting a revision.
      const again = await store.append('user-1', batch);
      expect(again.nextRevision).to.equal(67n);
      expect(countRows(store, 'user-1')).to.equal(68);
    });

    it('answers a retry of a batch longer than the window, and one whose last event was erased decides from the stream', async function () {
      const store = open();
      const long = Array.from({ length: 100 }, () => event('play'));
      const first = await store.append('user-1', long);
      expect(await store.append('user-1', long)).to.deep.equal(first);
      expect(countRows(store, 'user-1')).to.equal(100);
      const pair = [event('play'), event('remove')];
      await store.append('user-2', pair);
      const [, last] = await store.readStream('user-2');
      expect(store.eraseEvents('user-2', [last!])).to.equal(1);
      // The erased event's id is still among the row's ids, its row gone: the stream, holding one
      // of the two, decides (a conflict, as when every event was found by its id).
      const error = await store.append('user-2', pair).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).to.have.property('name', 'IdempotencyConflictError');
    });

    it('confirms each id its hash matches from the stream: ids that are not at those revisions are a new write', async function () {
      const store = open();
      const written = [event('play'), event('play')];
      await store.append('user-1', written);
      // The row's hashes made to name two other ids (as a collision of hashes would).
      const other = [event('play'), event('play')];
      store.database.prepare("UPDATE streams SET recent_ids = ? WHERE name = 'user-1'").run(RecentIds.of(null).appended(ids(other), 64));
      const result = await store.append('user-1', other);
      expect(result.nextRevision).to.equal(3n);
      expect((await store.readStream('user-1')).map((item) => item.id)).to.deep.equal([...ids(written), ...ids(other)]);
    });

    it('reads retries from the stream in a store made before it kept ids, and drops the index by id there', async function () {
      // As an earlier version left it: events naming their stream, the index by id, no ids in the row.
      const older = new BetterSqlite3(path);
      older.exec(LAYOUT_NAMING_STREAMS.replace(',\n  recent_ids      BLOB', '') + 'CREATE INDEX events_stream_id ON events (stream, id);');
      const batch = [event('play'), event('play')];
      const insert = older.prepare(
        "INSERT INTO events (stream, revision, id, type, data, metadata, recorded_at) VALUES ('user-1', ?, ?, 'play', '{}', '{}', 1)",
      );
      batch.forEach((item, revision) => insert.run(revision, item.id));
      older.exec("INSERT INTO streams (name, last_revision) VALUES ('user-1', 1)");
      older.close();
      const reopened = open();
      expect(reopened.database.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'events_stream_id'").pluck().get()).to.equal(0);
      const first = { nextRevision: 1n, position: { commit: 3n, prepare: 3n } };
      expect(await reopened.append('user-1', batch), 'recognised from the stream').to.deep.equal(first);
      const next = [event('play')];
      await reopened.append('user-1', next);
      const recent = RecentIds.of(reopened.database.prepare("SELECT recent_ids FROM streams WHERE name = 'user-1'").pluck().get() as Buffer);
      expect([recent.length, recent.lastIndexOf(next[0]!.id), recent.lastIndexOf(batch[0]!.id)]).to.deep.equal([1, 0, -1]);
      expect(await reopened.append('user-1', batch), 'still, with the row keeping fewer ids than the stream has').to.deep.equal(first);
    });
  });

  describe('a store whose events name their stream (an earlier layout), opened', function () {
    /** The old store: streams of every kind, written as the earlier version wrote them. */
    function writeOldStore(): { ids: Record<string, string[]> } {
      const older = new BetterSqlite3(path);
      older.exec(LAYOUT_NAMING_STREAMS);
      const ids: Record<string, string[]> = {};
      const insert = older.prepare('INSERT INTO events (position, stream, revision, id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      const rows: [string, number][] = [
        ['user-b', 0],
        ['user-a', 0],
        ['user-b', 1],
        ['truncated', 0],
        ['truncated', 1],
        ['user-a', 1],
        ['gone', 0],
        ['rowless', 0],
        ['user-a', 2],
      ];
      rows.forEach(([stream, revision], index) => {
        const id = randomUUID();
        (ids[stream] ??= []).push(id);
        insert.run(index + 10, stream, revision, id, `type-${stream}`, JSON.stringify({ n: index }), JSON.stringify({ username: stream }), 1_000 + index);
      });
      const recentA = RecentIds.of(null).appended(ids['user-a']!, 64);
      older.prepare("INSERT INTO streams (name, last_revision, recent_ids) VALUES ('user-a', 2, ?)").run(recentA);
      older.exec(`INSERT INTO streams (name, last_revision) VALUES ('user-b', 1);
        INSERT INTO streams (name, last_revision, truncate_before, metadata, meta_revision) VALUES ('truncated', 1, 1, '{"custom":{"note":"kept"}}', 0);
        INSERT INTO streams (name, last_revision, tombstoned) VALUES ('gone', 0, 1);
        INSERT INTO streams (name, truncate_before, metadata, meta_revision) VALUES ('metadata-only', 5, '{}', 2);
        -- The newest events were purged: positions up to 40 were given out.
        UPDATE sqlite_sequence SET seq = 40 WHERE name = 'events';`);
      older.close();
      return { ids };
    }

    it('moves every event to rows naming their stream by number, keeping positions, revisions, metadata and hidden events hidden', async function () {
      const { ids } = writeOldStore();
      const store = open();
      expect(store.migration).to.deep.equal({ eventsRenumbered: 9 });
      const columns = store.database.prepare("SELECT name FROM pragma_table_info('events')").pluck().all();
      expect(columns).to.include('stream_id').and.not.include('stream');
      const userA = await store.readStream('user-a');
      expect(userA.map((e) => [e.position.commit, e.revision, e.id, e.type, e.data, e.metadata, e.recordedAt.getTime()])).to.deep.equal([
        [11n, 0n, ids['user-a']![0], 'type-user-a', { n: 1 }, { username: 'user-a' }, 1_001],
        [15n, 1n, ids['user-a']![1], 'type-user-a', { n: 5 }, { username: 'user-a' }, 1_005],
        [18n, 2n, ids['user-a']![2], 'type-user-a', { n: 8 }, { username: 'user-a' }, 1_008],
      ]);
      expect((await store.readAll()).map((e) => `${e.stream}@${e.revision}:${e.position.commit}`)).to.deep.equal([
        'user-b@0:10',
        'user-a@0:11',
        'user-b@1:12',
        'truncated@1:14',
        'user-a@1:15',
        'rowless@0:17',
        'user-a@2:18',
      ]);
      expect((await store.readAll({ filter: { streamPrefixes: ['user-'] } })).map((e) => e.position.commit)).to.deep.equal([10n, 11n, 12n, 15n, 18n]);
      expect(await store.getStreamMetadata('truncated')).to.deep.equal({ metadata: { custom: { note: 'kept' }, truncateBefore: 1n }, metaRevision: 0n });
      expect(await store.streamState('metadata-only')).to.deep.equal({ lastRevision: 'no_stream', softDeleted: false, tombstoned: false, metaRevision: 2n });
      expect(await store.streamState('rowless'), 'a row made for events that had none').to.include({ lastRevision: 0n });
      await store.readStream('gone').then(
        () => expect.fail('a tombstoned stream reads as deleted'),
        (error: unknown) => expect(error).to.be.instanceOf(StreamDeletedError),
      );
      expect(store.purgeTruncated()).to.equal(2);
      expect(countRows(store)).to.equal(7);
    });

    it('goes on where the old store stopped: retries recognised, revisions and positions continued, and opens again without moving anything', async function () {
      const { ids } = writeOldStore();
      const store = open();
      const retry = ids['user-a']!.slice(1).map((id) => ({ id, type: 'type-user-a', data: {} }));
      expect(await store.append('user-a', retry), 'a retry of the last two, from the ids the row kept').to.deep.equal({
        nextRevision: 2n,
        position: { commit: 18n, prepare: 18n },
      });
      expect(await store.append('user-a', [event('play')])).to.deep.equal({ nextRevision: 3n, position: { commit: 41n, prepare: 41n } });
      expect(await store.append('new-stream', [event('play')])).to.deep.equal({ nextRevision: 0n, position: { commit: 42n, prepare: 42n } });
      expect(await store.append('metadata-only', [event('play')])).to.deep.equal({ nextRevision: 0n, position: { commit: 43n, prepare: 43n } });
      await store.close();
      opened.splice(opened.indexOf(store), 1);
      const reopened = open();
      expect(reopened.migration).to.deep.equal({ eventsRenumbered: 0 });
      expect((await reopened.readStream('user-a')).map((e) => e.revision)).to.deep.equal([0n, 1n, 2n, 3n]);
      // The event appended to `metadata-only` is below its `$tb` (5): hidden, as EventStoreDB hides it.
      expect((await reopened.readAll()).map((e) => e.position.commit)).to.deep.equal([10n, 11n, 12n, 14n, 15n, 17n, 18n, 41n, 42n]);
    });

    it('moves an empty store, keeping the sequence it had given out', async function () {
      const older = new BetterSqlite3(path);
      older.exec(LAYOUT_NAMING_STREAMS + "UPDATE sqlite_sequence SET seq = 7 WHERE name = 'events';");
      older.close();
      const store = open();
      expect(store.migration).to.deep.equal({ eventsRenumbered: 0 });
      expect((await store.append('user-1', [event('play')])).position.commit).to.equal(8n);
    });

    it('moves a store larger than a slice, in $all order, and the file grows by a slice, not by a second copy of the events', async function () {
      const older = new BetterSqlite3(path);
      older.exec(LAYOUT_NAMING_STREAMS);
      older.exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 45000)
        INSERT INTO events (stream, revision, id, type, data, metadata, recorded_at)
        SELECT 'user-' || (i % 3), i / 3, 'id-' || i, 'play', json_object('i', i, 'pad', printf('%.200c', 'x')), '{}', i FROM n;
        INSERT INTO streams (name, last_revision) SELECT stream, max(revision) FROM events GROUP BY stream;`);
      older.pragma('wal_checkpoint(TRUNCATE)');
      older.close();
      const before = statSync(path).size;
      const progress: unknown[] = [];
      const store = open({ onMigrationProgress: (reported) => progress.push(reported) });
      expect(store.migration).to.deep.equal({ eventsRenumbered: 45001 });
      expect(progress[0], 'told as it starts').to.deep.equal({ moved: 0, total: 45001 });
      store.database.pragma('wal_checkpoint(TRUNCATE)');
      // 45,001 events are about two slices: a second copy would make it ~1.8 times as large.
      expect(statSync(path).size / before).to.be.below(1.5);
      const all = await store.readAll();
      expect(all.map((e) => Number(e.data['i']))).to.deep.equal(Array.from({ length: 45001 }, (_, i) => i));
      // Positions as the old store gave them: 2 onwards (schema.ts), one an event.
      expect(all.every((e) => e.position.commit === BigInt(e.data['i'] as number) + 2n)).to.equal(true);
      const [last] = await store.readStream('user-1', { direction: 'backwards', maxCount: 1 });
      expect([last!.id, last!.revision]).to.deep.equal(['id-44998', 14999n]);
    });

    it('a store opened by two connections at once is moved once', async function () {
      writeOldStore();
      const [first, second] = [open(), open()];
      expect([first.migration.eventsRenumbered, second.migration.eventsRenumbered].sort()).to.deep.equal([0, 9]);
      expect((await second.readAll()).length).to.equal(7);
    });
  });

  it('lastPosition after an erasure deleted the last revision’s row: the newest event left, as readStream backwards has it', async function () {
    const store = open();
    const [a, b, c] = [event('play'), event('play'), event('remove')];
    await store.append('user-1', [a, b]);
    await store.append('user-2', [event('play')]);
    await store.append('user-1', [c]);
    const recorded = await store.readStream('user-1');
    const [a1, b1, c1] = recorded;
    expect(store.eraseEvents('user-1', [{ id: a1!.id, revision: c1!.revision }]), 'an id not at that revision').to.equal(0);
    expect(store.eraseEvents('user-1', [c1!])).to.equal(1);
    const [newest] = await store.readStream('user-1', { direction: 'backwards', maxCount: 1 });
    expect(newest!.id).to.equal(b.id);
    expect(await store.lastPosition('user-1')).to.deep.equal(newest!.position);
    expect(store.eraseEvents('user-1', [a1!, b1!])).to.equal(2);
    expect(await store.lastPosition('user-1')).to.equal(undefined);
  });

  it('commits the first append of a turn at once and the ones after it together, each answered as if alone, in the order made', async function () {
    const store = open();
    await store.append('user-1', [event('play')]);
    await store.tombstoneStream('user-gone');
    const retried = event('play');
    await store.append('user-2', [retried]);
    const walFrames = () => (store.database.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]!.log;
    walFrames();
    const [first, wrong, gone, retry, last] = await Promise.allSettled([
      store.append('user-3', [event('play'), event('play')]),
      store.append('user-1', [event('play')], { expectedRevision: 5n }),
      store.append('user-gone', [event('play')]),
      store.append('user-2', [retried]),
      store.append('user-1', [event('position')], { expectedRevision: 0n }),
    ]);
    const together = walFrames();
    expect(first.status === 'fulfilled' && first.value.nextRevision).to.equal(1n);
    expect(wrong.status === 'rejected' && wrong.reason).to.be.instanceOf(WrongExpectedVersionError);
    expect(gone.status === 'rejected' && gone.reason).to.be.instanceOf(StreamDeletedError);
    expect(retry.status === 'fulfilled' && retry.value.nextRevision).to.equal(0n);
    expect(last.status === 'fulfilled' && last.value.nextRevision).to.equal(1n);
    // In the order made: user-3's events before user-1's second; nothing of the failed ones.
    expect(countRows(store)).to.equal(5);
    expect((await store.readStream('user-1')).map((e) => e.type)).to.deep.equal(['play', 'position']);
    const positions = await store.readAll();
    expect(positions.map((e) => e.stream)).to.deep.equal(['user-1', 'user-2', 'user-3', 'user-3', 'user-1']);
    // The turn's first append is committed at once; the others of the turn in one commit: the
    // pages every append touches (the last page of events, the streams table, the position
    // sequence) written once, not once per append.
    for (const stream of ['user-4', 'user-5', 'user-6', 'user-7', 'user-8', 'user-9']) await store.append(stream, [event('play'), event('play')]);
    const oneByOne = walFrames();
    for (const stream of ['user-10', 'user-11', 'user-12', 'user-13', 'user-14']) void store.append(stream, [event('play'), event('play')]);
    await store.append('user-15', [event('play'), event('play')]);
    expect(walFrames(), `${together} frames for the first group`).to.be.lessThan(oneByOne);
    // A backlog goes in groups of 32 after the first: each is answered before the next is committed.
    const before = countRows(store);
    const seen = new Map<number, number>();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => store.append(`backlog-${i}`, [event('play')]).then(() => void seen.set(i, countRows(store) - before))),
    );
    expect([seen.get(0), seen.get(1), seen.get(32), seen.get(33), seen.get(39)]).to.deep.equal([1, 33, 33, 40, 40]);
    expect(countRows(store) - before).to.equal(40);
  });

  it('writes a long append out as JSON a slice at a time, other work served in between, then commits it whole', async function () {
    const store = open();
    const counter = turnCounter();
    const committedAt: number[] = [];
    const appending = store
      .append(
        'user-long',
        Array.from({ length: 6_000 }, () => event('play')),
      )
      .then(() => committedAt.push(countRows(store)));
    await appending;
    const turns = counter.stop();
    // 6,000 events in slices of 2,000: at least a turn after each of the first two.
    expect(turns).to.be.at.least(2);
    expect(committedAt).to.deep.equal([6_000]);
  });

  it('takes a client append of exactly its limit and refuses one byte more, counted as EventStoreDB counts (UTF-8 bytes, the type twice)', async function () {
    const limit = 70_000;
    const store = open({ maxAppendBytes: limit });
    // Events whose data is {"t":"…"} with `é` (2 bytes, 1 character): the cheap bound on
    // characters must not let a byte count past the limit through.
    const sized = (bytes: number): EventToAppend[] => {
      const probe = event('play', { t: '' });
      const fixed = Buffer.byteLength(JSON.stringify(probe.data)) + Buffer.byteLength(JSON.stringify(probe.metadata ?? {})) + 'play'.length * 2;
      const text = 'é'.repeat(Math.floor((bytes - fixed) / 2)) + 'x'.repeat((bytes - fixed) % 2);
      return [{ ...probe, data: { t: text } }];
    };
    expect(appendSize(sized(limit).map((e) => ({ type: e.type, data: JSON.stringify(e.data), metadata: JSON.stringify(e.metadata ?? {}) })))).to.equal(limit);
    await store.append('user-1', sized(limit));
    const refused = await store.append('user-1', sized(limit + 1)).then(
      () => expect.fail('an append one byte past the limit was taken'),
      (error: unknown) => error,
    );
    expect(refused).to.be.instanceOf(AppendTooLargeError);
    expect(refused).to.include({ stream: 'user-1', maxBytes: limit, bytes: limit + 1 });
    expect(await store.readStream('user-1')).to.have.length(1);
    // Two events together count as one append.
    const [half] = sized(limit / 2 + 1);
    await store.append('user-2', [half!, { ...half!, id: randomUUID() }]).then(
      () => expect.fail('two halves past the limit were taken'),
      (error: unknown) => expect(error).to.be.instanceOf(AppendTooLargeError),
    );
    expect(await store.streamState('user-2')).to.include({ lastRevision: 'no_stream' });
    // The service's own appends (a checkpoint of a heavy user) are not held to it.
    await store.append('user-3', sized(limit * 2), { system: true });
    expect(await store.readStream('user-3')).to.have.length(1);
  });

  it('stamps recordedAt with the injected clock', async function () {
    const now = new Date('2024-01-02T03:04:05.678Z');
    const store = open({ clock: () => now });
    await store.append('user-1', [event('play')]);

    const [fromStream] = await store.readStream('user-1');
    const [fromAll] = await store.readAll();
    const iterator = store.subscribeToAll()[Symbol.asyncIterator]();
    const fromSubscription = await nextWithin(iterator);
    expect(fromStream!.recordedAt.toISOString()).to.equal(now.toISOString());
    expect(fromAll!.recordedAt.toISOString()).to.equal(now.toISOString());
    expect(fromSubscription.value?.recordedAt.toISOString()).to.equal(now.toISOString());
  });

  it('purgeTruncated physically deletes hidden rows and nothing else', async function () {
    const store = open();
    await store.append(
      'truncated',
      [0, 1, 2, 3, 4].map((n) => event('play', { n })),
    );
    await store.setStreamMetadata('truncated', { truncateBefore: 3n });
    await store.append('soft', [event('a'), event('b'), event('c')]);
    await store.deleteStream('soft');
    await store.append('soft', [event('d')]);
    await store.append('gone', [event('a'), event('b')]);
    await store.tombstoneStream('gone');
    await store.append('kept', [event('a'), event('b')]);
    expect(countRows(store)).to.equal(13);

    expect(store.purgeTruncated('truncated')).to.equal(3);
    expect(countRows(store, 'truncated')).to.equal(2);
    expect(countRows(store)).to.equal(10);

    expect(store.purgeTruncated()).to.equal(5);
    expect(countRows(store, 'soft')).to.equal(1);
    expect(countRows(store, 'gone')).to.equal(0);
    expect(countRows(store, 'kept')).to.equal(2);
    expect(store.purgeTruncated()).to.equal(0);

    expect((await store.readStream('truncated')).map((e) => e.revision)).to.deep.equal([3n, 4n]);
    expect((await store.readStream('soft')).map((e) => e.revision)).to.deep.equal([3n]);
    expect((await store.readAll()).map((e) => `${e.stream}@${e.revision}`)).to.deep.equal(['truncated@3', 'truncated@4', 'soft@3', 'kept@0', 'kept@1']);
    // Revisions and positions keep counting after a purge.
    const head = await store.headPosition();
    const next = await store.append('truncated', [event('later')]);
    expect(next.nextRevision).to.equal(5n);
    expect(next.position.commit).to.equal(head.commit + 1n);
  });

  it('truncateStreams sets many $tb at once (never lower), purgeStreams deletes only hidden rows', async function () {
    const store = open();
    for (const stream of ['a', 'b', 'c'])
      await store.append(
        stream,
        [0, 1, 2, 3].map((n) => event('play', { n })),
      );
    await store.setStreamMetadata('b', { truncateBefore: 3n });
    await store.append('gone', [event('x')]);
    await store.tombstoneStream('gone');
    store.truncateStreams([
      { stream: 'a', truncateBefore: 2n },
      { stream: 'b', truncateBefore: 1n },
      { stream: 'gone', truncateBefore: 1n },
    ]);
    expect((await store.getStreamMetadata('a')).metadata.truncateBefore).to.equal(2n);
    expect((await store.getStreamMetadata('b')).metadata).to.deep.equal({ truncateBefore: 3n });
    expect((await store.readStream('a')).map((e) => e.revision)).to.deep.equal([2n, 3n]);
    expect(countRows(store)).to.equal(13);

    const resume = store.pauseWalCheckpoints();
    expect(store.database.pragma('wal_autocheckpoint', { simple: true })).to.equal(0);
    expect(store.purgeStreams(['a', 'b', 'c', 'gone'])).to.equal(2 + 3 + 0 + 1);
    resume();
    expect(store.database.pragma('wal_autocheckpoint', { simple: true })).to.equal(1000);
    expect(countRows(store)).to.equal(7);
    expect((await store.readStream('c')).map((e) => e.revision)).to.deep.equal([0n, 1n, 2n, 3n]);
    expect(store.purgeStreams(['a', 'b'])).to.equal(0);
  });

  it('a second instance on the same file sees the first one’s appends through polling', async function () {
    const writer = open();
    const reader = open({ pollIntervalMs: 30 });
    await writer.append('user-1', [event('before')]);
    const subscription = reader.subscribeToAll({ after: await reader.headPosition() });
    const iterator = subscription[Symbol.asyncIterator]();

    const pending = nextWithin(iterator, 3000);
    await delay(100);
    const appended = await writer.append('user-2', [event('from-writer', { n: 1 })]);
    const delivered = await pending;
    expect(delivered.done).to.equal(false);
    expect(delivered.value).to.include({ stream: 'user-2', type: 'from-writer' });
    expect(delivered.value?.position).to.deep.equal(appended.position);
    await subscription.unsubscribe();
  });

  it('keeps everything across close and reopen', async function () {
    const first = open();
    const appended = await first.append('user-1', [event('a', { n: 1 }), event('b', { n: 2 })]);
    await first.setStreamMetadata('user-1', { truncateBefore: 0n });
    await first.close();

    const second = open();
    expect((await second.readStream('user-1')).map((e) => e.data)).to.deep.equal([{ n: 1 }, { n: 2 }]);
    expect(await second.headPosition()).to.deep.equal(appended.position);
    const metadata = await second.getStreamMetadata('user-1');
    expect(metadata).to.deep.equal({ metadata: { truncateBefore: 0n }, metaRevision: 0n });
    const next = await second.append('user-1', [event('c')], { expectedRevision: 1n });
    expect(next.nextRevision).to.equal(2n);
    expect(next.position.commit).to.equal(appended.position.commit + 1n);
  });

  it('pages through history in small pages, skipping filtered-out events', async function () {
    const store = open({ subscriptionPageSize: 2 });
    for (let n = 0; n < 7; n++) {
      await store.append(n % 2 === 0 ? 'user-even' : 'podcast-odd', [event('e', { n })]);
    }
    const received: number[] = [];
    for await (const recorded of store.subscribeToAll({ filter: { streamPrefixes: ['user-'] } })) {
      received.push(recorded.data['n'] as number);
      if (received.length === 4) break;
    }
    expect(received).to.deep.equal([0, 2, 4, 6]);
  });

  it('applies a truncation made after a page was read to the rest of that page', async function () {
    const store = open({ subscriptionPageSize: 100 });
    await store.append(
      'user-1',
      [0, 1, 2, 3, 4].map((n) => event('e', { n })),
    );
    const iterator = store.subscribeToAll()[Symbol.asyncIterator]();
    expect((await nextWithin(iterator)).value?.revision).to.equal(0n);

    await store.setStreamMetadata('user-1', { truncateBefore: 3n });
    expect((await nextWithin(iterator)).value?.revision).to.equal(3n);
    expect((await nextWithin(iterator)).value?.revision).to.equal(4n);
  });

  it('breaking out of for-await ends the subscription', async function () {
    const store = open();
    await store.append('user-1', [event('a'), event('b')]);
    const subscription = store.subscribeToAll();
    for await (const _recorded of subscription) break;
    const after = await nextWithin(subscription[Symbol.asyncIterator]());
    expect(after.done).to.equal(true);
  });

  it('close() ends pending subscriptions', async function () {
    const store = open();
    const iterator = store.subscribeToAll()[Symbol.asyncIterator]();
    const pending = nextWithin(iterator);
    await delay(20);
    await store.close();
    expect((await pending).done).to.equal(true);
  });

  /**
   * A store on a connection that counts the read snapshots taken on it (BEGIN DEFERRED: one per
   * poll of a subscription; appends begin IMMEDIATE).
   */
  function openCountingSnapshots(options: Parameters<typeof SqliteEventStore.open>[1]): { store: SqliteEventStore; snapshots: () => number } {
    let snapshots = 0;
    const database = new BetterSqlite3(path, { verbose: (sql) => (sql === 'BEGIN DEFERRED' ? snapshots++ : undefined) });
    const store = new SqliteEventStore(database, options);
    opened.push(store);
    borrowed.push(database);
    return { store, snapshots: () => snapshots };
  }

  it('an idle subscription polls at its interval instead of spinning', async function () {
    const { store, snapshots: counted } = openCountingSnapshots({ pollIntervalMs: 100 });
    const start = counted();
    const subscription = store.subscribeToAll();
    const pending = subscription[Symbol.asyncIterator]().next();
    await delay(550);
    await subscription.unsubscribe();
    expect((await pending).done).to.equal(true);
    expect(counted() - start).to.be.within(4, 8);
  });

  it("a subscription filtered on event types is not woken by this process's appends of other types: its poll scans them", async function () {
    // A poll interval longer than the test: only an append can wake the subscriptions.
    const { store, snapshots } = openCountingSnapshots({ pollIntervalMs: 60_000 });
    const removes = store.subscribeToAll({ filter: { eventTypes: ['remove'] } });
    const everything = store.subscribeToAll();
    try {
      const nextRemove = removes[Symbol.asyncIterator]().next();
      const everythingIterator = everything[Symbol.asyncIterator]();
      const nextAny = everythingIterator.next();
      await delay(20);
      const idle = removes.idlePosition();
      expect(idle, 'waiting after its first look').to.deep.equal({ commit: 0n, prepare: 0n });
      const before = snapshots();

      const play = event('play');
      await store.append('user-1', [play]);
      // The unfiltered subscription was woken and read the play at once (one snapshot)…
      expect((await withTimeout(nextAny, 1000, 'the play')).value!.id).to.equal(play.id);
      for (let n = 0; n < 10; n++) await store.append('user-1', [event('play')]);
      await delay(20);
      // …the one on removes was not: it has not read, and still waits where it did.
      expect(removes.idlePosition()).to.deep.equal(idle);
      expect(snapshots() - before).to.equal(1);

      const remove = event('remove');
      await store.append('user-2', [remove]);
      expect((await withTimeout(nextRemove, 1000, 'the remove')).value!.id).to.equal(remove.id);
    } finally {
      await removes.unsubscribe();
      await everything.unsubscribe();
    }
  });

  it('works on a borrowed connection and leaves it open on close', async function () {
    const database = new BetterSqlite3(path);
    try {
      const store = new SqliteEventStore(database);
      await store.append('user-1', [event('a')]);
      await store.close();
      expect(database.open).to.equal(true);
      expect(database.pragma('journal_mode', { simple: true })).to.equal('wal');
      expect(database.prepare('SELECT count(*) FROM events').pluck().get()).to.equal(1);
    } finally {
      database.close();
    }
  });

  it('an idempotent retry after a soft delete still answers the original write', async function () {
    const store = open();
    const batch = [event('a'), event('b')];
    const first = await store.append('user-1', batch);
    await store.deleteStream('user-1');
    expect(await store.append('user-1', batch)).to.deep.equal(first);
    expect(await store.streamState('user-1')).to.deep.equal({ lastRevision: 1n, softDeleted: true, tombstoned: false, metaRevision: 0n });
  });
});

/** The layout of stores made before events named their stream by number (as those versions created it). */
const LAYOUT_NAMING_STREAMS = `
CREATE TABLE events (
  position    INTEGER PRIMARY KEY AUTOINCREMENT,
  stream      TEXT    NOT NULL,
  revision    INTEGER NOT NULL,
  id          TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  data        TEXT    NOT NULL,
  metadata    TEXT    NOT NULL,
  recorded_at INTEGER NOT NULL,
  UNIQUE (stream, revision)
);
CREATE TABLE streams (
  name            TEXT    PRIMARY KEY,
  last_revision   INTEGER,
  truncate_before INTEGER,
  deleted         INTEGER NOT NULL DEFAULT 0,
  tombstoned      INTEGER NOT NULL DEFAULT 0,
  metadata        TEXT,
  meta_revision   INTEGER,
  recent_ids      BLOB
) WITHOUT ROWID;
INSERT INTO sqlite_sequence (name, seq) SELECT 'events', 1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events');
`;
