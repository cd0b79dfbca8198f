/** The core HTTP slice: accounts and tokens, `POST /v1/events`, errors (docs/design.md, "Clients and their APIs"). */
import { randomUUID } from 'node:crypto';
import { UnavailableError } from '@eventstore/db-client';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import type { UserEvent } from '../../src/domain/events.js';
import { toStoreEvent } from '../../src/services/codec.js';
import type { EventStore } from '../../src/stores/event-store.js';

const FEED = 'https://feeds.example.com/show.xml';
const subscribe = (feed = FEED, timestamp = '2026-03-01T10:00:00Z') => ({
  type: 'subscribe',
  timestamp,
  object: { rss_source_feed: feed },
  data: { rss_feed_title: 'Show' },
});
const play = (guid: string, timestamp = '2026-03-02T10:00:00Z') => ({
  type: 'play',
  timestamp,
  object: { rss_source_feed: FEED, rss_source_id: guid },
  data: { played: true, position: 42, rss_item_title: `Episode ${guid}` },
});

describe('HTTP core: accounts, events, errors', function () {
  let service: TestService;
  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service.stop();
  });

  describe('accounts and tokens', () => {
    it('registers, refuses a taken username (case-insensitively), and issues tokens', async () => {
      const created = await service.http.post('/v1/auth/register').send({ username: 'Carol', password: 'long enough pw' });
      expect(created.status).to.equal(201);
      expect(created.body).to.include({ username: 'Carol' });
      expect(created.body.id).to.match(/^[0-9a-f-]{36}$/);
      const again = await service.http.post('/v1/auth/register').send({ username: 'carol', password: 'long enough pw' });
      expect(again.status).to.equal(409);
      const token = await service.http.post('/v1/auth/token').send({ username: 'Carol', password: 'long enough pw' });
      expect(token.status).to.equal(200);
      expect(token.body.token).to.be.a('string').with.length.greaterThan(30);
    });

    it('answers a wrong password and an unknown user alike, with 401', async () => {
      await service.login('dave', 'dave password');
      const wrong = await service.http.post('/v1/auth/token').send({ username: 'dave', password: 'not the password' });
      const unknown = await service.http.post('/v1/auth/token').send({ username: 'nobody-here', password: 'whatever1' });
      expect(wrong.status).to.equal(401);
      expect(unknown.status).to.equal(401);
      expect(wrong.body.message).to.equal(unknown.body.message);
    });

    it('validates registration input, naming the field', async () => {
      const short = await service.http.post('/v1/auth/register').send({ username: 'eve', password: 'short' });
      expect(short.status).to.equal(400);
      expect(short.body.details.issues[0].path).to.equal('password');
      const hostile = await service.http.post('/v1/auth/register').send({ username: '../etc/passwd', password: 'long enough pw' });
      expect(hostile.status).to.equal(400);
      expect(hostile.body.details.issues[0].path).to.equal('username');
    });

    it('stores passwords hashed with scrypt, never in clear', async () => {
      await service.login('frank', 'franks secret pw');
      const account = await service.stores.accounts.findByUsername('frank');
      expect(account?.passwordHash).to.match(/^scrypt\$/);
      expect(account?.passwordHash).not.to.contain('franks secret pw');
    });

    it('revokes a token: it stops working at once', async () => {
      const { token } = await service.login();
      const list = await service.http.get('/v1/auth/tokens').set('Authorization', `Bearer ${token}`);
      expect(list.status).to.equal(200);
      expect(list.body.tokens).to.have.length(1);
      const revoked = await service.http.delete(`/v1/auth/tokens/${list.body.tokens[0].id}`).set('Authorization', `Bearer ${token}`);
      expect(revoked.status).to.equal(204);
      const after = await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${token}`);
      expect(after.status).to.equal(401);
    });

    it('refuses registration when it is closed', async () => {
      const closed = await startTestService({ REGISTRATION: 'closed' });
      try {
        const response = await closed.http.post('/v1/auth/register').send({ username: 'gina', password: 'long enough pw' });
        expect(response.status).to.equal(403);
        expect(response.body.error).to.equal('forbidden');
      } finally {
        await closed.stop();
      }
    });
  });

  describe('POST /v1/events', () => {
    it('appends a batch atomically and serves it back through the read models', async () => {
      const { token } = await service.login();
      const response = await service.http
        .post('/v1/events')
        .set('Authorization', `Bearer ${token}`)
        .send({ events: [subscribe(), play('ep-1'), play('ep-2')] });
      expect(response.status).to.equal(201);
      expect(response.body.ids).to.have.length(3);
      const subscriptions = await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${token}`);
      expect(subscriptions.body.subscriptions).to.deep.equal([
        {
          rss_source_feed: FEED,
          rss_feed_title: 'Show',
          subscribed_at: '2026-03-01T10:00:00.000Z',
          unsubscribed_at: null,
          created_at: '2026-03-01T10:00:00.000Z',
        },
      ]);
    });

    it('is idempotent: a retried request with the same event ids adds nothing', async () => {
      const { token } = await service.login();
      const events = [
        { ...subscribe(), id: '6f1f3a52-9a8e-4a53-9b1e-3f7c2a1d0e01' },
        { ...play('ep-9'), id: '6f1f3a52-9a8e-4a53-9b1e-3f7c2a1d0e02' },
      ];
      const first = await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events });
      const countAfterFirst = await service.eventCount();
      const retry = await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events });
      expect(first.status).to.equal(201);
      expect(retry.status).to.equal(201);
      expect(retry.body.ids).to.deep.equal(first.body.ids);
      expect(await service.eventCount()).to.equal(countAfterFirst);
    });

    it('writes nothing when one event of a batch is invalid, and names the field', async () => {
      const { token } = await service.login();
      const before = await service.eventCount();
      const response = await service.http
        .post('/v1/events')
        .set('Authorization', `Bearer ${token}`)
        .send({ events: [subscribe(), { ...play('ep-3'), data: { played: 'yes', position: 1 } }] });
      expect(response.status).to.equal(400);
      expect(response.body.error).to.equal('validation_failed');
      expect(response.body.message).to.contain('events.1.data.played');
      expect(response.body.details.issues.map((issue: { path: string }) => issue.path)).to.include('events.1.data.played');
      expect(await service.eventCount()).to.equal(before);
    });

    it('rejects non-http URLs, unknown types and unknown fields', async () => {
      const { token } = await service.login();
      const cases = [
        { events: [subscribe('javascript:alert(1)')] },
        { events: [{ ...subscribe(), type: 'explode' }] },
        { events: [{ ...subscribe(), extra: true }] },
        { events: [] },
        { events: 'nope' },
        [],
      ];
      for (const body of cases) {
        const response = await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send(body);
        expect(response.status, JSON.stringify(body)).to.equal(400);
        expect(response.body).to.have.keys('error', 'message', 'details');
      }
    });

    it('answers malformed JSON with 400 and oversize bodies with 413', async () => {
      const { token } = await service.login();
      const before = await service.eventCount();
      const malformed = await service.http
        .post('/v1/events')
        .set('Authorization', `Bearer ${token}`)
        .set('Content-Type', 'application/json')
        .send('{"events": [');
      expect(malformed.status).to.equal(400);
      expect(malformed.body.error).to.equal('malformed_json');
      const huge = JSON.stringify({ events: [{ ...subscribe(), data: { rss_feed_title: 'x'.repeat(1_100_000) } }] });
      const oversize = await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send(huge);
      expect(oversize.status).to.equal(413);
      expect(await service.eventCount()).to.equal(before);
    });

    it('requires a valid bearer token', async () => {
      const missing = await service.http.post('/v1/events').send({ events: [subscribe()] });
      expect(missing.status).to.equal(401);
      expect(missing.headers['www-authenticate']).to.contain('Bearer');
      const bogus = await service.http
        .post('/v1/events')
        .set('Authorization', 'Bearer not-a-real-token-at-all-123456')
        .send({ events: [subscribe()] });
      expect(bogus.status).to.equal(401);
      const malformed = await service.http
        .post('/v1/events')
        .set('Authorization', 'Basic abc')
        .send({ events: [subscribe()] });
      expect(malformed.status).to.equal(401);
    });

    it('answers 503 with Retry-After when the store cannot take the write in time, and writes nothing', async () => {
      const user = await service.login();
      const before = await service.eventCount();
      const events = service.stores.embedded!.database;
      const holder = new BetterSqlite3(events.name);
      events.pragma('busy_timeout = 200');
      holder.exec('BEGIN IMMEDIATE');
      try {
        const refused = await service.http
          .post('/v1/events')
          .set('Authorization', `Bearer ${user.token}`)
          .send({ events: [subscribe()] });
        expect(refused.status).to.equal(503);
        expect(refused.headers['retry-after']).to.equal('1');
        expect(refused.body.error).to.equal('store_busy');
      } finally {
        holder.exec('ROLLBACK');
        holder.close();
        events.pragma('busy_timeout = 5000');
      }
      expect(await service.eventCount()).to.equal(before);
    });

    /** POSTs one subscribe with `token` while the store appends through `during(its own append)`, then puts its own back. */
    async function postWhileAppending(token: string, during: (append: EventStore['append']) => EventStore['append']) {
      const store = service.stores.embedded!.eventStore!;
      const append = store.append;
      store.append = during(append.bind(store));
      try {
        return await service.http
          .post('/v1/events')
          .set('Authorization', `Bearer ${token}`)
          .send({ events: [subscribe()] });
      } finally {
        store.append = append;
      }
    }

    it("answers 503 store_unavailable with Retry-After when a store's server does not answer", async () => {
      const user = await service.login();
      // What the EventStoreDB client throws when its server is out of reach.
      const refused = await postWhileAppending(user.token, () => async () => {
        throw new UnavailableError();
      });
      expect(refused.status).to.equal(503);
      expect(refused.headers['retry-after']).to.equal('5');
      expect(refused.body.error).to.equal('store_unavailable');
    });

    it('answers 503 with Retry-After when other writers of the account land first at every attempt, and writes nothing of its own', async () => {
      const user = await service.login();
      const stream = `user-${user.userId}`;
      // Another process writing to the same stream just before each of the request's appends.
      const refused = await postWhileAppending(user.token, (append) => async (...args) => {
        const other: UserEvent = {
          id: randomUUID(),
          user: user.userId,
          timestamp: '2026-03-01T09:00:00Z',
          type: 'subscribe',
          object: { rss_source_feed: 'https://other.example.com/feed.xml' },
          data: {},
        };
        if (args[0] === stream) await append(stream, [toStoreEvent(other)]);
        return append(...args);
      });
      expect(refused.status).to.equal(503);
      expect(refused.headers['retry-after']).to.equal('1');
      expect(refused.body.error).to.equal('write_conflict');
      const feeds = (await service.stores.eventStore.readStream(stream)).map((event) => (event.data['object'] as { rss_source_feed: string }).rss_source_feed);
      expect(feeds).to.have.length.above(1);
      expect(feeds).not.to.include(FEED);
    });

    it("keeps users apart: one user never sees another user's subscriptions", async () => {
      const alice = await service.login();
      const bob = await service.login();
      await service.http
        .post('/v1/events')
        .set('Authorization', `Bearer ${alice.token}`)
        .send({ events: [subscribe('https://alice.example.com/feed')] });
      const bobs = await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${bob.token}`);
      expect(bobs.body.subscriptions).to.deep.equal([]);
    });

    it('answers unknown routes with a JSON 404', async () => {
      const response = await service.http.get('/v1/nothing-here');
      expect(response.status).to.equal(404);
      expect(response.body.error).to.equal('not_found');
    });
  });

  it('routes a request only to its family: native paths (any case of /v1/), pages and the gpodder API', async () => {
    const lower = await service.http.get('/v1/popular/podcasts');
    const upper = await service.http.get('/V1/popular/podcasts');
    expect(lower.status).to.equal(200);
    expect(upper.status, 'Express routes ignore case').to.equal(200);
    expect(upper.body).to.deep.equal(lower.body);
    const page = await service.http.get('/signin');
    expect(page.status).to.equal(200);
    expect(page.type).to.equal('text/html');
    const gpodder = await service.http.post('/api/2/auth/nobody/login.json');
    expect(gpodder.status).to.equal(401);
    const notNative = await service.http.get('/v1signin');
    expect(notNative.status).to.equal(404);
  });

  it('GET /healthz answers', async () => {
    const response = await service.http.get('/healthz');
    expect(response.status).to.equal(200);
    expect(response.body.status).to.equal('ok');
  });
});
