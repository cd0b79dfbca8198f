/**
 * An Agenda 6 backend on SQLite (better-sqlite3), so the embedded deployment schedules jobs with
 * the same Agenda code as production (which uses `@agendajs/mongo-backend`).
 *
 * Semantics follow `MongoJobRepository` (node_modules/@agendajs/mongo-backend) method by method:
 * - `getNextJobToRun` locks ONE job whose `lockedAt` is null and `nextRunAt <= nextScanAt`, or whose
 *   lock is older than `lockDeadline` (a stale lock expires after the definition's lockLifetime);
 *   ordered by nextRunAt ascending then priority descending, as Mongo's default sort.
 * - `lockJob` locks a given job only if it is unlocked and still has the `nextRunAt` the caller saw.
 * - `saveJob` inserts, updates by id, upserts `type: 'single'` jobs by name (what `every()` creates;
 *   a `nextRunAt` already due is not allowed to move an existing schedule) and upserts by a
 *   `unique` key (with `insertOnly` and debounce).
 * - `saveJobState` writes the processor-managed fields; `touch()` goes through it.
 *
 * Atomicity: every write runs in a `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock
 * before reading, so find-and-lock is one step even between processes sharing the file (the
 * connection's busy_timeout makes a second writer wait rather than fail). A partial unique index
 * on `name WHERE type = 'single'` backs the upsert of recurring jobs.
 *
 * Deliberate differences from the Mongo repository, both on the safe side:
 * - updates keep the processor-managed fields (lockedAt, lastRunAt, lastFinishedAt, failedAt,
 *   failCount, failReason, progress) when the saved job leaves them out. `Job.save()` always leaves
 *   them out (Job.PROCESSOR_MANAGED_FIELDS), and Mongo's `$set` of nulls would unlock a running
 *   job whenever another worker calls `every()` for it at start-up.
 * - `unique` keys and data filters support equality only (dotted paths such as `data.key`);
 *   a query operator (`$gt`, …) is rejected instead of being silently misread.
 * `data` is stored as JSON: Dates inside job data come back as ISO strings.
 */
import { randomUUID } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { computeJobState, toJobId } from 'agenda';
import type {
  AgendaBackend,
  JobId,
  JobParameters,
  JobRepository,
  JobRepositoryOptions,
  JobsOverview,
  JobsQueryOptions,
  JobsResult,
  JobsSort,
  JobWithState,
  RemoveJobsOptions,
} from 'agenda';
import { applyPragmas } from '../stores/embedded/schema.js';

export type SqliteAgendaBackendConfig = (
  | {
      /** A connection owned by the caller (the service's embedded database); left open on disconnect. */
      readonly database: Database;
    }
  | {
      /** A file to open on connect and close on disconnect. */
      readonly path: string;
    }
) & {
  /** Table for the jobs (default `agenda_jobs`). */
  readonly table?: string;
};

const DEFAULT_TABLE = 'agenda_jobs';
const SAFE_TABLE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

interface JobRow {
  id: string;
  name: string;
  priority: number;
  type: string;
  next_run_at: number | null;
  locked_at: number | null;
  last_run_at: number | null;
  last_finished_at: number | null;
  failed_at: number | null;
  fail_count: number | null;
  fail_reason: string | null;
  repeat_interval: string | null;
  repeat_timezone: string | null;
  repeat_at: string | null;
  disabled: number | null;
  progress: number | null;
  data: string | null;
  fork: number | null;
  debounce_started_at: number | null;
  start_date: number | null;
  end_date: number | null;
  skip_days: string | null;
  last_modified_by: string | null;
}

const COLUMNS: readonly (keyof JobRow)[] = [
  'id',
  'name',
  'priority',
  'type',
  'next_run_at',
  'locked_at',
  'last_run_at',
  'last_finished_at',
  'failed_at',
  'fail_count',
  'fail_reason',
  'repeat_interval',
  'repeat_timezone',
  'repeat_at',
  'disabled',
  'progress',
  'data',
  'fork',
  'debounce_started_at',
  'start_date',
  'end_date',
  'skip_days',
  'last_modified_by',
];

function ddl(table: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${table} (
  id                  TEXT    PRIMARY KEY,
  name                TEXT    NOT NULL,
  priority            INTEGER NOT NULL DEFAULT 0,
  type                TEXT    NOT NULL,
  next_run_at         INTEGER,
  locked_at           INTEGER,
  last_run_at         INTEGER,
  last_finished_at    INTEGER,
  failed_at           INTEGER,
  fail_count          INTEGER,
  fail_reason         TEXT,
  repeat_interval     TEXT,
  repeat_timezone     TEXT,
  repeat_at           TEXT,
  disabled            INTEGER,
  progress            REAL,
  data                TEXT,
  fork                INTEGER,
  debounce_started_at INTEGER,
  start_date          INTEGER,
  end_date            INTEGER,
  skip_days           TEXT,
  last_modified_by    TEXT
);
CREATE INDEX IF NOT EXISTS ${table}_find_and_lock ON ${table} (name, next_run_at, priority DESC, locked_at, disabled);
CREATE UNIQUE INDEX IF NOT EXISTS ${table}_single ON ${table} (name) WHERE type = 'single';
`;
}

// ---------------------------------------------------------------------------------------------
// Conversions between JobParameters and rows.

type DateInput = Date | string | number | null | undefined;

function toMillis(value: DateInput): number | null {
  if (value === null || value === undefined) return null;
  const millis = value instanceof Date ? value.getTime() : new Date(value).getTime();
  return Number.isNaN(millis) ? null : millis;
}

function toDate(millis: number | null): Date | undefined {
  return millis === null ? undefined : new Date(millis);
}

function toFlag(value: boolean | undefined | null): number | null {
  return value === undefined || value === null ? null : Number(value);
}

function fromFlag(value: number | null): boolean | undefined {
  return value === null ? undefined : value === 1;
}

function toJsonText(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function fromJsonText(text: string | null): unknown {
  return text === null ? undefined : (JSON.parse(text) as unknown);
}

/** The columns a job's user-settable fields map to (everything except id and processor fields). */
function definitionColumns(job: Omit<JobParameters, '_id' | 'unique' | 'uniqueOpts'>, lastModifiedBy: string | null): Partial<JobRow> {
  return {
    name: job.name,
    priority: job.priority ?? 0,
    type: job.type,
    next_run_at: toMillis(job.nextRunAt),
    repeat_interval: toJsonText(job.repeatInterval),
    repeat_timezone: job.repeatTimezone ?? null,
    repeat_at: job.repeatAt ?? null,
    disabled: toFlag(job.disabled),
    data: toJsonText(job.data),
    fork: toFlag(job.fork),
    debounce_started_at: toMillis(job.debounceStartedAt),
    start_date: toMillis(job.startDate),
    end_date: toMillis(job.endDate),
    skip_days: toJsonText(job.skipDays),
    last_modified_by: lastModifiedBy,
  };
}

/**
 * The fields the job processor owns (Agenda's Job.PROCESSOR_MANAGED_FIELDS) that the job carries:
 * undefined ones are left out, so an update keeps what the processor stored.
 */
function processorColumns(job: Partial<JobParameters>): Partial<JobRow> {
  const columns: Partial<JobRow> = {};
  if (job.lockedAt !== undefined) columns.locked_at = toMillis(job.lockedAt);
  if (job.lastRunAt !== undefined) columns.last_run_at = toMillis(job.lastRunAt);
  if (job.lastFinishedAt !== undefined) columns.last_finished_at = toMillis(job.lastFinishedAt);
  if (job.failedAt !== undefined) columns.failed_at = toMillis(job.failedAt);
  if (job.failCount !== undefined) columns.fail_count = job.failCount;
  if (job.failReason !== undefined) columns.fail_reason = job.failReason;
  if (job.progress !== undefined) columns.progress = job.progress;
  return columns;
}

function emptyRow(id: string): JobRow {
  // Every column null, as a new SQL row: Object.fromEntries cannot type a row from a column list.
  const row = Object.fromEntries(COLUMNS.map((column) => [column, null])) as unknown as JobRow;
  row.id = id;
  return row;
}

function rowToJob(row: JobRow): JobParameters & { _id: JobId } {
  const job: JobParameters & { _id: JobId } = {
    _id: toJobId(row.id),
    name: row.name,
    priority: row.priority,
    nextRunAt: toDate(row.next_run_at) ?? null,
    type: row.type === 'single' ? 'single' : 'normal',
    data: fromJsonText(row.data),
  };
  // Optional fields are only set when present, as Mongo's `?? undefined` mapping does.
  const optional: Partial<JobParameters> = {
    lockedAt: toDate(row.locked_at),
    lastRunAt: toDate(row.last_run_at),
    lastFinishedAt: toDate(row.last_finished_at),
    failedAt: toDate(row.failed_at),
    failCount: row.fail_count ?? undefined,
    failReason: row.fail_reason ?? undefined,
    repeatInterval: fromJsonText(row.repeat_interval) as string | number | undefined,
    repeatTimezone: row.repeat_timezone ?? undefined,
    repeatAt: row.repeat_at ?? undefined,
    disabled: fromFlag(row.disabled),
    progress: row.progress ?? undefined,
    fork: fromFlag(row.fork),
    debounceStartedAt: toDate(row.debounce_started_at),
    startDate: toDate(row.start_date),
    endDate: toDate(row.end_date),
    skipDays: fromJsonText(row.skip_days) as number[] | undefined,
    lastModifiedBy: row.last_modified_by ?? undefined,
  };
  return Object.assign(job, Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)));
}

// ---------------------------------------------------------------------------------------------
// Equality filters on dotted paths (`unique` keys, `data` filters), as Mongo reads them.

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function rejectOperators(value: unknown, where: string): void {
  if (Array.isArray(value)) {
    for (const item of value) rejectOperators(item, where);
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [key, child] of Object.entries(value)) {
    if (key.startsWith('$')) throw new Error(`${where}: the SQLite Agenda backend supports equality only, not "${key}"`);
    rejectOperators(child, where);
  }
}

function valueAt(document: unknown, path: string): unknown {
  let current: unknown = document;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function sameValue(a: unknown, b: unknown): boolean {
  // Mongo: `{ field: null }` matches a missing field.
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  if (a instanceof Date || b instanceof Date) return toMillis(a as DateInput) === toMillis(b as DateInput);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => sameValue(item, b[index]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && sameValue(a[key], b[key]));
  }
  return a === b;
}

/** Mongo equality on a path: an array field also matches when one of its elements is equal. */
function matchesAt(document: unknown, path: string, expected: unknown): boolean {
  const actual = valueAt(document, path);
  if (Array.isArray(actual) && !Array.isArray(expected)) return actual.some((item) => sameValue(item, expected));
  return sameValue(actual, expected);
}

/** `{ a: { b: 1 } }` → `[['data.a.b', 1]]`: a partial match on the data subdocument (Mongo's flattenDataFilter). */
function flattenData(data: unknown, prefix = 'data'): [string, unknown][] {
  if (!isPlainObject(data)) return [[prefix, data]];
  return Object.entries(data).flatMap(([key, value]) => (isPlainObject(value) ? flattenData(value, `${prefix}.${key}`) : [[`${prefix}.${key}`, value]]));
}

function matchesData(job: JobParameters, data: unknown): boolean {
  return flattenData(data).every(([path, expected]) => matchesAt(job, path, expected));
}

function matchesUnique(job: JobParameters, unique: Record<string, unknown>): boolean {
  return Object.entries(unique).every(([path, expected]) => matchesAt(job, path, expected));
}

// ---------------------------------------------------------------------------------------------

interface Filter {
  readonly where: string;
  readonly params: unknown[];
  readonly data?: unknown;
}

/**
 * {@link JobRepository} on SQLite. Methods are async to fit the interface; the work inside each is
 * synchronous (better-sqlite3), so no other call interleaves with it in this process, and the
 * IMMEDIATE transactions exclude other processes.
 */
export class SqliteJobRepository implements JobRepository {
  private db: Database | undefined;
  private readonly table: string;

  constructor(private readonly config: SqliteAgendaBackendConfig) {
    this.table = config.table ?? DEFAULT_TABLE;
    if (!SAFE_TABLE.test(this.table)) throw new Error(`Invalid Agenda table name: ${this.table}`);
  }

  get ownsConnection(): boolean {
    return !('database' in this.config);
  }

  async connect(): Promise<void> {
    if (!this.db) {
      if ('database' in this.config) {
        this.db = this.config.database;
      } else {
        const db = new BetterSqlite3(this.config.path);
        applyPragmas(db);
        this.db = db;
      }
    }
    this.db.exec(ddl(this.table));
  }

  async disconnect(): Promise<void> {
    if (this.ownsConnection) this.db?.close();
    this.db = undefined;
  }

  private get database(): Database {
    if (!this.db) throw new Error('SQLite Agenda backend is not connected');
    return this.db;
  }

  /** Runs `work` holding SQLite's write lock from its first read (BEGIN IMMEDIATE). */
  private write<T>(work: (db: Database) => T): T {
    const db = this.database;
    return db.transaction(() => work(db)).immediate();
  }

  private selectRows(filter: Filter, orderBy = 'rowid'): JobRow[] {
    const rows = this.database.prepare<unknown[], JobRow>(`SELECT * FROM ${this.table} WHERE ${filter.where} ORDER BY ${orderBy}`).all(...filter.params);
    if (filter.data === undefined) return rows;
    return rows.filter((row) => matchesData(rowToJob(row), filter.data));
  }

  private insertRow(row: JobRow): JobRow {
    const placeholders = COLUMNS.map(() => '?').join(', ');
    return this.database
      .prepare<unknown[], JobRow>(`INSERT INTO ${this.table} (${COLUMNS.join(', ')}) VALUES (${placeholders}) RETURNING *`)
      .get(...COLUMNS.map((column) => row[column]))!;
  }

  private updateRow(existing: JobRow, changes: Partial<JobRow>): JobRow {
    const next: JobRow = { ...existing, ...changes, id: existing.id };
    const assignments = COLUMNS.filter((column) => column !== 'id').map((column) => `${column} = ?`);
    return this.database
      .prepare<unknown[], JobRow>(`UPDATE ${this.table} SET ${assignments.join(', ')} WHERE id = ? RETURNING *`)
      .get(...COLUMNS.filter((column) => column !== 'id').map((column) => next[column]), existing.id)!;
  }

  /**
   * The filter of remove/disable/enable (Mongo's buildFilterFromOptions): id or ids, then name,
   * names or notNames, then data. Undefined when nothing is given: those calls then touch nothing.
   */
  private filterFrom(options: RemoveJobsOptions): Filter | undefined {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (options.id) {
      conditions.push('id = ?');
      params.push(String(options.id));
    } else if (Array.isArray(options.ids) && options.ids.length > 0) {
      conditions.push(`id IN (${options.ids.map(() => '?').join(', ')})`);
      params.push(...options.ids.map(String));
    }
    const names = (list: unknown[] | undefined): string[] => (Array.isArray(list) ? list.filter((name): name is string => typeof name === 'string') : []);
    if (typeof options.name === 'string' && options.name !== '') {
      conditions.push('name = ?');
      params.push(options.name);
    } else if (names(options.names).length > 0) {
      const valid = names(options.names);
      conditions.push(`name IN (${valid.map(() => '?').join(', ')})`);
      params.push(...valid);
    } else if (names(options.notNames).length > 0) {
      const valid = names(options.notNames);
      conditions.push(`name NOT IN (${valid.map(() => '?').join(', ')})`);
      params.push(...valid);
    }
    if (options.data !== undefined) rejectOperators(options.data, 'job data filter');
    if (conditions.length === 0 && options.data === undefined) return undefined;
    return { where: conditions.length > 0 ? conditions.join(' AND ') : '1', params, data: options.data };
  }

  /** Sets `disabled`; counts the jobs actually changed, as Mongo's modifiedCount. */
  private setDisabled(options: RemoveJobsOptions, disabled: boolean): number {
    const filter = this.filterFrom(options);
    if (!filter) return 0;
    const value = Number(disabled);
    return this.write((db) => {
      const ids = this.selectRows(filter).map((row) => row.id);
      const update = db.prepare<[number, string, number]>(`UPDATE ${this.table} SET disabled = ? WHERE id = ? AND disabled IS NOT ?`);
      let changed = 0;
      for (const id of ids) changed += update.run(value, id, value).changes;
      return changed;
    });
  }

  // --- JobRepository --------------------------------------------------------------------------

  async queryJobs(options: JobsQueryOptions = {}): Promise<JobsResult> {
    const { name, names, state, id, ids, search, data, includeDisabled = true, sort, skip = 0, limit = 0 } = options;
    const now = new Date();
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (typeof search === 'string' && search !== '') {
      // Mongo lets a search replace the name filter; LIKE is case-insensitive for ASCII, as its /i regex.
      conditions.push(`name LIKE ? ESCAPE '\\'`);
      params.push(`%${search.replace(/[\\%_]/g, (character) => `\\${character}`)}%`);
    } else if (typeof name === 'string' && name !== '') {
      conditions.push('name = ?');
      params.push(name);
    } else if (Array.isArray(names) && names.length > 0) {
      conditions.push(`name IN (${names.map(() => '?').join(', ')})`);
      params.push(...names.map(String));
    }
    if (typeof id === 'string' && id !== '') {
      conditions.push('id = ?');
      params.push(id);
    } else if (Array.isArray(ids) && ids.length > 0) {
      conditions.push(`id IN (${ids.map(() => '?').join(', ')})`);
      params.push(...ids.map(String));
    }
    if (!includeDisabled) conditions.push('(disabled IS NULL OR disabled = 0)');
    if (data !== undefined) rejectOperators(data, 'job data filter');
    const filter: Filter = { where: conditions.length > 0 ? conditions.join(' AND ') : '1', params, data };
    let jobs: JobWithState[] = this.selectRows(filter, orderByOf(sort)).map((row) => {
      const job = rowToJob(row);
      return { ...job, state: computeJobState(job, now) };
    });
    if (state) jobs = jobs.filter((job) => (state === 'paused' ? job.disabled === true : job.state === state));
    const total = jobs.length;
    const page = limit > 0 ? jobs.slice(skip, skip + limit) : jobs.slice(skip);
    return { jobs: page, total };
  }

  async getJobsOverview(): Promise<JobsOverview[]> {
    const now = new Date();
    const overviews = new Map<string, JobsOverview>();
    for (const row of this.database.prepare<[], JobRow>(`SELECT * FROM ${this.table} ORDER BY name`).all()) {
      const job = rowToJob(row);
      let overview = overviews.get(job.name);
      if (!overview) {
        overview = { name: job.name, total: 0, running: 0, scheduled: 0, queued: 0, completed: 0, failed: 0, repeating: 0, paused: 0 };
        overviews.set(job.name, overview);
      }
      overview.total++;
      overview[computeJobState(job, now)]++;
      if (job.disabled === true) overview.paused++;
    }
    return [...overviews.values()];
  }

  async getDistinctJobNames(): Promise<string[]> {
    return this.database
      .prepare<[], { name: string }>(`SELECT DISTINCT name FROM ${this.table} ORDER BY name`)
      .all()
      .map((row) => row.name);
  }

  async getJobById(id: string): Promise<JobParameters | null> {
    const row = this.database.prepare<[string], JobRow>(`SELECT * FROM ${this.table} WHERE id = ?`).get(id);
    return row ? rowToJob(row) : null;
  }

  async getQueueSize(): Promise<number> {
    return this.database.prepare<[number], { count: number }>(`SELECT count(*) AS count FROM ${this.table} WHERE next_run_at < ?`).get(Date.now())!.count;
  }

  async removeJobs(options: RemoveJobsOptions): Promise<number> {
    const filter = this.filterFrom(options);
    if (!filter) return 0;
    return this.write((db) => {
      const remove = db.prepare<[string]>(`DELETE FROM ${this.table} WHERE id = ?`);
      let removed = 0;
      for (const row of this.selectRows(filter)) removed += remove.run(row.id).changes;
      return removed;
    });
  }

  async saveJob<DATA = unknown>(job: JobParameters<DATA>, options: JobRepositoryOptions | undefined): Promise<JobParameters<DATA>> {
    const { _id, unique, uniqueOpts, ...props } = job;
    const lastModifiedBy = options?.lastModifiedBy ?? null;
    if (unique !== undefined) rejectOperators(unique, 'unique()');
    const definition = definitionColumns(props, lastModifiedBy);
    const processor = processorColumns(props);
    const now = Date.now();

    const saved = this.write((db): JobRow | undefined => {
      if (_id) {
        const existing = db.prepare<[string, string], JobRow>(`SELECT * FROM ${this.table} WHERE id = ? AND name = ?`).get(String(_id), props.name);
        // Removed meanwhile: Mongo returns the job unchanged rather than recreating it.
        return existing ? this.updateRow(existing, { ...definition, ...processor }) : undefined;
      }

      if (props.type === 'single') {
        // `every()`: one job per name. A nextRunAt that is already due does not move an existing
        // schedule, so a worker starting up does not make a recurring job run out of turn.
        const existing = db.prepare<[string], JobRow>(`SELECT * FROM ${this.table} WHERE name = ? AND type = 'single'`).get(props.name);
        if (!existing) return this.insertRow({ ...emptyRow(randomUUID()), ...definition, ...processor });
        const due = definition.next_run_at !== null && definition.next_run_at !== undefined && definition.next_run_at <= now;
        // Pausing is the operator's (disableJobs): a re-declaration that does not say keeps it.
        const keepPause = props.disabled === undefined || props.disabled === null ? { disabled: existing.disabled } : {};
        return this.updateRow(existing, { ...definition, ...processor, ...keepPause, ...(due ? { next_run_at: existing.next_run_at } : {}) });
      }

      if (unique) {
        const candidates = db.prepare<[string], JobRow>(`SELECT * FROM ${this.table} WHERE name = ? ORDER BY rowid`).all(props.name);
        const existing = candidates.find((row) => matchesUnique(rowToJob(row), unique));
        const debounce = uniqueOpts?.debounce;
        if (existing && uniqueOpts?.insertOnly && !debounce) return existing;
        if (debounce) {
          if (existing) {
            const startedAt = existing.debounce_started_at ?? now;
            if (debounce.strategy === 'leading') {
              // Leading: the job keeps its original run time; only its fields are updated.
              return this.updateRow(existing, { ...definition, ...processor, next_run_at: existing.next_run_at, debounce_started_at: startedAt });
            }
            const forced = debounce.maxWait !== undefined && debounce.maxWait > 0 && now - startedAt >= debounce.maxWait;
            return this.updateRow(existing, {
              ...definition,
              ...processor,
              next_run_at: forced ? now : now + debounce.delay,
              debounce_started_at: forced ? null : startedAt,
            });
          }
          const first: Partial<JobRow> =
            debounce.strategy === 'leading' ? { debounce_started_at: now } : { next_run_at: now + debounce.delay, debounce_started_at: now };
          return this.insertRow({ ...emptyRow(randomUUID()), ...definition, ...processor, ...first });
        }
        if (existing) return this.updateRow(existing, { ...definition, ...processor });
      }

      return this.insertRow({ ...emptyRow(randomUUID()), ...definition, ...processor });
    });
    // The generic DATA is the caller's; the row holds whatever the caller stored.
    return saved ? (rowToJob(saved) as JobParameters<DATA>) : job;
  }

  async saveJobState(job: JobParameters, options: JobRepositoryOptions | undefined): Promise<void> {
    if (!job._id) throw new Error('Cannot save job state without job ID');
    const result = this.database
      .prepare(
        `UPDATE ${this.table}
            SET locked_at = ?, next_run_at = ?, last_run_at = ?, progress = ?, fail_reason = ?, fail_count = ?,
                failed_at = ?, last_finished_at = ?, last_modified_by = ?
          WHERE id = ? AND name = ?`,
      )
      .run(
        toMillis(job.lockedAt),
        toMillis(job.nextRunAt),
        toMillis(job.lastRunAt),
        job.progress ?? null,
        job.failReason ?? null,
        job.failCount ?? null,
        toMillis(job.failedAt),
        toMillis(job.lastFinishedAt),
        options?.lastModifiedBy ?? null,
        String(job._id),
        job.name,
      );
    if (result.changes !== 1) {
      throw new Error(`job ${String(job._id)} (name: ${job.name}) cannot be updated in the database, maybe it does not exist anymore?`);
    }
  }

  async lockJob(job: JobParameters, options: JobRepositoryOptions | undefined): Promise<JobParameters | undefined> {
    if (!job._id) return undefined;
    const row = this.write((db) =>
      db
        .prepare<unknown[], JobRow>(
          `UPDATE ${this.table} SET locked_at = ?, last_modified_by = ?
            WHERE id = ? AND name = ? AND locked_at IS NULL AND next_run_at IS ? AND (disabled IS NULL OR disabled = 0)
            RETURNING *`,
        )
        .get(Date.now(), options?.lastModifiedBy ?? null, String(job._id), job.name, toMillis(job.nextRunAt)),
    );
    return row ? rowToJob(row) : undefined;
  }

  async unlockJob(job: JobParameters): Promise<void> {
    if (!job._id) return;
    // As Mongo: a one-time job that has started (nextRunAt null) stays locked until it finishes.
    this.write((db) => db.prepare<[string]>(`UPDATE ${this.table} SET locked_at = NULL WHERE id = ? AND next_run_at IS NOT NULL`).run(String(job._id)));
  }

  async unlockJobs(jobIds: (JobId | string)[]): Promise<void> {
    if (jobIds.length === 0) return;
    this.write((db) => {
      const unlock = db.prepare<[string]>(`UPDATE ${this.table} SET locked_at = NULL WHERE id = ?`);
      for (const id of jobIds) unlock.run(String(id));
    });
  }

  async getNextJobToRun(
    jobName: string,
    nextScanAt: Date,
    lockDeadline: Date,
    now: Date | undefined,
    options: JobRepositoryOptions | undefined,
  ): Promise<JobParameters | undefined> {
    const row = this.write((db) =>
      db
        .prepare<unknown[], JobRow>(
          `UPDATE ${this.table} SET locked_at = ?, last_modified_by = ?
            WHERE id = (
              SELECT id FROM ${this.table}
               WHERE name = ? AND (disabled IS NULL OR disabled = 0)
                 AND ((locked_at IS NULL AND next_run_at <= ?) OR locked_at <= ?)
               ORDER BY next_run_at ASC, priority DESC, rowid ASC
               LIMIT 1)
            RETURNING *`,
        )
        .get((now ?? new Date()).getTime(), options?.lastModifiedBy ?? null, jobName, nextScanAt.getTime(), lockDeadline.getTime()),
    );
    return row ? rowToJob(row) : undefined;
  }

  async disableJobs(options: RemoveJobsOptions): Promise<number> {
    return this.setDisabled(options, true);
  }

  async enableJobs(options: RemoveJobsOptions): Promise<number> {
    return this.setDisabled(options, false);
  }

  async purgeAllJobs(): Promise<number> {
    return this.write((db) => db.prepare(`DELETE FROM ${this.table}`).run().changes);
  }
}

function orderByOf(sort: JobsSort | undefined): string {
  const columns: Record<keyof JobsSort, string> = {
    nextRunAt: 'next_run_at',
    lastRunAt: 'last_run_at',
    lastFinishedAt: 'last_finished_at',
    priority: 'priority',
    name: 'name',
    data: 'data',
  };
  const parts = Object.entries(sort ?? {})
    .filter((entry): entry is [keyof JobsSort, 'asc' | 'desc'] => Object.hasOwn(columns, entry[0]) && (entry[1] === 'asc' || entry[1] === 'desc'))
    .map(([field, direction]) => `${columns[field]} ${direction === 'asc' ? 'ASC' : 'DESC'}`);
  // Mongo's default: nextRunAt and lastRunAt descending (nulls last, as in Mongo's descending order).
  return [...(parts.length > 0 ? parts : ['next_run_at DESC', 'last_run_at DESC']), 'rowid ASC'].join(', ');
}

/** The Agenda backend: storage only; Agenda polls (`processEvery`), as with the Mongo backend. */
export class SqliteAgendaBackend implements AgendaBackend {
  readonly name = 'SQLite';
  readonly repository: SqliteJobRepository;
  readonly notificationChannel = undefined;

  constructor(config: SqliteAgendaBackendConfig) {
    this.repository = new SqliteJobRepository(config);
  }

  /** False when the service's connection was passed in: `agenda.stop()` then leaves it open. */
  get ownsConnection(): boolean {
    return this.repository.ownsConnection;
  }

  connect(): Promise<void> {
    return this.repository.connect();
  }

  disconnect(): Promise<void> {
    return this.repository.disconnect();
  }
}
