/**
 * Embedded read-model adapter: one SQLite table per collection (`rm_<name>`: id, JSON doc, and
 * a JSON column `doc_<field>` for each field the collection keeps apart), expression indexes on
 * the declared fields, and a checkpoint table written in the same transaction as the documents.
 * A collection clustered by fields (`CollectionSpec.clusteredBy`) has them as its primary key's
 * leading columns `key_<field>` (their SQL values, as json_extract gives them), then the id,
 * which a unique index keeps unique (docs/architecture.md, "Collections clustered by their reads").
 */
import type Database from 'better-sqlite3';
import type { Position } from '../event-store.js';
import type {
  BackgroundCommitter,
  Checkpoint,
  CollectionSpec,
  CommitOptions,
  Doc,
  DocChange,
  JoinedRaw,
  JoinOptions,
  ProjectionCommit,
  Query,
  RawFieldDoc,
  ReadModelStore,
  Scalar,
  StoredDoc,
} from '../read-model.js';
import { CHECK_FAILED, TransactionThread, type TransactionPlan } from './transaction-thread.js';
import { commitPlan } from './commit-plan.js';
import { writeWithoutBlocking } from './schema.js';
import { isDeadLocalOwner } from '../lease-owner.js';
import {
  apartColumn,
  docOf,
  fieldExpr,
  ID_TAIL,
  idIndexOf,
  keyColumn,
  needsIdIndex,
  readTableLayout,
  relayoutTable,
  tableOf,
  TOP_LEVEL_FIELD,
  type DocRow,
  type PutBack,
  type TableLayout,
} from './table-layout.js';
import {
  idPrefixRange,
  indexName,
  indexSpec,
  InvalidDocumentError,
  keysetOf,
  LeaseNotHeldError,
  mergeSpecs,
  splitField,
  splitKeyedId,
  ID_KEY_SEPARATOR,
} from '../read-model.js';

const CHUNK = 500;
/** This connection's page cache while a background committer writes (see openBackgroundCommitter). */
const READING_CACHE_KIB = 8 * 1024;

/** JSON booleans come out of json_extract as 0/1. */
function sqlValue(value: Scalar | string | number): string | number | null {
  return typeof value === 'boolean' ? Number(value) : value;
}

/** A partial index's filter value as SQL text (values are checked by indexName: no quotes in them). */
function sqlLiteral(value: string | boolean): string {
  return typeof value === 'boolean' ? String(Number(value)) : `'${value}'`;
}

/** Whether `doc` has no field but `fields` (then it is the answer as it is). */
function onlyFields(doc: Doc, fields: readonly string[]): boolean {
  for (const key in doc) if (!fields.includes(key)) return false;
  return true;
}

/**
 * SQLite's JSON functions (the index expressions) refuse some documents JSON.stringify makes,
 * e.g. nested deeper than 1,000 levels: the same commit would fail forever, so say so
 * (the projector parks the event rather than retry it).
 */
function documentRefused(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/malformed JSON|JSON cannot hold/i.test(message)) return new InvalidDocumentError(`the read-model store refused a document: ${message}`);
  return error instanceof Error ? error : new Error(message);
}

/**
 * Drops every read-model table (documents, checkpoints, leases) of `db`: what an earlier layout
 * kept in the events' file (src/runtime.ts, READ_MODEL_FILE). Read models are derived data: the
 * projector rebuilds them from the events in their own file. With `secure_delete` on, their
 * bytes are overwritten, so nothing erased since lingers in stale copies. Idempotent; returns
 * how many tables went.
 */
export function dropReadModelTables(db: Database.Database): number {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rm\\_%' ESCAPE '\\'").all() as { name: string }[];
  if (tables.length === 0) return 0;
  db.transaction(() => {
    for (const { name } of tables) db.exec(`DROP TABLE IF EXISTS "${name}"`);
  }).immediate();
  return tables.length;
}

/**
 * Forgets the leases recorded in a copy of the read models' file (a backup, src/admin/backup.ts):
 * whoever held them when it was taken holds nothing in the copy, and a service restored from it
 * takes them at once instead of after they expire.
 */
export function forgetLeases(db: Database.Database): void {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rm_leases'").get();
  if (exists) db.prepare('DELETE FROM rm_leases').run();
}

export class SqliteReadModelStore implements ReadModelStore {
  /** Per collection known to this store (its table created), its layout. */
  private readonly layouts = new Map<string, TableLayout>();
  private readonly statements = new Map<string, Database.Statement>();
  /** Per collection, the filters of its partial indexes (see whereClause). */
  private readonly partialFilters = new Map<string, readonly Readonly<Record<string, string | boolean>>[]>();
  /** The schema the layouts were read from (see {@link current}). */
  private schemaVersion: number | undefined;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS rm_checkpoints (projection TEXT PRIMARY KEY, commit_position TEXT NOT NULL, prepare_position TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rm_leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
    `);
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** The collection's layout, its table created if missing. */
  private layout(collection: string): TableLayout {
    const known = this.layouts.get(collection);
    if (known) return known;
    const table = tableOf(collection);
    this.db.exec(`CREATE TABLE IF NOT EXISTS ${table} (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID`);
    return this.readLayout(collection, table);
  }

  private readLayout(collection: string, table: string): TableLayout {
    const layout = readTableLayout(this.db, table);
    this.layouts.set(collection, layout);
    return layout;
  }

  /**
   * Forgets the layouts when the schema changed since they were read: another connection may
   * have clustered a table anew (relayoutTable), and a layout read before would select columns
   * it no longer has, or miss the keys. One read of the database header per call of a public
   * method, not per row.
   */
  private current(): void {
    const version = this.statement('PRAGMA schema_version').pluck().get() as number;
    if (version === this.schemaVersion) return;
    if (this.schemaVersion !== undefined) this.layouts.clear();
    this.schemaVersion = version;
  }

  private ensureTable(collection: string): string {
    return this.layout(collection).table;
  }

  private expr(collection: string, field: string): string {
    const { apart, keys } = this.layout(collection);
    return fieldExpr(field, apart, keys);
  }

  /** A row's document whole: see {@link docOf}. */
  private rowDoc(collection: string, row: DocRow): Doc {
    const { putBack, keyColumns } = this.layout(collection);
    return docOf(row, putBack, keyColumns);
  }

  /** The fields kept apart to put back, but `leaveOut`, and only those of `read` when given (the columns selected). */
  private putBack(collection: string, leaveOut: string | undefined, read: readonly string[] | undefined): readonly PutBack[] {
    return this.layout(collection).putBack.filter(([field]) => field !== leaveOut && (read === undefined || read.includes(field)));
  }

  /**
   * Adds the columns of the fields `fields` keeps apart that the table has not. A field once kept
   * apart stays so, declared or not (SQLite cannot drop a column cheaply, and a column no longer
   * read would keep values the documents have lost).
   */
  private ensureApartColumns(collection: string, fields: readonly string[]): TableLayout {
    const { table, apart } = this.layout(collection);
    for (const field of fields) if (!apart.includes(field)) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${apartColumn(field)} TEXT`);
    // Read again: another connection may have added columns since this one first read the table.
    return this.readLayout(collection, table);
  }

  /** See {@link relayoutTable}. */
  private relayout(collection: string, keys: readonly string[], owned: boolean): void {
    try {
      relayoutTable(this.db, collection, this.layout(collection).table, keys, owned);
    } finally {
      this.layouts.delete(collection);
    }
  }

  async ensureCollections(specs: readonly CollectionSpec[]): Promise<void> {
    this.current();
    for (const spec of mergeSpecs(specs)) {
      const clusteredBy = spec.clusteredBy ?? [];
      const owned = clusteredBy.length > 0 && spec.idPrefixedByKey === true;
      const current = this.layout(spec.name);
      if (current.keys.join() !== clusteredBy.join() || current.owned !== owned) this.relayout(spec.name, clusteredBy, owned);
      const { table, apart, keys } = this.ensureApartColumns(
        spec.name,
        (spec.apart ?? []).filter((field) => !clusteredBy.includes(field)),
      );
      const declared = new Set<string>(needsIdIndex(keys, owned) ? [idIndexOf(table)] : []);
      const filters: Readonly<Record<string, string | boolean>>[] = [];
      for (const index of spec.indexes.map(indexSpec)) {
        if (index.fields.length === 0) continue;
        // The table's own order serves an index on its leading keys: another would cost every write.
        if (index.where === undefined && index.fields.every((field, at) => keys[at] === field)) continue;
        const name = `${table}__${indexName(index)}`;
        const filter = Object.entries(index.where ?? {});
        const where =
          filter.length > 0 ? ` WHERE ${filter.map(([field, value]) => `${fieldExpr(field, apart, keys)} = ${sqlLiteral(value)}`).join(' AND ')}` : '';
        const sql = `CREATE INDEX ${name} ON ${table} (${index.fields.map((field) => fieldExpr(field, apart, keys)).join(', ')})${where}`;
        // An index of the same name over other expressions (its field has been kept apart since) is made again.
        const stored = this.db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?").get(name) as { sql: string } | undefined;
        if (stored !== undefined && stored.sql !== sql) this.db.exec(`DROP INDEX ${name}`);
        if (stored?.sql !== sql) this.db.exec(sql);
        declared.add(name);
        if (index.where) filters.push(index.where);
      }
      this.partialFilters.set(spec.name, filters);
      // Indexes an earlier version declared: each costs every write, and nothing reads them now.
      const existing = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL").all(table) as {
        name: string;
      }[];
      for (const { name } of existing) if (name.startsWith(`${table}__`) && !declared.has(name)) this.db.exec(`DROP INDEX IF EXISTS ${name}`);
    }
  }

  async get(collection: string, id: string): Promise<Doc | undefined> {
    return this.getSync(collection, id);
  }

  getSync(collection: string, id: string): Doc | undefined {
    this.current();
    const { select, table, idWhere, idParams } = this.layout(collection);
    const params = idParams(id);
    if (params === undefined) return undefined;
    const row = this.statement(`SELECT ${select} FROM ${table} WHERE ${idWhere}`).get(...params) as DocRow | undefined;
    return row ? this.rowDoc(collection, row) : undefined;
  }

  async getMany(collection: string, ids: readonly string[]): Promise<Map<string, Doc>> {
    return this.getManySync(collection, ids);
  }

  getManySync(collection: string, ids: readonly string[]): Map<string, Doc> {
    this.current();
    const { select, table, owned, keyColumns, idWhere, idParams } = this.layout(collection);
    const result = new Map<string, Doc>();
    // One statement per table whatever the number of ids (statements are cached by their SQL,
    // and an IN list of n placeholders would make one per n), and `id = ?` for the common single id.
    // A table whose ids are split after their key splits them in SQLite (an id with no separator matches nothing).
    const byIds = owned
      ? `(${keyColumns[0]![1]}, ${ID_TAIL}) IN (SELECT substr(value, 1, instr(value, '${ID_KEY_SEPARATOR}') - 1), substr(value, instr(value, '${ID_KEY_SEPARATOR}') + 1)
         FROM json_each(?) WHERE instr(value, '${ID_KEY_SEPARATOR}') > 0)`
      : 'id IN (SELECT value FROM json_each(?))';
    for (let start = 0; start < ids.length; start += CHUNK) {
      const chunk = ids.slice(start, start + CHUNK);
      const single = chunk.length === 1 ? idParams(chunk[0]!) : undefined;
      if (chunk.length === 1 && single === undefined) continue;
      const rows = (
        single !== undefined
          ? this.statement(`SELECT ${select} FROM ${table} WHERE ${idWhere}`).all(...single)
          : this.statement(`SELECT ${select} FROM ${table} WHERE ${byIds}`).all(JSON.stringify(chunk))
      ) as DocRow[];
      for (const row of rows) result.set(row.id, this.rowDoc(collection, row));
    }
    return result;
  }

  /**
   * SQLite uses a partial index only if the query's WHERE contains the index's own terms, and a
   * bound parameter never matches a literal: so a value that one of the collection's partial
   * indexes filters on is written into the SQL (a code constant, checked by indexName; one
   * statement per such value).
   */
  private whereClause(collection: string, query: Query | undefined): { sql: string; params: (string | number | null)[] } {
    const parts: string[] = [];
    const params: (string | number | null)[] = [];
    const filters = this.partialFilters.get(collection) ?? [];
    for (const [field, value] of Object.entries(query?.where ?? {})) {
      if (value === null) parts.push(`${this.expr(collection, field)} IS NULL`);
      else if ((typeof value === 'string' || typeof value === 'boolean') && filters.some((filter) => filter[field] === value))
        parts.push(`${this.expr(collection, field)} = ${sqlLiteral(value)}`);
      else {
        parts.push(`${this.expr(collection, field)} = ?`);
        params.push(sqlValue(value));
      }
    }
    if (query?.lessThan) {
      parts.push(`${this.expr(collection, query.lessThan.field)} < ?`);
      params.push(query.lessThan.value);
    }
    if (query?.greaterThan) {
      parts.push(`${this.expr(collection, query.greaterThan.field)} > ?`);
      params.push(query.greaterThan.value);
    }
    const { owned, keyColumns, idExpr } = this.layout(collection);
    if (query?.idPrefix !== undefined) {
      const { from, to } = idPrefixRange(query.idPrefix);
      const split = owned ? splitKeyedId(query.idPrefix) : undefined;
      if (split === undefined) {
        parts.push(`${idExpr} >= ?`, `${idExpr} < ?`);
        params.push(from, to);
      } else {
        // A prefix naming the key: the key's rows, and the range of the rest of their ids.
        parts.push(`${keyColumns[0]![1]} = ?`);
        params.push(split.key);
        if (split.rest !== '') {
          const rest = idPrefixRange(split.rest);
          parts.push(`${ID_TAIL} >= ?`, `${ID_TAIL} < ?`);
          params.push(rest.from, rest.to);
        }
      }
    }
    const keyset = keysetOf(query);
    if (keyset) {
      // The bound on the field alone first, so that SQLite reads the field's index from it on.
      const field = this.expr(collection, keyset.field);
      const [inclusive, strict] = keyset.direction === 'desc' ? ['<=', '<'] : ['>=', '>'];
      parts.push(`${field} ${inclusive} ?`, `(${field} ${strict} ? OR ${idExpr} > ?)`);
      params.push(keyset.value, keyset.value, keyset.id);
    }
    return { sql: parts.length > 0 ? `WHERE ${parts.join(' AND ')}` : '', params };
  }

  async find(collection: string, query?: Query): Promise<StoredDoc[]> {
    return this.findSync(collection, query);
  }

  findSync(collection: string, query?: Query): StoredDoc[] {
    this.current();
    const { sql, params } = this.selectSql(collection, query);
    return (this.statement(sql).all(...params) as DocRow[]).map((row) => ({ id: row.id, doc: this.rowDoc(collection, row) }));
  }

  async findRaw(collection: string, query: Query | undefined, field: string, fields?: readonly string[]): Promise<RawFieldDoc[]> {
    return this.findRawSync(collection, query, field, fields);
  }

  /**
   * A field kept apart is answered from its column, as stored; any other is serialized from the
   * document. With `fields`, only the columns that may hold them are read.
   */
  findRawSync(collection: string, query: Query | undefined, field: string, fields?: readonly string[]): RawFieldDoc[] {
    this.current();
    const { apart, keyColumns } = this.layout(collection);
    const read = fields === undefined ? undefined : apart.filter((name) => name === field || fields.includes(name));
    const keys = fields === undefined ? keyColumns : keyColumns.filter(([name]) => name === field || fields.includes(name));
    const { sql, params } = this.selectSql(collection, query, read);
    const rows = this.statement(sql).all(...params) as DocRow[];
    if (!apart.includes(field)) {
      const putBack = this.putBack(collection, undefined, read);
      return rows.map((row) => splitField(row.id, docOf(row, putBack, keys), field, fields));
    }
    const column = apartColumn(field);
    const putBack = this.putBack(collection, field, read);
    return rows.map((row) => {
      const raw = row[column];
      const doc = docOf(row, putBack, keys);
      // A row written before the field was kept apart has it inside.
      if (typeof raw !== 'string') return splitField(row.id, doc, field, fields);
      return { id: row.id, doc: fields === undefined || onlyFields(doc, fields) ? doc : splitField(row.id, doc, field, fields).doc, raw };
    });
  }

  /** SQLite's plan for a find (EXPLAIN QUERY PLAN, one line per step): which index serves it. */
  explainFind(collection: string, query?: Query): string[] {
    const { sql, params } = this.selectSql(collection, query);
    return (this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
  }

  /** `read`: the fields kept apart whose columns are read (all of them without it). */
  private selectSql(collection: string, query: Query | undefined, read?: readonly string[]): { sql: string; params: (string | number | null)[] } {
    const { select: all, keyColumns, idSelect } = this.layout(collection);
    const select = read === undefined ? all : [idSelect, 'doc', ...keyColumns.map(([, column]) => column), ...read.map(apartColumn)].join(', ');
    const found = this.foundSql(collection, query);
    return { sql: `SELECT ${select} ${found.sql}`, params: found.params };
  }

  /** What a find reads from: `FROM … WHERE … ORDER BY … LIMIT ?`, ties by id. */
  private foundSql(collection: string, query: Query | undefined): { sql: string; params: (string | number | null)[] } {
    const { table, owned, keys, idExpr } = this.layout(collection);
    const where = this.whereClause(collection, query);
    // Ties by id. Where a table keeps the rest of its ids after their key, and the query names one
    // key, the rest orders them alike (and the table's own order gives it); otherwise the ids as
    // they read (ids whose keys differ in length order otherwise than split: `a|x` after `ab|y`).
    const oneKey = owned && (typeof query?.where?.[keys[0]!] === 'string' || (query?.idPrefix !== undefined && splitKeyedId(query.idPrefix) !== undefined));
    // SQLite sorts NULL first ascending and last descending, as MongoDB does.
    const order = [
      ...(query?.orderBy ?? []).map(({ field, direction }) => `${this.expr(collection, field)} ${direction === 'asc' ? 'ASC' : 'DESC'}`),
      `${oneKey ? ID_TAIL : idExpr} ASC`,
    ];
    // The limit is a parameter, not part of the SQL: statements are cached by their SQL, and the
    // projector asks for ever-different limits (it pads them for its pending documents), which
    // grew the cache without bound (hundreds of MB over a rebuild). -1 is SQLite's "no limit".
    const limit = query?.limit !== undefined ? Math.max(0, Math.floor(query.limit)) : -1;
    return { sql: `FROM ${table} ${where.sql} ORDER BY ${order.join(', ')} LIMIT ?`, params: [...where.params, limit] };
  }

  async findNumbers(collection: string, query: Query | undefined, field: string): Promise<(number | null)[]> {
    return this.findNumbersSync(collection, query, field);
  }

  /** The field's expression as its index has it, so that an index holding it answers alone. */
  findNumbersSync(collection: string, query: Query | undefined, field: string): (number | null)[] {
    this.current();
    const found = this.foundSql(collection, query);
    const values = this.statement(`SELECT ${this.expr(collection, field)} ${found.sql}`)
      .pluck()
      .all(...found.params) as unknown[];
    return values.map((value) => (typeof value === 'number' ? value : null));
  }

  async joinRaw(collection: string, query: Query | undefined, field: string, options?: JoinOptions): Promise<JoinedRaw> {
    return this.joinRawSync(collection, query, field, options);
  }

  /**
   * SQLite's group_concat over the found rows in their order, cast to a BLOB: the UTF-8 bytes
   * the database holds (its encoding), with no string made. The subquery's ORDER BY holds,
   * since SQLite does not flatten an ordered subquery into an aggregate (pinned by the contract
   * test against find's order); group_concat's own ORDER BY would sort again in a temporary
   * B-tree. A row written before its field was kept apart has it inside the document. The
   * numbers come in the same pass, as a JSON array (json_group_array follows the same order);
   * `only` is a condition on each row, not a filter of the rows found.
   */
  joinRawSync(collection: string, query: Query | undefined, field: string, options: JoinOptions = {}): JoinedRaw {
    this.current();
    const { apart, keys } = this.layout(collection);
    if (!TOP_LEVEL_FIELD.test(field)) throw new Error(`Invalid field: ${field}`);
    const inside = `doc -> '$.${field}'`;
    const value = keys.includes(field) ? `json_quote(${keyColumn(field)})` : apart.includes(field) ? `coalesce(${apartColumn(field)}, ${inside})` : inside;
    const columns = [`${value} AS v`];
    const params: (string | number | null)[] = [];
    const only = options.only !== undefined && Object.keys(options.only).length > 0 ? this.whereClause(collection, { where: options.only }) : undefined;
    if (only !== undefined) {
      columns.push(`(${only.sql.slice('WHERE '.length)}) AS ok`);
      params.push(...only.params);
    }
    if (options.numbers !== undefined) columns.push(`${this.expr(collection, options.numbers)} AS n`);
    const joined = only === undefined ? 'v' : 'CASE WHEN ok THEN v END';
    const found = this.foundSql(collection, query);
    const [bytes, count, numbers] = this.statement(
      `SELECT CAST(group_concat(${joined}, ',') AS BLOB), count(${joined})${options.numbers === undefined ? '' : ', json_group_array(n)'} FROM (SELECT ${columns.join(', ')} ${found.sql})`,
    )
      .raw(true)
      .get(...params, ...found.params) as [Buffer | null, number, string | undefined];
    const answer = { bytes: bytes ?? Buffer.alloc(0), count };
    if (numbers === undefined) return answer;
    return { ...answer, numbers: (JSON.parse(numbers) as unknown[]).map((value) => (typeof value === 'number' ? value : null)) };
  }

  async count(collection: string, where?: Readonly<Record<string, Scalar>>): Promise<number> {
    this.current();
    const clause = this.whereClause(collection, where ? { where } : undefined);
    const row = this.statement(`SELECT count(*) AS n FROM ${this.ensureTable(collection)} ${clause.sql}`).get(...clause.params) as { n: number };
    return row.n;
  }

  async idsAfter(collection: string, after: string | undefined, limit: number): Promise<string[]> {
    this.current();
    const table = this.ensureTable(collection);
    const count = Math.max(0, Math.floor(limit));
    const { owned, keyColumns, idExpr } = this.layout(collection);
    if (owned) {
      // In the order of the table's unique (key, rest): by key, then the rest of the id.
      const key = keyColumns[0]![1];
      const split = after === undefined ? undefined : (splitKeyedId(after) ?? { key: after, rest: '' });
      return (
        split === undefined
          ? this.statement(`SELECT ${idExpr} FROM ${table} ORDER BY ${key}, ${ID_TAIL} LIMIT ?`).pluck().all(count)
          : this.statement(`SELECT ${idExpr} FROM ${table} WHERE (${key}, ${ID_TAIL}) > (?, ?) ORDER BY ${key}, ${ID_TAIL} LIMIT ?`)
              .pluck()
              .all(split.key, split.rest, count)
      ) as string[];
    }
    return (
      after === undefined
        ? this.statement(`SELECT id FROM ${table} ORDER BY id LIMIT ?`).pluck().all(count)
        : this.statement(`SELECT id FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`).pluck().all(after, count)
    ) as string[];
  }

  async commit(projection: string, changes: readonly DocChange[], checkpoint: Position): Promise<void> {
    await this.commitAll([{ projection, changes, checkpoint }]);
  }

  /** As commitAllSync, without sleeping this thread while another connection writes (see writeWithoutBlocking). */
  async commitAll(commits: readonly ProjectionCommit[], options: CommitOptions = {}): Promise<void> {
    await writeWithoutBlocking(this.db, () => this.commitAllSync(commits, options));
  }

  commitAllSync(commits: readonly ProjectionCommit[], options: CommitOptions = {}): void {
    const plan = this.commitPlan(commits);
    try {
      const commit = this.db.transaction(() => {
        if (options.leaseOwner !== undefined) this.checkLeases(commits, options.leaseOwner, Date.now());
        const statements = plan.statements.map((sql) => this.statement(sql));
        for (const [index, ...parameters] of plan.runs) statements[index as number]!.run(...parameters);
      });
      // IMMEDIATE: the write lock is taken first, so a busy database refuses the transaction
      // before it did anything (writeWithoutBlocking retries it), and the lease check, a read
      // before the writes, cannot be refused halfway (see tryAcquireLeases).
      commit.immediate();
    } catch (error) {
      throw documentRefused(error);
    }
  }

  /**
   * A commit as statements and their runs, for this connection or for a
   * {@link TransactionThread}'s (commit-plan.ts), against the layouts as they stand.
   */
  private commitPlan(commits: readonly ProjectionCommit[]): TransactionPlan {
    this.current();
    return commitPlan(commits, (collection) => this.layout(collection));
  }

  /**
   * Commits on a worker thread with its own connection (src/stores/embedded/transaction-thread.ts):
   * the same plans as {@link commitAllSync}, so the same SQL, written while this thread goes on.
   */
  async openBackgroundCommitter(): Promise<BackgroundCommitter | undefined> {
    if (this.db.memory) return undefined;
    // The same settings as this connection where they change what lands on disk.
    const thread = await TransactionThread.start(this.db.name, {
      autocheckpointPages: Number(this.db.pragma('wal_autocheckpoint', { simple: true })),
      secureDelete: Number(this.db.pragma('secure_delete', { simple: true })) === 1,
    });
    // This connection now only reads, and SQLite empties a connection's page cache whenever
    // another connection has committed: a large one would be refilled every batch for nothing.
    const cacheSize = this.db.pragma('cache_size', { simple: true }) as number;
    this.db.pragma(`cache_size = ${-READING_CACHE_KIB}`);
    return {
      commitAll: (commits, options = {}) => {
        let plan: TransactionPlan;
        try {
          plan = this.commitPlan(commits);
        } catch (error) {
          return Promise.reject(error instanceof Error ? error : new Error(String(error)));
        }
        const owner = options.leaseOwner;
        // Fenced as commitAllSync is: the leases are read in the commit's own transaction, on
        // the worker's connection, at the moment it commits (not when the plan was handed over).
        if (owner !== undefined) {
          const checks = [...new Set(commits.map((commit) => commit.projection))].map((projection) => ({
            sql: 'SELECT 1 FROM rm_leases WHERE name = ? AND owner = ? AND expires_at >= ?',
            parameters: [projection, owner],
            now: true,
            message: projection,
          }));
          plan = { ...plan, checks };
        }
        return thread.run(plan).catch((error: unknown) => {
          if ((error as { code?: unknown }).code === CHECK_FAILED) return Promise.reject(new LeaseNotHeldError((error as Error).message));
          return Promise.reject(documentRefused(error));
        });
      },
      close: async () => {
        await thread.stop();
        if (this.db.open) this.db.pragma(`cache_size = ${cacheSize}`);
      },
    };
  }

  async getCheckpoint(projection: string): Promise<Checkpoint | undefined> {
    const row = this.statement('SELECT commit_position, prepare_position, updated_at FROM rm_checkpoints WHERE projection = ?').get(projection) as
      { commit_position: string; prepare_position: string; updated_at: string } | undefined;
    return row && { position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) }, updatedAt: row.updated_at };
  }

  async reset(projection: string, collections: readonly string[]): Promise<void> {
    for (const collection of collections) this.ensureTable(collection);
    this.db.transaction(() => {
      for (const collection of collections) this.db.exec(`DELETE FROM ${this.ensureTable(collection)}`);
      this.statement('DELETE FROM rm_checkpoints WHERE projection = ?').run(projection);
    })();
  }

  /** See {@link CommitOptions.leaseOwner}; run inside the commit's transaction. */
  private checkLeases(commits: readonly ProjectionCommit[], owner: string, now: number): void {
    const held = this.statement('SELECT 1 FROM rm_leases WHERE name = ? AND owner = ? AND expires_at >= ?');
    for (const projection of new Set(commits.map((commit) => commit.projection))) {
      if (held.get(projection, owner, now) === undefined) throw new LeaseNotHeldError(projection);
    }
  }

  async tryAcquireLeases(names: readonly string[], owner: string, ttlMs: number): Promise<boolean[]> {
    // One transaction: one wait for the write lock (behind a rebuild's commit thread) for all.
    // IMMEDIATE because it reads before it writes: a deferred transaction that has read cannot
    // take the write lock once another connection has committed since its read began, and SQLite
    // then answers SQLITE_BUSY at once, without waiting out busy_timeout (seen under write load).
    // Renewed every few seconds, from the HTTP thread too (the erasure reactor's): never asleep in the busy handler.
    return writeWithoutBlocking(this.db, () =>
      this.db
        .transaction(() => {
          const now = Date.now();
          return names.map((name) => this.acquireLease(name, owner, ttlMs, now));
        })
        .immediate(),
    );
  }

  /**
   * A lease is taken when it is ours, has expired, or its holder is a process of this host that
   * died (see lease-owner.ts): a restarted process resumes projecting at once.
   */
  private acquireLease(name: string, owner: string, ttlMs: number, now: number): boolean {
    const holder = this.statement('SELECT owner FROM rm_leases WHERE name = ?').get(name) as { owner: string } | undefined;
    if (holder && holder.owner !== owner && isDeadLocalOwner(holder.owner)) {
      return (
        this.statement('UPDATE rm_leases SET owner = ?, expires_at = ? WHERE name = ? AND owner = ?').run(owner, now + ttlMs, name, holder.owner).changes > 0
      );
    }
    const result = this.statement(
      `INSERT INTO rm_leases (name, owner, expires_at) VALUES (?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE rm_leases.owner = excluded.owner OR rm_leases.expires_at < ?`,
    ).run(name, owner, now + ttlMs, now);
    return result.changes > 0;
  }

  async liveLeases(names: readonly string[]): Promise<boolean[]> {
    const now = Date.now();
    return names.map((name) => {
      const row = this.statement('SELECT owner, expires_at FROM rm_leases WHERE name = ?').get(name) as { owner: string; expires_at: number } | undefined;
      return row !== undefined && row.expires_at >= now && !isDeadLocalOwner(row.owner);
    });
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    const release = this.db.transaction(() => this.statement('DELETE FROM rm_leases WHERE name = ? AND owner = ?').run(name, owner));
    await writeWithoutBlocking(this.db, () => release.immediate());
  }

  async close(): Promise<void> {
    // The database handle is shared with the other embedded adapters; its owner closes it.
  }
}
