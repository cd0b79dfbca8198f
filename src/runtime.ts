/**
 * The composition root: builds the stores chosen by configuration (embedded SQLite by
 * default, EventStoreDB and MongoDB in production) behind the same ports.
 */
import { mkdirSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Config } from './config.js';
import type { AccountStore } from './stores/accounts.js';
import type { EventStore } from './stores/event-store.js';
import type { ReadModelStore } from './stores/read-model.js';
import { SqliteEventStore } from './stores/embedded/sqlite-event-store.js';
import { SqliteAccountStore } from './stores/embedded/sqlite-account-store.js';
import { dropReadModelTables, SqliteReadModelStore } from './stores/embedded/sqlite-read-model.js';
import { applyPragmas, type MigrationProgress } from './stores/embedded/schema.js';
import { BULK_WRITE_CHECKPOINTS, WalCheckpointer, type WalCheckpointerOptions } from './stores/embedded/wal-checkpointer.js';

export interface Stores {
  readonly eventStore: EventStore;
  readonly readModel: ReadModelStore;
  readonly accounts: AccountStore;
  /**
   * Appends made to the same store through other connections (retention's snapshot threads,
   * src/retention/snapshot-workers.ts): counted and signalled as this store's own appends are.
   * Set by the service's metrics wrapper (src/metrics.ts, withAppendCounting).
   */
  readonly appendedElsewhere?: (events: readonly { readonly type: string }[]) => void;
  /**
   * The embedded databases, when open: `database` holds the events, accounts and jobs
   * ({@link EMBEDDED_FILE}; retention purges through it), `readModelDatabase` the read models
   * ({@link READ_MODEL_FILE}).
   */
  readonly embedded?: {
    readonly database: BetterSqlite3.Database;
    readonly readModelDatabase?: BetterSqlite3.Database;
    readonly eventStore?: SqliteEventStore;
    /** Read-model tables of the one-file layout dropped from `database` at this opening (their read models are rebuilt). */
    readonly legacyTablesDropped: number;
    /**
     * Writes `file`'s whole log back and truncates it (after an erasure): on its WAL checkpointer's
     * thread when one runs, so the caller's thread is not held while readers and writers let it.
     */
    truncateWal(file: BetterSqlite3.Database): Promise<void>;
    /** Bytes this process may still write on the disk holding the files (readiness and metrics). */
    freeBytes(): Promise<number>;
  };
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
  /**
   * Embedded: this process reads the events' file through once and writes read models (a
   * rebuild: `npm run replay`). That file then gets no checkpointer thread (this process does not
   * write it: the thread would idle, ~9 MB of a rebuild's memory) and SQLite's default page cache
   * instead of {@link applyPragmas}' larger one (a page read once is not read again).
   */
  readonly replaying?: boolean;
  /** Embedded: told how a migration of the events' file comes along, as the store opens (logged by the service). */
  readonly onMigrationProgress?: MigrationProgress;
}

/** SQLite's own default page cache (2 MiB): what a connection that reads each page once needs. */
const READ_ONCE_CACHE_KIB = 2 * 1024;

/** The embedded event store's file, with the accounts and the scheduler's jobs. */
export const EMBEDDED_FILE = 'podsync.db';
/**
 * The embedded read models' file. Apart from the events, as the production stack keeps them
 * apart (EventStoreDB and MongoDB): SQLite has one write lock per file, and with both in one
 * file every append waited behind the projector's commits, which write several documents per
 * event and ran back to back under write load (gpodder uploads spent a third of their time
 * waiting; bench/RESULTS.md). Apart, appends and commits never wait for each other. Nothing
 * writes to both in one transaction: the projector commits documents with their checkpoint,
 * which is all one file needs to hold together (docs/architecture.md, "Embedded store").
 */
export const READ_MODEL_FILE = 'read-models.db';

/** A connection to an embedded file, with the pragmas every connection to it uses. */
function openEmbeddedFile(dataDir: string, file: string): BetterSqlite3.Database {
  const database = new BetterSqlite3(path.join(dataDir, file));
  applyPragmas(database);
  // Erasure must remove bytes, not just unlink rows: deleted content is overwritten.
  database.pragma('secure_delete = ON');
  return database;
}

export type StoreConfig = Pick<Config, 'DATA_DIR' | 'STORE' | 'EVENTSTORE_URL' | 'READ_MODEL' | 'MONGO_URL'> & Partial<Pick<Config, 'MAX_APPEND_BYTES'>>;

export async function openStores(config: StoreConfig, options: StoreOptions = {}): Promise<Stores> {
  const needsEmbedded = config.STORE === 'embedded' || config.READ_MODEL === 'embedded';
  let database: BetterSqlite3.Database | undefined;
  let readModelDatabase: BetterSqlite3.Database | undefined;
  let legacyTablesDropped = 0;
  if (needsEmbedded) {
    mkdirSync(config.DATA_DIR, { recursive: true });
    database = openEmbeddedFile(config.DATA_DIR, EMBEDDED_FILE);
    // Read models an earlier layout kept beside the events: derived data, rebuilt in their own file.
    legacyTablesDropped = dropReadModelTables(database);
  }
  if (config.READ_MODEL === 'embedded') readModelDatabase = openEmbeddedFile(config.DATA_DIR, READ_MODEL_FILE);
  const closers: (() => Promise<void>)[] = [];
  const checkpointers = new Map<BetterSqlite3.Database, WalCheckpointer>();
  if (options.backgroundCheckpoints) {
    const checkpointerOptions = options.backgroundCheckpoints === true ? {} : options.backgroundCheckpoints;
    for (const file of [database, readModelDatabase]) {
      if (file === undefined || (options.replaying && file === database)) continue;
      // The read models' file is written in bulk (the projector's commits, a page for every
      // document or index entry a batch changed), the events' file a little per append.
      const checkpointer = await WalCheckpointer.start(
        file,
        file === readModelDatabase ? { ...BULK_WRITE_CHECKPOINTS, ...checkpointerOptions } : checkpointerOptions,
      );
      checkpointers.set(file, checkpointer);
      // Closers run in reverse: these last, after the stores, just before the databases close.
      closers.push(() => checkpointer.stop());
    }
  }
  const truncateWal = async (file: BetterSqlite3.Database): Promise<void> => {
    const checkpointer = checkpointers.get(file);
    if (checkpointer !== undefined) await checkpointer.truncate();
    else if (!file.memory) await truncateOnThisThread(file);
  };

  let eventStore: EventStore;
  let embeddedEvents: SqliteEventStore | undefined;
  if (config.STORE === 'eventstoredb') {
    const { EventStoreDbEventStore } = await import('./stores/eventstoredb/index.js');
    eventStore = await EventStoreDbEventStore.connect(config.EVENTSTORE_URL!);
  } else {
    embeddedEvents = new SqliteEventStore(database!, {
      ...(config.MAX_APPEND_BYTES !== undefined ? { maxAppendBytes: config.MAX_APPEND_BYTES } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.onMigrationProgress ? { onMigrationProgress: options.onMigrationProgress } : {}),
    });
    eventStore = embeddedEvents;
    // After the store, which applies the usual pragmas to its connection.
    if (options.replaying) database!.pragma(`cache_size = -${READ_ONCE_CACHE_KIB}`);
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
    readModel = new SqliteReadModelStore(readModelDatabase!);
    accounts = new SqliteAccountStore(database!);
  }

  return {
    eventStore,
    readModel,
    accounts,
    ...(database
      ? {
          embedded: {
            database,
            legacyTablesDropped,
            truncateWal,
            freeBytes: () => freeBytes(config.DATA_DIR),
            ...(readModelDatabase ? { readModelDatabase } : {}),
            ...(embeddedEvents ? { eventStore: embeddedEvents } : {}),
          },
        }
      : {}),
    async close() {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      readModelDatabase?.close();
      database?.close();
    },
  };
}

/**
 * Without a checkpoint thread (short-lived tools): the truncation on the caller's connection.
 * Another process's checkpoint makes it answer busy at once (SQLite does not wait for one), so
 * it is tried again a few times before it is left to that process's next checkpoints.
 */
async function truncateOnThisThread(file: BetterSqlite3.Database): Promise<void> {
  for (let attempt = 1; attempt <= 20; attempt++) {
    const [result] = file.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (result?.busy === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function freeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}
