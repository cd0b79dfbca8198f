/**
 * Configuration from the environment, validated by zod at start (docs/operations.md). A bad value stops
 * the process with a message naming the variable.
 */
import { z } from 'zod';
import { PRIVACY_LEVELS } from './domain/events.js';
import { DEFAULT_MAX_APPEND_BYTES } from './stores/event-store.js';

const port = z.coerce.number().int().min(0).max(65535);

export const configSchema = z
  .object({
    PORT: port.default(8080),
    /**
     * Loopback unless set: a service with open registration should not face the network before
     * its operator decides so (the Docker image sets 0.0.0.0).
     */
    HOST: z.string().min(1).default('127.0.0.1'),
    /**
     * The path the service is served under behind a proxy that passes it on (docs/operations.md,
     * "Under a path"): "/podsync" serves /podsync/v1/..., /podsync/api/2/..., the pages at
     * /podsync/. Unset (or "/"): the host's root.
     */
    BASE_PATH: z
      .string()
      .regex(/^(\/|(\/[A-Za-z0-9._~-]+)+\/?)$/, 'must be a path such as /podsync (letters, digits, . _ ~ -)')
      .refine((value) => !value.split('/').some((segment) => segment === '.' || segment === '..'), 'must not hold . or .. segments')
      .transform((value) => value.replace(/\/+$/, ''))
      .default(''),
    DATA_DIR: z.string().min(1).default('./data'),
    STORE: z.enum(['embedded', 'eventstoredb']).default('embedded'),
    EVENTSTORE_URL: z
      .string()
      .regex(/^(esdb|kurrentdb|kdb)(\+discover)?:\/\//, 'must be an esdb:// connection string')
      .optional(),
    READ_MODEL: z.enum(['embedded', 'mongodb']).default('embedded'),
    MONGO_URL: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// connection string')
      .optional(),
    LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
    LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
    NODE_ENV: z.string().default('development'),
    REGISTRATION: z.enum(['open', 'closed']).default('open'),
    DEFAULT_PRIVACY: z.enum(PRIVACY_LEVELS).default('private'),
    BODY_LIMIT: z
      .string()
      .regex(/^\d+(b|kb|mb)$/i, 'must be a size such as 1mb')
      .default('1mb'),
    /** Requests per minute per API token (per client address without one); 0 turns limiting off. */
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(600),
    /** Express `trust proxy`: set behind a reverse proxy so rate limits see client addresses. */
    TRUST_PROXY: z
      .string()
      .regex(/^(true|false|\d+|[0-9a-fA-F.:/, ]+|loopback|linklocal|uniquelocal)$/, 'must be true, false, a hop count, or addresses/subnets')
      .optional(),
    /**
     * How long an idle keep-alive connection stays open, in ms. Longer than a reverse proxy keeps
     * its idle connections to the service (Caddy: 2 minutes; nginx's upstream keepalive: 60 s), or
     * the proxy may send a request down a connection the service is just closing, and its client
     * gets a 502 (docs/operations.md, "Behind a reverse proxy"). Node's own default is 5 s.
     */
    KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(130_000),
    /**
     * How long a request may take to arrive whole (headers and body), in ms: a client that
     * sends slowly holds memory and a connection meanwhile. Node's own default is 300 s.
     */
    REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    /** Bearer token of the admin API (`/admin`); unset, `/admin` does not exist (404). */
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)').optional(),
    /**
     * `/readyz` fails while a projection is this many events (or more) behind the store's head.
     * At most 10,000: each readiness check may read that many events to count them.
     */
    READY_MAX_LAG: z.coerce.number().int().min(1).max(10_000).default(1000),
    /**
     * Budget of the in-process cache of folded users that syncs start from, in records
     * (subscriptions, play statuses, playlists and items, sync request ids); 0 turns it off.
     */
    SYNC_CACHE_RECORDS: z.coerce.number().int().min(0).default(200_000),
    /**
     * How long a public answer (the timeline, the popular lists) may be served again after the
     * read models moved on: new activity shows up in them at most this late; a withdrawal
     * (privacy, erasure, retention, account deletion) never waits (docs/design.md, "Public
     * answers"). 0: made anew after every projector commit. At most a minute.
     */
    PUBLIC_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
    /**
     * The most one client write (one append) may carry in the embedded store, counted as
     * EventStoreDB counts it: EventStoreDB's `MaxAppendSize` in production (docker-compose.yml
     * sets the largest a node takes, the default here), so a write one store refuses the other
     * refuses too. The service's own appends (checkpoints) are not held to it.
     */
    MAX_APPEND_BYTES: z.coerce.number().int().min(65_536).max(DEFAULT_MAX_APPEND_BYTES).default(DEFAULT_MAX_APPEND_BYTES),
    /**
     * Where the projector runs: on a worker thread of its own (`thread`), or on the thread that
     * serves HTTP (`inline`), where each batch delays the requests queued behind it.
     */
    PROJECTOR: z.enum(['thread', 'inline']).default('thread'),
    /**
     * How many nice levels below the HTTP thread the projector thread (and its commit thread,
     * which inherits them) runs: with fewer free cores than busy threads, requests are served
     * first and read models caught up after (src/thread-priority.ts). 0, the default: the same
     * priority (docs/architecture.md, "Threads and priorities", says what each costs).
     */
    PROJECTOR_NICE: z.coerce.number().int().min(0).max(19).default(0),
    // ---- feeds (docs/design.md, "Feeds") ----
    /** `off`: the `feeds` job does not run (nothing is fetched; `npm run feeds` still can). */
    FEEDS: z.enum(['on', 'off']).default('on'),
    /** Each subscribed feed is fetched at most this often (a newly subscribed one within a minute). */
    FEED_REFRESH_HOURS: z.coerce
      .number()
      .positive()
      .max(24 * 7)
      .default(6),
    /** `true` lifts the SSRF policy: feeds on loopback, private, link-local addresses are fetched (tests, LAN-only setups). */
    FEEDS_ALLOW_PRIVATE_NETWORKS: z
      .enum(['true', 'false'])
      .default('false')
      .transform((value) => value === 'true'),
    /** Largest feed, in bytes, after decompression. */
    FEEDS_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(10 * 1024 * 1024),
    FEEDS_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    /** For a whole fetch, redirects included. */
    FEEDS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    /** Feeds fetched at once (at most 2 per host whatever this says). */
    FEEDS_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
    /** A URL where feed owners learn about this server; named in the User-Agent of every fetch. */
    FEEDS_CONTACT_URL: z.url({ protocol: /^https?$/ }).optional(),
  })
  .superRefine((env, ctx) => {
    if (env.STORE === 'eventstoredb' && !env.EVENTSTORE_URL) {
      ctx.addIssue({ code: 'custom', path: ['EVENTSTORE_URL'], message: 'is required when STORE=eventstoredb' });
    }
    if (env.READ_MODEL === 'mongodb' && !env.MONGO_URL) {
      ctx.addIssue({ code: 'custom', path: ['MONGO_URL'], message: 'is required when READ_MODEL=mongodb' });
    }
  });

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment; empty strings count as unset so `FOO= npm start` means default. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = configSchema.safeParse(present);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
}
