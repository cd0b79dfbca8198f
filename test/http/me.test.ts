/** Export and account deletion (docs/design.md, "Erasure", 9). */
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';

const FEED = 'https://me.example.com/feed.xml';
const events = (guid = 'an-episode') => [
  { type: 'privacy', timestamp: '2026-05-01T00:00:00Z', object: null, data: { privacy: 'public' } },
  { type: 'subscribe', timestamp: '2026-05-01T00:00:01Z', object: { rss_source_feed: FEED }, data: {} },
  { type: 'play', timestamp: '2026-05-01T00:00:02Z', object: { rss_source_feed: FEED, rss_source_id: guid }, data: { played: true, position: 3 } },
];

describe('GET /v1/me/export and DELETE /v1/me', function () {
  let service: TestService;
  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service.stop();
  });

  it('exports every retained event and the folded state', async () => {
    const { token, username } = await service.login();
    await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events: events() });
    const response = await service.http.get('/v1/me/export').set('Authorization', `Bearer ${token}`);
    expect(response.status).to.equal(200);
    expect(response.body.user.username).to.equal(username);
    expect(response.body.events.map((event: { type: string }) => event.type)).to.deep.equal(['privacy', 'subscribe', 'play']);
    expect(Object.keys(response.body.state.subscriptions)).to.deep.equal([FEED]);
  });

  it('exports a stream of several pages whole and in order, as JSON sent in pieces', async () => {
    const { token } = await service.login('heavy');
    const plays = (from: number) =>
      Array.from({ length: 1000 }, (_, n) => ({
        type: 'play',
        timestamp: '2026-03-01T10:00:00Z',
        object: { rss_source_feed: FEED, rss_source_id: `g${from + n}` },
        data: { played: true, position: from + n },
      }));
    for (const from of [0, 1000, 2000, 3000, 4000]) {
      expect(
        (
          await service.http
            .post('/v1/events')
            .set('Authorization', `Bearer ${token}`)
            .send({ events: plays(from) })
        ).status,
      ).to.equal(201);
    }
    const response = await service.http.get('/v1/me/export').set('Authorization', `Bearer ${token}`);
    expect(response.status).to.equal(200);
    expect(response.headers['content-type']).to.match(/^application\/json/);
    const body = response.body as {
      events: { revision: string; object: { rss_source_id: string } }[];
      state: { play_statuses: Record<string, { position: number }> };
    };
    // More events than a page (2,000): each once, in stream order, and the state folded over all of them.
    expect(body.events.map((event) => event.revision)).to.deep.equal(Array.from({ length: 5000 }, (_, n) => String(n)));
    expect(body.events[4999]!.object.rss_source_id).to.equal('g4999');
    expect(Object.keys(body.state.play_statuses)).to.have.length(5000);
    expect(Object.values(body.state.play_statuses).at(-1)).to.include({ position: 4999 });
  });

  it('deletes the account: credentials, read models, public views and the stored bytes', async () => {
    const { token, username, userId } = await service.login('to-be-deleted');
    await service.http
      .post('/v1/events')
      .set('Authorization', `Bearer ${token}`)
      .send({ events: events('secret-episode-guid') });
    await service.settle();
    const publicBefore = await service.http.get('/v1/public/events').query({ user: username });
    expect(publicBefore.body.events).to.have.length(2);

    const deleted = await service.http.delete('/v1/me').set('Authorization', `Bearer ${token}`);
    expect(deleted.status).to.equal(204);

    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${token}`)).status).to.equal(401);
    expect((await service.http.post('/v1/auth/token').send({ username, password: 'correct horse battery' })).status).to.equal(401);
    expect((await service.http.get('/v1/public/events').query({ user: username })).body.events).to.deep.equal([]);
    const popular = await service.http.get('/v1/popular/episodes');
    expect(JSON.stringify(popular.body)).to.not.contain(username);
    expect(await service.stores.readModel.count('subscriptions', { user: userId })).to.equal(0);
    expect(await service.stores.accounts.findById(userId)).to.equal(undefined);

    // The bytes are gone from the database files (secure_delete, WAL included): the deletion
    // itself wrote the logs back and truncated them.
    for (const file of readdirSync(service.dataDir)) {
      const bytes = readFileSync(path.join(service.dataDir, file));
      expect(bytes.includes('secret-episode-guid'), file).to.equal(false);
    }
  });
});
