/** ETags (src/http/etag.ts): Express's values, without a hash object per answer. */
import { expect } from 'chai';
import express from 'express';
import { weakEtag } from '../../src/http/etag.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';

describe('ETags', () => {
  it("gives every body the ETag Express's own generator gives it", () => {
    const expressEtag = express().get('etag fn') as (body: string | Buffer, encoding?: BufferEncoding) => string;
    const bodies = ['', '{}', '{"podcasts":[]}', 'é ünïcödé 🎧', 'x'.repeat(100_000), JSON.stringify({ a: [1, 2, 3], b: 'c' })];
    for (const body of bodies) {
      expect(weakEtag(body, 'utf8'), body.slice(0, 20)).to.equal(expressEtag(body, 'utf8'));
      expect(weakEtag(Buffer.from(body)), body.slice(0, 20)).to.equal(expressEtag(Buffer.from(body)));
    }
    expect(weakEtag('caf\u00e9', 'latin1')).to.equal(expressEtag('caf\u00e9', 'latin1'));
    expect(weakEtag('{"a":1}', 'utf8')).to.not.equal(weakEtag('{"a":2}', 'utf8'));
  });

  describe('on the service', () => {
    let service: TestService;
    before(async () => {
      service = await startTestService();
    });
    after(async () => {
      await service.stop();
    });

    it("is the app's ETag generator", () => {
      expect(service.app.get('etag fn')).to.equal(weakEtag);
    });

    it('answers a repeated read with the same ETag, and a conditional one with 304', async () => {
      const first = await service.http.get('/v1/popular/podcasts?limit=5');
      expect(first.status).to.equal(200);
      const etag = first.headers['etag'] as string;
      expect(etag).to.equal(weakEtag(first.text, 'utf8'));
      // A kept answer's text and ETag are made once (src/http/public.ts): served as JSON all the same.
      expect(first.headers['content-type']).to.equal('application/json; charset=utf-8');
      expect(first.body).to.have.property('podcasts').that.is.an('array');
      const kept = await service.http.get('/v1/popular/podcasts?limit=5');
      expect([kept.text, kept.headers['etag']]).to.deep.equal([first.text, etag]);
      const again = await service.http.get('/v1/popular/podcasts?limit=5').set('If-None-Match', etag);
      expect(again.status).to.equal(304);
      expect(again.text).to.equal('');
    });
  });
});
