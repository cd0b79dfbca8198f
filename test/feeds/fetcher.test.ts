/**
 * The feed fetcher against a local server: conditional GET, timeouts, the size cap, redirects,
 * and the SSRF policy (loopback refused unless allowed, re-checked on every redirect).
 */
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { refusedRange, RefusedAddressError } from '../../src/feeds/address-policy.js';
import type { FetcherOptions } from '../../src/feeds/fetcher.js';
import { FeedFetchError, fetchFeed } from '../../src/feeds/fetcher.js';
import type { FeedServer } from './feed-server.js';
import { fixture, startFeedServer, xml } from './feed-server.js';

const options: FetcherOptions = {
  allowPrivateNetworks: true,
  userAgent: 'podsync-test/1 (+https://podsync.example/)',
  connectTimeoutMs: 1000,
  totalTimeoutMs: 1000,
  maxBytes: 64 * 1024,
  maxRedirects: 5,
};

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the fetch to fail');
}

describe('feed fetcher', () => {
  let server: FeedServer;
  beforeEach(async () => {
    server = await startFeedServer();
  });
  afterEach(() => server.close());

  it('fetches with the User-Agent, then asks conditionally and takes a 304', async () => {
    server.route('/feed', xml(fixture('rss-podcast.xml'), '"v1"'));
    const first = await fetchFeed(`${server.origin}/feed`, {}, options);
    expect(first.kind).to.equal('fetched');
    expect(first.etag).to.equal('"v1"');
    expect(server.requests[0]!.headers['user-agent']).to.equal(options.userAgent);
    const second = await fetchFeed(`${server.origin}/feed`, { etag: first.etag, lastModified: 'Mon, 02 Feb 2026 09:30:00 GMT' }, options);
    expect(second.kind).to.equal('not_modified');
    expect(server.requests[1]!.headers['if-none-match']).to.equal('"v1"');
    expect(server.requests[1]!.headers['if-modified-since']).to.equal('Mon, 02 Feb 2026 09:30:00 GMT');
  });

  it('decodes gzip', async () => {
    server.route('/gz', (_req, res) => res.writeHead(200, { 'Content-Encoding': 'gzip' }).end(gzipSync('<rss/>')));
    const outcome = await fetchFeed(`${server.origin}/gz`, {}, options);
    expect(outcome.kind === 'fetched' && outcome.body.toString()).to.equal('<rss/>');
  });

  it('gives up on a slow feed at the total timeout', async () => {
    server.route('/slow', (_req, res) => {
      res.writeHead(200);
      res.write('<rss>');
      // never ends
    });
    const started = Date.now();
    const error = await failure(fetchFeed(`${server.origin}/slow`, {}, { ...options, totalTimeoutMs: 300 }));
    expect(error).to.be.instanceOf(FeedFetchError).with.property('code', 'timeout');
    expect(Date.now() - started).to.be.lessThan(900);
  });

  it('refuses a huge feed, declared or streamed, and a gzip bomb', async () => {
    const huge = 'x'.repeat(100 * 1024);
    server.route('/declared', (_req, res) => res.writeHead(200, { 'Content-Length': String(huge.length) }).end(huge));
    server.route('/chunked', (_req, res) => {
      res.writeHead(200);
      res.write(huge.slice(0, 50_000));
      res.end(huge.slice(50_000));
    });
    server.route('/bomb', (_req, res) => res.writeHead(200, { 'Content-Encoding': 'gzip' }).end(gzipSync(Buffer.alloc(10 * 1024 * 1024))));
    for (const path of ['/declared', '/chunked', '/bomb']) {
      const error = await failure(fetchFeed(`${server.origin}${path}`, {}, options));
      expect(error, path).to.be.instanceOf(FeedFetchError).with.property('code', 'too_large');
    }
  });

  it('follows up to 5 redirects and stops a redirect loop', async () => {
    for (let hop = 0; hop < 5; hop++) server.route(`/r${hop}`, (_req, res) => res.writeHead(302, { Location: `/r${hop + 1}` }).end());
    server.route('/r5', xml('<rss/>'));
    const outcome = await fetchFeed(`${server.origin}/r0`, {}, options);
    expect(outcome).to.include({ kind: 'fetched', url: `${server.origin}/r5`, redirects: 5 });

    server.route('/loop', (_req, res) => res.writeHead(301, { Location: '/loop' }).end());
    const error = await failure(fetchFeed(`${server.origin}/loop`, {}, options));
    expect(error).to.be.instanceOf(FeedFetchError).with.property('code', 'too_many_redirects');
    expect(server.requests.filter((request) => request.path === '/loop')).to.have.length(6);
  });

  it('records an HTTP error status as a failure', async () => {
    const error = await failure(fetchFeed(`${server.origin}/gone`, {}, options));
    expect(error).to.be.instanceOf(FeedFetchError).with.property('status', 404);
  });

  it('fetches only http(s)', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/feed', 'gopher://127.0.0.1/']) {
      const error = await failure(fetchFeed(url, {}, options));
      expect(error, url).to.be.instanceOf(FeedFetchError).with.property('code', 'bad_url');
    }
  });

  describe('SSRF policy', () => {
    const strict = { ...options, allowPrivateNetworks: false };

    it('classifies loopback, private, link-local, unique-local and multicast as refused, public unicast as allowed', () => {
      for (const address of [
        '127.0.0.1',
        '::1',
        '10.0.0.1',
        '172.16.5.4',
        '192.168.1.1',
        '169.254.169.254',
        'fe80::1',
        'fc00::1',
        'fd12::1',
        '224.0.0.1',
        'ff02::1',
        '0.0.0.0',
        '100.64.0.1',
        '::ffff:127.0.0.1',
        '::ffff:10.0.0.1',
      ]) {
        expect(refusedRange(address), address).to.be.a('string');
      }
      for (const address of ['93.184.216.34', '2606:4700::1111', '::ffff:93.184.216.34']) expect(refusedRange(address), address).to.equal(undefined);
    });

    it('refuses a loopback feed by IP or by name, without sending a request; allowed when lifted', async () => {
      server.route('/feed', xml('<rss/>'));
      for (const url of [`${server.origin}/feed`, `http://localhost:${server.port}/feed`, `http://[::ffff:127.0.0.1]:${server.port}/feed`]) {
        const error = await failure(fetchFeed(url, {}, strict));
        expect(error, url).to.be.instanceOf(RefusedAddressError);
      }
      expect(server.requests).to.have.length(0);
      expect((await fetchFeed(`http://localhost:${server.port}/feed`, {}, options)).kind).to.equal('fetched');
    });

    it('checks every redirect: a public feed redirecting to a private address is refused', async () => {
      // The policy under test, except that the fixture server's own address stands for a public one.
      const publicHere = { ...strict, refused: (address: string) => (address === '127.0.0.1' ? undefined : refusedRange(address)) };
      server.route('/public', (_req, res) => res.writeHead(302, { Location: `http://127.0.0.2:${server.port}/private` }).end());
      server.route('/by-name', (_req, res) => res.writeHead(302, { Location: `http://localhost:${server.port}/private` }).end());
      server.route('/private', xml('<rss/>'));
      for (const path of ['/public', '/by-name']) {
        const error = await failure(fetchFeed(`${server.origin}${path}`, {}, { ...publicHere, resolve: async () => [{ address: '127.0.0.2', family: 4 }] }));
        expect(error, path).to.be.instanceOf(RefusedAddressError);
      }
      expect(server.requests.map((request) => request.path)).to.not.include('/private');
      // Lifted, the same redirect is followed.
      expect((await fetchFeed(`${server.origin}/by-name`, {}, options)).kind).to.equal('fetched');
    });

    it('connects to the address it checked: a name resolving to a refused address among allowed ones is refused', async () => {
      const error = await failure(
        fetchFeed(
          `http://rebinding.test:${server.port}/feed`,
          {},
          {
            ...strict,
            resolve: async () => [
              { address: '93.184.216.34', family: 4 },
              { address: '127.0.0.1', family: 4 },
            ],
          },
        ),
      );
      expect(error).to.be.instanceOf(RefusedAddressError).with.property('address', '127.0.0.1');
    });
  });
});
