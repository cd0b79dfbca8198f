/**
 * Kasts's sync, replicated from its source (test/clients/kasts.ts), against the running service
 * over real HTTP, through both of Kasts's providers: gpodder.net (`/api/2/...`, the account
 * password) and Nextcloud gPodder Sync (`/index.php/apps/gpoddersync/...`, an app password).
 * Two Kasts devices of one account each time (a laptop and a desktop).
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import type { CatalogEpisode, FeedCatalog, KastsProvider } from './kasts.js';
import { KastsDevice, MAX_EPISODE_UPLOADS, qtInt } from './kasts.js';
import { ForwardTime } from './forward-time.js';
import { servedForTests } from './served.js';
import { basicHeader } from '../http/gpodder/support.js';
import { BIG_COUNT, FEED_BIG, FEED_DOCS, FEED_NEWS, FEED_TALK, MINUTE, PASSWORD, feedEpisodes } from './fixture-feeds.js';

const episodes = (feed: string, count: number, durationSeconds: number): CatalogEpisode[] =>
  feedEpisodes(feed, count, durationSeconds).map(({ guid, url }) => ({ id: guid, url, duration: durationSeconds }));

const CATALOG: FeedCatalog = new Map([
  [FEED_NEWS, episodes(FEED_NEWS, 20, 1800)],
  [FEED_TALK, episodes(FEED_TALK, 20, 3600)],
  [FEED_DOCS, episodes(FEED_DOCS, 5, 2400)],
  [FEED_BIG, episodes(FEED_BIG, BIG_COUNT, 600)],
]);

for (const provider of ['gpodder.net', 'nextcloud'] as const satisfies readonly KastsProvider[]) {
  describe(`Kasts replica through the ${provider} provider`, function () {
    this.timeout(60_000);
    let accounts = 0;
    const time = new ForwardTime();
    const served = servedForTests(time);
    let service: TestService;
    let base: string;
    before(() => ({ service, base } = served()));

    /**
     * Kasts on `machine` connected to the account (through Nextcloud, with an app password of its
     * own); `server` as the user typed it (the desktop's with a trailing "/", which Kasts keeps:
     * "//api/2/…").
     */
    async function connect(device: KastsDevice, username: string, token: string, machine: string, server = base) {
      if (provider === 'gpodder.net') return device.connectGpodder(server, username, PASSWORD, machine);
      const created = await service.http
        .post('/v1/auth/app-passwords')
        .set('Authorization', `Bearer ${token}`)
        .send({ name: `Kasts on ${machine}` });
      expect(created.status).to.equal(201);
      return device.connectNextcloud(server, username, created.body.password as string);
    }

    /** A new account, its laptop (which had `feeds` before sync was set up) and desktop connected. */
    async function pair(feeds: readonly string[]) {
      const { username, token } = await service.login(`kasts-${provider === 'nextcloud' ? 'nc' : 'gp'}-${++accounts}`, PASSWORD);
      const laptop = new KastsDevice({ catalog: CATALOG });
      for (const feed of feeds) laptop.subscribe(feed);
      const desktop = new KastsDevice({ catalog: CATALOG });
      await connect(laptop, username, token, 'laptop');
      await connect(desktop, username, token, 'desktop', `${base}/`);
      expect(desktop.feeds.sort()).to.deep.equal([...feeds].sort());
      return { laptop, desktop, username, token };
    }

    it('sets up two devices: the first sync uploads every feed, the other device gets them', async () => {
      const { laptop, desktop } = await pair([FEED_NEWS, FEED_TALK]);
      desktop.subscribe(FEED_DOCS);
      desktop.unsubscribe(FEED_TALK);
      await desktop.sync();
      await laptop.sync();
      expect(laptop.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_NEWS].sort());
    });

    it('carries a position and a finished episode to the other device', async () => {
      const { laptop, desktop } = await pair([FEED_NEWS]);
      laptop.play(FEED_NEWS, 'news-1', 0, 600_000);
      laptop.markPlayed(FEED_NEWS, 'news-2');
      await laptop.sync();
      time.advance(MINUTE);
      await desktop.sync();
      expect(desktop.entry(FEED_NEWS, 'news-1')).to.include({ playposition: 600_000, queued: true, read: false });
      expect(desktop.entry(FEED_NEWS, 'news-2')?.read).to.equal(true);
    });

    it("delivers what the other device wrote right after this device's last answer (Kasts stores every cursor plus one)", async () => {
      const { laptop, desktop } = await pair([FEED_NEWS]);
      // The laptop's last answers are where the store's head was: the desktop's next writes come right after them.
      await laptop.sync();
      desktop.subscribe(FEED_TALK);
      await desktop.sync();
      await laptop.sync();
      expect(laptop.feeds, 'the subscription').to.include(FEED_TALK);

      await laptop.sync();
      desktop.play(FEED_TALK, 'talk-3', 0, 1_200_000);
      await desktop.quickSync();
      await laptop.sync();
      expect(laptop.entry(FEED_TALK, 'talk-3')?.playposition, 'the play').to.equal(1_200_000);
    });

    for (const ahead of [30_000, 5 * MINUTE]) {
      it(`a device whose clock runs ${ahead / 1000} s ahead of the server's syncs after its own upload without downloading again and again`, async () => {
        const { username, token } = await service.login(`kasts-clock-${provider === 'nextcloud' ? 'nc' : 'gp'}-${++accounts}`, PASSWORD);
        const fast = new KastsDevice({ catalog: CATALOG, clock: () => Date.now() + ahead });
        fast.subscribe(FEED_NEWS);
        await connect(fast, username, token, 'fast');
        fast.play(FEED_NEWS, 'news-9', 0, 240_000);
        await fast.sync();
        // Its next syncs, while its upload is in the server's margin: a download or two each.
        for (let run = 0; run < 3; run++) {
          const { requests } = await fast.sync();
          expect(requests.filter((request) => request.startsWith('GET') && request.includes('episode')).length, requests.join('\n')).to.be.at.most(2);
        }
        expect(fast.entry(FEED_NEWS, 'news-9')?.playposition).to.equal(240_000);
      });
    }

    it('answers cursors that Kasts reads as they are (whole numbers within a 32-bit int, above 1)', async () => {
      const { laptop } = await pair([FEED_NEWS]);
      laptop.play(FEED_NEWS, 'news-4', 0, 60_000);
      const run = await laptop.sync();
      expect(run.requests.length).to.be.greaterThan(2);
      const answers = laptop.http.log.filter((exchange) => exchange.status === 200 && exchange.responseBody.includes('"timestamp"'));
      expect(answers.length).to.be.greaterThan(0);
      for (const exchange of answers) {
        const timestamp = (JSON.parse(exchange.responseBody) as { timestamp: unknown }).timestamp;
        expect(qtInt(timestamp), `${exchange.method} ${exchange.url}`).to.equal(timestamp);
      }
      for (const label of ['syncsubscriptions', 'syncepisodes']) expect(laptop.timestamps.get(label), label).to.be.greaterThan(2);
    });

    it(`pages: ${BIG_COUNT} plays (more than one answer holds) reach the other device in one sync, the downloads ending`, async function () {
      this.timeout(300_000);
      const { laptop, desktop } = await pair([FEED_BIG]);
      for (let i = 1; i <= BIG_COUNT; i++) laptop.play(FEED_BIG, `big-${i}`, 0, 120_000);
      const upload = await laptop.sync();
      expect(upload.requests.filter((request) => request.startsWith('POST') && request.includes('episode'))).to.have.length(
        Math.ceil(BIG_COUNT / MAX_EPISODE_UPLOADS),
      );
      time.advance(MINUTE);
      const download = await desktop.sync();
      const downloads = download.requests.filter((request) => request.startsWith('GET') && request.includes('episode'));
      expect(downloads.length, downloads.join('\n')).to.be.at.most(4);
      const positioned = Array.from({ length: BIG_COUNT }, (_, i) => desktop.entry(FEED_BIG, `big-${i + 1}`)!.playposition);
      expect(positioned.filter((position) => position === 120_000)).to.have.length(BIG_COUNT);
      expect(desktop.queuedActions, 'applying remote plays queues nothing to upload').to.have.length(0);
    });

    if (provider === 'gpodder.net') {
      it('links up all devices: one sync group of every device, and every subscription on each', async () => {
        const { laptop, desktop, username, token } = await pair([FEED_NEWS]);
        // A third device (gPodder, say) with a subscription of its own.
        const phone = await service.http
          .post(`/api/2/subscriptions/${username}/phone.json`)
          .set('Authorization', basicHeader(username, PASSWORD))
          .send({ add: [FEED_DOCS], remove: [] });
        expect(phone.status).to.equal(200);
        desktop.subscribe(FEED_TALK);
        await desktop.sync();

        const linked = await laptop.linkUpAllDevices();
        expect(linked.errors).to.deep.equal([]);
        expect(linked.devices.sort()).to.deep.equal(['kasts-desktop', 'kasts-laptop', 'phone']);
        const basic = basicHeader(username, PASSWORD);
        const groups = await service.http.get(`/api/2/sync-devices/${username}.json`).set('Authorization', basic);
        expect(groups.body).to.deep.equal({ synchronized: [['kasts-desktop', 'kasts-laptop', 'phone']], 'not-synchronized': [] });
        await laptop.sync();
        expect(laptop.feeds.sort()).to.deep.equal([FEED_DOCS, FEED_NEWS, FEED_TALK].sort());
        const native = await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${token}`);
        expect((native.body.subscriptions as { rss_source_feed: string }[]).map((sub) => sub.rss_source_feed).sort()).to.deep.equal(
          [FEED_DOCS, FEED_NEWS, FEED_TALK].sort(),
        );
      });
    }

    it('adds nothing to the store on a resync with nothing new', async () => {
      const { laptop, desktop } = await pair([FEED_NEWS, FEED_TALK]);
      laptop.play(FEED_NEWS, 'news-7', 0, 300_000);
      await laptop.sync();
      await desktop.sync();
      time.advance(11 * MINUTE);
      await laptop.sync();
      await desktop.sync();
      const before = await service.eventCount();
      await laptop.sync();
      await desktop.sync();
      expect(await service.eventCount()).to.equal(before);
    });
  });
}
