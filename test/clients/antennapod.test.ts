/**
 * AntennaPod's sync, replicated from its source (test/clients/antennapod.ts), against the
 * running service over real HTTP, through both of AntennaPod's providers: gpodder.net
 * (`/api/2/...`) and Nextcloud gPodder Sync (`/index.php/apps/gpoddersync/...`, the account
 * set up through Login Flow v2). Two (or three) phones of one account each time.
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { EPISODE_ACTIONS_PAGE } from '../../src/services/gpodder-episodes.js';
import type { CatalogEpisode, EpisodeAction, FeedCatalog, SyncRun } from './antennapod.js';
import { AntennaPodDevice, SyncServiceException, UPLOAD_BULK_SIZE, formatActionTimestamp } from './antennapod.js';
import { ForwardTime } from './forward-time.js';
import { servedForTests } from './served.js';
import { BIG_COUNT, FEED_BIG, FEED_DOCS, FEED_LIVE, FEED_NEWS, FEED_TALK, MINUTE, PASSWORD, feedEpisodes, guidOf, mediaOf } from './fixture-feeds.js';
import { antennaPodLoginFlow } from './nextcloud-login.js';

const episodes = (feed: string, count: number, durationSeconds: number): CatalogEpisode[] =>
  feedEpisodes(feed, count, durationSeconds).map(({ guid, url }) => ({ guid, url, duration: durationSeconds * 1000 }));

const CATALOG: FeedCatalog = new Map([
  [FEED_NEWS, episodes(FEED_NEWS, 60, 1800)],
  [FEED_TALK, episodes(FEED_TALK, 60, 3600)],
  [FEED_DOCS, episodes(FEED_DOCS, 5, 2400)],
  [FEED_LIVE, episodes(FEED_LIVE, 3, 0)],
  [FEED_BIG, episodes(FEED_BIG, BIG_COUNT, 600)],
]);

const actionKey = (action: EpisodeAction) =>
  JSON.stringify([action.podcast, action.episode, action.action, action.timestamp, action.started, action.position, action.total]);

interface Provider {
  readonly name: 'gpodder.net' | 'nextcloud';
  connect(device: AntennaPodDevice, base: string, username: string): Promise<SyncRun>;
}

const GPODDER_NET: Provider = {
  name: 'gpodder.net',
  connect: (device, base, username) => device.connectGpodder(base, username, PASSWORD, `AntennaPod on ${device.name}`),
};

const NEXTCLOUD: Provider = {
  name: 'nextcloud',
  async connect(device, base, username) {
    // Login Flow v2 through the device's own HTTP client; the browser is a separate one.
    const login = await antennaPodLoginFlow(base, username, PASSWORD, { http: device.http });
    return device.connectNextcloud(login.server, login.loginName, login.appPassword);
  },
};

for (const provider of [GPODDER_NET, NEXTCLOUD]) {
  describe(`AntennaPod replica through the ${provider.name} provider`, function () {
    this.timeout(60_000);
    let accounts = 0;
    /** Nextcloud's cursor is the server's clock with a 10-minute margin: tests let that pass. */
    const time = new ForwardTime();
    const served = servedForTests(time);
    let service: TestService;
    let base: string;
    before(() => ({ service, base } = served()));

    async function account(): Promise<{ username: string; token: string }> {
      const username = `antennapod-${provider.name === 'nextcloud' ? 'nc' : 'gp'}-${++accounts}`;
      const { token } = await service.login(username, PASSWORD);
      return { username, token };
    }

    /** A phone with these feeds subscribed before sync was set up (nothing queued). */
    function phone(name: string, feeds: readonly string[] = []): AntennaPodDevice {
      const device = new AntennaPodDevice({ name, catalog: CATALOG });
      for (const feed of feeds) device.subscribe(feed);
      return device;
    }

    /** Phones A and B of a new account, connected, both with `feeds` (A had them; B got them by sync). */
    async function pair(feeds: readonly string[]): Promise<{ a: AntennaPodDevice; b: AntennaPodDevice; username: string; token: string }> {
      const { username, token } = await account();
      const a = phone('Pixel A', feeds);
      const b = phone('Pixel B');
      await provider.connect(a, base, username);
      await provider.connect(b, base, username);
      expect([...b.feeds.keys()].sort()).to.deep.equal([...feeds].sort());
      return { a, b, username, token };
    }

    async function playStatus(token: string, feed: string, guid: string): Promise<{ position: number; played: boolean } | undefined> {
      const response = await service.http.get('/v1/play-statuses').set('Authorization', `Bearer ${token}`);
      expect(response.status).to.equal(200);
      const statuses = response.body.play_statuses as { rss_source_feed: string; rss_source_id: string; position: number; played: boolean }[];
      return statuses.find((status) => status.rss_source_feed === feed && status.rss_source_id === guid);
    }

    /** The bodies of the episode-action uploads a device sent since `from` (an index in its log). */
    function uploadedBodies(device: AntennaPodDevice, from = 0): Record<string, unknown>[][] {
      const path = provider.name === 'nextcloud' ? '/index.php/apps/gpoddersync/episode_action/create' : '/api/2/episodes/';
      return device.http.log
        .slice(from)
        .filter((exchange) => exchange.method === 'POST' && new URL(exchange.url).pathname.startsWith(path))
        .map((exchange) => JSON.parse(exchange.requestBody!) as Record<string, unknown>[]);
    }

    it('sets up two phones and syncs subscriptions both ways (the first sync uploads every local feed)', async () => {
      const { username } = await account();
      const a = phone('Pixel A', [FEED_NEWS, FEED_TALK]);
      const b = phone('Pixel B', [FEED_DOCS]);
      // Finished before sync was set up: nothing queued, but the first sync reports it.
      a.markPlayed(FEED_NEWS, guidOf(FEED_NEWS, 1));
      expect(a.queuedActions()).to.deep.equal([]);

      const aFirst = await provider.connect(a, base, username);
      expect(aFirst.outcome).to.equal('success');
      expect(aFirst.uploadedFeeds?.added).to.have.members([FEED_NEWS, FEED_TALK]);
      expect(aFirst.uploadedActions.map(({ action, started, position, total }) => ({ action, started, position, total }))).to.deep.equal([
        { action: 'PLAY', started: 1800, position: 1800, total: 1800 },
      ]);

      const bFirst = await provider.connect(b, base, username);
      expect(bFirst.outcome).to.equal('success');
      expect(
        b.runs.map((run) => run.outcome),
        'B waited for the refresh of the feeds it learnt',
      ).to.deep.equal(['waiting-for-feed-refresh', 'success']);
      expect(b.runs[0]!.subscriptionChanges!.added).to.have.members([FEED_NEWS, FEED_TALK]);
      expect(b.runs[0]!.uploadedFeeds?.added).to.deep.equal([FEED_DOCS]);
      expect([...b.feeds.keys()]).to.have.members([FEED_NEWS, FEED_TALK, FEED_DOCS]);
      expect(b.item(FEED_NEWS, guidOf(FEED_NEWS, 1)), "A's finished episode").to.include({ played: true, position: 0 });

      await a.sync();
      expect([...a.feeds.keys()]).to.have.members([FEED_NEWS, FEED_TALK, FEED_DOCS]);

      a.unsubscribe(FEED_TALK);
      expect((await a.sync()).uploadedFeeds).to.deep.equal({ added: [], removed: [FEED_TALK] });
      b.subscribe(FEED_LIVE);
      const bRun = await b.sync();
      expect(bRun.subscriptionChanges!.removed).to.include(FEED_TALK);
      expect(bRun.uploadedFeeds).to.deep.equal({ added: [FEED_LIVE], removed: [] });
      expect([...b.feeds.keys()]).to.have.members([FEED_NEWS, FEED_DOCS, FEED_LIVE]);
      await a.sync();
      expect([...a.feeds.keys()]).to.have.members([FEED_NEWS, FEED_DOCS, FEED_LIVE]);
      // Nothing is left queued, and another round changes nothing.
      for (const device of [a, b]) {
        expect(device.queuedFeeds()).to.deep.equal({ added: [], removed: [] });
        const run = await device.sync();
        expect(run.uploadedFeeds).to.equal(undefined);
        expect([...device.feeds.keys()]).to.have.members([FEED_NEWS, FEED_DOCS, FEED_LIVE]);
      }

      if (provider.name === 'gpodder.net') {
        // Basic on the login only; everything after it runs on the session cookie.
        for (const exchange of [...a.http.log, ...b.http.log]) {
          const login = new URL(exchange.url).pathname.endsWith('/login.json');
          expect(exchange.status, `${exchange.method} ${exchange.url}: ${exchange.responseBody}`).to.equal(200);
          expect('Authorization' in exchange.requestHeaders, exchange.url).to.equal(login);
          if (!login) expect(exchange.requestHeaders['Cookie'], exchange.url).to.match(/^sessionid=/);
        }
        // Each run logs in again (Basic, with the cookie): the session is kept, not replaced.
        const host = new URL(base).host;
        const sessions = a.http.log.filter((e) => new URL(e.url).pathname.endsWith('/login.json')).map((e) => e.requestHeaders['Cookie']);
        expect(sessions.length).to.be.greaterThan(3);
        expect(new Set(sessions.slice(1)), 'one session').to.deep.equal(new Set([`sessionid=${a.http.cookies.get(host, 'sessionid')}`]));
        const devices = await service.http.get(`/api/2/devices/${username}.json`).auth(username, PASSWORD);
        expect((devices.body as { id: string }[]).map((device) => device.id)).to.include.members(['antennapod_on_pixel_a', 'antennapod_on_pixel_b']);
      } else {
        for (const exchange of [...a.http.log, ...b.http.log].filter((e) => new URL(e.url).pathname.startsWith('/index.php/apps/'))) {
          expect(exchange.status, `${exchange.method} ${exchange.url}: ${exchange.responseBody}`).to.equal(200);
          expect(exchange.requestHeaders['Authorization'], exchange.url).to.match(/^Basic /);
          expect(exchange.requestHeaders['Accept']).to.equal('application/json');
        }
      }
    });

    for (const skew of [5, -5]) {
      it(`a phone whose clock runs ${Math.abs(skew)} minutes ${skew > 0 ? 'ahead of' : 'behind'} the server's gets what the other wrote after its upload, and syncs once`, async () => {
        const { username } = await account();
        const skewed = new AntennaPodDevice({ name: 'Skewed', catalog: CATALOG, clock: () => Date.now() + skew * MINUTE });
        skewed.subscribe(FEED_NEWS);
        const other = phone('Pixel B');
        await provider.connect(skewed, base, username);
        await provider.connect(other, base, username);
        skewed.play(FEED_NEWS, guidOf(FEED_NEWS, 3), { from: 0, to: 100 });
        await skewed.sync();
        time.advance(MINUTE);
        other.play(FEED_NEWS, guidOf(FEED_NEWS, 4), { from: 0, to: 200 });
        await other.sync();
        // The next sync comes later than the skew, as a phone's periodic ones do.
        time.advance(30 * MINUTE);
        const requestsBefore = skewed.http.log.length;
        await skewed.sync();
        expect(skewed.item(FEED_NEWS, guidOf(FEED_NEWS, 4)).position).to.equal(200_000);
        const downloads = skewed.http.log.slice(requestsBefore).filter((exchange) => exchange.method === 'GET' && exchange.url.includes('episode'));
        expect(downloads).to.have.length(1);
      });
    }

    it('carries plays with positions to the other phone; a finished episode arrives as played', async () => {
      const { a, b } = await pair([FEED_NEWS]);
      const logFrom = b.http.log.length;
      a.play(FEED_NEWS, guidOf(FEED_NEWS, 1), { from: 0, to: 600 });
      expect((await a.sync()).uploadedActions).to.have.length(1);
      const bRun = await b.sync();
      expect(bRun.applied.map((action) => action.position)).to.deep.equal([600]);
      expect(b.item(FEED_NEWS, guidOf(FEED_NEWS, 1)).position).to.equal(600_000);

      b.play(FEED_NEWS, guidOf(FEED_NEWS, 1), { from: 600, to: 905 });
      b.play(FEED_NEWS, guidOf(FEED_NEWS, 2), { from: 0, to: 1790, completed: true });
      await b.sync();
      const [body] = uploadedBodies(b, logFrom);
      expect(body).to.have.length(2);
      expect(body![0]).to.include({
        podcast: FEED_NEWS,
        episode: mediaOf(FEED_NEWS, 1),
        guid: guidOf(FEED_NEWS, 1),
        action: 'play',
        started: 600,
        position: 905,
        total: 1800,
      });
      expect(body![1]).to.include({ action: 'play', started: 0, position: 1800, total: 1800 });
      if (provider.name === 'gpodder.net') expect(body![0]).to.include({ device: 'antennapod_on_pixel_b' });
      else expect(body![0]).not.to.have.property('device');

      await a.sync();
      expect(a.item(FEED_NEWS, guidOf(FEED_NEWS, 1))).to.include({ position: 905_000, played: false });
      expect(a.item(FEED_NEWS, guidOf(FEED_NEWS, 2))).to.include({ position: 0, played: true });
    });

    it('accepts a play of unknown length (-1/-1/-1) and a 0/0/0, and neither moves the newer position another phone set', async () => {
      const { a, b, username, token } = await pair([FEED_LIVE]);
      const episode = guidOf(FEED_LIVE, 1);
      // B streamed the episode an hour ago, offline, not knowing its length: total 0 is stored,
      // and read back from the queue as -1/-1/-1.
      b.play(FEED_LIVE, episode, { from: 0, to: 100, at: new Date(Date.now() - 60 * MINUTE) });
      expect(b.queuedActions()[0]).to.include({ action: 'PLAY', started: -1, position: -1, total: -1 });
      // C had marked it played (length unknown) before setting up sync: its first sync uploads 0/0/0.
      const c = phone('Pixel C', [FEED_LIVE]);
      c.markPlayed(FEED_LIVE, episode);
      const cFirst = await provider.connect(c, base, username);
      const zeroes = uploadedBodies(c).flat();
      expect(zeroes).to.have.length(1);
      expect(zeroes[0]).to.include({ action: 'play', started: 0, position: 0, total: 0 });
      expect(cFirst.uploadedActions).to.have.length(1);
      // A plays it later (its player knows the length) and syncs first; a quarter of an hour
      // later it syncs again (nothing new), as phones do.
      time.advance(2_000);
      a.play(FEED_LIVE, episode, { from: 0, to: 700, duration: 1800 });
      await a.sync();
      time.advance(15 * MINUTE);
      await a.sync();

      const bLog = b.http.log.length;
      await b.sync();
      const minusOnes = uploadedBodies(b, bLog).flat();
      expect(minusOnes).to.have.length(1);
      expect(minusOnes[0]).to.include({ action: 'play', started: -1, position: -1, total: -1 });
      expect(b.item(FEED_LIVE, episode).position, "B took A's newer position").to.equal(700_000);
      await c.sync();
      expect(c.item(FEED_LIVE, episode).position, "C took A's newer position").to.equal(700_000);
      expect(await playStatus(token, FEED_LIVE, episode), 'the account keeps the position').to.include({ position: 700 });

      const aRun = await a.sync();
      const fromOthers = aRun.episodeActionChanges!.actions.filter((action) => action.episode === mediaOf(FEED_LIVE, 1));
      expect(
        a.item(FEED_LIVE, episode).position,
        `A kept its newer position; A was served ${JSON.stringify(fromOthers.map((x) => ({ ...x, timestamp: x.timestamp && formatActionTimestamp(x.timestamp) })))}`,
      ).to.equal(700_000);
    });

    it('delivers a late upload (an old action uploaded after the other phone synced)', async () => {
      const { a, b } = await pair([FEED_NEWS]);
      const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * MINUTE);
      b.play(FEED_NEWS, guidOf(FEED_NEWS, 3), { from: 0, to: 300, at: twoDaysAgo });
      a.play(FEED_NEWS, guidOf(FEED_NEWS, 4), { from: 0, to: 50 });
      await a.sync();
      // B comes online a quarter of an hour later; A syncs another quarter of an hour after.
      time.advance(15 * MINUTE);
      await b.sync();
      time.advance(15 * MINUTE);
      const aRun = await a.sync();
      const late = aRun.episodeActionChanges!.actions.find((action) => action.episode === mediaOf(FEED_NEWS, 3));
      expect(late, 'the late action reached A').to.include({ action: 'PLAY', position: 300, timestamp: Math.floor(twoDaysAgo.getTime() / 1000) * 1000 });
      expect(a.item(FEED_NEWS, guidOf(FEED_NEWS, 3)).position).to.equal(300_000);
    });

    it("delivers what another phone uploaded between this phone's download and its upload (subscriptions, episode actions)", async () => {
      const { a, b } = await pair([FEED_NEWS]);
      const nextcloud = provider.name === 'nextcloud';
      // A has downloaded the subscription changes and is about to upload its own when B's land.
      a.subscribe(FEED_TALK);
      const subscriptionUpload = nextcloud ? '/index.php/apps/gpoddersync/subscription_change/create' : '/api/2/subscriptions/';
      a.http.beforeNext(
        ({ method, url }) => method === 'POST' && url.pathname.startsWith(subscriptionUpload),
        () => (b.subscribe(FEED_DOCS), b.sync()),
      );
      // Then the same with episode actions.
      b.play(FEED_NEWS, guidOf(FEED_NEWS, 8), { from: 0, to: 240 });
      a.play(FEED_NEWS, guidOf(FEED_NEWS, 9), { from: 0, to: 60 });
      const actionUpload = nextcloud ? '/index.php/apps/gpoddersync/episode_action/create' : '/api/2/episodes/';
      a.http.beforeNext(
        ({ method, url }) => method === 'POST' && url.pathname.startsWith(actionUpload),
        () => (b.play(FEED_NEWS, guidOf(FEED_NEWS, 10), { from: 0, to: 300 }), b.sync()),
      );
      const aRun = await a.sync();
      expect(aRun.uploadedFeeds?.added).to.deep.equal([FEED_TALK]);
      expect(aRun.uploadedActions).to.have.length(1);
      expect(b.runs.flatMap((run) => run.uploadedFeeds?.added ?? [])).to.include(FEED_DOCS);
      expect(b.runs.flatMap((run) => run.uploadedActions).map((action) => action.episode)).to.include.members([mediaOf(FEED_NEWS, 8), mediaOf(FEED_NEWS, 10)]);
      time.advance(15 * MINUTE);
      await a.sync();
      const lost = [
        ...(a.feeds.has(FEED_DOCS) ? [] : [`B's subscription to ${FEED_DOCS}`]),
        ...[8, 10].filter((i) => !a.received.some((action) => action.episode === mediaOf(FEED_NEWS, i))).map((i) => `B's play of ${mediaOf(FEED_NEWS, i)}`),
      ];
      expect(lost, 'what never reached A').to.deep.equal([]);
      expect(a.item(FEED_NEWS, guidOf(FEED_NEWS, 10)).position).to.equal(300_000);
    });

    it('adds nothing to the store on a resync with nothing new', async () => {
      const { a, b } = await pair([FEED_NEWS, FEED_TALK]);
      a.play(FEED_NEWS, guidOf(FEED_NEWS, 5), { from: 0, to: 120 });
      a.downloaded(FEED_NEWS, guidOf(FEED_NEWS, 6));
      b.play(FEED_TALK, guidOf(FEED_TALK, 1), { from: 0, to: 3600, completed: true });
      b.markUnplayed(FEED_NEWS, guidOf(FEED_NEWS, 7));
      b.subscribe(FEED_DOCS);
      a.unsubscribe(FEED_TALK);
      for (const device of [a, b, a, b]) await device.sync();
      const state = (device: AntennaPodDevice) =>
        JSON.stringify([...device.feeds.values()].map((feed) => [feed.downloadUrl, feed.items.map((item) => [item.guid, item.position, item.played])]));
      const before = { events: await service.eventCount(), a: state(a), b: state(b) };
      for (const device of [a, b, a, b]) {
        const run = await device.sync();
        expect(run.outcome).to.equal('success');
        expect(run.uploadedFeeds, `${device.name} uploaded subscription changes`).to.equal(undefined);
        expect(run.uploadedActions, `${device.name} uploaded actions`).to.deep.equal([]);
      }
      // Within Nextcloud's margin answers repeat recent actions; past it they do not. Neither adds anything.
      time.advance(15 * MINUTE);
      for (const device of [a, b]) expect((await device.sync()).uploadedActions).to.deep.equal([]);
      expect(await service.eventCount(), 'events in the store').to.equal(before.events);
      expect(state(a)).to.equal(before.a);
      expect(state(b)).to.equal(before.b);
    });

    it('stores each action once when a batch fails mid-upload and the whole queue is sent again', async () => {
      const { a, b } = await pair([FEED_NEWS, FEED_TALK]);
      const start = Date.now() - 30 * MINUTE;
      for (let i = 1; i <= 50; i++) b.play(FEED_NEWS, guidOf(FEED_NEWS, i), { from: 0, to: 10 + i, at: new Date(start + i * 1000) });
      for (let i = 1; i <= 45; i++) b.downloaded(FEED_TALK, guidOf(FEED_TALK, i), new Date(start + (100 + i) * 1000));
      const queued = b.queuedActions().length;
      expect(queued).to.equal(95);
      const path = provider.name === 'nextcloud' ? '/index.php/apps/gpoddersync/episode_action/create' : `/api/2/episodes/`;
      let batches = 0;
      // The third batch reaches the server, which stores it; the connection drops before the answer.
      b.http.failNext({ kind: 'drop-response', when: ({ method, url }) => method === 'POST' && url.pathname.startsWith(path) && ++batches === 3 });
      const cursor = b.lastEpisodeActionSync;
      const events = await service.eventCount();
      let failure: unknown;
      await b.sync().catch((error: unknown) => (failure = error));
      expect(failure).to.be.instanceOf(SyncServiceException);
      expect(b.queuedActions(), 'the queue is kept').to.have.length(queued);
      expect(b.lastEpisodeActionSync).to.equal(cursor);
      expect(await service.eventCount()).to.be.greaterThan(events);

      const logFrom = b.http.log.length;
      const retry = await b.sync();
      expect(retry.uploadedActions).to.have.length(queued);
      expect(uploadedBodies(b, logFrom).map((batch) => batch.length)).to.deep.equal([UPLOAD_BULK_SIZE, UPLOAD_BULK_SIZE, UPLOAD_BULK_SIZE, 5]);
      expect(b.queuedActions()).to.deep.equal([]);
      expect((await service.eventCount()) - events, 'one event per action').to.equal(queued);

      const aRun = await a.sync();
      const fromB = aRun.episodeActionChanges!.actions;
      expect(fromB, 'A receives each action once').to.have.length(queued);
      expect(new Set(fromB.map(actionKey)).size).to.equal(queued);
      expect(a.item(FEED_NEWS, guidOf(FEED_NEWS, 50)).position).to.equal(60_000);
    });

    it(`pages: more actions than one answer holds (${BIG_COUNT}) reach the other phone over successive syncs`, async function () {
      this.timeout(300_000);
      const { a, b } = await pair([FEED_BIG]);
      const start = Date.now() - 24 * 60 * MINUTE;
      for (let i = 1; i <= BIG_COUNT; i++) b.play(FEED_BIG, guidOf(FEED_BIG, i), { from: 0, to: 1 + (i % 500), at: new Date(start + i * 1000) });
      const upload = await b.sync();
      expect(upload.uploadedActions).to.have.length(BIG_COUNT);

      // Sync until a run brings nothing new (a Nextcloud answer may repeat what it gave before).
      const sizes: number[] = [];
      const distinct = new Set<string>();
      for (let run = 0; run < 6; run++) {
        const changes = (await a.sync()).episodeActionChanges!;
        sizes.push(changes.actions.length);
        const before = distinct.size;
        for (const action of changes.actions) if (action.podcast === FEED_BIG) distinct.add(action.episode);
        if (distinct.size === before) break;
      }
      const received = a.received.filter((action) => action.podcast === FEED_BIG);
      expect(distinct.size, `answers of ${sizes.join(', ')} actions`).to.equal(BIG_COUNT);
      if (provider.name === 'gpodder.net') {
        expect(sizes[0], 'one answer holds at most a page').to.equal(EPISODE_ACTIONS_PAGE);
        expect(received, 'nothing twice').to.have.length(BIG_COUNT);
      }
      for (const i of [1, EPISODE_ACTIONS_PAGE, BIG_COUNT]) expect(a.item(FEED_BIG, guidOf(FEED_BIG, i)).position).to.equal((1 + (i % 500)) * 1000);
    });
  });
}
