/** A backlog's progress in the service's log (src/projector/catch-up-progress.ts). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import type { CatchUpSample, CatchUpState } from '../../src/projector/catch-up-progress.js';
import { nextCatchUpReport, sampleOf } from '../../src/projector/catch-up-progress.js';
import type { ProjectionStatus } from '../../src/admin/status.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { startService } from '../../src/service.js';
import { ReadModelService } from '../../src/services/read-models.js';
import { capturingServiceLogger } from '../support/logs.js';

const look = (atMs: number, position: bigint, head: bigint, behind = true): CatchUpSample => ({ atMs, slowest: 'subscriptions', position, head, behind });

describe('catch-up progress: what the log says (pure)', () => {
  it('says nothing while the projections keep up', () => {
    const { state, line } = nextCatchUpReport({}, look(0, 100n, 100n, false));
    expect(line).to.equal(undefined);
    expect(state).to.deep.equal({});
  });

  it('says how much of the log the slowest projection has read, then about how long is left, then when it has caught up', () => {
    let state: CatchUpState = {};
    const lines: unknown[] = [];
    for (const sample of [look(0, 1_000n, 10_000n), look(30_000, 4_000n, 10_000n), look(60_000, 9_000n, 12_000n), look(75_000, 12_000n, 12_000n, false)]) {
      const next = nextCatchUpReport(state, sample);
      state = next.state;
      lines.push(next.line);
    }
    expect(lines).to.deep.equal([
      { message: 'projections catching up', meta: { slowest: 'subscriptions', read: '10.0 %' } },
      // 3,000 positions in 30 s, 6,000 to go.
      { message: 'projections catching up', meta: { slowest: 'subscriptions', read: '40.0 %', left: 'about 60 s' } },
      // 5,000 in 30 s while the head moved on by 2,000: 3,000 to go at 166.7 a second.
      { message: 'projections catching up', meta: { slowest: 'subscriptions', read: '75.0 %', left: 'about 18 s' } },
      { message: 'projections caught up', meta: { seconds: 75 } },
    ]);
    expect(state).to.deep.equal({});
  });

  it('gives no time left while nothing moved', () => {
    const first = nextCatchUpReport({}, look(0, 500n, 10_000n));
    expect(nextCatchUpReport(first.state, look(30_000, 500n, 10_000n)).line?.meta).to.not.have.property('left');
  });

  it('reads "behind" as /readyz does: at least the lag bound, the oldest pending event older than the grace; the slowest is the lowest checkpoint', () => {
    const now = Date.parse('2026-06-01T12:00:00Z');
    const status = (name: string, commit: bigint | undefined, lag: number, waitedMs: number): ProjectionStatus => ({
      name,
      checkpoint: commit === undefined ? undefined : { commit, prepare: commit },
      updatedAt: null,
      lag,
      lagExact: lag < 1000,
      pendingSince: lag === 0 ? undefined : new Date(now - waitedMs),
      parked: 0,
    });
    const head = { commit: 5_000n, prepare: 5_000n };
    const report = (...projections: ProjectionStatus[]) => ({ head, projections });
    expect(sampleOf(report(status('a', 4_999n, 1, 60_000), status('b', 5_000n, 0, 0)), now)).to.include({ behind: false, slowest: 'a', position: 4_999n });
    expect(sampleOf(report(status('a', 1_000n, 1_000, 5_000)), now).behind, 'a burst being absorbed').to.equal(false);
    expect(sampleOf(report(status('a', 3_000n, 1_000, 60_000), status('b', undefined, 1_000, 60_000)), now)).to.include({
      behind: true,
      slowest: 'b',
      position: 0n,
      head: 5_000n,
    });
  });
});

describe('catch-up progress: the service logs a backlog it projects', function () {
  this.timeout(60_000);

  it('logs the progress of projections catching up events written before it started, then that they caught up', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-catch-up-'));
    try {
      const config = loadConfig({ DATA_DIR: dataDir, RATE_LIMIT_PER_MINUTE: '0' });
      // Events recorded a minute ago by a service without a projector: a backlog older than the grace.
      const past = () => new Date(Date.now() - 60_000);
      const writer = await startService(config, silentLogger(), { runProjector: false, runScheduler: false, clock: past });
      const http = request(writer.app);
      await http.post('/v1/auth/register').send({ username: 'backlog', password: 'correct horse battery' }).expect(201);
      const { token } = (await http.post('/v1/auth/token').send({ username: 'backlog', password: 'correct horse battery' }).expect(200)).body as {
        token: string;
      };
      for (let batch = 0; batch < 8; batch++) {
        const events = Array.from({ length: 1000 }, (_unused, n) => ({
          type: 'play',
          timestamp: new Date(Date.UTC(2026, 0, 1) + (batch * 1000 + n) * 1000).toISOString(),
          object: { rss_source_feed: `https://backlog.example.com/${n % 50}.xml`, rss_source_id: `ep-${batch}-${n}` },
          data: { played: false, position: n },
        }));
        await http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events }).expect(201);
      }
      await writer.close();

      const { logger, lines } = capturingServiceLogger();
      const service = await startService(config, logger, { runScheduler: false, catchUpLogEveryMs: 10 });
      try {
        const head = await service.stores.eventStore.headPosition();
        expect(await new ReadModelService(service.stores.eventStore, service.stores.readModel).waitFor(service.projector.names, head, 30_000)).to.equal(true);
        const deadline = Date.now() + 5_000;
        while (!lines.some((line) => line['message'] === 'projections caught up') && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 20));
        const progress = lines.filter((line) => line['message'] === 'projections catching up');
        expect(progress.length, JSON.stringify(lines.map((line) => line['message']))).to.be.greaterThan(0);
        expect(progress[0]!['read']).to.match(/^\d+\.\d %$/);
        expect(lines.find((line) => line['message'] === 'projections caught up')?.['seconds']).to.be.a('number');
      } finally {
        await service.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
