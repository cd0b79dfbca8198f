/** The admin HTTP API (`/admin`): the ADMIN_TOKEN guard, users, streams, export, stats. */
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { adminRouter } from '../../src/http/admin.js';
import { errorHandler } from '../../src/http/errors.js';
import { requestContext } from '../../src/http/observability.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { MeService } from '../../src/services/me.js';
import { ReadModelService } from '../../src/services/read-models.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { ERASURE_REACTOR } from '../../src/retention/erasure-reactor.js';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
const FEED = 'https://feeds.example.com/admin.xml';
const events = [
  { type: 'subscribe', timestamp: '2026-03-01T10:00:00Z', object: { rss_source_feed: FEED }, data: { rss_feed_title: 'Admin show' } },
  { type: 'play', timestamp: '2026-03-02T10:00:00Z', object: { rss_source_feed: FEED, rss_source_id: 'ep-1' }, data: { played: true, position: 42 } },
];

describe('admin API', function () {
  it('ADMIN_TOKEN and READY_MAX_LAG are validated at start, without echoing the token', () => {
    expect(loadConfig({ ADMIN_TOKEN: 'sixteen-chars-ok' }).ADMIN_TOKEN).to.equal('sixteen-chars-ok');
    let caught: unknown;
    try {
      loadConfig({ ADMIN_TOKEN: 'short-secret', READY_MAX_LAG: '0' });
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(ConfigError);
    const message = (caught as Error).message;
    expect(message).to.contain('ADMIN_TOKEN: must be at least 16 characters');
    expect(message).to.contain('READY_MAX_LAG');
    expect(message).not.to.contain('short-secret');
    expect(loadConfig({}).ADMIN_TOKEN).to.equal(undefined);
    expect(loadConfig({ ADMIN_TOKEN: '' }).ADMIN_TOKEN, 'empty means unset').to.equal(undefined);
  });

  describe('without ADMIN_TOKEN', function () {
    let service: TestService;
    before(async () => {
      service = await startTestService();
    });
    after(() => service.stop());

    it('does not exist: 404 with or without a token', async () => {
      for (const path of ['/admin/users', '/admin/stats', '/admin/users/x/stream']) {
        expect((await service.http.get(path)).status, path).to.equal(404);
        expect((await service.http.get(path).set('Authorization', `Bearer ${ADMIN_TOKEN}`)).status, path).to.equal(404);
      }
    });
  });

  describe('with ADMIN_TOKEN', function () {
    let service: TestService;
    let user: { token: string; userId: string; username: string };
    const admin = (path: string) => service.http.get(path).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    const adminPost = (path: string) => service.http.post(path).set('Authorization', `Bearer ${ADMIN_TOKEN}`);

    before(async () => {
      service = await startTestService({ ADMIN_TOKEN });
      user = await service.login('ada', 'ada long password');
      const posted = await service.http.post('/v1/events').set('Authorization', `Bearer ${user.token}`).send({ events });
      expect(posted.status).to.equal(201);
      await service.settle();
    });
    after(() => service.stop());

    it('refuses a missing, malformed, wrong or differently sized token with 401', async () => {
      const attempts = [undefined, ADMIN_TOKEN, `Basic ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN.slice(0, -1)}x`, 'Bearer short', `Bearer ${ADMIN_TOKEN}extra`];
      for (const header of attempts) {
        const request = service.http.get('/admin/users');
        const response = header === undefined ? await request : await request.set('Authorization', header);
        expect(response.status, String(header)).to.equal(401);
        expect(response.headers['www-authenticate']).to.contain('Bearer');
        expect(response.body.error).to.equal('unauthorized');
      }
    });

    it('refuses a user bearer token', async () => {
      expect((await service.http.get('/admin/users').set('Authorization', `Bearer ${user.token}`)).status).to.equal(401);
    });

    it('lists users and shows one', async () => {
      const list = await admin('/admin/users');
      expect(list.status).to.equal(200);
      expect(list.body.users).to.deep.include({ id: user.userId, username: 'ada', created_at: list.body.users[0].created_at, disabled: false });
      const one = await admin('/admin/users/ada');
      expect(one.body).to.include({ id: user.userId, username: 'ada', disabled: false });
      expect((await admin('/admin/users/nobody')).status).to.equal(404);
    });

    it("shows the user's stream with revisions, types, device and recorded times, objects and the truncation point", async () => {
      const stream = await admin('/admin/users/ada/stream');
      expect(stream.status).to.equal(200);
      expect(stream.body).to.include({ stream: `user-${user.userId}`, last_revision: '1', truncate_before: null, soft_deleted: false });
      expect(stream.body.events.map((event: { revision: string; type: string }) => [event.revision, event.type])).to.deep.equal([
        ['0', 'subscribe'],
        ['1', 'play'],
      ]);
      expect(stream.body.events[1]).to.include({ device_time: '2026-03-02T10:00:00.000Z' });
      expect(stream.body.events[1].object).to.deep.equal({ rss_source_feed: FEED, rss_source_id: 'ep-1' });
      expect(Date.parse(stream.body.events[1].recorded_at)).to.be.closeTo(Date.now(), 60_000);

      await service.stores.eventStore.setStreamMetadata(`user-${user.userId}`, { truncateBefore: 1n });
      const truncated = await admin('/admin/users/ada/stream?limit=5');
      expect(truncated.body.truncate_before).to.equal('1');
      expect(truncated.body.events.map((event: { revision: string }) => event.revision)).to.deep.equal(['1']);
      await service.stores.eventStore.setStreamMetadata(`user-${user.userId}`, { truncateBefore: 0n });

      expect((await admin('/admin/users/ada/stream?limit=0')).status).to.equal(400);
      expect((await admin('/admin/users/nobody/stream')).status).to.equal(404);
    });

    it('exports a user exactly as GET /v1/me/export does', async () => {
      const own = await service.http.get('/v1/me/export').set('Authorization', `Bearer ${user.token}`);
      const byAdmin = await admin('/admin/users/ada/export');
      expect(byAdmin.status).to.equal(200);
      expect(byAdmin.body).to.deep.equal(own.body);
      expect(byAdmin.body.events).to.have.length(2);
    });

    it('disables a user (their token stops working) and enables them again', async () => {
      const disabled = await adminPost('/admin/users/ada/disable');
      expect(disabled.body).to.include({ username: 'ada', disabled: true });
      expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${user.token}`)).status).to.equal(401);
      expect((await service.http.post('/v1/auth/token').send({ username: 'ada', password: 'ada long password' })).status).to.equal(401);
      const enabled = await adminPost('/admin/users/ada/enable');
      expect(enabled.body).to.include({ username: 'ada', disabled: false });
      expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${user.token}`)).status).to.equal(200);
      expect((await adminPost('/admin/users/nobody/disable')).status).to.equal(404);
    });

    it("sets a user's password: the new one logs in, the old one no longer does, their token keeps working", async () => {
      await service.login('cleo', 'cleo old password');
      const issued = await service.http.post('/v1/auth/token').send({ username: 'cleo', password: 'cleo old password' });
      const set = await adminPost('/admin/users/cleo/password').send({ password: 'cleo new password' });
      expect(set.status).to.equal(200);
      expect(set.body).to.include({ username: 'cleo', disabled: false });
      expect((await service.http.post('/v1/auth/token').send({ username: 'cleo', password: 'cleo new password' })).status).to.equal(200);
      expect((await service.http.post('/v1/auth/token').send({ username: 'cleo', password: 'cleo old password' })).status).to.equal(401);
      expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${String(issued.body.token)}`)).status).to.equal(200);

      const short = await adminPost('/admin/users/cleo/password').send({ password: 'short' });
      expect(short.status).to.equal(400);
      expect(short.body.details.issues.map((issue: { path: string }) => issue.path)).to.deep.equal(['password']);
      expect((await adminPost('/admin/users/nobody/password').send({ password: 'long enough password' })).status).to.equal(404);
      expect((await service.http.post('/v1/auth/token').send({ username: 'cleo', password: 'cleo new password' })).status, 'refusals changed nothing').to.equal(
        200,
      );
    });

    it('creates users, validating like registration', async () => {
      const created = await adminPost('/admin/users').send({ username: 'bea', password: 'bea long password' });
      expect(created.status).to.equal(201);
      expect(created.body).to.include({ username: 'bea', disabled: false });
      expect((await service.http.post('/v1/auth/token').send({ username: 'bea', password: 'bea long password' })).status).to.equal(200);
      expect((await adminPost('/admin/users').send({ username: 'bea', password: 'bea long password' })).status).to.equal(409);
      const invalid = await adminPost('/admin/users').send({ username: 'bad name', password: 'short' });
      expect(invalid.status).to.equal(400);
      expect(invalid.body.details.issues.map((issue: { path: string }) => issue.path)).to.have.members(['username', 'password']);
    });

    it('logs each admin action with the request id (an audit trail); a refused request logs none', async () => {
      const stream = new PassThrough();
      const lines: Record<string, unknown>[] = [];
      stream.on('data', (chunk: Buffer) =>
        lines.push(
          ...chunk
            .toString()
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as Record<string, unknown>),
        ),
      );
      const logger = createLogger({ format: 'json', destination: stream });
      const { eventStore, accounts, readModel } = service.stores;
      const app = express();
      app.use(requestContext(silentLogger()));
      app.use(express.json());
      app.use(
        '/admin',
        adminRouter({
          token: ADMIN_TOKEN,
          logger,
          accounts,
          eventStore,
          me: new MeService(eventStore, accounts, new ReadModelService(eventStore, readModel)),
          stats: () => Promise.reject(new Error('unused')),
        }),
      );
      app.use(errorHandler(logger));
      const http = request(app);
      await http.post('/admin/users/ada/disable').set('Authorization', 'Bearer wrong-token-wrong-token');
      await http.post('/admin/users/ada/disable').set('Authorization', `Bearer ${ADMIN_TOKEN}`).set('X-Request-Id', 'audit-1');
      await http.post('/admin/users/ada/enable').set('Authorization', `Bearer ${ADMIN_TOKEN}`).set('X-Request-Id', 'audit-2');
      await http.get('/admin/users/ada/export').set('Authorization', `Bearer ${ADMIN_TOKEN}`).set('X-Request-Id', 'audit-3');
      await new Promise((resolve) => setImmediate(resolve));
      expect(lines.map(({ message, action, username, requestId }) => ({ message, action, username, requestId }))).to.deep.equal([
        { message: 'admin action', action: 'disable user', username: 'ada', requestId: 'audit-1' },
        { message: 'admin action', action: 'enable user', username: 'ada', requestId: 'audit-2' },
        { message: 'admin action', action: 'export user', username: 'ada', requestId: 'audit-3' },
      ]);
    });

    it('deletes a user as their own DELETE /v1/me does: credentials, stream, read models, public activity and popularity; an unknown user is a 404', async () => {
      const doomed = await service.login('doomed', 'doomed long password');
      const bearer = `Bearer ${doomed.token}`;
      await service.http
        .post('/v1/events')
        .set('Authorization', bearer)
        .send({ events: [{ type: 'privacy', timestamp: '2026-03-01T09:00:00Z', object: null, data: { privacy: 'public' } }, ...events] })
        .expect(201);
      await service.settle();
      expect(JSON.stringify((await service.http.get('/v1/public/events')).body)).to.include('doomed');
      const playsBefore = (await service.http.get('/v1/popular/podcasts')).body.podcasts.find(
        (podcast: { rss_source_feed: string }) => podcast.rss_source_feed === FEED,
      )?.plays as number;

      expect((await service.http.delete('/admin/users/doomed')).status, 'without the token').to.equal(401);
      expect((await service.http.delete('/admin/users/nobody-by-that-name').set('Authorization', `Bearer ${ADMIN_TOKEN}`)).status).to.equal(404);
      const deleted = await service.http.delete('/admin/users/doomed').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
      expect(deleted.status).to.equal(204);
      await service.settle();
      expect((await service.http.get('/v1/subscriptions').set('Authorization', bearer)).status, 'their token').to.equal(401);
      expect((await service.http.post('/v1/auth/token').send({ username: 'doomed', password: 'doomed long password' })).status, 'their password').to.equal(401);
      expect((await admin('/admin/users/doomed')).status).to.equal(404);
      expect((await admin('/admin/users')).body.users.map((listed: { username: string }) => listed.username)).not.to.include('doomed');
      expect(JSON.stringify((await service.http.get('/v1/public/events')).body)).not.to.include('doomed');
      const playsAfter = (await service.http.get('/v1/popular/podcasts')).body.podcasts.find(
        (podcast: { rss_source_feed: string }) => podcast.rss_source_feed === FEED,
      )?.plays as number | undefined;
      expect(playsAfter ?? 0, 'their play no longer counts').to.equal(playsBefore - 1);
      expect(await service.stores.eventStore.readStream(`user-${doomed.userId}`).catch((error: Error) => error.name)).to.equal('StreamDeletedError');
      expect((await service.http.delete('/admin/users/doomed').set('Authorization', `Bearer ${ADMIN_TOKEN}`)).status, 'once').to.equal(404);
    });

    it('reports stats: events, users, each projection caught up, nothing parked', async () => {
      await service.settle();
      await service.erased();
      const stats = await admin('/admin/stats');
      expect(stats.status).to.equal(200);
      expect(stats.body).to.include({ events: await service.eventCount(), events_complete: true, parked: 0 });
      expect(stats.body.users).to.be.at.least(1);
      expect(stats.body.projections.map((projection: { name: string }) => projection.name)).to.deep.equal([...service.projector.names, ERASURE_REACTOR]);
      for (const projection of stats.body.projections) expect(projection).to.include({ lag: 0, lag_exact: true, parked: 0 });
    });
  });
});
