/**
 * The projector's leases (one active projector per projection across processes): a lease is
 * lost when another owner holds it or when it may have lapsed, not on every failed renewal. A
 * WAL checkpoint holding writers back made a renewal answer SQLITE_BUSY in the middle of a
 * rebuild, which used to end it ("projection lease lost").
 */
import { expect } from 'chai';
import { subscriptionsProjection } from '../../projections/subscriptions.js';
import { streams } from '../../src/domain/events.js';
import { silentLogger } from '../../src/logger.js';
import { LeaseLostError, Projector, type ProjectorOptions } from '../../src/projector/projector.js';
import { toStoreEvent } from '../../src/services/codec.js';
import { SqliteEventStore } from '../../src/stores/embedded/index.js';
import type { ReadModelStore } from '../../src/stores/read-model.js';
import { memoryStores } from './support.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const TTL_MS = 300;
const EVENTS = 40;

/**
 * The read model, with lease calls that fail (SQLITE_BUSY) while `failing` is set or `failuresLeft` lasts, and commits
 * slowed down so a catch-up lasts several renewal periods.
 */
function flakyLeases(readModel: ReadModelStore, commitDelayMs: number) {
  const control = { failing: false, failuresLeft: 0, renewalsFailed: 0 };
  const wrapped = new Proxy(readModel, {
    get(target, property, receiver) {
      if (property === 'tryAcquireLeases') {
        return async (names: readonly string[], owner: string, ttlMs: number) => {
          if (control.failing || control.failuresLeft > 0) {
            control.failuresLeft = Math.max(0, control.failuresLeft - 1);
            control.renewalsFailed += 1;
            throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
          }
          return target.tryAcquireLeases(names, owner, ttlMs);
        };
      }
      if (property === 'commitAll') {
        return async (...args: Parameters<ReadModelStore['commitAll']>) => {
          await sleep(commitDelayMs);
          return target.commitAll(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { readModel: wrapped, control };
}

describe('Projector leases', function () {
  this.timeout(20_000);
  let eventStore: SqliteEventStore;
  let close: () => Promise<void>;
  let base: ReadModelStore;

  beforeEach(async function () {
    ({ eventStore, readModel: base, close } = memoryStores());
    for (let i = 0; i < EVENTS; i++) {
      const event = {
        id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        user: 'u1',
        timestamp: '2026-01-01T00:00:00.000Z',
        type: 'subscribe' as const,
        object: { rss_source_feed: `https://e.example.com/${i}` },
        data: {},
      };
      await eventStore.append(streams.user('u1'), [toStoreEvent(event, { username: 'one' })]);
    }
  });

  afterEach(async function () {
    await close();
  });

  /** A projector of the subscriptions over `readModel`. */
  const subscriptions = (readModel: ReadModelStore, options: Partial<ProjectorOptions>) =>
    new Projector({
      eventStore,
      readModel,
      projections: [subscriptionsProjection],
      context: { defaultPrivacy: 'private' },
      logger: silentLogger(),
      ...options,
    });

  /** A projector holding its lease, ready to catch up (pipelined: as rebuilds do). */
  async function projector(readModel: ReadModelStore, pipeline = false): Promise<Projector> {
    const subject = subscriptions(readModel, { batchSize: 4, leaseTtlMs: TTL_MS, owner: 'rebuilder', pipeline });
    expect(await subject.acquireLeases(false)).to.equal(true);
    await subject.prepare();
    return subject;
  }

  for (const pipeline of [false, true]) {
    describe(pipeline ? 'pipelined catch-up (rebuilds)' : 'catch-up', function () {
      it('rides out renewals that fail for less than the lease lifetime', async function () {
        // 10 batches × 40 ms: beyond the lease lifetime.
        const { readModel, control } = flakyLeases(base, 40);
        const subject = await projector(readModel, pipeline);
        // The first renewal fails (at a third of the lifetime on the timer, at two thirds when
        // renewing between commits); the next one, a timer tick or a batch later, succeeds.
        control.failuresLeft = 1;
        try {
          expect(await subject.catchUp()).to.equal(EVENTS);
          expect(control.renewalsFailed, 'renewals failed meanwhile').to.be.greaterThan(0);
          expect(await base.count('subscriptions')).to.equal(EVENTS);
        } finally {
          await subject.stop();
        }
      });

      it('stops at a checkpoint once renewals have failed for longer than the lease lifetime', async function () {
        const { readModel, control } = flakyLeases(base, 60);
        const subject = await projector(readModel, pipeline);
        control.failing = true;
        try {
          const error = await subject.catchUp().catch((caught: unknown) => caught);
          expect(error).to.be.instanceOf(LeaseLostError);
          // What was committed is whole batches, checkpointed.
          const projected = await base.count('subscriptions');
          expect(projected % 4).to.equal(0);
          expect(projected).to.be.lessThan(EVENTS);
        } finally {
          control.failing = false;
          await subject.stop();
        }
      });

      it('stops when another owner holds the lease', async function () {
        const { readModel } = flakyLeases(base, 60);
        const subject = await projector(readModel, pipeline);
        // The lease lapses (as after a long pause) and another process takes it.
        setTimeout(() => void base.releaseLease('subscriptions', 'rebuilder').then(() => base.tryAcquireLeases(['subscriptions'], 'the-service', 60_000)), 100);
        try {
          const error = await subject.catchUp().catch((caught: unknown) => caught);
          expect(error).to.be.instanceOf(LeaseLostError);
          expect(await base.count('subscriptions')).to.be.lessThan(EVENTS);
        } finally {
          await subject.stop();
        }
      });
    });
  }

  it('a commit whose lease was taken over after the last check lands nothing (fenced in the store)', async function () {
    const stolen = new Proxy(base, {
      get(target, property, receiver) {
        if (property === 'commitAll') {
          return async (...args: Parameters<ReadModelStore['commitAll']>) => {
            // Between ensureLeases and the commit: the lease lapses and the service takes it.
            await target.releaseLease('subscriptions', 'rebuilder');
            await target.tryAcquireLeases(['subscriptions'], 'the-service', 60_000);
            return target.commitAll(...args);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const subject = await projector(stolen);
    try {
      const error = await subject.catchUp().catch((caught: unknown) => caught);
      expect(error).to.be.instanceOf(LeaseLostError);
      expect(await base.count('subscriptions')).to.equal(0);
      expect(await base.getCheckpoint('subscriptions')).to.equal(undefined);
    } finally {
      await subject.stop();
    }
  });

  /** A live projector of the subscriptions, started (it takes its leases itself). */
  function startLive(readModel: ReadModelStore, leaseTtlMs: number): Projector {
    const subject = subscriptions(readModel, { leaseTtlMs });
    subject.start();
    return subject;
  }

  /** Waits until every event is projected (at most `limitMs`). */
  async function projectedAll(limitMs: number): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (Date.now() < deadline && (await base.count('subscriptions').catch(() => 0)) < EVENTS) await sleep(50);
    expect(await base.count('subscriptions')).to.equal(EVENTS);
  }

  it('a live projector outlives a failed prepare (the store briefly unreachable) and catches up', async function () {
    let failures = 1;
    const flaky = new Proxy(base, {
      get(target, property, receiver) {
        if (property === 'ensureCollections') {
          return async (...args: Parameters<ReadModelStore['ensureCollections']>) => {
            if (failures-- > 0) throw new Error('connection refused');
            return target.ensureCollections(...args);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const subject = startLive(flaky, 3000);
    try {
      await projectedAll(5000);
    } finally {
      await subject.stop();
    }
  });

  it('a live projector outlives lease calls that fail (SQLITE_BUSY) before it holds the leases, and catches up', async function () {
    const { readModel, control } = flakyLeases(base, 0);
    control.failuresLeft = 2;
    const subject = startLive(readModel, 3000);
    try {
      await projectedAll(8000);
      expect(control.renewalsFailed, 'both failures were seen').to.equal(2);
    } finally {
      await subject.stop();
    }
  });

  it('a projector on standby (another process holds a lease) stops at once, without waiting a lease period', async function () {
    expect((await base.tryAcquireLeases([subscriptionsProjection.name], 'the-other-process', 60_000))[0]).to.equal(true);
    const subject = startLive(base, 9000);
    await sleep(100);
    const started = Date.now();
    await subject.stop();
    expect(Date.now() - started, 'stopped during its standby wait (a third of the lease, 3 s)').to.be.below(1000);
    expect(await base.count('subscriptions')).to.equal(0);
  });

  it('a pipelined catch-up renews its leases between commits, never while one is in flight', async function () {
    let inFlight = false;
    const renewals: boolean[] = [];
    const watched = new Proxy(base, {
      get(target, property, receiver) {
        if (property === 'tryAcquireLeases') {
          return (names: readonly string[], owner: string, ttlMs: number) => {
            renewals.push(inFlight);
            return target.tryAcquireLeases(names, owner, ttlMs);
          };
        }
        if (property === 'commitAll') {
          return async (...args: Parameters<ReadModelStore['commitAll']>) => {
            inFlight = true;
            try {
              await sleep(60);
              return await target.commitAll(...args);
            } finally {
              inFlight = false;
            }
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const subject = await projector(watched, true);
    try {
      // 10 commits × 60 ms: two lease lifetimes, so the lease must have been renewed on the way.
      expect(await subject.catchUp()).to.equal(EVENTS);
      expect(renewals.length, 'renewals (the first is the acquisition)').to.be.greaterThan(2);
      expect(renewals.filter(Boolean), 'renewals during a commit').to.deep.equal([]);
      expect(await base.count('subscriptions')).to.equal(EVENTS);
    } finally {
      await subject.stop();
    }
  });
});
