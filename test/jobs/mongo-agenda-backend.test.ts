/**
 * What `every()` sends to MongoDB through the Mongo backend, on a Db that records calls: Agenda
 * and `@agendajs/mongo-backend` are the real ones, only the server is missing. The run state of
 * an existing job (its lock, last run, failure, progress, pause) must be set on insert only.
 */
import { expect } from 'chai';
import { Agenda } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import { ObjectId, type Db, type Document } from 'mongodb';
import { RUN_STATE_FIELDS, RunStatePreservingMongoBackend } from '../../src/jobs/mongo-agenda-backend.js';

interface Call {
  readonly method: string;
  readonly args: unknown[];
}

function recordingDb(): { db: Db; calls: Call[] } {
  const calls: Call[] = [];
  const stored: Document = { _id: new ObjectId(), name: 'retention', type: 'single', nextRunAt: new Date(), repeatInterval: '15 minutes' };
  const collection = new Proxy(
    {},
    {
      get(_target, method) {
        if (typeof method !== 'string' || method === 'then') return undefined;
        return (...args: unknown[]) => {
          calls.push({ method, args });
          return Promise.resolve(method === 'findOneAndUpdate' || method === 'findOne' ? stored : undefined);
        };
      },
    },
  );
  const db = { collection: () => collection, databaseName: 'unit', options: {} } as unknown as Db;
  return { db, calls };
}

async function upsertOfEvery(backendFor: (db: Db) => RunStatePreservingMongoBackend | MongoBackend): Promise<{ $set: Document; $setOnInsert?: Document }> {
  const { db, calls } = recordingDb();
  const agenda = new Agenda({ backend: backendFor(db), processEvery: '1 hour' });
  try {
    await agenda.every('15 minutes', 'retention', {}, { skipImmediate: false });
  } finally {
    await agenda.stop().catch(() => undefined);
  }
  const upserts = calls.filter((call) => call.method === 'findOneAndUpdate');
  expect(upserts).to.have.length(1);
  const [filter, update, options] = upserts[0]!.args as [Document, { $set: Document; $setOnInsert?: Document }, Document];
  expect(filter).to.deep.equal({ name: 'retention', type: 'single' });
  expect(options).to.include({ upsert: true });
  return update;
}

describe('Mongo Agenda backend: every() on an existing job', function () {
  it('sets the run state (lock, last run, failure, progress, pause) on insert only', async function () {
    const update = await upsertOfEvery((db) => new RunStatePreservingMongoBackend({ mongo: db, collection: 'agendaJobs' }));
    for (const field of RUN_STATE_FIELDS) {
      expect(update.$set, field).not.to.have.property(field);
      expect(update.$setOnInsert, field).to.have.property(field, null);
    }
    expect(update.$set).to.include({ name: 'retention', type: 'single', repeatInterval: '15 minutes' });
  });

  it('(why: the library alone writes them as null on every start, unlocking a running pass)', async function () {
    // If this starts failing, the library has fixed it and the wrapper may go.
    const update = await upsertOfEvery((db) => new MongoBackend({ mongo: db, collection: 'agendaJobs' }));
    expect(update.$set).to.include({ lockedAt: null, lastRunAt: null, disabled: null });
  });
});
