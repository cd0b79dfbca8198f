/**
 * Forgetting a device from the home page: the gpodder API no longer lists it, its sync group and
 * settings go with it, it no longer counts towards the account's devices, and an app still
 * using it makes it anew.
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { USER_LIMITS } from '../../src/domain/gpodder-commands.js';
import { gpodderUser, PASSWORD } from '../http/gpodder/support.js';
import { WebClient } from './web-client.js';

describe('web pages: forgetting a device', function () {
  this.timeout(30_000);
  let service: TestService;
  before(async () => {
    service = await startTestService();
  });
  after(async () => service.stop());

  it('asks first, then takes the device, its sync group and its settings off the account; an app naming it again makes it anew', async () => {
    const user = await gpodderUser(service, 'forgetter');
    const gpodder = <T extends { set: (name: string, value: string) => T }>(request: T) => request.set('Authorization', user.basic);
    for (const [device, caption] of [
      ['old-phone', 'Old phone'],
      ['laptop', 'Laptop'],
    ])
      expect((await gpodder(service.http.post(`/api/2/devices/forgetter/${device}.json`)).send({ caption, type: 'mobile' })).status).to.equal(200);
    await gpodder(service.http.post('/api/2/sync-devices/forgetter.json'))
      .send({ synchronize: [['old-phone', 'laptop']], 'stop-synchronize': [] })
      .expect(200);
    await gpodder(service.http.post('/api/2/settings/forgetter/device.json?device=old-phone'))
      .send({ set: { auto_download: true }, remove: [] })
      .expect(200);

    const web = new WebClient(service.app);
    const signin = await web.get('/signin');
    expect(signin.status).to.equal(200);
    await web.submit('/signin', '/signin', { username: 'forgetter', password: PASSWORD });
    const home = await web.get('/');
    expect(home.text).to.include('aria-label="Forget Old phone"').and.include('aria-label="Forget Laptop"');

    const asked = await web.submit('/', '/devices/forget', { device: 'old-phone' });
    expect(asked.status).to.equal(200);
    expect(asked.text).to.include('Forget this device?').and.include('old-phone is taken off your account');
    const listed = async () => ((await gpodder(service.http.get('/api/2/devices/forgetter.json'))).body as { id: string }[]).map((device) => device.id).sort();
    expect(await listed(), 'asking forgets nothing').to.deep.equal(['laptop', 'old-phone']);

    const forgotten = await web.submit('/', '/devices/forget', { device: 'old-phone', confirm: 'yes' });
    expect(forgotten.status).to.equal(303);
    expect(forgotten.headers['location']).to.equal('/?done=forgotten#devices');
    expect((await web.get('/?done=forgotten')).text)
      .to.include('Device forgotten.')
      .and.not.include('Forget Old phone');
    expect(await listed()).to.deep.equal(['laptop']);
    expect((await gpodder(service.http.get('/api/2/sync-devices/forgetter.json'))).body).to.deep.equal({ synchronized: [], 'not-synchronized': ['laptop'] });
    expect((await gpodder(service.http.get('/api/2/settings/forgetter/device.json?device=old-phone'))).body).to.deep.equal({});

    expect((await web.submit('/', '/devices/forget', { device: 'old-phone', confirm: 'yes' })).status, 'already gone').to.equal(404);
    expect((await web.submit('/', '/devices/forget', { device: '', confirm: 'yes' })).status, 'no device named').to.equal(400);

    await gpodder(service.http.post('/api/2/subscriptions/forgetter/old-phone.json'))
      .send({ add: ['https://example.com/back.xml'], remove: [] })
      .expect(200);
    expect(await listed(), 'used again').to.deep.equal(['laptop', 'old-phone']);
  });

  it(`frees a place among the account's ${USER_LIMITS.devices} devices`, async () => {
    const user = await gpodderUser(service, 'many-devices');
    const gpodder = <T extends { set: (name: string, value: string) => T }>(request: T) => request.set('Authorization', user.basic);
    for (let n = 0; n < USER_LIMITS.devices; n++)
      await gpodder(service.http.post(`/api/2/devices/many-devices/d${n}.json`))
        .send({})
        .expect(200);
    expect((await gpodder(service.http.post('/api/2/devices/many-devices/new-phone.json')).send({})).status, 'one too many').to.equal(400);

    const web = new WebClient(service.app);
    await web.submit('/signin', '/signin', { username: 'many-devices', password: PASSWORD });
    expect((await web.submit('/', '/devices/forget', { device: 'd0', confirm: 'yes' })).status).to.equal(303);
    expect((await gpodder(service.http.post('/api/2/devices/many-devices/new-phone.json')).send({})).status).to.equal(200);
  });
});
