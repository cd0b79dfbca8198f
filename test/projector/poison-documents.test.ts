/**
 * One user's event must never stop the projections (issue 16, item 1): an event whose documents
 * the store refuses (SQLite's JSON functions reject a value nested 1,500 levels deep), or whose
 * commit keeps failing while the store takes other writes, is parked for that projection alone,
 * and every other event — before and after it, of every user — is projected.
 */
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import { GPODDER_SETTINGS } from '../../projections/gpodder-devices.js';
import { Projector } from '../../src/projector/projector.js';
import { PARKED_EVENTS } from '../../src/projector/internal-collections.js';
import { silentLogger } from '../../src/logger.js';
import { toStoreEvent } from '../../src/services/codec.js';
import type { UserEvent } from '../../src/domain/events.js';
import { InvalidDocumentError } from '../../src/stores/read-model.js';
import type { JsonValue } from '../../src/stores/event-store.js';
import type { ProjectionCommit } from '../../src/stores/read-model.js';
import { MongoServerSelectionError } from 'mongodb';
import { memoryStores } from './support.js';
import { capturingLogger } from '../support/logs.js';

const context = { defaultPrivacy: 'private' as const };
let ids = 0;
const uuid = () => `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`;

function setting(user: string, set: Record<string, JsonValue>): UserEvent {
  return { id: uuid(), timestamp: '2026-01-01T00:00:00.000Z', user, type: 'setting', object: null, data: { scope: 'account', set, remove: [] } };
}

function deep(depth: number): JsonValue {
  let value: JsonValue = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

async function seed(eventStore: ReturnType<typeof memoryStores>['eventStore'], mallorys: Record<string, JsonValue> = { poison: deep(1500) }): Promise<void> {
  await eventStore.append('user-alice', [toStoreEvent(setting('alice', { before: 1 }))]);
  await eventStore.append('user-mallory', [toStoreEvent(setting('mallory', mallorys))]);
  await eventStore.append('user-bob', [toStoreEvent(setting('bob', { after: 2 }))]);
}

describe('projector: poison documents are parked, the others go on', function () {
  this.timeout(20_000);

  for (const pipeline of [false, true]) {
    it(`a document the store refuses (InvalidDocumentError) parks that event only${pipeline ? ' (pipelined catch-up)' : ''}`, async () => {
      const { eventStore, readModel, close } = memoryStores();
      try {
        await seed(eventStore);
        const projector = new Projector({ eventStore, readModel, projections: allProjections, context, logger: silentLogger(), pipeline, retryDelayMs: 1 });
        await projector.prepare();
        await projector.acquireLeases();
        await projector.catchUp();
        const users = (await readModel.find(GPODDER_SETTINGS)).map(({ doc }) => doc['user']);
        expect(users).to.include.members(['alice', 'bob']);
        expect(users).to.not.include('mallory');
        const parked = await readModel.find(PARKED_EVENTS);
        expect(parked.map(({ doc }) => doc['stream'])).to.deep.equal(['user-mallory']);
        expect(String(parked[0]!.doc['error'])).to.match(/refused a document/);
        const head = await eventStore.headPosition();
        for (const name of projector.names) expect((await readModel.getCheckpoint(name))?.position, name).to.deep.equal(head);
        await projector.stop();
      } finally {
        await close();
      }
    });
  }

  it('the SQLite adapter says InvalidDocumentError when its JSON functions refuse a document', async () => {
    const { readModel, close } = memoryStores();
    try {
      await readModel.ensureCollections([{ name: 'things', indexes: [['user']] }]);
      const commit: ProjectionCommit = {
        projection: 'p',
        changes: [{ op: 'put', collection: 'things', id: 'x', doc: { user: 'u', v: deep(1500) } }],
        checkpoint: { commit: 1n, prepare: 1n },
      };
      let caught: unknown;
      await readModel.commitAll([commit]).catch((error: unknown) => (caught = error));
      expect(caught).to.be.instanceOf(InvalidDocumentError);
    } finally {
      await close();
    }
  });

  for (const pipeline of [false, true]) {
    it(`an event whose commit fails every time while the store takes other writes is parked after a few tries${pipeline ? ' (pipelined catch-up)' : ''}`, async () => {
      const { eventStore, readModel, close } = memoryStores();
      try {
        await eventStore.append('user-alice', [toStoreEvent(setting('alice', { before: 1 }))]);
        await eventStore.append('user-mallory', [toStoreEvent(setting('mallory', { cursed: 1 }))]);
        await eventStore.append('user-bob', [toStoreEvent(setting('bob', { after: 2 }))]);
        // A store that fails (not saying why) every commit that writes mallory's settings.
        const failing = Object.create(readModel) as typeof readModel;
        failing.commitAll = async (commits) => {
          if (
            commits.some((commit) =>
              commit.changes.some((change) => change.op === 'put' && change.doc['user'] === 'mallory' && change.collection === GPODDER_SETTINGS),
            )
          )
            throw new Error('something went wrong');
          return readModel.commitAll(commits);
        };
        const projector = new Projector({
          eventStore,
          readModel: failing,
          projections: allProjections,
          context,
          logger: silentLogger(),
          pipeline,
          retryDelayMs: 1,
        });
        await projector.prepare();
        await projector.acquireLeases();
        await projector.catchUp();
        const users = (await readModel.find(GPODDER_SETTINGS)).map(({ doc }) => doc['user']);
        expect(users).to.include.members(['alice', 'bob']);
        const parked = await readModel.find(PARKED_EVENTS);
        expect(parked.map(({ doc }) => `${String(doc['projection'])} ${String(doc['stream'])}`)).to.deep.equal(['gpodder_devices user-mallory']);
        await projector.stop();
      } finally {
        await close();
      }
    });
  }

  const sqlite = (code: string) => () => Object.assign(new Error('database or disk is full'), { code });
  for (const [name, refusal, pipeline] of [
    ['SQLITE_FULL', sqlite('SQLITE_FULL'), false],
    ['SQLITE_BUSY', sqlite('SQLITE_BUSY'), false],
    ['SQLITE_FULL', sqlite('SQLITE_FULL'), true],
    [
      'a MongoDB server out of reach',
      () => new MongoServerSelectionError('Server selection timed out', {} as ConstructorParameters<typeof MongoServerSelectionError>[1]),
      false,
    ],
  ] as const) {
    it(`an event whose commit fails with ${name} is never parked: it is projected once the store takes writes again${pipeline ? ' (pipelined catch-up)' : ''}`, async () => {
      const { eventStore, readModel, close } = memoryStores();
      try {
        await seed(eventStore, { cursed: 1 });
        // The disk too full (or the file locked) for mallory's settings, until the tenth refusal;
        // smaller writes, a parking among them, still fit.
        let refusals = 0;
        const failing = Object.create(readModel) as typeof readModel;
        failing.commitAll = async (commits) => {
          const mallorys = commits.some((commit) =>
            commit.changes.some((change) => change.op === 'put' && change.doc['user'] === 'mallory' && change.collection === GPODDER_SETTINGS),
          );
          if (mallorys && refusals < 10) {
            refusals += 1;
            throw refusal();
          }
          return readModel.commitAll(commits);
        };
        const { logger, entries } = capturingLogger();
        const projector = new Projector({ eventStore, readModel: failing, projections: allProjections, context, logger, pipeline, retryDelayMs: 1 });
        await projector.prepare();
        await projector.acquireLeases();
        await projector.catchUp();
        expect(refusals).to.equal(10);
        // Retried ever more slowly, not at the first delay for as long as the store refuses.
        const delays = entries.filter((entry) => String(entry['message']).startsWith('projection batch failed')).map((entry) => Number(entry['delayMs']));
        expect(delays).to.have.length(10);
        expect(Math.max(...delays)).to.be.at.least(64);
        const users = (await readModel.find(GPODDER_SETTINGS)).map(({ doc }) => doc['user']);
        expect(users).to.have.members(['alice', 'mallory', 'bob']);
        expect(await readModel.find(PARKED_EVENTS)).to.deep.equal([]);
        await projector.stop();
      } finally {
        await close();
      }
    });
  }
});
