/** Hard input limits (docs/design.md, "Clients and their APIs"): each bound answers 400 naming the field, and writes nothing. */
import { expect } from 'chai';
import { LIMITS } from '../../src/domain/events.js';
import { SYNC_LIMITS } from '../../src/domain/sync.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';

const FEED = 'https://limits.example.com/feed.xml';
const play = (data: object, object: object = { rss_source_feed: FEED, rss_source_id: 'e' }) => ({
  type: 'play',
  timestamp: '2026-01-01T00:00:00Z',
  object,
  data: { played: true, position: 1, ...data },
});

describe('input limits', function () {
  let service: TestService;
  let token: string;
  before(async () => {
    service = await startTestService();
    ({ token } = await service.login());
  });
  after(async () => {
    await service.stop();
  });

  const cases: { name: string; method: 'post' | 'get'; path: string; body?: unknown; field: string }[] = [
    {
      name: 'more events than a request may carry',
      method: 'post',
      path: '/v1/events',
      body: { events: Array.from({ length: 1001 }, () => play({})) },
      field: 'events',
    },
    {
      name: 'a title longer than the limit',
      method: 'post',
      path: '/v1/events',
      body: { events: [play({ rss_item_title: 'x'.repeat(LIMITS.title + 1) })] },
      field: 'events.0.data.rss_item_title',
    },
    {
      name: 'a feed URL longer than the limit',
      method: 'post',
      path: '/v1/events',
      body: { events: [play({}, { rss_source_feed: `https://a.example.com/${'x'.repeat(LIMITS.url)}`, rss_source_id: 'e' })] },
      field: 'events.0.object.rss_source_feed',
    },
    {
      name: 'a feed URL that is not http(s)',
      method: 'post',
      path: '/v1/events',
      body: { events: [play({}, { rss_source_feed: 'ftp://a.example.com/feed', rss_source_id: 'e' })] },
      field: 'events.0.object.rss_source_feed',
    },
    {
      name: 'an enclosure URL that is not http(s)',
      method: 'post',
      path: '/v1/events',
      body: { events: [play({ enclosure: { url: 'javascript:alert(1)' } })] },
      field: 'events.0.data.enclosure.url',
    },
    {
      name: 'a timestamp before 1990',
      method: 'post',
      path: '/v1/events',
      body: { events: [{ ...play({}), timestamp: '1989-12-31T23:59:59Z' }] },
      field: 'events.0.timestamp',
    },
    {
      name: 'a timestamp from 2100',
      method: 'post',
      path: '/v1/events',
      body: { events: [{ ...play({}), timestamp: '2100-01-01T00:00:00Z' }] },
      field: 'events.0.timestamp',
    },
    { name: 'an absurd position', method: 'post', path: '/v1/events', body: { events: [play({ position: 1e12 })] }, field: 'events.0.data.position' },
    {
      name: 'a control character in a guid',
      method: 'post',
      path: '/v1/events',
      body: { events: [play({}, { rss_source_feed: FEED, rss_source_id: 'a\u0000b' })] },
      field: 'events.0.object.rss_source_id',
    },
    {
      name: 'more subscriptions than a sync may carry',
      method: 'post',
      path: '/v1/sync',
      body: {
        device: 'd',
        request_id: 'r',
        play_statuses: [],
        playlists: [],
        subscriptions: Array.from({ length: SYNC_LIMITS.subscriptions + 1 }, (_, n) => ({
          rss_source_feed: `https://a.example.com/${n}`,
          subscribed_at: '2026-01-01T00:00:00Z',
        })),
      },
      field: 'subscriptions',
    },
    {
      name: 'a request id longer than the limit',
      method: 'post',
      path: '/v1/sync',
      body: { device: 'd', request_id: 'r'.repeat(LIMITS.id + 1), subscriptions: [], play_statuses: [], playlists: [] },
      field: 'request_id',
    },
    {
      name: 'a token label with control characters',
      method: 'post',
      path: '/v1/auth/token',
      body: { username: 'u', password: 'p', label: 'a\u0007' },
      field: 'label',
    },
    { name: 'a page size above the maximum', method: 'get', path: '/v1/public/events?limit=201', field: 'query.limit' },
    { name: 'a cursor that is not one', method: 'get', path: '/v1/play-statuses?since=12345678901234567', field: 'query.since' },
    { name: 'a feed filter that is not http(s)', method: 'get', path: '/v1/popular/episodes?feed=file:///etc/passwd', field: 'query.feed' },
  ];

  for (const testCase of cases) {
    it(`rejects ${testCase.name}, naming ${testCase.field}`, async () => {
      const before = await service.eventCount();
      const request = service.http[testCase.method](testCase.path).set('Authorization', `Bearer ${token}`);
      const response = testCase.body === undefined ? await request : await request.send(testCase.body as object);
      expect(response.status, response.text.slice(0, 300)).to.equal(400);
      expect(response.body.error).to.equal('validation_failed');
      expect(response.body.details.issues.map((issue: { path: string }) => issue.path)).to.include(testCase.field);
      expect(await service.eventCount()).to.equal(before);
    });
  }
});

describe('writes larger than the event store takes in one append', function () {
  this.timeout(30_000);
  const MAX = 65_536;
  let service: TestService;
  before(async () => {
    service = await startTestService({ MAX_APPEND_BYTES: String(MAX) });
  });
  after(async () => service.stop());

  const plays = (count: number) =>
    Array.from({ length: count }, (_, n) => play({ rss_item_title: 't'.repeat(200) }, { rss_source_feed: FEED, rss_source_id: `e${n}` }));
  const expectRefused = (response: { status: number; body: { error?: string; message?: string; details?: { max_bytes?: number } } }) => {
    expect(response.status).to.equal(413);
    expect(response.body.error).to.equal('append_too_large');
    expect(response.body.details?.max_bytes).to.equal(MAX);
    expect(response.body.message).to.match(/nothing was written\. Send fewer records per request\.$/);
  };

  it('answer 413 naming the limit on every API, write nothing, and the same in parts lands', async () => {
    const { token, username } = await service.login('append-limit', 'correct horse battery');
    const before = await service.eventCount();
    const bearer = `Bearer ${token}`;
    expectRefused(
      await service.http
        .post('/v1/events')
        .set('Authorization', bearer)
        .send({ events: plays(400) }),
    );
    const statuses = Array.from({ length: 400 }, (_, n) => ({
      rss_source_feed: FEED,
      rss_source_id: `e${n}`,
      played: true,
      position: 1,
      updated_at: '2026-01-01T00:00:00Z',
      rss_item_title: 't'.repeat(200),
    }));
    expectRefused(
      await service.http
        .post('/v1/sync')
        .set('Authorization', bearer)
        .send({ device: 'd', request_id: 'r1', subscriptions: [], play_statuses: statuses, playlists: [] }),
    );
    const actions = Array.from({ length: 400 }, (_, n) => ({
      podcast: FEED,
      episode: `https://media.example.com/${'m'.repeat(150)}/${n}.mp3`,
      action: 'play',
      timestamp: '2026-01-01T00:00:00',
      position: 10,
      started: 0,
      total: 100,
    }));
    expectRefused(await service.http.post(`/api/2/episodes/${username}.json`).auth(username, 'correct horse battery').send(actions));
    expect(await service.eventCount()).to.equal(before);
    for (let from = 0; from < 400; from += 100)
      expect(
        (
          await service.http
            .post('/v1/events')
            .set('Authorization', bearer)
            .send({ events: plays(400).slice(from, from + 100) })
        ).status,
      ).to.equal(201);
    expect(await service.eventCount()).to.equal(before + 400);
  });
});
