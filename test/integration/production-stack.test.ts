/**
 * The whole service on the production stack (STORE=eventstoredb, READ_MODEL=mongodb), when
 * EVENTSTORE_URL and MONGO_URL are set (`npm run test:integration` requires them; `npm test`
 * reports this suite as skipped, saying why): HTTP in, events in EventStoreDB, the projector
 * into MongoDB, a retention pass, an erasure (a stream rewrite on EventStoreDB), account
 * deletion, and the retention job under Agenda with two workers.
 *
 * Each run uses its own MongoDB database (dropped afterwards). EventStoreDB has one `$all`:
 * users are new random ids, so earlier runs' streams are only more history to project.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { streams } from '../../src/domain/events.js';
import { silentLogger } from '../../src/logger.js';
import { RETENTION_JOB, AGENDA_COLLECTION, startScheduler, type Scheduler } from '../../src/jobs/retention-job.js';
import { createRetentionPass } from '../../src/retention/retention-service.js';
import type { RetentionPass } from '../../src/retention/types.js';
import { readStreamOrEmpty } from '../../src/stores/event-store.js';
import { startTestService, type TestService } from '../support/service.js';
import { KastsDevice, qtInt } from '../clients/kasts.js';
import { serve, unserve } from '../clients/served.js';

const eventStoreUrl = process.env['EVENTSTORE_URL'];
const mongoUrl = process.env['MONGO_URL'];

/** The URL with its database path replaced (`mongodb://h:1/?x` → `mongodb://h:1/<db>?x`). */
function withDatabase(url: string, db: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?#]*)(?:\/[^?#]*)?(.*)$/.exec(url);
  if (!match) throw new Error(`not a mongodb:// URL: ${url}`);
  return `${match[1]}/${db}${match[2]}`;
}

const FEED = 'https://integration.example.com/feed.xml';
const at = (second: number) => new Date(Date.UTC(2026, 4, 1, 0, 0, second)).toISOString();

if (eventStoreUrl && mongoUrl) {
  describe('the service on EventStoreDB + MongoDB', function () {
    this.timeout(60_000);
    const dbName = `podsync_it_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    const env = { STORE: 'eventstoredb', EVENTSTORE_URL: eventStoreUrl, READ_MODEL: 'mongodb', MONGO_URL: withDatabase(mongoUrl, dbName) };
    let service: TestService;

    before(async function () {
      service = await startTestService(env);
    });

    after(async function () {
      await service?.stop();
      const client = await MongoClient.connect(mongoUrl);
      try {
        await client.db(dbName).dropDatabase();
      } finally {
        await client.close();
      }
    });

    const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

    async function post(token: string, events: object[]): Promise<void> {
      const response = await service.http.post('/v1/events').set(auth(token)).send({ events });
      expect(response.status, JSON.stringify(response.body)).to.be.oneOf([200, 201]);
    }

    it('Kasts (gpodder.net provider, every cursor stored plus one) gets what another device wrote right after its last answer; cursors fit its 32-bit ints', async function () {
      // EventStoreDB's positions are byte offsets: the API's cursors are them divided by 32 (src/domain/cursors.ts).
      const served = await serve(env);
      try {
        const { username } = await served.service.login(undefined, 'correct horse battery');
        const feedA = 'https://integration.example.com/kasts-a.xml';
        const feedB = 'https://integration.example.com/kasts-b.xml';
        const catalog = new Map([
          [feedA, [{ id: 'a-1', url: 'https://integration.example.com/a-1.mp3', duration: 600 }]],
          [feedB, [{ id: 'b-1', url: 'https://integration.example.com/b-1.mp3', duration: 600 }]],
        ]);
        const laptop = new KastsDevice({ catalog });
        laptop.subscribe(feedA);
        const desktop = new KastsDevice({ catalog });
        await laptop.connectGpodder(served.base, username, 'correct horse battery', 'laptop');
        await desktop.connectGpodder(served.base, username, 'correct horse battery', 'desktop');
        await laptop.sync();
        desktop.subscribe(feedB);
        desktop.play(feedB, 'b-1', 0, 300_000);
        await desktop.sync();
        await laptop.sync();
        expect(laptop.feeds.sort()).to.deep.equal([feedA, feedB]);
        expect(laptop.entry(feedB, 'b-1')?.playposition).to.equal(300_000);
        for (const exchange of laptop.http.log.filter((entry) => entry.responseBody.includes('"timestamp"'))) {
          const { timestamp } = JSON.parse(exchange.responseBody) as { timestamp: unknown };
          expect(qtInt(timestamp), exchange.url).to.equal(timestamp);
        }
      } finally {
        await unserve(served);
      }
    });

    it('syncs over HTTP, projects into MongoDB and answers from the read models', async function () {
      const { token, userId } = await service.login();
      await post(token, [
        { type: 'privacy', timestamp: at(0), object: null, data: { privacy: 'public' } },
        { type: 'subscribe', timestamp: at(1), object: { rss_source_feed: FEED }, data: {} },
        { type: 'play', timestamp: at(2), object: { rss_source_feed: FEED, rss_source_id: 'e1' }, data: { played: true, position: 30 } },
      ]);
      await service.settle();
      const subscriptions = await service.http.get('/v1/subscriptions').set(auth(token));
      expect(subscriptions.status).to.equal(200);
      expect(JSON.stringify(subscriptions.body)).to.contain(FEED);
      expect(await service.stores.readModel.count('subscriptions', { user: userId })).to.equal(1);
      // The event is in EventStoreDB, in the user's stream.
      expect((await readStreamOrEmpty(service.stores.eventStore, streams.user(userId))).map((event) => event.type)).to.include('play');
      const publicEvents = await service.http.get('/v1/public/events').query({ feed: FEED, limit: 10 });
      expect(publicEvents.status).to.equal(200);
      expect(publicEvents.body.events.length).to.be.greaterThan(0);
    });

    it('runs a retention pass over the stores without losing the folded state', async function () {
      const { token, userId } = await service.login();
      await post(token, [{ type: 'subscribe', timestamp: at(3), object: { rss_source_feed: FEED }, data: {} }]);
      await service.settle();
      const pass = createRetentionPass(service.stores, { defaultPrivacy: 'private', logger: silentLogger() });
      // A year on: everything is old enough to be folded into a checkpoint and truncated.
      await pass.run(new Date(Date.now() + 400 * 24 * 3600 * 1000));
      await service.settle();
      const subscriptions = await service.http.get('/v1/subscriptions').set(auth(token));
      expect(JSON.stringify(subscriptions.body)).to.contain(FEED);
      expect(await service.stores.readModel.count('subscriptions', { user: userId })).to.equal(1);
    });

    it('erases a feed: the stream is rewritten without it and the read models forget it', async function () {
      const { token, userId } = await service.login();
      await post(token, [
        { type: 'play', timestamp: at(4), object: { rss_source_feed: FEED, rss_source_id: 'secret-guid' }, data: { played: true, position: 1 } },
      ]);
      await service.settle();
      await post(token, [{ type: 'remove', timestamp: at(5), object: { rss_source_feed: FEED }, data: {} }]);
      await service.settle();
      // The erasure is the reactor's, shortly after the request (docs/design.md, "Erasure").
      await service.erased();
      const statuses = await service.http.get('/v1/play-statuses').set(auth(token));
      expect(statuses.body.play_statuses).to.deep.equal([]);
      const retained = await readStreamOrEmpty(service.stores.eventStore, streams.user(userId));
      expect(JSON.stringify(retained, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))).not.to.contain('secret-guid');
    });

    it('deletes an account: credentials, read models and the stream; a repeated deletion is harmless', async function () {
      const { token, userId, username } = await service.login();
      await post(token, [{ type: 'subscribe', timestamp: at(6), object: { rss_source_feed: FEED }, data: {} }]);
      await service.settle();
      expect((await service.http.delete('/v1/me').set(auth(token))).status).to.equal(204);
      expect((await service.http.get('/v1/subscriptions').set(auth(token))).status).to.equal(401);
      expect((await service.http.post('/v1/auth/token').send({ username, password: 'correct horse battery' })).status).to.equal(401);
      expect(await service.stores.readModel.count('subscriptions', { user: userId })).to.equal(0);
      expect(await readStreamOrEmpty(service.stores.eventStore, streams.user(userId))).to.deep.equal([]);
      // Soft-deleting the (now deleted) stream again succeeds, as in the embedded store.
      await service.stores.eventStore.deleteStream(streams.user(userId));
    });

    describe('the retention job under Agenda, two workers on one MongoDB', function () {
      const schedulers: Scheduler[] = [];

      afterEach(async function () {
        await Promise.all(schedulers.splice(0).map((scheduler) => scheduler.stop()));
      });

      it('creates one job, runs one pass at a time, and a worker starting mid-pass leaves the lock alone', async function () {
        const probe = { runs: 0, active: 0, maxActive: 0 };
        const slow: RetentionPass = {
          async run(now, options = {}) {
            probe.runs++;
            probe.active++;
            probe.maxActive = Math.max(probe.maxActive, probe.active);
            try {
              for (let i = 0; i < 10; i++) {
                await new Promise((resolve) => setTimeout(resolve, 100));
                await options.touch?.();
              }
            } finally {
              probe.active--;
            }
            return { asOf: now.toISOString(), usersConsidered: 0, usersSnapshotted: 0, eventsRemoved: 0, feedsRolled: 0, snapshotThreads: 0, seconds: 1 };
          },
        };
        const start = (name: string) =>
          startScheduler({
            stores: service.stores,
            logger: silentLogger(),
            retention: slow,
            config: { READ_MODEL: 'mongodb', MONGO_URL: env.MONGO_URL },
            options: { processEvery: 100, interval: '1 hour', lockLifetimeMs: 5000, stopTimeoutMs: 3000, name },
          }).then((scheduler) => {
            schedulers.push(scheduler);
            return scheduler;
          });
        await start('worker-a');
        const deadline = Date.now() + 10_000;
        while (probe.active === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(probe.active, 'a pass started').to.equal(1);
        const client = await MongoClient.connect(mongoUrl);
        try {
          const jobs = () => client.db(dbName).collection(AGENDA_COLLECTION).find({ name: RETENTION_JOB }).toArray();
          const locked = (await jobs())[0]?.['lockedAt'];
          expect(locked, 'locked by worker-a').to.be.instanceOf(Date);
          // A second worker starts while the pass runs: its every() must not unlock the job.
          await start('worker-b');
          const after = await jobs();
          expect(after, 'one job').to.have.length(1);
          expect(after[0]!['lockedAt'], 'still locked').to.deep.equal(locked);
          await new Promise((resolve) => setTimeout(resolve, 1500));
          expect(probe.maxActive, 'never two passes at once').to.equal(1);
        } finally {
          await client.close();
        }
      });
    });
  });
} else {
  describe('the service on EventStoreDB + MongoDB', function () {
    it('runs against real servers', function () {
      console.log('  Production-stack suite SKIPPED: EVENTSTORE_URL and MONGO_URL must both be set (see `npm run test:integration`)');
      this.skip();
    });
  });
}
