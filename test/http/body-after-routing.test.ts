/**
 * Bodies are read after routing and authentication (issue 16, item 7): an unknown route is a
 * 404 and an unauthenticated write a 401 whatever their body, which is never parsed for them.
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';

describe('bodies are parsed after routing and authentication', function () {
  let service: TestService;
  before(async () => {
    service = await startTestService();
  });
  after(() => service.stop());

  it('an unknown route is a 404, not a 400 about its body', async () => {
    const response = await service.http.post('/no/such/route').set('Content-Type', 'application/json').send('{"not json');
    expect(response.status).to.equal(404);
  });

  it('an unauthenticated write is a 401, not a 400 or 413 about its body', async () => {
    expect((await service.http.post('/v1/events').set('Content-Type', 'application/json').send('{"not json')).status).to.equal(401);
    const large = JSON.stringify({ events: [], padding: 'x'.repeat(2 * 1024 * 1024) });
    expect((await service.http.post('/v1/events').set('Content-Type', 'application/json').send(large)).status).to.equal(401);
  });

  it('an authenticated write still gets its body parsed and checked', async () => {
    const { token } = await service.login();
    const malformed = await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send('{"not json');
    expect(malformed.status).to.equal(400);
    expect(malformed.body.error).to.equal('malformed_json');
  });
});
