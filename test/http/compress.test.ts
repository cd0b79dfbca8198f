/** Answers compressed for clients that ask, as OkHttp (AntennaPod) and Qt (Kasts) do; pages never (src/http/compress.ts). */
import { expect } from 'chai';
import http from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { listenServing } from '../../src/http/server.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';

interface RawAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The bytes as they came over the wire, still compressed if they were. */
  readonly body: Buffer;
}

describe('compressed answers', () => {
  let service: TestService;
  let server: Server;
  let port: number;
  let token: string;

  /** A request made as Node's http makes it: no Accept-Encoding unless given, nothing unpacked. */
  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<RawAnswer>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        })
        .on('error', reject);
    });

  before(async () => {
    service = await startTestService({ DEFAULT_PRIVACY: 'private' });
    server = await listenServing(service.app, 0, '127.0.0.1');
    port = (server.address() as AddressInfo).port;
    ({ token } = await service.login('compressed', 'correct horse battery'));
    const events = Array.from({ length: 60 }, (_, n) => ({
      type: 'subscribe',
      timestamp: new Date(Date.UTC(2026, 11, 1, 10, n)).toISOString(),
      object: { rss_source_feed: `https://feeds.example.com/show-${n}.xml` },
      data: { rss_feed_title: `Show number ${n}` },
    }));
    await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events }).expect(201);
  });

  after(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await service?.stop();
  });

  for (const path of ['/v1/subscriptions', '/v1/me/export']) {
    it(`gzips ${path} for a client that asks, the same JSON as unpacked`, async () => {
      const auth = { Authorization: `Bearer ${token}` };
      const plain = await get(path, auth);
      expect(plain.status).to.equal(200);
      expect(plain.headers['content-encoding'], 'not asked: not compressed').to.equal(undefined);
      expect(plain.body.length).to.be.greaterThan(1024);
      const packed = await get(path, { ...auth, 'Accept-Encoding': 'gzip' });
      expect(packed.status).to.equal(200);
      expect(packed.headers['content-encoding']).to.equal('gzip');
      expect(packed.headers['vary']).to.match(/Accept-Encoding/i);
      expect(packed.body.length).to.be.lessThan(plain.body.length / 3);
      const unpacked = JSON.parse(gunzipSync(packed.body).toString('utf8')) as Record<string, unknown>;
      const expected = JSON.parse(plain.body.toString('utf8')) as Record<string, unknown>;
      // An export says when it was made.
      delete unpacked['exported_at'];
      delete expected['exported_at'];
      expect(unpacked).to.deep.equal(expected);
    });
  }

  it('answers brotli to a client that takes it as well as gzip', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    const plain = await get('/v1/subscriptions', auth);
    const packed = await get('/v1/subscriptions', { ...auth, 'Accept-Encoding': 'gzip, deflate, br' });
    expect(packed.headers['content-encoding']).to.equal('br');
    expect(packed.body.length).to.be.lessThan(plain.body.length / 3);
    expect(JSON.parse(brotliDecompressSync(packed.body).toString('utf8'))).to.deep.equal(JSON.parse(plain.body.toString('utf8')));
  });

  it('sends a small answer as it is', async () => {
    const small = await get('/v1/popular/podcasts?limit=1', { 'Accept-Encoding': 'gzip' });
    expect(small.status).to.equal(200);
    expect(small.body.length).to.be.lessThan(1024);
    expect(small.headers['content-encoding']).to.equal(undefined);
  });

  it('sends a new token as it is (a secret: under the size anything is compressed from)', async () => {
    const issued = await service.http
      .post('/v1/auth/token')
      .set('Accept-Encoding', 'gzip')
      .send({ username: 'compressed', password: 'correct horse battery', label: 'a label long enough to make a token answer as long as it gets, nearly' });
    expect(issued.status).to.equal(200);
    expect(issued.body.token).to.be.a('string');
    expect(issued.headers['content-encoding']).to.equal(undefined);
  });

  it('never compresses a page (its CSRF token beside text an address chooses: BREACH)', async () => {
    const page = await get('/signup?next=%2Fprivacy', { 'Accept-Encoding': 'gzip', Accept: 'text/html' });
    expect(page.status).to.equal(200);
    expect(page.headers['content-type']).to.match(/^text\/html/);
    expect(page.body.length).to.be.greaterThan(1024);
    expect(page.headers['content-encoding']).to.equal(undefined);
    expect(page.body.toString('utf8')).to.include('_csrf');
  });
});
