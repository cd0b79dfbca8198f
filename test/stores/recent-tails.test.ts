import { expect } from 'chai';
import { RecentTails } from '../../src/stores/embedded/recent-tails.js';
import type { EventRow } from '../../src/stores/embedded/rows.js';

function rows(stream: string, from: number, count: number): EventRow[] {
  return Array.from({ length: count }, (_, index) => {
    const revision = BigInt(from + index);
    return { position: 1000n + revision, stream, revision, id: `${stream}-${revision}`, type: 't', data: '{}', metadata: '{}', recorded_at: 0n };
  });
}

const revisions = (kept: readonly EventRow[] | undefined) => kept?.map((row) => Number(row.revision));

describe('RecentTails (the rows an embedded store keeps of its last appends)', function () {
  it('answers a range only when the tail kept ends at the stream’s last revision and reaches back to its start', function () {
    const tails = new RecentTails(100);
    tails.appended('s', rows('s', 0, 3));
    tails.appended('s', rows('s', 3, 2));
    expect(revisions(tails.rows('s', 1n, 4n))).to.deep.equal([1, 2, 3, 4]);
    expect(revisions(tails.rows('s', 4n, 4n))).to.deep.equal([4]);
    expect(tails.rows('s', 1n, 5n), 'another connection appended after them').to.equal(undefined);
    expect(tails.rows('t', 0n, 0n)).to.equal(undefined);
    // An append that does not follow what is kept (another connection's came between) starts over.
    tails.appended('s', rows('s', 7, 2));
    expect(tails.rows('s', 5n, 8n)).to.equal(undefined);
    expect(revisions(tails.rows('s', 7n, 8n))).to.deep.equal([7, 8]);
    expect(tails.size).to.equal(2);
  });

  it('holds at most its budget of rows: a stream its newest ones, the least recently appended streams dropped first', function () {
    const tails = new RecentTails(10);
    tails.appended('a', rows('a', 0, 4));
    tails.appended('b', rows('b', 0, 4));
    tails.appended('a', rows('a', 4, 1));
    tails.appended('c', rows('c', 0, 4));
    expect(tails.rows('b', 0n, 3n), 'b is the least recent').to.equal(undefined);
    expect(revisions(tails.rows('a', 0n, 4n))).to.deep.equal([0, 1, 2, 3, 4]);
    expect(tails.size).to.equal(9);
    tails.appended('d', rows('d', 0, 25));
    expect(tails.size).to.equal(10);
    expect(tails.rows('d', 0n, 24n), 'older than the budget').to.equal(undefined);
    expect(revisions(tails.rows('d', 15n, 24n))).to.have.length(10);
    expect(tails.rows('a', 4n, 4n)).to.equal(undefined);
  });

  it('forgets a stream, or every stream', function () {
    const tails = new RecentTails(100);
    tails.appended('a', rows('a', 0, 2));
    tails.appended('b', rows('b', 0, 2));
    tails.forget('a');
    expect(tails.rows('a', 0n, 1n)).to.equal(undefined);
    expect(tails.size).to.equal(2);
    tails.forget();
    expect(tails.rows('b', 0n, 1n)).to.equal(undefined);
    expect(tails.size).to.equal(0);
    expect(new RecentTails(0).size).to.equal(0);
  });
});
