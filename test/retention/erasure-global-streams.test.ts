/**
 * Erasure residue in global streams (issue 16, item 4): `roll_stats` events (`podcast_stats-*`)
 * held an erased feed's URL — which often carries a secret token — and the titles users
 * supplied, after the erasure, another retention pass and a replay. Derived global data must
 * not outlive the contributions it came from: the store files are searched for them, as the
 * erasure test does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import { EPISODE_POPULARITY } from '../../projections/popularity.js';
import { rebuildProjections } from '../../src/projector/rebuild.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';

const SECRET_FEED = 'https://private.example.com/feed.xml?auth=SECRETTOKEN0123456789';
const SHARED_FEED = 'https://shared.example.com/feed.xml';

describe('erasure leaves nothing in global streams', function () {
  this.timeout(60_000);
  let service: TestService;
  before(async () => {
    service = await startTestService();
  });
  after(() => service.stop());

  /**
   * Every file of the data directory, the WAL written back first (by the service's checkpoint
   * thread: a truncation from this thread would race its periodic checkpoints and fail busy).
   */
  async function filesHolding(text: string): Promise<string[]> {
    await service.retention.forgetErasedBytes();
    return readdirSync(service.dataDir).filter((file) => readFileSync(path.join(service.dataDir, file)).includes(text));
  }

  it('the erased feed’s URL and the titles its user supplied are gone, after another pass and a replay too', async () => {
    const alice = await service.login('alice-global');
    const bob = await service.login('bob-global');
    const post = (token: string, events: object[]) => service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events });
    const play = (feed: string, guid: string, title: string) => ({
      type: 'play',
      timestamp: '2026-05-01T00:00:01Z',
      object: { rss_source_feed: feed, rss_source_id: guid },
      data: { played: true, position: 3, rss_item_title: title, rss_feed_title: `${title} feed` },
    });
    expect(
      (
        await post(alice.token, [
          { type: 'privacy', timestamp: '2026-05-01T00:00:00Z', object: null, data: { privacy: 'public' } },
          play(SECRET_FEED, 'ep', 'AliceSecretTitle'),
          play(SHARED_FEED, 'shared-ep', 'AliceSharedTitle'),
        ])
      ).status,
    ).to.equal(201);
    // Bob, anonymous, keeps the shared episode counted after Alice's contribution goes.
    expect(
      (
        await post(bob.token, [
          { type: 'privacy', timestamp: '2026-05-01T00:00:00Z', object: null, data: { privacy: 'anonymous' } },
          play(SHARED_FEED, 'shared-ep', 'BobTitle'),
        ])
      ).status,
    ).to.equal(201);
    await service.settle();
    // A retention pass rolls the feeds: their roll_stats now carry the URL and Alice's titles.
    await service.retention.rollFeeds([SECRET_FEED, SHARED_FEED], new Date());
    await service.settle();
    expect(await filesHolding('SECRETTOKEN0123456789'), 'the roll_stats hold the URL before the erasure').to.not.deep.equal([]);

    const removed = await post(alice.token, [
      { type: 'remove', timestamp: '2026-05-02T00:00:00Z', object: { rss_source_feed: SECRET_FEED }, data: {} },
      { type: 'remove', timestamp: '2026-05-02T00:00:00Z', object: { rss_source_feed: SHARED_FEED }, data: {} },
    ]);
    expect(removed.status).to.equal(201);
    await service.settle();
    await service.retention.run(new Date());
    await service.settle();

    const shared = (await service.stores.readModel.find(EPISODE_POPULARITY)).map(({ doc }) => doc);
    expect(
      shared.map((doc) => doc['rss_source_feed']),
      'Bob still counts for the shared episode',
    ).to.deep.equal([SHARED_FEED]);
    expect(shared[0]!['title'], 'no title only an erased contribution supplied').to.equal(null);
    for (const text of ['SECRETTOKEN0123456789', 'AliceSecretTitle', 'AliceSharedTitle']) expect(await filesHolding(text), text).to.deep.equal([]);

    // A replay from the store gives the same, and brings nothing back.
    const before = await service.stores.readModel.find(EPISODE_POPULARITY);
    await service.projectorThread?.stop();
    await service.projector.stop();
    await rebuildProjections({ eventStore: service.stores.eventStore, readModel: service.stores.readModel }, allProjections, {
      context: { defaultPrivacy: 'private' },
    });
    expect(await service.stores.readModel.find(EPISODE_POPULARITY)).to.deep.equal(before);
    for (const text of ['SECRETTOKEN0123456789', 'AliceSecretTitle', 'AliceSharedTitle'])
      expect(await filesHolding(text), `${text} after the replay`).to.deep.equal([]);
  });
});
