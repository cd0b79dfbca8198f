/** The per-user read models agree with the domain fold, including checkpoints and erasure. */
import { expect } from 'chai';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { subscriptionsProjection, SUBSCRIPTIONS } from '../../projections/subscriptions.js';
import { playStatusesProjection, PLAY_STATUSES } from '../../projections/play-statuses.js';
import { playlistsOf, playlistsProjection, PLAYLISTS } from '../../projections/playlists.js';
import { privacySettingsProjection, PRIVACY_SETTINGS } from '../../projections/privacy.js';
import type { SingleDocRecordProjection } from '../../projections/user-records.js';
import { userDocKey } from '../../projections/projection.js';
import type { UserEvent } from '../../src/domain/events.js';
import { fold } from '../../src/domain/state.js';
import type { Doc } from '../../src/stores/read-model.js';
import type { Actor } from './harness.js';
import { events, FEED_A, FEED_B, ProjectionHarness } from './harness.js';
import { anEvent } from '../domain/arbitraries.js';

const alice: Actor = { user: 'u-alice', username: 'alice' };
const all = () => new ProjectionHarness([subscriptionsProjection, playStatusesProjection, playlistsProjection, privacySettingsProjection]);
/** The records the documents hold, by key (a play status's feed and guid are in its id alone). */
const strip = (docs: { id: string; doc: Doc }[], projection: SingleDocRecordProjection) =>
  Object.fromEntries(docs.map(({ id, doc }) => [userDocKey(String(doc['user']), id), projection.recordOfDoc(String(doc['user']), id, doc)]));
/** The playlists the documents hold, items inside, by id. */
const playlists = (docs: { id: string; doc: Doc }[]) => Object.fromEntries(playlistsOf(alice.user, docs).map((playlist) => [playlist.id, playlist]));

describe('per-user read models', () => {
  const history: UserEvent[] = [
    events.subscribe(alice, FEED_A),
    events.subscribe(alice, FEED_B),
    events.play(alice, 'a1'),
    events.play(alice, 'b1', FEED_B),
    events.save(alice, 'a1'),
    events.save(alice, 'b1', { feed: FEED_B, playlist: 'later' }),
    events.privacy(alice, 'public', FEED_B),
  ];

  it('hold exactly the folded state', () => {
    const h = all().apply(alice, ...history);
    const state = fold(history);
    expect(strip(h.stored(SUBSCRIPTIONS), subscriptionsProjection)).to.deep.equal(state.subscriptions);
    expect(strip(h.stored(PLAY_STATUSES), playStatusesProjection)).to.deep.equal(state.play_statuses);
    expect(playlists(h.stored(PLAYLISTS))).to.deep.equal(state.playlists);
    expect(h.stored(PRIVACY_SETTINGS)).to.deep.equal([
      { id: alice.user, doc: { user: alice.user, account: null, feeds: 1 } },
      { id: `${alice.user}|${FEED_B}`, doc: { user: alice.user, level: 'public' } },
    ]);
  });

  it('hold exactly the folded state after any events: each event touches the records it changes (property)', () => {
    fc.assert(
      fc.property(fc.array(anEvent, { maxLength: 25 }), (history) => {
        const h = all().apply(alice, ...(history as UserEvent[]));
        const state = fold(history);
        expect(strip(h.stored(SUBSCRIPTIONS), subscriptionsProjection)).to.deep.equal(state.subscriptions);
        expect(strip(h.stored(PLAY_STATUSES), playStatusesProjection)).to.deep.equal(state.play_statuses);
        expect(playlists(h.stored(PLAYLISTS))).to.deep.equal(state.playlists);
      }),
      { numRuns: 300 },
    );
  });

  it('erase a feed scope and keep the rest', () => {
    const removal = events.remove(alice, { rss_source_feed: FEED_B });
    const h = all().apply(alice, ...history, removal);
    const state = fold([...history, removal]);
    expect(Object.keys(strip(h.stored(SUBSCRIPTIONS), subscriptionsProjection))).to.deep.equal([FEED_A]);
    expect(strip(h.stored(PLAY_STATUSES), playStatusesProjection)).to.deep.equal(state.play_statuses);
    expect(playlists(h.stored(PLAYLISTS))).to.deep.equal(state.playlists);
  });

  it('take a checkpoint as the source of truth', () => {
    const h = all().apply(alice, ...history);
    const checkpointState = fold(history.slice(0, 3));
    h.apply(alice, {
      type: 'checkpoint',
      id: randomUUID(),
      user: alice.user,
      timestamp: '2026-06-01T00:00:00.000Z',
      object: null,
      data: { state: checkpointState, truncate_before: null, retained_from: '2026-01-01T00:00:00.000Z', reason: 'retention' },
    });
    expect(strip(h.stored(SUBSCRIPTIONS), subscriptionsProjection)).to.deep.equal(checkpointState.subscriptions);
    expect(strip(h.stored(PLAY_STATUSES), playStatusesProjection)).to.deep.equal(checkpointState.play_statuses);
    expect(playlists(h.stored(PLAYLISTS))).to.deep.equal({});
    expect(h.stored(PRIVACY_SETTINGS)).to.deep.equal([]);
  });

  it('rewrite only the records an event changes (so `since` answers stay small)', () => {
    const h = all().apply(alice, ...history);
    const before = h.stored(PLAY_STATUSES).map(({ id, doc }) => [id, doc['seq']]);
    h.apply(alice, events.play(alice, 'a1'));
    const after = h.stored(PLAY_STATUSES).map(({ id, doc }) => [id, doc['seq']]);
    expect(after.filter(([, seq], index) => seq !== before[index]![1])).to.have.length(1);
  });

  it('stamp every record with a checkpoint, as a rebuild after retention would', () => {
    const h = all().apply(alice, ...history);
    h.apply(alice, {
      type: 'checkpoint',
      id: randomUUID(),
      user: alice.user,
      timestamp: '2026-06-01T00:00:00.000Z',
      object: null,
      data: { state: fold(history), truncate_before: null, retained_from: '2026-01-01T00:00:00.000Z', reason: 'retention' },
    });
    const stamps = new Set(h.docs(SUBSCRIPTIONS).map((doc) => doc['seq']));
    expect([...stamps]).to.deep.equal([history.length + 1]);
  });

  it('erase playlists whose ids name members of every object ("constructor", "__proto__") like any other', () => {
    const odd = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
    const saves = odd.map((playlist, index) => events.save(alice, `o${index}`, { playlist }));
    for (const last of [events.remove(alice, null), events.remove(alice, { rss_source_feed: FEED_A })]) {
      const h = all().apply(alice, ...history, ...saves);
      expect(h.stored(PLAYLISTS).map(({ id }) => userDocKey(alice.user, id))).to.include.members(odd);
      h.apply(alice, last);
      const state = fold([...history, ...saves, last]);
      expect(playlists(h.stored(PLAYLISTS))).to.deep.equal(state.playlists);
    }
  });

  it('write a play status without the titles and enclosure it does not know, and read them back as null, in the record order', () => {
    const { id, user, timestamp } = events.play(alice, 'p1');
    const position: UserEvent = {
      id,
      user,
      timestamp,
      type: 'position',
      object: { rss_source_feed: FEED_A, rss_source_id: 'p1' },
      data: { position: 42, device: 'phone' },
    };
    const titled = events.play(alice, 'a1', FEED_A, { enclosure: { url: 'https://cdn.example/a1.mp3' } });
    const h = all().apply(alice, position, titled);
    const state = fold([position, titled]);
    const stored = h.stored(PLAY_STATUSES);
    const [bare, full] = [stored.find(({ id }) => id.includes('p1'))!, stored.find(({ id }) => id.includes('a1'))!];
    expect(bare.doc).not.to.have.any.keys('rss_feed_title', 'rss_item_title', 'rss_enclosure');
    expect(full.doc).to.include.keys('rss_feed_title', 'rss_item_title', 'rss_enclosure');
    const records = strip(stored, playStatusesProjection);
    expect(records).to.deep.equal(state.play_statuses);
    // Field for field in the folded record's order: answers keep their shape.
    for (const [key, record] of Object.entries(state.play_statuses)) expect(JSON.stringify(records[key])).to.equal(JSON.stringify(record));
    // A document written with its nulls (before they were left out) reads the same.
    const withNulls = { rss_feed_title: null, rss_item_title: null, rss_enclosure: null, ...bare.doc };
    expect(playStatusesProjection.recordOfDoc(alice.user, bare.id, withNulls)).to.deep.equal(records[userDocKey(alice.user, bare.id)]);
  });
});
