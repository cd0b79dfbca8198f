/**
 * Music Assistant's gPodder provider, replicated from its source (test/clients/music-assistant.ts),
 * against the running service over real HTTP, through both of its ways in: a gpodder server
 * (the account password and a device id) and Nextcloud gPodder Sync (Login Flow v2, then the app
 * password as a bearer token). Kasts on a laptop (its replica, through gpodder.net) is the other
 * app of the account.
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import type { MaCatalog, MaProvider } from './music-assistant.js';
import { MaError, MusicAssistant, fromIsoFormat, newestFirst, parseMaAction } from './music-assistant.js';
import { KastsDevice } from './kasts.js';
import { ForwardTime } from './forward-time.js';
import { grantInBrowser } from './nextcloud-login.js';
import { servedForTests } from './served.js';
import { FEED_DOCS, FEED_NEWS, FEED_TALK, LISTENING_FEEDS, MINUTE, PASSWORD, feedEpisodes, guidOf, kastsCatalogOf, mediaOf } from './fixture-feeds.js';

const FEEDS = LISTENING_FEEDS;
const MA_CATALOG: MaCatalog = new Map(
  FEEDS.map(([feed, count, seconds]) => [feed, feedEpisodes(feed, count, seconds).map(({ guid, url }) => ({ guid, url, durationSeconds: seconds }))]),
);
const kastsCatalog = () => kastsCatalogOf(FEEDS);

describe('Music Assistant replica: how it reads answers', () => {
  it('takes actions by their tag in either case, and refuses an answer with an action it has no type for', () => {
    expect(parseMaAction({ podcast: 'p', episode: 'e', action: 'PLAY', position: 5, total: 9 })).to.include({
      kind: 'play',
      position: 5,
      total: 9,
      started: 0,
    });
    expect(() => parseMaAction({ podcast: 'p', episode: 'e', action: 'Play' })).to.throw(MaError, 'SuitableVariantNotFoundError');
    expect(() => parseMaAction({ episode: 'e', action: 'new' })).to.throw(MaError, 'MissingField');
  });

  it('sorts newest first, leaves the order when a time is unreadable, and raises on zoned and unzoned times mixed', () => {
    const at = (timestamp: string, episode: string) => parseMaAction({ podcast: 'p', episode, action: 'new', timestamp });
    expect(newestFirst([at('2026-01-01T10:00:00', 'a'), at('2026-01-02T10:00:00', 'b'), at('2026-01-01T10:00:00', 'c')]).map((a) => a.episode)).to.deep.equal([
      'b',
      'c',
      'a',
    ]);
    expect(newestFirst([at('2026-01-02T10:00:00', 'a'), at('', 'b')]).map((a) => a.episode)).to.deep.equal(['a', 'b']);
    expect(() => newestFirst([at('2026-01-02T10:00:00Z', 'a'), at('2026-01-01T10:00:00', 'b')])).to.throw(MaError, 'TypeError');
    expect(fromIsoFormat('2026-01-02T10:00:00+0100')?.ms).to.equal(Date.UTC(2026, 0, 2, 9));
  });
});

for (const provider of ['gpodder', 'nextcloud'] as const satisfies readonly MaProvider[]) {
  describe(`Music Assistant replica through its ${provider} provider`, function () {
    this.timeout(60_000);
    let accounts = 0;
    const time = new ForwardTime();
    const served = servedForTests(time);
    let service: TestService;
    let base: string;
    before(() => ({ service, base } = served()));

    /** Music Assistant connected to the account as its setup flow does it. */
    async function connect(username: string, password: string, deviceId: string): Promise<MusicAssistant> {
      const ma = new MusicAssistant(MA_CATALOG);
      if (provider === 'gpodder') await ma.connectGpodder(base, username, password, deviceId);
      else await ma.connectNextcloud(base, (login) => grantInBrowser(login, username, password), { pollIntervalMs: 50 });
      return ma;
    }

    /** A new account with Kasts on a laptop (subscribed to news and talk) and Music Assistant connected. */
    async function setUp(password = PASSWORD) {
      const { username, token } = await service.login(`ma-${provider}-${++accounts}`, password);
      const laptop = new KastsDevice({ catalog: kastsCatalog() });
      laptop.subscribe(FEED_NEWS);
      laptop.subscribe(FEED_TALK);
      await laptop.connectGpodder(base, username, password, 'laptop');
      const ma = await connect(username, password, 'music-assistant');
      return { username, token, laptop, ma };
    }

    it('connects as its setup flow does', async () => {
      const { username, ma } = await setUp();
      const requests = ma.http.log.map((exchange) => `${exchange.method} ${new URL(exchange.url).pathname} ${exchange.status}`);
      if (provider === 'gpodder') {
        expect(requests).to.deep.equal([`POST /api/2/auth/${username}/login.json 200`]);
      } else {
        // The flow started without a body, polled with a form; every later request carries the app password as a bearer token.
        expect(requests[0]).to.equal('POST /index.php/login/v2 200');
        expect(requests.at(-1)).to.equal('POST /index.php/login/v2/poll 200');
        expect(await ma.librarySync()).to.have.members([FEED_NEWS, FEED_TALK]);
        expect(ma.http.log.at(-1)!.requestHeaders['Authorization']).to.match(/^Bearer /);
      }
    });

    it("a library sync brings the account's subscriptions and what another app played into the playlog", async () => {
      const { laptop, ma } = await setUp();
      laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 1), 0, 700_000);
      laptop.markPlayed(FEED_NEWS, guidOf(FEED_NEWS, 2));
      await laptop.sync();
      time.advance(MINUTE);
      expect((await ma.librarySync()).sort()).to.deep.equal([FEED_NEWS, FEED_TALK]);
      expect(ma.playlog.get(`${FEED_NEWS} ${guidOf(FEED_NEWS, 1)}`)).to.deep.equal({ fullyPlayed: false, secondsPlayed: 700 });
      expect(ma.playlog.get(`${FEED_NEWS} ${guidOf(FEED_NEWS, 2)}`)?.fullyPlayed).to.equal(true);
      expect(ma.timestampActions).to.be.greaterThan(0);
    });

    it('resumes where another app stopped after the last library sync, and keeps its playlog when nothing is newer', async () => {
      const { laptop, ma } = await setUp();
      await ma.librarySync();
      time.advance(MINUTE);
      laptop.play(FEED_TALK, guidOf(FEED_TALK, 3), 0, 1_500_000);
      await laptop.sync();
      time.advance(MINUTE);
      expect(await ma.resumePosition(FEED_TALK, guidOf(FEED_TALK, 3))).to.deep.equal({ fullyPlayed: false, positionMs: 1_500_000, source: 'server' });
      expect((await ma.resumePosition(FEED_TALK, guidOf(FEED_TALK, 4))).source).to.equal('playlog');
    });

    it('what it plays reaches the other app; what it marks unplayed reaches another Music Assistant', async () => {
      const { username, laptop, ma } = await setUp();
      await ma.librarySync();
      time.advance(MINUTE);
      expect(await ma.played(FEED_NEWS, guidOf(FEED_NEWS, 5), 1_234), 'sent').to.equal(true);
      expect(await ma.played(FEED_TALK, guidOf(FEED_TALK, 6), 3_600)).to.equal(true);
      await laptop.sync();
      expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 5))?.playposition).to.equal(1_234_000);
      expect(laptop.entry(FEED_TALK, guidOf(FEED_TALK, 6))?.read).to.equal(true);

      time.advance(MINUTE);
      expect(await ma.markUnplayed(FEED_TALK, guidOf(FEED_TALK, 6))).to.equal(true);
      // A second Music Assistant (another home) on the same account: its first library sync reads the whole history.
      const other = await connect(username, PASSWORD, 'music-assistant-2');
      time.advance(MINUTE);
      await other.librarySync();
      expect(other.playlog.get(`${FEED_TALK} ${guidOf(FEED_TALK, 6)}`)).to.deep.equal({ fullyPlayed: false, secondsPlayed: 0 });
      expect(other.playlog.get(`${FEED_NEWS} ${guidOf(FEED_NEWS, 5)}`)).to.deep.equal({ fullyPlayed: false, secondsPlayed: 1_234 });
    });

    it('a feed subscribed after its last library sync comes with the plays it had before', async () => {
      const { username, token, laptop, ma } = await setUp();
      // Played on a phone before anyone subscribed to it here.
      const played = await service.http
        .post(`/api/2/episodes/${username}.json`)
        .set('Authorization', `Bearer ${token}`)
        .send([
          { podcast: FEED_DOCS, episode: mediaOf(FEED_DOCS, 2), device: 'phone', action: 'play', timestamp: '2026-03-01T10:00:00', position: 600, total: 2400 },
        ]);
      expect(played.status).to.equal(200);
      await ma.librarySync();
      expect(ma.feeds.has(FEED_DOCS)).to.equal(false);
      // Past the Nextcloud API's margin: the play is older than anything a download since then answers.
      time.advance(15 * MINUTE);
      laptop.subscribe(FEED_DOCS);
      await laptop.sync();
      time.advance(MINUTE);
      await ma.librarySync();
      expect(ma.feeds.has(FEED_DOCS)).to.equal(true);
      expect(ma.playlog.get(`${FEED_DOCS} ${guidOf(FEED_DOCS, 2)}`)).to.deep.equal({ fullyPlayed: false, secondsPlayed: 600 });
    });

    it('reads every answer: the kinds of action other apps upload, their times in one form (a zone would make it raise)', async () => {
      const { username, token, ma } = await setUp();
      const upload = await service.http
        .post(`/api/2/episodes/${username}.json`)
        .set('Authorization', `Bearer ${token}`)
        .send([
          { podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 7), action: 'download', timestamp: '2026-03-01T10:00:00' },
          { podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 7), action: 'delete', timestamp: '2026-03-01T11:00:00' },
          { podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 8), action: 'play', timestamp: '2026-03-01T12:00:00', position: 50 },
          { podcast: FEED_NEWS, episode: mediaOf(FEED_NEWS, 9), action: 'new', timestamp: '2026-03-01T13:30:00+02:00' },
        ]);
      expect(upload.status).to.equal(200);
      time.advance(MINUTE);
      await ma.librarySync();
      const { actions } = await ma.getEpisodeActions(0);
      expect(actions.map((action) => [action.kind, action.episode])).to.deep.equal([
        ['play', mediaOf(FEED_NEWS, 8)],
        // 11:30 UTC, answered without a zone as every other time.
        ['new', mediaOf(FEED_NEWS, 9)],
        ['delete', mediaOf(FEED_NEWS, 7)],
      ]);
      expect(ma.playlog.get(`${FEED_NEWS} ${guidOf(FEED_NEWS, 9)}`)).to.deep.equal({ fullyPlayed: false, secondsPlayed: 0 });
    });

    if (provider === 'gpodder') {
      it('logs in with a password outside ASCII, which aiohttp sends as ISO-8859-1', async () => {
        const { ma } = await setUp('Fünf Bücher über Café');
        expect(await ma.librarySync()).to.have.members([FEED_NEWS, FEED_TALK]);
      });

      it('a wrong password fails the setup', async () => {
        const { username } = await service.login(`ma-wrong-${++accounts}`, PASSWORD);
        const ma = new MusicAssistant(MA_CATALOG);
        const failure = await ma.connectGpodder(base, username, 'not the password', 'music-assistant').catch((error: unknown) => error);
        expect(failure).to.be.instanceOf(MaError).with.property('kind', 'LoginFailed');
      });
    } else {
      it('an app password revoked on the Access page stops it: the library sync backs off', async () => {
        const { token, ma } = await setUp();
        await ma.librarySync();
        const passwords = (await service.http.get('/v1/auth/app-passwords').set('Authorization', `Bearer ${token}`)).body.app_passwords as { id: string }[];
        for (const { id } of passwords) await service.http.delete(`/v1/auth/app-passwords/${id}`).set('Authorization', `Bearer ${token}`);
        const failure = await ma.librarySync().catch((error: unknown) => error);
        expect(failure).to.be.instanceOf(MaError).with.property('kind', 'ResourceTemporarilyUnavailable');
        expect(await ma.played(FEED_NEWS, guidOf(FEED_NEWS, 1), 10), 'its progress is not sent').to.equal(false);
      });
    }
  });
}
