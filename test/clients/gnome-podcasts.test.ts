/**
 * GNOME Podcasts's sync, replicated from its source (test/clients/gnome-podcasts.ts), against the
 * running service over real HTTP through the Nextcloud gPodder Sync API, connected as the app
 * connects (Login Flow v2 in the browser). Kasts on a laptop (its replica, through gpodder.net)
 * is the other app of the account.
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import type { GnomeCatalogEpisode } from './gnome-podcasts.js';
import {
  GNOME_PODCASTS_USER_AGENT,
  GnomePodcasts,
  GnomeSyncError,
  finishedPlay,
  parseAppPasswordXml,
  parseChronoTimestamp,
  parseEpisodeGet,
  parseGnomeAction,
  parseSubscriptionGet,
} from './gnome-podcasts.js';
import { KastsDevice } from './kasts.js';
import { ForwardTime } from './forward-time.js';
import { grantInBrowser } from './nextcloud-login.js';
import { servedForTests } from './served.js';
import {
  FEED_DOCS,
  FEED_LIVE,
  FEED_NEWS,
  FEED_TALK,
  LISTENING_FEEDS,
  MINUTE,
  PASSWORD,
  feedEpisodes,
  guidOf,
  kastsCatalogOf,
  mediaOf,
} from './fixture-feeds.js';

const FEEDS = LISTENING_FEEDS;
/** Streams whose feed gives no durations. */
const LIVE_COUNT = 3;
const gnomeCatalog = () =>
  new Map<string, GnomeCatalogEpisode[]>([
    ...FEEDS.map(([feed, count, seconds]): [string, GnomeCatalogEpisode[]] => [
      feed,
      feedEpisodes(feed, count, seconds).map(({ guid, url }) => ({ guid, url, durationSeconds: seconds })),
    ]),
    [FEED_LIVE, feedEpisodes(FEED_LIVE, LIVE_COUNT, 0).map(({ guid, url }) => ({ guid, url }))],
  ]);
const kastsCatalog = () => kastsCatalogOf([...FEEDS, [FEED_LIVE, LIVE_COUNT, 0]]);

const action = (fields: Record<string, unknown>) => ({
  podcast: FEED_NEWS,
  episode: mediaOf(FEED_NEWS, 1),
  guid: null,
  action: 'PLAY',
  timestamp: '2026-03-01T10:00:00',
  started: 0,
  position: 10,
  total: 1800,
  ...fields,
});

describe('GNOME Podcasts replica: how it reads answers', () => {
  it('needs started, position and total as 32-bit integers in every action, and podcast and episode as strings; guid may be absent or null', () => {
    expect(parseGnomeAction(action({ action: 'download', started: -1, position: -1, total: -1 }))).to.include({ action: 'DOWNLOAD', guid: undefined });
    const { guid: _guid, ...withoutGuid } = action({});
    expect(parseGnomeAction(withoutGuid).guid).to.equal(undefined);
    const { started: _started, ...withoutStarted } = action({ action: 'DELETE' });
    expect(() => parseGnomeAction(withoutStarted)).to.throw(GnomeSyncError, 'missing field `started`');
    expect(() => parseGnomeAction(action({ total: null }))).to.throw(GnomeSyncError, 'expected an integer');
    expect(() => parseGnomeAction(action({ position: 2 ** 31 }))).to.throw(GnomeSyncError, 'out of range');
    expect(() => parseGnomeAction(action({ podcast: null }))).to.throw(GnomeSyncError, 'expected a string');
    expect(() => parseGnomeAction(action({ action: 'update' }))).to.throw(GnomeSyncError, 'gpodder-Action');
    // A number written as a float is refused where an integer is wanted (serde_json), ignored elsewhere.
    expect(() => parseEpisodeGet(`{"actions":[${JSON.stringify(action({})).replace('"position":10', '"position":10.0')}],"timestamp":1}`)).to.throw(
      GnomeSyncError,
      'expected an integer',
    );
    expect(parseEpisodeGet(`{"actions":[],"timestamp":5,"extra":1.5}`).timestamp).to.equal(5);
    expect(() => parseSubscriptionGet('{"add":[],"timestamp":1}')).to.throw(GnomeSyncError, 'missing field `remove`');
    expect(() => parseSubscriptionGet('not json')).to.throw(GnomeSyncError, 'RequestError');
  });

  it('reads timestamps without a zone as UTC, or RFC 3339 with a zone; a fraction without a zone fails', () => {
    expect(parseChronoTimestamp('2026-03-01T10:00:00')).to.equal(Date.UTC(2026, 2, 1, 10));
    expect(parseChronoTimestamp('2026-03-01T12:00:00+02:00')).to.equal(Date.UTC(2026, 2, 1, 10));
    expect(parseChronoTimestamp('2026-03-01T10:00:00.250Z')).to.equal(Date.UTC(2026, 2, 1, 10, 0, 0, 250));
    for (const unreadable of ['2026-03-01T10:00:00.250', '2026-03-01 10:00:00', '2026-03-01T10:00', '2026-03-01T10:00:00+0200', '1772359200']) {
      expect(parseChronoTimestamp(unreadable), unreadable).to.equal(undefined);
      expect(() => parseGnomeAction(action({ timestamp: unreadable })), unreadable).to.throw(GnomeSyncError);
    }
  });

  it('takes a play as finished near the end, and whenever the total is below 7 minutes and the position within 35 s of it (an unknown total, -1, included)', () => {
    expect(finishedPlay({ position: 1750, total: 1800 })).to.equal(true);
    expect(finishedPlay({ position: 1000, total: 1800 })).to.equal(false);
    expect(finishedPlay({ position: 390, total: 419 })).to.equal(true);
    expect(finishedPlay({ position: 200, total: 419 })).to.equal(false);
    expect(finishedPlay({ position: 0, total: 0 })).to.equal(true);
    expect(finishedPlay({ position: 600, total: -1 })).to.equal(true);
  });

  it('finds an app password in Nextcloud’s OCS XML, and none in anything else', () => {
    const ocs = '<?xml version="1.0"?>\n<ocs><meta><status>ok</status><statuscode>200</statuscode></meta><data><apppassword>abc123</apppassword></data></ocs>';
    expect(parseAppPasswordXml(ocs)).to.equal('abc123');
    expect(() => parseAppPasswordXml('{"ocs":{"data":{"apppassword":"abc123"}}}')).to.throw(GnomeSyncError, 'No apppassword found');
  });
});

describe('GNOME Podcasts replica against the service (Nextcloud gPodder Sync)', function () {
  this.timeout(60_000);
  let accounts = 0;
  const time = new ForwardTime();
  const served = servedForTests(time);
  let service: TestService;
  let base: string;
  before(() => ({ service, base } = served()));

  /** GNOME Podcasts connected as its "Log in with browser" does it: Login Flow v2, the user granting in the browser, then the first sync. */
  function connect(app: GnomePodcasts, username: string, password = PASSWORD) {
    return app.connectWithBrowser(base, (login) => grantInBrowser(login, username, password), { pollDelayMs: 20 });
  }

  /** A new account with Kasts on a laptop (news and talk, connected first) and GNOME Podcasts (whose clock may be off). */
  async function setUp(options: { skewMs?: number; prepare?: (app: GnomePodcasts) => void } = {}) {
    const { username, token } = await service.login(`gnome-${++accounts}`, PASSWORD);
    const laptop = new KastsDevice({ catalog: kastsCatalog() });
    laptop.subscribe(FEED_NEWS);
    laptop.subscribe(FEED_TALK);
    await laptop.connectGpodder(base, username, PASSWORD, 'laptop');
    const skew = options.skewMs ?? 0;
    const app = new GnomePodcasts({ catalog: gnomeCatalog(), clock: () => Date.now() + skew });
    options.prepare?.(app);
    await connect(app, username);
    return { username, token, laptop, app };
  }

  const requestsOf = (app: GnomePodcasts, from = 0) =>
    app.http.log.slice(from).map((exchange) => `${exchange.method} ${new URL(exchange.url).pathname}${new URL(exchange.url).search}`);

  it('connects with the browser as the app does: Login Flow v2, then every request with the app password it was given', async () => {
    const { username, token, app } = await setUp({ prepare: (gnome) => gnome.subscribe(FEED_DOCS) });
    const requests = requestsOf(app);
    expect(requests[0]).to.equal('POST /index.php/login/v2');
    const polls = requests.filter((request) => request === 'POST /index.php/login/v2/poll');
    expect(polls.length).to.be.at.least(1);
    expect(app.http.log.filter((exchange) => exchange.url.endsWith('/poll')).at(-1)!.status).to.equal(200);
    // The first sync: everything (no since), then its feeds up.
    expect(requests.slice(1 + polls.length)).to.deep.equal([
      'GET /index.php/apps/gpoddersync/subscriptions',
      'GET /index.php/apps/gpoddersync/episode_action',
      'POST /index.php/apps/gpoddersync/subscription_change/create',
    ]);
    // It keeps the `server` the poll answered, and is named after its User-Agent among the account's app passwords.
    expect(app.settings).to.include({ server: base, user: username });
    const sync = app.http.log.at(-1)!;
    expect(sync.requestHeaders['user-agent']).to.equal(GNOME_PODCASTS_USER_AGENT);
    const [user, appPassword] = Buffer.from(sync.requestHeaders['authorization']!.replace(/^Basic /, ''), 'base64')
      .toString('utf8')
      .split(':');
    expect(user).to.equal(username);
    expect(appPassword).to.not.equal(PASSWORD);
    const passwords = (await service.http.get('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`)).body.app_passwords as { name: string }[];
    expect(passwords.map((password) => password.name)).to.deep.equal([GNOME_PODCASTS_USER_AGENT]);
    expect(app.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_NEWS, FEED_TALK]);
  });

  it('logs in with the account password as its "Log in" does: OCS getapppassword, then every request with the app password it got; its logout revokes it', async () => {
    const { username, token } = await service.login(`gnome-${++accounts}`, PASSWORD);
    const app = new GnomePodcasts({ catalog: gnomeCatalog() });
    app.subscribe(FEED_NEWS);
    expect(await app.connectWithPassword(base, username, PASSWORD)).to.include({ kind: 'Done' });
    expect(requestsOf(app)).to.deep.equal([
      'GET /ocs/v2.php/core/getapppassword',
      'GET /index.php/apps/gpoddersync/subscriptions',
      'GET /index.php/apps/gpoddersync/episode_action',
      'POST /index.php/apps/gpoddersync/subscription_change/create',
    ]);
    const basicPassword = (exchange: { requestHeaders: Readonly<Record<string, string>> }) =>
      Buffer.from(exchange.requestHeaders['authorization']!.replace(/^Basic /, ''), 'base64')
        .toString('utf8')
        .split(':')[1];
    const appPassword = basicPassword(app.http.log.at(-1)!);
    expect(appPassword, 'the account password is not what it keeps').to.not.equal(PASSWORD);
    const listed = async () =>
      ((await service.http.get('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`)).body.app_passwords as { name: string }[]).map(
        (password) => password.name,
      );
    expect(await listed()).to.deep.equal([GNOME_PODCASTS_USER_AGENT]);

    // An app password typed as the password: 403, and it is kept as it is.
    const created = await service.http.post('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`).send({ name: 'typed into GNOME Podcasts' });
    const other = new GnomePodcasts({ catalog: gnomeCatalog() });
    expect(await other.connectWithPassword(base, username, created.body.password as string)).to.include({ kind: 'Done' });
    expect(other.http.log[0]!.status).to.equal(403);
    expect(basicPassword(other.http.log.at(-1)!)).to.equal(created.body.password);
    expect(other.feeds).to.deep.equal([FEED_NEWS]);

    // Logging out deletes the app password it got.
    expect(await app.logout()).to.equal(true);
    expect(await listed()).to.deep.equal(['typed into GNOME Podcasts']);
  });

  it('first sync: posts what its database holds, less the feeds and the further plays already on the server', async () => {
    const { username } = await service.login(`gnome-${++accounts}`, PASSWORD);
    const laptop = new KastsDevice({ catalog: kastsCatalog() });
    laptop.subscribe(FEED_NEWS);
    await laptop.connectGpodder(base, username, PASSWORD, 'laptop');
    laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 1), 0, 900_000);
    await laptop.sync();
    time.advance(MINUTE);

    // Before sync was set up: two feeds, positions (one behind the laptop's), a finished and a downloaded episode.
    const app = new GnomePodcasts({ catalog: gnomeCatalog() });
    app.subscribe(FEED_NEWS);
    app.subscribe(FEED_DOCS);
    app.play(FEED_NEWS, guidOf(FEED_NEWS, 1), 300);
    app.play(FEED_NEWS, guidOf(FEED_NEWS, 2), 500);
    app.markPlayed(FEED_DOCS, guidOf(FEED_DOCS, 1));
    app.downloaded(FEED_NEWS, guidOf(FEED_NEWS, 3));
    expect(app.pendingDeltas, 'nothing is stored as a delta before the first sync').to.deep.equal([]);
    await connect(app, username);

    const posted = (path: string) => JSON.parse(app.http.log.find((exchange) => exchange.url.endsWith(path))!.requestBody!) as unknown;
    expect(posted('/subscription_change/create')).to.deep.equal({ add: [FEED_DOCS], remove: [] });
    const actions = posted('/episode_action/create') as { episode: string; action: string; position: number; total: number; guid: string }[];
    expect(actions.map(({ action: kind, guid, position, total }) => [kind, guid, position, total])).to.have.deep.members([
      ['PLAY', guidOf(FEED_NEWS, 2), 500, 1800],
      ['PLAY', guidOf(FEED_DOCS, 1), 2400, 2400],
      ['DOWNLOAD', guidOf(FEED_NEWS, 3), -1, -1],
    ]);
    // The laptop's further position was applied here, and what went up reaches the laptop.
    expect(app.episode(FEED_NEWS, guidOf(FEED_NEWS, 1))?.playPosition).to.equal(900);
    time.advance(MINUTE);
    await laptop.sync();
    expect(laptop.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_NEWS]);
    expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 2))?.playposition).to.equal(500_000);
    expect(laptop.entry(FEED_DOCS, guidOf(FEED_DOCS, 1))?.read).to.equal(true);
  });

  it('later syncs: downloads since its last sync, applies it, uploads its deltas; subscriptions, positions and finished episodes cross both ways', async () => {
    const { laptop, app } = await setUp();
    const lastSync = app.settings!.lastSync!;
    time.advance(MINUTE);

    // Listened on the desktop: a position, and an episode to its end.
    app.play(FEED_NEWS, guidOf(FEED_NEWS, 1), 700);
    app.finish(FEED_NEWS, guidOf(FEED_NEWS, 2));
    const from = app.http.log.length;
    expect((await app.quickSync()).fullRefresh).to.equal(false);
    expect(requestsOf(app, from)).to.deep.equal([
      `GET /index.php/apps/gpoddersync/subscriptions?since=${lastSync}`,
      `GET /index.php/apps/gpoddersync/episode_action?since=${lastSync}`,
      'POST /index.php/apps/gpoddersync/episode_action/create',
    ]);
    expect(app.pendingDeltas).to.deep.equal([]);
    time.advance(MINUTE);
    await laptop.sync();
    expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 1))?.playposition).to.equal(700_000);
    expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 2))?.read).to.equal(true);

    // On the laptop: further in the first, another finished, a feed added and one dropped.
    time.advance(MINUTE);
    laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 1), 700_000, 1_000_000);
    laptop.markPlayed(FEED_NEWS, guidOf(FEED_NEWS, 4));
    laptop.subscribe(FEED_DOCS);
    laptop.unsubscribe(FEED_TALK);
    await laptop.sync();
    time.advance(MINUTE);
    await app.quickSync();
    expect(app.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_NEWS]);
    expect(app.episode(FEED_NEWS, guidOf(FEED_NEWS, 1))).to.include({ playPosition: 1000, played: undefined });
    expect(app.episode(FEED_NEWS, guidOf(FEED_NEWS, 4))?.played).to.be.a('number');

    // Back on the desktop: talk again, docs dropped. They go up; but the answer, read from ten
    // minutes before its last sync, holds the laptop's opposite changes again, and the app takes
    // the server's side whenever its own change is older than the answer's `timestamp`
    // (download.rs): for one sync, talk is gone here and docs back.
    time.advance(MINUTE);
    app.subscribe(FEED_TALK);
    app.unsubscribe(FEED_DOCS);
    await app.quickSync();
    expect(app.feeds.sort(), 'after its own changes').to.deep.equal([FEED_DOCS, FEED_NEWS]);
    time.advance(MINUTE);
    await laptop.sync();
    expect(laptop.feeds.sort()).to.deep.equal([FEED_NEWS, FEED_TALK]);
    // Its next syncs read its own changes, the newest of each feed, and keep them.
    for (let run = 0; run < 2; run++) {
      time.advance(MINUTE);
      await app.quickSync();
      expect(app.feeds.sort(), `sync ${run + 1} after`).to.deep.equal([FEED_NEWS, FEED_TALK]);
    }
  });

  // Its `since` is its own clock at the start of its last sync: a clock off the server's must lose nothing.
  for (const skew of [-5 * MINUTE, 5 * MINUTE, 9 * MINUTE]) {
    it(`loses nothing the laptop writes when its clock runs ${Math.abs(skew) / MINUTE} minutes ${skew < 0 ? 'behind' : 'ahead of'} the server's`, async () => {
      const { laptop, app } = await setUp({ skewMs: skew });
      // Right after its first sync.
      time.advance(5_000);
      laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 5), 0, 600_000);
      laptop.subscribe(FEED_DOCS);
      await laptop.sync();
      time.advance(MINUTE);
      await app.quickSync();
      expect(app.episode(FEED_NEWS, guidOf(FEED_NEWS, 5))?.playPosition).to.equal(600);
      expect(app.feeds).to.include(FEED_DOCS);

      // Between its download and its upload.
      app.play(FEED_TALK, guidOf(FEED_TALK, 1), 120);
      app.http.beforeNext(
        (method, url) => method === 'POST' && url.pathname.endsWith('/episode_action/create'),
        async () => {
          laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 6), 0, 300_000);
          laptop.unsubscribe(FEED_DOCS);
          await laptop.sync();
        },
      );
      await app.quickSync();
      // Its next sync half an hour later.
      time.advance(30 * MINUTE);
      await app.quickSync();
      expect(app.episode(FEED_NEWS, guidOf(FEED_NEWS, 6))?.playPosition).to.equal(300);
      expect(app.feeds).to.not.include(FEED_DOCS);

      // And what it wrote reached the laptop.
      await laptop.sync();
      expect(laptop.entry(FEED_TALK, guidOf(FEED_TALK, 1))?.playposition).to.equal(120_000);
    });
  }

  it('the end of a stream of unknown length (uploaded as 0 of 0) reaches the other app and the account as finished', async () => {
    const { token, laptop, app } = await setUp({ prepare: (gnome) => gnome.subscribe(FEED_LIVE) });
    time.advance(MINUTE);
    await laptop.sync();
    expect(laptop.feeds).to.include(FEED_LIVE);
    time.advance(MINUTE);
    app.finish(FEED_LIVE, guidOf(FEED_LIVE, 1));
    const from = app.http.log.length;
    await app.quickSync();
    const uploaded = app.http.log.slice(from).find((exchange) => exchange.url.endsWith('/episode_action/create'));
    const finish = (JSON.parse(uploaded!.requestBody!) as Record<string, unknown>[]).find((sent) => sent['podcast'] === FEED_LIVE);
    expect(finish).to.include({ episode: mediaOf(FEED_LIVE, 1), action: 'PLAY', started: 0, position: 0, total: 0 });
    time.advance(MINUTE);
    await laptop.sync();
    expect(laptop.entry(FEED_LIVE, guidOf(FEED_LIVE, 1))?.read, 'Kasts marks it played').to.equal(true);
    const statuses = await service.http.get('/v1/play-statuses').set('Authorization', `Bearer ${token}`);
    const status = (statuses.body.play_statuses as { rss_source_id: string; played: boolean }[]).find((s) => s.rss_source_id === guidOf(FEED_LIVE, 1));
    expect(status?.played, 'the account').to.equal(true);
  });

  it('reads every answer, whatever form other apps uploaded their actions in', async () => {
    const { username, token, app } = await setUp();
    const upload = await service.http
      .post(`/api/2/episodes/${username}.json`)
      .set('Authorization', `Bearer ${token}`)
      .send([
        { podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 7), action: 'download', timestamp: '2026-03-01T10:00:00' },
        { podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 7), action: 'delete', timestamp: '2026-03-01T11:00:00.5' },
        {
          podcast: FEED_NEWS,
          episode: mediaOf(FEED_NEWS, 8),
          guid: guidOf(FEED_NEWS, 8),
          action: 'Play',
          timestamp: '2026-03-01T14:00:00+02:00',
          position: 30.6,
          total: '1800',
        },
        { podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 9), action: 'new', timestamp: 1772366400 },
        { podcast: FEED_TALK, episode: mediaOf(FEED_TALK, 9), action: 'play', timestamp: '2026-03-01 12:00:00', started: 5, position: 65, total: 3600 },
      ]);
    expect(upload.status).to.equal(200);
    time.advance(MINUTE);
    const from = app.http.log.length;
    expect((await app.quickSync()).fullRefresh).to.equal(false);
    const answers = app.http.log.slice(from).filter((exchange) => exchange.method === 'GET');
    expect(answers.map((exchange) => exchange.status)).to.deep.equal([200, 200]);
    parseSubscriptionGet(answers[0]!.responseBody);
    const { actions } = parseEpisodeGet(answers[1]!.responseBody);
    const byEpisode = (url: string) => actions.filter((read) => read.episode === url);
    expect(byEpisode(mediaOf(FEED_NEWS, 7)).map((read) => [read.action, read.position])).to.deep.equal([
      ['DOWNLOAD', -1],
      ['DELETE', -1],
    ]);
    expect(byEpisode(mediaOf(FEED_NEWS, 8))[0]).to.include({ action: 'PLAY', position: 31, total: 1800, timestamp: Date.UTC(2026, 2, 1, 12) });
    expect(byEpisode(mediaOf(FEED_NEWS, 9))[0]).to.include({ action: 'NEW', timestamp: 1772366400_000 });
    expect(app.episode(FEED_NEWS, guidOf(FEED_NEWS, 8))?.playPosition).to.equal(31);
    expect(app.episode(FEED_TALK, guidOf(FEED_TALK, 9))).to.include({ playPosition: 65, played: undefined });
  });

  it('reads a play whose total no app told (answered -1, as Nextcloud does) as finished: a finding about the app, not the server', async () => {
    const { username, token, app } = await setUp();
    const upload = await service.http
      .post(`/api/2/episodes/${username}.json`)
      .set('Authorization', `Bearer ${token}`)
      .send([{ podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 10), action: 'play', timestamp: '2026-03-01T10:00:00', position: 600 }]);
    expect(upload.status).to.equal(200);
    time.advance(MINUTE);
    await app.quickSync();
    const answer = parseEpisodeGet(app.http.log.filter((exchange) => exchange.url.includes('/episode_action?')).at(-1)!.responseBody);
    expect(answer.actions.find((read) => read.episode === mediaOf(FEED_NEWS, 10))).to.include({ position: 600, total: -1 });
    expect(app.episode(FEED_NEWS, guidOf(FEED_NEWS, 10))?.played, 'finished_play: a total below 420 s').to.be.a('number');
  });

  it('an action for an episode its feed no longer lists fails its quick syncs, which fall back to refreshing every feed, as long as the server delivers it again', async () => {
    // The news feed lists its last 19 episodes: the first, which the laptop fetched when it was new, is gone from it.
    const { username } = await service.login(`gnome-${++accounts}`, PASSWORD);
    const laptop = new KastsDevice({ catalog: kastsCatalog() });
    laptop.subscribe(FEED_NEWS);
    await laptop.connectGpodder(base, username, PASSWORD, 'laptop');
    const catalog = gnomeCatalog();
    catalog.set(
      FEED_NEWS,
      catalog.get(FEED_NEWS)!.filter((episode) => episode.guid !== guidOf(FEED_NEWS, 1)),
    );
    const app = new GnomePodcasts({ catalog });
    await connect(app, username);
    time.advance(MINUTE);
    laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 1), 0, 60_000);
    await laptop.sync();
    const fallbacks: boolean[] = [];
    for (let run = 0; run < 3; run++) {
      time.advance(2 * MINUTE);
      fallbacks.push((await app.quickSync()).fullRefresh);
    }
    // Read again within the server's ten-minute margin, so every quick sync in it falls back (the fallback completes each time).
    expect(fallbacks).to.deep.equal([true, true, true]);
    expect(app.logged.filter((line) => line.startsWith('Sync: Episode not found locally'))).to.have.length(6);
    // Once its last sync started ten minutes after the play was recorded, the play is not read again.
    time.advance(11 * MINUTE);
    await app.quickSync();
    time.advance(MINUTE);
    expect((await app.quickSync()).fullRefresh).to.equal(false);
  });

  it('an app password revoked on the Access page fails its syncs and keeps its changes; logged in again, they go up', async () => {
    const { username, token, laptop, app } = await setUp();
    const passwords = (await service.http.get('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`)).body.app_passwords as { id: string }[];
    for (const { id } of passwords)
      expect((await service.http.delete(`/v1/auth/app-passwords/${id}`).set('Authorization', `Bearer ${token}`)).status).to.equal(204);
    const lastSync = app.settings!.lastSync;
    time.advance(MINUTE);
    app.play(FEED_NEWS, guidOf(FEED_NEWS, 11), 420);
    const failure = await app.quickSync().catch((error: unknown) => error);
    // 401 with a JSON error: the subscription answer does not read (reqwest's `json()` checks no status).
    expect(failure).to.be.instanceOf(GnomeSyncError).with.property('kind', 'RequestError');
    expect(app.http.log.at(-1)!.status).to.equal(401);
    expect(app.settings!.lastSync).to.equal(lastSync);
    expect(app.pendingDeltas).to.deep.equal([`P ${FEED_NEWS} ${guidOf(FEED_NEWS, 11)}`]);

    time.advance(MINUTE);
    await connect(app, username);
    expect(app.pendingDeltas).to.deep.equal([]);
    time.advance(MINUTE);
    await laptop.sync();
    expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 11))?.playposition).to.equal(420_000);
  });
});
