/** Smaller defects of issue 16 (item 8), each pinned over HTTP. */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { gpodderUser } from './gpodder/support.js';

const FEED = 'https://defects.example.com/feed.xml';

describe('small defects', function () {
  this.timeout(30_000);
  let service: TestService;
  before(async () => {
    service = await startTestService();
  });
  after(() => service.stop());

  it('devices named like Object.prototype members are created by an upload', async () => {
    const user = await gpodderUser(service);
    const names = ['toString', 'isPrototypeOf', 'constructor', '__proto__', 'hasOwnProperty'];
    const upload = await service.http
      .post(`/api/2/episodes/${user.username}.json`)
      .set('Authorization', user.basic)
      .send(names.map((device, n) => ({ podcast: FEED, episode: `https://defects.example.com/${n}.mp3`, action: 'download', device })));
    expect(upload.status).to.equal(200);
    const listed = await service.http.get(`/api/2/devices/${user.username}.json`).set('Authorization', user.basic);
    expect((listed.body as { id: string }[]).map((device) => device.id).sort()).to.deep.equal([...names].sort());
  });

  it('a body that is not valid UTF-8 is a 400, not stored with U+FFFD', async () => {
    const { token } = await service.login();
    const before = await service.eventCount();
    const body = Buffer.concat([
      Buffer.from(
        '{"events":[{"type":"subscribe","timestamp":"2026-01-01T00:00:00Z","object":{"rss_source_feed":"https://a.example.com/f"},"data":{"rss_feed_title":"bad ',
      ),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}}]}'),
    ]);
    // Labelled text/plain so the test client sends the bytes as they are (the API reads JSON whatever the label).
    const response = await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/plain').send(body);
    expect(response.status).to.equal(400);
    expect(response.body.error, JSON.stringify(response.body)).to.equal('invalid_utf8');
    expect(await service.eventCount()).to.equal(before);
    const user = await gpodderUser(service);
    const gpodder = await service.http
      .post(`/api/2/subscriptions/${user.username}/phone.txt`)
      .set('Authorization', user.basic)
      .set('Content-Type', 'text/plain')
      .send(Buffer.from([0x68, 0x74, 0xff, 0x0a]));
    expect(gpodder.status).to.equal(400);
  });

  it('POST /v1/events answers the ids in request order, whatever the timestamps', async () => {
    const { token } = await service.login();
    const ids = ['00000000-0000-4000-8000-0000000000c3', '00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000b2'];
    const events = [
      { id: ids[0], type: 'subscribe', timestamp: '2026-01-03T00:00:00Z', object: { rss_source_feed: FEED }, data: {} },
      { id: ids[1], type: 'unsubscribe', timestamp: '2026-01-01T00:00:00Z', object: { rss_source_feed: FEED }, data: {} },
      { type: 'subscribe', timestamp: '2026-01-02T00:00:00Z', object: { rss_source_feed: `${FEED}?2` }, data: {} },
    ];
    const response = await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events });
    expect(response.status).to.equal(201);
    expect(response.body.ids).to.have.length(3);
    expect(response.body.ids.slice(0, 2)).to.deep.equal([ids[0], ids[1]]);
  });

  it('a reused client event id: the same event again is a retry (201, nothing written), another event under it a 409 naming it', async () => {
    const { token } = await service.login();
    const post = (events: object[]) => service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events });
    const id = '00000000-0000-4000-8000-00000000d00d';
    const subscribe = { id, type: 'subscribe', timestamp: '2026-01-01T00:00:00Z', object: { rss_source_feed: FEED }, data: { rss_feed_title: 'T' } };
    expect((await post([subscribe])).status).to.equal(201);
    const before = await service.eventCount();
    const retried = await post([subscribe]);
    expect(retried.status).to.equal(201);
    expect(retried.body.ids).to.deep.equal([id]);
    expect(await service.eventCount()).to.equal(before);
    const reused = await post([{ ...subscribe, data: { rss_feed_title: 'Something else' } }]);
    expect(reused.status).to.equal(409);
    expect(reused.body.error).to.equal('event_id_conflict');
    expect(JSON.stringify(reused.body)).to.contain(id);
    const mixed = await post([subscribe, { ...subscribe, id: '00000000-0000-4000-8000-00000000beef' }]);
    expect(mixed.status, 'a known id mixed with a new one').to.equal(409);
    expect(await service.eventCount()).to.equal(before);
  });
});
