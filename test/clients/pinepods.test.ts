/**
 * PinePods's sync, replicated from its source (test/clients/pinepods.ts), against the running
 * service over real HTTP, through both of its providers that target this kind of server: an
 * external gpodder server (the account password; a login before every request) and Nextcloud
 * gPodder Sync (Login Flow v2, then the app password as Basic). Kasts on a laptop (its replica,
 * through gpodder.net) is the other app of the account. PinePods keeps its own clock as its
 * `since`, so its clock is set a few minutes off the server's where that matters.
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import type { PinePodsCatalog } from './pinepods.js';
import { JsonFloat, PINEPODS_COMMIT, PinePods, PinePodsError, asI64, parseSerdeJson, pinePodsActionTime, toRfc3339 } from './pinepods.js';
import { KastsDevice } from './kasts.js';
import { ForwardTime } from './forward-time.js';
import { grantInBrowser } from './nextcloud-login.js';
import { servedForTests } from './served.js';
import { basicHeader } from '../http/gpodder/support.js';
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

const FEEDS = [...LISTENING_FEEDS, [FEED_LIVE, 3, 0]] as const;
const CATALOG: PinePodsCatalog = new Map(
  FEEDS.map(([feed, count, seconds]) => [
    feed,
    feedEpisodes(feed, count, seconds).map(({ guid, url }) => ({ guid, url, durationSeconds: seconds === 0 ? null : seconds })),
  ]),
);
const kastsCatalog = () => kastsCatalogOf(FEEDS);
/** The schedule's interval (`PINEPODS_REFRESH_CRON`, every 30 minutes by default). */
const INTERVAL = 30 * MINUTE;

describe('PinePods replica: how it reads answers', () => {
  it('is the commit its header names', () => {
    expect(PINEPODS_COMMIT).to.match(/^[0-9a-f]{40}$/);
  });

  it('takes integers where it asks as_i64: a float, even 12.0, is none', () => {
    const parsed = parseSerdeJson('{"position":12.0,"total":1e3,"started":7,"label":"1.5"}') as Record<string, unknown>;
    expect(parsed['position']).to.be.instanceOf(JsonFloat);
    expect(asI64(parsed['position'])).to.equal(undefined);
    expect(asI64(parsed['total'])).to.equal(undefined);
    expect(asI64(parsed['started'])).to.equal(7);
    expect(parsed['label']).to.equal('1.5');
  });

  it('reads action times as integer seconds, RFC 3339, or exactly %Y-%m-%dT%H:%M:%S (no fraction without a zone)', () => {
    const now = Date.UTC(2026, 6, 1);
    expect(pinePodsActionTime(1_767_261_600, now)).to.equal(Date.UTC(2026, 0, 1, 10));
    expect(pinePodsActionTime('2026-01-01T10:00:00', now)).to.equal(Date.UTC(2026, 0, 1, 10));
    expect(pinePodsActionTime('2026-01-01T12:00:00+02:00', now)).to.equal(Date.UTC(2026, 0, 1, 10));
    expect(pinePodsActionTime('2026-01-01T10:00:00.250Z', now)).to.equal(Date.UTC(2026, 0, 1, 10, 0, 0, 250));
    expect(pinePodsActionTime('2026-01-01T10:00:00.250', now)).to.equal(undefined);
    expect(pinePodsActionTime('2026-01-01 10:00:00', now)).to.equal(undefined);
    expect(pinePodsActionTime('2026-02-30T10:00:00', now)).to.equal(undefined);
    expect(pinePodsActionTime(null, now)).to.equal(undefined);
  });

  it('writes its own times as to_rfc3339 does: +00:00, a fraction only when there is one', () => {
    expect(toRfc3339(Date.UTC(2026, 0, 1, 10))).to.equal('2026-01-01T10:00:00+00:00');
    expect(toRfc3339(Date.UTC(2026, 0, 1, 10, 0, 0, 250))).to.equal('2026-01-01T10:00:00.250+00:00');
  });
});

for (const provider of ['gpodder', 'nextcloud'] as const) {
  describe(`PinePods replica through its ${provider === 'gpodder' ? 'external gpodder server' : 'Nextcloud'} sync`, function () {
    this.timeout(60_000);
    let accounts = 0;
    const time = new ForwardTime();
    const served = servedForTests(time);
    let service: TestService;
    let base: string;
    before(() => ({ service, base } = served()));

    /** PinePods connected as its settings page does it, its clock `skewMs` off the server's. */
    async function connect(username: string, options: { skewMs?: number; local?: readonly string[]; password?: string } = {}): Promise<PinePods> {
      const pinepods = new PinePods(CATALOG, { clock: () => Date.now() + (options.skewMs ?? 0) });
      for (const feed of options.local ?? []) pinepods.subscribe(feed);
      if (provider === 'gpodder') await pinepods.connectGpodder(base, username, options.password ?? PASSWORD);
      else await pinepods.connectNextcloud(base, (login) => grantInBrowser(login, username, PASSWORD), { pollIntervalMs: 50, timeoutMs: 3_000 });
      return pinepods;
    }

    /** PinePods's next sync, as its schedule runs it. */
    const sync = (pinepods: PinePods) => (provider === 'gpodder' ? pinepods.scheduledSync() : pinepods.nextcloudSync());

    /** A new account with Kasts on a laptop (news and talk), then PinePods connected (docs of its own). */
    async function setUp(options: { skewMs?: number; before?: (laptop: KastsDevice) => void } = {}) {
      const { username, token } = await service.login(`pinepods-${provider}-${++accounts}`, PASSWORD);
      const laptop = new KastsDevice({ catalog: kastsCatalog() });
      laptop.subscribe(FEED_NEWS);
      laptop.subscribe(FEED_TALK);
      await laptop.connectGpodder(base, username, PASSWORD, 'laptop');
      options.before?.(laptop);
      await laptop.sync();
      time.advance(MINUTE);
      const pinepods = await connect(username, { skewMs: options.skewMs ?? 0, local: [FEED_DOCS] });
      time.advance(MINUTE);
      return { username, token, laptop, pinepods };
    }

    /** The requests of PinePods from `from` on: method, path and query, status. */
    const requests = (pinepods: PinePods, from = 0) =>
      pinepods.wire.log.slice(from).map((exchange) => {
        const url = new URL(exchange.url);
        return `${exchange.method} ${url.pathname}${url.search} ${exchange.status}`;
      });

    /** The bodies of its episode action uploads from `from` on. */
    const uploadedActions = (pinepods: PinePods, from = 0) =>
      pinepods.wire.log
        .slice(from)
        .filter((exchange) => exchange.method === 'POST' && /\/episodes\/[^/]+\.json$|episode_action\/create$/.test(new URL(exchange.url).pathname))
        .map((exchange) => ({ status: exchange.status, actions: JSON.parse(exchange.requestBody!) as Record<string, unknown>[] }));

    it('connects as its settings page does, and the first sync merges both libraries', async () => {
      const { username, laptop, pinepods } = await setUp();
      const log = requests(pinepods);
      if (provider === 'gpodder') {
        // Verified, the first device taken as its default, the initial full sync, then the UI's refresh.
        const login = `POST /api/2/auth/${username}/login.json 200`;
        expect(log).to.deep.equal([
          login,
          login,
          `GET /api/2/devices/${username}.json 200`,
          // call_gpodder_initial_full_sync
          login,
          `GET /api/2/devices/${username}.json 200`,
          login,
          `GET /api/2/subscriptions/${username}/kasts-laptop.json?since=0 200`,
          login,
          `GET /api/2/episodes/${username}.json?since=0 200`,
          login,
          `POST /api/2/subscriptions/${username}/kasts-laptop.json 200`,
          // gpodder_sync: the cursor was cleared, so since=0 again; nothing local is new
          login,
          `GET /api/2/devices/${username}.json 200`,
          login,
          `GET /api/2/subscriptions/${username}/kasts-laptop.json?since=0 200`,
          login,
          `GET /api/2/episodes/${username}.json?since=0 200`,
        ]);
        expect(pinepods.settings?.defaultDevice).to.equal('kasts-laptop');
        // After a login, the request goes with the session cookie alone.
        for (const exchange of pinepods.wire.log.filter((exchange) => !exchange.url.includes('/auth/'))) {
          expect(exchange.requestHeaders['cookie'], exchange.url).to.match(/^sessionid=/);
          expect(exchange.requestHeaders['authorization'], exchange.url).to.equal(undefined);
        }
      } else {
        // The flow started without a body; polled with a JSON body (404 before the user's grant);
        // then Basic with the login name and the app password.
        const app = '/index.php/apps/gpoddersync';
        expect(log).to.deep.equal([
          'POST /index.php/login/v2 200',
          'POST /index.php/login/v2/poll 404',
          'POST /index.php/login/v2/poll 200',
          `GET ${app}/subscriptions?since=0 200`,
          `GET ${app}/episode_action?since=0 200`,
          `POST ${app}/subscription_change/create 200`,
        ]);
        const poll = pinepods.wire.log[1]!;
        expect(poll.requestHeaders['content-type']).to.equal('application/json');
        expect(JSON.parse(poll.requestBody!)).to.have.keys(['token']);
        expect(pinepods.settings?.loginName).to.equal(username);
        const basic = pinepods.wire.log.at(-1)!.requestHeaders['authorization']!;
        expect(Buffer.from(basic.replace(/^Basic /, ''), 'base64').toString('utf8')).to.match(new RegExp(`^${username}:.{20,}$`));
        expect(basic).to.not.equal(basicHeader(username, PASSWORD));
      }
      expect(pinepods.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_NEWS, FEED_TALK].sort());
      await laptop.sync();
      expect(laptop.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_NEWS, FEED_TALK].sort());
      expect(pinepods.warnings).to.deep.equal([]);
    });

    it(
      provider === 'gpodder'
        ? 'its first sync brings what another app played: a position, and a finished episode marked completed'
        : "its first sync brings nothing another app played: it takes only lower-case actions, and the Nextcloud app's are upper case (a PinePods fault)",
      async () => {
        const { pinepods } = await setUp({
          before: (laptop) => {
            laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 1), 0, 700_000);
            laptop.markPlayed(FEED_NEWS, guidOf(FEED_NEWS, 2));
          },
        });
        if (provider === 'gpodder') {
          expect(pinepods.position(mediaOf(FEED_NEWS, 1))).to.equal(700);
          expect(pinepods.completed(mediaOf(FEED_NEWS, 1))).to.equal(false);
          expect(pinepods.completed(mediaOf(FEED_NEWS, 2))).to.equal(true);
          expect(pinepods.position(mediaOf(FEED_NEWS, 2))).to.equal(1800);
        } else {
          const answer = pinepods.wire.log.find((exchange) => exchange.url.includes('/episode_action?'))!;
          expect((JSON.parse(answer.responseBody) as { actions: { action: string }[] }).actions.map((action) => action.action)).to.include('PLAY');
          expect(pinepods.position(mediaOf(FEED_NEWS, 1))).to.equal(undefined);
          expect(pinepods.completed(mediaOf(FEED_NEWS, 2))).to.equal(false);
        }
      },
    );

    it('what it plays and finishes reaches the other app: its uploads (+00:00 times, sorted keys, no device) are taken', async () => {
      const { laptop, pinepods } = await setUp();
      await laptop.sync();
      const from = pinepods.wire.log.length;
      pinepods.listen(mediaOf(FEED_NEWS, 3), 1_234);
      pinepods.markCompleted(mediaOf(FEED_TALK, 4));
      time.advance(INTERVAL);
      await sync(pinepods);
      const uploads = uploadedActions(pinepods, from);
      expect(uploads).to.have.length(1);
      expect(uploads[0]!.status).to.equal(200);
      expect(uploads[0]!.actions.map((action) => Object.keys(action))).to.deep.equal([
        ['action', 'episode', 'podcast', 'position', 'started', 'timestamp', 'total'],
        ['action', 'episode', 'podcast', 'position', 'started', 'timestamp', 'total'],
      ]);
      for (const action of uploads[0]!.actions) expect(action['timestamp']).to.match(/\+00:00$/);
      time.advance(MINUTE);
      await laptop.sync();
      expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 3))?.playposition).to.equal(1_234_000);
      expect(laptop.entry(FEED_TALK, guidOf(FEED_TALK, 4))?.read).to.equal(true);
    });

    it('its marked-unplayed episode goes up as `new`, which the server takes and answers to other apps', async () => {
      const { username, pinepods } = await setUp();
      pinepods.listen(mediaOf(FEED_DOCS, 1), 100);
      time.advance(INTERVAL);
      await sync(pinepods);
      // A sync later (its upload of the play no longer read again: see below), marked unplayed.
      time.advance(INTERVAL);
      await sync(pinepods);
      time.advance(MINUTE);
      pinepods.markUncompleted(mediaOf(FEED_DOCS, 1));
      time.advance(INTERVAL);
      const from = pinepods.wire.log.length;
      await sync(pinepods);
      const uploads = uploadedActions(pinepods, from);
      expect(uploads.map(({ status, actions }) => [status, actions.map((action) => action['action'])])).to.deep.equal([[200, ['new']]]);
      const answer = await service.http.get(`/api/2/episodes/${username}.json?since=0`).set('Authorization', basicHeader(username, PASSWORD));
      const docs = (answer.body.actions as { episode: string; action: string }[]).filter((action) => action.episode === mediaOf(FEED_DOCS, 1));
      expect(docs.at(-1)?.action).to.equal('new');
    });

    it('subscriptions cross both ways, removals too, and its own unsubscribe sticks', async () => {
      const { laptop, pinepods } = await setUp();
      await laptop.sync();
      laptop.subscribe(FEED_LIVE);
      laptop.unsubscribe(FEED_TALK);
      await laptop.sync();
      time.advance(INTERVAL);
      await sync(pinepods);
      expect(pinepods.feeds.sort(), 'the other app added live and removed talk').to.deep.equal([FEED_DOCS, FEED_LIVE, FEED_NEWS].sort());

      // Unsubscribed here a while after anything touched news: its removal goes up, and news stays gone.
      pinepods.unsubscribe(FEED_NEWS);
      time.advance(INTERVAL);
      await sync(pinepods);
      expect(pinepods.feeds).to.not.include(FEED_NEWS);
      time.advance(INTERVAL);
      await sync(pinepods);
      expect(pinepods.feeds.sort(), 'news not brought back').to.deep.equal([FEED_DOCS, FEED_LIVE].sort());
      time.advance(MINUTE);
      await laptop.sync();
      expect(laptop.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_LIVE].sort());
    });

    it('sends its own clock as since, unix seconds taken at the end of its last sync', async () => {
      const { pinepods } = await setUp();
      const last = pinepods.lastSyncTime!;
      time.advance(INTERVAL);
      const from = pinepods.wire.log.length;
      await sync(pinepods);
      const sinces = pinepods.wire.log
        .slice(from)
        .filter((exchange) => exchange.method === 'GET' && exchange.url.includes('since='))
        .map((exchange) => Number(new URL(exchange.url).searchParams.get('since')));
      expect(sinces.length).to.be.greaterThan(1);
      for (const since of sinces) expect(since).to.equal(Math.floor(last / 1000));
    });

    for (const skew of [5 * MINUTE, -5 * MINUTE]) {
      it(`with its clock ${Math.abs(skew) / MINUTE} minutes ${skew > 0 ? 'ahead of' : 'behind'} the server's, loses nothing the other app wrote during its sync`, async () => {
        const { laptop, pinepods } = await setUp({ skewMs: skew });
        await laptop.sync();
        // Something of its own to upload, and the other app writes just before that upload:
        // after PinePods's downloads, before the clock it takes as its next since.
        pinepods.listen(mediaOf(FEED_DOCS, 2), 300);
        time.advance(INTERVAL);
        pinepods.wire.beforeNext(
          (method, url) => method === 'POST' && /\/episodes\/[^/]+\.json$|episode_action\/create$/.test(url.pathname),
          async () => {
            laptop.subscribe(FEED_LIVE);
            laptop.unsubscribe(FEED_TALK);
            laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 6), 0, 900_000);
            await laptop.sync();
          },
        );
        await sync(pinepods);
        expect(pinepods.feeds).to.not.include(FEED_LIVE);
        time.advance(INTERVAL);
        await sync(pinepods);
        expect(pinepods.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_LIVE, FEED_NEWS].sort());
        if (provider === 'gpodder') expect(pinepods.position(mediaOf(FEED_NEWS, 6))).to.equal(900);
      });
    }

    it('reads every answer under its rules: every kind of action other apps upload, their times as it parses them', async () => {
      const { username, pinepods } = await setUp();
      const upload = await service.http
        .post(`/api/2/episodes/${username}.json`)
        .set('Authorization', basicHeader(username, PASSWORD))
        .send([
          { podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 7), action: 'download', timestamp: '2026-03-01T10:00:00' },
          { podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 7), action: 'delete', timestamp: '2026-03-01T11:00:00' },
          {
            podcast: FEED_NEWS,
            episode: mediaOf(FEED_NEWS, 8),
            action: 'play',
            timestamp: '2026-03-01T12:00:00.123+02:00',
            started: 0,
            position: 50,
            total: 1800,
          },
          { podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 9), action: 'new', timestamp: 1_772_366_400 },
          { podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 10), action: 'PLAY', position: 12.6, total: 1800 },
        ]);
      expect(upload.status).to.equal(200);
      time.advance(INTERVAL);
      const from = pinepods.wire.log.length;
      await sync(pinepods);
      const answers = pinepods.wire.log.slice(from).filter((exchange) => exchange.method === 'GET');
      expect(answers.length).to.be.greaterThan(1);
      for (const answer of answers) {
        expect(answer.status, answer.url).to.equal(200);
        const body = parseSerdeJson(answer.responseBody);
        if (answer.url.includes('/devices/')) continue;
        expect(asI64((body as Record<string, unknown>)['timestamp']), `${answer.url}: an integer timestamp`).to.be.a('number');
        for (const action of ((body as Record<string, unknown>)['actions'] as Record<string, unknown>[] | undefined) ?? []) {
          expect(action['timestamp'], 'a time it reads').to.be.a('string');
          expect(pinePodsActionTime(action['timestamp'], Date.now()), String(action['timestamp'])).to.be.a('number');
          if ('position' in action && action['position'] !== -1) expect(asI64(action['position']), 'an integer position').to.be.a('number');
        }
      }
      if (provider === 'gpodder') {
        expect(pinepods.position(mediaOf(FEED_NEWS, 8))).to.equal(50);
        // 12.6 s, rounded by the server to an integer it reads; its time, the upload's.
        expect(pinepods.position(mediaOf(FEED_NEWS, 10))).to.equal(13);
        expect(pinepods.history.get(mediaOf(FEED_NEWS, 8))?.listenDate).to.equal(Date.UTC(2026, 2, 1, 10));
      } else {
        // Upper case: "Unknown action type" for every one of them.
        expect(pinepods.position(mediaOf(FEED_NEWS, 8))).to.equal(undefined);
      }
      expect(pinepods.warnings.filter((warning) => /parse/i.test(warning))).to.deep.equal([]);
    });

    describe('what it does with what the server sends again from its margin (PinePods faults, reported)', () => {
      it('a podcast it subscribed to comes back if removed before its next sync: its own upload is read again, and it adds what it downloads without a look at its snapshot', async () => {
        const { laptop, pinepods } = await setUp();
        pinepods.subscribe(FEED_LIVE);
        time.advance(INTERVAL);
        await sync(pinepods);
        time.advance(MINUTE);
        pinepods.unsubscribe(FEED_LIVE);
        time.advance(INTERVAL);
        await sync(pinepods);
        expect(pinepods.feeds, 'back').to.include(FEED_LIVE);
        // A sync later its upload is out of the margin: removed again, it stays removed.
        time.advance(MINUTE);
        pinepods.unsubscribe(FEED_LIVE);
        time.advance(INTERVAL);
        await sync(pinepods);
        time.advance(INTERVAL);
        await sync(pinepods);
        expect(pinepods.feeds).to.not.include(FEED_LIVE);
        await laptop.sync();
        expect(laptop.feeds).to.not.include(FEED_LIVE);
      });

      if (provider === 'gpodder') {
        it('a position it reaches after uploading that episode, before its next sync, stays here: its own play, read again, dates the history back before its cursor', async () => {
          const { laptop, pinepods } = await setUp();
          pinepods.listen(mediaOf(FEED_NEWS, 11), 300);
          time.advance(INTERVAL);
          await sync(pinepods);
          time.advance(MINUTE);
          pinepods.listen(mediaOf(FEED_NEWS, 11), 900);
          time.advance(INTERVAL);
          const from = pinepods.wire.log.length;
          await sync(pinepods);
          expect(uploadedActions(pinepods, from)).to.deep.equal([]);
          expect(pinepods.position(mediaOf(FEED_NEWS, 11))).to.equal(900);
          await laptop.sync();
          expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 11))?.playposition).to.equal(300_000);
        });

        it('a finished episode goes up again at the next sync (its own upload, read again, marks it completed anew, dated now), and no more: a finish of a finished episode records nothing', async () => {
          const { pinepods } = await setUp();
          pinepods.markCompleted(mediaOf(FEED_TALK, 5));
          const perSync: number[] = [];
          const events: number[] = [];
          for (let run = 0; run < 3; run++) {
            time.advance(INTERVAL);
            const from = pinepods.wire.log.length;
            const before = await service.eventCount();
            await sync(pinepods);
            events.push((await service.eventCount()) - before);
            perSync.push(
              uploadedActions(pinepods, from)
                .flatMap(({ actions }) => actions)
                .filter((action) => action['episode'] === mediaOf(FEED_TALK, 5)).length,
            );
          }
          // The second upload is the first one read back from the margin; the server records
          // nothing for it (the episode is finished already), so nothing comes back after it.
          expect(perSync).to.deep.equal([1, 1, 0]);
          expect(events).to.deep.equal([1, 0, 0]);
        });
      }
    });

    if (provider === 'gpodder') {
      it('on an account without devices: no default device, so no sync, until one is created from its UI and made the default', async () => {
        const { username } = await service.login(`pinepods-fresh-${++accounts}`, PASSWORD);
        const pinepods = new PinePods(CATALOG);
        pinepods.subscribe(FEED_NEWS);
        await pinepods.connectGpodder(base, username, PASSWORD);
        expect(pinepods.settings?.defaultDevice).to.equal(undefined);
        expect(pinepods.warnings.join('\n')).to.match(/No devices found[\s\S]*No default device configured/);
        const failure = await pinepods.scheduledSync().catch((error: unknown) => error);
        expect(failure).to.be.instanceOf(PinePodsError).with.property('kind', 'BadRequest');

        await pinepods.createDevice('pinepods-web');
        pinepods.setDefaultDevice('pinepods-web');
        await pinepods.scheduledSync();
        const devices = await service.http.get(`/api/2/devices/${username}.json`).set('Authorization', basicHeader(username, PASSWORD));
        expect(devices.body).to.deep.equal([{ id: 'pinepods-web', caption: 'PinePods Internal Device web', type: 'server', subscriptions: 1 }]);
        // "Sync now" names a device of its own for an external server: created on first use.
        pinepods.subscribe(FEED_TALK);
        await pinepods.syncNow();
        const after = await service.http.get(`/api/2/devices/${username}.json`).set('Authorization', basicHeader(username, PASSWORD));
        expect((after.body as { id: string }[]).map((device) => device.id).sort()).to.deep.equal(['pinepods-internal-1', 'pinepods-web']);
        const subscriptions = await service.http.get(`/subscriptions/${username}.json`).set('Authorization', basicHeader(username, PASSWORD));
        expect((subscriptions.body as string[]).sort()).to.deep.equal([FEED_NEWS, FEED_TALK].sort());
      });

      it('a wrong password fails its check before anything is saved', async () => {
        const { username } = await service.login(`pinepods-wrong-${++accounts}`, PASSWORD);
        const pinepods = new PinePods(CATALOG);
        const failure = await pinepods.connectGpodder(base, username, 'not the password').catch((error: unknown) => error);
        expect(failure).to.be.instanceOf(PinePodsError).with.property('kind', 'Unauthorized');
        expect(pinepods.settings).to.equal(undefined);
      });
    } else {
      it('its force-sync button sends the stored (encrypted) token as the password: refused, and nothing changes (a PinePods fault)', async () => {
        const { pinepods } = await setUp();
        const from = pinepods.wire.log.length;
        expect(await pinepods.forceFullSync()).to.equal(false);
        expect(requests(pinepods, from)).to.deep.equal(['GET /index.php/apps/gpoddersync/subscriptions 401']);
      });

      it('a login flow the user denies never gives it credentials: it keeps polling until its timeout', async () => {
        const { username } = await service.login(`pinepods-deny-${++accounts}`, PASSWORD);
        const pinepods = new PinePods(CATALOG);
        const failure = await pinepods
          .connectNextcloud(base, (login) => grantInBrowser(login, username, PASSWORD, { decision: 'deny' }), { pollIntervalMs: 50, timeoutMs: 300 })
          .catch((error: unknown) => error);
        expect(failure).to.be.instanceOf(PinePodsError).with.property('message').that.includes('Polling timeout reached');
        expect(pinepods.settings).to.equal(undefined);
      });
    }
  });
}
