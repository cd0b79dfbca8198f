/** Logs with request ids on every line, `/metrics` in Prometheus text, `/readyz`. */
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { capturingServiceLogger as capturingLogger } from '../support/logs.js';
import { recordRetentionRun } from '../../src/metrics.js';
import { requestContext } from '../../src/http/observability.js';
import { checkReadiness } from '../../src/admin/status.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { ERASURE_REACTOR } from '../../src/retention/erasure-reactor.js';

const FEED = 'https://feeds.example.com/metrics.xml';
const play = (guid: string) => ({
  type: 'play',
  timestamp: '2026-03-02T10:00:00Z',
  object: { rss_source_feed: FEED, rss_source_id: guid },
  data: { played: true, position: 1 },
});

/** The value of one sample line of Prometheus text, or undefined if absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).split(' ')[0] ?? '';
    if (wanted.every((pair) => labelText.includes(pair))) return Number(line.split(' ').at(-1));
  }
  return undefined;
}

describe('observability', function () {
  describe('request ids in logs', function () {
    it('puts the request id on every line logged while handling a request, after body parsing and awaits too', async () => {
      const { logger, lines } = capturingLogger();
      const app = express();
      app.use(requestContext(logger));
      app.use(express.json({ type: () => true, limit: '1mb' }));
      app.post('/work', async (req, res) => {
        logger.info('handler started', { size: JSON.stringify(req.body).length });
        await new Promise((resolve) => setTimeout(resolve, 5));
        logger.warn('handler after a timer');
        res.json({ ok: true });
      });
      const http = request(app);
      const body = { blob: 'x'.repeat(300_000) }; // several chunks: parsed across many socket reads
      const [first, second] = await Promise.all([
        http.post('/work').set('X-Request-Id', 'req-one').send(body),
        http.post('/work').set('X-Request-Id', 'req-two').send({ small: true }),
      ]);
      expect(first!.headers['x-request-id']).to.equal('req-one');
      expect(second!.headers['x-request-id']).to.equal('req-two');
      logger.info('outside any request');
      await new Promise((resolve) => setImmediate(resolve));
      const byId = (id: string) => lines.filter((line) => line['requestId'] === id).map((line) => line['message']);
      expect(byId('req-one')).to.have.members(['handler started', 'handler after a timer', 'request']);
      expect(byId('req-two')).to.have.members(['handler started', 'handler after a timer', 'request']);
      expect(lines.find((line) => line['message'] === 'outside any request')).not.to.have.property('requestId');
      expect(lines).to.have.length(7);
    });

    it('replaces an unsafe client request id with a generated one', async () => {
      const { logger } = capturingLogger();
      const app = express();
      app.use(requestContext(logger));
      app.get('/', (_req, res) => {
        res.end();
      });
      const response = await request(app).get('/').set('X-Request-Id', 'bad id\twith "quotes"');
      expect(response.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
    });
  });

  describe('/metrics and /readyz', function () {
    let service: TestService;
    before(async () => {
      service = await startTestService();
    });
    after(() => service.stop());

    it('serves Prometheus text: latency by route pattern and status, events appended by type, projection gauges', async () => {
      const before = (await service.http.get('/metrics')).text;
      const { token } = await service.login();
      const posted = await service.http
        .post('/v1/events')
        .set('Authorization', `Bearer ${token}`)
        .send({ events: [play('a'), play('b'), play('c')] });
      expect(posted.status).to.equal(201);
      await service.http.get('/v1/popular/episodes');
      await service.http.get('/no/such/route');
      await service.settle();

      const response = await service.http.get('/metrics');
      expect(response.status).to.equal(200);
      expect(response.headers['content-type']).to.contain('text/plain');
      const text = response.text;
      expect(text).to.contain('# TYPE podsync_http_request_duration_seconds histogram');
      expect(sample(text, 'podsync_http_request_duration_seconds_count', { method: 'POST', route: '/v1/events', status: '201' })).to.be.at.least(1);
      expect(sample(text, 'podsync_http_request_duration_seconds_bucket', { route: '/v1/popular/episodes', le: '+Inf' })).to.be.at.least(1);
      // Unmatched paths share one label instead of one series per URL.
      expect(sample(text, 'podsync_http_request_duration_seconds_count', { route: 'unmatched', status: '404' })).to.be.at.least(1);
      expect(text).not.to.contain('/no/such/route');

      const playsBefore = sample(before, 'podsync_events_appended_total', { type: 'play' }) ?? 0;
      expect(sample(text, 'podsync_events_appended_total', { type: 'play' })).to.equal(playsBefore + 3);

      const head = sample(text, 'podsync_store_head_position');
      expect(head).to.equal(Number((await service.stores.eventStore.headPosition()).commit));
      for (const name of service.projector.names) {
        expect(sample(text, 'podsync_projection_position', { projection: name }), name).to.equal(head);
        expect(sample(text, 'podsync_projection_lag_events', { projection: name }), name).to.equal(0);
        expect(sample(text, 'podsync_parked_events', { projection: name }), name).to.equal(0);
      }
      expect(text).to.contain('process_cpu_user_seconds_total');
    });

    it('counts retention runs through the exported helper', async () => {
      const before = sample((await service.http.get('/metrics')).text, 'podsync_retention_runs_total', { outcome: 'success' }) ?? 0;
      recordRetentionRun('success', new Date('2026-05-01T00:00:00Z'));
      const text = (await service.http.get('/metrics')).text;
      expect(sample(text, 'podsync_retention_runs_total', { outcome: 'success' })).to.equal(before + 1);
      expect(sample(text, 'podsync_retention_last_run_timestamp_seconds', { outcome: 'success' })).to.equal(Date.parse('2026-05-01T00:00:00Z') / 1000);
    });

    it('counts the sync cache lookups: a first sync misses, the next one hits', async () => {
      const count = async (outcome: string) => sample((await service.http.get('/metrics')).text, 'podsync_sync_cache_lookups_total', { outcome }) ?? 0;
      const [misses, hits] = [await count('miss'), await count('hit')];
      const { token } = await service.login();
      const body = { device: 'phone', subscriptions: [], play_statuses: [], playlists: [] };
      for (const request_id of ['first', 'second']) {
        expect(
          (
            await service.http
              .post('/v1/sync')
              .set('Authorization', `Bearer ${token}`)
              .send({ ...body, request_id })
          ).status,
        ).to.equal(200);
      }
      expect(await count('miss')).to.equal(misses + 1);
      expect(await count('hit')).to.equal(hits + 1);
    });

    it('/readyz is 200 with every projection caught up; /healthz is 200', async () => {
      await service.settle();
      await service.erased();
      const ready = await service.http.get('/readyz');
      expect(ready.status).to.equal(200);
      expect(ready.body.status).to.equal('ready');
      // The projections, and the erasure reactor (docs/design.md, "Erasure") beside them.
      expect(Object.keys(ready.body.projections)).to.deep.equal([...service.projector.names, ERASURE_REACTOR]);
      for (const projection of Object.values(ready.body.projections)) expect(projection).to.include({ lag: 0 });
      expect((await service.http.get('/healthz')).status).to.equal(200);
    });
  });

  describe('/readyz with projections behind', function () {
    let service: TestService;
    before(async () => {
      // No projector: appended events stay unprojected, as when a projector is stuck or rebuilding.
      service = await startTestService({ READY_MAX_LAG: '3' }, { runProjector: false });
    });
    after(() => service.stop());

    it('is not ready while no projector runs (nobody holds the projection leases)', async () => {
      const idle = await service.http.get('/readyz');
      expect(idle.status).to.equal(503);
      expect(idle.body.reason).to.contain('no projector is running');
      // The test plays the projector and the erasure reactor from here on (catchUp below).
      await service.projector.acquireLeases();
      expect(await service.erasure.acquireLease()).to.equal(true);
      expect((await service.http.get('/readyz')).status).to.equal(200);
    });

    it('is ready below the bound or within the grace, 503 naming the projections at or beyond it after it, and 503 when draining', async () => {
      const { token } = await service.login();
      const post = (events: object[]) => service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events });
      const stores = { ...service.stores, sequentialPositions: true };
      const names = [...service.projector.names, ERASURE_REACTOR];
      const readiness = (afterMs: number) => checkReadiness(stores, names, { maxLag: 3, now: () => new Date(Date.now() + afterMs) });
      expect((await post([play('a'), play('b')])).status).to.equal(201);
      const below = await service.http.get('/readyz');
      expect(below.status).to.equal(200);
      expect(below.body.projections.subscriptions).to.deep.equal({ lag: 2, checkpoint: null });
      expect((await readiness(11_000)).ready, 'below the bound, however old').to.equal(true);

      // At the bound: a burst the projector is absorbing, while its oldest event is younger than
      // the grace (10 s)…
      expect((await post([play('c')])).status).to.equal(201);
      const burst = await service.http.get('/readyz');
      expect(burst.status).to.equal(200);
      expect(burst.body.projections.popularity.lag).to.equal(3);
      expect(burst.body.projections[ERASURE_REACTOR].lag).to.equal(3);
      expect((await readiness(9_000)).ready).to.equal(true);
      // …and behind once it waited longer: every projection, the erasure reactor too.
      const behind = await readiness(11_000);
      expect(behind.ready).to.equal(false);
      expect(behind.reason).to.contain('subscriptions').and.to.contain('3 events').and.to.contain(ERASURE_REACTOR);
      expect(behind.projections!['popularity']!.lag).to.equal(3);

      await service.projector.catchUp();
      const reactorBehind = await readiness(11_000);
      expect(reactorBehind.ready).to.equal(false);
      expect(reactorBehind.reason).to.contain(ERASURE_REACTOR).and.not.to.contain('subscriptions');
      await service.erasure.catchUp();
      expect((await service.http.get('/readyz')).status).to.equal(200);
      expect((await readiness(11_000)).ready).to.equal(true);

      // A projection a few events behind that makes no progress (stuck on one event, or no
      // projector running) is below the lag bound forever: the age of its oldest pending event says so.
      expect((await post([play('d')])).status).to.equal(201);
      const soon = await checkReadiness(stores, service.projector.names, { maxLag: 3, now: () => new Date(Date.now() + 5_000) });
      expect(soon.ready).to.equal(true);
      const stuck = await checkReadiness(stores, service.projector.names, { maxLag: 3, now: () => new Date(Date.now() + 31_000) });
      expect(stuck.ready).to.equal(false);
      expect(stuck.reason).to.contain('no progress').and.to.contain('subscriptions');
      await service.projector.catchUp();

      service.markDraining();
      const draining = await service.http.get('/readyz');
      expect(draining.status).to.equal(503);
      expect(draining.body.reason).to.equal('shutting down');
    });
  });
});
