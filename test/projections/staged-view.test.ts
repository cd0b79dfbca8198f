import { expect } from 'chai';
import fc from 'fast-check';
import type { Doc, DocChange, Query, StoredDoc } from '../../src/stores/read-model.js';
import { compareDocs, matches } from '../../src/stores/read-model.js';
import type { ProjectionView } from '../../projections/projection.js';
import { emptyView, StagedView } from '../../projections/staged-view.js';

/** What a find over the base with the changes applied must return, computed the plain way. */
function expected(base: ReadonlyMap<string, Doc>, changes: readonly DocChange[], query: Query): StoredDoc[] {
  const docs = new Map(base);
  for (const change of changes) {
    if (change.op === 'put') docs.set(change.id, change.doc);
    else docs.delete(change.id);
  }
  const found = [...docs].map(([id, doc]) => ({ id, doc })).filter(({ id, doc }) => matches(doc, query, id));
  found.sort(compareDocs(query.orderBy));
  return query.limit === undefined ? found : found.slice(0, query.limit);
}

/** A base view that counts the rows it hands out (what a store would read). */
function countingBase(docs: ReadonlyMap<string, Doc>): { view: ProjectionView; rows: () => number } {
  const inner = new StagedView(emptyView);
  inner.apply([...docs].map(([id, doc]) => ({ op: 'put', collection: 'c', id, doc })));
  let rows = 0;
  return {
    view: {
      get: (collection, id) => inner.get(collection, id),
      history: () => [],
      find: (collection, query) => {
        const found = inner.find(collection, query);
        rows += found.length;
        return found;
      },
    },
    rows: () => rows,
  };
}

/** Mostly matching documents, so that pending changes often replace more of a page than its padding. */
const docArb = fc.record({
  group: fc.oneof({ weight: 4, arbitrary: fc.constant('a') }, { weight: 1, arbitrary: fc.constant('b') }),
  listed: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  seq: fc.integer({ min: 0, max: 50 }),
});
/** Ids of base documents and more: changes replace, delete and add. */
const idArb = fc.integer({ min: 0, max: 40 }).map((n) => `doc-${n}`);
/** Many deletes and un-listings: a page of the base often loses more rows than it was padded with. */
const changeArb: fc.Arbitrary<DocChange> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('put' as const), collection: fc.constant('c'), id: idArb, doc: docArb }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('put' as const), collection: fc.constant('c'), id: idArb, doc: docArb.map((doc) => ({ ...doc, listed: false })) }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), collection: fc.constant('c'), id: idArb }) },
);

describe('StagedView', () => {
  it('a limited, ordered find over pending changes returns what the changed base holds', () => {
    fc.assert(
      fc.property(
        fc.array(docArb, { minLength: 10, maxLength: 40, size: 'max' }),
        fc.array(changeArb, { minLength: 10, maxLength: 120, size: 'max' }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom('a', 'b'),
        (baseDocs, changes, limit, group) => {
          const base = new Map(baseDocs.map((doc, n) => [`doc-${n}`, doc]));
          const staged = new StagedView(countingBase(base).view);
          staged.apply(changes);
          const query: Query = { where: { group, listed: true }, orderBy: [{ field: 'seq', direction: 'desc' }], limit };
          expect(staged.find('c', query)).to.deep.equal(expected(base, changes, query));
          const unlimited: Query = { where: { group } };
          expect(staged.find('c', unlimited)).to.deep.equal(expected(base, changes, unlimited));
          // `doc-1` and `doc-10`…`doc-19`: the ids a user's prefix picks out.
          const prefixed: Query = { idPrefix: 'doc-1', orderBy: [{ field: 'seq', direction: 'asc' }], limit };
          expect(staged.find('c', prefixed)).to.deep.equal(expected(base, changes, prefixed));
          const prefixedWhere: Query = { idPrefix: 'doc-1', where: { group } };
          expect(staged.find('c', prefixedWhere)).to.deep.equal(expected(base, changes, prefixedWhere));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("finds one user's documents by id prefix among many pending ones (ids `user|key`)", () => {
    const userIdArb = fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 60 })).map(([user, key]) => `u${user}|e${key}`);
    const userChangeArb: fc.Arbitrary<DocChange> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ op: fc.constant('put' as const), collection: fc.constant('c'), id: userIdArb, doc: docArb }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), collection: fc.constant('c'), id: userIdArb }) },
    );
    let large = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(userIdArb, docArb), { maxLength: 40 }),
        // Enough changes that the view indexes its pending documents (more than 64 of them).
        fc.array(userChangeArb, { minLength: 100, maxLength: 300 }),
        fc.array(userChangeArb, { maxLength: 20 }),
        fc.constantFrom('u1|', 'u1|e1', 'u0|e', 'u4|e60', 'u1', 'u9|'),
        (baseDocs, changes, later, idPrefix) => {
          const base = new Map(baseDocs);
          const staged = new StagedView(countingBase(base).view);
          staged.apply(changes);
          if (staged.pendingCount() > 64) large++;
          const query: Query = { idPrefix };
          expect(staged.find('c', query)).to.deep.equal(expected(base, changes, query));
          // Changes after the first find reach the index it built.
          staged.apply(later);
          const limited: Query = { idPrefix, where: { group: 'a' }, orderBy: [{ field: 'seq', direction: 'desc' }], limit: 5 };
          expect(staged.find('c', query)).to.deep.equal(expected(base, [...changes, ...later], query));
          expect(staged.find('c', limited)).to.deep.equal(expected(base, [...changes, ...later], limited));
        },
      ),
      { numRuns: 300 },
    );
    expect(large, 'runs with an indexed view').to.be.greaterThan(100);
  });

  it('asks the base again when more of its best rows drop out than it was padded with', () => {
    const base = new Map<string, Doc>();
    for (let n = 0; n < 40; n++) base.set(`base-${n}`, { group: 'a', listed: true, seq: n });
    const staged = new StagedView(countingBase(base).view);
    staged.apply(Array.from({ length: 20 }, (_, n): DocChange => ({ op: 'delete', collection: 'c', id: `base-${39 - n}` })));
    const found = staged.find('c', { where: { group: 'a', listed: true }, orderBy: [{ field: 'seq', direction: 'desc' }], limit: 3 });
    expect(found.map(({ id }) => id)).to.deep.equal(['base-19', 'base-18', 'base-17']);
  });

  it('asks the base for a few rows more than the limit, not for one more per pending document', () => {
    const base = new Map<string, Doc>();
    for (let n = 0; n < 500; n++) base.set(`base-${n}`, { group: 'a', listed: true, seq: n });
    const { view, rows } = countingBase(base);
    const staged = new StagedView(view);
    // A batch's worth of pending documents elsewhere, and two that replace the base's best rows.
    staged.apply(
      Array.from({ length: 1000 }, (_, n): DocChange => ({ op: 'put', collection: 'c', id: `other-${n}`, doc: { group: 'b', listed: true, seq: n } })),
    );
    staged.apply([
      { op: 'delete', collection: 'c', id: 'base-499' },
      { op: 'put', collection: 'c', id: 'base-498', doc: { group: 'a', listed: false, seq: 498 } },
    ]);
    const found = staged.find('c', { where: { group: 'a', listed: true }, orderBy: [{ field: 'seq', direction: 'desc' }], limit: 10 });
    expect(found.map(({ id }) => id)).to.deep.equal(Array.from({ length: 10 }, (_, n) => `base-${497 - n}`));
    expect(rows()).to.be.at.most(20);
  });
});
