/**
 * Listeners mix apps: AntennaPod on a phone (through its Nextcloud provider, set up by Login
 * Flow v2) and Kasts on a laptop (through its gpodder.net provider) on one account, each app's
 * replica (test/clients/) against the running service. What one app does reaches the other
 * across the two APIs: subscriptions, positions, finished episodes, in both directions.
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { AntennaPodDevice } from './antennapod.js';
import { KastsDevice } from './kasts.js';
import { ForwardTime } from './forward-time.js';
import { antennaPodLoginFlow } from './nextcloud-login.js';
import { servedForTests } from './served.js';
import { FEED_DOCS, FEED_NEWS, FEED_TALK, LISTENING_FEEDS, MINUTE, PASSWORD, feedEpisodes, guidOf } from './fixture-feeds.js';

const FEEDS = LISTENING_FEEDS;

describe('AntennaPod (Nextcloud) and Kasts (gpodder.net) on one account', function () {
  this.timeout(60_000);
  const time = new ForwardTime();
  const served = servedForTests(time);
  let service: TestService;
  let base: string;
  before(() => ({ service, base } = served()));

  it('carry subscriptions, positions and finished episodes to each other', async () => {
    const { username } = await service.login('mixed-apps', PASSWORD);
    const phone = new AntennaPodDevice({
      name: 'Pixel',
      catalog: new Map(
        FEEDS.map(([feed, count, seconds]) => [feed, feedEpisodes(feed, count, seconds).map(({ guid, url }) => ({ guid, url, duration: seconds * 1000 }))]),
      ),
    });
    const laptop = new KastsDevice({
      catalog: new Map(
        FEEDS.map(([feed, count, seconds]) => [feed, feedEpisodes(feed, count, seconds).map(({ guid, url }) => ({ id: guid, url, duration: seconds }))]),
      ),
    });
    phone.subscribe(FEED_NEWS);
    laptop.subscribe(FEED_TALK);
    const login = await antennaPodLoginFlow(base, username, PASSWORD, { http: phone.http });
    await phone.connectNextcloud(login.server, login.loginName, login.appPassword);
    await laptop.connectGpodder(base, username, PASSWORD, 'laptop');
    await phone.sync();
    expect([...phone.feeds.keys()].sort(), 'the phone').to.deep.equal([FEED_NEWS, FEED_TALK]);
    expect(laptop.feeds.sort(), 'the laptop').to.deep.equal([FEED_NEWS, FEED_TALK]);

    // The phone listens on the bus; the laptop picks up where it stopped.
    phone.play(FEED_NEWS, guidOf(FEED_NEWS, 1), { from: 0, to: 700 });
    phone.play(FEED_NEWS, guidOf(FEED_NEWS, 2), { from: 0, to: 1800, completed: true });
    await phone.sync();
    time.advance(MINUTE);
    await laptop.sync();
    expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 1))).to.include({ playposition: 700_000, read: false });
    expect(laptop.entry(FEED_NEWS, guidOf(FEED_NEWS, 2))?.read).to.equal(true);

    // The laptop listens further, finishes another, subscribes to a third feed and drops one.
    time.advance(MINUTE);
    laptop.play(FEED_NEWS, guidOf(FEED_NEWS, 1), 700_000, 1_000_000);
    laptop.markPlayed(FEED_TALK, guidOf(FEED_TALK, 5));
    laptop.subscribe(FEED_DOCS);
    laptop.unsubscribe(FEED_TALK);
    await laptop.sync();
    time.advance(MINUTE);
    await phone.sync();
    expect([...phone.feeds.keys()].sort()).to.deep.equal([FEED_DOCS, FEED_NEWS]);
    expect(phone.item(FEED_NEWS, guidOf(FEED_NEWS, 1))).to.include({ position: 1_000_000, played: false });

    // Every play both apps uploaded is in the service's play statuses, newest first per episode.
    const token = (await service.http.post('/v1/auth/token').send({ username, password: PASSWORD })).body.token as string;
    const statuses = (await service.http.get('/v1/play-statuses').set('Authorization', `Bearer ${token}`)).body.play_statuses as {
      rss_source_id: string;
      position: number;
      played: boolean;
    }[];
    const byGuid = new Map(statuses.map((status) => [status.rss_source_id, status]));
    expect(byGuid.get(guidOf(FEED_NEWS, 1))).to.include({ position: 1000, played: false });
    expect(byGuid.get(guidOf(FEED_NEWS, 2))?.played).to.equal(true);
    expect(byGuid.get(guidOf(FEED_TALK, 5))?.played).to.equal(true);
  });
});
