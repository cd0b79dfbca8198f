/**
 * MongoDB read-model adapter: one MongoDB collection per read-model collection, `_id` = the
 * document id, the document's fields stored as they are. Checkpoints live in `checkpoints`
 * (positions as decimal strings: bigints do not fit MongoDB numbers) and leases in `leases`.
 *
 * {@link MongoReadModelStore.commit} writes the documents and the checkpoint in one multi-document
 * transaction, so the deployment must be a replica set (a single-node one is enough) or a sharded
 * cluster. There is deliberately no fallback for a standalone server: writing the documents first
 * and the checkpoint last would re-apply a batch after a crash, which is harmless for whole-document
 * puts but double-counts every counter (popularity). The store refuses to start instead
 * ({@link ReplicaSetRequiredError}).
 *
 * Names are validated with the same rules as the embedded adapter, so a projection that runs on
 * one runs on the other: collection names match {@link COLLECTION_NAME}, field paths are dot-joined
 * identifiers ({@link FIELD_PATH}) and never start with `_id`.
 */
import { BSON, MongoClient, MongoServerError } from 'mongodb';
import type { AnyBulkWriteOperation, ClientSession, Collection, Db, Document, Filter, TransactionOptions } from 'mongodb';
import type { Position } from '../event-store.js';
import type {
  Checkpoint,
  Clustering,
  CollectionSpec,
  CommitOptions,
  Doc,
  DocChange,
  IndexSpec,
  JoinedRaw,
  JoinOptions,
  ProjectionCommit,
  Query,
  RawFieldDoc,
  ReadModelStore,
  Scalar,
  StoredDoc,
} from '../read-model.js';
import {
  InvalidDocumentError,
  LeaseNotHeldError,
  clusteringProblem,
  fieldValue,
  idPrefixRange,
  indexSpec,
  keysetOf,
  matches,
  mergeSpecs,
  splitField,
} from '../read-model.js';

/** Same rule as the embedded adapter's table names. */
export const COLLECTION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Same rule as the embedded adapter's JSON paths; also keeps `$operators` out of queries. */
export const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

const CHECKPOINTS = 'checkpoints';
const LEASES = 'leases';
/**
 * Collections of this database that are not read-model collections: this adapter's own, the
 * account store's, and Agenda's default. A read-model collection with one of these names would
 * silently share documents with them.
 */
export const RESERVED_COLLECTIONS: ReadonlySet<string> = new Set([CHECKPOINTS, LEASES, 'accounts', 'tokens', 'agendaJobs']);

/** `$in` lists are sent in chunks of this many ids. */
const GET_MANY_CHUNK = 1000;

const DUPLICATE_KEY = 11000;
/**
 * MongoDB's limit on one document (BSONObjMaxUserSize, 16 MiB); the driver checks it before
 * sending, the server again on write.
 */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
/**
 * Server codes that refuse a write for the document it carries (src/mongo/base/error_codes.yml):
 * the same commit fails the same way however often it is retried.
 */
const INVALID_DOCUMENT_CODES: ReadonlySet<number> = new Set([
  52, // DollarPrefixedFieldName
  55, // InvalidDBRef
  10334, // BSONObjectTooLarge
  17419, // the document after the update is larger than the limit
]);
const NAMESPACE_EXISTS = 48;
const NAMESPACE_NOT_FOUND = 26;
const INDEX_NOT_FOUND = 27;
const ILLEGAL_OPERATION = 20;

const TRANSACTION_OPTIONS: TransactionOptions = {
  readConcern: { level: 'snapshot' },
  writeConcern: { w: 'majority' },
};

/** A read-model document as stored: the doc's own fields plus `_id`. */
interface StoredShape extends Document {
  _id: string;
}

interface CheckpointShape {
  _id: string;
  commit: string;
  prepare: string;
  updatedAt: string;
}

/** What a checkpoint document holds while {@link MongoReadModelStore.reset} runs. */
interface ResetMarkerShape {
  _id: string;
  resetting: true;
  updatedAt: string;
}

/** A reset was interrupted: the projection's collections may be partly dropped. */
export class ResetIncompleteError extends Error {
  override readonly name = 'ResetIncompleteError';
  constructor(readonly projection: string) {
    super(`the reset of projection ${projection} did not finish (its documents may be partly gone): run its rebuild again`);
  }
}

export interface LeaseShape {
  _id: string;
  owner: string;
  expiresAt: Date;
  /** Written by every fenced commit (see {@link MongoReadModelStore.fence}). */
  fencedAt?: Date;
}

export class ReplicaSetRequiredError extends Error {
  override readonly name = 'ReplicaSetRequiredError';
  constructor(detail: string) {
    super(
      'The MongoDB read-model store needs multi-document transactions (documents and checkpoint are written atomically), ' +
        'so MongoDB must run as a replica set (a single-node replica set is enough) or a sharded cluster; ' +
        `docker compose: mongodb://localhost:27017/podsync?directConnection=true (the set's member name resolves on the compose network only). ${detail}`,
    );
  }
}

export interface MongoReadModelStoreOptions {
  /** Close the client in {@link MongoReadModelStore.close} (true when the store opened it). */
  readonly ownsClient?: boolean;
}

/** The database named in the connection string's path, if any (`mongodb://h1,h2/podsync?...`). */
export function databaseFromUrl(url: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/?#]*\/([^?#]+)/.exec(url);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}

function checkCollection(name: string): string {
  if (!COLLECTION_NAME.test(name)) throw new Error(`Invalid read-model collection name: ${JSON.stringify(name)}`);
  if (RESERVED_COLLECTIONS.has(name)) throw new Error(`Reserved collection name in the MongoDB read-model database: ${name}`);
  return name;
}

function checkField(path: string): string {
  if (!FIELD_PATH.test(path) || path === '_id' || path.startsWith('_id.')) throw new Error(`Invalid field path: ${JSON.stringify(path)}`);
  return path;
}

function isServerError(error: unknown, code: number): error is MongoServerError {
  return error instanceof MongoServerError && error.code === code;
}

function isTransactionsUnsupported(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    isServerError(error, ILLEGAL_OPERATION) ||
    /Transaction numbers are only allowed on a replica set member or mongos/i.test(error.message) ||
    /Transactions are not supported|does not support (?:sessions|transactions)/i.test(error.message)
  );
}

/**
 * The lease acquisition as one atomic upsert. MongoDB refuses `$expr` in the query of an upsert
 * (QueryFeatureNotAllowed, 224: "$expr is not allowed in the query predicate for an upsert"), so
 * the filter is the `_id` alone and the decision is made in the pipeline update: owner and expiry
 * change only if the lease is ours, expired, or new (no owner yet: the upsert's insert).
 */
export function leaseUpdate(name: string, owner: string, ttlMs: number): { filter: Filter<LeaseShape>; update: Document[] } {
  const ttl = Math.max(0, Math.floor(ttlMs));
  const takeable = {
    $or: [{ $eq: [{ $type: '$owner' }, 'missing'] }, { $eq: ['$owner', { $literal: owner }] }, { $lt: ['$expiresAt', '$$NOW'] }],
  };
  return {
    filter: { _id: name },
    update: [
      {
        $set: {
          owner: { $cond: [takeable, { $literal: owner }, '$owner'] },
          expiresAt: { $cond: [takeable, { $add: ['$$NOW', ttl] }, '$expiresAt'] },
        },
      },
    ],
  };
}

/**
 * A declared index as MongoDB builds it: the fields in the declared sort direction, then `_id`
 * ascending, the port's tie rule, which every find sorts by last ({@link toSort}); without it
 * no index can deliver a sort in order and MongoDB sorts every matching document in memory
 * (the whole collection for an unfiltered top-N). Named like MongoDB's default name for the
 * keys (`plays_-1_likes_-1__id_1`), a partial index with its filter after `__where__`.
 */
export function mongoIndex(index: IndexSpec): { key: Record<string, 1 | -1>; name: string; partialFilterExpression?: Document } {
  const direction = index.sort === 'desc' ? -1 : 1;
  const key: Record<string, 1 | -1> = {};
  for (const field of index.fields) key[checkField(field)] = direction;
  key['_id'] = 1;
  const name = Object.entries(key)
    .map(([field, value]) => `${field}_${value}`)
    .join('_');
  if (!index.where) return { key, name };
  const where = Object.entries(index.where).map(([field, value]) => [checkField(field), value] as const);
  return {
    key,
    name: `${name}__where__${where.map(([field, value]) => `${field}_${String(value)}`).join('__')}`.replaceAll('.', '_'),
    partialFilterExpression: Object.fromEntries(where),
  };
}

function toStored(raw: StoredShape): StoredDoc {
  const { _id: id, ...doc } = raw;
  return { id, doc: doc as Doc };
}

/** Equality, bounds: one operator object per field, so a field can be both matched and bounded. */
function toFilter(query: Query | undefined): Filter<StoredShape> {
  const conditions = new Map<string, Record<string, Scalar>>();
  const add = (field: string, operator: '$eq' | '$lt' | '$gt', value: Scalar): void => {
    const path = checkField(field);
    conditions.set(path, { ...conditions.get(path), [operator]: value });
  };
  // `{$eq: null}` matches a missing field too (MongoDB's native rule, the port's rule).
  for (const [field, value] of Object.entries(query?.where ?? {})) add(field, '$eq', value);
  if (query?.lessThan) add(query.lessThan.field, '$lt', query.lessThan.value);
  if (query?.greaterThan) add(query.greaterThan.field, '$gt', query.greaterThan.value);
  if (query?.idPrefix !== undefined) {
    // A range of the _id index; strings compare by their UTF-8 bytes (no collation is set).
    const { from, to } = idPrefixRange(query.idPrefix);
    conditions.set('_id', { $gte: from, $lt: to });
  }
  const keyset = keysetOf(query);
  if (keyset === undefined) return Object.fromEntries(conditions) as Filter<StoredShape>;
  // The inclusive bound is the index's range; the `$or` picks out the ties after the id.
  const [inclusive, strict] = keyset.direction === 'desc' ? (['$lte', '$lt'] as const) : (['$gte', '$gt'] as const);
  const path = checkField(keyset.field);
  conditions.set(path, { ...conditions.get(path), [inclusive]: keyset.value });
  return { ...Object.fromEntries(conditions), $or: [{ [path]: { [strict]: keyset.value } }, { _id: { $gt: keyset.id } }] } as Filter<StoredShape>;
}

/** The port's order plus `_id` ascending, the tie rule. */
function toSort(orderBy: Query['orderBy']): [string, 1 | -1][] {
  const sort: [string, 1 | -1][] = [];
  const seen = new Set<string>();
  for (const { field, direction } of orderBy ?? []) {
    if (seen.has(checkField(field))) continue;
    seen.add(field);
    sort.push([field, direction === 'asc' ? 1 : -1]);
  }
  sort.push(['_id', 1]);
  return sort;
}

/** `clustering`: the collection's ({@link CollectionSpec.clusteredBy}), whose rule holds here too though MongoDB keeps documents by id. */
function toReplacement(change: Extract<DocChange, { op: 'put' }>, clustering: Clustering = { keys: [] }): Document {
  if (Object.prototype.hasOwnProperty.call(change.doc, '_id')) {
    throw new InvalidDocumentError(`Read-model documents may not have an _id field (${change.collection}/${change.id})`);
  }
  checkStorable(change);
  const problem = clusteringProblem(change.collection, change.id, change.doc, clustering);
  if (problem !== undefined) throw new InvalidDocumentError(problem);
  return change.doc;
}

/**
 * What MongoDB refuses whatever the options, found before the transaction starts: a field name
 * with a NUL byte (the BSON serializer refuses it even with checkKeys off: a C string ends
 * there), a top-level name starting with `$` (the driver takes the replacement for an update
 * document and refuses it), and a document over {@link MAX_DOCUMENT_BYTES}.
 */
export function checkStorable(change: Extract<DocChange, { op: 'put' }>): void {
  const where = `${change.collection}/${change.id}`;
  if (change.id.includes('\0')) throw new InvalidDocumentError(`Document id contains a NUL byte (${JSON.stringify(where)})`);
  for (const key of Object.keys(change.doc)) {
    if (key.startsWith('$')) throw new InvalidDocumentError(`Field name ${JSON.stringify(key)} starts with '$' (${where})`);
  }
  const badKey = findNulKey(change.doc);
  if (badKey !== undefined) throw new InvalidDocumentError(`Field name ${JSON.stringify(badKey)} contains a NUL byte (${where})`);
  const size = BSON.calculateObjectSize({ _id: change.id, ...change.doc }, { ignoreUndefined: true });
  if (size > MAX_DOCUMENT_BYTES) throw new InvalidDocumentError(`Document ${where} is ${size} bytes of BSON, over MongoDB's ${MAX_DOCUMENT_BYTES}`);
}

function findNulKey(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    if (key.includes('\0')) return key;
    const found = findNulKey(inner);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A write failure caused by a document's content (see {@link INVALID_DOCUMENT_CODES}), as the port's error. */
function asInvalidDocument(error: unknown): InvalidDocumentError | undefined {
  if (error instanceof InvalidDocumentError) return error;
  if (error instanceof BSON.BSONError) return new InvalidDocumentError(`MongoDB cannot encode a document: ${error.message}`, { cause: error });
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number' && INVALID_DOCUMENT_CODES.has(code)) {
    return new InvalidDocumentError(`MongoDB refused a document: ${error.message}`, { cause: error });
  }
  return undefined;
}

export class MongoReadModelStore implements ReadModelStore {
  readonly remoteReads = true;
  /** Collections known to exist (created explicitly, so no transaction has to create one). */
  private readonly created = new Set<string>();
  /** Per collection, how it is clustered, as ensureCollections was told. */
  private readonly clusterings = new Map<string, Clustering>();
  private readonly ownsClient: boolean;
  private transactionCheck: Promise<void> | undefined;

  /**
   * @param db the read-model database.
   * @param client the client `db` belongs to (sessions and transactions are started on it).
   */
  constructor(
    private readonly db: Db,
    private readonly client: MongoClient,
    options: MongoReadModelStoreOptions = {},
  ) {
    this.ownsClient = options.ownsClient ?? false;
  }

  /**
   * Connects and checks that the deployment supports transactions; rejects with
   * {@link ReplicaSetRequiredError} otherwise. The database is `options.dbName`, else the one in
   * the URL's path, else `podsync`.
   */
  static async connect(url: string, options: { dbName?: string } = {}): Promise<MongoReadModelStore> {
    // ignoreUndefined: a field set to undefined is left out, as JSON.stringify does in the embedded adapter.
    const client = await MongoClient.connect(url, { ignoreUndefined: true });
    const store = new MongoReadModelStore(client.db(options.dbName ?? databaseFromUrl(url) ?? 'podsync'), client, { ownsClient: true });
    try {
      await store.requireTransactions();
    } catch (error) {
      await client.close();
      throw error;
    }
    return store;
  }

  /** Rejects with {@link ReplicaSetRequiredError} on a standalone server (checked once). */
  requireTransactions(): Promise<void> {
    this.transactionCheck ??= this.checkTransactions().catch((error: unknown) => {
      // Only a definite answer is remembered; a network error is retried next time.
      if (!(error instanceof ReplicaSetRequiredError)) this.transactionCheck = undefined;
      throw error;
    });
    return this.transactionCheck;
  }

  private async checkTransactions(): Promise<void> {
    const hello = await this.db.admin().command({ hello: 1 });
    const replicaSetMember = typeof hello['setName'] === 'string';
    const mongos = hello['msg'] === 'isdbgrid';
    if (!replicaSetMember && !mongos) {
      throw new ReplicaSetRequiredError('The server answered hello without setName: it is a standalone server.');
    }
  }

  private collection(name: string): Collection<StoredShape> {
    return this.db.collection<StoredShape>(checkCollection(name));
  }

  private get checkpoints(): Collection<CheckpointShape> {
    return this.db.collection<CheckpointShape>(CHECKPOINTS);
  }

  private get leases(): Collection<LeaseShape> {
    return this.db.collection<LeaseShape>(LEASES);
  }

  private async createCollection(name: string): Promise<void> {
    if (this.created.has(name)) return;
    try {
      await this.db.createCollection(name);
    } catch (error) {
      if (!isServerError(error, NAMESPACE_EXISTS)) throw error;
    }
    this.created.add(name);
  }

  async ensureCollections(specs: readonly CollectionSpec[]): Promise<void> {
    await this.requireTransactions();
    await this.createCollection(CHECKPOINTS);
    await this.createCollection(LEASES);
    for (const spec of mergeSpecs(specs)) {
      const name = checkCollection(spec.name);
      await this.createCollection(name);
      this.clusterings.set(name, { keys: spec.clusteredBy ?? [], idPrefixedByKey: spec.idPrefixedByKey });
      const indexes = spec.indexes
        .map(indexSpec)
        .filter((index) => index.fields.length > 0)
        .map(mongoIndex);
      const collection = this.db.collection(name);
      // Indexes an earlier version declared and this one does not: each costs every write.
      const declared = new Set(indexes.map((index) => index.name));
      for (const existing of await collection.listIndexes().toArray()) {
        const existingName = String(existing['name']);
        if (existingName === '_id_' || declared.has(existingName)) continue;
        // Another process starting the same version may have dropped it first.
        await collection.dropIndex(existingName).catch((error: unknown) => {
          if (!isServerError(error, INDEX_NOT_FOUND)) throw error;
        });
      }
      if (indexes.length > 0) await collection.createIndexes(indexes);
    }
  }

  async get(collection: string, id: string): Promise<Doc | undefined> {
    const raw = await this.collection(collection).findOne({ _id: id });
    return raw ? toStored(raw).doc : undefined;
  }

  async getMany(collection: string, ids: readonly string[]): Promise<Map<string, Doc>> {
    const target = this.collection(collection);
    const unique = [...new Set(ids)];
    const result = new Map<string, Doc>();
    for (let start = 0; start < unique.length; start += GET_MANY_CHUNK) {
      const chunk = unique.slice(start, start + GET_MANY_CHUNK);
      for await (const raw of target.find({ _id: { $in: chunk } })) {
        const { id, doc } = toStored(raw);
        result.set(id, doc);
      }
    }
    return result;
  }

  async find(collection: string, query?: Query): Promise<StoredDoc[]> {
    return (await this.findShapes(collection, query)).map(toStored);
  }

  /** The documents a query finds, whole or only the projected fields (and `_id`). */
  private async findShapes(collection: string, query: Query | undefined, projection?: Document): Promise<StoredShape[]> {
    const target = this.collection(collection);
    const filter = toFilter(query);
    const sort = toSort(query?.orderBy);
    let limit: number | undefined;
    if (query?.limit !== undefined) {
      // MongoDB reads limit 0 as "no limit" and a negative one as a single batch: normalise first.
      limit = Math.max(0, Math.floor(query.limit));
      if (limit === 0) return [];
    }
    const cursor = target.find(filter, projection === undefined ? {} : { projection }).sort(sort);
    if (limit !== undefined) cursor.limit(limit);
    return cursor.toArray();
  }

  /** Only the field is read (a projection): an index holding it and the query's fields covers the query. */
  async findNumbers(collection: string, query: Query | undefined, field: string): Promise<(number | null)[]> {
    const path = checkField(field);
    return (await this.findShapes(collection, query, { [path]: 1 })).map(({ _id: _, ...doc }) => {
      const value = fieldValue(doc as Doc, path);
      return typeof value === 'number' ? value : null;
    });
  }

  /**
   * Only the fields the join reads are (a projection), and the field serialized here:
   * documents are stored whole. `only` is matched here too, with the semantics of a query's
   * `where` ({@link matches}).
   */
  async joinRaw(collection: string, query: Query | undefined, field: string, options: JoinOptions = {}): Promise<JoinedRaw> {
    if (checkField(field).includes('.')) throw new Error(`Invalid field: ${field}`);
    const only = options.only === undefined || Object.keys(options.only).length === 0 ? undefined : { where: options.only };
    const numbers = options.numbers === undefined ? undefined : checkField(options.numbers);
    const paths = [field, ...(numbers === undefined ? [] : [numbers]), ...Object.keys(only?.where ?? {}).map(checkField)];
    const texts: string[] = [];
    const found: (number | null)[] = [];
    for (const doc of await this.findShapes(collection, query, projectionOf(paths))) {
      if (numbers !== undefined) {
        const value = fieldValue(doc as Doc, numbers);
        found.push(typeof value === 'number' ? value : null);
      }
      if (only !== undefined && !matches(doc as Doc, only)) continue;
      if (Object.hasOwn(doc, field)) texts.push(JSON.stringify(doc[field]));
    }
    const joined = { bytes: Buffer.from(texts.join(','), 'utf8'), count: texts.length };
    return numbers === undefined ? joined : { ...joined, numbers: found };
  }

  /** Documents are stored whole here: the field is serialized from the document read. */
  async findRaw(collection: string, query: Query | undefined, field: string, fields?: readonly string[]): Promise<RawFieldDoc[]> {
    if (!FIELD_PATH.test(field) || field.includes('.')) throw new Error(`Invalid field: ${field}`);
    return (await this.find(collection, query)).map(({ id, doc }) => splitField(id, doc, field, fields));
  }

  async count(collection: string, where?: Readonly<Record<string, Scalar>>): Promise<number> {
    return this.collection(collection).countDocuments(toFilter(where ? { where } : undefined));
  }

  /** Answered from the `_id` index alone (a covered query). */
  async idsAfter(collection: string, after: string | undefined, limit: number): Promise<string[]> {
    const count = Math.max(0, Math.floor(limit));
    if (count === 0) return [];
    const filter: Filter<StoredShape> = after === undefined ? {} : { _id: { $gt: after } };
    const found = await this.collection(collection)
      .find(filter, { projection: { _id: 1 } })
      .sort({ _id: 1 })
      .limit(count)
      .toArray();
    return found.map((doc) => doc._id);
  }

  async commit(projection: string, changes: readonly DocChange[], checkpoint: Position): Promise<void> {
    await this.commitAll([{ projection, changes, checkpoint }]);
  }

  async commitAll(commits: readonly ProjectionCommit[], options: CommitOptions = {}): Promise<void> {
    // Validate and group before anything is sent. Changes to different collections touch
    // different documents, so only the order within a collection matters (kept: ordered writes,
    // in the order of the commits).
    const groups = new Map<string, AnyBulkWriteOperation<StoredShape>[]>();
    for (const { changes } of commits) {
      for (const change of changes) {
        const name = checkCollection(change.collection);
        let operations = groups.get(name);
        if (!operations) groups.set(name, (operations = []));
        operations.push(
          change.op === 'put'
            ? { replaceOne: { filter: { _id: change.id }, replacement: toReplacement(change, this.clusterings.get(change.collection)), upsert: true } }
            : { deleteOne: { filter: { _id: change.id } } },
        );
      }
    }
    await this.requireTransactions();
    for (const name of groups.keys()) await this.createCollection(name);
    await this.createCollection(CHECKPOINTS);

    const updatedAt = new Date().toISOString();
    await this.inTransaction(async (session) => {
      if (options.leaseOwner !== undefined) await this.fence(commits, options.leaseOwner, session);
      // (A write the server refuses for its content ends the transaction: see asInvalidDocument.)
      // Sequential: operations of one transaction must not run in parallel.
      for (const [name, operations] of groups) {
        await this.db.collection<StoredShape>(name).bulkWrite(operations, { ordered: true, session, ignoreUndefined: true });
      }
      // Every projection's checkpoint in one request: a live batch commits a dozen of them, and
      // one round trip each cost more than the batch's documents.
      const checkpoints = commits.map(({ projection, checkpoint }): AnyBulkWriteOperation<CheckpointShape> => {
        const value: Omit<CheckpointShape, '_id'> = { commit: checkpoint.commit.toString(), prepare: checkpoint.prepare.toString(), updatedAt };
        return { updateOne: { filter: { _id: projection }, update: { $set: value }, upsert: true } };
      });
      if (checkpoints.length > 0) await this.checkpoints.bulkWrite(checkpoints, { ordered: true, session });
    });
  }

  /** Throws {@link ResetIncompleteError} while (or after an interrupted) reset. */
  async getCheckpoint(projection: string): Promise<Checkpoint | undefined> {
    const raw = (await this.checkpoints.findOne({ _id: projection })) as CheckpointShape | ResetMarkerShape | null;
    if (!raw) return undefined;
    if ('resetting' in raw) throw new ResetIncompleteError(projection);
    return { position: { commit: BigInt(raw.commit), prepare: BigInt(raw.prepare) }, updatedAt: raw.updatedAt };
  }

  /**
   * Drops the collections rather than deleting their documents in a transaction, which on real
   * data outlives transactionLifetimeLimitSeconds (60 s by default) and could never finish.
   * Drops are not transactional, so a crash is made visible instead: the checkpoint is first
   * replaced by a marker that {@link getCheckpoint} refuses ({@link ResetIncompleteError}), so a
   * projector never resumes from a checkpoint over partly dropped documents, nor from the start
   * over leftover ones; the marker goes last. The indexes go with the collections: the next
   * {@link ensureCollections} (the projector's prepare) creates them again.
   */
  async reset(projection: string, collections: readonly string[]): Promise<void> {
    const names = collections.map(checkCollection);
    await this.createCollection(CHECKPOINTS);
    const marker: ResetMarkerShape = { _id: projection, resetting: true, updatedAt: new Date().toISOString() };
    await this.db.collection<ResetMarkerShape>(CHECKPOINTS).replaceOne({ _id: projection }, marker, { upsert: true, writeConcern: { w: 'majority' } });
    for (const name of names) {
      this.created.delete(name);
      // Already absent is fine: an earlier, interrupted reset may have dropped it.
      await this.db
        .collection(name)
        .drop()
        .catch((error: unknown) => {
          if (!isServerError(error, NAMESPACE_NOT_FOUND)) throw error;
        });
    }
    await this.checkpoints.deleteOne({ _id: projection }, { writeConcern: { w: 'majority' } });
  }

  /**
   * Uses the server's clock (`$$NOW`) for both the expiry test and the new expiry, so clock skew
   * between service processes cannot hand the lease to two owners. See {@link leaseUpdate}.
   */
  private async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const { filter, update } = leaseUpdate(name, owner, ttlMs);
    for (let attempt = 0; ; attempt++) {
      try {
        const after = await this.leases.findOneAndUpdate(filter, update, { upsert: true, returnDocument: 'after', projection: { owner: 1 } });
        return after?.owner === owner;
      } catch (error) {
        // Two first acquisitions raced to insert the same _id: the loser sees the winner's
        // document on the next attempt (and takes it only if it is its own or expired).
        if (isServerError(error, DUPLICATE_KEY) && attempt === 0) continue;
        throw error;
      }
    }
  }

  /**
   * Inside the commit's transaction, before its writes: each committed projection's lease must be
   * this owner's and unexpired by the server's clock. The check is a write (fencedAt), not a read:
   * a takeover (an update of the same document) committed after this transaction's snapshot then
   * makes it fail with a write conflict, and withTransaction's retry sees the new owner, so the
   * commit never lands after another process has taken the projection over, however long
   * withTransaction keeps retrying (up to 120 s, against a lease of 15 s).
   */
  private async fence(commits: readonly ProjectionCommit[], owner: string, session: ClientSession): Promise<void> {
    const names = [...new Set(commits.map((commit) => commit.projection))];
    const held = { _id: { $in: names }, owner, $expr: { $gt: ['$expiresAt', '$$NOW'] } };
    // One request for every lease of the batch (a live batch holds a dozen); each lease matched
    // is written, so a takeover of any of them conflicts with this transaction as before.
    const result = await this.leases.updateMany(held, { $currentDate: { fencedAt: true } }, { session });
    if (result.matchedCount === names.length) return;
    const found = new Set((await this.leases.find(held, { session, projection: { _id: 1 } }).toArray()).map((lease) => lease._id));
    throw new LeaseNotHeldError(names.find((name) => !found.has(name)) ?? names[0]!);
  }

  /** One update per lease: each is atomic on its own, and a lease never needs another's. */
  async tryAcquireLeases(names: readonly string[], owner: string, ttlMs: number): Promise<boolean[]> {
    const held: boolean[] = [];
    for (const name of names) held.push(await this.acquireLease(name, owner, ttlMs));
    return held;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.leases.deleteOne({ _id: name, owner });
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }

  private async inTransaction(work: (session: ClientSession) => Promise<void>): Promise<void> {
    try {
      // withTransaction retries the whole callback on transient errors; every write in it is
      // idempotent (replace/delete by id, checkpoint upsert), so a retry is harmless.
      await this.client.withSession((session) => session.withTransaction(() => work(session), TRANSACTION_OPTIONS));
    } catch (error) {
      const invalid = asInvalidDocument(error);
      if (invalid) throw invalid;
      if (isTransactionsUnsupported(error)) {
        throw new ReplicaSetRequiredError(`The server refused a transaction: ${(error as Error).message}`);
      }
      throw error;
    }
  }
}

/**
 * A projection of these field paths, none inside another (MongoDB refuses `{a: 1, 'a.b': 1}`:
 * a path collision); `_id` comes anyway.
 */
function projectionOf(paths: readonly string[]): Document {
  const kept = [...new Set(paths)].filter((path, _, all) => !all.some((other) => other !== path && path.startsWith(`${other}.`)));
  return Object.fromEntries(kept.map((path) => [path, 1]));
}
