/** Per-user bounds on gpodder devices and settings (issue 16, item 7): 400 naming the field, nothing written. */
import { expect } from 'chai';
import { USER_LIMITS } from '../../../src/services/gpodder.js';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import type { GpodderTestUser } from './support.js';
import { gpodderUser } from './support.js';

describe('gpodder API: per-user limits', function () {
  this.timeout(60_000);
  let service: TestService;
  let user: GpodderTestUser;
  before(async () => {
    service = await startTestService();
  });
  after(() => service.stop());
  beforeEach(async () => {
    user = await gpodderUser(service);
  });

  it(`at most ${USER_LIMITS.devices} devices per account`, async () => {
    const update = (device: string) =>
      service.http
        .post(`/api/2/devices/${user.username}/${device}.json`)
        .set('Authorization', user.basic)
        .send({ caption: 'c'.repeat(1000) });
    for (let n = 0; n < USER_LIMITS.devices; n++) expect((await update(`device-${n}`)).status, `device ${n}`).to.equal(200);
    const before = await service.eventCount();
    const refused = await update('one-too-many');
    expect(refused.status).to.equal(400);
    expect(JSON.stringify(refused.body)).to.contain('device');
    expect(refused.body.message, 'says how to make room').to.include('forget one no longer used');
    expect(await service.eventCount()).to.equal(before);
    // Changing a device that exists is still fine.
    expect((await update('device-0')).status).to.equal(200);
    // Devices named in an upload count too.
    const upload = await service.http
      .post(`/api/2/episodes/${user.username}.json`)
      .set('Authorization', user.basic)
      .send([{ podcast: 'https://a.example.com/f.xml', episode: 'https://a.example.com/e.mp3', action: 'download', device: 'another-new-one' }]);
    expect(upload.status).to.equal(400);
  });

  it(`settings: at most ${USER_LIMITS.settingsBytes} bytes of JSON per account, across scopes`, async () => {
    const set = (device: string, values: Record<string, unknown>) =>
      service.http.post(`/api/2/settings/${user.username}/device.json`).query({ device }).set('Authorization', user.basic).send({ set: values });
    const chunk = 'x'.repeat(15_000);
    let accepted = 0;
    for (let n = 0; n < 40; n++) {
      const response = await set(`d${n % 3}`, { [`k${n}`]: chunk });
      if (response.status !== 200) {
        expect(response.status).to.equal(400);
        expect(JSON.stringify(response.body)).to.contain('set');
        break;
      }
      accepted++;
    }
    expect(accepted * chunk.length).to.be.at.most(USER_LIMITS.settingsBytes);
    expect(accepted).to.be.at.least(Math.floor(USER_LIMITS.settingsBytes / chunk.length) - 1);
  });
});
