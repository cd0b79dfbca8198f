/**
 * The gpodder API's cursors (src/domain/cursors.ts): whatever a client sends back, the cursor it
 * was given or that plus one (Kasts), names a position at or after the one answered and before
 * the next append's, in a store whose appends are `gap` apart or more.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { RECORDING_GRACE_S, SINCE_MARGIN_S, gpodderTimestamp, positionOfSince } from '../../src/domain/cursors.js';
import { downloadTimestamp, recordedFrom } from '../../src/domain/nextcloud.js';

/** The embedded store's and EventStoreDB's gaps (EventStore.positionGap). */
const GAPS = [1, 64];

describe('gpodder cursors', () => {
  for (const gap of GAPS) {
    it(`gap ${gap}: the cursor answered for a position, and that plus one, name it or later, never the next append's`, () => {
      fc.assert(
        // Positions of users' events come after the store's own first records (EventStoreDB's log starts with system records).
        fc.property(fc.integer({ min: 2 * gap, max: 2 ** 40 }), fc.integer({ min: gap, max: 10 * gap }), (position, distance) => {
          const next = position + distance;
          const answered = gpodderTimestamp(position, gap);
          expect(answered).to.be.above(1, 'Kasts keeps only cursors above 1');
          for (const since of [answered, answered + 1]) {
            const seen = positionOfSince(since, gap)!;
            expect(seen, `since ${since}`).to.be.at.least(position).and.below(next);
          }
        }),
      );
    });

    it(`gap ${gap}: "just before" a first event (a gap before it) is before it, plus one too; 0 stays "from the start"`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 2 * gap, max: 2 ** 40 }), (first) => {
          const answered = gpodderTimestamp(first - gap, gap);
          expect(answered).to.be.above(1, 'Kasts keeps only cursors above 1');
          for (const since of [answered, answered + 1]) expect(positionOfSince(since, gap)).to.be.below(first);
        }),
      );
      expect(positionOfSince(0, gap)).to.equal(0);
      expect(positionOfSince(undefined, gap)).to.equal(undefined);
    });
  }

  it('keeps cursors within the 32-bit ints Kasts reads: a billion events embedded, 64 GiB of EventStoreDB log', () => {
    expect(gpodderTimestamp(10 ** 9, 1)).to.be.below(2 ** 31);
    expect(gpodderTimestamp(64 * 2 ** 30 - 1, 64)).to.be.below(2 ** 31);
  });
});

describe('Nextcloud cursors (src/domain/nextcloud.ts)', () => {
  const now = 1_796_000_000;

  it("a download's timestamp, sent back as it is or plus one (Kasts), reads from the download less the grace", () => {
    const answered = downloadTimestamp(now);
    expect(answered).to.be.above(now + 10, 'Kasts downloads again while the answer lags its clock by 10 s');
    expect(answered).to.be.below(2 ** 31);
    for (const later of [now, now + 30, now + 3600]) {
      expect(recordedFrom(answered, later)).to.equal(now - RECORDING_GRACE_S);
      expect(recordedFrom(answered + 1, later)).to.be.within(now - RECORDING_GRACE_S, now - RECORDING_GRACE_S + 1);
    }
  });

  it("a device's own clock (AntennaPod's after an upload) reads with the whole margin; one far ahead as the latest answer; 0 from the start", () => {
    expect(recordedFrom(now - 5, now)).to.equal(now - 5 - SINCE_MARGIN_S);
    expect(recordedFrom(now + 120, now)).to.equal(now + 120 - SINCE_MARGIN_S);
    expect(recordedFrom(now + 86_400, now)).to.equal(downloadTimestamp(now) - SINCE_MARGIN_S);
    expect(recordedFrom(0, now)).to.equal(undefined);
    expect(recordedFrom(undefined, now)).to.equal(undefined);
  });
});
