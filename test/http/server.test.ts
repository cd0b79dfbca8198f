/** The service's HTTP server (src/http/server.ts): Express's request and response objects from construction. */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import { createServiceServer, listenServing } from '../../src/http/server.js';

describe('the service HTTP server', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  });

  function exampleApp() {
    const app = express();
    app.get('/hello', (req, res) => {
      res.status(201).json({ agent: req.get('user-agent'), query: req.query['q'] });
    });
    return app;
  }

  async function listening(server: Server): Promise<string> {
    servers.push(server);
    if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('answers with the starting handler until serve(app), then with the app', async () => {
    const app = exampleApp();
    const { server, serve } = createServiceServer({}, (_req, res) => res.writeHead(503, { 'Retry-After': '1' }).end('starting'));
    const base = await listening(server);

    const before = await fetch(`${base}/hello`);
    expect(before.status).to.equal(503);
    expect(await before.text()).to.equal('starting');

    serve(app);
    const after = await fetch(`${base}/hello?q=x`, { headers: { 'User-Agent': 'gPodder/3.11' } });
    expect(after.status).to.equal(201);
    expect(await after.json()).to.deep.equal({ agent: 'gPodder/3.11', query: 'x' });
  });

  it("builds each request and response with the app's prototypes before Express sees them", async () => {
    const app = exampleApp();
    const server = await listenServing(app, 0, '127.0.0.1');
    const base = await listening(server);
    // Runs before the app's listener: what Node's server constructed, untouched by Express.
    const seen: { req: object | null; res: object | null }[] = [];
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      seen.push({ req: Object.getPrototypeOf(req) as object | null, res: Object.getPrototypeOf(res) as object | null });
    });

    const response = await fetch(`${base}/hello`);
    expect(response.status).to.equal(201);
    expect(seen).to.have.length(1);
    expect(seen[0]!.req).to.equal(app.request);
    expect(seen[0]!.res).to.equal(app.response);
  });

  it('keeps the server options it is given', () => {
    const { server } = createServiceServer({ requestTimeout: 1234, headersTimeout: 567 }, (_req, res) => res.end());
    servers.push(server);
    expect(server.requestTimeout).to.equal(1234);
    expect(server.headersTimeout).to.equal(567);
  });
});
