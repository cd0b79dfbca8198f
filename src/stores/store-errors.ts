/**
 * What a store's failure says about the write and about retrying it, for every store: the
 * HTTP layer answers 503 with `Retry-After` for these (src/http/errors.ts), and the loops that
 * retry (the projector, the scheduler's start) tell them from an event's own fault. Recognised
 * by the codes, names and types the stores' own clients give, not by class, so that this module
 * loads neither the MongoDB driver nor the EventStoreDB client (test/stores/store-errors.test.ts
 * pins them against both libraries).
 */

/**
 * The store could not take a write in time: the embedded store's answer when another connection
 * held its file's write lock past the busy timeout (SQLite's SQLITE_BUSY codes). Its writes take
 * the lock before they do anything, so nothing was written and the same write may be retried.
 */
export function isStoreBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * The disk holding the store is full (docs/operations.md, "A full disk"): SQLite's SQLITE_FULL
 * (a file could not grow) or a write's ENOSPC. SQLite rolls the transaction back, so nothing of
 * the write stays; the same write succeeds once space is freed.
 */
export function isStorageFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC';
}

/** The EventStoreDB client's errors for a server it could not reach, or that did not answer in time (`CommandError.type`). */
const EVENTSTOREDB_UNAVAILABLE = new Set(['unavailable', 'deadline-exceeded', 'timeout', 'not-leader']);
/** The MongoDB driver's errors for a server it could not reach or lost (`MongoError.name`). */
const MONGODB_UNAVAILABLE = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
]);
/** Labels the MongoDB server and driver put on an error that a retry of the same operation may not meet. */
const MONGODB_RETRYABLE_LABELS = ['RetryableWriteError', 'TransientTransactionError'];

/**
 * A production store's server could not be reached, lost its leader, or did not answer in time
 * (docs/operations.md, "When a store does not answer"). A write may or may not have been made;
 * its retry is recognised by its event ids and makes nothing twice.
 */
export function isStoreUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { type, errorLabels } = error as { type?: unknown; errorLabels?: unknown };
  if (typeof type === 'string' && EVENTSTOREDB_UNAVAILABLE.has(type)) return true;
  if (MONGODB_UNAVAILABLE.has(error.name)) return true;
  return Array.isArray(errorLabels) && MONGODB_RETRYABLE_LABELS.some((label) => errorLabels.includes(label));
}
