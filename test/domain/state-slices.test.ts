/**
 * Slices of the user state fold on their own (src/domain/state.ts, slicesChangedBy): an event
 * leaves every slice it does not name as it was, and a slice folded from its own events alone
 * is that slice of the whole fold. A cached user relies on it to fold a large slice only when
 * it is read (src/services/folded-user.ts).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { StateEvent, UserState } from '../../src/domain/state.js';
import { emptyState, evolve, fold, foldSlice, SLICES_READ_BY, slicesChangedBy, STATE_SLICES } from '../../src/domain/state.js';
import { anEvent } from './arbitraries.js';
import { ev, t } from './spec.js';

describe('state slices (slicesChangedBy, foldSlice)', () => {
  it('an event leaves every slice it does not name as it was (property)', () => {
    fc.assert(
      fc.property(fc.array(anEvent, { maxLength: 20 }), anEvent, (before, event) => {
        const state = fold(before);
        const after = evolve(state, event);
        for (const slice of STATE_SLICES)
          if (!slicesChangedBy(event).includes(slice)) expect(after[slice], `${event.type} left ${slice}`).to.equal(state[slice]);
      }),
      { numRuns: 400 },
    );
  });

  it('forgetting a device in a sync group, with settings of its own, changes only the slices it names', () => {
    const full = (at: string, rest: { type: string; object: null; data: object }) =>
      ({ id: `forget-${at}-${rest.type}`, user: 'u', timestamp: at, ...rest }) as unknown as StateEvent;
    const state = fold([
      full(t(1), { type: 'device', object: null, data: { device_id: 'phone' } }),
      full(t(1), { type: 'device', object: null, data: { device_id: 'laptop' } }),
      full(t(2), { type: 'sync_group', object: null, data: { synchronize: [['phone', 'laptop']], stop_synchronize: [] } }),
      full(t(3), { type: 'setting', object: null, data: { scope: 'device', device: 'phone', set: { k: 1 }, remove: [] } }),
    ]);
    const forget = full(t(4), { type: 'device', object: null, data: { device_id: 'phone', forgotten: true } });
    const after = evolve(state, forget);
    for (const slice of STATE_SLICES) if (!slicesChangedBy(forget).includes(slice)) expect(after[slice], slice).to.equal(state[slice]);
    expect(after.sync_groups).not.to.equal(state.sync_groups);
    expect(after.settings).not.to.equal(state.settings);
  });

  it('a slice folded from its own events alone (with the slices it reads) is that slice of the whole fold, checkpoints included (property)', () => {
    fc.assert(
      fc.property(fc.array(anEvent, { maxLength: 20 }), fc.array(anEvent, { maxLength: 30 }), fc.nat(30), (first, second, cut) => {
        const initial: UserState = fold(first);
        const events: StateEvent[] = [...second.slice(0, cut), ev.checkpoint(t(10), structuredClone(fold(second.slice(0, cut / 2)))), ...second.slice(cut)];
        const whole = fold(events, initial);
        for (const slice of STATE_SLICES) {
          // With the slices it reads (SLICES_READ_BY), folded from the events that change any of them.
          const read = [slice, ...(SLICES_READ_BY[slice] ?? [])];
          const own = events.filter((event) => slicesChangedBy(event).some((changed) => read.includes(changed)));
          const base = Object.fromEntries(read.map((part) => [part, initial[part]])) as Partial<UserState>;
          const alone = read.length === 1 ? foldSlice(slice, own, initial[slice]) : fold(own, { ...emptyState(), ...base })[slice];
          expect(alone, slice).to.deep.equal(whole[slice]);
        }
      }),
      { numRuns: 400 },
    );
  });
});
