/**
 * A commit of documents and checkpoints as the statements and runs that write it
 * ({@link TransactionPlan}): what the embedded read-model store executes on its own connection or
 * hands to its commit thread (transaction-thread.ts). Each document is written as its table's
 * layout has it (table-layout.ts).
 */
import type { Clustering, ProjectionCommit } from '../read-model.js';
import type { TransactionPlan } from './transaction-thread.js';
import { columnValue, ID_TAIL, keyTexts, withoutFields, type TableLayout } from './table-layout.js';

/**
 * The statements and runs of `commits`, each collection's table as `layoutOf` gives it (a call
 * may create the table: outside any transaction, so that a rollback cannot drop a table the
 * caller already knows).
 */
export function commitPlan(commits: readonly ProjectionCommit[], layoutOf: (collection: string) => TableLayout): TransactionPlan {
  const statements: string[] = [];
  const indexOf = new Map<string, number>();
  const statementIndex = (sql: string) => {
    let index = indexOf.get(sql);
    if (index === undefined) indexOf.set(sql, (index = statements.push(sql) - 1));
    return index;
  };
  // Per collection, its upsert's and delete's statement index: built once per plan, not per
  // document (a rebuild's plan holds ~9,000 documents over a dozen collections).
  const byCollection = new Map<
    string,
    {
      put: number;
      delete: number;
      apart: readonly string[];
      clustering: Clustering;
      leftOut: readonly string[];
      idParams: TableLayout['idParams'];
    }
  >();
  const statementsOf = (collection: string) => {
    let found = byCollection.get(collection);
    if (!found) {
      const { table, apart, putBack, keys, keyColumns, owned, idWhere, idParams } = layoutOf(collection);
      // The keys' values are bound as JSON texts and stored as json_extract reads them (an
      // integer stays an integer: better-sqlite3 binds every number as a REAL).
      const columns = [...keyColumns.map(([, column]) => column), 'doc', ...putBack.map(([, column]) => column)];
      const values = [...keyColumns.map((_, at) => (at === 0 && owned ? '?' : "json_extract(?, '$')")), '?', ...putBack.map(() => '?')];
      // A table whose ids are split after their key is written by key and rest, the rest bound
      // after the keys (the first key, in the conflict target, is not set again).
      const put = owned
        ? `INSERT INTO ${table} (${[...keyColumns.map(([, column]) => column), ID_TAIL, ...columns.slice(keys.length)].join(', ')})
           VALUES (${[...values.slice(0, keys.length), '?', ...values.slice(keys.length)].join(', ')})
           ON CONFLICT(${keyColumns[0]![1]}, ${ID_TAIL}) DO UPDATE SET ${columns
             .slice(1)
             .map((column) => `${column} = excluded.${column}`)
             .join(', ')}`
        : `INSERT INTO ${table} (id, ${columns.join(', ')}) VALUES (?, ${values.join(', ')})
           ON CONFLICT(id) DO UPDATE SET ${columns.map((column) => `${column} = excluded.${column}`).join(', ')}`;
      found = {
        put: statementIndex(put),
        delete: statementIndex(`DELETE FROM ${table} WHERE ${idWhere}`),
        apart,
        clustering: { keys, idPrefixedByKey: owned },
        leftOut: [...keys, ...apart],
        idParams,
      };
      byCollection.set(collection, found);
    }
    return found;
  };
  const runs: (string | number | null)[][] = [];
  const updatedAt = new Date().toISOString();
  for (const { projection, changes, checkpoint } of commits) {
    for (const change of changes) {
      const statement = statementsOf(change.collection);
      if (change.op === 'delete') {
        // An id no row can have (no separator, where ids are split after their key): nothing to delete.
        const params = statement.idParams(change.id);
        if (params !== undefined) runs.push([statement.delete, ...params]);
      } else if (statement.leftOut.length === 0) runs.push([statement.put, change.id, JSON.stringify(change.doc)]);
      else {
        const keys = keyTexts(change.collection, change.id, change.doc, statement.clustering);
        const doc = JSON.stringify(withoutFields(change.doc, statement.leftOut));
        const apart = statement.apart.map((field) => columnValue(change.doc[field]));
        // The id begins with the first key and the separator (checked by keyTexts).
        if (statement.clustering.idPrefixedByKey) runs.push([statement.put, ...keys, change.id.slice(keys[0]!.length + 1), doc, ...apart]);
        else runs.push([statement.put, change.id, ...keys, doc, ...apart]);
      }
    }
    runs.push([
      statementIndex(
        `INSERT INTO rm_checkpoints (projection, commit_position, prepare_position, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(projection) DO UPDATE SET commit_position = excluded.commit_position, prepare_position = excluded.prepare_position, updated_at = excluded.updated_at`,
      ),
      projection,
      checkpoint.commit.toString(),
      checkpoint.prepare.toString(),
      updatedAt,
    ]);
  }
  return { statements, runs };
}
