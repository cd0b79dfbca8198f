/**
 * AntennaPod (its replica, test/clients/antennapod.ts) with the service under a path
 * (BASE_PATH=/podsync; docs/operations.md, "Under a path"): both of its providers keep the path
 * of the server entered (HostnameParser's `subfolder`, put before every API path by
 * GpodnetService and NextcloudSyncService alike), and Login Flow hands the app a server with it.
 */
import { expect } from 'chai';
import { AntennaPodDevice } from './antennapod.js';
import type { CatalogEpisode, FeedCatalog } from './antennapod.js';
import { servedForTests } from './served.js';
import { FEED_NEWS, FEED_TALK, PASSWORD, feedEpisodes, guidOf } from './fixture-feeds.js';
import { antennaPodLoginFlow } from './nextcloud-login.js';

const BASE_PATH = '/podsync';
const episodes = (feed: string, count: number, durationSeconds: number): CatalogEpisode[] =>
  feedEpisodes(feed, count, durationSeconds).map(({ guid, url }) => ({ guid, url, duration: durationSeconds * 1000 }));
const CATALOG: FeedCatalog = new Map([
  [FEED_NEWS, episodes(FEED_NEWS, 10, 1800)],
  [FEED_TALK, episodes(FEED_TALK, 10, 3600)],
]);

describe('AntennaPod replica with the service under a path', function () {
  this.timeout(60_000);
  const served = servedForTests(undefined, { BASE_PATH });

  it('Nextcloud provider: Login Flow and sync through the server with its path, between two phones', async () => {
    const { service, base } = served();
    const server = `${base}${BASE_PATH}`;
    await service.login('antennapod-under-a-path', PASSWORD);
    const connect = async (device: AntennaPodDevice) => {
      const login = await antennaPodLoginFlow(server, 'antennapod-under-a-path', PASSWORD, { http: device.http, pollIntervalMs: 50 });
      expect(login.server, 'the server the app keeps').to.equal(server);
      return device.connectNextcloud(login.server, login.loginName, login.appPassword);
    };
    const a = new AntennaPodDevice({ name: 'Pixel A', catalog: CATALOG });
    a.subscribe(FEED_NEWS);
    a.subscribe(FEED_TALK);
    expect((await connect(a)).outcome).to.equal('success');
    a.play(FEED_NEWS, guidOf(FEED_NEWS, 1), { from: 0, to: 300 });
    await a.sync();

    const b = new AntennaPodDevice({ name: 'Pixel B', catalog: CATALOG });
    expect((await connect(b)).outcome).to.equal('success');
    expect([...b.feeds.keys()]).to.have.members([FEED_NEWS, FEED_TALK]);
    expect(b.item(FEED_NEWS, guidOf(FEED_NEWS, 1)).position, "A's position, in ms").to.equal(300_000);
    for (const exchange of [...a.http.log, ...b.http.log]) expect(new URL(exchange.url).pathname, exchange.url).to.match(new RegExp(`^${BASE_PATH}/`));
  });

  it('gpodder.net provider: login, a device and sync through the server with its path', async () => {
    const { service, base } = served();
    await service.login('antennapod-gpodder-under-a-path', PASSWORD);
    const phone = new AntennaPodDevice({ name: 'Pixel C', catalog: CATALOG });
    phone.subscribe(FEED_TALK);
    expect((await phone.connectGpodder(`${base}${BASE_PATH}`, 'antennapod-gpodder-under-a-path', PASSWORD, 'AntennaPod on Pixel C')).outcome).to.equal(
      'success',
    );
    const other = new AntennaPodDevice({ name: 'Pixel D', catalog: CATALOG });
    expect((await other.connectGpodder(`${base}${BASE_PATH}`, 'antennapod-gpodder-under-a-path', PASSWORD, 'AntennaPod on Pixel D')).outcome).to.equal(
      'success',
    );
    expect([...other.feeds.keys()]).to.deep.equal([FEED_TALK]);
    for (const exchange of [...phone.http.log, ...other.http.log]) expect(new URL(exchange.url).pathname, exchange.url).to.match(new RegExp(`^${BASE_PATH}/`));
  });
});
