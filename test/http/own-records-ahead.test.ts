/**
 * The user's own records over HTTP with the projector stopped: the native read models and
 * gpodder's subscriptions answer the user's latest writes at once (waiting for the projector
 * would end in a 503 here), as they will once it has caught up.
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { gpodderUser } from './gpodder/support.js';
import type { GpodderTestUser } from './gpodder/support.js';

const FEED = 'https://feeds.example.com/ahead.xml';
const OTHER = 'https://feeds.example.com/other.xml';
const episode = { rss_source_feed: FEED, rss_source_id: 'urn:ahead:1' };

describe('own records over HTTP ahead of the projector', function () {
  this.timeout(30_000);
  let service: TestService;
  let user: GpodderTestUser;
  before(async () => {
    service = await startTestService({}, { runProjector: false });
    await service.projector.acquireLeases();
    user = await gpodderUser(service);
  });
  after(async () => {
    await service.stop();
  });

  const reads = async () => {
    const bearer = `Bearer ${user.token}`;
    const [subscriptions, statuses, playlists, gpodder, simple] = await Promise.all([
      service.http.get('/v1/subscriptions').set('Authorization', bearer),
      service.http.get('/v1/play-statuses').set('Authorization', bearer),
      service.http.get('/v1/playlists').set('Authorization', bearer),
      service.http.get(`/api/2/subscriptions/${user.username}/phone.json?since=0`).set('Authorization', user.basic),
      service.http.get(`/subscriptions/${user.username}.json`).set('Authorization', user.basic),
    ]);
    for (const response of [subscriptions, statuses, playlists, gpodder, simple]) expect(response.status, response.text).to.equal(200);
    const { since, ...statusesBody } = statuses.body as { since: string };
    return { since: Number(since), answers: [subscriptions.body, statusesBody, playlists.body, { ...gpodder.body, timestamp: undefined }, simple.body] };
  };

  it('answers subscriptions, play statuses, playlists and gpodder subscriptions with the latest writes', async () => {
    await service.projector.catchUp();
    const write = await service.http
      .post('/v1/events')
      .set('Authorization', `Bearer ${user.token}`)
      .send({
        events: [
          { type: 'subscribe', timestamp: '2026-03-01T10:00:00Z', object: { rss_source_feed: FEED }, data: { rss_feed_title: 'Ahead' } },
          { type: 'subscribe', timestamp: '2026-03-01T10:00:00Z', object: { rss_source_feed: OTHER }, data: {} },
          { type: 'play', timestamp: '2026-03-01T10:01:00Z', object: episode, data: { played: false, position: 42 } },
          { type: 'save', timestamp: '2026-03-01T10:02:00Z', object: episode, data: { playlist: 'later' } },
          { type: 'unsubscribe', timestamp: '2026-03-01T10:03:00Z', object: { rss_source_feed: OTHER }, data: {} },
        ],
      });
    expect(write.status).to.equal(201);
    const ahead = await reads();
    const [subscriptions, statuses, playlists, gpodder, simple] = ahead.answers as [
      { subscriptions: { rss_source_feed: string; unsubscribed_at: string | null }[] },
      { play_statuses: { position: number }[] },
      { playlists: { items: unknown[] }[] },
      { add: string[] },
      unknown[],
    ];
    expect(subscriptions.subscriptions.map((record) => [record.rss_source_feed, record.unsubscribed_at !== null])).to.deep.equal([
      [FEED, false],
      [OTHER, true],
    ]);
    expect(statuses.play_statuses.map((status) => status.position)).to.deep.equal([42]);
    expect(playlists.playlists).to.have.length(1);
    expect(gpodder.add).to.deep.equal([FEED]);
    expect(simple).to.deep.equal([FEED]);
    await service.projector.catchUp();
    const caughtUp = await reads();
    expect(ahead.answers).to.deep.equal(caughtUp.answers);
    expect(caughtUp.since).to.be.at.least(ahead.since);
  });
});
