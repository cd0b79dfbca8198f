import { MongoClient } from 'mongodb';
import type { Db } from 'mongodb';
import { MongoAccountStore } from './mongo-account-store.js';
import { MongoReadModelStore, databaseFromUrl } from './mongo-read-model.js';

export { MongoAccountStore } from './mongo-account-store.js';
export {
  COLLECTION_NAME,
  FIELD_PATH,
  MongoReadModelStore,
  RESERVED_COLLECTIONS,
  databaseFromUrl,
  ReplicaSetRequiredError,
  ResetIncompleteError,
  type MongoReadModelStoreOptions,
} from './mongo-read-model.js';

export interface MongoStores {
  readonly client: MongoClient;
  readonly db: Db;
  readonly readModel: MongoReadModelStore;
  readonly accounts: MongoAccountStore;
  /** Closes the shared client (the stores themselves do not own it). */
  close(): Promise<void>;
}

/**
 * One client for the read models and the accounts (database: `options.dbName`, else the URL's
 * path, else `podsync`). Rejects with {@link ReplicaSetRequiredError} on a standalone server,
 * and creates the account indexes, so a misconfigured deployment fails at start.
 */
export async function connectMongo(url: string, options: { dbName?: string } = {}): Promise<MongoStores> {
  // ignoreUndefined: a field set to undefined is left out, as JSON.stringify does in the embedded adapter.
  const client = await MongoClient.connect(url, { ignoreUndefined: true });
  try {
    const db = client.db(options.dbName ?? databaseFromUrl(url) ?? 'podsync');
    const readModel = new MongoReadModelStore(db, client);
    const accounts = new MongoAccountStore(db);
    await readModel.requireTransactions();
    await accounts.init();
    return { client, db, readModel, accounts, close: () => client.close() };
  } catch (error) {
    await client.close();
    throw error;
  }
}
