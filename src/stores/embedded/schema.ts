import type { Database } from 'better-sqlite3';
import { isStoreBusy } from '../store-errors.js';

/**
 * Connection settings for every connection that touches the event store file.
 * - WAL lets readers (projections, another process polling) run while a writer appends.
 * - synchronous=NORMAL is durable across process crashes in WAL mode; only an OS crash can lose
 *   the last commits, which is the usual trade for an embedded store.
 * - busy_timeout makes a second process wait for the write lock instead of failing at once.
 */
export function applyPragmas(db: Database, busyTimeoutMs = 5000): void {
  db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  if (!db.memory) retryWhileBusy(() => db.pragma('journal_mode = WAL'), busyTimeoutMs);
  db.pragma('synchronous = NORMAL');
  db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
}

/**
 * Switching a file to WAL can answer SQLITE_BUSY at once, without calling the busy handler, when
 * another process is creating or converting the same file (SQLite avoids a lock-upgrade deadlock
 * that way; https://sqlite.org/wal.html#sometimes_queries_return_sqlite_busy_in_wal_mode). Two
 * processes started together on a fresh data directory hit it (seen in CI: two Agenda workers),
 * so the switch is retried, with short sleeps, for as long as the busy timeout allows.
 */
export function retryWhileBusy<T>(operation: () => T, timeoutMs: number): T {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return operation();
    } catch (error) {
      if (!isStoreBusy(error) || Date.now() >= deadline) throw error;
      sleepSync(Math.min(5 * 2 ** attempt, 100));
    }
  }
}

/**
 * A write transaction for a thread that serves others while it waits (the HTTP thread, the
 * projector's). SQLite's busy handler sleeps the calling thread while another connection holds
 * the write lock, and the projector's commit thread holds the read models' for 15–20 ms a batch:
 * a commit of the erasure reactor's checkpoint on the HTTP thread was measured waiting up to
 * 82 ms, every request on the thread stalled meanwhile. Here an attempt does not wait
 * (busy_timeout is 0 for its duration) and is retried after a timer, for as long as the
 * connection's busy timeout allows, so the thread goes on serving in between. `operation` must
 * take the write lock before it does anything (an IMMEDIATE transaction), so that a refused
 * attempt leaves nothing done.
 */
export async function writeWithoutBlocking<T>(db: Database, operation: () => T): Promise<T> {
  const busy = busyTimeoutOf(db);
  const timeoutMs = busy.current();
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt += 1) {
    busy.set(0);
    try {
      return operation();
    } catch (error) {
      if (!isStoreBusy(error) || Date.now() >= deadline) throw error;
    } finally {
      busy.set(timeoutMs);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(2 ** attempt, 10)));
  }
}

/**
 * A connection's busy timeout, read and set through statements prepared once: the appends go
 * through {@link writeWithoutBlocking}, and `db.pragma()` prepares its statement on each call.
 */
interface BusyTimeout {
  current(): number;
  set(ms: number): void;
}
const busyTimeouts = new WeakMap<Database, BusyTimeout>();

function busyTimeoutOf(db: Database): BusyTimeout {
  let busy = busyTimeouts.get(db);
  if (busy === undefined) {
    const read = db.prepare('PRAGMA busy_timeout').pluck();
    const setters = new Map<number, { get(): unknown }>();
    busy = {
      current: () => read.get() as number,
      set(ms) {
        let setter = setters.get(ms);
        if (setter === undefined) setters.set(ms, (setter = db.prepare(`PRAGMA busy_timeout = ${Math.trunc(ms)}`)));
        setter.get();
      },
    };
    busyTimeouts.set(db, busy);
  }
  return busy;
}

/** Blocks the thread: better-sqlite3 is synchronous, and this only happens while opening. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The page cache, per connection. SQLite's default (2 MiB) holds a sliver of the read models'
 * B-trees, so projecting re-read most pages it was about to write from the OS, one pread each
 * (a rebuild spent a third of its time in system calls); 32 MiB keeps the upper levels of every
 * index and the hot documents, at a bounded cost in memory (scripts/bench/rebuild.ts).
 */
const PAGE_CACHE_KIB = 32 * 1024;

/**
 * `events.position` is the `$all` position. AUTOINCREMENT (rather than a plain rowid) guarantees a
 * position is never reused, even after the newest rows are purged, so a checkpoint can never point
 * at a position that later names a different event.
 *
 * `events.stream_id` is the stream's `streams.id`: its name (`user-<uuid>`, 41 bytes) in every
 * event's row and again in every entry of the (stream, revision) index would take about 80 bytes
 * an event, its number takes one to three (bench/RESULTS.md, "Streams by number in the events'
 * rows"). A `streams` row is never deleted (a tombstone stays, as in EventStoreDB), so a
 * stream's number never changes and is never reused.
 *
 * `streams.last_revision` is NULL when only metadata was ever written (the stream does not exist).
 * `streams.truncate_before` is the effective `$tb`: set by metadata writes and by soft delete.
 * `streams.metadata` holds the other metadata keys (custom) as JSON.
 * `streams.recent_ids` holds the ids of the stream's last events (at most {@link RECENT_IDS},
 * ending at `last_revision`), as hashes (recent-ids.ts): an append recognises a retry of a recent
 * one from them, without an index of every event by id (sqlite-event-store.ts, `findRetry`).
 */
const STREAMS_TABLE = (name: string) => `
CREATE TABLE IF NOT EXISTS ${name} (
  id              INTEGER PRIMARY KEY,
  name            TEXT    NOT NULL UNIQUE,
  last_revision   INTEGER,
  truncate_before INTEGER,
  deleted         INTEGER NOT NULL DEFAULT 0,
  tombstoned      INTEGER NOT NULL DEFAULT 0,
  metadata        TEXT,
  meta_revision   INTEGER,
  recent_ids      BLOB
);`;

const EVENTS_TABLE = (name: string) => `
CREATE TABLE IF NOT EXISTS ${name} (
  position    INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id   INTEGER NOT NULL,
  revision    INTEGER NOT NULL,
  id          TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  data        TEXT    NOT NULL,
  metadata    TEXT    NOT NULL,
  recorded_at INTEGER NOT NULL,
  UNIQUE (stream_id, revision)
);`;

export const EVENT_STORE_DDL = `
${STREAMS_TABLE('streams')}
${EVENTS_TABLE('events')}
-- Positions start at 2 in a new store. 0 is every cursor's "from the start", and a cursor that
-- means "just before the first event" (position - 1) must not read as that: with the first
-- event at 1 it would (docs/design.md, "Upload cursors"). EventStoreDB's positions of user
-- events are far from 0 anyway. A store that already has a sequence keeps it.
INSERT INTO sqlite_sequence (name, seq) SELECT 'events', 1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events');
`;

/** How many of a stream's last event ids its row keeps (`streams.recent_ids`). */
export const RECENT_IDS = 64;

/**
 * How long opening waits for another connection that is creating or migrating the schema: a
 * migration of a large store ({@link migrateToStreamNumbers}) holds the write lock for as long
 * as it copies the events (about 7 s a million on a 2-core machine).
 */
const SCHEMA_WAIT_MS = 30 * 60 * 1000;

/** What {@link createSchema} did to a store made by an earlier version. */
export interface SchemaMigration {
  /** Events moved to rows naming their stream by number (0: none, or the store had them so). */
  readonly eventsRenumbered: number;
}

/** How far a migration has come: called as it starts, then every few seconds. */
export type MigrationProgress = (progress: { readonly moved: number; readonly total: number }) => void;

/** How often a migration reports its progress. */
const PROGRESS_EVERY_MS = 5_000;

export function createSchema(db: Database, onProgress: MigrationProgress = () => undefined): SchemaMigration {
  // In one transaction, the layout read again inside it: another connection to the file may be
  // creating or migrating it at the same time, and waits here until that is done.
  return retryWhileBusy(
    () =>
      db
        .transaction((): SchemaMigration => {
          const eventsRenumbered = hasColumn(db, 'events', 'stream') ? migrateToStreamNumbers(db, onProgress) : 0;
          db.exec(EVENT_STORE_DDL);
          return { eventsRenumbered };
        })
        .immediate(),
    SCHEMA_WAIT_MS,
  );
}

/** Whether `table` has `column` (false for a table that does not exist): what a store opened on an older file checks before it adds or moves one. */
export function hasColumn(db: Database, table: string, column: string): boolean {
  return (db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[]).includes(column);
}

/** Events {@link migrateToStreamNumbers} copies at a time. */
const MIGRATION_SLICE = 20_000;

/**
 * A store whose events name their stream (`events.stream`, an earlier layout) moved, inside the
 * caller's transaction, to rows naming it by number: the streams numbered, the events copied in
 * `$all` order with their positions, the old tables dropped, and the position sequence kept (it
 * may be past the last row, whose newest events were purged). A stream with events but no row of
 * its own (none is written so) gets one, so that no event is left behind. Returns how many events
 * moved. A store made before the streams kept their recent ids gets the column, empty (its
 * streams' retries are then found in their tails), and loses the index of every event by id they
 * replaced with its old table. A migration holds the write lock while it copies
 * (docs/operations.md, "Upgrades").
 */
function migrateToStreamNumbers(db: Database, onProgress: MigrationProgress): number {
  const sequence = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck().get() as number | undefined;
  const streamColumns = 'name, last_revision, truncate_before, deleted, tombstoned, metadata, meta_revision';
  const hasRecentIds = hasColumn(db, 'streams', 'recent_ids');
  db.exec(`${STREAMS_TABLE('streams_numbered')}
    INSERT INTO streams_numbered (${streamColumns}${hasRecentIds ? ', recent_ids' : ''})
      SELECT ${streamColumns}${hasRecentIds ? ', recent_ids' : ''} FROM streams ORDER BY name;
    INSERT INTO streams_numbered (name, last_revision)
      SELECT stream, max(revision) FROM events WHERE stream NOT IN (SELECT name FROM streams_numbered) GROUP BY stream;
    ${EVENTS_TABLE('events_numbered')}`);
  // In slices, each slice's old rows deleted once copied: the pages they free hold the next
  // slices, so the file grows by about a slice, not by a second copy of every event.
  const copy = db.prepare(
    `INSERT INTO events_numbered (position, stream_id, revision, id, type, data, metadata, recorded_at)
     SELECT e.position, s.id, e.revision, e.id, e.type, e.data, e.metadata, e.recorded_at
     FROM events e JOIN streams_numbered s ON s.name = e.stream WHERE e.position > ? ORDER BY e.position LIMIT ?`,
  );
  const lastCopied = db.prepare<[], number>('SELECT max(position) FROM events_numbered').pluck();
  const deleteCopied = db.prepare('DELETE FROM events WHERE position <= ?');
  const total = db.prepare<[], number>('SELECT count(*) FROM events').pluck().get()!;
  let moved = 0;
  let after = 0;
  onProgress({ moved, total });
  let reported = Date.now();
  for (let copied = copy.run(after, MIGRATION_SLICE).changes; copied > 0; copied = copy.run(after, MIGRATION_SLICE).changes) {
    moved += copied;
    after = lastCopied.get()!;
    deleteCopied.run(after);
    if (Date.now() - reported >= PROGRESS_EVERY_MS) {
      onProgress({ moved, total });
      reported = Date.now();
    }
  }
  // Every event has its stream's row (made above where missing): anything else is a bug, and
  // throwing rolls the whole migration back.
  if (moved !== total) throw new Error(`moving the events to numbered streams copied ${moved} of ${total}: nothing changed`);
  db.exec(`DROP TABLE events; DROP TABLE streams;
    ALTER TABLE events_numbered RENAME TO events; ALTER TABLE streams_numbered RENAME TO streams;`);
  // Dropping `events` dropped its sequence; the copy's (renamed with it) stops at the last row.
  if (sequence !== undefined) {
    db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'events'").run(sequence);
    db.prepare("INSERT INTO sqlite_sequence (name, seq) SELECT 'events', ? WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events')").run(
      sequence,
    );
  }
  return moved;
}
