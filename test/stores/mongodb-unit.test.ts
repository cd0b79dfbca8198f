/**
 * The MongoDB adapters without a server: the exact requests they send (filters, updates,
 * options), checked on collection objects that record calls, typed against the driver.
 * What only a server can show is in the contract suites (test/stores/mongodb.test.ts).
 */
import { expect } from 'chai';
import { MongoServerError, type ClientSession, type Collection, type Db, type MongoClient } from 'mongodb';
import { MongoAccountStore, MongoReadModelStore, ReplicaSetRequiredError } from '../../src/stores/mongodb/index.js';
import { ResetIncompleteError } from '../../src/stores/mongodb/mongo-read-model.js';
import { InvalidDocumentError, LeaseNotHeldError, type DocChange, type Query } from '../../src/stores/read-model.js';

interface Call {
  readonly collection: string;
  readonly method: string;
  readonly args: unknown[];
}

/**
 * A Db whose collections record every call and answer with `answer(call)`. Only the methods
 * a test reaches are implemented; anything else throws, so a test cannot pass by accident.
 */
export function recordingDb(answer: (call: Call) => unknown = () => undefined): { db: Db; calls: Call[] } {
  const calls: Call[] = [];
  const collection = (name: string) =>
    new Proxy({} as Collection, {
      get(_target, method) {
        if (typeof method !== 'string' || method === 'then') return undefined;
        return (...args: unknown[]) => {
          const call = { collection: name, method, args };
          calls.push(call);
          // Cursors are returned as they are; everything else the driver answers with a promise.
          if (method === 'listIndexes' || method === 'find') return answer(call);
          try {
            return Promise.resolve(answer(call));
          } catch (error) {
            return Promise.reject(error as Error);
          }
        };
      },
    });
  const db = {
    collection,
    databaseName: 'unit',
    admin: () => ({ command: async () => ({ setName: 'rs0' }) }),
    createCollection: async () => undefined,
  } as unknown as Db;
  return { db, calls };
}

function hasKey(value: unknown, key: string): boolean {
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => k === key || hasKey(v, key));
}

describe('MongoDB adapters (no server)', function () {
  it('ReplicaSetRequiredError gives a connection string that works from the host', function () {
    const message = new ReplicaSetRequiredError('detail').message;
    expect(message).to.contain('directConnection=true');
    expect(message).not.to.contain('replicaSet=rs0');
  });

  describe('lease acquisition', function () {
    it('upserts on _id alone: MongoDB refuses $expr in an upsert query (QueryFeatureNotAllowed, 224)', async function () {
      const { db, calls } = recordingDb(() => ({ _id: 'p', owner: 'me' }));
      const store = new MongoReadModelStore(db, {} as MongoClient);
      expect((await store.tryAcquireLeases(['p'], 'me', 15_000))[0]).to.equal(true);
      const upserts = calls.filter((call) => call.collection === 'leases');
      expect(upserts).to.have.length(1);
      const [filter, update, options] = upserts[0]!.args;
      expect(filter).to.deep.equal({ _id: 'p' });
      expect(hasKey(filter, '$expr')).to.equal(false);
      expect(update).to.be.an('array');
      expect(options).to.include({ upsert: true, returnDocument: 'after' });
    });

    it('reports a lease another owner holds as not acquired (the update left its owner)', async function () {
      const { db } = recordingDb(() => ({ _id: 'p', owner: 'other' }));
      const store = new MongoReadModelStore(db, {} as MongoClient);
      expect((await store.tryAcquireLeases(['p'], 'me', 15_000))[0]).to.equal(false);
    });
  });

  describe('queries', function () {
    it('send keyset paging (`after`) as an inclusive bound on the order field, an $or for the ties after the id, and the order with _id', async function () {
      const sorts: unknown[] = [];
      const limits: unknown[] = [];
      const cursor = {
        sort: (sort: unknown) => (sorts.push(sort), cursor),
        limit: (limit: unknown) => (limits.push(limit), cursor),
        toArray: async () => [{ _id: 'y', timestamp: 't' }],
      };
      const { db, calls } = recordingDb((call) => (call.method === 'find' ? cursor : undefined));
      const found = await new MongoReadModelStore(db, {} as MongoClient).find('c', {
        where: { feed: 'f' },
        orderBy: [{ field: 'timestamp', direction: 'desc' }],
        after: { value: 't', id: 'x' },
        limit: 5,
      });
      expect(found).to.deep.equal([{ id: 'y', doc: { timestamp: 't' } }]);
      expect(calls.map((call) => call.method)).to.deep.equal(['find']);
      expect(calls[0]!.args[0]).to.deep.equal({ feed: { $eq: 'f' }, timestamp: { $lte: 't' }, $or: [{ timestamp: { $lt: 't' } }, { _id: { $gt: 'x' } }] });
      expect(sorts).to.deep.equal([
        [
          ['timestamp', -1],
          ['_id', 1],
        ],
      ]);
      expect(limits).to.deep.equal([5]);
      await new MongoReadModelStore(db, {} as MongoClient).find('c', { orderBy: [{ field: 'n', direction: 'asc' }], after: { value: 3, id: 'x' } });
      expect(calls[1]!.args[0]).to.deep.equal({ n: { $gte: 3 }, $or: [{ n: { $gt: 3 } }, { _id: { $gt: 'x' } }] });
    });

    it('send an id prefix as a range of _id, beside the keyset $or', async function () {
      const cursor = { sort: () => cursor, limit: () => cursor, toArray: async () => [] };
      const { db, calls } = recordingDb((call) => (call.method === 'find' ? cursor : undefined));
      const store = new MongoReadModelStore(db, {} as MongoClient);
      await store.find('c', { where: { kind: 'a' }, idPrefix: 'u1|["f",' });
      expect(calls[0]!.args[0]).to.deep.equal({ kind: { $eq: 'a' }, _id: { $gte: 'u1|["f",', $lt: 'u1|["f"-' } });
      await store.find('c', { idPrefix: 'u1|', orderBy: [{ field: 'n', direction: 'asc' }], after: { value: 3, id: 'u1|x' } });
      expect(calls[1]!.args[0]).to.deep.equal({ _id: { $gte: 'u1|', $lt: 'u1}' }, n: { $gte: 3 }, $or: [{ n: { $gt: 3 } }, { _id: { $gt: 'u1|x' } }] });
      let refused: unknown;
      await store.find('c', { idPrefix: 'u1|é' }).catch((error: unknown) => (refused = error));
      expect(String(refused)).to.match(/printable ASCII/);
      expect(calls).to.have.length(2);
    });

    it('read one field by a projection for findNumbers and joinRaw, and answer it from the documents found', async function () {
      const limits: unknown[] = [];
      const cursor = {
        sort: () => cursor,
        limit: (limit: unknown) => (limits.push(limit), cursor),
        toArray: async () => [
          { _id: 'a', seq: 3, action: { device: 'phone', note: '“x”' } },
          { _id: 'b', seq: 'x' },
          { _id: 'c', action: null },
        ],
      };
      const { db, calls } = recordingDb((call) => (call.method === 'find' ? cursor : undefined));
      const store = new MongoReadModelStore(db, {} as MongoClient);
      const query: Query = { where: { user: 'u' }, orderBy: [{ field: 'seq', direction: 'asc' }], limit: 7 };
      expect(await store.findNumbers('c', query, 'seq')).to.deep.equal([3, null, null]);
      expect(await store.joinRaw('c', query, 'action')).to.deep.equal({ bytes: Buffer.from('{"device":"phone","note":"“x”"},null', 'utf8'), count: 2 });
      expect(calls.map((call) => call.args)).to.deep.equal([
        [{ user: { $eq: 'u' } }, { projection: { seq: 1 } }],
        [{ user: { $eq: 'u' } }, { projection: { action: 1 } }],
      ]);
      expect(limits).to.deep.equal([7, 7]);
      expect(await store.findNumbers('c', { limit: 0 }, 'seq')).to.deep.equal([]);
      let refused: unknown;
      await store.joinRaw('c', query, 'action.device').catch((error: unknown) => (refused = error));
      expect(String(refused)).to.match(/Invalid field/);
    });

    it('join with the positions of every document found in one read, and only the documents `only` matches (no path inside another projected)', async function () {
      const cursor = {
        sort: () => cursor,
        limit: () => cursor,
        toArray: async () => [
          { _id: 'a', seq: 3, action: { device: 'phone' } },
          { _id: 'b', seq: 4, serving: 'never', action: { device: 'phone' } },
          { _id: 'c', seq: 5, action: { device: 'tablet' } },
          { _id: 'd', seq: 6 },
        ],
      };
      const { db, calls } = recordingDb((call) => (call.method === 'find' ? cursor : undefined));
      const store = new MongoReadModelStore(db, {} as MongoClient);
      const query: Query = { where: { user: 'u' }, orderBy: [{ field: 'seq', direction: 'asc' }] };
      expect(await store.joinRaw('c', query, 'action', { numbers: 'seq', only: { serving: null, 'action.device': 'phone' } })).to.deep.equal({
        bytes: Buffer.from('{"device":"phone"}'),
        count: 1,
        numbers: [3, 4, 5, 6],
      });
      expect(await store.joinRaw('c', query, 'action', { numbers: 'seq', only: { serving: null } })).to.deep.equal({
        bytes: Buffer.from('{"device":"phone"},{"device":"tablet"}'),
        count: 2,
        numbers: [3, 4, 5, 6],
      });
      expect(calls.map((call) => call.args[1])).to.deep.equal([
        { projection: { action: 1, seq: 1, serving: 1 } },
        { projection: { action: 1, seq: 1, serving: 1 } },
      ]);
    });
  });

  describe('ids', function () {
    it('read ids from the _id index alone: a projection of _id, sorted by _id, after the last one, limited', async function () {
      const requests: unknown[] = [];
      const cursor = {
        sort: (sort: unknown) => (requests.push({ sort }), cursor),
        limit: (limit: unknown) => (requests.push({ limit }), cursor),
        toArray: async () => [{ _id: 'b' }, { _id: 'c' }],
      };
      const { db, calls } = recordingDb((call) => (call.method === 'find' ? cursor : undefined));
      const store = new MongoReadModelStore(db, {} as MongoClient);
      expect(await store.idsAfter('c', 'a', 2)).to.deep.equal(['b', 'c']);
      expect(calls[0]!.args).to.deep.equal([{ _id: { $gt: 'a' } }, { projection: { _id: 1 } }]);
      expect(requests).to.deep.equal([{ sort: { _id: 1 } }, { limit: 2 }]);
      await store.idsAfter('c', undefined, 5);
      expect(calls[1]!.args[0]).to.deep.equal({});
      expect(await store.idsAfter('c', undefined, 0)).to.deep.equal([]);
      expect(calls).to.have.length(2);
    });
  });

  describe('documents MongoDB refuses for their content', function () {
    /** A client whose transactions run the callback once, as withTransaction does without errors. */
    const client = {
      withSession: (work: (session: ClientSession) => Promise<unknown>) =>
        work({ withTransaction: (callback: () => Promise<unknown>) => callback() } as unknown as ClientSession),
    } as unknown as MongoClient;

    async function commitError(store: MongoReadModelStore, change: DocChange): Promise<unknown> {
      try {
        await store.commitAll([{ projection: 'p', changes: [change], checkpoint: { commit: 1n, prepare: 1n } }]);
      } catch (error) {
        return error;
      }
      return undefined;
    }

    for (const [what, doc] of [
      ['a field name with a NUL byte, nested', { a: { 'x\0y': 1 } }],
      ['a top-level field name starting with $', { $set: 1 }],
      ['a document over 16 MiB', { text: 'x'.repeat(16 * 1024 * 1024) }],
    ] as const) {
      it(`refuses ${what} with InvalidDocumentError before anything is written`, async function () {
        const { db, calls } = recordingDb();
        const error = await commitError(new MongoReadModelStore(db, client), { op: 'put', collection: 'c', id: 'd', doc });
        expect(error).to.be.instanceOf(InvalidDocumentError);
        expect(calls).to.deep.equal([]);
      });
    }

    it('turns the server refusing a document (BSONObjectTooLarge, 10334) into InvalidDocumentError', async function () {
      const { db } = recordingDb((call) => {
        if (call.method === 'bulkWrite') throw new MongoServerError({ message: 'object to insert too large', code: 10334 });
      });
      const error = await commitError(new MongoReadModelStore(db, client), { op: 'put', collection: 'c', id: 'd', doc: { a: 1 } });
      expect(error).to.be.instanceOf(InvalidDocumentError);
    });

    it('leaves other failures (a network error) as they are, to be retried', async function () {
      const { db } = recordingDb((call) => {
        if (call.method === 'bulkWrite') throw new MongoServerError({ message: 'not primary', code: 10107 });
      });
      const error = await commitError(new MongoReadModelStore(db, client), { op: 'put', collection: 'c', id: 'd', doc: { a: 1 } });
      expect(error).to.be.instanceOf(MongoServerError).and.not.to.be.instanceOf(InvalidDocumentError);
    });
  });

  describe('fenced commits', function () {
    const session = { id: 'session' } as unknown as ClientSession;
    const client = {
      withSession: (work: (s: ClientSession) => Promise<unknown>) =>
        work({ ...session, withTransaction: (callback: () => Promise<unknown>) => callback() } as unknown as ClientSession),
    } as unknown as MongoClient;
    const commit = {
      projection: 'p',
      changes: [{ op: 'put', collection: 'c', id: 'd', doc: { a: 1 } }] as DocChange[],
      checkpoint: { commit: 1n, prepare: 1n },
    };

    it('write the lease (owner and server-clock expiry in the filter) in the transaction, before the documents', async function () {
      const { db, calls } = recordingDb((call) => (call.method === 'updateMany' ? { matchedCount: 1 } : undefined));
      await new MongoReadModelStore(db, client).commitAll([commit], { leaseOwner: 'me' });
      const fence = calls.findIndex((call) => call.collection === 'leases');
      const documents = calls.findIndex((call) => call.method === 'bulkWrite');
      expect(fence).to.be.greaterThan(-1);
      expect(fence).to.be.lessThan(documents);
      expect(calls[fence]!.method).to.equal('updateMany');
      const [filter, update, options] = calls[fence]!.args as [object, object, { session?: unknown }];
      expect(filter).to.deep.equal({ _id: { $in: ['p'] }, owner: 'me', $expr: { $gt: ['$expiresAt', '$$NOW'] } });
      // A write, not a read: a takeover committed meanwhile makes this transaction conflict.
      expect(update).to.deep.equal({ $currentDate: { fencedAt: true } });
      expect(options.session).to.not.equal(undefined);
    });

    it('send as many requests for a batch of twelve projections as for one: the leases, the documents per collection, the checkpoints', async function () {
      const names = Array.from({ length: 12 }, (_, n) => `p${n}`);
      const { db, calls } = recordingDb((call) => (call.method === 'updateMany' ? { matchedCount: names.length } : undefined));
      await new MongoReadModelStore(db, client).commitAll(
        names.map((projection) => ({ ...commit, projection })),
        { leaseOwner: 'me' },
      );
      const requests = calls.filter((call) => !['createCollection', 'listCollections', 'command'].includes(call.method));
      expect(requests.map((call) => `${call.collection}.${call.method}`)).to.deep.equal(['leases.updateMany', 'c.bulkWrite', 'checkpoints.bulkWrite']);
      const [operations, options] = requests[2]!.args as [
        { updateOne: { filter: object; update: { $set: object }; upsert: boolean } }[],
        { session?: unknown },
      ];
      expect(operations.map(({ updateOne }) => updateOne.filter)).to.deep.equal(names.map((_id) => ({ _id })));
      expect(operations.every(({ updateOne }) => updateOne.upsert && Object.keys(updateOne.update.$set).join() === 'commit,prepare,updatedAt')).to.equal(true);
      expect(options.session).to.not.equal(undefined);
    });

    it("refuse the commit, writing no document, when a lease is not this owner's, naming it", async function () {
      const two = [commit, { ...commit, projection: 'q' }];
      const { db, calls } = recordingDb((call) => {
        if (call.method === 'updateMany') return { matchedCount: 1 };
        if (call.method === 'find') return { toArray: async () => [{ _id: 'p' }] };
        return undefined;
      });
      let caught: unknown;
      try {
        await new MongoReadModelStore(db, client).commitAll(two, { leaseOwner: 'me' });
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(LeaseNotHeldError);
      expect((caught as Error).message).to.contain('q');
      expect(calls.filter((call) => call.method === 'bulkWrite')).to.deep.equal([]);
    });
  });

  describe('reset', function () {
    it('drops the collections outside any transaction, between a reset marker and its removal', async function () {
      const { db, calls } = recordingDb();
      const client = {
        withSession: () => {
          throw new Error('reset must not run in a transaction: it would outlive transactionLifetimeLimitSeconds on real data');
        },
      } as unknown as MongoClient;
      await new MongoReadModelStore(db, client).reset('p', ['a', 'b']);
      const steps = calls.map((call) => `${call.collection}.${call.method}`);
      expect(steps).to.deep.equal(['checkpoints.replaceOne', 'a.drop', 'b.drop', 'checkpoints.deleteOne']);
      expect(calls[0]!.args[1]).to.include({ _id: 'p', resetting: true });
    });

    it('refuses to hand out the checkpoint of an interrupted reset', async function () {
      const { db } = recordingDb((call) => (call.method === 'findOne' ? { _id: 'p', resetting: true, updatedAt: 'x' } : undefined));
      let caught: unknown;
      try {
        await new MongoReadModelStore(db, {} as MongoClient).getCheckpoint('p');
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(ResetIncompleteError);
    });
  });

  describe('ensureCollections', function () {
    it('tolerates an obsolete index that another process dropped first (IndexNotFound, 27)', async function () {
      const { db, calls } = recordingDb((call) => {
        if (call.method === 'listIndexes') return { toArray: async () => [{ name: '_id_' }, { name: 'old_1' }] };
        if (call.method === 'dropIndex') throw new MongoServerError({ message: 'index not found with name [old_1]', code: 27 });
        return undefined;
      });
      await new MongoReadModelStore(db, {} as MongoClient).ensureCollections([{ name: 'c', indexes: [['feed']] }]);
      expect(calls.filter((call) => call.collection === 'c').map((call) => call.method)).to.deep.equal(['listIndexes', 'dropIndex', 'createIndexes']);
    });
  });

  describe('account store', function () {
    it('lists accounts in the order of the unique username index (no _id tie-breaker to sort in memory)', async function () {
      let sort: unknown;
      const cursor = {
        sort(given: unknown) {
          sort = given;
          return cursor;
        },
        toArray: async () => [],
      };
      const { db } = recordingDb((call) => (call.method === 'find' ? cursor : undefined));
      await new MongoAccountStore(db).listAccounts();
      expect(sort).to.deep.equal({ username: 1 });
    });
  });
});
