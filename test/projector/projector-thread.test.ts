import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { ERASURE_REACTOR } from '../../src/retention/erasure-reactor.js';

const feed = (n: number) => `https://example.com/${n}/feed.xml`;
const subscribe = (n: number) => ({ type: 'subscribe', timestamp: '2026-03-01T10:00:00Z', object: { rss_source_feed: feed(n) }, data: {} });

/** The user's subscribed feeds as `GET /v1/subscriptions` answers (read-your-writes included). */
async function feedsOf(service: TestService, token: string): Promise<string[]> {
  const response = await service.http.get('/v1/subscriptions').set('authorization', `Bearer ${token}`).expect(200);
  return (response.body.subscriptions as { rss_source_feed: string }[]).map((subscription) => subscription.rss_source_feed).sort();
}

/** Owners of the projection leases (the erasure reactor's, on the HTTP thread, left out). */
async function leaseOwners(service: TestService): Promise<string[]> {
  const rows = service.stores.embedded!.readModelDatabase!.prepare('SELECT DISTINCT owner FROM rm_leases WHERE name != ?').all(ERASURE_REACTOR) as {
    owner: string;
  }[];
  return rows.map((row) => row.owner);
}

describe('projector thread (PROJECTOR=thread, the default)', function () {
  this.timeout(60_000);
  let service: TestService;

  afterEach(async function () {
    await service?.stop();
  });

  it('projects on its own thread: it holds every projection lease, and a write is readable at once', async function () {
    service = await startTestService();
    const thread = service.projectorThread;
    expect(thread?.running).to.equal(true);
    const { token } = await service.login();
    await service.http
      .post('/v1/events')
      .set('authorization', `Bearer ${token}`)
      .send({ events: [subscribe(1)] })
      .expect(201);
    // Read-your-writes waits on the checkpoints the thread commits, as it would across processes.
    expect(await feedsOf(service, token)).to.deep.equal([feed(1)]);
    expect(await leaseOwners(service)).to.deep.equal([thread!.owner]);
  });

  it('if the thread dies, the HTTP thread takes over its leases and projects what follows', async function () {
    service = await startTestService();
    const thread = service.projectorThread!;
    const { token } = await service.login();
    await service.http
      .post('/v1/events')
      .set('authorization', `Bearer ${token}`)
      .send({ events: [subscribe(1)] })
      .expect(201);
    expect(await feedsOf(service, token)).to.deep.equal([feed(1)]);
    await thread.kill();
    expect(thread.running).to.equal(false);
    await service.http
      .post('/v1/events')
      .set('authorization', `Bearer ${token}`)
      .send({ events: [subscribe(2)] })
      .expect(201);
    await service.settle();
    expect(await feedsOf(service, token)).to.deep.equal([feed(1), feed(2)]);
    const owners = await leaseOwners(service);
    expect(owners).to.have.length(1);
    expect(owners[0]).to.not.equal(thread.owner);
  });

  it('PROJECTOR=inline projects on the HTTP thread', async function () {
    service = await startTestService({ PROJECTOR: 'inline' });
    expect(service.projectorThread).to.equal(undefined);
    const { token } = await service.login();
    await service.http
      .post('/v1/events')
      .set('authorization', `Bearer ${token}`)
      .send({ events: [subscribe(3)] })
      .expect(201);
    expect(await feedsOf(service, token)).to.deep.equal([feed(3)]);
    expect((await leaseOwners(service))[0]).to.match(/^projector-(?!thread)/);
  });
});
