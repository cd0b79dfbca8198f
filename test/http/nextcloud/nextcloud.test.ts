/**
 * The Nextcloud gPodder Sync API and Login Flow v2, as AntennaPod's Nextcloud provider uses
 * them (requests replicated from NextcloudLoginFlow.java and NextcloudSyncService.java).
 */
import { expect } from 'chai';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import { basicHeader, FEED_A, FEED_B } from '../gpodder/support.js';

const APP = 'AntennaPod/3.6.2';
const PASSWORD = 'correct horse battery';
const NC = '/index.php/apps/gpoddersync';

describe('Nextcloud API: Login Flow v2 and app passwords', function () {
  this.timeout(30_000);
  let service: TestService;
  let username: string;
  let token: string;

  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    ({ username, token } = await service.login());
  });

  async function startFlow() {
    const started = await service.http.post('/index.php/login/v2').set('User-Agent', APP).type('form').send('');
    expect(started.status).to.equal(200);
    expect(started.body).to.have.keys(['poll', 'login']);
    const loginPath = new URL(started.body.login as string).pathname;
    const pollPath = new URL(started.body.poll.endpoint as string).pathname;
    expect(pollPath).to.equal('/index.php/login/v2/poll');
    return { loginPath, pollPath, pollToken: started.body.poll.token as string };
  }
  const poll = (pollToken: string) => service.http.post('/index.php/login/v2/poll').type('form').send(`token=${pollToken}`);

  it('approve: the page names the app; the poll answers 404 until granted, then {server, loginName, appPassword} once, then 404', async () => {
    const flow = await startFlow();
    const page = await service.http.get(flow.loginPath);
    expect(page.status).to.equal(200);
    expect(page.text).to.include('Allow AntennaPod/3.6.2 to sync with your account?');
    expect(page.headers['content-security-policy']).to.include("frame-ancestors 'none'").and.not.include('unsafe-inline');
    expect(page.headers['referrer-policy']).to.equal('no-referrer');
    expect((await poll(flow.pollToken)).status).to.equal(404);

    const wrong = await service.http.post(flow.loginPath).type('form').send({ username, password: 'not it', decision: 'grant' });
    expect(wrong.status).to.equal(401);
    expect(wrong.text).to.include('Wrong username or password');
    expect((await poll(flow.pollToken)).status).to.equal(404);

    const granted = await service.http.post(flow.loginPath).type('form').send({ username, password: PASSWORD, decision: 'grant' });
    expect(granted.status).to.equal(200);
    expect(granted.text).to.include('Account connected');
    const answer = await poll(flow.pollToken);
    expect(answer.status).to.equal(200);
    expect(answer.body).to.have.keys(['server', 'loginName', 'appPassword']);
    expect(answer.body.loginName).to.equal(username);
    expect(answer.body.server).to.match(/^http:\/\/127\.0\.0\.1(:\d+)?$/);
    expect((await poll(flow.pollToken)).status, 'taken once').to.equal(404);
    expect((await service.http.get(flow.loginPath)).status, 'the link is spent').to.equal(404);

    const basic = basicHeader(username, answer.body.appPassword as string);
    expect((await service.http.get(`${NC}/subscriptions?since=0`).set('Authorization', basic)).status).to.equal(200);
    expect((await service.http.get(`/api/2/devices/${username}.json`).set('Authorization', basic)).status, 'also on gpodder endpoints').to.equal(200);
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${answer.body.appPassword}`)).status, 'not a bearer token').to.equal(401);
    const listed = await service.http.get('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`);
    expect(listed.body.app_passwords).to.have.length(1);
    expect(listed.body.app_passwords[0]).to.include({ name: APP });
    expect(listed.body.app_passwords[0].last_used_at).to.be.a('string');
    expect(JSON.stringify(listed.body)).not.to.include(answer.body.appPassword);
  });

  it('deny: the poll never answers, and no app password is created', async () => {
    const flow = await startFlow();
    const denied = await service.http.post(flow.loginPath).type('form').send({ decision: 'deny' });
    expect(denied.status).to.equal(200);
    expect(denied.text).to.include('Access denied');
    expect((await poll(flow.pollToken)).status).to.equal(404);
    expect((await service.http.get(flow.loginPath)).status).to.equal(404);
    expect((await service.http.get('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`)).body.app_passwords).to.deep.equal([]);
  });

  it('a revoked app password stops at once, with the gpodder session it opened', async () => {
    const created = await service.http.post('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`).send({ name: 'Kasts' });
    expect(created.status).to.equal(201);
    const basic = basicHeader(username, created.body.password as string);
    expect((await service.http.get(`${NC}/episode_action?since=0`).set('Authorization', basic)).status).to.equal(200);
    const login = await service.http.post(`/api/2/auth/${username}/login.json`).set('Authorization', basic);
    const cookie = (login.headers['set-cookie'] as unknown as string[]).find((value) => value.startsWith('sessionid='))!.split(';')[0]!;
    expect((await service.http.get(`/api/2/devices/${username}.json`).set('Cookie', cookie)).status).to.equal(200);

    expect((await service.http.delete(`/v1/auth/app-passwords/${created.body.id}`).set('Authorization', `Bearer ${token}`)).status).to.equal(204);
    const refused = await service.http.get(`${NC}/episode_action?since=0`).set('Authorization', basic);
    expect(refused.status).to.equal(401);
    expect(refused.headers['www-authenticate']).to.match(/^Basic/);
    expect((await service.http.get(`/api/2/devices/${username}.json`).set('Cookie', cookie)).status, 'its session too').to.equal(401);
    expect(
      (await service.http.get(`${NC}/subscriptions`).set('Authorization', basicHeader(username, PASSWORD))).status,
      'the account password still works',
    ).to.equal(200);
  });

  it('an app password sent as a bearer token works, as Nextcloud takes one (Music Assistant sends it so), and stops once revoked', async () => {
    const created = await service.http.post('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`).send({ name: 'Music Assistant' });
    const bearer = `Bearer ${created.body.password as string}`;
    const upload = await service.http
      .post(`${NC}/episode_action/create`)
      .set('Authorization', bearer)
      .send([
        {
          podcast: FEED_A,
          episode: 'https://cdn.example.com/a/1.mp3',
          guid: 'a-1',
          action: 'play',
          timestamp: '2026-03-01T10:00:00',
          started: 0,
          position: 90,
          total: 600,
        },
      ]);
    expect(upload.status).to.equal(200);
    const downloaded = await service.http.get(`${NC}/episode_action?since=0`).set('Authorization', bearer);
    expect(downloaded.status).to.equal(200);
    expect(downloaded.body.actions).to.have.length(1);
    expect((await service.http.get(`/api/2/subscriptions/${username}/ma.json?since=0`).set('Authorization', bearer)).status, 'the gpodder API too').to.equal(
      200,
    );
    expect((await service.http.get(`${NC}/subscriptions`).set('Authorization', `Bearer ${'x'.repeat(43)}`)).status, 'a made-up one').to.equal(401);

    expect((await service.http.delete(`/v1/auth/app-passwords/${created.body.id}`).set('Authorization', `Bearer ${token}`)).status).to.equal(204);
    const refused = await service.http.get(`${NC}/episode_action?since=0`).set('Authorization', bearer);
    expect(refused.status).to.equal(401);
    // Not on the native API: an app password is for one app's sync, not the account's tokens.
    const other = await service.http.post('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`).send({ name: 'Kasts' });
    expect((await service.http.get('/v1/play-statuses').set('Authorization', `Bearer ${other.body.password as string}`)).status).to.equal(401);
  });

  it('OCS getapppassword turns the account password into an app password named after the app (XML, or JSON when asked); an app password gets 403', async () => {
    const ocs = (basic: string) => service.http.get('/ocs/v2.php/core/getapppassword').set('Authorization', basic).set('OCS-APIRequest', 'true');
    const answer = await ocs(basicHeader(username, PASSWORD)).set('User-Agent', 'Gnome Podcasts - Nextcloud Sync');
    expect(answer.status).to.equal(200);
    expect(answer.headers['content-type']).to.match(/^application\/xml/);
    const appPassword = /<apppassword>([^<]+)<\/apppassword>/.exec(answer.text)?.[1];
    expect(answer.text).to.include('<statuscode>200</statuscode>');
    expect(appPassword).to.be.a('string').and.not.equal(PASSWORD);
    expect((await service.http.get(`${NC}/subscriptions`).set('Authorization', basicHeader(username, appPassword!))).status).to.equal(200);
    const listed = await service.http.get('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`);
    expect((listed.body.app_passwords as { name: string }[]).map((password) => password.name)).to.deep.equal(['Gnome Podcasts - Nextcloud Sync']);

    const json = await ocs(basicHeader(username, PASSWORD)).query({ format: 'json' });
    expect(json.status).to.equal(200);
    expect(json.body.ocs.meta).to.include({ status: 'ok', statuscode: 200 });
    expect(json.body.ocs.data.apppassword).to.be.a('string');

    const again = await ocs(basicHeader(username, appPassword!));
    expect(again.status).to.equal(403);
    expect(again.text).to.include('<statuscode>403</statuscode>');
    const wrong = await ocs(basicHeader(username, 'not it'));
    expect(wrong.status).to.equal(401);
    expect(wrong.headers['www-authenticate']).to.match(/^Basic/);
    expect((await service.http.get('/ocs/v2.php/core/getapppassword')).status, 'no credentials').to.equal(401);
  });

  it("OCS apppassword DELETE revokes the app password it is sent with (an app's logout); the account password gets 403", async () => {
    const created = await service.http.post('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`).send({ name: 'Gnome Podcasts' });
    const basic = basicHeader(username, created.body.password as string);
    expect((await service.http.delete('/ocs/v2.php/core/apppassword').set('Authorization', basicHeader(username, PASSWORD))).status).to.equal(403);
    const deleted = await service.http.delete('/ocs/v2.php/core/apppassword').set('Authorization', basic).set('OCS-APIRequest', 'true');
    expect(deleted.status).to.equal(200);
    expect(deleted.text).to.include('<status>ok</status>');
    expect((await service.http.get(`${NC}/subscriptions`).set('Authorization', basic)).status).to.equal(401);
    expect((await service.http.get('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`)).body.app_passwords).to.deep.equal([]);
  });

  it('sign-in attempts on the grant page cost what an API login costs: 429 with Retry-After once the minute is used', async () => {
    const limited = await startTestService({ RATE_LIMIT_PER_MINUTE: '30' });
    try {
      const started = await limited.http.post('/index.php/login/v2').type('form').send('');
      const loginPath = new URL(started.body.login as string).pathname;
      const attempts = [];
      for (let attempt = 0; attempt < 3; attempt++)
        attempts.push(await limited.http.post(loginPath).type('form').send({ username: 'nobody', password: 'guess', decision: 'grant' }));
      // 30 a minute: starting the flow cost 1, each attempt costs 10.
      expect(attempts.map((answer) => answer.status)).to.deep.equal([401, 401, 429]);
      expect(Number(attempts[2]!.headers['retry-after'])).to.be.greaterThan(0);
    } finally {
      await limited.stop();
    }
  });

  it('a poll may carry its token in a JSON body, as Nextcloud reads it (PinePods polls so)', async () => {
    const flow = await startFlow();
    const pollJson = () =>
      service.http
        .post('/index.php/login/v2/poll')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ token: flow.pollToken }));
    const early = await pollJson();
    expect(early.status).to.equal(404);
    expect(early.body).to.deep.equal([]);
    expect((await service.http.post(flow.loginPath).type('form').send({ username, password: PASSWORD, decision: 'grant' })).status).to.equal(200);
    const answer = await pollJson();
    expect(answer.status).to.equal(200);
    expect(answer.body).to.have.keys(['server', 'loginName', 'appPassword']);
    expect(answer.body.loginName).to.equal(username);
    for (const body of [{}, { token: 42 }, { token: 'x' }, []]) {
      const refused = await service.http.post('/index.php/login/v2/poll').set('Content-Type', 'application/json').send(JSON.stringify(body));
      expect(refused.status, JSON.stringify(body)).to.equal(404);
    }
  });

  it('a poll with a garbage or unknown token is 404 [], and the flow page of an unknown token is 404', async () => {
    for (const body of ['token=', 'token=x', `token=${'a'.repeat(128)}`, '']) {
      const answer = await service.http.post('/index.php/login/v2/poll').type('form').send(body);
      expect(answer.status, body).to.equal(404);
      expect(answer.body).to.deep.equal([]);
    }
    expect((await service.http.get(`/index.php/login/v2/flow/${'b'.repeat(128)}`)).status).to.equal(404);
  });
});

describe('Nextcloud API: subscriptions and episode actions', function () {
  this.timeout(30_000);
  let service: TestService;
  let basic: string;
  let eventCount: () => Promise<number>;

  before(async () => {
    service = await startTestService();
    eventCount = () => service.eventCount();
  });
  after(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    const user = await service.login();
    basic = basicHeader(user.username, PASSWORD);
  });

  it('subscription changes: {add, remove, timestamp} in unix seconds of the server; since reads what was recorded from then (less a margin)', async () => {
    const before = Math.floor(Date.now() / 1000);
    const created = await service.http
      .post(`${NC}/subscription_change/create`)
      .set('Authorization', basic)
      .send({ add: [FEED_A, FEED_B, 'not a url'], remove: [] });
    expect(created.status).to.equal(200);
    expect(created.body).to.have.keys(['timestamp']);
    expect(created.body.timestamp).to.be.within(before, before + 5);
    const all = await service.http.get(`${NC}/subscriptions?since=0`).set('Authorization', basic);
    expect(all.body).to.deep.equal({ add: [FEED_A, FEED_B], remove: [], timestamp: all.body.timestamp });
    // Kasts with a server entered as "https://host/" asks for "//index.php/...".
    expect((await service.http.get(`/${NC}/subscriptions?since=0`).set('Authorization', basic)).body.add).to.deep.equal([FEED_A, FEED_B]);
    await service.http
      .post(`${NC}/subscription_change/create`)
      .set('Authorization', basic)
      .send({ add: [], remove: [FEED_B] });
    const changed = await service.http.get(`${NC}/subscriptions?since=${created.body.timestamp}`).set('Authorization', basic);
    expect(changed.body.add).to.deep.equal([FEED_A]);
    expect(changed.body.remove).to.deep.equal([FEED_B]);
    // A no-op upload writes nothing.
    const count = await eventCount();
    await service.http
      .post(`${NC}/subscription_change/create`)
      .set('Authorization', basic)
      .send({ add: [FEED_A], remove: [FEED_B] });
    expect(await eventCount()).to.equal(count);
  });

  it('episode actions: a bare list in, upper-case actions out, -1 for unknown numbers, timestamps without a zone; playback starts kept but not served', async () => {
    const actions = [
      {
        podcast: FEED_A,
        episode: 'https://cdn.example.com/a1.mp3',
        guid: 'a1',
        action: 'play',
        timestamp: '2026-03-01T10:00:00',
        started: 0,
        position: 120,
        total: 3600,
      },
      { podcast: FEED_A, episode: 'https://cdn.example.com/a2.mp3', action: 'PLAY', timestamp: '2026-03-01T10:05:00', started: -1, position: -1, total: -1 },
      { podcast: FEED_A, episode: 'https://cdn.example.com/a3.mp3', action: 'download', timestamp: '2026-03-01T10:06:00' },
    ];
    const uploaded = await service.http
      .post(`${NC}/episode_action/create`)
      .set('Authorization', basic)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(actions));
    expect(uploaded.status).to.equal(200);
    expect(uploaded.body).to.have.keys(['timestamp']);
    const answer = await service.http.get(`${NC}/episode_action?since=0`).set('Authorization', basic);
    expect(answer.status).to.equal(200);
    expect(answer.body).to.have.keys(['actions', 'timestamp']);
    expect(answer.body.actions).to.deep.equal([
      {
        podcast: FEED_A,
        episode: 'https://cdn.example.com/a1.mp3',
        guid: 'a1',
        action: 'PLAY',
        timestamp: '2026-03-01T10:00:00',
        started: 0,
        position: 120,
        total: 3600,
      },
      {
        podcast: FEED_A,
        episode: 'https://cdn.example.com/a3.mp3',
        guid: null,
        action: 'DOWNLOAD',
        timestamp: '2026-03-01T10:06:00',
        started: -1,
        position: -1,
        total: -1,
      },
    ]);
    // The same batch again (AntennaPod resends a queue after a failed batch): nothing added.
    const count = await eventCount();
    await service.http.post(`${NC}/episode_action/create`).set('Authorization', basic).send(actions);
    expect(await eventCount()).to.equal(count);
  });

  it('a late upload (an old action recorded now) reaches a device whose cursor is its last sync', async () => {
    const synced = await service.http.get(`${NC}/episode_action?since=0`).set('Authorization', basic);
    const old = {
      podcast: FEED_B,
      episode: 'https://cdn.example.com/b1.mp3',
      action: 'play',
      timestamp: '2020-01-01T00:00:00',
      started: 0,
      position: 50,
      total: 100,
    };
    await service.http.post(`${NC}/episode_action/create`).set('Authorization', basic).send([old]);
    const next = await service.http.get(`${NC}/episode_action?since=${synced.body.timestamp}`).set('Authorization', basic);
    expect(next.body.actions.map((action: { timestamp: string }) => action.timestamp)).to.deep.equal(['2020-01-01T00:00:00']);
  });

  it('bad input: 400 naming the field, nothing written; no credentials: 401 with a Basic challenge', async () => {
    const count = await eventCount();
    const bad = await service.http
      .post(`${NC}/episode_action/create`)
      .set('Authorization', basic)
      .send([{ podcast: FEED_A, episode: 'https://cdn.example.com/x.mp3', action: 'flattr' }]);
    expect(bad.status).to.equal(400);
    expect(bad.body.details.issues[0].path).to.equal('0.action');
    expect((await service.http.get(`${NC}/episode_action?since=yesterday`).set('Authorization', basic)).body.details.issues[0].path).to.equal('query.since');
    expect((await service.http.post(`${NC}/subscription_change/create`).set('Authorization', basic).send({ add: 'x' })).status).to.equal(400);
    expect(await eventCount()).to.equal(count);
    const anonymous = await service.http.get(`${NC}/subscriptions`);
    expect(anonymous.status).to.equal(401);
    expect(anonymous.headers['www-authenticate']).to.match(/^Basic/);
  });
});
