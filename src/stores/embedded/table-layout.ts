/**
 * How the embedded read-model store lays a collection out in its table (docs/architecture.md,
 * "Collections clustered by their reads"): the columns of the fields kept apart (`doc_<field>`)
 * and of those the table is clustered by (`key_<field>`), the rest of each id where ids are
 * prefixed by the first key (`id_tail`), the SQL expression of a field, a row's document put
 * back together, and the move of a table to another layout. Read from the table itself, so that
 * every connection to the file agrees.
 */
import type Database from 'better-sqlite3';
import type { Clustering, Doc } from '../read-model.js';
import { clusteringProblem, InvalidDocumentError, splitKeyedId, ID_KEY_SEPARATOR } from '../read-model.js';

const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const SAFE_FIELD = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export function tableOf(collection: string): string {
  if (!SAFE_NAME.test(collection)) throw new Error(`Invalid collection name: ${collection}`);
  return `rm_${collection}`;
}

/** A top-level field: what a collection may keep apart, and what findRaw takes. */
export const TOP_LEVEL_FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** The column of a field kept apart. */
export function apartColumn(field: string): string {
  if (!TOP_LEVEL_FIELD.test(field)) throw new Error(`Invalid field: ${field}`);
  return `doc_${field}`;
}

/** The column of a field the table is clustered by. */
export function keyColumn(field: string): string {
  if (!TOP_LEVEL_FIELD.test(field)) throw new Error(`Invalid field: ${field}`);
  return `key_${field}`;
}

/** The unique index that keeps a clustered table's ids unique (and serves reads by id). */
export const idIndexOf = (table: string) => `${table}__by_id`;

/** Whether a table clustered by `keys` needs {@link idIndexOf}: one by its first key and the rest of the id alone has its ids unique already. */
export const needsIdIndex = (keys: readonly string[], owned: boolean): boolean => keys.length > 0 && !(owned && keys.length === 1);

/**
 * The column holding the rest of each id in a table whose ids are prefixed by its first key
 * ({@link CollectionSpec.idPrefixedByKey}): the id is that key's column, `|`, then this.
 */
export const ID_TAIL = 'id_tail';

/**
 * `json_extract(doc, '$.a.b')`, or `json_extract(doc_a, '$.b')` when `a` is kept apart, or the
 * column `key_a` when the table is clustered by `a`: the same text in indexes and queries so
 * SQLite uses the index.
 */
export function fieldExpr(field: string, apart: readonly string[], keys: readonly string[]): string {
  if (!SAFE_FIELD.test(field)) throw new Error(`Invalid field path: ${field}`);
  const dot = field.indexOf('.');
  const head = dot < 0 ? field : field.slice(0, dot);
  if (keys.includes(head)) {
    // A clustering field holds a string or a number: nothing inside to query.
    if (dot >= 0) throw new Error(`Invalid field path: ${field} (${head} holds a string or a number)`);
    return keyColumn(head);
  }
  if (apart.includes(head)) return `json_extract(${apartColumn(head)}, '$${dot < 0 ? '' : field.slice(dot)}')`;
  return `json_extract(doc, '$.${field}')`;
}

export interface DocRow {
  id: string;
  doc: string;
  /**
   * The columns of the fields kept apart (`doc_<field>`): JSON text, null when the field is
   * absent; and of the fields the table is clustered by (`key_<field>`): their values.
   */
  [column: string]: string | number | null;
}

/** `doc` without `fields`: what the `doc` column holds of a document whose fields are kept apart. */
export function withoutFields(doc: Doc, fields: readonly string[]): Doc {
  const rest: Doc = {};
  for (const key of Object.keys(doc)) if (!fields.includes(key)) rest[key] = doc[key]!;
  return rest;
}

/** A field kept apart and its column. */
export type PutBack = readonly [field: string, column: string];

/**
 * A row's document: the `doc` column with the fields kept apart put back from their columns (a
 * row written before a field was kept apart has it inside, its column null), and the fields the
 * table is clustered by from theirs.
 */
export function docOf(row: DocRow, putBack: readonly PutBack[], keys: readonly PutBack[]): Doc {
  const doc = JSON.parse(row.doc) as Doc;
  for (const [field, column] of putBack) {
    const text = row[column];
    if (typeof text === 'string') doc[field] = JSON.parse(text) as Doc[string];
  }
  for (const [field, column] of keys) {
    const value = row[column];
    if (value !== null && value !== undefined) doc[field] = value;
  }
  return doc;
}

/**
 * The JSON texts of a document's keys, which the statement stores as json_extract reads them; a
 * document whose keys are not strings or numbers is refused (the columns are its primary key's).
 * A first key that prefixes the ids is a string (checked): bound as it is.
 */
export function keyTexts(collection: string, id: string, doc: Doc, clustering: Clustering): string[] {
  const problem = clusteringProblem(collection, id, doc, clustering);
  if (problem !== undefined) throw new InvalidDocumentError(problem);
  return clustering.keys.map((field, at) => (at === 0 && clustering.idPrefixedByKey ? (doc[field] as string) : JSON.stringify(doc[field])));
}

/** SQL reading a clustering field's value from an unclustered row (its column `doc_<field>` when kept apart): null unless a string or a number. */
function scalarOf(field: string, apart: readonly string[]): string {
  const inside = `CASE WHEN json_type(doc, '$.${field}') IN ('text', 'integer', 'real') THEN json_extract(doc, '$.${field}') END`;
  if (!apart.includes(field)) return inside;
  const column = apartColumn(field);
  return `coalesce(CASE WHEN json_type(${column}) IN ('text', 'integer', 'real') THEN json_extract(${column}, '$') END, ${inside})`;
}

/** Null for an absent field, as the column holds it. */
export const columnValue = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

/**
 * A collection's table as this store reads and writes it: the fields it keeps apart (read from
 * the table itself, so every connection agrees), their columns, and what a read selects. Made
 * once per collection, not per row.
 */
export interface TableLayout {
  readonly table: string;
  /** The fields kept apart, but those the table is clustered by (their columns are the keys'). */
  readonly apart: readonly string[];
  /** Each field kept apart with its column: what a read puts back into the document. */
  readonly putBack: readonly PutBack[];
  /** The fields the table is clustered by, in order (empty for a table by id). */
  readonly keys: readonly string[];
  /** Each of them with its column. */
  readonly keyColumns: readonly PutBack[];
  /** Whether the ids are prefixed by the first key, the table keeping the rest ({@link ID_TAIL}). */
  readonly owned: boolean;
  /** The id, as SQL: its column, or the first key's and the rest's joined. */
  readonly idExpr: string;
  /** The id as a read selects it (named `id`). */
  readonly idSelect: string;
  /** `id, doc`, the columns of the fields clustered by and of those kept apart. */
  readonly select: string;
  /** The condition that finds a row by its id, with {@link idParams}' parameters. */
  readonly idWhere: string;
  /** The parameters of {@link idWhere} for an id; undefined when no row can have it. */
  readonly idParams: (id: string) => readonly string[] | undefined;
}

/** The layout of `table` as it stands (its columns). */
export function readTableLayout(db: Database.Database, table: string): TableLayout {
  const columns = db.prepare(`SELECT name, pk FROM pragma_table_info('${table}')`).all() as { name: string; pk: number }[];
  const keys = columns
    .filter(({ name }) => name.startsWith('key_'))
    .sort((a, b) => a.pk - b.pk)
    .map(({ name }) => name.slice('key_'.length));
  const apart = columns.map(({ name }) => name).filter((name) => name.startsWith('doc_') && !keys.includes(name.slice('doc_'.length)));
  const putBack = apart.map((column): PutBack => [column.slice('doc_'.length), column]);
  const keyColumns = keys.map((field): PutBack => [field, keyColumn(field)]);
  const owner = columns.some(({ name }) => name === ID_TAIL) ? keyColumns[0]?.[1] : undefined;
  const idExpr = owner === undefined ? 'id' : `(${owner} || '${ID_KEY_SEPARATOR}' || ${ID_TAIL})`;
  const idSelect = owner === undefined ? 'id' : `${idExpr} AS id`;
  return {
    table,
    apart: putBack.map(([field]) => field),
    putBack,
    keys,
    keyColumns,
    owned: owner !== undefined,
    idExpr,
    idSelect,
    select: [idSelect, 'doc', ...keyColumns.map(([, column]) => column), ...putBack.map(([, column]) => column)].join(', '),
    idWhere: owner === undefined ? 'id = ?' : `${owner} = ? AND ${ID_TAIL} = ?`,
    idParams:
      owner === undefined
        ? (id) => [id]
        : (id) => {
            const split = splitKeyedId(id);
            return split && [split.key, split.rest];
          },
  };
}

/**
 * Makes the collection's table clustered by `keys` (by id alone when empty), its ids split after
 * the first key when `owned` ({@link CollectionSpec.idPrefixedByKey}), its documents copied over
 * unchanged: a new table in the new order, the rows moved in one statement, the old table
 * dropped (with its indexes: ensureCollections makes the declared ones again). In one
 * IMMEDIATE transaction, the layout read again inside it (another connection may have done it
 * meanwhile): a caller forgets the layout it knew, whatever the outcome. Refused, with nothing changed, when a document holds no string or number in one
 * of the keys, or, `owned`, has an id that does not begin with its first key's string and `|`.
 */
export function relayoutTable(db: Database.Database, collection: string, table: string, keys: readonly string[], owned: boolean): void {
  const staging = `${table}__relayout`;
  try {
    db.transaction(() => {
      const from = readTableLayout(db, table);
      if (from.keys.join() === keys.join() && from.owned === owned) return;
      const apart = from.apart.filter((field) => !keys.includes(field));
      const keyColumns = keys.map(keyColumn);
      const idColumn = owned ? ID_TAIL : 'id';
      const columns = [
        ...keyColumns.map((column) => `${column} NOT NULL`),
        `${idColumn} TEXT NOT NULL`,
        'doc TEXT NOT NULL',
        ...apart.map((field) => `${apartColumn(field)} TEXT`),
      ];
      const primaryKey = keys.length > 0 ? `PRIMARY KEY (${[...keyColumns, idColumn].join(', ')})` : 'PRIMARY KEY (id)';
      // The keys leave the document for their columns; the keys the table no longer has go back into it.
      let doc = keys.length > 0 ? `json_remove(doc, ${keys.map((field) => `'$.${field}'`).join(', ')})` : 'doc';
      for (const [field, column] of from.keyColumns) if (!keys.includes(field)) doc = `json_set(${doc}, '$.${field}', ${column})`;
      const keyValues = keys.map((field) => (from.keys.includes(field) ? keyColumn(field) : scalarOf(field, from.apart)));
      // The rest of the id after the first key's string and `|`; NULL (refused) for an id that does not begin so.
      const owner = keyValues[0]!;
      const idValue = owned
        ? `CASE WHEN typeof(${owner}) = 'text' AND instr(${owner}, '${ID_KEY_SEPARATOR}') = 0
               AND substr(${from.idExpr}, 1, length(${owner}) + 1) = ${owner} || '${ID_KEY_SEPARATOR}'
             THEN substr(${from.idExpr}, length(${owner}) + 2) END`
        : from.idExpr;
      db.exec(`DROP TABLE IF EXISTS ${staging}`);
      db.exec(`CREATE TABLE ${staging} (${[...columns, primaryKey].join(', ')}) WITHOUT ROWID`);
      db.exec(
        `INSERT INTO ${staging} (${[...keyColumns, idColumn, 'doc', ...apart.map(apartColumn)].join(', ')})
           SELECT ${[...keyValues, idValue, doc, ...apart.map(apartColumn)].join(', ')} FROM ${table}`,
      );
      db.exec(`DROP TABLE ${table}`);
      db.exec(`ALTER TABLE ${staging} RENAME TO ${table}`);
      if (needsIdIndex(keys, owned)) {
        db.exec(`CREATE UNIQUE INDEX ${idIndexOf(table)} ON ${table} (${owned ? `${keyColumns[0]}, ${ID_TAIL}` : 'id'})`);
      }
    }).immediate();
  } catch (error) {
    if (/NOT NULL constraint failed/.test(error instanceof Error ? error.message : '')) {
      throw new Error(
        `${collection} cannot be clustered by ${keys.join(', ')}${owned ? ', its ids prefixed by the first' : ''}: a document holds no string or number in one of them${owned ? ', or an id that does not begin with its ' + keys[0] + ' and ' + ID_KEY_SEPARATOR : ''}`,
        { cause: error },
      );
    }
    throw error;
  }
}
