/** Rate limiting (docs/design.md, "Clients and their APIs": 429): a token bucket per API token, per client address without one. */
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config.js';
import { RateLimiter } from '../../src/http/rate-limit.js';
import { AccountService } from '../../src/services/accounts.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';

describe('rate limiting', function () {
  describe('RateLimiter (token bucket)', () => {
    let now = 0;
    const clock = () => now;
    beforeEach(() => {
      now = 1_000_000;
    });

    it('admits a burst of one minute, then one request per 60/limit seconds', () => {
      const limiter = new RateLimiter({ perMinute: 6, now: clock });
      for (let i = 0; i < 6; i++) expect(limiter.take('k').allowed, `request ${i}`).to.equal(true);
      expect(limiter.take('k')).to.deep.equal({ allowed: false, retryAfterSeconds: 10 });
      now += 9_000;
      expect(limiter.take('k')).to.deep.equal({ allowed: false, retryAfterSeconds: 1 });
      now += 1_000;
      expect(limiter.take('k').allowed).to.equal(true);
      expect(limiter.take('k').allowed).to.equal(false);
    });

    it('keeps keys apart, charges costs, and never refills beyond the burst', () => {
      const limiter = new RateLimiter({ perMinute: 20, now: clock });
      expect(limiter.take('a', 10).allowed).to.equal(true);
      expect(limiter.take('a', 10).allowed).to.equal(true);
      expect(limiter.take('a', 10)).to.deep.equal({ allowed: false, retryAfterSeconds: 30 });
      expect(limiter.take('b', 20).allowed).to.equal(true);
      now += 3_600_000;
      expect(limiter.take('a', 20).allowed).to.equal(true);
      expect(limiter.take('a', 1).allowed).to.equal(false);
    });

    it('forgets the least recently used keys beyond maxKeys (memory stays bounded)', () => {
      const limiter = new RateLimiter({ perMinute: 1, maxKeys: 2, now: clock });
      expect(limiter.take('a').allowed).to.equal(true);
      expect(limiter.take('b').allowed).to.equal(true);
      expect(limiter.take('c').allowed).to.equal(true); // 'a' is forgotten
      expect(limiter.take('b').allowed).to.equal(false);
      expect(limiter.take('a').allowed, 'a forgotten key starts afresh').to.equal(true);
    });
  });

  it('RATE_LIMIT_PER_MINUTE defaults to 600 and must be a non-negative integer', () => {
    expect(loadConfig({}).RATE_LIMIT_PER_MINUTE).to.equal(600);
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: '0' }).RATE_LIMIT_PER_MINUTE).to.equal(0);
    expect(() => loadConfig({ RATE_LIMIT_PER_MINUTE: '-1' })).to.throw(ConfigError, /RATE_LIMIT_PER_MINUTE/);
    expect(() => loadConfig({ RATE_LIMIT_PER_MINUTE: 'lots' })).to.throw(ConfigError, /RATE_LIMIT_PER_MINUTE/);
  });

  describe('over HTTP', () => {
    let service: TestService | undefined;
    afterEach(async () => {
      await service?.stop();
      service = undefined;
    });

    /** A user with two tokens, made without HTTP so the address's bucket stays full. */
    async function userWithTokens(running: TestService, name: string) {
      const accounts = new AccountService(running.stores.accounts);
      await accounts.register(name, 'a long password');
      const first = await accounts.issueToken(name, 'a long password');
      const second = await accounts.issueToken(name, 'a long password');
      return [first.token, second.token] as const;
    }

    it('answers 429 with Retry-After and the error JSON once a token has used its minute, per token', async () => {
      service = await startTestService({ RATE_LIMIT_PER_MINUTE: '5' });
      const [token, otherToken] = await userWithTokens(service, 'limited');
      for (let i = 0; i < 5; i++)
        expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${token}`)).status, `request ${i}`).to.equal(200);
      const limited = await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${token}`);
      expect(limited.status).to.equal(429);
      // One request per 12 s; a little less if the first requests took a while.
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).to.be.within(10, 12);
      expect(limited.body).to.deep.equal({
        error: 'rate_limited',
        message: `Too many requests; retry in ${retryAfter} s`,
        details: { retry_after: retryAfter },
      });
      // Another token has its own bucket; health checks are never limited.
      expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${otherToken}`)).status).to.equal(200);
      expect((await service.http.get('/healthz')).status).to.equal(200);
    });

    it('writes nothing when a request is refused', async () => {
      service = await startTestService({ RATE_LIMIT_PER_MINUTE: '1' });
      const [token] = await userWithTokens(service, 'writer');
      const events = (guid: string) => ({
        events: [
          {
            type: 'play',
            timestamp: '2026-01-01T00:00:00Z',
            object: { rss_source_feed: 'https://a.example.com/f', rss_source_id: guid },
            data: { played: true, position: 1 },
          },
        ],
      });
      expect((await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send(events('one'))).status).to.equal(201);
      const before = await service.eventCount();
      const refused = await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send(events('two'));
      expect(refused.status).to.equal(429);
      expect(await service.eventCount()).to.equal(before);
    });

    it('limits requests without a token by address, password checks weighing ten', async () => {
      service = await startTestService({ RATE_LIMIT_PER_MINUTE: '20' });
      const guess = () => service!.http.post('/v1/auth/token').send({ username: 'someone', password: 'a guess' });
      expect((await guess()).status).to.equal(401);
      expect((await guess()).status).to.equal(401);
      const third = await guess();
      expect(third.status).to.equal(429);
      expect(Number(third.headers['retry-after'])).to.be.within(25, 30); // ten requests' worth at 20 a minute
      // The address's bucket is shared by its other unauthenticated requests.
      expect((await service.http.get('/v1/popular/podcasts')).status).to.equal(429);
    });

    it('gpodder: a valid bearer token is limited per token, an invalid one charged to the address', async () => {
      service = await startTestService({ RATE_LIMIT_PER_MINUTE: '3' });
      const [token, otherToken] = await userWithTokens(service, 'gpbearer');
      const devices = (secret: string) => service!.http.get('/api/2/devices/gpbearer.json').set('Authorization', `Bearer ${secret}`);
      expect([(await devices(token)).status, (await devices(token)).status, (await devices(token)).status]).to.deep.equal([200, 200, 200]);
      expect((await devices(token)).status, 'the token is out of requests').to.equal(429);
      expect((await devices(otherToken)).status).to.equal(200);
      const bogus = 'not-a-real-token-at-all-0123456789';
      expect([(await devices(bogus)).status, (await devices(bogus)).status, (await devices(bogus)).status]).to.deep.equal([401, 401, 401]);
      expect((await devices(bogus)).status, 'the address is out of failures').to.equal(429);
    });

    it('gpodder Basic: a wrong password costs ten to the address and to the username, and no password is checked once either is out', async () => {
      service = await startTestService({ RATE_LIMIT_PER_MINUTE: '20' });
      await userWithTokens(service, 'gpbasic');
      let checks = 0;
      const verify = service.stores.accounts.findByUsername.bind(service.stores.accounts);
      service.stores.accounts.findByUsername = async (username) => {
        checks++;
        return verify(username);
      };
      const basic = (password: string, forwardedFor?: string) => {
        const test = service!.http.get('/api/2/devices/gpbasic.json').auth('gpbasic', password);
        return forwardedFor ? test.set('X-Forwarded-For', forwardedFor) : test;
      };
      expect((await basic('wrong one')).status).to.equal(401);
      expect((await basic('wrong two')).status).to.equal(401);
      const limited = await basic('wrong three');
      expect(limited.status).to.equal(429);
      expect(checks, 'no password check once limited').to.equal(2);
      expect((await basic('a long password')).status, 'the right password too waits').to.equal(429);
    });

    it('gpodder Basic: failures are charged per username whatever the address', async () => {
      service = await startTestService({ RATE_LIMIT_PER_MINUTE: '20', TRUST_PROXY: 'true' });
      await userWithTokens(service, 'gpspread');
      const basic = (password: string, address: string) =>
        service!.http.get('/api/2/devices/gpspread.json').auth('gpspread', password).set('X-Forwarded-For', address);
      expect((await basic('wrong', '203.0.113.1')).status).to.equal(401);
      expect((await basic('wrong', '203.0.113.2')).status).to.equal(401);
      expect((await basic('wrong', '203.0.113.3')).status, 'the username is out of password checks').to.equal(429);
    });

    it('a public route called with a bogus credential is charged to the address', async () => {
      service = await startTestService({ RATE_LIMIT_PER_MINUTE: '2' });
      const popular = () => service!.http.get('/v1/popular/podcasts').set('Authorization', 'Bearer not-a-real-token-at-all-0123456789');
      expect([(await popular()).status, (await popular()).status]).to.deep.equal([200, 200]);
      expect((await popular()).status).to.equal(429);
    });

    it('charges bearer tokens that do not authenticate to the address', async () => {
      service = await startTestService({ RATE_LIMIT_PER_MINUTE: '3' });
      const bogus = () => service!.http.get('/v1/subscriptions').set('Authorization', 'Bearer not-a-real-token-at-all-0123456789');
      expect([(await bogus()).status, (await bogus()).status, (await bogus()).status]).to.deep.equal([401, 401, 401]);
      expect((await bogus()).status).to.equal(429);
      expect((await service.http.get('/v1/subscriptions').set('Authorization', 'Bearer !')).status).to.equal(429);
    });
  });
});
