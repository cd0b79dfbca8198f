/**
 * Cardo's sync, replicated from its source (test/clients/cardo.ts), against the running service
 * over real HTTP: through the Nextcloud gPodder Sync API, connected as the app connects (Login
 * Flow v2 in the browser), and through the gpodder.net API. Kasts on a laptop (its replica,
 * through gpodder.net) is the other app of the account.
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import {
  Cardo,
  FETCH_STRING_CONTENT_TYPE,
  nextcloudTimestamp,
  normalizeDeviceId,
  normalizeDevices,
  parseGpodderActions,
  parseNextcloudActions,
  parseSubscriptions,
} from './cardo.js';
import { KastsDevice } from './kasts.js';
import { ForwardTime } from './forward-time.js';
import { grantInBrowser } from './nextcloud-login.js';
import { servedForTests } from './served.js';
import { FEED_DOCS, FEED_NEWS, FEED_TALK, LISTENING_FEEDS, MINUTE, PASSWORD, feedEpisodes, guidOf, kastsCatalogOf, mediaOf } from './fixture-feeds.js';

const FEEDS = LISTENING_FEEDS;
const cardoCatalog = () => new Map(FEEDS.map(([feed, count, seconds]) => [feed, feedEpisodes(feed, count, seconds).map(({ url }) => url)]));
const kastsCatalog = () => kastsCatalogOf(FEEDS);

describe('Cardo replica: how it reads answers', () => {
  it('reads Nextcloud timestamps as UTC by appending +00:00: one with a zone becomes NaN, a fraction is fine', () => {
    const one = (timestamp: string) =>
      parseNextcloudActions(
        JSON.stringify({ actions: [{ podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 1), action: 'PLAY', timestamp, position: 1, total: 2 }] }),
      )[0]!.timestamp;
    expect(one('2026-03-01T10:00:00')).to.equal(Date.UTC(2026, 2, 1, 10));
    expect(one('2026-03-01T10:00:00.250')).to.equal(Date.UTC(2026, 2, 1, 10, 0, 0, 250));
    expect(Number.isNaN(one('2026-03-01T10:00:00Z'))).to.equal(true);
    expect(Number.isNaN(one('2026-03-01T10:00:00+02:00'))).to.equal(true);
    expect(nextcloudTimestamp(Date.UTC(2026, 2, 1, 10, 0, 0, 999))).to.equal('2026-03-01T10:00:00');
  });

  it('throws on an answer without `actions`, `add` or `remove`, or not JSON at all (a 401 body read as the answer)', () => {
    expect(() => parseNextcloudActions('{"timestamp":1}')).to.throw(TypeError);
    expect(() => parseGpodderActions('Unauthorized')).to.throw(SyntaxError);
    expect(() => parseSubscriptions('{"add":[],"timestamp":1}')).to.throw(TypeError);
    expect(parseSubscriptions('{"add":["a"],"remove":[],"timestamp":1,"extra":true}')).to.deep.equal({ add: ['a'], remove: [] });
  });

  it('keeps devices with a string id (or deviceid), and makes a device id of a typed name', () => {
    expect(normalizeDevices([{ id: 'a', caption: 'A', type: 'desktop', subscriptions: 3 }, { deviceid: 'b' }, { id: 1 }, null])).to.deep.equal([
      { id: 'a', caption: 'A', type: 'desktop', subscriptions: 3 },
      { id: 'b', caption: undefined, type: undefined, subscriptions: undefined },
    ]);
    expect(normalizeDevices({ devices: [] })).to.deep.equal([]);
    expect(normalizeDeviceId('  My Desktop (Cardo)! ')).to.equal('my-desktop-cardo');
  });
});

describe('Cardo replica against the service', function () {
  this.timeout(60_000);
  let accounts = 0;
  const time = new ForwardTime();
  const served = servedForTests(time);
  let service: TestService;
  let base: string;
  before(() => ({ service, base } = served()));

  const requestsOf = (app: Cardo, from = 0) =>
    app.http.log.slice(from).map((exchange) => `${exchange.method} ${new URL(exchange.url).pathname}${new URL(exchange.url).search}`);

  /** Every answer Cardo read in its syncs was a 2xx it could read (Cardo reads GETs without looking at the status). */
  const allOk = (app: Cardo, from = 0) => {
    for (const exchange of app.http.log.slice(from)) {
      if (exchange.url.includes('/login/v2/poll')) continue;
      expect(exchange.status, `${exchange.method} ${exchange.url}: ${exchange.responseBody}`).to.be.within(200, 299);
    }
    expect(app.status, app.error).to.equal('ok');
  };

  /** A new account with Kasts on a laptop (news and talk, synced first) and Cardo (whose clock may be off), connected with Login Flow v2. */
  async function setUp(options: { skewMs?: number; localFeeds?: string[] } = {}) {
    const { username, token } = await service.login(`cardo-${++accounts}`, PASSWORD);
    const laptop = new KastsDevice({ catalog: kastsCatalog() });
    laptop.subscribe(FEED_NEWS);
    laptop.subscribe(FEED_TALK);
    await laptop.connectGpodder(base, username, PASSWORD, 'laptop');
    const skew = options.skewMs ?? 0;
    const app = new Cardo({ catalog: cardoCatalog(), clock: () => Date.now() + skew });
    for (const feed of options.localFeeds ?? []) app.addLocalFeed(feed);
    await app.loginNextcloud(base, (login) => grantInBrowser(login, username, PASSWORD), { pollMs: 20, maxPolls: 100 });
    return { username, token, laptop, app };
  }

  it('connects with Login Flow v2 as it does (JSON poll body), keeps the typed URL, and signs every sync request with the app password', async () => {
    const { username, token, app } = await setUp();
    const requests = requestsOf(app);
    expect(requests[0]).to.equal('POST /index.php/login/v2');
    const polls = app.http.log.filter((exchange) => exchange.url.endsWith('/login/v2/poll'));
    expect(polls.length).to.be.at.least(1);
    expect(polls.at(-1)!.status).to.equal(200);
    expect(polls.at(-1)!.requestHeaders['Content-Type']).to.equal('application/json');
    expect(JSON.parse(polls.at(-1)!.requestBody!)).to.have.keys('token');
    expect(app.creds).to.include({ server: base, user: username });
    expect(app.creds!.password).to.not.equal(PASSWORD);
    // It does not sync on login (sync after app start is off by default): its first sync is the button.
    expect(requests.length).to.equal(1 + polls.length);
    await app.sync();
    allOk(app);
    const sync = app.http.log.at(-1)!;
    expect(sync.requestHeaders['OCS-APIRequest']).to.equal('true');
    expect(Buffer.from(sync.requestHeaders['Authorization']!.replace(/^Basic /, ''), 'base64').toString('utf8')).to.equal(`${username}:${app.creds!.password}`);
    const passwords = (await service.http.get('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`)).body.app_passwords as unknown[];
    expect(passwords).to.have.length(1);
  });

  it('connects through a URL typed with a trailing slash (its requests then start with //index.php)', async () => {
    const { username } = await service.login(`cardo-${++accounts}`, PASSWORD);
    const app = new Cardo({ catalog: cardoCatalog() });
    await app.loginNextcloud(`${base}/`, (login) => grantInBrowser(login, username, PASSWORD), { pollMs: 20, maxPolls: 100 });
    expect(app.http.log[0]!.url).to.equal(`${base}//index.php/login/v2`);
    await app.sync();
    expect(requestsOf(app).at(-1)).to.equal('POST //index.php/apps/gpoddersync/episode_action/create');
    allOk(app);
  });

  it('first sync: since=0, takes the laptop’s feeds and positions, uploads its whole history (with its row ids, text/plain) but not its local feeds', async () => {
    const { username } = await service.login(`cardo-${++accounts}`, PASSWORD);
    const laptop = new KastsDevice({ catalog: kastsCatalog() });
    laptop.subscribe(FEED_NEWS);
    await laptop.connectGpodder(base, username, PASSWORD, 'laptop');
    laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 1), 0, 900_000);
    laptop.markPlayed(FEED_NEWS, guidOf(FEED_NEWS, 3));
    await laptop.sync();
    time.advance(MINUTE);

    const app = new Cardo({ catalog: cardoCatalog() });
    app.addLocalFeed(FEED_DOCS);
    app.play(FEED_NEWS, mediaOf(FEED_NEWS, 2), 500, 1800);
    app.markPlayed(FEED_DOCS, mediaOf(FEED_DOCS, 1), 2400);
    await app.loginNextcloud(base, (login) => grantInBrowser(login, username, PASSWORD), { pollMs: 20, maxPolls: 100 });
    const from = app.http.log.length;
    await app.sync();
    allOk(app, from);
    expect(requestsOf(app, from)).to.deep.equal([
      'GET /index.php/apps/gpoddersync/subscriptions?since=0',
      'GET /index.php/apps/gpoddersync/episode_action?since=0',
      'POST /index.php/apps/gpoddersync/episode_action/create',
    ]);
    expect(app.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_NEWS]);
    expect(app.row(mediaOf(FEED_NEWS, 1))).to.include({ position: 900, total: 1800 });
    expect(app.finished(mediaOf(FEED_NEWS, 3))).to.equal(true);
    // Every downloaded timestamp read as a number (the answer's zone-less UTC).
    for (const update of app.downloaded.flat()) expect(Number.isFinite(update.timestamp), JSON.stringify(update)).to.equal(true);
    const upload = app.http.log.at(-1)!;
    expect(upload.requestHeaders['Content-Type']).to.equal(FETCH_STRING_CONTENT_TYPE);
    const sent = JSON.parse(upload.requestBody!) as Record<string, unknown>[];
    expect(sent.map(({ episode, position, total, action }) => [episode, position, total, action])).to.have.deep.members([
      [mediaOf(FEED_NEWS, 2), 500, 1800, 'play'],
      [mediaOf(FEED_DOCS, 1), 2400, 2400, 'play'],
      [mediaOf(FEED_NEWS, 1), 900, 1800, 'play'],
      [mediaOf(FEED_NEWS, 3), 1800, 1800, 'play'],
    ]);
    expect(sent[0]).to.have.keys('id', 'podcast', 'episode', 'position', 'total', 'timestamp', 'started', 'action');

    // The laptop gets its plays; the local-only feed never reaches it (Cardo uploads feeds only on subscribe).
    time.advance(MINUTE);
    await laptop.sync();
    expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 2))?.playposition).to.equal(500_000);
    expect(laptop.feeds).to.not.include(FEED_DOCS);
  });

  it('later syncs: subscriptions, positions and finished episodes cross both ways', async () => {
    const { laptop, app } = await setUp();
    await app.sync();
    allOk(app);
    const lastSync = Math.floor(app.lastSync / 1000);
    time.advance(MINUTE);

    // On the desktop: a position, an episode to its end, a feed subscribed (its own sync).
    app.play(FEED_NEWS, mediaOf(FEED_NEWS, 1), 700, 1800);
    app.markPlayed(FEED_NEWS, mediaOf(FEED_NEWS, 2), 1800);
    let from = app.http.log.length;
    await app.subscribe(FEED_DOCS);
    allOk(app, from);
    expect(requestsOf(app, from)).to.deep.equal([
      `GET /index.php/apps/gpoddersync/subscriptions?since=${lastSync}`,
      'POST /index.php/apps/gpoddersync/subscription_change/create',
      `GET /index.php/apps/gpoddersync/episode_action?since=${lastSync}`,
      'POST /index.php/apps/gpoddersync/episode_action/create',
    ]);
    expect(JSON.parse(app.http.log[from + 1]!.requestBody!)).to.deep.equal({ add: [FEED_DOCS], remove: [] });
    time.advance(MINUTE);
    await laptop.sync();
    expect(laptop.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_NEWS, FEED_TALK]);
    expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 1))?.playposition).to.equal(700_000);
    expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 2))?.read).to.equal(true);

    // On the laptop: further in the first, another finished, talk dropped.
    time.advance(MINUTE);
    laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 1), 700_000, 1_000_000);
    laptop.markPlayed(FEED_TALK, guidOf(FEED_TALK, 4));
    laptop.unsubscribe(FEED_TALK);
    await laptop.sync();
    time.advance(MINUTE);
    from = app.http.log.length;
    await app.sync();
    allOk(app, from);
    expect(app.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_NEWS]);
    expect(app.row(mediaOf(FEED_NEWS, 1))).to.include({ position: 1000, total: 1800 });
    expect(app.finished(mediaOf(FEED_TALK, 4))).to.equal(true);

    // Unsubscribing on the desktop reaches the laptop.
    time.advance(MINUTE);
    await app.unsubscribe(FEED_DOCS);
    expect(app.status, app.error).to.equal('ok');
    time.advance(MINUTE);
    await laptop.sync();
    expect(laptop.feeds).to.deep.equal([FEED_NEWS]);
  });

  it('a play of unknown length is answered with total -1, which Cardo stores as position -1 of a total that is the position (its own min/max)', async () => {
    const { username, app } = await setUp();
    await app.sync();
    time.advance(MINUTE);
    const upload = await service.http
      .post(`/api/2/episodes/${username}.json`)
      .auth(username, PASSWORD)
      .send([
        {
          podcast: FEED_NEWS,
          episode: mediaOf(FEED_NEWS, 9),
          action: 'play',
          started: 0,
          position: 600,
          timestamp: new Date(Date.now()).toISOString().slice(0, 19),
        },
      ]);
    expect(upload.status).to.equal(200);
    time.advance(MINUTE);
    await app.sync();
    allOk(app);
    const served = app.downloaded.at(-1)!.find((update) => update.episode === mediaOf(FEED_NEWS, 9));
    expect(served).to.include({ position: 600, total: -1 });
    // EpisodeState.update: position = min(600, -1), total = max(600, -1). What the Nextcloud app answers too (-1 for unknown).
    expect(app.row(mediaOf(FEED_NEWS, 9))).to.include({ position: -1, total: 600 });
  });

  it('answers a wrong app password with a non-2xx that stops its sync before anything is uploaded, its lastSync kept', async () => {
    const { app } = await setUp();
    await app.sync();
    const kept = app.lastSync;
    app.creds = { ...app.creds!, password: 'revoked' };
    const from = app.http.log.length;
    time.advance(MINUTE);
    await app.sync();
    expect(app.status).to.equal('error');
    expect(app.http.log[from]!.status).to.equal(401);
    expect(requestsOf(app, from)).to.have.length(1);
    expect(app.lastSync).to.equal(kept);
  });

  // Its `since` is its own clock at the end of its last sync (after its upload): a clock off the server's must lose nothing.
  for (const skew of [-5 * MINUTE, 5 * MINUTE]) {
    it(`loses nothing the laptop writes when its clock runs ${Math.abs(skew) / MINUTE} minutes ${skew < 0 ? 'behind' : 'ahead of'} the server's`, async () => {
      const { laptop, app } = await setUp({ skewMs: skew });
      await app.sync();
      allOk(app);
      // Right after its first sync.
      time.advance(5_000);
      laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 5), 0, 600_000);
      laptop.subscribe(FEED_DOCS);
      await laptop.sync();
      time.advance(MINUTE);
      await app.sync();
      allOk(app);
      expect(app.row(mediaOf(FEED_NEWS, 5))?.position).to.equal(600);
      expect(app.feeds).to.include(FEED_DOCS);

      // Between its download and the end of its sync (its lastSync is read after the upload).
      app.play(FEED_TALK, mediaOf(FEED_TALK, 1), 120, 3600);
      app.http.beforeNext(
        ({ method, url }) => method === 'POST' && url.pathname.endsWith('/episode_action/create'),
        async () => {
          laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 6), 0, 300_000);
          laptop.unsubscribe(FEED_DOCS);
          await laptop.sync();
        },
      );
      await app.sync();
      allOk(app);
      time.advance(30 * MINUTE);
      await app.sync();
      allOk(app);
      expect(app.row(mediaOf(FEED_NEWS, 6))?.position).to.equal(300);
      expect(app.feeds).to.not.include(FEED_DOCS);

      await laptop.sync();
      expect(laptop.entry(FEED_TALK, guidOf(FEED_TALK, 1))?.playposition).to.equal(120_000);
    });
  }

  it('through gpodder.net: logs in, creates its device, syncs both ways with its ISO timestamps (milliseconds and Z) and its own clock as since', async () => {
    const { username } = await service.login(`cardo-${++accounts}`, PASSWORD);
    const laptop = new KastsDevice({ catalog: kastsCatalog() });
    laptop.subscribe(FEED_NEWS);
    await laptop.connectGpodder(base, username, PASSWORD, 'laptop');
    laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 1), 0, 400_000);
    await laptop.sync();
    time.advance(MINUTE);

    const app = new Cardo({ catalog: cardoCatalog(), clock: () => Date.now() + 5 * MINUTE });
    const devices = await app.loginGpodder(base, username, PASSWORD, { create: 'My Desktop' });
    expect(devices.map((device) => device.id)).to.include('kasts-laptop');
    expect(app.creds!.deviceName).to.equal('my-desktop');
    app.play(FEED_NEWS, mediaOf(FEED_NEWS, 2), 250, 1800);
    const from = app.http.log.length;
    await app.subscribe(FEED_TALK);
    allOk(app);
    expect(requestsOf(app, from)).to.deep.equal(
      [
        '/api/2/subscriptions/' + username + '/my-desktop.json?since=0',
        '/api/2/subscriptions/' + username + '/my-desktop.json',
        `/api/2/episodes/${username}.json?since=0&aggregated=true`,
        `/api/2/episodes/${username}.json`,
      ].map((path, index) => `${['GET', 'POST', 'GET', 'POST'][index]} ${path}`),
    );
    expect(app.feeds.sort()).to.deep.equal([FEED_NEWS, FEED_TALK]);
    expect(app.row(mediaOf(FEED_NEWS, 1))?.position).to.equal(400);
    expect((JSON.parse(app.http.log.at(-1)!.requestBody!) as { timestamp: string }[])[0]!.timestamp).to.match(/\.\d{3}Z$/);

    time.advance(MINUTE);
    await laptop.sync();
    expect(laptop.feeds.sort()).to.deep.equal([FEED_NEWS, FEED_TALK]);
    expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 2))?.playposition).to.equal(250_000);

    // The laptop goes on right after; Cardo's since (its clock, five minutes ahead) loses nothing.
    time.advance(5_000);
    laptop.markPlayed(FEED_NEWS, guidOf(FEED_NEWS, 7));
    await laptop.sync();
    time.advance(MINUTE);
    await app.sync();
    allOk(app);
    expect(app.finished(mediaOf(FEED_NEWS, 7))).to.equal(true);
  });
});
