/**
 * gpodder API authentication quirks: Basic with a realm challenge, the `sessionid` cookie,
 * login/logout, `{u}` matching the authenticated user.
 */
import { expect } from 'chai';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import { MAX_SESSIONS, MAX_SESSIONS_PER_APP } from '../../../src/services/gpodder-auth.js';
import type { GpodderTestUser } from './support.js';
import { basicHeader, gpodderUser, PASSWORD, sessionCookie } from './support.js';

/** Every authenticated gpodder endpoint, with `{u}` in its path. */
const ENDPOINTS: { method: 'get' | 'post' | 'put'; path: (u: string) => string; body?: unknown }[] = [
  { method: 'post', path: (u) => `/api/2/auth/${u}/login.json` },
  { method: 'get', path: (u) => `/api/2/devices/${u}.json` },
  { method: 'post', path: (u) => `/api/2/devices/${u}/phone.json`, body: {} },
  { method: 'get', path: (u) => `/api/2/subscriptions/${u}/phone.json` },
  { method: 'post', path: (u) => `/api/2/subscriptions/${u}/phone.json`, body: { add: [], remove: [] } },
  { method: 'get', path: (u) => `/api/2/episodes/${u}.json` },
  { method: 'post', path: (u) => `/api/2/episodes/${u}.json`, body: [] },
  { method: 'get', path: (u) => `/subscriptions/${u}.opml` },
  { method: 'get', path: (u) => `/subscriptions/${u}/phone.txt` },
  { method: 'put', path: (u) => `/subscriptions/${u}/phone.json`, body: '[]' },
  { method: 'get', path: (u) => `/api/2/sync-devices/${u}.json` },
  { method: 'post', path: (u) => `/api/2/sync-devices/${u}.json`, body: {} },
  { method: 'get', path: (u) => `/api/2/settings/${u}/account.json` },
  { method: 'post', path: (u) => `/api/2/settings/${u}/account.json`, body: {} },
  { method: 'get', path: (u) => `/api/2/favorites/${u}.json` },
  { method: 'get', path: (u) => `/api/2/updates/${u}/phone.json` },
];

describe('gpodder API: authentication', function () {
  let service: TestService;
  let alice: GpodderTestUser;
  let bob: GpodderTestUser;

  before(async () => {
    service = await startTestService();
    alice = await gpodderUser(service);
    bob = await gpodderUser(service);
  });
  after(async () => {
    await service.stop();
  });

  it('answers 401 with a Basic realm challenge on every endpoint without credentials', async () => {
    for (const endpoint of ENDPOINTS) {
      const response = await service.http[endpoint.method](endpoint.path(alice.username));
      expect(response.status, endpoint.path('u')).to.equal(401);
      expect(response.headers['www-authenticate'], endpoint.path('u')).to.match(/^Basic realm="[^"]+"/);
      expect(response.body).to.include({ error: 'unauthorized' });
    }
  });

  it('answers a wrong password and an unknown user alike: 401 with the challenge', async () => {
    const wrong = await service.http.get(`/api/2/devices/${alice.username}.json`).set('Authorization', basicHeader(alice.username, 'not the password'));
    const unknown = await service.http.get('/api/2/devices/nobody.json').set('Authorization', basicHeader('nobody', PASSWORD));
    const garbled = await service.http.get(`/api/2/devices/${alice.username}.json`).set('Authorization', 'Basic %%%');
    for (const response of [wrong, unknown, garbled]) {
      expect(response.status).to.equal(401);
      expect(response.headers['www-authenticate']).to.match(/^Basic realm=/);
    }
    expect(wrong.body.message).to.equal(unknown.body.message);
  });

  it('login sets a sessionid cookie that authenticates later calls alone; logout ends it', async () => {
    const login = await service.http.post(`/api/2/auth/${alice.username}/login.json`).set('Authorization', alice.basic);
    expect(login.status).to.equal(200);
    expect(login.text).to.equal('');
    const cookie = sessionCookie(login);
    expect(cookie).to.match(/^sessionid=[A-Za-z0-9_-]{20,}$/);
    const setCookie = (login.headers['set-cookie'] as unknown as string[])[0]!;
    expect(setCookie)
      .to.match(/Path=\//)
      .and.to.match(/HttpOnly/);
    const devices = await service.http.get(`/api/2/devices/${alice.username}.json`).set('Cookie', cookie!);
    expect(devices.status).to.equal(200);
    expect(sessionCookie(devices), 'no new session for a cookie').to.equal(undefined);
    const logout = await service.http.post(`/api/2/auth/${alice.username}/logout.json`).set('Cookie', cookie!);
    expect(logout.status).to.equal(200);
    expect((logout.headers['set-cookie'] as unknown as string[]).join()).to.match(/sessionid=;.*Max-Age=0/);
    const after = await service.http.get(`/api/2/devices/${alice.username}.json`).set('Cookie', cookie!);
    expect(after.status).to.equal(401);
    expect(after.headers['www-authenticate']).to.match(/^Basic realm=/);
  });

  it('any successful Basic request sets the cookie, not only login; one that already has it gets no new one', async () => {
    const first = await service.http.get(`/api/2/episodes/${alice.username}.json`).set('Authorization', alice.basic);
    expect(first.status).to.equal(200);
    const cookie = sessionCookie(first)!;
    expect(cookie).to.be.a('string');
    const again = await service.http.get(`/api/2/episodes/${alice.username}.json`).set('Authorization', alice.basic).set('Cookie', cookie);
    expect(again.status).to.equal(200);
    expect(sessionCookie(again)).to.equal(undefined);
  });

  it('sessions are revocable tokens of the account, named after the app; at most a bounded number per app and per user', async () => {
    const carol = await gpodderUser(service);
    const login = (app: string) => service.http.post(`/api/2/auth/${carol.username}/login.json`).set('Authorization', carol.basic).set('User-Agent', app);
    const sessions = async () => {
      const tokens = await service.http.get('/v1/auth/tokens').set('Authorization', `Bearer ${carol.token}`);
      return (tokens.body.tokens as { label: string | null }[]).map((token) => token.label).filter((label) => label?.startsWith('gpodder session'));
    };
    // gPodder's long-lived session, then an app that logs in before every request (PinePods does).
    const gpodder = await login('gPodder/3.11.5 (+http://gpodder.org/) Linux');
    const cookie = sessionCookie(gpodder);
    for (let i = 0; i < MAX_SESSIONS + 3; i++) expect((await login('PinePods/0.8.2')).status).to.equal(200);
    expect(await sessions()).to.have.members([
      'gpodder session (gPodder/3.11.5 (+http://gpodder.org/) Linux)',
      ...Array.from({ length: MAX_SESSIONS_PER_APP }, () => 'gpodder session (PinePods/0.8.2)'),
    ]);
    expect((await service.http.get(`/api/2/devices/${carol.username}.json`).set('Cookie', cookie!)).status, "gPodder's session lives on").to.equal(200);
    // Many apps: the user's newest sessions, at most MAX_SESSIONS of them.
    for (let i = 0; i < MAX_SESSIONS; i++) await login(`App${i}/1.0`);
    const all = await sessions();
    expect(all).to.have.length(MAX_SESSIONS);
    expect(all).to.include('gpodder session (App19/1.0)').and.not.include('gpodder session (PinePods/0.8.2)');
  });

  it('a disabled account is refused at once, even right after a successful login', async () => {
    const dave = await gpodderUser(service);
    expect((await service.http.get(`/api/2/devices/${dave.username}.json`).set('Authorization', dave.basic)).status).to.equal(200);
    const account = await service.stores.accounts.findByUsername(dave.username);
    await service.stores.accounts.setDisabled(account!.id, true);
    expect((await service.http.get(`/api/2/devices/${dave.username}.json`).set('Authorization', dave.basic)).status).to.equal(401);
  });

  it('accepts a native bearer token too', async () => {
    const response = await service.http.get(`/api/2/devices/${alice.username}.json`).set('Authorization', `Bearer ${alice.token}`);
    expect(response.status).to.equal(200);
  });

  it('takes a password outside ASCII as UTF-8 (Qt, AntennaPod) or ISO-8859-1 (aiohttp and requests, so Music Assistant)', async () => {
    const password = 'Grüße, Jürgen: ½ Café';
    const { username } = await service.login('umlaut', password);
    for (const charset of ['utf8', 'latin1'] as const) {
      const header = `Basic ${Buffer.from(`${username}:${password}`, charset).toString('base64')}`;
      expect((await service.http.post(`/api/2/auth/${username}/login.json`).set('Authorization', header)).status, charset).to.equal(200);
    }
    const wrong = `Basic ${Buffer.from(`${username}:${password.replace('ü', 'u')}`, 'latin1').toString('base64')}`;
    expect((await service.http.post(`/api/2/auth/${username}/login.json`).set('Authorization', wrong)).status).to.equal(401);
  });

  it('refuses another user’s {u} on every endpoint, by Basic and by cookie', async () => {
    const login = await service.http.post(`/api/2/auth/${alice.username}/login.json`).set('Authorization', alice.basic);
    const cookie = sessionCookie(login)!;
    for (const endpoint of ENDPOINTS) {
      for (const [name, header, value] of [
        ['basic', 'Authorization', alice.basic],
        ['cookie', 'Cookie', cookie],
      ] as const) {
        const request = service.http[endpoint.method](endpoint.path(bob.username)).set(header, value);
        const response = endpoint.body === undefined ? await request : await request.send(endpoint.body as object);
        expect(response.status, `${name} ${endpoint.method} ${endpoint.path('bob')}`).to.equal(401);
      }
    }
    expect(await service.eventCount()).to.equal(0);
  });

  it('matches {u} regardless of letter case, as usernames are unique that way', async () => {
    const response = await service.http.get(`/api/2/devices/${alice.username.toUpperCase()}.json`).set('Authorization', alice.basic);
    expect(response.status).to.equal(200);
  });
});
