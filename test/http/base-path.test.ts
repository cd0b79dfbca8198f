/**
 * Serving under a path (BASE_PATH; docs/operations.md, "Under a path"): every surface answers
 * under it and nothing outside it, and whatever the service hands a browser or an app to follow —
 * links, forms, redirects, cookies, Login Flow's addresses, the server an app keeps — stays under it.
 */
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { WebClient, csrfIn, sendEvents } from '../web/web-client.js';

const BASE = '/podsync';
const FEED = 'https://feeds.example.com/under-a-path.xml';
const ADMIN_TOKEN = 'an admin token of some length';
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

describe('served under a path (BASE_PATH)', function () {
  this.timeout(30_000);
  let service: TestService;
  before(async () => {
    service = await startTestService({ BASE_PATH: `${BASE}/`, ADMIN_TOKEN, DEFAULT_PRIVACY: 'public' });
  });
  after(async () => service.stop());

  it('takes a path such as /podsync, with or without its last slash; "/" is the root; anything else is refused, naming BASE_PATH', () => {
    expect(loadConfig({}).BASE_PATH).to.equal('');
    expect(loadConfig({ BASE_PATH: '/' }).BASE_PATH).to.equal('');
    expect(loadConfig({ BASE_PATH: '/podsync/' }).BASE_PATH).to.equal('/podsync');
    expect(loadConfig({ BASE_PATH: '/apps/pod-sync_2' }).BASE_PATH).to.equal('/apps/pod-sync_2');
    for (const bad of ['podsync', '/pod sync', '/a/../b', '/./a', '//a', '/a//b', '/a?b', '/caf%C3%A9', 'https://example.org/podsync']) {
      expect(() => loadConfig({ BASE_PATH: bad }), bad).to.throw(/BASE_PATH/);
    }
  });

  it('answers every API under the path, and nothing outside it', async () => {
    const { token, username } = await service.login('apis');
    const bearer = `Bearer ${token}`;
    expect((await service.http.get(`${BASE}/v1/subscriptions`).set('Authorization', bearer)).status).to.equal(200);
    expect((await service.http.get(`${BASE}/healthz`)).status).to.equal(200);
    expect((await service.http.get(`${BASE}/openapi.json`)).body.servers).to.deep.equal([{ url: BASE }]);
    const devices = await service.http.get(`${BASE}/api/2/devices/${username}.json`).set('Authorization', basic(username, 'correct horse battery'));
    expect(devices.status).to.equal(200);
    const sessionCookie = (devices.headers['set-cookie'] as unknown as string[]).find((line) => line.startsWith('sessionid='));
    expect(sessionCookie, "gpodder's session cookie").to.include(`Path=${BASE};`);
    expect((await service.http.get(`${BASE}/subscriptions/${username}.txt`).set('Authorization', bearer)).status).to.equal(200);
    expect((await service.http.get(`${BASE}/index.php/apps/gpoddersync/subscriptions`).set('Authorization', bearer)).status).to.equal(200);
    // Kasts joins a server entered with its last slash and an API path as they are.
    expect((await service.http.get(`${BASE}//index.php/apps/gpoddersync/subscriptions`).set('Authorization', bearer)).status).to.equal(200);

    for (const outside of ['/v1/subscriptions', '/healthz', '/', `${BASE}x/v1/subscriptions`, `/x${BASE}/healthz`, `/api/2/devices/${username}.json`]) {
      const answer = await service.http.get(outside).set('Authorization', bearer).set('Accept', BROWSER);
      expect(answer.status, outside).to.equal(404);
      expect(answer.body.error, outside).to.equal('not_found');
      expect(answer.body.message, outside).to.include(`${BASE}/`);
    }
    const before = await service.eventCount();
    const posted = await service.http
      .post('/v1/events')
      .set('Authorization', bearer)
      .send({ events: [{ type: 'subscribe', timestamp: '2026-05-01T00:00:00Z', object: { rss_source_feed: FEED }, data: {} }] });
    expect(posted.status).to.equal(404);
    expect(await service.eventCount(), 'a write outside the path writes nothing').to.equal(before);
  });

  it("Login Flow v2 hands the app addresses under the path, and the server it keeps is the path's", async () => {
    const { username } = await service.login('flow');
    const started = await service.http.post(`${BASE}/index.php/login/v2`).set('Host', 'sync.example.org').set('User-Agent', 'AntennaPod/3.6.2').send('');
    expect(started.status).to.equal(200);
    expect(started.body.login).to.match(new RegExp(`^http://sync\\.example\\.org${BASE}/index\\.php/login/v2/flow/`));
    expect(started.body.poll.endpoint).to.equal(`http://sync.example.org${BASE}/index.php/login/v2/poll`);
    const loginPath = new URL(started.body.login as string).pathname;
    const page = await service.http.get(loginPath);
    expect(page.status).to.equal(200);
    expect(page.text).to.include(`action="${loginPath}"`);
    expect((await service.http.post(loginPath).type('form').send({ username, password: 'correct horse battery', decision: 'grant' })).status).to.equal(200);
    const polled = await service.http
      .post(`${BASE}/index.php/login/v2/poll`)
      .set('Host', 'sync.example.org')
      .type('form')
      .send(`token=${started.body.poll.token}`);
    expect(polled.body.server).to.equal(`http://sync.example.org${BASE}`);
    const appPassword = polled.body.appPassword as string;
    expect((await service.http.get(`${BASE}/index.php/apps/gpoddersync/subscriptions`).set('Authorization', basic(username, appPassword))).status).to.equal(
      200,
    );
  });

  it('pages link, post, redirect and keep cookies under the path only, and every link they hold answers', async () => {
    const web = new WebClient(service.app, BASE);
    const signedUp = await web.signUp('pages');
    expect(signedUp.headers['location']).to.equal(`${BASE}/`);
    const cookies = signedUp.headers['set-cookie'] as unknown as string[];
    for (const line of cookies) expect(line, line).to.include(`Path=${BASE};`);
    await sendEvents(service, 'pages', [
      { type: 'subscribe', timestamp: '2026-05-01T00:00:00Z', object: { rss_source_feed: FEED }, data: {} },
      { type: 'play', timestamp: '2026-05-01T00:00:01Z', object: { rss_source_feed: FEED, rss_source_id: 'one' }, data: { played: false, position: 60 } },
      { type: 'save', timestamp: '2026-05-01T00:00:02Z', object: { rss_source_feed: FEED, rss_source_id: 'one' }, data: { playlist: 'later' } },
    ]);
    await service.settle();
    const admin = await web.submit('/manage', '/manage/signin', { token: ADMIN_TOKEN });
    expect(admin.headers['location']).to.equal(`${BASE}/manage`);
    expect((admin.headers['set-cookie'] as unknown as string[])[0]).to.include(`Path=${BASE}/manage;`);

    // Every address the pages name, followed from home: links, images, stylesheets and forms.
    const seen = new Set<string>();
    const queue = [`${BASE}/`, `${BASE}/manage`];
    const actions = new Set<string>();
    while (queue.length > 0) {
      const address = queue.shift()!;
      if (seen.has(address)) continue;
      seen.add(address);
      const answer = await web.agent.get(address).set('Accept', BROWSER);
      expect(answer.status, address).to.be.oneOf([200, 303]);
      if (answer.status === 303) {
        expect(answer.headers['location'], `${address} redirects`).to.match(new RegExp(`^${BASE}/`));
        queue.push(answer.headers['location'] as string);
        continue;
      }
      if (!answer.type.includes('html')) continue;
      for (const [, attribute, value] of answer.text.matchAll(/\b(href|src|action)="([^"]*)"/g)) {
        const target = value!.replaceAll('&amp;', '&');
        if (/^(https?:|#|\?)/.test(target)) continue;
        expect(target, `${attribute} on ${address}`).to.match(new RegExp(`^${BASE}/`));
        if (attribute === 'action') actions.add(target.split('?')[0]!);
        else if (!target.includes('/signout')) queue.push(target);
      }
    }
    for (const page of ['/', '/privacy', '/access', '/data', '/explore', '/account', '/manage', '/static/site.css', '/data/export']) {
      expect([...seen], page).to.include(`${BASE}${page}`);
    }
    expect(
      [...seen].some((address) => address.startsWith(`${BASE}/podcast?feed=`)),
      "a podcast's page",
    ).to.equal(true);
    expect(
      [...seen].some((address) => address.startsWith(`${BASE}/explore/users/pages`)),
      "a listener's public page",
    ).to.equal(true);
    expect(
      [...seen].some((address) => address.startsWith(`${BASE}/manage/users/pages`)),
      "the admin's page of a user",
    ).to.equal(true);
    expect(actions).to.include.members([
      `${BASE}/subscribe`,
      `${BASE}/unsubscribe`,
      `${BASE}/data/erase`,
      `${BASE}/privacy`,
      `${BASE}/signout`,
      `${BASE}/manage/users`,
    ]);

    // A form posted where its page says, and the page it leads to.
    const home = await web.get('/');
    const subscribed = await web.agent
      .post(`${BASE}/subscribe`)
      .type('form')
      .send({ _csrf: csrfIn(home.text)!, feed: 'https://feeds.example.com/another.xml' });
    expect(subscribed.status).to.equal(303);
    expect(subscribed.headers['location']).to.equal(`${BASE}/?done=subscribed#subs`);

    // Signed out, a page sends the browser to sign in and back, all under the path.
    const stranger = new WebClient(service.app, BASE);
    const sent = await stranger.get('/privacy?x=1');
    expect(sent.headers['location']).to.equal(`${BASE}/signin?next=${encodeURIComponent('/privacy?x=1')}`);
    const bare = await stranger.agent.get(`${BASE}?x=1`);
    expect(bare.headers['location'], 'the path alone, with a query').to.equal(`${BASE}/signin?next=${encodeURIComponent('/?x=1')}`);
    const signin = await stranger.get('/signin?next=%2Fprivacy%3Fx%3D1');
    const back = await stranger.agent
      .post(`${BASE}/signin`)
      .type('form')
      .send({ _csrf: csrfIn(signin.text)!, username: 'pages', password: 'correct horse battery', next: '/privacy?x=1' });
    expect(back.headers['location']).to.equal(`${BASE}/privacy?x=1`);

    // A browser's "not found" under the path is a page whose links stay under it.
    const missing = await web.agent.get(`${BASE}/no/such/page`).set('Accept', BROWSER);
    expect(missing.status).to.equal(404);
    expect(missing.text).to.include(`href="${BASE}/"`).and.include(`href="${BASE}/static/site.css"`);
  });

  it('the Access page gives the server with its path', async () => {
    const web = new WebClient(service.app, BASE);
    await web.signUp('access');
    const created = await web.submit('/access', '/access/app-passwords', { name: 'Phone' });
    expect(created.status).to.equal(200);
    expect(created.text).to.match(new RegExp(`id="setup-server">http://127\\.0\\.0\\.1(:\\d+)?${BASE}<`));
  });
});
