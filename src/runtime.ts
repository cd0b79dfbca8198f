/**
 * The composition root: builds the stores chosen by configuration (embedded SQLite by
 * default, EventStoreDB and MongoDB in production) behind the same ports.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Config } from './config.js';
import type { AccountStore } from './stores/accounts.js';
import type { EventStore } from './stores/event-store.js';
import type { ReadModelStore } from './stores/read-model.js';
import { SqliteEventStore } from './stores/embedded/sqlite-event-store.js';
import { SqliteAccountStore } from './stores/embedded/sqlite-account-store.js';
import { SqliteReadModelStore } from './stores/embedded/sqlite-read-model.js';
import { applyPragmas } from './stores/embedded/schema.js';
import { WalCheckpointer, type WalCheckpointerOptions } from './stores/embedded/wal-checkpointer.js';

export interface Stores {
  readonly eventStore: EventStore;
  readonly readModel: ReadModelStore;
  readonly accounts: AccountStore;
  /** The embedded database, when one is open (retention purges through it). */
  readonly embedded?: { readonly database: BetterSqlite3.Database; readonly eventStore?: SqliteEventStore };
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Sets `recordedAt` of embedded appends (tests, simulated retention). */
  readonly clock?: () => Date;
  /**
   * Embedded: run SQLite's WAL checkpoints on a worker thread instead of inside commits (see
   * wal-checkpointer.ts). The service and the long operator jobs (replay) turn it on; short-lived
   * tools and most tests do without the extra thread.
   */
  readonly backgroundCheckpoints?: boolean | WalCheckpointerOptions;
}

export const EMBEDDED_FILE = 'podsync.db';

export type StoreConfig = Pick<Config, 'DATA_DIR' | 'STORE' | 'EVENTSTORE_URL' | 'READ_MODEL' | 'MONGO_URL'>;

export async function openStores(config: StoreConfig, options: StoreOptions = {}): Promise<Stores> {
  const needsEmbedded = config.STORE === 'embedded' || config.READ_MODEL === 'embedded';
  let database: BetterSqlite3.Database | undefined;
  if (needsEmbedded) {
    mkdirSync(config.DATA_DIR, { recursive: true });
    database = new BetterSqlite3(path.join(config.DATA_DIR, EMBEDDED_FILE));
    applyPragmas(database);
    // Erasure must remove bytes, not just unlink rows: deleted content is overwritten.
    database.pragma('secure_delete = ON');
  }
  const closers: (() => Promise<void>)[] = [];
  if (database && options.backgroundCheckpoints) {
    const checkpointer = await WalCheckpointer.start(database, options.backgroundCheckpoints === true ? {} : options.backgroundCheckpoints);
    // Closers run in reverse: this one last, after the stores, just before the database closes.
    closers.push(() => checkpointer.stop());
  }

  let eventStore: EventStore;
  let embeddedEvents: SqliteEventStore | undefined;
  if (config.STORE === 'eventstoredb') {
    const { EventStoreDbEventStore } = await import('./stores/eventstoredb/index.js');
    eventStore = await EventStoreDbEventStore.connect(config.EVENTSTORE_URL!);
  } else {
    embeddedEvents = new SqliteEventStore(database!, options.clock ? { clock: options.clock } : {});
    eventStore = embeddedEvents;
  }
  closers.push(() => eventStore.close());

  let readModel: ReadModelStore;
  let accounts: AccountStore;
  if (config.READ_MODEL === 'mongodb') {
    const mongo = await import('./stores/mongodb/index.js');
    const opened = await mongo.connectMongo(config.MONGO_URL!);
    readModel = opened.readModel;
    accounts = opened.accounts;
    closers.push(() => opened.close());
  } else {
    readModel = new SqliteReadModelStore(database!);
    accounts = new SqliteAccountStore(database!);
  }

  return {
    eventStore,
    readModel,
    accounts,
    ...(database ? { embedded: { database, ...(embeddedEvents ? { eventStore: embeddedEvents } : {}) } } : {}),
    async close() {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      database?.close();
    },
  };
}
