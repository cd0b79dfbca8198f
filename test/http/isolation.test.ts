/**
 * User isolation: every authenticated endpoint, called with another user's credentials,
 * reveals nothing of the first user and changes nothing of theirs — including the token
 * routes given the first user's token id (404), and the gpodder routes given the first
 * user's name in the path, when that API is mounted.
 */
import { expect } from 'chai';
import { NATIVE_ROUTES } from '../../src/http/openapi.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { appRoutes } from '../support/routes.js';

const ALICE_FEED = 'https://alice-only.example.com/feed.xml';
const ALICE_GUID = 'alice-secret-episode-guid';
const ALICE_PLAYLIST = 'alice-secret-playlist';
const PASSWORD = 'correct horse battery';

describe('user isolation: another user reveals nothing', function () {
  let service: TestService;
  let alice: { token: string; userId: string; username: string };
  let bob: { token: string; userId: string; username: string };
  let aliceTokenIds: string[];
  /** Everything that identifies Alice or her data; none may appear in an answer to Bob. */
  let markers: string[];

  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  const basic = (username: string) => ({ Authorization: `Basic ${Buffer.from(`${username}:${PASSWORD}`).toString('base64')}` });
  const exportOf = async (token: string) => (await service.http.get('/v1/me/export').set(as(token))).body as { events: unknown[]; state: unknown };

  function expectNothingOfAlice(where: string, text: string, except: readonly string[] = []): void {
    for (const marker of markers.filter((marker) => !except.includes(marker)))
      expect(text.includes(marker), `${where} reveals ${marker}: ${text.slice(0, 300)}`).to.equal(false);
  }

  before(async () => {
    service = await startTestService();
    alice = await service.login('alice-isolated', PASSWORD);
    bob = await service.login('bob-isolated', PASSWORD);
    const synced = await service.http
      .post('/v1/sync')
      .set(as(alice.token))
      .send({
        device: 'alice-phone',
        request_id: 'alice-first',
        subscriptions: [{ rss_source_feed: ALICE_FEED, rss_feed_title: 'Alice Only', subscribed_at: '2026-03-01T00:00:00Z' }],
        play_statuses: [{ rss_source_feed: ALICE_FEED, rss_source_id: ALICE_GUID, played: true, position: 42, updated_at: '2026-03-02T00:00:00Z' }],
        playlists: [
          {
            id: ALICE_PLAYLIST,
            name: 'Alice secret list',
            updated_at: '2026-03-03T00:00:00Z',
            items: [
              {
                item_id: 'alice-item',
                rss_source_feed: ALICE_FEED,
                rss_source_id: ALICE_GUID,
                created_at: '2026-03-03T00:00:00Z',
                updated_at: '2026-03-03T00:00:00Z',
              },
            ],
          },
        ],
      });
    expect(synced.status).to.equal(200);
    // Alice is public: public views may list her, but nothing private of hers may leak.
    const events = await service.http
      .post('/v1/events')
      .set(as(alice.token))
      .send({
        events: [
          {
            type: 'share',
            timestamp: '2026-03-04T00:00:00Z',
            object: { rss_source_feed: ALICE_FEED, rss_source_id: ALICE_GUID },
            data: { message: 'alice-private-message' },
          },
        ],
      });
    expect(events.status).to.equal(201);
    const second = await service.http.post('/v1/auth/token').send({ username: alice.username, password: PASSWORD, label: 'alice-laptop' });
    const tokens = await service.http.get('/v1/auth/tokens').set(as(alice.token));
    aliceTokenIds = (tokens.body.tokens as { id: string }[]).map((token) => token.id);
    expect(aliceTokenIds).to.have.length(2).and.include(second.body.id);
    markers = [
      ALICE_FEED,
      ALICE_GUID,
      ALICE_PLAYLIST,
      'Alice Only',
      'Alice secret list',
      'alice-item',
      'alice-private-message',
      'alice-laptop',
      'alice-phone',
      alice.username,
      alice.userId,
      alice.token,
      ...aliceTokenIds,
    ];
    await service.settle();
  });
  after(async () => {
    await service.stop();
  });

  it('native read endpoints answer Bob with nothing of Alice', async () => {
    const reads = [
      '/v1/subscriptions',
      '/v1/play-statuses',
      '/v1/play-statuses?since=0',
      '/v1/playlists',
      '/v1/playlists?include_deleted=true',
      '/v1/auth/tokens',
      '/v1/me/export',
    ];
    for (const path of reads) {
      const response = await service.http.get(path).set(as(bob.token));
      expect(response.status, path).to.equal(200);
      expectNothingOfAlice(path, response.text);
    }
    const tokens = await service.http.get('/v1/auth/tokens').set(as(bob.token));
    expect(tokens.body.tokens).to.have.length(1);
  });

  it("a sync by Bob from the beginning answers only Bob's records", async () => {
    for (const since of [undefined, '0']) {
      const response = await service.http
        .post('/v1/sync')
        .set(as(bob.token))
        .send({ device: 'bob-phone', request_id: `bob-${since ?? 'none'}`, ...(since ? { since } : {}), subscriptions: [], play_statuses: [], playlists: [] });
      expect(response.status).to.equal(200);
      expect([response.body.subscriptions, response.body.play_statuses, response.body.playlists]).to.deep.equal([[], [], []]);
      expectNothingOfAlice('POST /v1/sync', response.text);
    }
  });

  it("Bob cannot revoke Alice's tokens: 404, and they keep working", async () => {
    for (const id of aliceTokenIds) {
      const response = await service.http.delete(`/v1/auth/tokens/${id}`).set(as(bob.token));
      expect(response.status).to.equal(404);
      expect(response.body.error).to.equal('not_found');
      expectNothingOfAlice('DELETE /v1/auth/tokens/:id', response.text);
    }
    expect((await service.http.get('/v1/auth/tokens').set(as(alice.token))).body.tokens).to.have.length(2);
    expect((await service.http.get('/v1/subscriptions').set(as(alice.token))).status).to.equal(200);
  });

  it("Bob's writes land in Bob's stream only", async () => {
    const before = await exportOf(alice.token);
    const write = await service.http
      .post('/v1/events')
      .set(as(bob.token))
      .send({
        events: [
          { type: 'remove', timestamp: '2026-03-05T00:00:00Z', object: null, data: {} },
          { type: 'remove', timestamp: '2026-03-05T00:00:00Z', object: { rss_source_feed: ALICE_FEED }, data: {} },
          {
            type: 'save',
            timestamp: '2026-03-05T00:00:00Z',
            object: { rss_source_feed: ALICE_FEED, rss_source_id: ALICE_GUID },
            data: { playlist: ALICE_PLAYLIST, item_id: 'alice-item', removed: true },
          },
        ],
      });
    expect(write.status).to.equal(201);
    const after = await exportOf(alice.token);
    expect(after.events).to.deep.equal(before.events);
    expect(after.state).to.deep.equal(before.state);
  });

  it("Bob's app passwords are Bob's: he neither lists nor revokes Alice's, and hers work only as Alice", async () => {
    const alices = await service.http.post('/v1/auth/app-passwords').set(as(alice.token)).send({ name: 'alice-antennapod' });
    expect(alices.status).to.equal(201);
    const bobs = await service.http.post('/v1/auth/app-passwords').set(as(bob.token)).send({ name: 'bob-kasts' });
    const listed = await service.http.get('/v1/auth/app-passwords').set(as(bob.token));
    expect(listed.body.app_passwords.map((app: { id: string }) => app.id)).to.deep.equal([bobs.body.id]);
    expectNothingOfAlice('GET /v1/auth/app-passwords', listed.text + alices.body.id);
    expect((await service.http.delete(`/v1/auth/app-passwords/${alices.body.id}`).set(as(bob.token))).status).to.equal(404);
    const basicWith = (username: string) => ({ Authorization: `Basic ${Buffer.from(`${username}:${alices.body.password}`).toString('base64')}` });
    expect((await service.http.get('/index.php/apps/gpoddersync/subscriptions').set(basicWith(bob.username))).status, "Alice's app password as Bob").to.equal(
      401,
    );
    expect((await service.http.get('/index.php/apps/gpoddersync/subscriptions').set(basicWith(alice.username))).status).to.equal(200);
    expect((await service.http.delete(`/v1/auth/app-passwords/${alices.body.id}`).set(as(alice.token))).status).to.equal(204);
  });

  it("GET /v1/podcasts answers what the feed says, never who subscribes: Alice's feed, unfetched, is a 404 naming nothing of hers", async () => {
    const response = await service.http.get('/v1/podcasts').query({ url: ALICE_FEED }).set(as(bob.token));
    expect(response.status).to.equal(404);
    expectNothingOfAlice('GET /v1/podcasts', response.text);
  });

  it('every authenticated native route has been covered above (a new one needs a case here)', () => {
    const covered = new Set([
      'podcastsGet',
      'authCreateAppPassword',
      'authListAppPasswords',
      'authRevokeAppPassword',
      'authListTokens',
      'authRevokeToken',
      'eventsAppend',
      'syncSync',
      'readModelsSubscriptions',
      'readModelsPlayStatuses',
      'readModelsPlaylists',
      'meExport',
      'meDelete',
    ]);
    const authenticated = [...NATIVE_ROUTES].filter(([, route]) => route.auth === 'bearer').map(([id]) => id);
    expect(
      authenticated.filter((id) => !covered.has(id)),
      'authenticated routes without an isolation case',
    ).to.deep.equal([]);
  });

  it("gpodder routes, given Alice's name in the path and Bob's credentials, reveal nothing of Alice", async function () {
    const gpodder = appRoutes(service.app).filter((route) => route.path.startsWith('/api/2/') || route.path.startsWith('/subscriptions/'));
    if (gpodder.length === 0) this.skip();
    const fileNames = [`${alice.username}.json`, `${alice.username}.opml`, `${alice.username}.txt`, 'alice-phone.json', 'alice-phone.opml'];
    for (const route of gpodder) {
      const names = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((match) => match[1]!);
      for (const file of fileNames) {
        const path = route.path.replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) =>
          encodeURIComponent(name === 'username' ? alice.username : names.length === 1 || name === 'file' ? file : alice.username),
        );
        const before = await exportOf(alice.token);
        for (const credentials of [basic(bob.username), as(bob.token)]) {
          const request = service.http[route.method as 'get' | 'post' | 'put'](path).set(credentials);
          const response = route.method === 'get' ? await request : await request.send(route.path.startsWith('/subscriptions/') ? `${ALICE_FEED}\n` : '{}');
          // Bob put Alice's name (or device) in the path; an error may echo that back.
          const echoed = markers.filter((marker) => decodeURIComponent(path).includes(marker));
          expectNothingOfAlice(`${route.method.toUpperCase()} ${path}`, response.text + JSON.stringify(response.headers), echoed);
          expect(response.status, `${route.method.toUpperCase()} ${path} → ${response.status}`).to.be.within(400, 499);
        }
        const after = await exportOf(alice.token);
        expect(after.events, `${route.method.toUpperCase()} ${path} changed Alice's stream`).to.deep.equal(before.events);
      }
    }
  });

  it('Bob deleting his account leaves Alice whole', async () => {
    const before = await exportOf(alice.token);
    const deleted = await service.http.delete('/v1/me').set(as(bob.token));
    expect(deleted.status).to.equal(204);
    expectNothingOfAlice('DELETE /v1/me', deleted.text);
    const after = await exportOf(alice.token);
    expect(after.events).to.deep.equal(before.events);
    expect(
      (await service.http.get('/v1/subscriptions').set(as(alice.token))).body.subscriptions.map((sub: { rss_source_feed: string }) => sub.rss_source_feed),
    ).to.deep.equal([ALICE_FEED]);
  });
});
