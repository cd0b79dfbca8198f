import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { WebClient, csrfIn, sendEvents } from './web-client.js';

const FEED = 'https://feeds.example.com/show.xml';

describe('web pages', function () {
  this.timeout(20_000);
  let service: TestService;
  before(async () => {
    service = await startTestService({ DEFAULT_PRIVACY: 'private' });
  });
  after(async () => service.stop());

  it('sign-up opens a session in an HttpOnly, SameSite=Lax cookie; sign-out revokes it', async () => {
    const web = new WebClient(service.app);
    const signedUp = await web.signUp('webuser1');
    const cookie = (signedUp.headers['set-cookie'] as unknown as string[]).find((line) => line.startsWith('podsync_session='))!;
    expect(cookie).to.include('HttpOnly').and.include('SameSite=Lax').and.not.include('Secure');
    const home = await web.get('/');
    expect(home.status).to.equal(200);
    expect(home.text).to.include('Signed in as <strong>webuser1</strong>');
    expect(home.headers['content-security-policy']).to.include("frame-ancestors 'none'").and.not.include('unsafe-inline');
    const secret = /podsync_session=([^;]+)/.exec(cookie)![1]!;
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${secret}`)).status).to.equal(200);
    expect((await web.submit('/', '/signout', {})).status).to.equal(303);
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${secret}`)).status, 'revoked').to.equal(401);
    expect((await web.get('/')).headers['location']).to.equal('/signin?next=%2F');
  });

  it('an address nothing answers is a page for a browser and JSON for everything else', async () => {
    const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
    const page = await service.http.get('/no/such/page').set('Accept', BROWSER);
    expect(page.status).to.equal(404);
    expect(page.type).to.equal('text/html');
    expect(page.text).to.include('There is no page at this address.');
    expect(page.headers['content-security-policy'], "with the pages' headers").to.include("frame-ancestors 'none'");
    for (const accept of ['*/*', 'application/json', 'application/json, text/html']) {
      const api = await service.http.get('/no/such/page').set('Accept', accept);
      expect(api.status, accept).to.equal(404);
      expect(api.body.error, accept).to.equal('not_found');
    }
    for (const [method, path] of [
      ['post', '/no/such/page'],
      ['get', '/v1/no-such-thing'],
    ] as const) {
      const api = await service.http[method](path).set('Accept', BROWSER);
      expect(api.status, `${method} ${path}`).to.equal(404);
      expect(api.body.error, `${method} ${path}`).to.equal('not_found');
    }
  });

  it('a signed-out visit to a page with a hostile address is sent to sign in with a Location header clients accept', async () => {
    const web = new WebClient(service.app);
    expect((await web.get('/?since=1')).headers['location']).to.equal('/signin?next=%2F%3Fsince%3D1');
    // 1,000 emoji in the query: a 12 KB address, which as a `next` would take 18 KB, past the
    // 16 KiB Node's HTTP parser accepts in a response's headers.
    const hostile = await web.get(`/?since=${'😀'.repeat(1_000)}`);
    expect(hostile.status).to.equal(303);
    expect(hostile.headers['location']).to.equal('/signin?next=%2F');
  });

  it('the session cookie is Secure behind TLS (X-Forwarded-Proto with TRUST_PROXY)', async () => {
    const tls = await startTestService({ TRUST_PROXY: 'true' });
    try {
      const web = new WebClient(tls.app);
      const page = await web.get('/signup').set('X-Forwarded-Proto', 'https');
      expect((page.headers['set-cookie'] as unknown as string[])[0]).to.include('; Secure');
      // The client's cookie jar keeps Secure cookies for https: handed over by hand.
      const preSession = (page.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
      const answer = await tls.http
        .post('/signup')
        .set('X-Forwarded-Proto', 'https')
        .set('Cookie', preSession)
        .type('form')
        .send({ username: 'tlsuser', password: 'correct horse battery', _csrf: csrfIn(page.text)! });
      expect(answer.status).to.equal(303);
      expect((answer.headers['set-cookie'] as unknown as string[]).find((line) => line.startsWith('podsync_session='))).to.include('; Secure');
    } finally {
      await tls.stop();
    }
  });

  it("refuses every form without its CSRF token, or with another visitor's, and writes nothing", async () => {
    const web = new WebClient(service.app);
    await web.signUp('webuser2');
    const before = await service.eventCount();
    const other = new WebClient(service.app);
    const othersToken = csrfIn((await other.get('/signin')).text)!;
    for (const [path, fields] of [
      ['/privacy', { privacy: 'public' }],
      ['/data/erase', { scope: 'all', confirm: 'yes' }],
      ['/access/app-passwords', { name: 'sneaky' }],
      ['/signout', {}],
    ] as const) {
      expect((await web.agent.post(path).type('form').send(fields)).status, `${path} without a token`).to.equal(403);
      expect(
        (
          await web.agent
            .post(path)
            .type('form')
            .send({ ...fields, _csrf: othersToken })
        ).status,
        `${path} with another's token`,
      ).to.equal(403);
    }
    expect((await web.agent.post('/signin').type('form').send({ username: 'webuser2', password: 'correct horse battery' })).status).to.equal(403);
    expect(await service.eventCount()).to.equal(before);
    expect((await web.get('/access')).text).not.to.include('sneaky');
  });

  it('sign-in: wrong passwords are one answer, attempts are rate-limited like the API, a next path stays on this site', async () => {
    // 60 a minute: a password check costs 10, as at /v1/auth/token.
    const limited = await startTestService({ RATE_LIMIT_PER_MINUTE: '60' });
    try {
      await limited.http.post('/v1/auth/register').send({ username: 'limited', password: 'correct horse battery' });
      const web = new WebClient(limited.app);
      const token = csrfIn((await web.get('/signin')).text)!;
      const attempt = () => web.agent.post('/signin').type('form').send({ username: 'limited', password: 'not the password', _csrf: token });
      const wrong = await attempt();
      expect(wrong.status).to.equal(401);
      expect(wrong.text).to.include('Wrong username or password');
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await attempt()).status);
      expect(statuses.slice(0, 3)).to.deep.equal([401, 401, 401]);
      expect(statuses.at(-1)).to.equal(429);
      const limitedPage = await attempt();
      expect(limitedPage.headers['retry-after']).to.match(/^\d+$/);
      expect(limitedPage.text).to.include('Too many attempts');
    } finally {
      await limited.stop();
    }
    const web = new WebClient(service.app);
    await web.signUp('webuser3');
    await web.submit('/', '/signout', {});
    const away = await web.submit('/signin', '/signin', { username: 'webuser3', password: 'correct horse battery', next: '//evil.example.com/' });
    expect(away.headers['location']).to.equal('/');
  });

  it('password change needs the current password; the new one signs in', async () => {
    const web = new WebClient(service.app);
    await web.signUp('webuser4');
    expect((await web.submit('/account', '/account/password', { current: 'wrong one!', password: 'a brand new password' })).status).to.equal(401);
    expect((await web.submit('/account', '/account/password', { current: 'correct horse battery', password: 'short' })).status).to.equal(400);
    expect(
      (await web.submit('/account', '/account/password', { current: 'correct horse battery', password: 'a brand new password' })).headers['location'],
    ).to.equal('/account?done=password');
    expect((await service.http.post('/v1/auth/token').send({ username: 'webuser4', password: 'a brand new password' })).status).to.equal(200);
    expect((await service.http.post('/v1/auth/token').send({ username: 'webuser4', password: 'correct horse battery' })).status).to.equal(401);
  });

  it('a password change ends the sessions opened with the old password, and keeps what the user created', async () => {
    const username = 'webuser4b';
    const oldPassword = 'correct horse battery';
    const web = new WebClient(service.app);
    await web.signUp(username);
    const otherBrowser = new WebClient(service.app);
    expect((await otherBrowser.submit('/signin', '/signin', { username, password: oldPassword })).status).to.equal(303);
    const basic = (password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const gpodderCookie = async (password: string) => {
      const login = await service.http.post(`/api/2/auth/${username}/login.json`).set('Authorization', basic(password)).expect(200);
      return String(login.headers['set-cookie']![0]!.split(';')[0]);
    };
    const created = await web.submit('/access', '/access/app-passwords', { name: 'phone' });
    const appPassword = /id="new-secret">([^<]+)</.exec(created.text)![1]!;
    const withPassword = await gpodderCookie(oldPassword);
    const withAppPassword = await gpodderCookie(appPassword);
    const { token } = (await service.http.post('/v1/auth/token').send({ username, password: oldPassword }).expect(200)).body as { token: string };
    const devices = (cookie: string) => service.http.get(`/api/2/devices/${username}.json`).set('Cookie', cookie);
    expect((await devices(withPassword)).status).to.equal(200);

    const changed = await web.submit('/account', '/account/password', { current: oldPassword, password: 'a brand new password' });
    expect(changed.headers['location']).to.equal('/account?done=password');
    expect((await web.get('/account')).status, 'the session that changed it stays').to.equal(200);
    expect((await otherBrowser.get('/account')).status, 'another browser is signed out').to.equal(303);
    expect((await devices(withPassword)).status, 'a gpodder session opened with the old password ends').to.equal(401);
    expect((await devices(withAppPassword)).status, 'a session opened with an app password stays').to.equal(200);
    expect((await service.http.get(`/api/2/devices/${username}.json`).set('Authorization', basic(appPassword))).status, 'the app password stays').to.equal(200);
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${token}`)).status, 'an API token stays').to.equal(200);
  });

  it('registration closed: no sign-up page, no sign-up', async () => {
    const closed = await startTestService({ REGISTRATION: 'closed' });
    try {
      const web = new WebClient(closed.app);
      expect((await web.get('/signup')).status).to.equal(403);
      expect((await web.submit('/signin', '/signup', { username: 'nobody', password: 'correct horse battery' })).status).to.equal(403);
    } finally {
      await closed.stop();
    }
  });

  it('bad input is a 4xx page that writes nothing', async () => {
    const web = new WebClient(service.app);
    await web.signUp('webuser5');
    const before = await service.eventCount();
    expect((await web.submit('/privacy', '/privacy', { privacy: 'everyone' })).status).to.equal(400);
    expect((await web.submit('/privacy', '/privacy', { privacy: 'public', feed: 'javascript:alert(1)' })).status).to.equal(400);
    expect((await web.submit('/data', '/data/erase', { feed: 'not a url', confirm: 'yes' })).status).to.equal(400);
    expect((await web.submit('/access', '/access/app-passwords', { name: '' })).status).to.equal(400);
    expect((await web.submit('/access', '/access/tokens/not-an-id/revoke', {})).status).to.equal(404);
    expect((await web.submit('/signup', '/signup', { username: '../x', password: 'correct horse battery' })).status).to.equal(400);
    const huge = await web.submit('/access', '/access/app-passwords', { name: 'x'.repeat(20_000) });
    expect(huge.status).to.equal(413);
    expect((await web.get('/explore/users/' + 'u'.repeat(100))).status).to.equal(400);
    expect(await service.eventCount()).to.equal(before);
  });

  it('shows the synced subscription and play position, with the URL where no title is known', async () => {
    const web = new WebClient(service.app);
    await web.signUp('webuser6');
    const now = new Date().toISOString();
    await sendEvents(service, 'webuser6', [
      { type: 'subscribe', timestamp: now, object: { rss_source_feed: FEED }, data: {} },
      {
        type: 'play',
        timestamp: now,
        object: { rss_source_feed: FEED, rss_source_id: 'ep-1' },
        data: { played: false, position: 600, rss_item_title: 'Episode <One>', enclosure: { duration: 1800 } },
      },
    ]);
    const home = await web.get('/');
    expect(home.text).to.include(FEED);
    expect(home.text).to.include('Episode &lt;One&gt;');
    expect(home.text).to.include('<progress max="1800" value="600"');
    expect(home.text).to.include('10:00 of 30:00');

    // An episode erased from the home page's button, after the confirmation page.
    const confirm = await web.submit('/', '/data/erase', { feed: FEED, guid: 'ep-1' });
    expect(confirm.status).to.equal(200);
    expect(confirm.text).to.include('Erase for good?').and.include('episode ep-1 of');
    const csrf = csrfIn(confirm.text)!;
    expect((await web.agent.post('/data/erase').type('form').send({ feed: FEED, guid: 'ep-1', confirm: 'yes', _csrf: csrf })).headers['location']).to.equal(
      '/data?done=erased',
    );
    const after = await web.get('/');
    expect(after.text).not.to.include('Episode &lt;One&gt;');
    expect(after.text, 'the subscription stays').to.include(FEED);
  });

  it("a podcast's own privacy is set, then taken back so that it follows the account's again", async () => {
    const web = new WebClient(service.app);
    await web.signUp('webuser9');
    await sendEvents(service, 'webuser9', [{ type: 'subscribe', timestamp: new Date().toISOString(), object: { rss_source_feed: FEED }, data: {} }]);
    const ownSetting = async () => (await web.get('/privacy')).text.includes('(own setting)');
    expect(await ownSetting()).to.equal(false);
    expect((await web.get('/privacy')).text).to.match(/<option value="account" selected>As account \(Private\)<\/option>/);
    expect((await web.submit('/privacy', '/privacy', { privacy: 'public', feed: FEED })).status).to.equal(303);
    expect(await ownSetting()).to.equal(true);
    expect((await web.get('/privacy')).text).to.include('<option value="public" selected>');
    expect((await web.submit('/privacy', '/privacy', { privacy: 'account', feed: FEED })).status).to.equal(303);
    expect(await ownSetting()).to.equal(false);
    const before = await service.eventCount();
    expect((await web.submit('/privacy', '/privacy', { privacy: 'account' })).status, 'the account has no account to follow').to.equal(400);
    expect(await service.eventCount()).to.equal(before);
  });

  it('public pages show public users by name, anonymous ones without one, private ones not at all', async () => {
    const now = new Date().toISOString();
    const users = { pub: await service.login('pub-web'), anon: await service.login('anon-web'), priv: await service.login('priv-web') };
    const feeds = { pub: 'https://pub.example.com/feed', anon: 'https://anon.example.com/feed', priv: 'https://priv.example.com/feed' };
    for (const [who, level] of [
      ['pub', 'public'],
      ['anon', 'anonymous'],
      ['priv', 'private'],
    ] as const) {
      await service.http
        .post('/v1/events')
        .set('Authorization', `Bearer ${users[who].token}`)
        .send({
          events: [
            { type: 'privacy', timestamp: now, object: null, data: { privacy: level } },
            { type: 'subscribe', timestamp: now, object: { rss_source_feed: feeds[who] }, data: {} },
          ],
        })
        .expect(201);
    }
    await service.settle();
    const plays = [1, 2].map((n) => ({
      type: 'play',
      timestamp: now,
      object: { rss_source_feed: feeds.pub, rss_source_id: `ep-${n}` },
      data: { played: true, position: 60, rss_item_title: `Episode ${n}` },
    }));
    const save = { type: 'save', timestamp: now, object: { rss_source_feed: feeds.pub, rss_source_id: 'ep-1' }, data: {} };
    await service.http
      .post('/v1/events')
      .set('Authorization', `Bearer ${users.pub.token}`)
      .send({ events: [...plays, save] })
      .expect(201);
    await service.settle();
    const explore = (await new WebClient(service.app).get('/explore')).text;
    expect(explore).to.include(feeds.pub).and.include('href="/explore/users/pub-web"').and.include(feeds.anon);
    const played = '· played lately by <a href="/explore/users/pub-web">pub-web</a></span>';
    const page = `/podcast?feed=${encodeURIComponent(feeds.pub)}`;
    expect(explore, "the podcast: counts in words, its listeners named, a link to the podcast's page").to.include(
      `<a class="title" href="${page}">${feeds.pub}</a><span class="meta">2 plays · 1 like ${played}`,
    );
    expect(explore, 'an episode').to.include(
      `<a class="title" href="${page}">Episode 1</a><span class="url">${feeds.pub}</span><span class="meta">1 play · 1 like ${played}`,
    );
    expect(explore).not.to.include('anon-web');
    expect(explore).not.to.include(feeds.priv);
    expect(explore).not.to.include('priv-web');
    expect((await service.http.get('/explore/users/pub-web')).text).to.include(feeds.pub);
    const empty = (name: string) => service.http.get(`/explore/users/${name}`).then((answer) => answer.text.replaceAll(name, 'NAME'));
    const nobody = await empty('nobody-at-all');
    expect(await empty('anon-web'), 'an anonymous user looks like no user').to.equal(nobody);
    expect(await empty('priv-web'), 'a private user looks like no user').to.equal(nobody);
  });

  it('the Access page lists signed-in browsers, this one marked; revoking one signs that browser out', async () => {
    const web = new WebClient(service.app);
    await web.signUp('webuser7b');
    const laptop = new WebClient(service.app);
    expect((await laptop.submit('/signin', '/signin', { username: 'webuser7b', password: 'correct horse battery' })).status).to.equal(303);
    const rows = [
      ...(await web.get('/access')).text.matchAll(/<tr><td>Web session( <strong>\(this browser\)<\/strong>)?<\/td>[\s\S]*?tokens\/([0-9a-f-]+)\/revoke/g),
    ];
    expect(rows.map((row) => row[1] !== undefined)).to.have.members([true, false]);
    const other = rows.find((row) => row[1] === undefined)![2]!;
    expect((await web.submit('/access', `/access/tokens/${other}/revoke`, {})).status).to.equal(303);
    expect((await laptop.get('/access')).status, 'the laptop is signed out').to.equal(303);
    expect((await web.get('/access')).status).to.equal(200);
  });

  it('a device\'s last sync reads "not since" the oldest event retention kept once it has taken the device\'s events, not "never"', async () => {
    const web = new WebClient(service.app);
    await web.signUp('webuser-devices');
    const basic = `Basic ${Buffer.from('webuser-devices:correct horse battery').toString('base64')}`;
    await service.http.post('/api/2/devices/webuser-devices/phone.json').set('Authorization', basic).send({ caption: 'My phone', type: 'mobile' }).expect(200);
    await service.http
      .post('/api/2/subscriptions/webuser-devices/phone.json')
      .set('Authorization', basic)
      .send({ add: [FEED], remove: [] })
      .expect(200);
    const row = async () => /My phone[\s\S]*?<\/tr>/.exec((await web.get('/')).text)![0];
    expect(await row()).to.match(/\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    await service.settle();
    await service.retention.run(new Date(Date.now() + 60 * 86_400_000));
    expect(await row()).to.match(/not since \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  });

  it('API tokens show their last use', async () => {
    const web = new WebClient(service.app);
    await web.signUp('webuser7');
    const created = await web.submit('/access', '/access/tokens', { label: 'backup script' });
    const secret = /id="new-secret">([^<]+)</.exec(created.text)![1]!;
    expect((await web.get('/access')).text).not.to.include(secret);
    await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${secret}`).expect(200);
    const row = /backup script[\s\S]*?<\/tr>/.exec((await web.get('/access')).text)![0];
    expect(row).not.to.include('never');
    // Recorded to the hour: shown as the hour it fell in, never as a time before the token's creation.
    const shown = /, (\d\d):00–(\d\d):00 UTC<\/td>/.exec(row);
    expect(shown, row).not.to.equal(null);
    expect(Number(shown![2])).to.equal(Number(shown![1]) + 1);
    expect(Math.abs(Number(shown![1]) - new Date().getUTCHours()) % 23, 'this hour (or the one before, at its turn)').to.be.at.most(1);
  });

  it("another user's data is never on a user's pages, nor revocable by them", async () => {
    const alice = new WebClient(service.app);
    const bob = new WebClient(service.app);
    await alice.signUp('alice-web');
    await bob.signUp('bob-web');
    const created = await alice.submit('/access', '/access/app-passwords', { name: 'alice phone' });
    // What to enter in the app besides the password: this server as the request reached it, and the username.
    expect(/<dd id="setup-server">(http:\/\/127\.0\.0\.1:\d+)<\/dd>/.test(created.text), 'the server').to.equal(true);
    expect(created.text).to.include('<dd id="setup-username">alice-web</dd>');
    const token = await alice.submit('/access', '/access/tokens', { label: 'a script' });
    expect(token.text, 'a token needs no app setup').not.to.include('setup-server');
    const id = /action="\/access\/app-passwords\/([0-9a-f-]+)\/revoke"/.exec(created.text)![1]!;
    expect((await bob.get('/access')).text).not.to.include('alice phone');
    expect((await bob.submit('/access', `/access/app-passwords/${id}/revoke`, {})).status).to.equal(404);
    expect((await alice.get('/access')).text).to.include('alice phone');
    const bobTokens = (await bob.get('/access')).text;
    const aliceSession = /action="\/access\/tokens\/([0-9a-f-]+)\/revoke"/.exec((await alice.get('/access')).text)![1]!;
    expect(bobTokens).not.to.include(aliceSession);
    expect((await bob.submit('/access', `/access/tokens/${aliceSession}/revoke`, {})).status).to.equal(404);
    expect((await alice.get('/')).status, 'alice still signed in').to.equal(200);
  });
});
