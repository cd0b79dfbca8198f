/** Sync groups, settings and favorites: kept as the user's events and state. */
import { expect } from 'chai';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import type { GpodderTestUser } from './support.js';
import { FEED_A, gpodderUser } from './support.js';

describe('gpodder API: sync groups, settings, favorites', function () {
  let service: TestService;
  let user: GpodderTestUser;
  const as = <T extends { set: (name: string, value: string) => T }>(request: T) => request.set('Authorization', user.basic);

  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    user = await gpodderUser(service);
    for (const device of ['phone', 'laptop', 'tablet', 'desk']) await as(service.http.post(`/api/2/devices/${user.username}/${device}.json`)).send({});
  });

  describe('sync groups', () => {
    const status = () => as(service.http.get(`/api/2/sync-devices/${user.username}.json`));
    const change = (body: unknown) => as(service.http.post(`/api/2/sync-devices/${user.username}.json`)).send(body as object);

    it('starts with every device not synchronized', async () => {
      expect((await status()).body).to.deep.equal({ synchronized: [], 'not-synchronized': ['desk', 'laptop', 'phone', 'tablet'] });
    });

    it('synchronizes and stops, answering the new status; groups merge when they overlap', async () => {
      const first = await change({ synchronize: [['phone', 'laptop']] });
      expect(first.status).to.equal(200);
      expect(first.body).to.deep.equal({ synchronized: [['laptop', 'phone']], 'not-synchronized': ['desk', 'tablet'] });
      await change({ synchronize: [['tablet', 'phone']] });
      const merged = await change({ 'stop-synchronize': ['laptop'] });
      expect(merged.body).to.deep.equal({ synchronized: [['phone', 'tablet']], 'not-synchronized': ['desk', 'laptop'] });
      expect((await status()).body).to.deep.equal(merged.body);
    });

    it('400 naming unknown devices; nothing written', async () => {
      const before = await service.eventCount();
      const response = await change({ synchronize: [['phone', 'ghost']], 'stop-synchronize': ['spectre'] });
      expect(response.status).to.equal(400);
      expect(response.body.details.issues.map((issue: { path: string }) => issue.path)).to.deep.equal(['synchronize.0.1', 'stop-synchronize.0']);
      expect((await change({ synchronize: 'phone' })).status).to.equal(400);
      expect(await service.eventCount()).to.equal(before);
    });
  });

  describe('settings', () => {
    const path = (scope: string, query = '') => `/api/2/settings/${user.username}/${scope}.json${query}`;

    it('sets and removes per scope, answering the scope’s settings', async () => {
      const set = await as(service.http.post(path('account'))).send({ set: { theme: 'dark', volume: 7, nested: { a: [1, 2] } } });
      expect(set.status).to.equal(200);
      expect(set.body).to.deep.equal({ theme: 'dark', volume: 7, nested: { a: [1, 2] } });
      const removed = await as(service.http.post(path('account'))).send({ set: { volume: 8 }, remove: ['theme'] });
      expect(removed.body).to.deep.equal({ volume: 8, nested: { a: [1, 2] } });
      expect((await as(service.http.get(path('account')))).body).to.deep.equal(removed.body);
    });

    it('keeps device, podcast and episode scopes apart', async () => {
      const podcast = `?podcast=${encodeURIComponent(FEED_A)}`;
      const episode = `${podcast}&episode=${encodeURIComponent('https://cdn.example.com/1.mp3')}`;
      await as(service.http.post(path('device', '?device=phone'))).send({ set: { wifi_only: true } });
      await as(service.http.post(path('podcast', podcast))).send({ set: { speed: 1.5 } });
      await as(service.http.post(path('episode', episode))).send({ set: { rating: 5 } });
      expect((await as(service.http.get(path('device', '?device=phone')))).body).to.deep.equal({ wifi_only: true });
      expect((await as(service.http.get(path('device', '?device=laptop')))).body).to.deep.equal({});
      expect((await as(service.http.get(path('podcast', podcast)))).body).to.deep.equal({ speed: 1.5 });
      expect((await as(service.http.get(path('episode', episode)))).body).to.deep.equal({ rating: 5 });
      expect((await as(service.http.get(path('account')))).body).to.deep.equal({});
    });

    it('400 naming the missing or bad parameter or scope; 404 for another extension', async () => {
      const noDevice = await as(service.http.get(path('device')));
      expect(noDevice.status).to.equal(400);
      expect(noDevice.body.details.issues[0].path).to.equal('query.device');
      const badPodcast = await as(service.http.get(path('podcast', '?podcast=ftp://x')));
      expect(badPodcast.body.details.issues[0].path).to.equal('query.podcast');
      expect((await as(service.http.get(path('global')))).status).to.equal(400);
      const badBody = await as(service.http.post(path('account'))).send({ set: 'x', remove: [1] });
      expect(badBody.body.details.issues.map((issue: { path: string }) => issue.path)).to.have.members(['set', 'remove.0']);
      expect((await as(service.http.get(`/api/2/settings/${user.username}/account.xml`))).status).to.equal(404);
    });
  });

  describe('favorites', () => {
    it('are the episodes saved in the user’s playlists (native saves), as gpodder episode objects', async () => {
      const events = [
        {
          type: 'play',
          timestamp: '2026-03-01T10:00:00Z',
          object: { rss_source_feed: FEED_A, rss_source_id: 'g1' },
          data: { played: false, position: 5, rss_item_title: 'One', enclosure: { url: 'https://cdn.example.com/1.mp3' } },
        },
        {
          type: 'save',
          timestamp: '2026-03-01T11:00:00Z',
          object: { rss_source_feed: FEED_A, rss_source_id: 'g1' },
          data: { item_title: 'One', feed_title: 'Show A' },
        },
        {
          type: 'save',
          timestamp: '2026-03-01T11:00:00Z',
          object: { rss_source_feed: FEED_A, rss_source_id: 'https://cdn.example.com/2.mp3' },
          data: { playlist: 'later' },
        },
        { type: 'save', timestamp: '2026-03-01T11:00:00Z', object: { rss_source_feed: FEED_A, rss_source_id: 'g3' }, data: {} },
        { type: 'save', timestamp: '2026-03-01T12:00:00Z', object: { rss_source_feed: FEED_A, rss_source_id: 'g3' }, data: { removed: true } },
      ];
      expect((await service.http.post('/v1/events').set('Authorization', `Bearer ${user.token}`).send({ events })).status).to.equal(201);
      const favorites = await as(service.http.get(`/api/2/favorites/${user.username}.json`));
      expect(favorites.status).to.equal(200);
      expect(favorites.body).to.have.deep.members([
        {
          title: 'One',
          url: 'https://cdn.example.com/1.mp3',
          podcast_title: 'Show A',
          podcast_url: FEED_A,
          description: null,
          website: null,
          released: null,
          mygpo_link: null,
          guid: 'g1',
        },
        {
          title: null,
          url: 'https://cdn.example.com/2.mp3',
          podcast_title: null,
          podcast_url: FEED_A,
          description: null,
          website: null,
          released: null,
          mygpo_link: null,
          guid: 'https://cdn.example.com/2.mp3',
        },
      ]);
    });
  });
});
