/**
 * A folded user (src/services/folded-user.ts) folds its synced slices when they are read, or once
 * enough events wait: whatever the steps it was folded in and whatever was read in between, it
 * answers as the whole stream folded at once, and a user it was folded from keeps answering as
 * before.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { StateEvent } from '../../src/domain/state.js';
import type { FoldedUser, StreamEvent, SyncedSlice } from '../../src/services/folded-user.js';
import {
  changedRecords,
  changesSince,
  decisionState,
  emptyFoldedUser,
  foldOnto,
  recordCounts,
  recordsOf,
  SYNCED_SLICES,
} from '../../src/services/folded-user.js';
import { anEvent } from '../domain/arbitraries.js';
import { ev, t } from '../domain/spec.js';
import { turnCounter } from '../support/turns.js';

const SLICES: readonly SyncedSlice[] = ['subscriptions', 'play_statuses', 'playlists'];
const stamped = (events: readonly StateEvent[]): StreamEvent[] =>
  events.map((event, index) => ({ event, revision: BigInt(index), position: { commit: BigInt(10 + index * 3), prepare: BigInt(10 + index * 3) } }));

/** What a reader can see of a user: the state, and each slice's answer since every cursor. */
function seen(user: FoldedUser, cursors: readonly (bigint | undefined)[]) {
  return {
    state: structuredClone(user.state),
    revision: user.revision,
    position: user.position,
    syncRequestIds: [...user.syncRequestIds].sort(),
    answers: SLICES.map((slice) => cursors.map((since) => changedRecords(user, slice, since))),
  };
}

describe('folded user: synced slices folded when read', () => {
  it('answers as the stream folded at once, whatever the steps and reads in between (property)', () => {
    fc.assert(
      fc.property(
        fc.array(anEvent, { maxLength: 60 }),
        fc.array(fc.nat(60), { maxLength: 8 }),
        fc.array(fc.constantFrom<'none' | SyncedSlice>('none', ...SLICES), { maxLength: 8 }),
        (events, cuts, reads) => {
          const all = stamped(events);
          const cursors = [undefined, 0n, ...all.filter((_, n) => n % 4 === 0).map((event) => event.position.commit)];
          const once = foldOnto(emptyFoldedUser(), all);
          const bounds = [...new Set([0, ...cuts.map((cut) => Math.min(cut, all.length)), all.length])].sort((a, b) => a - b);
          let user = emptyFoldedUser();
          const earlier: { user: FoldedUser; seen: ReturnType<typeof seen> }[] = [];
          for (let step = 1; step < bounds.length; step++) {
            user = foldOnto(user, all.slice(bounds[step - 1], bounds[step]));
            const read = reads[step % Math.max(1, reads.length)] ?? 'none';
            if (read !== 'none') void user.state[read];
            if (step % 2 === 0) earlier.push({ user, seen: seen(user, cursors) });
          }
          expect(seen(user, cursors)).to.deep.equal(seen(once, cursors));
          for (const { user: before, seen: then } of earlier) expect(seen(before, cursors), 'an earlier user is unchanged').to.deep.equal(then);
          const counts = recordCounts(user);
          const exact = recordCounts(foldOnto(emptyFoldedUser(), []));
          expect(counts.play_statuses).to.be.at.least(Object.keys(user.state.play_statuses).length + exact.play_statuses);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads records of a slice by key as the stream folded at once, without folding a slice that waits for few events (property)', () => {
    fc.assert(
      fc.property(fc.array(anEvent, { maxLength: 120 }), fc.array(fc.nat(120), { maxLength: 6 }), (events, cuts) => {
        const all = stamped(events);
        const once = foldOnto(emptyFoldedUser(), all);
        const bounds = [...new Set([0, ...cuts.map((cut) => Math.min(cut, all.length)), all.length])].sort((a, b) => a - b);
        let user = emptyFoldedUser();
        for (let step = 1; step < bounds.length; step++) user = foldOnto(user, all.slice(bounds[step - 1], bounds[step]));
        for (const slice of SLICES) {
          const whole = once.state[slice] as Record<string, unknown>;
          // The keys held, those the events touched (some of them removed since) and one never seen.
          const touched = events.flatMap((event) => {
            const keys = SYNCED_SLICES[slice].touches(event as never);
            return keys === 'all' || keys === 'none' ? [] : keys;
          });
          const keys = [...new Set([...Object.keys(whole), ...touched, 'never-seen', '__proto__', 'constructor'])];
          const weighed = recordCounts(user);
          const read = recordsOf(user, slice, keys);
          // At most 64 events wait: the slice is not folded (past that it may be).
          if (events.length <= 64) expect(recordCounts(user), 'the slice is not folded').to.deep.equal(weighed);
          expect(Object.fromEntries(read), slice).to.deep.equal(Object.fromEntries(Object.entries(whole).filter(([key]) => keys.includes(key))));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("answers a sync's changes and its decision's records as the stream folded at once, reading few records without folding (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anEvent, { maxLength: 120 }), fc.array(fc.nat(120), { maxLength: 6 }), async (events, cuts) => {
        const all = stamped(events);
        const once = foldOnto(emptyFoldedUser(), all);
        const bounds = [...new Set([0, ...cuts.map((cut) => Math.min(cut, all.length)), all.length])].sort((a, b) => a - b);
        const cursors = [undefined, 0n, ...all.filter((_, n) => n % 3 === 0).map((event) => event.position.commit)];
        for (const since of cursors) {
          let user = emptyFoldedUser();
          for (let step = 1; step < bounds.length; step++) user = foldOnto(user, all.slice(bounds[step - 1], bounds[step]));
          const answer = await changesSince(user, since);
          for (const slice of SLICES) expect(answer[slice], `${slice} since ${since}`).to.deep.equal(changedRecords(once, slice, since));
        }
        let user = emptyFoldedUser();
        for (let step = 1; step < bounds.length; step++) user = foldOnto(user, all.slice(bounds[step - 1], bounds[step]));
        const reads = { subscriptions: Object.keys(once.state.subscriptions).slice(0, 2), play_statuses: ['never-seen'], playlists: ['__proto__'] };
        for (const key of Object.keys(once.state.play_statuses).slice(0, 3)) reads.play_statuses.push(key);
        const state = decisionState(user, reads);
        for (const slice of SLICES) {
          const whole = once.state[slice] as Record<string, unknown>;
          const expected = Object.fromEntries(Object.entries(whole).filter(([key]) => reads[slice].includes(key)));
          expect({ ...(state[slice] as Record<string, unknown>) }, slice).to.deep.equal(expected);
        }
        expect(state.devices).to.deep.equal(once.state.devices);
      }),
      { numRuns: 200 },
    );
  });

  it('answers a resync of a user with thousands of records from the records changed since its cursor, without folding the slice', async () => {
    const play = (n: number, at: number) => ev.play(`https://feeds.example.com/${n % 20}.xml`, `g${n}`, t(at), { played: false, position: n });
    const history = stamped([...Array.from({ length: 2_000 }, (_, n) => play(n, 1)), play(5, 2), play(2_500, 2), play(7, 2)]);
    const folded = foldOnto(emptyFoldedUser(), history.slice(0, 2_000));
    void folded.state.play_statuses;
    void folded.touches.play_statuses;
    const user = foldOnto(folded, history.slice(2_000));
    const waiting = recordCounts(user);
    const since = history[1_999]!.position.commit;
    const answer = await changesSince(user, since);
    expect(answer.play_statuses.map((status) => status.rss_source_id)).to.deep.equal(['g5', 'g2500', 'g7']);
    expect(answer.play_statuses).to.deep.equal(changedRecords(foldOnto(emptyFoldedUser(), history), 'play_statuses', since));
    expect(recordCounts(user), 'nothing folded').to.deep.equal(waiting);
    const key = Object.keys(folded.state.play_statuses)[7]!;
    expect(Object.keys(decisionState(user, { subscriptions: [], play_statuses: [key], playlists: [] }).play_statuses)).to.deep.equal([key]);
    expect(recordCounts(user), 'nothing folded').to.deep.equal(waiting);
  });

  it('folds a slice read by key once more of its events wait than an eighth of its records and 64', () => {
    const play = (n: number) => ev.position(`https://feeds.example.com/${n % 10}.xml`, `g${n % 10}`, t(n), n);
    let user = foldOnto(emptyFoldedUser(), stamped([play(0)]));
    const key = Object.keys(user.state.play_statuses)[0]!;
    // 10 records, 64 events waiting: a read of one of them leaves them waiting.
    const events = stamped(Array.from({ length: 130 }, (_, n) => play(n + 1))).map((event, n) => ({ ...event, revision: BigInt(n + 1) }));
    user = foldOnto(user, events.slice(0, 64));
    const waiting = recordCounts(user).play_statuses;
    expect(recordsOf(user, 'play_statuses', [key]).get(key)).to.deep.equal(
      foldOnto(emptyFoldedUser(), stamped([play(0), ...Array.from({ length: 64 }, (_, n) => play(n + 1))])).state.play_statuses[key],
    );
    expect(recordCounts(user).play_statuses).to.equal(waiting);
    // 65 waiting: the read folds the slice, which then weighs its 10 records.
    user = foldOnto(user, events.slice(64, 65));
    const expected = foldOnto(emptyFoldedUser(), stamped([play(0), ...Array.from({ length: 65 }, (_, n) => play(n + 1))])).state.play_statuses[key];
    expect(recordsOf(user, 'play_statuses', [key]).get(key)).to.deep.equal(expected);
    expect(recordCounts(user).play_statuses).to.equal(10);
  });

  it('keeps the pending events of a slice nobody reads bounded: 10,000 plays in uploads of 100 weigh little more than their records', () => {
    let user = emptyFoldedUser();
    for (let upload = 0; upload < 100; upload++) {
      const plays = Array.from({ length: 100 }, (_, n) =>
        ev.play('https://a.example.com/feed', `g${upload * 100 + n}`, t(upload), { played: true, position: n }),
      );
      const from = user.revision === 'no_stream' ? 0 : Number(user.revision) + 1;
      user = foldOnto(
        user,
        plays.map((event, n) => ({ event, revision: BigInt(from + n), position: { commit: BigInt(from + n + 1), prepare: BigInt(from + n + 1) } })),
      );
    }
    const weight = recordCounts(user).play_statuses;
    expect(weight).to.be.at.least(10_000);
    expect(weight, 'records plus the pending events: at most about as many again').to.be.at.most(10_000 + 64 + 10_000 + 100);
    expect(Object.keys(user.state.play_statuses)).to.have.length(10_000);
    expect(recordCounts(user).play_statuses, 'exact once read').to.equal(10_000);
  });
});

describe('folded user: slices settled a step at a time', () => {
  // 5,000 records folded, then an append of 5,000 events waiting (no more than the records, so
  // they wait until read): 2,000 of them on those records.
  const events = stamped([
    ...Array.from({ length: 5_000 }, (_, n) => ev.play(`https://feeds.example.com/${n % 50}.xml`, `g${n}`, t(1), { played: false, position: n })),
    ev.subscribe('https://feeds.example.com/0.xml', t(1)),
    ...Array.from({ length: 5_000 }, (_, n) => ev.position(`https://feeds.example.com/${n % 50}.xml`, `g${n + 3_000}`, t(2), n)),
  ]);
  const heavyUser = () => foldOnto(foldOnto(emptyFoldedUser(), events.slice(0, 5_001)), events.slice(5_001));
  const cursors = [undefined, 0n, events[4_999]!.position.commit, events[7_000]!.position.commit];
  const expected = seen(foldOnto(emptyFoldedUser(), events), cursors);

  it('folds what waits in steps, other work served in between, to what a read would fold', async () => {
    const user = heavyUser();
    expect(recordCounts(user).play_statuses, 'the append waits').to.equal(5_000 + 5_000);
    const counter = turnCounter();
    const answer = await changesSince(user, undefined);
    const turns = counter.stop();
    expect(SLICES.map((slice) => answer[slice])).to.deep.equal(expected.answers.map((bySince) => bySince[0]));
    // 5,000 events in steps of 2,000, then their 5,000 touches: at least a turn after each step.
    expect(turns).to.be.at.least(4);
    expect(recordCounts(user).play_statuses, 'folded: its records alone').to.equal(8_000);
    expect(seen(user, cursors)).to.deep.equal(expected);
  });

  it('answers the same when a read folds the slice while it settles', async () => {
    const user = heavyUser();
    const settling = changesSince(user, undefined);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(Object.keys(user.state.play_statuses)).to.have.length(8_000);
    await settling;
    expect(seen(user, cursors)).to.deep.equal(expected);
    const touchesRead = heavyUser();
    const settlingTouches = changesSince(touchesRead, undefined);
    for (let turn = 0; turn < 5; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
    void touchesRead.touches.play_statuses;
    await settlingTouches;
    expect(seen(touchesRead, cursors)).to.deep.equal(expected);
  });
});
