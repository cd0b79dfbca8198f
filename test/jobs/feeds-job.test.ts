/**
 * The `feeds` job in the service: a newly subscribed feed is fetched by the next run (the job
 * runs every minute in production; faster here), progress and outcomes are logged and counted
 * in /metrics, and FEEDS=off keeps it from being scheduled at all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { loadConfig } from '../../src/config.js';
import { feedKey } from '../../src/domain/feeds.js';
import { FEEDS_EVERY, FEEDS_JOB } from '../../src/jobs/feeds-job.js';
import { startService, type Service } from '../../src/service.js';
import { PODCASTS } from '../../projections/podcasts.js';
import { capturingLogger } from '../support/logs.js';
import type { FeedServer } from '../feeds/feed-server.js';
import { fixture, startFeedServer, xml } from '../feeds/feed-server.js';

async function waitFor(condition: () => Promise<boolean>, what: string, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('feeds job', function () {
  this.timeout(20_000);
  let dataDir: string;
  let server: FeedServer;
  let service: Service | undefined;

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-feeds-job-'));
    server = await startFeedServer();
  });
  afterEach(async () => {
    await service?.close();
    service = undefined;
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs every minute by default', () => {
    expect(FEEDS_EVERY).to.equal('1 minute');
  });

  it('fetches a newly subscribed feed at its next run, logs it and counts it in /metrics', async () => {
    const { logger, entries } = capturingLogger();
    const config = loadConfig({ DATA_DIR: dataDir, RATE_LIMIT_PER_MINUTE: '0', FEEDS_ALLOW_PRIVATE_NETWORKS: 'true', PROJECTOR: 'inline' });
    service = await startService(config, logger, { scheduler: { processEvery: 100 }, feedsEvery: '1 second' });
    const http = request(service.app);
    const url = `${server.origin}/new.xml`;
    server.route('/new.xml', xml(fixture('rss-podcast.xml')));
    await http.post('/v1/auth/register').send({ username: 'feeder', password: 'correct horse battery' });
    const { body } = await http.post('/v1/auth/token').send({ username: 'feeder', password: 'correct horse battery' });
    await http
      .post('/v1/events')
      .set('Authorization', `Bearer ${body.token as string}`)
      .send({ events: [{ type: 'subscribe', timestamp: '2026-02-01T00:00:00Z', object: { rss_source_feed: url }, data: {} }] })
      .expect((response) => expect(response.status).to.be.lessThan(300));

    await waitFor(async () => (await service!.stores.readModel.get(PODCASTS, feedKey(url)))?.['title'] === 'Fixture Radio', 'the feed to be fetched');
    expect(server.requests.filter((entry) => entry.path === '/new.xml')).to.have.length(1);
    await waitFor(async () => entries.some((entry) => entry['message'] === 'feeds run finished'), 'the run summary');
    expect(entries.find((entry) => entry['message'] === 'feeds run finished')).to.include({ due: 1, fetched: 1, failed: 0 });
    const metrics = await http.get('/metrics');
    expect(metrics.text).to.match(/podsync_feed_fetches_total\{outcome="fetched",reason=""\} [1-9]/);
    expect(metrics.text).to.match(/podsync_feed_runs_total\{outcome="success"\} [1-9]/);
  });

  it('is not scheduled with FEEDS=off', async () => {
    const { logger } = capturingLogger();
    service = await startService(loadConfig({ DATA_DIR: dataDir, FEEDS: 'off' }), logger, { scheduler: { processEvery: 100 } });
    const row = service.stores.embedded!.database.prepare(`SELECT count(*) AS n FROM agenda_jobs WHERE name = ?`).get(FEEDS_JOB) as { n: number };
    expect(row.n).to.equal(0);
  });
});
