/**
 * `npm run feeds -- fetch [URL]`: the real script, spawned beside a running service on its
 * store: fetches the due feeds (or one), prints a summary, and refuses bad arguments.
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { feedStream } from '../../src/domain/feeds.js';
import { readStreamOrEmpty } from '../../src/stores/event-store.js';
import { runScript } from '../support/run-script.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import type { FeedServer } from '../feeds/feed-server.js';
import { fixture, startFeedServer, xml } from '../feeds/feed-server.js';

const script = fileURLToPath(new URL('../../scripts/feeds.ts', import.meta.url));

describe('npm run feeds', function () {
  this.timeout(60_000);
  let service: TestService;
  let server: FeedServer;
  let env: Record<string, string>;

  before(async () => {
    service = await startTestService({ FEEDS_ALLOW_PRIVATE_NETWORKS: 'true' });
    server = await startFeedServer();
    env = { DATA_DIR: service.dataDir, LOG_LEVEL: 'warn', FEEDS_ALLOW_PRIVATE_NETWORKS: 'true', FEEDS_TIMEOUT_MS: '2000' };
  });
  after(async () => {
    await server.close();
    await service.stop();
  });

  it('fetch: every due feed, with a summary', async () => {
    server.route('/due.xml', xml(fixture('rss-podcast.xml')));
    server.route('/broken.xml', xml(fixture('malformed.xml')));
    const { token } = await service.login();
    const subscribe = (url: string) => ({ type: 'subscribe', timestamp: '2026-03-01T00:00:00Z', object: { rss_source_feed: url }, data: {} });
    await service.http
      .post('/v1/events')
      .set('Authorization', `Bearer ${token}`)
      .send({ events: [subscribe(`${server.origin}/due.xml`), subscribe(`${server.origin}/broken.xml`)] });
    await service.settle();

    const result = await runScript(script, ['fetch', '--json'], { env });
    expect(result.code, result.stderr).to.equal(0);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary).to.include({ due: 2, fetched: 1, failed: 1 });
    expect(summary['failures']).to.deep.equal([
      {
        url: `${server.origin}/broken.xml`,
        outcome: 'failed',
        reason: 'malformed',
        message: (summary['failures'] as { message: string }[])[0]!.message,
        failures: 1,
      },
    ]);
    expect(await readStreamOrEmpty(service.stores.eventStore, feedStream(`${server.origin}/due.xml`))).to.have.length(1);

    await service.settle();
    const text = await runScript(script, ['fetch'], { env });
    expect(text.stdout, 'nothing due any more').to.match(/feeds fetched\n {2}feeds +0\n/);
  });

  it('fetch URL: one feed, due or not; exit 1 when it fails', async () => {
    server.route('/one.xml', xml(fixture('atom.xml')));
    const ok = await runScript(script, ['fetch', `${server.origin}/one.xml`], { env });
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/fetched +1/);
    const failed = await runScript(script, ['fetch', `${server.origin}/missing.xml`], { env });
    expect(failed.code).to.equal(1);
    expect(failed.stdout).to.include(`failed: ${server.origin}/missing.xml (http_status, 1 in a row): HTTP 404`);
  });

  it('refuses bad arguments with exit 2 and the usage', async () => {
    for (const args of [[], ['fetsch'], ['fetch', 'file:///etc/passwd'], ['fetch', 'https://a.example/', 'extra'], ['fetch', '--bogus']]) {
      const result = await runScript(script, args, { env });
      expect(result.code, args.join(' ')).to.equal(2);
      expect(result.stderr).to.include('usage: npm run feeds');
    }
  });
});
