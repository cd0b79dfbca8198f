/**
 * The running service: stores, projector and HTTP app wired together. `main.ts` starts it
 * from the environment; tests start it with their own configuration.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Express } from 'express';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { ReadModelStore } from './stores/read-model.js';
import { createApp } from './http/app.js';
import { Projector } from './projector/projector.js';
import { ProjectorThread } from './projector/projector-thread.js';
import { watchCatchUp } from './projector/catch-up-progress.js';
import { AccountService } from './services/accounts.js';
import { ReadModelService } from './services/read-models.js';
import { UserEventService } from './services/user-events.js';
import { UserStateCache } from './services/user-state-cache.js';
import { SyncService } from './services/sync.js';
import { MeService } from './services/me.js';
import { GpodderService } from './services/gpodder.js';
import { GpodderEpisodeService } from './services/gpodder-episodes.js';
import { GpodderAuth } from './services/gpodder-auth.js';
import { NextcloudService } from './services/nextcloud.js';
import { LoginFlowService } from './services/login-flow.js';
import { ListenerService } from './services/listener.js';
import { PublicViews } from './services/public-views.js';
import { retentionStatus } from './admin/retention-status.js';
import { checkReadiness, collectStats, projectionsReport } from './admin/status.js';
import { recordSyncCacheLookup, renderMetrics, StoreGauges, withAppendCounting } from './metrics.js';
import { createRetentionPass } from './retention/retention-service.js';
import { ERASURE_REACTOR, ErasureReactor } from './retention/erasure-reactor.js';
import { startScheduler, type SchedulerOptions } from './jobs/retention-job.js';
import { startSchedulerOrRetry, type StartedScheduler } from './jobs/scheduler-start.js';
import { feedsJob } from './jobs/feeds-job.js';
import { FeedService, feedServiceOptions } from './services/feeds.js';
import { FeedParseThread } from './feeds/parse-thread.js';
import type { RetentionService } from './retention/retention-service.js';
import type { Stores, StoreOptions } from './runtime.js';
import { openStores } from './runtime.js';
import { allProjections } from '../projections/index.js';

export interface Service {
  readonly app: Express;
  readonly stores: Stores;
  /** The in-process projector: it runs here with PROJECTOR=inline, or if the projector thread cannot. */
  readonly projector: Projector;
  /** The projector's thread, when one was started (PROJECTOR=thread, the default). */
  readonly projectorThread: ProjectorThread | undefined;
  /** The retention pass (docs/design.md, "Retention") and erasure (docs/design.md, "Erasure"). */
  readonly retention: RetentionService;
  /** Carries out each `remove` shortly after it is appended (docs/design.md, "Erasure"); started with the projector. */
  readonly erasure: ErasureReactor;
  /** Feed fetching and the `podcasts` read model (docs/design.md, "Feeds"). */
  readonly feeds: FeedService;
  /** From now on `/readyz` answers 503, so load balancers stop routing here before shutdown. */
  markDraining(): void;
  /** Stops the scheduler, the erasure reactor, then the projector at a checkpoint, and closes the stores (the HTTP server is the caller's). */
  close(): Promise<void>;
}

export async function startService(
  config: Config,
  logger: Logger,
  options: StoreOptions & {
    runProjector?: boolean;
    runScheduler?: boolean;
    scheduler?: SchedulerOptions;
    feedsEvery?: string | number;
    /** How often a backlog's progress is logged (tests shorten it). */
    catchUpLogEveryMs?: number;
  } = {},
): Promise<Service> {
  // Appends through these stores are counted for /metrics (the projector only reads).
  // WAL checkpoints on a worker thread: inside a commit they stall every request in flight.
  let thread: ProjectorThread | undefined;
  const backgroundCheckpoints = options.backgroundCheckpoints ?? { onProblem: (message: string) => logger.warn(message) };
  const onMigrationProgress = ({ moved, total }: { moved: number; total: number }) =>
    logger.info('moving the events to rows naming their stream by number (a store an earlier version made): the service starts once done', { moved, total });
  const stores = withAppendCounting(await openStores(config, { ...options, backgroundCheckpoints, onMigrationProgress }), () => thread?.wake());
  if (stores.embedded && stores.embedded.legacyTablesDropped > 0) {
    logger.warn('read models moved out of podsync.db (the one-file layout): rebuilding them from the events in read-models.db; /readyz reports the lag', {
      tablesDropped: stores.embedded.legacyTablesDropped,
    });
  }
  const renumbered = stores.embedded?.eventStore?.migration.eventsRenumbered ?? 0;
  if (renumbered > 0) logger.info('events moved to rows naming their stream by number (a store an earlier version made)', { events: renumbered });
  const status = { ...stores, sequentialPositions: stores.embedded?.eventStore !== undefined };
  const gauges = new StoreGauges();
  const freeBytes = stores.embedded?.freeBytes;
  let draining = false;
  const projector = new Projector({
    eventStore: stores.eventStore,
    readModel: stores.readModel,
    projections: allProjections,
    context: { defaultPrivacy: config.DEFAULT_PRIVACY },
    logger,
  });
  await projector.prepare();
  if (options.runProjector !== false) thread = await startProjecting(config, logger, projector, stores.readModel, Boolean(backgroundCheckpoints));

  const readModels = new ReadModelService(stores.eventStore, stores.readModel);
  const retention = createRetentionPass(stores, { defaultPrivacy: config.DEFAULT_PRIVACY, logger, projections: projector.names });
  // Erasure is not the request's: this reactor reads each `remove` from `$all`, waits for the
  // projections, erases, and only then moves its checkpoint (src/retention/erasure-reactor.ts).
  const erasure = new ErasureReactor({
    eventStore: stores.eventStore,
    readModel: stores.readModel,
    readModels,
    projections: projector.names,
    erase: (user, seen) => retention.eraseScopes(user, new Date(), { waitForProjections: false, upTo: seen }),
    logger,
  });
  if (options.runProjector !== false) erasure.start();
  // A backlog (a projection rebuilt at start, a projector that was stopped) logs its progress.
  const stopWatchingCatchUp = options.runProjector !== false ? watchCatchUp(status, projector.names, logger, options.catchUpLogEveryMs) : undefined;
  /** What readiness, metrics and the admin stats report on: the projections and the erasure reactor. */
  const reported = [...projector.names, ERASURE_REACTOR];
  const userEvents = new UserEventService(
    stores.eventStore,
    config.SYNC_CACHE_RECORDS > 0 ? new UserStateCache(config.SYNC_CACHE_RECORDS, recordSyncCacheLookup) : undefined,
  );
  // Feeds are read on a thread of their own, never the one that serves requests.
  const feedParser = new FeedParseThread(logger);
  const feeds = new FeedService(
    stores.eventStore,
    stores.readModel,
    { ...feedServiceOptions(config), purgeTruncated: (stream) => stores.embedded?.eventStore?.purgeTruncated(stream), parser: feedParser },
    logger,
  );
  // One clock for the services and the store's recording times (tests move it).
  const clock = options.clock ?? (() => new Date());
  const accounts = new AccountService(stores.accounts, clock);
  const gpodder = new GpodderService(userEvents, readModels, clock);
  const gpodderEpisodes = new GpodderEpisodeService(gpodder);
  // Started after the app; the admin pages read its runs once it exists.
  let scheduler: StartedScheduler | undefined;
  const me = new MeService(stores.eventStore, stores.accounts, readModels, {
    projections: projector.names,
    purge: (stream) => stores.embedded?.eventStore?.purgeTruncated(stream),
    rollFeeds: (feeds) => retention.rollFeeds(feeds, new Date()),
    forgetDeletedBytes: () => retention.forgetErasedBytes(),
    forgetUser: (userId) => userEvents.cache?.delete(userId),
  });
  // Deletions a stopped process left unfinished: their accounts no longer authenticate, so no one
  // else would ever finish them.
  if (options.runProjector !== false) {
    void me
      .finishPendingDeletions()
      .catch((error: unknown) =>
        logger.warn('finishing pending account deletions failed; retried at the next start', { error: error instanceof Error ? error.message : String(error) }),
      );
  }
  const app = createApp({
    logger,
    accounts,
    userEvents,
    readModels,
    sync: new SyncService(userEvents),
    me,
    registration: config.REGISTRATION,
    bodyLimit: config.BODY_LIMIT,
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
    ...(config.TRUST_PROXY === undefined ? {} : { trustProxy: config.TRUST_PROXY }),
    basePath: config.BASE_PATH,
    gpodder: {
      accounts,
      auth: new GpodderAuth(accounts, stores.accounts),
      service: gpodder,
      episodes: gpodderEpisodes,
      bodyLimit: config.BODY_LIMIT,
      nextcloud: new NextcloudService(gpodder, gpodderEpisodes, clock),
      loginFlows: new LoginFlowService(accounts, stores.accounts, clock),
    },
    web: {
      accounts,
      listener: new ListenerService(userEvents, readModels),
      me,
      publicViews: new PublicViews(stores.readModel, { reuseForMs: config.PUBLIC_CACHE_MS }),
      registration: config.REGISTRATION,
      defaultPrivacy: config.DEFAULT_PRIVACY,
      retention: async () => (scheduler?.current ? retentionStatus(scheduler.current.agenda) : undefined),
    },
    ready: async () =>
      draining
        ? { ready: false, reason: 'shutting down' }
        : checkReadiness(status, reported, { maxLag: config.READY_MAX_LAG, ...(freeBytes ? { freeBytes } : {}) }),
    metrics: async () => {
      gauges.update(await projectionsReport(status, reported));
      const free = await freeBytes?.().catch(() => undefined);
      if (free !== undefined) gauges.updateFreeBytes(free);
      return renderMetrics(gauges);
    },
    ...(config.ADMIN_TOKEN
      ? {
          admin: {
            token: config.ADMIN_TOKEN,
            logger,
            accounts: stores.accounts,
            eventStore: stores.eventStore,
            me,
            // Bounded: an HTTP request must not read a large $all whole; the CLI counts everything.
            stats: () => collectStats(status, reported, { eventLimit: 100_000 }),
          },
        }
      : {}),
  });

  // The retention job (docs/design.md, "Retention") on Agenda, in every worker (the job's lock lets one run at a time).
  if (options.runScheduler !== false) {
    try {
      const start = () =>
        startScheduler({
          stores,
          logger,
          retention,
          config,
          ...(options.scheduler ? { options: options.scheduler } : {}),
          jobs: config.FEEDS === 'on' ? [feedsJob(feeds, logger, options.feedsEvery)] : [],
        });
      scheduler = await startSchedulerOrRetry(start, logger);
    } catch (error) {
      stopWatchingCatchUp?.();
      await erasure.stop();
      await thread?.stop();
      await projector.stop();
      await feedParser.close();
      await stores.close();
      throw error;
    }
  }

  return {
    app,
    stores,
    projector,
    projectorThread: thread,
    retention,
    erasure,
    feeds,
    markDraining() {
      draining = true;
    },
    async close() {
      // First: a pass in progress still needs the projector's checkpoints and the stores; then the
      // erasure reactor, whose erasure in progress waits for the projections.
      await scheduler?.stop();
      stopWatchingCatchUp?.();
      await feedParser.close();
      await erasure.stop();
      await thread?.stop();
      await projector.stop();
      await stores.close();
    },
  };
}

/**
 * Runs the projector where PROJECTOR says: on its own thread (falling back to this one if the
 * thread cannot start or dies), or inline. Returns the thread, if one runs.
 */
async function startProjecting(
  config: Config,
  logger: Logger,
  inline: Projector,
  readModel: ReadModelStore,
  checkpointsElsewhere: boolean,
): Promise<ProjectorThread | undefined> {
  if (config.PROJECTOR === 'inline') {
    inline.start();
    return undefined;
  }
  try {
    const thread = await ProjectorThread.start({
      config: {
        DATA_DIR: config.DATA_DIR,
        STORE: config.STORE,
        EVENTSTORE_URL: config.EVENTSTORE_URL,
        READ_MODEL: config.READ_MODEL,
        MONGO_URL: config.MONGO_URL,
      },
      defaultPrivacy: config.DEFAULT_PRIVACY,
      nice: config.PROJECTOR_NICE,
      // The WAL checkpointer of this process's stores covers the thread's connection too.
      checkpointsElsewhere,
      logger,
      onUnexpectedExit: (reason) => {
        logger.error(`${reason}; projecting on the HTTP thread from now on`);
        // The thread is gone, so its leases can be freed now rather than expire; then this
        // thread's projector resumes from the checkpoints the other one committed.
        void Promise.all(inline.names.map((name) => readModel.releaseLease(name, thread.owner)))
          .catch(() => undefined)
          .then(() => inline.start());
      },
    });
    logger.info('projector running on its own thread');
    return thread;
  } catch (error) {
    logger.warn('projector thread unavailable; projecting on the HTTP thread', { error: error instanceof Error ? error.message : String(error) });
    inline.start();
    return undefined;
  }
}

/** Stops accepting connections and waits for in-flight requests, at most `graceMs`. */
export function drain(server: Server, graceMs: number): Promise<void> {
  // A busy keep-alive connection is never idle, so close() alone would wait out the grace
  // period while clients keep sending on it: from now on each response closes its connection.
  // Prepended, so the header is set before any handler can answer.
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  });
  return new Promise((resolve) => {
    // Requests already in flight answer with keep-alive and leave their connections idle
    // afterwards; close() does not revisit them, so sweep idle connections until all are gone.
    const sweeper = setInterval(() => server.closeIdleConnections(), 25);
    const timer = setTimeout(() => {
      clearInterval(sweeper);
      server.closeAllConnections();
      resolve();
    }, graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      clearInterval(sweeper);
      resolve();
    });
    server.closeIdleConnections();
  });
}
