/** retainedHistory (projections/retained-history.ts): a user's events as retention and erasure will leave them. */
import { expect } from 'chai';
import fc from 'fast-check';
import type { EventObject } from '../../src/domain/events.js';
import { emptyState } from '../../src/domain/state.js';
import { erasureCovers } from '../../src/domain/erasure.js';
import type { ProjectedEvent, ProjectionView } from '../../projections/projection.js';
import type { EventAbout } from '../../projections/retained-history.js';
import { retainedHistory } from '../../projections/retained-history.js';
import { anEpisode as episode, anErasureScope as scope } from '../domain/arbitraries.js';

const at = '2026-03-01T00:00:00.000Z';
const id = '00000000-0000-4000-8000-000000000000';

type Kind =
  { kind: 'play'; object: EventObject } | { kind: 'remove'; scope: EventObject | null } | { kind: 'checkpoint'; cut: number | null } | { kind: 'deleted' };
const kind: fc.Arbitrary<Kind> = fc.oneof(
  { weight: 4, arbitrary: episode.map((object): Kind => ({ kind: 'play', object })) },
  { weight: 2, arbitrary: scope.map((s): Kind => ({ kind: 'remove', scope: s })) },
  { weight: 1, arbitrary: fc.option(fc.nat(30), { nil: null }).map((cut): Kind => ({ kind: 'checkpoint', cut })) },
  { weight: 1, arbitrary: fc.constant<Kind>({ kind: 'deleted' }) },
);

function projectedOf(kinds: Kind[]): ProjectedEvent[] {
  return kinds.map((k, revision) => {
    const event: ProjectedEvent['event'] =
      k.kind === 'play'
        ? {
            id,
            user: 'u',
            timestamp: at,
            type: 'play',
            object: k.object as { rss_source_feed: string; rss_source_id: string },
            data: { played: true, position: revision },
          }
        : k.kind === 'remove'
          ? { id, user: 'u', timestamp: at, type: 'remove', object: k.scope, data: {} }
          : k.kind === 'checkpoint'
            ? {
                id,
                user: 'u',
                timestamp: at,
                type: 'checkpoint',
                object: null,
                data: { state: emptyState(), truncate_before: k.cut, retained_from: at, reason: 'retention' },
              }
            : { id, user: 'u', timestamp: at, type: 'account_deleted', object: null, data: {} };
    return { event, user: 'u', username: 'u', position: { commit: BigInt(revision), prepare: BigInt(revision) }, revision, seq: revision, recordedAt: at };
  });
}

const isPlay = (projected: ProjectedEvent): projected is EventAbout => projected.event.type === 'play';

describe('retainedHistory', () => {
  it('keeps the events no later remove covers, no later checkpoint truncates and no later account deletion ends (property)', () => {
    // The rule, stated forwards: each remove, truncation and deletion drops what is kept before it.
    const expected = (history: ProjectedEvent[]) => {
      let retained: EventAbout[] = [];
      for (const earlier of history) {
        const { event } = earlier;
        if (isPlay(earlier)) retained.push(earlier);
        else if (event.type === 'remove') retained = retained.filter(({ event: kept }) => !erasureCovers(event.object, kept));
        else if (event.type === 'checkpoint' && event.data.truncate_before !== null) {
          const cut = event.data.truncate_before;
          retained = retained.filter(({ revision }) => revision >= cut);
        } else if (event.type === 'account_deleted') retained = [];
      }
      return retained;
    };
    fc.assert(
      fc.property(fc.array(kind, { minLength: 1, maxLength: 30 }).map(projectedOf), (history) => {
        const view: ProjectionView = {
          get: () => undefined,
          find: () => [],
          history: (_user, through) => history.filter(({ revision }) => revision <= through),
        };
        const last = history.at(-1)!;
        expect(retainedHistory(view, last, isPlay).map(({ revision }) => revision)).to.deep.equal(expected(history).map(({ revision }) => revision));
      }),
      { numRuns: 500 },
    );
  });
});
