/** The simple API: `GET|PUT /subscriptions/{u}/{device}.{opml|json|txt}`, `GET /subscriptions/{u}.{fmt}`. */
import { expect } from 'chai';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import type { GpodderTestUser } from './support.js';
import { FEED_A, FEED_B, FEED_C, gpodderUser } from './support.js';

describe('gpodder API: simple subscriptions API', function () {
  let service: TestService;
  let user: GpodderTestUser;
  const put = (device: string, format: string, body: string, contentType = 'text/plain') =>
    service.http.put(`/subscriptions/${user.username}/${device}.${format}`).set('Authorization', user.basic).set('Content-Type', contentType).send(body);
  const get = (path: string) => service.http.get(`/subscriptions/${path}`).set('Authorization', user.basic);

  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    user = await gpodderUser(service);
  });

  it('PUT JSON replaces the list (empty 200); GET answers it in JSON, TXT and OPML', async () => {
    const response = await put('phone', 'json', JSON.stringify([FEED_A, FEED_B]), 'application/json');
    expect(response.status).to.equal(200);
    expect(response.text).to.equal('');
    const json = await get(`${user.username}/phone.json`);
    expect(json.headers['content-type']).to.match(/^application\/json/);
    expect(json.body).to.have.members([FEED_A, FEED_B]);
    const txt = await get(`${user.username}/phone.txt`);
    expect(txt.headers['content-type']).to.match(/^text\/plain/);
    expect(txt.text.trim().split('\n')).to.have.members([FEED_A, FEED_B]);
    const opml = await get(`${user.username}/phone.opml`);
    expect(opml.headers['content-type']).to.match(/^text\/x-opml/);
    expect(opml.text)
      .to.match(/^<\?xml/)
      .and.to.contain(`xmlUrl="${FEED_A}"`)
      .and.to.contain(`xmlUrl="${FEED_B}"`);
  });

  it('PUT TXT and OPML; the new list replaces the old (removals included)', async () => {
    await put('phone', 'txt', `${FEED_A}\n${FEED_B}\n`);
    await put(
      'phone',
      'opml',
      `<?xml version="1.0"?><opml version="2.0"><body><outline type="rss" text="C" xmlUrl="${FEED_C}"/><outline xmlUrl="${FEED_B}"/></body></opml>`,
      'text/x-opml',
    );
    expect((await get(`${user.username}/phone.json`)).body).to.have.members([FEED_B, FEED_C]);
    const changes = await service.http.get(`/api/2/subscriptions/${user.username}/phone.json?since=0`).set('Authorization', user.basic);
    expect(changes.body.add).to.have.members([FEED_B, FEED_C]);
  });

  it('the account list (all devices) is the same list, in every format', async () => {
    await put('phone', 'json', JSON.stringify([FEED_A]));
    await service.http
      .post(`/api/2/subscriptions/${user.username}/laptop.json`)
      .set('Authorization', user.basic)
      .send({ add: [FEED_B] });
    expect((await get(`${user.username}.json`)).body).to.have.members([FEED_A, FEED_B]);
    expect((await get(`${user.username}.txt`)).text.trim().split('\n')).to.have.members([FEED_A, FEED_B]);
    expect((await get(`${user.username}.opml`)).text).to.contain(FEED_A);
  });

  it('skips entries that are not http(s) URLs', async () => {
    await put('phone', 'txt', `${FEED_A}\nftp://x/y\n`);
    expect((await get(`${user.username}/phone.json`)).body).to.deep.equal([FEED_A]);
  });

  it('400 for a body that is not the format, 404 for another format; nothing written', async () => {
    const before = await service.eventCount();
    for (const [format, body] of [
      ['json', '{"not":"a list"}'],
      ['json', 'nonsense'],
      ['opml', 'just text'],
    ]) {
      const response = await put('phone', format!, body!);
      expect(response.status, `${format} ${body}`).to.equal(400);
      expect(response.body.details.issues[0].path).to.equal('(body)');
    }
    expect((await get(`${user.username}/phone.xml`)).status).to.equal(404);
    expect((await put('phone', 'csv', 'a,b')).status).to.equal(404);
    expect(await service.eventCount()).to.equal(before);
  });
});
