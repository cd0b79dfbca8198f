/**
 * The contract every ReadModelStore adapter must honour (see the port's doc comments).
 *
 * Written to run against a shared MongoDB too: every test uses collections, projections and
 * leases named under its own random prefix, and never lists what it did not create.
 *
 * Names follow the rules both adapters enforce: collection names are identifiers
 * (`[A-Za-z_][A-Za-z0-9_]{0,62}`), field paths are dot-joined identifiers.
 *
 * The randomized part compares every `find` and `count` with the port's in-memory reference
 * (`matches` + `compareDocs`). Its data keep one JSON type per field (plus null / missing) and
 * ASCII strings: across types, and for strings beyond ASCII, JavaScript's `<` and the stores'
 * orders legitimately differ (MongoDB orders by BSON type, then UTF-8 bytes; SQLite likewise).
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import type { Position } from '../../src/stores/event-store.js';
import {
  InvalidDocumentError,
  LeaseNotHeldError,
  compareDocs,
  matches,
  type CollectionSpec,
  type Doc,
  type DocChange,
  type Query,
  type ReadModelStore,
  type Scalar,
  type StoredDoc,
} from '../../src/stores/read-model.js';

export type ReadModelFactory = () => Promise<{ store: ReadModelStore; cleanup: () => Promise<void> }>;

/** Runs of the randomized comparison with the reference (each: one data set, several queries). */
const PROPERTY_RUNS = 40;

const put = (collection: string, id: string, doc: Doc): DocChange => ({ op: 'put', collection, id, doc });
const del = (collection: string, id: string): DocChange => ({ op: 'delete', collection, id });
const pos = (commit: bigint, prepare: bigint = commit): Position => ({ commit, prepare });

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function rejectsWith(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(Error);
    return error as Error;
  }
  expect.fail('expected the promise to reject');
}

/** What the reference semantics say a query returns. */
function reference(all: readonly StoredDoc[], query: Query): StoredDoc[] {
  const found = all.filter((entry) => matches(entry.doc, query, entry.id)).sort(compareDocs(query.orderBy));
  return query.limit === undefined ? found : found.slice(0, Math.max(0, Math.floor(query.limit)));
}

const ids = (found: readonly StoredDoc[]): string[] => found.map((entry) => entry.id);

export function readModelContract(name: string, factory: ReadModelFactory): void {
  describe(`${name}: ReadModelStore contract`, function () {
    let store: ReadModelStore;
    let cleanup: (() => Promise<void>) | undefined;
    /** Unique per test: every collection, projection and lease name of the test starts with it. */
    let ns: string;

    before(async function () {
      ({ store, cleanup } = await factory());
    });

    after(async function () {
      await cleanup?.();
    });

    beforeEach(function () {
      ns = `t${randomBytes(6).toString('hex')}`;
    });

    /** A collection (or projection, or lease) name of this test. */
    const named = (suffix: string): string => `${ns}_${suffix}`;

    describe('documents', function () {
      it('get answers undefined for an unknown id, and in a collection never written', async function () {
        const docs = named('docs');
        await store.commit(named('p'), [put(docs, 'a', { n: 1 })], pos(1n));
        expect(await store.get(docs, 'missing')).to.equal(undefined);
        expect(await store.get(named('never'), 'a')).to.equal(undefined);
        expect(await store.find(named('never'))).to.deep.equal([]);
        expect(await store.count(named('never'))).to.equal(0);
        expect((await store.getMany(named('never'), ['a'])).size).to.equal(0);
      });

      it('reads back exactly the JSON that was put', async function () {
        const docs = named('docs');
        const doc: Doc = {
          title: 'Épisode 12 — “quoted” 🎧',
          count: 42,
          negative: -7,
          fraction: 0.125,
          big: 9007199254740991,
          large: 1e21,
          yes: true,
          no: false,
          nothing: null,
          empty: '',
          list: [1, 'two', null, { three: 3 }, [4]],
          emptyList: [],
          nested: { deeper: { value: 'x', flags: [true, false] }, emptyObject: {} },
          id: 'a field named id is just a field',
        };
        await store.commit(named('p'), [put(docs, 'doc-1', doc)], pos(1n));
        expect(await store.get(docs, 'doc-1')).to.deep.equal(doc);
        expect(await store.find(docs)).to.deep.equal([{ id: 'doc-1', doc }]);
        expect(await store.getMany(docs, ['doc-1'])).to.deep.equal(new Map([['doc-1', doc]]));
      });

      it('a put replaces the whole document', async function () {
        const docs = named('docs');
        await store.commit(named('p'), [put(docs, 'a', { keep: 1, drop: 2, nested: { x: 1, y: 2 } })], pos(1n));
        await store.commit(named('p'), [put(docs, 'a', { keep: 3, nested: { x: 4 } })], pos(2n));
        expect(await store.get(docs, 'a')).to.deep.equal({ keep: 3, nested: { x: 4 } });
        expect(await store.count(docs)).to.equal(1);
      });

      it('a delete removes the document; deleting a missing one is a no-op', async function () {
        const docs = named('docs');
        await store.commit(named('p'), [put(docs, 'a', { n: 1 }), put(docs, 'b', { n: 2 })], pos(1n));
        await store.commit(named('p'), [del(docs, 'a'), del(docs, 'never-existed')], pos(2n));
        expect(await store.get(docs, 'a')).to.equal(undefined);
        expect(ids(await store.find(docs))).to.deep.equal(['b']);
        expect((await store.getCheckpoint(named('p')))?.position).to.deep.equal(pos(2n));
      });

      it('applies the changes of one batch in order', async function () {
        const docs = named('docs');
        const other = named('other');
        await store.commit(named('p'), [put(docs, 'deleted-later', { n: 0 })], pos(1n));
        await store.commit(
          named('p'),
          [
            put(docs, 'put-then-deleted', { n: 1 }),
            del(docs, 'put-then-deleted'),
            del(docs, 'deleted-then-put'),
            put(docs, 'deleted-then-put', { n: 2 }),
            put(other, 'x', { n: 9 }),
            put(docs, 'put-twice', { n: 3, old: true }),
            put(docs, 'put-twice', { n: 4 }),
            del(docs, 'deleted-later'),
          ],
          pos(2n),
        );
        expect(await store.find(docs)).to.deep.equal([
          { id: 'deleted-then-put', doc: { n: 2 } },
          { id: 'put-twice', doc: { n: 4 } },
        ]);
        expect(await store.get(other, 'x')).to.deep.equal({ n: 9 });
      });

      it('getMany returns the existing ids only, for more ids than one query chunk', async function () {
        const docs = named('docs');
        const existing = Array.from({ length: 1100 }, (_, i) => `d${String(i).padStart(4, '0')}`);
        await store.commit(
          named('p'),
          existing.map((id, i) => put(docs, id, { i })),
          pos(1n),
        );
        const asked = [...existing.filter((_, i) => i % 2 === 0), 'missing-1', 'missing-2', existing[0]!, existing[1098]!];
        const found = await store.getMany(docs, asked);
        expect(found.size).to.equal(550);
        expect(found.get('d0000')).to.deep.equal({ i: 0 });
        expect(found.get('d1098')).to.deep.equal({ i: 1098 });
        expect(found.has('d0001')).to.equal(false);
        expect(found.has('missing-1')).to.equal(false);
        expect((await store.getMany(docs, [])).size).to.equal(0);
        expect(await store.count(docs)).to.equal(1100);
      });
    });

    describe('commit and checkpoints', function () {
      it('has no checkpoint before the first commit', async function () {
        expect(await store.getCheckpoint(named('p'))).to.equal(undefined);
      });

      it('stores the checkpoint with the documents, exactly, beyond 2^53', async function () {
        const before = Date.now();
        const position = { commit: 18446744073709551615n, prepare: 9007199254740993n };
        await store.commit(named('p'), [put(named('docs'), 'a', { n: 1 })], position);
        const checkpoint = await store.getCheckpoint(named('p'));
        expect(checkpoint?.position).to.deep.equal(position);
        expect(typeof checkpoint?.position.commit).to.equal('bigint');
        const updatedAt = Date.parse(checkpoint!.updatedAt);
        expect(updatedAt).to.be.within(before - 5000, Date.now() + 5000);
        expect(await store.get(named('docs'), 'a')).to.deep.equal({ n: 1 });
      });

      it('a commit without changes still moves the checkpoint; checkpoints are per projection', async function () {
        await store.commit(named('p'), [], pos(5n, 4n));
        await store.commit(named('q'), [], pos(7n));
        await store.commit(named('p'), [], pos(6n, 6n));
        expect((await store.getCheckpoint(named('p')))?.position).to.deep.equal(pos(6n, 6n));
        expect((await store.getCheckpoint(named('q')))?.position).to.deep.equal(pos(7n));
      });

      it('a commit that fails midway writes nothing and keeps the previous checkpoint', async function () {
        const first = named('first');
        const second = named('second');
        await store.commit(named('p'), [put(first, 'kept', { v: 1 }), put(first, 'to-delete', { v: 1 })], pos(1n));
        // A document that can be serialized neither to JSON nor to BSON, after changes that the
        // adapter has already applied inside its transaction (to another collection, too).
        const unserializable: Record<string, unknown> = { v: 'cycle' };
        unserializable['self'] = unserializable;
        const error = await rejectsWith(
          store.commit(
            named('p'),
            [
              put(first, 'kept', { v: 2 }),
              del(first, 'to-delete'),
              put(first, 'new', { v: 2 }),
              put(second, 'new', { v: 2 }),
              put(second, 'bad', unserializable as Doc),
            ],
            pos(2n),
          ),
        );
        expect(error.message).to.be.a('string');
        expect(await store.find(first)).to.deep.equal([
          { id: 'kept', doc: { v: 1 } },
          { id: 'to-delete', doc: { v: 1 } },
        ]);
        expect(await store.find(second)).to.deep.equal([]);
        expect((await store.getCheckpoint(named('p')))?.position).to.deep.equal(pos(1n));
        // The store is still usable afterwards.
        await store.commit(named('p'), [put(second, 'after', { v: 3 })], pos(3n));
        expect(ids(await store.find(second))).to.deep.equal(['after']);
      });
    });

    describe('commitAll: several projections in one commit', function () {
      it("lands every projection's documents and checkpoint", async function () {
        const a = named('all_a');
        const b = named('all_b');
        await store.commitAll([
          { projection: named('p'), changes: [put(a, 'x', { v: 1 })], checkpoint: pos(4n) },
          { projection: named('q'), changes: [put(b, 'y', { v: 2 }), del(b, 'never')], checkpoint: pos(4n) },
        ]);
        expect(await store.get(a, 'x')).to.deep.equal({ v: 1 });
        expect(await store.get(b, 'y')).to.deep.equal({ v: 2 });
        expect((await store.getCheckpoint(named('p')))?.position).to.deep.equal(pos(4n));
        expect((await store.getCheckpoint(named('q')))?.position).to.deep.equal(pos(4n));
      });

      it("a failure in one projection's share writes nothing for any of them", async function () {
        const a = named('all_a');
        const b = named('all_b');
        await store.commitAll([
          { projection: named('p'), changes: [put(a, 'x', { v: 1 })], checkpoint: pos(1n) },
          { projection: named('q'), changes: [put(b, 'y', { v: 1 })], checkpoint: pos(1n) },
        ]);
        const unserializable: Record<string, unknown> = {};
        unserializable['self'] = unserializable;
        await rejectsWith(
          store.commitAll([
            { projection: named('p'), changes: [put(a, 'x', { v: 2 }), put(a, 'z', { v: 2 })], checkpoint: pos(2n) },
            { projection: named('q'), changes: [put(b, 'y', { v: 2 }), put(b, 'bad', unserializable as Doc)], checkpoint: pos(2n) },
          ]),
        );
        expect(await store.find(a)).to.deep.equal([{ id: 'x', doc: { v: 1 } }]);
        expect(await store.find(b)).to.deep.equal([{ id: 'y', doc: { v: 1 } }]);
        expect((await store.getCheckpoint(named('p')))?.position).to.deep.equal(pos(1n));
        expect((await store.getCheckpoint(named('q')))?.position).to.deep.equal(pos(1n));
      });
    });

    describe('find and count', function () {
      const data: StoredDoc[] = [
        { id: 'a1', doc: { feed: 'f1', plays: 5, public: true, title: 'Alpha', meta: { lang: 'en', rank: 2 } } },
        { id: 'a2', doc: { feed: 'f1', plays: 3, public: false, title: 'beta', meta: { lang: 'de', rank: 1 } } },
        { id: 'a3', doc: { feed: 'f2', plays: 5, public: true, title: 'Gamma', meta: { lang: 'en' } } },
        { id: 'a4', doc: { feed: 'f2', plays: null, public: true, title: 'delta', meta: null } },
        { id: 'a5', doc: { feed: 'f1', public: false, title: 'Epsilon' } },
        { id: 'b0', doc: { feed: 'f3', plays: 10, public: true, title: 'alpha', meta: { lang: null, rank: 3 } } },
        { id: 'B9', doc: { feed: 'f3', plays: -1.5, public: false, title: 'Zeta', meta: { lang: 'en', rank: 2 } } },
      ];
      let docs: string;

      beforeEach(async function () {
        docs = named('docs');
        await store.ensureCollections([{ name: docs, indexes: [['feed', 'plays'], ['meta.lang'], ['public']] }]);
        // Written in an order unrelated to the ids, so nothing passes by insertion order.
        await store.commit(
          named('p'),
          [...data].reverse().map((entry) => put(docs, entry.id, entry.doc)),
          pos(1n),
        );
      });

      async function expectFind(query: Query, expected: string[]): Promise<void> {
        expect(ids(reference(data, query)), 'the reference itself').to.deep.equal(expected);
        const found = await store.find(docs, query);
        expect(ids(found), JSON.stringify(query)).to.deep.equal(expected);
        expect(found).to.deep.equal(reference(data, query));
      }

      it('without a query returns everything by id ascending', async function () {
        await expectFind({}, ['B9', 'a1', 'a2', 'a3', 'a4', 'a5', 'b0']);
        expect(await store.find(docs)).to.deep.equal(await store.find(docs, {}));
      });

      it('where: equality on strings, numbers and booleans, combined', async function () {
        await expectFind({ where: { feed: 'f1' } }, ['a1', 'a2', 'a5']);
        await expectFind({ where: { plays: 5 } }, ['a1', 'a3']);
        await expectFind({ where: { plays: -1.5 } }, ['B9']);
        await expectFind({ where: { public: true } }, ['a1', 'a3', 'a4', 'b0']);
        await expectFind({ where: { public: false } }, ['B9', 'a2', 'a5']);
        await expectFind({ where: { feed: 'f2', public: true, plays: 5 } }, ['a3']);
        await expectFind({ where: { feed: 'none' } }, []);
        await expectFind({ where: { title: 'alpha' } }, ['b0']);
      });

      it('where: dot paths', async function () {
        await expectFind({ where: { 'meta.lang': 'en' } }, ['B9', 'a1', 'a3']);
        await expectFind({ where: { 'meta.lang': 'en', 'meta.rank': 2 } }, ['B9', 'a1']);
      });

      it('where: null matches null and missing fields (also under a null or missing parent)', async function () {
        await expectFind({ where: { plays: null } }, ['a4', 'a5']);
        await expectFind({ where: { 'meta.lang': null } }, ['a4', 'a5', 'b0']);
        await expectFind({ where: { 'meta.rank': null, feed: 'f2' } }, ['a3', 'a4']);
        await expectFind({ where: { nowhere: null } }, ['B9', 'a1', 'a2', 'a3', 'a4', 'a5', 'b0']);
        // false is not null.
        await expectFind({ where: { public: null } }, []);
      });

      it('lessThan / greaterThan are strict, on numbers and strings, and skip null and missing', async function () {
        await expectFind({ lessThan: { field: 'plays', value: 5 } }, ['B9', 'a2']);
        await expectFind({ greaterThan: { field: 'plays', value: 3 } }, ['a1', 'a3', 'b0']);
        await expectFind({ greaterThan: { field: 'plays', value: 3 }, lessThan: { field: 'plays', value: 10 } }, ['a1', 'a3']);
        await expectFind({ lessThan: { field: 'title', value: 'a' } }, ['B9', 'a1', 'a3', 'a5']);
        await expectFind({ greaterThan: { field: 'title', value: 'alpha' } }, ['a2', 'a4']);
        await expectFind({ greaterThan: { field: 'meta.rank', value: 1 } }, ['B9', 'a1', 'b0']);
        await expectFind({ where: { feed: 'f1' }, lessThan: { field: 'plays', value: 100 } }, ['a1', 'a2']);
        await expectFind({ where: { plays: 5 }, lessThan: { field: 'plays', value: 6 }, greaterThan: { field: 'plays', value: 4 } }, ['a1', 'a3']);
      });

      it('orderBy: asc and desc, several fields, nulls first ascending, ties by id ascending', async function () {
        await expectFind({ orderBy: [{ field: 'plays', direction: 'asc' }] }, ['a4', 'a5', 'B9', 'a2', 'a1', 'a3', 'b0']);
        await expectFind({ orderBy: [{ field: 'plays', direction: 'desc' }] }, ['b0', 'a1', 'a3', 'a2', 'B9', 'a4', 'a5']);
        await expectFind(
          {
            orderBy: [
              { field: 'feed', direction: 'desc' },
              { field: 'plays', direction: 'asc' },
            ],
          },
          ['B9', 'b0', 'a4', 'a3', 'a5', 'a2', 'a1'],
        );
        await expectFind(
          {
            orderBy: [
              { field: 'public', direction: 'asc' },
              { field: 'meta.rank', direction: 'desc' },
            ],
          },
          ['B9', 'a2', 'a5', 'b0', 'a1', 'a3', 'a4'],
        );
        await expectFind({ orderBy: [{ field: 'title', direction: 'asc' }] }, ['a1', 'a5', 'a3', 'B9', 'b0', 'a2', 'a4']);
        await expectFind({ where: { feed: 'f1' }, orderBy: [{ field: 'meta.lang', direction: 'asc' }] }, ['a5', 'a2', 'a1']);
      });

      it('limit, with and without order', async function () {
        await expectFind({ limit: 2 }, ['B9', 'a1']);
        await expectFind({ orderBy: [{ field: 'plays', direction: 'desc' }], limit: 3 }, ['b0', 'a1', 'a3']);
        await expectFind({ where: { public: true }, orderBy: [{ field: 'plays', direction: 'desc' }], limit: 1 }, ['b0']);
        await expectFind({ limit: 100 }, ['B9', 'a1', 'a2', 'a3', 'a4', 'a5', 'b0']);
        await expectFind({ limit: 0 }, []);
      });

      it('after: the documents after one in a one-field order (ties by id), skipping null and missing', async function () {
        const desc = [{ field: 'plays', direction: 'desc' as const }];
        await expectFind({ orderBy: desc, after: { value: 5, id: 'a1' } }, ['a3', 'a2', 'B9']);
        await expectFind({ orderBy: desc, after: { value: 5, id: 'a3' } }, ['a2', 'B9']);
        await expectFind({ orderBy: desc, after: { value: 5, id: 'a0' }, limit: 2 }, ['a1', 'a3']);
        await expectFind({ orderBy: desc, after: { value: 11, id: '' } }, ['b0', 'a1', 'a3', 'a2', 'B9']);
        const asc = [{ field: 'plays', direction: 'asc' as const }];
        await expectFind({ orderBy: asc, after: { value: 5, id: 'a1' } }, ['a3', 'b0']);
        await expectFind({ orderBy: asc, after: { value: 3, id: 'zz' } }, ['a1', 'a3', 'b0']);
        await expectFind({ where: { feed: 'f1' }, orderBy: [{ field: 'title', direction: 'desc' }], after: { value: 'beta', id: 'a2' } }, ['a5', 'a1']);
        await expectFind({ orderBy: [{ field: 'meta.rank', direction: 'desc' }], after: { value: 2, id: 'B9' } }, ['a1', 'a2']);
        // Paging with `after` from each page's last document gives the whole order, once.
        const paged: string[] = [];
        for (let last: StoredDoc | undefined, page: StoredDoc[] = []; paged.length === 0 || page.length === 2;) {
          page = await store.find(docs, { orderBy: desc, limit: 2, ...(last ? { after: { value: last.doc['plays'] as number, id: last.id } } : {}) });
          paged.push(...ids(page));
          last = page.at(-1);
        }
        expect(paged).to.deep.equal(['b0', 'a1', 'a3', 'a2', 'B9']);
        await rejectsWith(store.find(docs, { after: { value: 5, id: 'a1' } }));
        await rejectsWith(store.find(docs, { orderBy: [...desc, { field: 'feed', direction: 'asc' }], after: { value: 5, id: 'a1' } }));
      });

      it('idPrefix: the documents whose id starts with it, and only those, with where, order, after and limit', async function () {
        const users = named('users');
        await store.ensureCollections([{ name: users, indexes: [['seq']] }]);
        const all: StoredDoc[] = [
          // The prefix itself, ids just around its range (`|` + 1 is `}`), a longer user id, a
          // character above ASCII, and feed-shaped keys like the projections'.
          { id: 'u1|', doc: { seq: 4 } },
          { id: 'u1|["f",1]', doc: { seq: 1, kind: 'a' } },
          { id: 'u1|["f2",1]', doc: { seq: 3, kind: 'b' } },
          { id: 'u1|é', doc: { seq: 2, kind: 'a' } },
          { id: 'u1}', doc: { seq: 0 } },
          { id: 'u1{', doc: { seq: 0 } },
          { id: 'u10|["f",1]', doc: { seq: 5, kind: 'a' } },
          { id: 'u1', doc: { seq: 6 } },
        ];
        await store.commit(
          named('p'),
          all.map((entry) => put(users, entry.id, entry.doc)),
          pos(1n),
        );
        const expectPrefix = async (query: Query, expected: string[]) => {
          expect(ids(reference(all, query)), 'the reference itself').to.deep.equal(expected);
          const found = await store.find(users, query);
          expect(ids(found), JSON.stringify(query)).to.deep.equal(expected);
          expect(found).to.deep.equal(reference(all, query));
        };
        await expectPrefix({ idPrefix: 'u1|' }, ['u1|', 'u1|["f",1]', 'u1|["f2",1]', 'u1|é']);
        await expectPrefix({ idPrefix: 'u1|["f",' }, ['u1|["f",1]']);
        await expectPrefix({ idPrefix: 'u1|', where: { kind: 'a' } }, ['u1|["f",1]', 'u1|é']);
        await expectPrefix({ idPrefix: 'u1|', orderBy: [{ field: 'seq', direction: 'desc' }], limit: 3 }, ['u1|', 'u1|["f2",1]', 'u1|é']);
        await expectPrefix({ idPrefix: 'u1|', orderBy: [{ field: 'seq', direction: 'asc' }], after: { value: 2, id: 'u1|é' } }, ['u1|["f2",1]', 'u1|']);
        await expectPrefix({ idPrefix: 'u1', greaterThan: { field: 'seq', value: 4 } }, ['u1', 'u10|["f",1]']);
        await expectPrefix({ idPrefix: 'u2|' }, []);
        // A prefix whose successor is not one ASCII character is refused, not answered wrongly.
        await rejectsWith(store.find(users, { idPrefix: 'u1|é' }));
        await rejectsWith(store.find(users, { idPrefix: '' }));
      });

      it('idsAfter: every id in pages, in id order, after the one given', async function () {
        const all = ids([...data].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
        expect(all).to.deep.equal(['B9', 'a1', 'a2', 'a3', 'a4', 'a5', 'b0']);
        expect(await store.idsAfter(docs, undefined, 100)).to.deep.equal(all);
        expect(await store.idsAfter(docs, undefined, 3)).to.deep.equal(['B9', 'a1', 'a2']);
        expect(await store.idsAfter(docs, 'a2', 3)).to.deep.equal(['a3', 'a4', 'a5']);
        expect(await store.idsAfter(docs, 'a25', 2)).to.deep.equal(['a3', 'a4']);
        expect(await store.idsAfter(docs, 'b0', 3)).to.deep.equal([]);
        expect(await store.idsAfter(docs, undefined, 0)).to.deep.equal([]);
        const paged: string[] = [];
        for (let page = await store.idsAfter(docs, undefined, 2); page.length > 0; page = await store.idsAfter(docs, page.at(-1), 2)) paged.push(...page);
        expect(paged).to.deep.equal(all);
        expect(await store.idsAfter(named('never_written'), undefined, 10)).to.deep.equal([]);
      });

      it('count with and without where', async function () {
        expect(await store.count(docs)).to.equal(7);
        expect(await store.count(docs, {})).to.equal(7);
        expect(await store.count(docs, { feed: 'f1' })).to.equal(3);
        expect(await store.count(docs, { public: true, feed: 'f2' })).to.equal(2);
        expect(await store.count(docs, { plays: null })).to.equal(2);
        expect(await store.count(docs, { 'meta.lang': 'en' })).to.equal(3);
        expect(await store.count(docs, { feed: 'none' })).to.equal(0);
      });

      it('agrees with the reference matches + compareDocs on random data and queries', async function () {
        this.timeout(120_000);
        const collection = named('random');
        const spec: CollectionSpec = { name: collection, indexes: [['s', 'n'], ['nested.k'], ['b', 'n']] };
        await store.ensureCollections([spec]);

        // Small domains, so that equalities and ties are frequent.
        const str = fc.string({ unit: fc.constantFrom('a', 'B', '_'), maxLength: 2 });
        const num = fc.oneof(fc.integer({ min: -2, max: 2 }), fc.constantFrom(0.5, 1e15));
        const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 4 });
        const docArb = fc.record(
          {
            s: nullable(str),
            n: nullable(num),
            b: nullable(fc.boolean()),
            nested: nullable(fc.record({ k: nullable(str), extra: fc.constant(1) }, { requiredKeys: ['extra'], noNullPrototype: true })),
          },
          { requiredKeys: [], noNullPrototype: true },
        );
        const dataArb = fc.uniqueArray(
          fc.record({ id: fc.string({ unit: fc.constantFrom('a', 'b', 'B', '1', '-'), minLength: 1, maxLength: 3 }), doc: docArb }),
          { selector: (entry) => entry.id, maxLength: 30, size: 'max' },
        );
        const boundArb = fc.oneof(fc.record({ field: fc.constantFrom('s', 'nested.k'), value: str }), fc.record({ field: fc.constant('n'), value: num }));
        const whereArb = fc
          .uniqueArray(
            fc.oneof(
              fc.tuple(fc.constant('s'), nullable(str)),
              fc.tuple(fc.constant('n'), nullable(num)),
              fc.tuple(fc.constant('b'), nullable(fc.boolean())),
              fc.tuple(fc.constant('nested.k'), nullable(str)),
            ),
            { selector: ([field]) => field, minLength: 1, maxLength: 2 },
          )
          .map((pairs): Record<string, Scalar> => Object.fromEntries(pairs));
        const orderArb = fc.uniqueArray(
          fc.record({ field: fc.constantFrom('s', 'n', 'b', 'nested.k'), direction: fc.constantFrom('asc' as const, 'desc' as const) }),
          { selector: (order) => order.field, minLength: 1, maxLength: 3 },
        );
        const queryArb = fc
          .record({
            where: fc.option(whereArb, { nil: undefined, freq: 2 }),
            lessThan: fc.option(boundArb, { nil: undefined, freq: 2 }),
            greaterThan: fc.option(boundArb, { nil: undefined, freq: 2 }),
            orderBy: fc.option(orderArb, { nil: undefined, freq: 3 }),
            limit: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined, freq: 2 }),
            after: fc.option(fc.record({ s: str, n: num, id: fc.string({ unit: fc.constantFrom('a', 'b', 'B', '1', '-'), maxLength: 3 }) }), {
              nil: undefined,
              freq: 2,
            }),
            idPrefix: fc.oneof(
              { arbitrary: fc.constant(undefined), weight: 3 },
              { arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', 'B', '1', '-'), minLength: 1, maxLength: 2 }), weight: 1 },
            ),
          })
          .map(({ after, ...parts }) => {
            const query = Object.fromEntries(Object.entries(parts).filter(([, value]) => value !== undefined)) as Query;
            // `after` goes with a one-field order, its value of that field's type (booleans are not ordered portably).
            const [order, ...rest] = query.orderBy ?? [];
            if (after === undefined || order === undefined || rest.length > 0 || order.field === 'b') return query;
            return { ...query, after: { value: order.field === 'n' ? after.n : after.s, id: after.id } };
          });

        let run = 0;
        /** Guards against a vacuous property: queries whose answer was not empty. */
        let nonEmpty = 0;
        await fc.assert(
          fc.asyncProperty(dataArb, fc.array(queryArb, { minLength: 1, maxLength: 8 }), async (entries, queries) => {
            run++;
            const all: StoredDoc[] = entries.map((entry) => ({ id: entry.id, doc: entry.doc as Doc }));
            await store.reset(named('random_p'), [collection]);
            await store.commit(
              named('random_p'),
              all.map((entry) => put(collection, entry.id, entry.doc)),
              pos(BigInt(run)),
            );
            expect(await store.count(collection)).to.equal(all.length);
            for (const query of queries) {
              const found = await store.find(collection, query);
              expect(ids(found), `find ${JSON.stringify(query)}`).to.deep.equal(ids(reference(all, query)));
              expect(found).to.deep.equal(reference(all, query));
              if (found.length > 0) nonEmpty++;
              expect(await store.findNumbers(collection, query, 'n'), `findNumbers ${JSON.stringify(query)}`).to.deep.equal(
                found.map(({ doc }) => (typeof doc['n'] === 'number' ? doc['n'] : null)),
              );
              const nested = found.filter(({ doc }) => Object.hasOwn(doc, 'nested')).map(({ doc }) => doc['nested']);
              const joined = await store.joinRaw(collection, query, 'nested');
              expect(joined.count, `joinRaw ${JSON.stringify(query)}`).to.equal(nested.length);
              expect(JSON.parse(`[${joined.bytes.toString('utf8')}]`)).to.deep.equal(nested);
              if (query.where) {
                expect(await store.count(collection, query.where), `count ${JSON.stringify(query.where)}`).to.equal(
                  all.filter((entry) => matches(entry.doc, { where: query.where! })).length,
                );
              }
            }
          }),
          { numRuns: PROPERTY_RUNS },
        );
        // About one query in three finds something (filters, bounds and id prefixes drawn at
        // random, over small collections): a property that tested nothing would find ~none.
        expect(nonEmpty, 'queries with a non-empty answer').to.be.greaterThan(PROPERTY_RUNS / 2);
      });
    });

    describe('fields kept apart, and findRaw', function () {
      const episode = (n: number, device: string): Doc => ({
        user: 'u1',
        seq: n,
        action: { podcast: `https://feeds.example.com/${n % 2}.xml`, device, position: n, note: n === 2 ? null : `“${n}” 🎧` },
      });

      it('a collection that keeps a field apart reads back whole documents, and queries inside the field', async function () {
        const docs = named('actions');
        await store.ensureCollections([{ name: docs, indexes: [['user', 'seq'], ['action.device']], apart: ['action'] }]);
        await store.commit(
          named('p'),
          [put(docs, 'a', episode(1, 'phone')), put(docs, 'b', episode(2, 'laptop')), put(docs, 'c', { user: 'u1', seq: 3 })],
          pos(1n),
        );
        expect(await store.get(docs, 'a')).to.deep.equal(episode(1, 'phone'));
        expect(await store.get(docs, 'c'), 'a document without the field').to.deep.equal({ user: 'u1', seq: 3 });
        expect([...(await store.getMany(docs, ['b', 'c']))]).to.deep.equal([
          ['b', episode(2, 'laptop')],
          ['c', { user: 'u1', seq: 3 }],
        ]);
        expect(ids(await store.find(docs, { where: { 'action.device': 'laptop' } }))).to.deep.equal(['b']);
        expect(
          ids(
            await store.find(docs, {
              where: { 'action.podcast': 'https://feeds.example.com/1.xml' },
              orderBy: [{ field: 'action.position', direction: 'desc' }],
            }),
          ),
        ).to.deep.equal(['a']);
        expect(await store.count(docs, { 'action.device': 'phone' })).to.equal(1);
        // Replaced: the field changes with the document, and goes when the new one has none.
        await store.commit(named('p'), [put(docs, 'a', episode(5, 'tablet')), put(docs, 'b', { user: 'u1', seq: 2 })], pos(2n));
        expect(await store.get(docs, 'a')).to.deep.equal(episode(5, 'tablet'));
        expect(await store.get(docs, 'b')).to.deep.equal({ user: 'u1', seq: 2 });
        expect(ids(await store.find(docs, { where: { 'action.device': 'laptop' } }))).to.deep.equal([]);
      });

      /** The three ways a store may keep the documents: the action kept apart or inside, or apart in a collection clustered by user and seq. */
      const layouts = [
        { label: 'kept apart', spec: { apart: ['action'] } },
        { label: 'kept inside', spec: {} },
        { label: 'kept apart, clustered by user and seq', spec: { apart: ['action'], clusteredBy: ['user', 'seq'] } },
      ] as const;

      for (const { label, spec } of layouts) {
        it(`findRaw answers the field as its JSON text, left out of the document, in find's order (${label})`, async function () {
          const docs = named('actions');
          await store.ensureCollections([{ name: docs, indexes: [['user', 'seq']], ...spec }]);
          await store.commit(
            named('p'),
            [
              put(docs, 'b', episode(2, 'laptop')),
              put(docs, 'a', episode(1, 'phone')),
              put(docs, 'c', { user: 'u1', seq: 3 }),
              put(docs, 'x', { user: 'u2', seq: 4, action: [1] }),
            ],
            pos(1n),
          );
          const query: Query = { where: { user: 'u1' }, orderBy: [{ field: 'seq', direction: 'asc' }], limit: 3 };
          const found = await store.findRaw(docs, query, 'action');
          expect(found.map(({ id }) => id)).to.deep.equal(ids(await store.find(docs, query)));
          expect(found.map(({ doc }) => doc)).to.deep.equal([
            { user: 'u1', seq: 1 },
            { user: 'u1', seq: 2 },
            { user: 'u1', seq: 3 },
          ]);
          expect(found.map(({ raw }) => (raw === undefined ? undefined : JSON.parse(raw)))).to.deep.equal([
            episode(1, 'phone')['action'],
            episode(2, 'laptop')['action'],
            undefined,
          ]);
          // Another field: the document without it, whole otherwise.
          const bySeq = await store.findRaw(docs, { where: { user: 'u1', seq: 1 } }, 'seq');
          expect(bySeq).to.deep.equal([{ id: 'a', doc: { user: 'u1', action: episode(1, 'phone')['action'] }, raw: '1' }]);
        });
      }

      for (const { label, spec } of layouts) {
        it(`joinRaw joins the field's stored texts in find's order, findNumbers reads a number per document (${label})`, async function () {
          const docs = named('actions');
          await store.ensureCollections([{ name: docs, indexes: [['user', 'seq']], ...spec }]);
          // Enough documents for SQLite to page through its index, written in random order,
          // positions with ties (ids order them), some without the field, some marked.
          const written = Array.from({ length: 300 }, (_, n) => {
            const doc: Doc = { user: n % 7 === 0 ? 'u2' : 'u1', seq: Math.floor(n / 3) };
            if (n % 11 !== 0) doc['action'] = { position: n, device: `“d${n % 4}” 🎧`, note: n % 5 === 0 ? null : 'x' };
            if (n % 13 === 0) doc['serving'] = 'never';
            return { id: randomBytes(6).toString('hex'), doc };
          });
          await store.commit(
            named('p'),
            written.map(({ id, doc }) => put(docs, id, doc)),
            pos(1n),
          );
          const queries: Query[] = [
            { where: { user: 'u1' }, orderBy: [{ field: 'seq', direction: 'asc' }] },
            {
              where: { user: 'u1', serving: null },
              orderBy: [{ field: 'seq', direction: 'asc' }],
              greaterThan: { field: 'seq', value: 10 },
              lessThan: { field: 'seq', value: 70 },
            },
            { where: { user: 'u1' }, orderBy: [{ field: 'seq', direction: 'desc' }], limit: 57 },
            { where: { user: 'u1', seq: 33 } },
            { where: { user: 'u1' }, limit: 0 },
            { where: { user: 'nobody' }, orderBy: [{ field: 'seq', direction: 'asc' }] },
          ];
          for (const query of queries) {
            const found = await store.findRaw(docs, query, 'action');
            const texts = found.flatMap(({ raw }) => (raw === undefined ? [] : [raw]));
            const joined = await store.joinRaw(docs, query, 'action');
            expect(joined.count, JSON.stringify(query)).to.equal(texts.length);
            expect(JSON.parse(`[${joined.bytes.toString('utf8')}]`), JSON.stringify(query)).to.deep.equal(texts.map((text) => JSON.parse(text)));
            expect(await store.findNumbers(docs, query, 'seq')).to.deep.equal(found.map(({ doc }) => doc['seq']));
            // In the same read: the positions of every document found, the texts of those `only` matches.
            for (const only of [{ serving: null }, { serving: 'never' }, { user: 'u2', serving: null }] as Record<string, Scalar>[]) {
              const served = found.filter(({ doc }) => Object.entries(only).every(([field, value]) => (doc[field] ?? null) === value));
              const texts = served.flatMap(({ raw }) => (raw === undefined ? [] : [raw]));
              const both = await store.joinRaw(docs, query, 'action', { numbers: 'seq', only });
              const label = `${JSON.stringify(query)} only ${JSON.stringify(only)}`;
              expect(both.numbers, label).to.deep.equal(found.map(({ doc }) => doc['seq']));
              expect(both.count, label).to.equal(texts.length);
              expect(JSON.parse(`[${both.bytes.toString('utf8')}]`), label).to.deep.equal(texts.map((text) => JSON.parse(text)));
            }
          }
          expect(
            (await store.joinRaw(docs, queries[0], 'action', { only: { serving: null } })).count,
            'some documents found are joined, some not',
          ).to.be.within(100, (await store.joinRaw(docs, queries[0], 'action')).count - 1);
          expect((await store.find(docs, queries[0])).length, 'a query with an answer').to.be.greaterThan(200);
          expect(await store.joinRaw(docs, queries.at(-1), 'action')).to.deep.equal({ bytes: Buffer.alloc(0), count: 0 });
          expect(await store.joinRaw(docs, queries.at(-1), 'action', { numbers: 'seq', only: { serving: null } })).to.deep.equal({
            bytes: Buffer.alloc(0),
            count: 0,
            numbers: [],
          });
          expect(await store.findNumbers(docs, { where: { user: 'u1', seq: 33 } }, 'serving'), 'null for a field that holds no number').to.deep.equal([
            null,
            null,
            null,
          ]);
        });
      }

      const variants: (readonly [apart: string[], clusteredBy: string[]])[] = [
        [['action'], []],
        [['action', 'user', 'at'], []],
        [[], []],
        [
          ['action', 'user', 'at'],
          ['user', 'seq'],
        ],
      ];
      for (const [apart, clusteredBy] of variants) {
        it(`findRaw with fields: the document holds only those it has (${apart.length > 0 ? `${apart.join(', ')} kept apart` : 'all kept inside'}${clusteredBy.length > 0 ? `, clustered by ${clusteredBy.join(' and ')}` : ''})`, async function () {
          const docs = named('actions');
          await store.ensureCollections([
            { name: docs, indexes: [['user', 'seq']], ...(apart.length > 0 ? { apart } : {}), ...(clusteredBy.length > 0 ? { clusteredBy } : {}) },
          ]);
          const withAt = (n: number, device: string, at?: number): Doc => ({ ...episode(n, device), ...(at === undefined ? {} : { at }), guid: `g${n}` });
          await store.commit(
            named('p'),
            [put(docs, 'b', withAt(2, 'laptop')), put(docs, 'a', withAt(1, 'phone', 100)), put(docs, 'x', withAt(3, 'tv', 7))],
            pos(1n),
          );
          const query: Query = { where: { user: 'u1' }, orderBy: [{ field: 'seq', direction: 'asc' }] };
          const found = await store.findRaw(docs, query, 'action', ['seq', 'at', 'missing']);
          expect(found.map(({ id }) => id)).to.deep.equal(['a', 'b', 'x']);
          expect(found.map(({ doc }) => doc)).to.deep.equal([{ seq: 1, at: 100 }, { seq: 2 }, { seq: 3, at: 7 }]);
          expect(found.map(({ raw }) => JSON.parse(raw!))).to.deep.equal(
            [episode(1, 'phone'), episode(2, 'laptop'), episode(3, 'tv')].map((doc) => doc['action']),
          );
          // The raw field named among the fields is still left out of the document.
          expect((await store.findRaw(docs, { where: { user: 'u1', seq: 1 } }, 'action', ['action', 'user'])).map(({ doc }) => doc)).to.deep.equal([
            { user: 'u1' },
          ]);
          expect((await store.findRaw(docs, { where: { user: 'u1', seq: 1 } }, 'action', [])).map(({ doc }) => doc)).to.deep.equal([{}]);
        });
      }
    });

    describe('collections clustered by fields', function () {
      /**
       * A clustered collection and one by id get the same commits (120 documents, 40 of them
       * moved to other keys, 15 deleted, one put back): every read answers the same from both.
       * `idsInOrder`: the clustered one's ids as idsAfter walks them, from the plain one's.
       */
      async function answersAsById(options: {
        /** Names the pair of collections (one pair a call). */
        pair: string;
        spec: Partial<CollectionSpec>;
        docOf: (n: number, round: number) => Doc;
        idOf: (n: number) => string;
        queries: Query[];
        idsInOrder: (ids: string[]) => string[];
      }): Promise<void> {
        const { pair, spec, docOf, idOf, queries, idsInOrder } = options;
        const clustered = named(`clustered_${pair}`);
        const plain = named(`plain_${pair}`);
        await store.ensureCollections([
          { name: clustered, indexes: [['user', 'seq'], ['feed']], apart: ['action', 'user'], ...spec },
          { name: plain, indexes: [['user', 'seq'], ['feed']] },
        ]);
        const both = async (changes: DocChange[], at: bigint) => {
          await store.commit(named('p'), changes, pos(at));
          await store.commit(
            named('q'),
            changes.map((change) => ({ ...change, collection: plain })),
            pos(at),
          );
        };
        await both(
          Array.from({ length: 120 }, (_, n) => put(clustered, idOf(n), docOf(n, 1))),
          1n,
        );
        // Moved to other keys (same id), deleted, and put back.
        await both(
          [
            ...Array.from({ length: 40 }, (_, k) => put(clustered, idOf(k * 3), docOf(k * 3, 2))),
            ...Array.from({ length: 15 }, (_, k) => del(clustered, idOf(k * 7 + 1))),
            put(clustered, idOf(8), docOf(8, 3)),
          ],
          2n,
        );
        for (const query of queries) {
          const label = JSON.stringify(query);
          const expected = await store.find(plain, query);
          expect(await store.find(clustered, query), label).to.deep.equal(expected);
          expect(expected.length, `${label} is answered by a reference too`).to.equal(reference(await store.find(plain), query).length);
          expect(await store.findRaw(clustered, query, 'action'), label).to.deep.equal(await store.findRaw(plain, query, 'action'));
          expect(await store.findRaw(clustered, query, 'seq'), label).to.deep.equal(await store.findRaw(plain, query, 'seq'));
          expect(await store.findRaw(clustered, query, 'action', ['seq', 'serving']), label).to.deep.equal(
            await store.findRaw(plain, query, 'action', ['seq', 'serving']),
          );
          expect(await store.findNumbers(clustered, query, 'seq'), label).to.deep.equal(await store.findNumbers(plain, query, 'seq'));
          for (const field of ['action', 'user', 'seq']) {
            expect(await store.joinRaw(clustered, query, field, { numbers: 'seq', only: { serving: null } }), `${label} ${field}`).to.deep.equal(
              await store.joinRaw(plain, query, field, { numbers: 'seq', only: { serving: null } }),
            );
          }
        }
        const wheres: (Record<string, Scalar> | undefined)[] = [undefined, { user: 'u1' }, { user: 'u2', seq: 7 }, { feed: 'f2' }];
        for (const where of wheres) {
          expect(await store.count(clustered, where)).to.equal(await store.count(plain, where));
        }
        const wanted = [...Array.from({ length: 130 }, (_, n) => idOf(n)), 'no-such-id', 'u1|no-such-id'];
        expect([...(await store.getMany(clustered, wanted))].sort()).to.deep.equal([...(await store.getMany(plain, wanted))].sort());
        expect(await store.get(clustered, idOf(8))).to.deep.equal(docOf(8, 3));
        expect(await store.get(clustered, idOf(1)), 'deleted').to.equal(undefined);
        expect(await store.get(clustered, 'no-such-id')).to.equal(undefined);
        const all = idsInOrder(await store.idsAfter(plain, undefined, 1000));
        expect(await store.idsAfter(clustered, undefined, 1000)).to.deep.equal(all);
        expect(await store.idsAfter(clustered, all[50], 10)).to.deep.equal(all.slice(51, 61));
        expect(await store.count(clustered)).to.equal(120 - 15 + 1);
        // Deleting ids no document has changes nothing.
        await store.commit(named('p'), [del(clustered, 'no-such-id'), del(clustered, 'u1|no-such-id')], pos(3n));
        expect(await store.count(clustered)).to.equal(120 - 15 + 1);
      }

      it('answer every read as a collection by id holding the same documents, through puts that move them and deletes', async function () {
        // Users as strings (one beyond ASCII), seqs as integers (ties, beyond 2^32) and fractions;
        // ids in another order than the keys.
        const users = ['u1', 'u2', 'ü3'];
        const idOf = (n: number) => `${(n * 37) % 101}-${n}`;
        await answersAsById({
          pair: 'a',
          spec: { clusteredBy: ['user', 'seq'] },
          docOf: (n, round) => ({
            user: users[(n * 7 + round) % 3]!,
            seq: n % 10 === 0 ? n / 4 : n % 13 === 0 ? 2 ** 33 + n : Math.floor(n / 2),
            feed: `f${n % 4}`,
            ...(n % 5 === 0 ? { serving: 'never' } : {}),
            ...(n % 6 === 0 ? {} : { action: { position: n * round, device: `d${n % 3}`, note: n % 7 === 0 ? null : '🎧' } }),
          }),
          idOf,
          queries: [
            {},
            { where: { user: 'u1' }, orderBy: [{ field: 'seq', direction: 'asc' }] },
            { where: { user: 'ü3' }, orderBy: [{ field: 'seq', direction: 'desc' }], limit: 17 },
            {
              where: { user: 'u2', serving: null },
              orderBy: [{ field: 'seq', direction: 'asc' }],
              greaterThan: { field: 'seq', value: 5 },
              lessThan: { field: 'seq', value: 60 },
            },
            { where: { user: 'u1', seq: 7 } },
            { where: { feed: 'f1' }, orderBy: [{ field: 'seq', direction: 'desc' }] },
            {
              orderBy: [
                { field: 'user', direction: 'asc' },
                { field: 'seq', direction: 'asc' },
              ],
              limit: 50,
            },
            { where: { user: 'u2' }, orderBy: [{ field: 'seq', direction: 'asc' }], after: { value: 20, id: idOf(41) } },
            { idPrefix: '4', orderBy: [{ field: 'seq', direction: 'asc' }] },
            { where: { 'action.device': 'd1' } },
          ],
          idsInOrder: (ids) => ids,
        });
      });

      it('whose ids begin with their first key: answer every read as a collection by id, ties by id whatever the keys’ lengths', async function () {
        // `u1` is a prefix of `u12`: `u12|…` comes before `u1|…` as ids, after it split.
        const users = ['u1', 'u12', 'ü3', 'u2'];
        const userOf = (n: number) => users[n % 4]!;
        const idOf = (n: number) => `${userOf(n)}|${(n * 37) % 101}-${n}`;
        const byKeyThenRest = (a: string, b: string) => {
          const [ka, ra] = [a.slice(0, a.indexOf('|')), a.slice(a.indexOf('|') + 1)];
          const [kb, rb] = [b.slice(0, b.indexOf('|')), b.slice(b.indexOf('|') + 1)];
          return ka < kb ? -1 : ka > kb ? 1 : ra < rb ? -1 : ra > rb ? 1 : 0;
        };
        for (const clusteredBy of [['user', 'seq'], ['user']]) {
          await answersAsById({
            pair: clusteredBy.join('_'),
            spec: { clusteredBy, idPrefixedByKey: true },
            // A document keeps its user (its id says it); a round moves it to another seq.
            docOf: (n, round) => ({
              user: userOf(n),
              seq: n % 10 === 0 ? n / 4 : Math.floor((n * round) / 3),
              feed: `f${n % 3}`,
              ...(n % 5 === 0 ? { serving: 'never' } : {}),
              ...(n % 6 === 0 ? {} : { action: { position: n * round, device: `d${n % 3}` } }),
            }),
            idOf,
            queries: [
              {},
              { where: { user: 'u1' }, orderBy: [{ field: 'seq', direction: 'asc' }] },
              { where: { user: 'u12' }, orderBy: [{ field: 'seq', direction: 'desc' }], limit: 9 },
              { where: { feed: 'f1' }, orderBy: [{ field: 'seq', direction: 'desc' }] },
              { orderBy: [{ field: 'feed', direction: 'asc' }] },
              { where: { user: 'u2' }, orderBy: [{ field: 'seq', direction: 'asc' }], after: { value: 20, id: idOf(43) } },
              { orderBy: [{ field: 'seq', direction: 'asc' }], after: { value: 20, id: idOf(42) }, limit: 30 },
              { idPrefix: 'u1|', orderBy: [{ field: 'seq', direction: 'asc' }] },
              { idPrefix: 'u1|4' },
              { idPrefix: 'u1' },
              { idPrefix: 'u', limit: 40 },
              { where: { user: 'u12' }, idPrefix: 'u1|' },
              { where: { 'action.device': 'd1' }, orderBy: [{ field: 'user', direction: 'desc' }] },
            ],
            idsInOrder: (ids) => [...ids].sort(byKeyThenRest),
          });
        }
      });

      it('whose ids begin with their first key: refuse a document whose id does not, and write nothing of its commit', async function () {
        const docs = named('owned');
        await store.ensureCollections([{ name: docs, indexes: [['user', 'seq']], clusteredBy: ['user', 'seq'], idPrefixedByKey: true }]);
        await store.commit(named('p'), [put(docs, 'u1|ok', { user: 'u1', seq: 1 })], pos(1n));
        const refused: [string, Doc][] = [
          ['u2|x', { user: 'u1', seq: 2 }],
          ['u1x', { user: 'u1', seq: 2 }],
          ['u|1|x', { user: 'u|1', seq: 2 }],
          ['7|x', { user: 7, seq: 2 }],
        ];
        for (const [id, doc] of refused) {
          const error = await rejectsWith(store.commit(named('p'), [put(docs, 'u1|z', { user: 'u1', seq: 5 }), put(docs, id, doc)], pos(2n)));
          expect(error, id).to.be.instanceOf(InvalidDocumentError);
          expect(error.message).to.contain('ids begin with their user');
          expect(await store.count(docs), id).to.equal(1);
        }
      });

      it('refuse a document without a string or a number in a key, and write nothing of its commit', async function () {
        const docs = named('clustered');
        await store.ensureCollections([{ name: docs, indexes: [['user', 'seq']], clusteredBy: ['user', 'seq'] }]);
        await store.commit(named('p'), [put(docs, 'ok', { user: 'u1', seq: 1 })], pos(1n));
        const refused: Doc[] = [{ user: 'u1' }, { user: 'u1', seq: true }, { user: { id: 1 }, seq: 1 }, { user: 'u1', seq: null }, { user: ['u1'], seq: 2 }];
        for (const doc of refused) {
          const error = await rejectsWith(store.commit(named('p'), [put(docs, 'z', { user: 'u1', seq: 5 }), put(docs, 'bad', doc)], pos(2n)));
          expect(error, JSON.stringify(doc)).to.be.instanceOf(InvalidDocumentError);
          expect(error.message).to.match(/clustered by (user|seq)/);
          expect(await store.count(docs), JSON.stringify(doc)).to.equal(1);
          expect((await store.getCheckpoint(named('p')))?.position.commit).to.equal(1n);
        }
      });
    });

    describe('ensureCollections', function () {
      it('is idempotent, accepts compound and dot-path indexes, and keeps the documents', async function () {
        const specs: CollectionSpec[] = [
          { name: named('indexed'), indexes: [['feed', 'plays'], ['meta.lang'], ['public', 'meta.rank', 'feed']] },
          { name: named('plain'), indexes: [] },
        ];
        await store.ensureCollections(specs);
        await store.ensureCollections(specs);
        await store.commit(
          named('p'),
          [put(named('indexed'), 'a', { feed: 'f', plays: 1, meta: { lang: 'en' } }), put(named('plain'), 'b', { x: 1 })],
          pos(1n),
        );
        await store.ensureCollections(specs);
        await store.ensureCollections([]);
        expect(await store.get(named('indexed'), 'a')).to.deep.equal({ feed: 'f', plays: 1, meta: { lang: 'en' } });
        expect(
          ids(await store.find(named('indexed'), { where: { feed: 'f', 'meta.lang': 'en' }, orderBy: [{ field: 'plays', direction: 'desc' }] })),
        ).to.deep.equal(['a']);
        expect(await store.count(named('plain'))).to.equal(1);
      });
    });

    describe('partial indexes', function () {
      it('answers queries with and without the filter values alike, and changes the index set when the spec changes', async function () {
        const people = named('people');
        const spec: CollectionSpec = {
          name: people,
          indexes: [['user'], { fields: ['episode', 'play_seq'], where: { level: 'public', played: true } }],
        };
        await store.ensureCollections([spec]);
        await store.ensureCollections([spec]);
        const docs: Record<string, Doc> = {
          a: { user: 'u1', episode: 'e1', level: 'public', played: true, play_seq: 3 },
          b: { user: 'u2', episode: 'e1', level: 'private', played: true, play_seq: 5 },
          c: { user: 'u3', episode: 'e1', level: 'public', played: false, play_seq: 7 },
          d: { user: 'u4', episode: 'e1', level: 'public', played: true, play_seq: 9 },
          e: { user: 'u5', episode: 'e2', level: 'public', played: true, play_seq: 1 },
        };
        await store.commit(
          named('p'),
          Object.entries(docs).map(([id, doc]) => put(people, id, doc)),
          pos(1n),
        );
        const recent = (where: Readonly<Record<string, Scalar>>) =>
          store.find(people, { where, orderBy: [{ field: 'play_seq', direction: 'desc' }], limit: 10 });
        // The shape the partial index serves, and shapes it does not (other values, fewer fields).
        expect(ids(await recent({ episode: 'e1', level: 'public', played: true }))).to.deep.equal(['d', 'a']);
        expect(ids(await recent({ episode: 'e1', level: 'private', played: true }))).to.deep.equal(['b']);
        expect(ids(await recent({ episode: 'e1', level: 'public', played: false }))).to.deep.equal(['c']);
        expect(ids(await recent({ episode: 'e1' }))).to.deep.equal(['d', 'c', 'b', 'a']);
        expect(await store.count(people, { level: 'public', played: true })).to.equal(3);
        // A document leaving the filtered set leaves the answer.
        await store.commit(named('p'), [put(people, 'd', { ...docs['d']!, level: 'anonymous' })], pos(2n));
        expect(ids(await recent({ episode: 'e1', level: 'public', played: true }))).to.deep.equal(['a']);
        // The same collection with fewer indexes: the documents stay and queries still answer.
        await store.ensureCollections([{ name: people, indexes: [['user']] }]);
        expect(ids(await recent({ episode: 'e1', level: 'public', played: true }))).to.deep.equal(['a']);
        expect(await store.count(people)).to.equal(5);
      });

      it('refuses a filter value that cannot name an index', async function () {
        const error = await store
          .ensureCollections([{ name: named('bad'), indexes: [{ fields: ['a'], where: { level: "x' OR 1=1 --" } }] }])
          .catch((caught: unknown) => caught);
        expect(error).to.be.instanceOf(Error);
        expect((error as Error).message).to.contain('Invalid partial index value');
      });
    });

    describe('reset', function () {
      it('drops the documents of the named collections and the projection’s checkpoint only', async function () {
        const [a, b, c] = [named('a'), named('b'), named('c')];
        await store.ensureCollections([
          { name: a, indexes: [['n']] },
          { name: b, indexes: [] },
          { name: c, indexes: [] },
        ]);
        await store.commit(named('p'), [put(a, 'a1', { n: 1 }), put(a, 'a2', { n: 2 }), put(b, 'b1', { n: 1 })], pos(3n));
        await store.commit(named('q'), [put(c, 'c1', { n: 1 })], pos(4n));

        await store.reset(named('p'), [a]);
        expect(await store.find(a)).to.deep.equal([]);
        expect(await store.count(a)).to.equal(0);
        expect(await store.get(a, 'a1')).to.equal(undefined);
        expect(await store.getCheckpoint(named('p'))).to.equal(undefined);
        expect(ids(await store.find(b))).to.deep.equal(['b1']);
        expect(ids(await store.find(c))).to.deep.equal(['c1']);
        expect((await store.getCheckpoint(named('q')))?.position).to.deep.equal(pos(4n));

        // A rebuild then starts from scratch.
        await store.commit(named('p'), [put(a, 'a3', { n: 3 })], pos(1n));
        expect(ids(await store.find(a, { where: { n: 3 } }))).to.deep.equal(['a3']);
        expect((await store.getCheckpoint(named('p')))?.position).to.deep.equal(pos(1n));
        await store.reset(named('never-committed'), []);
      });
    });

    describe('leases', function () {
      it('acquire, renew by the owner, refuse others until expiry, take over, release', async function () {
        this.timeout(10_000);
        const lease = named('lease');
        expect((await store.tryAcquireLeases([lease], 'owner-a', 400))[0]).to.equal(true);
        expect((await store.tryAcquireLeases([lease], 'owner-a', 400))[0]).to.equal(true);
        expect((await store.tryAcquireLeases([lease], 'owner-b', 400))[0]).to.equal(false);
        // Another lease name is independent.
        expect((await store.tryAcquireLeases([named('other_lease')], 'owner-b', 60_000))[0]).to.equal(true);

        await delay(600);
        expect((await store.tryAcquireLeases([lease], 'owner-b', 60_000))[0]).to.equal(true);
        expect((await store.tryAcquireLeases([lease], 'owner-a', 60_000))[0]).to.equal(false);

        // Only the owner can release.
        await store.releaseLease(lease, 'owner-a');
        expect((await store.tryAcquireLeases([lease], 'owner-a', 60_000))[0]).to.equal(false);
        await store.releaseLease(lease, 'owner-b');
        expect((await store.tryAcquireLeases([lease], 'owner-a', 60_000))[0]).to.equal(true);
        await store.releaseLease(lease, 'owner-a');
        await store.releaseLease(named('other_lease'), 'owner-b');
        await store.releaseLease(named('never_held'), 'owner-a');
      });

      it('a renewal extends the lease', async function () {
        this.timeout(10_000);
        const lease = named('lease');
        expect((await store.tryAcquireLeases([lease], 'owner-a', 500))[0]).to.equal(true);
        await delay(300);
        expect((await store.tryAcquireLeases([lease], 'owner-a', 500))[0]).to.equal(true);
        await delay(300);
        // 600 ms after the first grant, but only 300 ms after the renewal.
        expect((await store.tryAcquireLeases([lease], 'owner-b', 500))[0]).to.equal(false);
        await store.releaseLease(lease, 'owner-a');
      });

      it('several leases at once: one answer per name, each as a lease alone would give it', async function () {
        const [first, taken, third] = [named('lease_1'), named('lease_2'), named('lease_3')];
        expect((await store.tryAcquireLeases([taken], 'owner-b', 60_000))[0]).to.equal(true);
        expect(await store.tryAcquireLeases([first, taken, third], 'owner-a', 60_000)).to.deep.equal([true, false, true]);
        // Held now: owner-a renews them, owner-b cannot take them.
        expect(await store.tryAcquireLeases([first, third], 'owner-a', 60_000)).to.deep.equal([true, true]);
        expect(await store.tryAcquireLeases([third, first], 'owner-b', 60_000)).to.deep.equal([false, false]);
        expect(await store.tryAcquireLeases([], 'owner-a', 60_000)).to.deep.equal([]);
        for (const lease of [first, third]) await store.releaseLease(lease, 'owner-a');
        await store.releaseLease(taken, 'owner-b');
      });

      it("a fenced commit lands only while its owner holds every committed projection's lease", async function () {
        this.timeout(10_000);
        const [projection, docs] = [named('p'), named('docs')];
        const fenced = async (doc: string, checkpoint: bigint): Promise<unknown> => {
          try {
            await store.commitAll([{ projection, changes: [put(docs, doc, { n: 1 })], checkpoint: pos(checkpoint) }], { leaseOwner: 'owner-a' });
            return undefined;
          } catch (error) {
            return error;
          }
        };
        // Never acquired: refused.
        expect(await fenced('a', 1n)).to.be.instanceOf(LeaseNotHeldError);
        expect((await store.tryAcquireLeases([projection], 'owner-a', 400))[0]).to.equal(true);
        expect(await fenced('b', 2n)).to.equal(undefined);
        expect(await store.get(docs, 'b')).to.deep.equal({ n: 1 });
        // Expired and taken over: a late commit of the old owner writes nothing.
        await delay(600);
        expect((await store.tryAcquireLeases([projection], 'owner-b', 60_000))[0]).to.equal(true);
        expect(await fenced('c', 3n)).to.be.instanceOf(LeaseNotHeldError);
        expect(await store.get(docs, 'c')).to.equal(undefined);
        expect((await store.getCheckpoint(projection))?.position).to.deep.equal(pos(2n));
        await store.releaseLease(projection, 'owner-b');
      });

      it('of two concurrent takers of a free lease, exactly one wins', async function () {
        const lease = named('lease');
        const results = await Promise.all(
          ['owner-a', 'owner-b', 'owner-c'].map((owner) => store.tryAcquireLeases([lease], owner, 60_000).then(([held]) => held)),
        );
        expect(results.filter(Boolean)).to.have.length(1);
      });
    });
  });
}
