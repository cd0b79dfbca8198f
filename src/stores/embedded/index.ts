export { SqliteEventStore, type SqliteEventStoreOptions, type SqliteEventStoreOpenOptions } from './sqlite-event-store.js';
export { SqliteAllSubscription } from './sqlite-subscription.js';
