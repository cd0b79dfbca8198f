/**
 * `DELETE /v1/me` while other devices keep writing (issue 16, item 2): once deletion starts the
 * account's credentials stop working and its writes are refused, and nothing written in the
 * race outlives the deletion — no read-model document names the user or what they wrote, and
 * the live read models equal a rebuild from the store.
 */
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import { rebuildProjections } from '../../src/projector/rebuild.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { dumpDocs, expectSameDocs, memoryReadModel } from '../projector/support.js';

const FEED = 'https://race.example.com/feed.xml';
const play = (guid: string, second: number) => ({
  type: 'play',
  timestamp: `2026-05-01T00:00:${String(second % 60).padStart(2, '0')}Z`,
  object: { rss_source_feed: FEED, rss_source_id: guid },
  data: { played: true, position: 3, rss_item_title: `Race title ${guid}` },
});

describe('account deletion racing other devices', function () {
  this.timeout(60_000);
  let service: TestService;
  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service.stop();
  });

  it('refuses the writes once deletion starts and leaves no document of the user behind, live as rebuilt', async () => {
    const { token, userId, username } = await service.login('racer', 'correct horse battery');
    const second = (await service.http.post('/v1/auth/token').send({ username, password: 'correct horse battery', label: 'tablet' })).body.token as string;
    const auth = (secret: string) => ({ Authorization: `Bearer ${secret}` });
    const setup = [
      { type: 'privacy', timestamp: '2026-05-01T00:00:00Z', object: null, data: { privacy: 'public' } },
      { type: 'subscribe', timestamp: '2026-05-01T00:00:00Z', object: { rss_source_feed: FEED }, data: {} },
    ];
    expect((await service.http.post('/v1/events').set(auth(token)).send({ events: setup })).status).to.equal(201);

    let deletionDone = false;
    const statuses: number[] = [];
    const writer = async (secret: string, name: string) => {
      // Keeps writing until the deletion is over, then a few more times.
      for (let n = 0, after = 0; after < 5; n++) {
        const response = await service.http
          .post('/v1/events')
          .set(auth(secret))
          .send({ events: [play(`race-${name}-${n}`, n)] });
        statuses.push(response.status);
        expect(response.status, JSON.stringify(response.body)).to.be.oneOf([201, 401, 410]);
        if (deletionDone) after++;
      }
    };
    const writers = [writer(token, 'phone'), writer(second, 'tablet')];
    await new Promise((resolve) => setTimeout(resolve, 50));
    const deleted = await service.http.delete('/v1/me').set(auth(token));
    expect(deleted.status).to.be.oneOf([204, 202]);
    for (let waited = 0; (await service.stores.accounts.findById(userId)) !== undefined; waited += 50) {
      expect(waited, 'the deletion completes').to.be.below(20_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    deletionDone = true;
    await Promise.all(writers);
    expect(statuses.slice(-5)).to.not.include(201);
    expect(statuses, 'some writes landed before the deletion').to.include(201);

    await service.settle();
    const live = await dumpDocs(service.stores.readModel, allProjections);
    const text = JSON.stringify(live);
    expect(text).to.not.contain(userId);
    expect(text).to.not.contain(username);
    expect(text).to.not.contain('race-');
    expect(text).to.not.contain('Race title');

    const rebuilt = memoryReadModel();
    try {
      await rebuildProjections({ eventStore: service.stores.eventStore, readModel: rebuilt.readModel }, allProjections, {
        context: { defaultPrivacy: 'private' },
      });
      expectSameDocs(live, await dumpDocs(rebuilt.readModel, allProjections));
    } finally {
      rebuilt.close();
    }
  });
});
