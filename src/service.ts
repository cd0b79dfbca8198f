/**
 * The running service: stores, projector and HTTP app wired together. `main.ts` starts it
 * from the environment; tests start it with their own configuration.
 */
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { createApp } from './http/app.js';
import { Projector } from './projector/projector.js';
import { AccountService } from './services/accounts.js';
import { ReadModelService } from './services/read-models.js';
import { UserEventService } from './services/user-events.js';
import { SyncService } from './services/sync.js';
import { MeService } from './services/me.js';
import type { Stores, StoreOptions } from './runtime.js';
import { openStores } from './runtime.js';
import { allProjections } from '../projections/index.js';

export interface Service {
  readonly app: Express;
  readonly stores: Stores;
  readonly projector: Projector;
  /** Stops the projector at a checkpoint and closes the stores (the HTTP server is the caller's). */
  close(): Promise<void>;
}

export async function startService(config: Config, logger: Logger, options: StoreOptions & { runProjector?: boolean } = {}): Promise<Service> {
  const stores = await openStores(config, options);
  const projector = new Projector({
    eventStore: stores.eventStore,
    readModel: stores.readModel,
    projections: allProjections,
    context: { defaultPrivacy: config.DEFAULT_PRIVACY },
    logger,
  });
  await projector.prepare();
  if (options.runProjector !== false) projector.start();

  const readModels = new ReadModelService(stores.eventStore, stores.readModel);
  const userEvents = new UserEventService(stores.eventStore);
  const app = createApp({
    logger,
    accounts: new AccountService(stores.accounts),
    userEvents,
    readModels,
    sync: new SyncService(userEvents, readModels),
    me: new MeService(stores.eventStore, stores.accounts, readModels, (stream) => stores.embedded?.eventStore?.purgeTruncated(stream), projector.names),
    registration: config.REGISTRATION,
    bodyLimit: config.BODY_LIMIT,
    ready: async () => {
      await stores.eventStore.headPosition();
      return true;
    },
  });

  return {
    app,
    stores,
    projector,
    async close() {
      await projector.stop();
      await stores.close();
    },
  };
}

/** Stops accepting connections and waits for in-flight requests, at most `graceMs`. */
export function drain(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
