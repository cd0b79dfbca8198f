/** `GET /api/2/devices/{u}.json`, `POST /api/2/devices/{u}/{device}.json`. */
import { expect } from 'chai';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import type { GpodderTestUser } from './support.js';
import { FEED_A, FEED_B, gpodderUser } from './support.js';

describe('gpodder API: devices', function () {
  let service: TestService;
  let user: GpodderTestUser;
  const list = () => service.http.get(`/api/2/devices/${user.username}.json`).set('Authorization', user.basic);
  const update = (device: string, body?: unknown, contentType = 'application/json') => {
    const request = service.http.post(`/api/2/devices/${user.username}/${device}.json`).set('Authorization', user.basic).set('Content-Type', contentType);
    return body === undefined ? request : request.send(typeof body === 'string' ? body : JSON.stringify(body));
  };

  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    user = await gpodderUser(service);
  });

  it('creates a device (empty 200) and lists [{id, caption, type, subscriptions}]', async () => {
    const created = await update('phone', { caption: 'My phone', type: 'mobile' });
    expect(created.status).to.equal(200);
    expect(created.text).to.equal('');
    const listed = await list();
    expect(listed.status).to.equal(200);
    expect(listed.body).to.deep.equal([{ id: 'phone', caption: 'My phone', type: 'mobile', subscriptions: 0 }]);
  });

  it('reads the body as JSON whatever the Content-Type (urllib sends form-urlencoded)', async () => {
    expect((await update('laptop', { caption: 'Laptop', type: 'laptop' }, 'application/x-www-form-urlencoded')).status).to.equal(200);
    expect((await update('desk', { caption: 'Desk', type: 'desktop' }, 'text/plain')).status).to.equal(200);
    expect((await list()).body.map((d: { id: string; type: string }) => [d.id, d.type])).to.deep.equal([
      ['desk', 'desktop'],
      ['laptop', 'laptop'],
    ]);
  });

  it('an empty body creates a device with defaults; an update changes only what it names', async () => {
    expect((await update('box')).status).to.equal(200);
    expect((await list()).body).to.deep.equal([{ id: 'box', caption: '', type: 'other', subscriptions: 0 }]);
    await update('box', { caption: 'Box', type: 'SERVER' });
    await update('box', { caption: 'Renamed' });
    expect((await list()).body).to.deep.equal([{ id: 'box', caption: 'Renamed', type: 'server', subscriptions: 0 }]);
  });

  it('an update that changes nothing writes nothing', async () => {
    await update('phone', { caption: 'P', type: 'mobile' });
    const before = await service.eventCount();
    await update('phone', { caption: 'P' });
    await update('phone', {});
    expect(await service.eventCount()).to.equal(before);
  });

  it('counts the account’s subscriptions for every device (subscriptions are shared)', async () => {
    await update('phone', { type: 'mobile' });
    await service.http
      .post(`/api/2/subscriptions/${user.username}/laptop.json`)
      .set('Authorization', user.basic)
      .send({ add: [FEED_A, FEED_B] });
    const listed = (await list()).body as { id: string; subscriptions: number }[];
    expect(listed.map((d) => [d.id, d.subscriptions])).to.deep.equal([
      ['laptop', 2],
      ['phone', 2],
    ]);
  });

  it('400 naming the field for a bad type, caption or device id; 404 for another extension; nothing written', async () => {
    const before = await service.eventCount();
    const badType = await update('phone', { type: 'toaster' });
    expect(badType.status).to.equal(400);
    expect(badType.body.details.issues[0].path).to.equal('type');
    const badCaption = await update('phone', { caption: 42 });
    expect(badCaption.body.details.issues[0].path).to.equal('caption');
    const badId = await update('my%20phone', {});
    expect(badId.status).to.equal(400);
    expect(badId.body.details.issues[0].path).to.equal('device');
    const notJson = await update('phone', '{"caption":');
    expect(notJson.status).to.equal(400);
    expect(notJson.body.error).to.equal('malformed_json');
    const scalar = await update('phone', '"phone"');
    expect(scalar.status).to.equal(400);
    const xml = await service.http.get(`/api/2/devices/${user.username}.xml`).set('Authorization', user.basic);
    expect(xml.status).to.equal(404);
    expect(await service.eventCount()).to.equal(before);
  });

  it('device ids may contain dots; the extension is the last one', async () => {
    expect((await update('host.example.org', { caption: 'Host' })).status).to.equal(200);
    expect((await list()).body[0]).to.include({ id: 'host.example.org' });
  });
});
