/**
 * The MongoDB adapters without a server: the exact requests they send (filters, updates,
 * options), checked on collection objects that record calls, typed against the driver.
 * What only a server can show is in the contract suites (test/stores/mongodb.test.ts).
 */
import { expect } from 'chai';
import type { Collection, Db, MongoClient } from 'mongodb';
import { MongoReadModelStore, ReplicaSetRequiredError } from '../../src/stores/mongodb/index.js';

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
          return Promise.resolve(answer(call));
        };
      },
    });
  const db = { collection, databaseName: 'unit' } as unknown as Db;
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
      expect(await store.tryAcquireLease('p', 'me', 15_000)).to.equal(true);
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
      expect(await store.tryAcquireLease('p', 'me', 15_000)).to.equal(false);
    });
  });
});
