/** `playlists`: a document per playlist and one per item, so that a save costs the same whatever the playlist holds. */
import { expect } from 'chai';
import type { UserEvent } from '../../src/domain/events.js';
import { fold } from '../../src/domain/state.js';
import type { Projection, ProjectionView } from '../../projections/projection.js';
import { userDocKey } from '../../projections/projection.js';
import { playlistOfDoc, playlistsOf, playlistsProjection, PLAYLISTS, presentPlaylists } from '../../projections/playlists.js';
import type { Actor } from './harness.js';
import { events, ProjectionHarness } from './harness.js';

const alice: Actor = { user: 'u-alice', username: 'alice' };

/** The playlists projection, noting each document it reads. */
function reading(reads: string[]): Projection {
  return {
    ...playlistsProjection,
    evolve(projected, view, context) {
      const noted: ProjectionView = {
        get: (collection, id) => (reads.push(`get ${userDocKey(alice.user, id)}`), view.get(collection, id)),
        find: (collection, query) => (reads.push(`find ${JSON.stringify(query)}`), view.find(collection, query)),
        history: (user, through) => view.history(user, through),
      };
      return playlistsProjection.evolve(projected, noted, context);
    },
  };
}

const later = (event: UserEvent, seconds: number): UserEvent => ({ ...event, timestamp: new Date(Date.parse(event.timestamp) + seconds * 1000).toISOString() });

describe('playlists read model', () => {
  it('a save reads and writes its playlist and its item alone, however many items the playlist holds', () => {
    const reads: string[] = [];
    const saves = Array.from({ length: 300 }, (_, index) => events.save(alice, `e${index}`, { playlist: 'queue' }));
    const h = new ProjectionHarness([reading(reads)]).apply(alice, ...saves);
    expect(Object.keys(playlistsOf(alice.user, h.stored(PLAYLISTS))[0]!.items)).to.have.length(300);

    for (const save of [
      events.save(alice, 'new', { playlist: 'queue' }),
      later(saves[150]!, 60),
      later({ ...events.save(alice, 'e42', { playlist: 'queue', removed: true }), timestamp: saves[42]!.timestamp }, 60),
    ]) {
      reads.length = 0;
      h.apply(alice, save);
      const item = Object.keys(fold([save]).playlists['queue']!.items)[0]!;
      expect(reads).to.deep.equal([`get queue`, `get queue\u001f${item}`]);
      expect(h.lastChanges.map((change) => [change.op, playlistOfDoc(alice.user, change.id), userDocKey(alice.user, change.id)])).to.deep.equal([
        ['put', 'queue', `queue\u001f${item}`],
      ]);
    }
    // And the documents hold what the fold holds.
    const all = [...saves, events.save(alice, 'new', { playlist: 'queue' })];
    expect(h.stored(PLAYLISTS)).to.have.length(302);
    expect(Object.keys(playlistsOf(alice.user, h.stored(PLAYLISTS))[0]!.items)).to.have.members(Object.keys(fold(all).playlists['queue']!.items));
  });

  it('a playlist renamed writes its own document, not its items', () => {
    const h = new ProjectionHarness([playlistsProjection]).apply(
      alice,
      events.save(alice, 'a', { playlist: 'queue' }),
      events.save(alice, 'b', { playlist: 'queue' }),
    );
    const rename: UserEvent = { ...events.save(alice, 'x'), type: 'playlist', object: null, data: { playlist_id: 'queue', action: 'upsert', name: 'Up next' } };
    h.apply(alice, later(rename, 60));
    expect(h.lastChanges.map((change) => [change.op, userDocKey(alice.user, change.id)])).to.deep.equal([['put', 'queue']]);
    const [queue] = presentPlaylists(alice.user, h.stored(PLAYLISTS), { includeDeleted: false });
    expect(queue).to.include({ id: 'queue', name: 'Up next' });
    expect(queue!['items']).to.have.length(2);
  });

  it('lists playlists oldest first, ties by id, whatever order their documents come in', () => {
    const at = (event: UserEvent, time: string): UserEvent => ({ ...event, timestamp: time });
    const h = new ProjectionHarness([playlistsProjection]).apply(
      alice,
      at(events.save(alice, 'a', { playlist: 'b-second' }), '2026-01-02T00:00:00.000Z'),
      at(events.save(alice, 'b', { playlist: 'z-first' }), '2026-01-01T00:00:00.000Z'),
      at(events.save(alice, 'c', { playlist: 'a-second' }), '2026-01-02T00:00:00.000Z'),
    );
    const docs = h.stored(PLAYLISTS);
    for (const order of [docs, [...docs].reverse()]) {
      expect(playlistsOf(alice.user, order).map(({ id }) => id)).to.deep.equal(['z-first', 'a-second', 'b-second']);
    }
  });
});
