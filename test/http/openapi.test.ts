/** `GET /openapi.json` (docs/design.md, "Clients and their APIs"): OpenAPI 3.1 generated from the schemas that validate requests. */
import { expect } from 'chai';
import { z } from 'zod';
import { syncRequest } from '../../src/domain/sync.js';
import { credentialsSchema, tokenRequestSchema } from '../../src/services/accounts.js';
import { eventsBody } from '../../src/http/events.js';
import { NATIVE_ROUTES, openApiPath, REQUEST_SCHEMA_OPTIONS } from '../../src/http/openapi.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { appRoutes } from '../support/routes.js';
import { PAGE_PATHS } from '../../src/web/site.js';

interface Operation {
  operationId: string;
  security: unknown[];
  parameters?: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }>; headers?: Record<string, unknown> }>;
}
type Document = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

/** Routes that are not the native API: gpodder.net's (its own documentation) and the operators' (README). */
const notNative = (path: string) =>
  PAGE_PATHS.has(path) ||
  path.startsWith('/api/2/') ||
  path.startsWith('/subscriptions/') ||
  // gpodder.net's podcast directory, at its own paths.
  path.startsWith('/toplist/') ||
  path.startsWith('/search.') ||
  path.startsWith('/index.php/') ||
  path.startsWith('/ocs/') ||
  path.startsWith('/admin/') ||
  path === '/metrics';

describe('GET /openapi.json', function () {
  let service: TestService;
  let document: Document;
  before(async () => {
    // With ADMIN_TOKEN every optional router is mounted, so the route walk sees them all.
    service = await startTestService({ ADMIN_TOKEN: 'an-admin-token-for-tests' });
    const response = await service.http.get('/openapi.json');
    expect(response.status).to.equal(200);
    expect(response.headers['content-type']).to.match(/^application\/json/);
    document = response.body as Document;
  });
  after(async () => {
    await service.stop();
  });

  it('has the OpenAPI 3.1 shape', () => {
    expect(document.openapi).to.equal('3.1.0');
    expect(document.info.title).to.equal('podsync');
    expect(document.info.version).to.match(/^\d+\.\d+\.\d+/);
    expect(document.components.securitySchemes['bearer']).to.deep.equal({ type: 'http', scheme: 'bearer', description: 'A token from POST /v1/auth/token' });
    expect(document.components.schemas['Error']).to.have.nested.property('properties.error');
    const ids = new Set<string>();
    for (const [path, operations] of Object.entries(document.paths)) {
      expect(path, 'paths start with /').to.match(/^\//);
      for (const [method, operation] of Object.entries(operations)) {
        expect(['get', 'post', 'put', 'patch', 'delete']).to.include(method);
        expect(ids.has(operation.operationId), `duplicate operationId ${operation.operationId}`).to.equal(false);
        ids.add(operation.operationId);
        expect(Object.keys(operation.responses).length, `${method} ${path} responses`).to.be.greaterThan(0);
        for (const [status, response] of Object.entries(operation.responses)) {
          expect(status).to.match(/^[1-5]\d\d$/);
          expect(response.description, `${method} ${path} ${status}`).to.be.a('string').and.not.equal('');
        }
        // Every path parameter of the template is declared, and only those.
        const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
        const declared = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name);
        expect(declared, `${method} ${path} path parameters`).to.deep.equal(templated);
      }
    }
  });

  it('documents every native route the app serves, and nothing it does not serve', () => {
    const served = appRoutes(service.app)
      .filter((route) => !notNative(route.path))
      .map((route) => `${route.method} ${openApiPath(route.path)}`)
      .sort();
    const documented = Object.entries(document.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
      .sort();
    expect(served).to.include('post /v1/sync');
    expect(documented).to.deep.equal(served);
  });

  it('describes request bodies with the very schemas that validate them', () => {
    const bodyOf = (path: string) => document.paths[path]!['post']!.requestBody!.content['application/json']!.schema;
    expect(bodyOf('/v1/sync')).to.deep.equal(z.toJSONSchema(syncRequest, REQUEST_SCHEMA_OPTIONS));
    expect(bodyOf('/v1/events')).to.deep.equal(z.toJSONSchema(eventsBody, REQUEST_SCHEMA_OPTIONS));
    expect(bodyOf('/v1/auth/register')).to.deep.equal(z.toJSONSchema(credentialsSchema, REQUEST_SCHEMA_OPTIONS));
    expect(bodyOf('/v1/auth/token')).to.deep.equal(z.toJSONSchema(tokenRequestSchema, REQUEST_SCHEMA_OPTIONS));
    // And a few facts a client relies on, as they come out of the zod schemas.
    const sync = bodyOf('/v1/sync') as { required: string[]; properties: Record<string, { maxItems?: number }> };
    expect(sync.required).to.include.members(['device', 'request_id', 'subscriptions', 'play_statuses', 'playlists']);
    expect(sync.required).to.not.include('tasks'); // defaulted, so optional for a client
    expect(sync.properties['play_statuses']!.maxItems).to.equal(50_000);
    const events = bodyOf('/v1/events') as { properties: { events: { items: { oneOf: unknown[] } } } };
    expect(events.properties.events.items.oneOf).to.have.length.greaterThan(8); // one schema per action type
  });

  it('declares query parameters from the query schemas, and bearer auth where it is required', () => {
    const popular = document.paths['/v1/popular/episodes']!['get']!;
    expect(popular.security).to.deep.equal([]);
    expect(popular.parameters!.map((parameter) => [parameter.name, parameter.required])).to.deep.equal([
      ['feed', false],
      ['limit', false],
    ]);
    expect(popular.parameters!.find((parameter) => parameter.name === 'limit')!.schema).to.include({ type: 'integer', maximum: 100, default: 20 });
    const revoke = document.paths['/v1/auth/tokens/{id}']!['delete']!;
    expect(revoke.security).to.deep.equal([{ bearer: [] }]);
    expect(revoke.parameters).to.have.length(1);
    expect(revoke.parameters![0]).to.deep.include({ name: 'id', in: 'path', required: true });
    expect(revoke.parameters![0]!.schema).to.include({ type: 'string', format: 'uuid' });
    expect(revoke.responses).to.have.keys('204', '400', '401', '404', '429');
  });

  it('documents the error shape and the 429 of every operation', () => {
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const tooMany = operation.responses['429'];
        expect(tooMany, `${method} ${path}`).to.not.equal(undefined);
        expect(tooMany!.headers).to.have.property('Retry-After');
        expect(tooMany!.content!['application/json']!.schema).to.deep.equal({ $ref: '#/components/schemas/Error' });
      }
    }
    const sync = document.paths['/v1/sync']!['post']!;
    expect(sync.responses).to.include.keys('200', '400', '401', '413', '429');
  });

  it('has an operation id for every declared route', () => {
    const ids = Object.values(document.paths).flatMap((operations) => Object.values(operations).map((operation) => operation.operationId));
    expect(ids.sort()).to.deep.equal([...NATIVE_ROUTES.keys()].sort());
  });
});
