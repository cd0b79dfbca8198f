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
