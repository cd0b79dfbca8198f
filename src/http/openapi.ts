/**
 * The OpenAPI 3.1 document of the native API (`GET /openapi.json`), generated from the route
 * declarations (src/http/routes.ts) — the same zod schemas that validate requests, turned
 * into JSON Schema by zod itself (`z.toJSONSchema`), so the document describes exactly what
 * the server accepts. Input schemas are described as clients send them (`io: 'input'`:
 * before transforms such as timestamp normalisation; fields with defaults are optional).
 *
 * The gpodder.net compatibility API (`/api/2/...`) follows gpodder.net's own documentation
 * and is not described here.
 */
import { readFileSync } from 'node:fs';
import { Router } from 'express';
import { z } from 'zod';
import { authRoutes } from './auth.js';
import { errorBody } from './errors.js';
import { eventsRoutes } from './events.js';
import { healthRoutes } from './health.js';
import { meRoutes } from './me.js';
import { publicRoutes } from './public.js';
import { podcastsRoutes } from './podcasts.js';
import { readModelRoutes } from './read-models.js';
import type { ResponseSpec, RouteSpec } from './routes.js';
import { defineRoute, mount } from './routes.js';
import { syncRoutes } from './sync.js';
import { basePathOf } from './base-path.js';

/** How request schemas become JSON Schema; tests compare the document with this. */
export const REQUEST_SCHEMA_OPTIONS = { io: 'input', unrepresentable: 'any' } as const;
const RESPONSE_SCHEMA_OPTIONS = { io: 'output', unrepresentable: 'any' } as const;

type JsonSchema = Record<string, unknown>;

export const openapiRoutes = {
  document: defineRoute({
    method: 'get',
    path: '/openapi.json',
    tag: 'operations',
    summary: 'This document (OpenAPI 3.1)',
    auth: 'none',
    responses: { 200: { description: 'The OpenAPI document', schema: z.record(z.string(), z.unknown()) } },
  }),
};

/** Every native route, by operation id (`<group><Name>`). */
export const NATIVE_ROUTES: ReadonlyMap<string, RouteSpec> = new Map(
  Object.entries({
    health: healthRoutes,
    openapi: openapiRoutes,
    auth: authRoutes,
    events: eventsRoutes,
    sync: syncRoutes,
    readModels: readModelRoutes,
    public: publicRoutes,
    me: meRoutes,
    podcasts: podcastsRoutes,
  }).flatMap(([group, routes]) =>
    Object.entries(routes).map(([name, route]): [string, RouteSpec] => [`${group}${name[0]!.toUpperCase()}${name.slice(1)}`, route]),
  ),
);

/** `/v1/auth/tokens/:id` → `/v1/auth/tokens/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const errorResponse = (description: string, headers?: Record<string, unknown>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

function response(status: number, spec: ResponseSpec) {
  const headers = spec.headers
    ? Object.fromEntries(Object.entries(spec.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }]))
    : undefined;
  if (status >= 400 && !spec.schema) return errorResponse(spec.description, headers);
  return {
    description: spec.description,
    ...(headers ? { headers } : {}),
    ...(spec.schema ? { content: { 'application/json': { schema: z.toJSONSchema(spec.schema, RESPONSE_SCHEMA_OPTIONS) } } } : {}),
  };
}

/** Query or path parameters: one per property of the object schema. */
function parameters(schema: z.ZodObject | undefined, location: 'query' | 'path') {
  if (!schema) return [];
  const json = z.toJSONSchema(schema, REQUEST_SCHEMA_OPTIONS) as JsonSchema;
  const properties = (json['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json['required'] ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: location,
      required: location === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function operation(operationId: string, route: RouteSpec) {
  const takesInput = route.body !== undefined || route.query !== undefined || route.params !== undefined;
  const responses: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(route.responses)) responses[status] = response(Number(status), spec);
  if (takesInput) responses['400'] ??= errorResponse('Invalid input; `details.issues` names each bad field');
  if (route.auth === 'bearer') responses['401'] ??= errorResponse('Missing, malformed, invalid or revoked bearer token');
  if (route.body !== undefined) responses['413'] ??= errorResponse('Body larger than the limit');
  responses['429'] ??= errorResponse('Rate limited (per token, or per client address without one)', {
    'Retry-After': { description: 'Seconds until a request will be admitted', schema: { type: 'integer' } },
  });
  return {
    operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: route.auth === 'bearer' ? [{ bearer: [] }] : [],
    ...(route.query || route.params ? { parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')] } : {}),
    ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(route.body, REQUEST_SCHEMA_OPTIONS) } } } } : {}),
    responses,
  };
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}

/** `basePath`: where the API is served (BASE_PATH), given as the document's server; none at the root. */
export function buildOpenApiDocument(basePath = '') {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [operationId, route] of NATIVE_ROUTES) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: operation(operationId, route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'podsync',
      version: packageVersion(),
      description:
        'Event-sourced podcast listening-data sync (native API). Errors are always JSON `{error, message, details}`; bad input is a 4xx and writes nothing.',
    },
    ...(basePath ? { servers: [{ url: basePath }] } : {}),
    paths,
    components: {
      schemas: { Error: z.toJSONSchema(errorBody, RESPONSE_SCHEMA_OPTIONS) },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from POST /v1/auth/token' } },
    },
  };
}

export function openapiRouter(): Router {
  const router = Router();
  // Built on first request (the declarations are static), then served as is.
  let document: ReturnType<typeof buildOpenApiDocument> | undefined;
  mount(router, openapiRoutes.document, (req, res) => {
    document ??= buildOpenApiDocument(basePathOf(req));
    res.json(document);
  });
  return router;
}
