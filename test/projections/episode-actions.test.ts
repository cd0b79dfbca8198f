/**
 * `changesExistingActions` (projections/episode-actions.ts) says which event types `evolve`
 * cannot project from the event alone. A download answers actions the projection has not
 * reached yet from the stream, and trusts it to know when to wait instead
 * (src/services/gpodder-episodes.ts): pinned here against `evolve` itself, for every type.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { changesExistingActions, episodeActionsProjection } from '../../projections/episode-actions.js';
import type { ProjectedEvent, ProjectionView } from '../../projections/projection.js';
import { emptyState } from '../../src/domain/state.js';
import { anEvent } from '../domain/arbitraries.js';
import { ev, t } from '../domain/spec.js';

/** A view that records whether it was read (and answers as empty). */
function watchedView(): { view: ProjectionView; read: () => boolean } {
  let read = false;
  return {
    view: {
      get: () => ((read = true), undefined),
      find: () => ((read = true), []),
      history: () => ((read = true), []),
    },
    read: () => read,
  };
}

const projected = (event: ProjectedEvent['event'], seq: number): ProjectedEvent => ({
  event,
  user: 'u',
  username: 'ann',
  position: { commit: BigInt(seq), prepare: BigInt(seq) },
  revision: seq,
  seq,
  recordedAt: '2026-01-01T00:00:00.000Z',
});

const episodeAction = (seq: number) =>
  ({
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    user: 'u',
    timestamp: t(seq % 20),
    type: 'episode_action',
    object: { rss_source_feed: 'https://a.example.com/feed', rss_source_id: 'g1' },
    data: { action: 'download', enclosure: { url: 'https://cdn.example.com/g1.mp3' } },
  }) as unknown as ProjectedEvent['event'];

describe('episode_actions: which events change documents already there', function () {
  it('evolve reads documents for exactly the types changesExistingActions names, and writes only new ones for the others (property)', function () {
    const events = fc.oneof(
      anEvent.map((event) => event as unknown as ProjectedEvent['event']),
      fc.nat(1000).map(episodeAction),
      fc.nat(20).map((when) => ({ id: 'c1', user: 'u', object: null, ...ev.checkpoint(t(when), emptyState()) }) as unknown as ProjectedEvent['event']),
    );
    fc.assert(
      fc.property(events, fc.nat(1_000_000), (event, seq) => {
        const { view, read } = watchedView();
        const changes = episodeActionsProjection.evolve(projected(event, seq + 1), view, { defaultPrivacy: 'private' });
        expect(read(), `${event.type}: read documents`).to.equal(changesExistingActions(event.type));
        if (!changesExistingActions(event.type)) expect(changes.every((change) => change.op === 'put')).to.equal(true);
      }),
      { numRuns: 500 },
    );
  });

  it('names remove, account_deleted and checkpoint', function () {
    for (const type of ['remove', 'account_deleted', 'checkpoint']) expect(changesExistingActions(type), type).to.equal(true);
    for (const type of ['play', 'position', 'episode_action', 'subscribe', 'privacy']) expect(changesExistingActions(type), type).to.equal(false);
  });
});
