/**
 * The gpodder read models: `gpodder_devices` equals the domain fold; `episode_actions` holds
 * every episode action (gpodder's and native plays) by position, forgets erased scopes and
 * truncated events, and a rebuild from the retained stream equals the live model.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { UserEvent } from '../../src/domain/events.js';
import { fold } from '../../src/domain/state.js';
import type { Doc } from '../../src/stores/read-model.js';
import type { ProjectedEvent, Projection } from '../../projections/projection.js';
import type { CheckpointEvent } from '../../src/domain/system-events.js';
import { emptyView, StagedView } from '../../projections/staged-view.js';
import { gpodderDevicesProjection, GPODDER_DEVICES, GPODDER_SETTINGS, GPODDER_SYNC_GROUPS, gpodderRecordOf } from '../../projections/gpodder-devices.js';
import { EPISODE_ACTIONS, episodeActionsProjection } from '../../projections/episode-actions.js';
import type { Actor } from './harness.js';
import { events, FEED_A, FEED_B, ProjectionHarness } from './harness.js';

const alice: Actor = { user: 'u-alice', username: 'alice' };
const bob: Actor = { user: 'u-bob', username: 'bob' };
let clock = Date.UTC(2026, 3, 1);
const envelope = (actor: Actor) => ({ id: randomUUID(), user: actor.user, timestamp: new Date((clock += 60_000)).toISOString() });

const gp = {
  device: (actor: Actor, device_id: string, caption?: string): UserEvent => ({
    ...envelope(actor),
    type: 'device',
    object: null,
    data: { device_id, ...(caption ? { caption } : {}) },
  }),
  group: (actor: Actor, synchronize: string[][], stop: string[] = []): UserEvent => ({
    ...envelope(actor),
    type: 'sync_group',
    object: null,
    data: { synchronize, stop_synchronize: stop },
  }),
  setting: (actor: Actor, set: Record<string, string>, podcast?: string): UserEvent => ({
    ...envelope(actor),
    type: 'setting',
    object: podcast ? { rss_source_feed: podcast } : null,
    data: { scope: podcast ? 'podcast' : 'account', set, remove: [] },
  }),
  download: (actor: Actor, guid: string, feed = FEED_A, device = 'phone'): UserEvent => ({
    ...envelope(actor),
    type: 'episode_action',
    object: { rss_source_feed: feed, rss_source_id: guid },
    data: { action: 'download', device, enclosure: { url: `https://cdn.example.com/${guid}.mp3` } },
  }),
};

function checkpoint(actor: Actor, history: UserEvent[], truncateBefore: number | null): CheckpointEvent {
  // The fields retention writes; only `state` and `truncate_before` matter to these projections.
  const data = { state: fold(history), truncate_before: truncateBefore, retained_from: '2026-01-01T00:00:00.000Z', reason: 'retention' };
  return {
    type: 'checkpoint',
    id: randomUUID(),
    user: actor.user,
    timestamp: new Date((clock += 60_000)).toISOString(),
    object: null,
    data,
  } as unknown as CheckpointEvent;
}

/** Projects events with given revisions and positions (a harness whose numbering a test controls). */
function project(projection: Projection, items: { event: UserEvent | CheckpointEvent; revision: number; seq: number }[], actor = alice) {
  const view = new StagedView(emptyView);
  for (const { event, revision, seq } of items) {
    const projected: ProjectedEvent = {
      event,
      user: actor.user,
      username: actor.username,
      position: { commit: BigInt(seq), prepare: BigInt(seq) },
      revision,
      seq,
      recordedAt: '2026-01-01T00:00:00.000Z',
    };
    view.apply(projection.evolve(projected, view, { defaultPrivacy: 'private' }));
  }
  return (collection: string) => view.find(collection, { orderBy: [{ field: 'seq', direction: 'asc' }] });
}

const keyed = (docs: Doc[]) => Object.fromEntries(docs.map((doc) => [String(doc['key']), gpodderRecordOf(doc)]));

describe('gpodder_devices read model', () => {
  const history = [
    gp.device(alice, 'phone', 'Phone'),
    gp.device(alice, 'laptop'),
    gp.device(alice, 'tablet'),
    gp.group(alice, [['phone', 'laptop']]),
    gp.setting(alice, { theme: 'dark' }),
    gp.setting(alice, { speed: '1.5' }, FEED_A),
    gp.device(bob, 'bobs'),
  ];

  it('holds exactly the folded devices, sync groups and settings, per user', () => {
    const h = new ProjectionHarness([gpodderDevicesProjection]);
    for (const event of history) h.apply(event.user === bob.user ? bob : alice, event);
    const state = fold(history.filter((event) => event.user === alice.user));
    expect(keyed(h.docs(GPODDER_DEVICES).filter((doc) => doc['user'] === alice.user))).to.deep.equal(state.devices);
    expect(keyed(h.docs(GPODDER_SETTINGS))).to.deep.equal(state.settings);
    expect(h.doc(GPODDER_SYNC_GROUPS, alice.user)!['groups']).to.deep.equal([['laptop', 'phone']]);
    expect(h.docs(GPODDER_DEVICES).filter((doc) => doc['user'] === bob.user)).to.have.length(1);
  });

  it('forgets a feed’s settings with the feed, and the user with the account', () => {
    const h = new ProjectionHarness([gpodderDevicesProjection]).apply(alice, ...history.slice(0, 6), events.remove(alice, { rss_source_feed: FEED_A }));
    expect(h.docs(GPODDER_SETTINGS).map((doc) => doc['values'])).to.deep.equal([{ theme: 'dark' }]);
    h.apply(alice, { ...envelope(alice), type: 'account_deleted', object: null, data: {} });
    expect([...h.docs(GPODDER_DEVICES), ...h.docs(GPODDER_SETTINGS), ...h.docs(GPODDER_SYNC_GROUPS)]).to.deep.equal([]);
  });

  it('a rebuild from a checkpoint equals the live model', () => {
    const mine = history.slice(0, 6);
    const live = project(gpodderDevicesProjection, [
      ...mine.map((event, i) => ({ event, revision: i, seq: i + 1 })),
      { event: checkpoint(alice, mine, 6), revision: 6, seq: 7 },
    ]);
    const rebuilt = project(gpodderDevicesProjection, [{ event: checkpoint(alice, mine, 6), revision: 6, seq: 7 }]);
    for (const collection of [GPODDER_DEVICES, GPODDER_SETTINGS, GPODDER_SYNC_GROUPS]) expect(live(collection), collection).to.deep.equal(rebuilt(collection));
  });
});

describe('episode_actions read model', () => {
  it('holds gpodder actions and native plays as gpodder actions, stamped with their position', () => {
    const mp3 = 'https://cdn.example.com/e2.mp3';
    const h = new ProjectionHarness([episodeActionsProjection]).apply(
      alice,
      gp.download(alice, 'e1'),
      events.play(alice, 'e2', FEED_A, { enclosure: { url: mp3 } }),
      events.subscribe(alice),
    );
    const docs = h.docs(EPISODE_ACTIONS).sort((a, b) => Number(a['seq']) - Number(b['seq']));
    expect(docs.map((doc) => [doc['seq'], (doc['action'] as Doc)['action'], (doc['action'] as Doc)['device']])).to.deep.equal([
      [1, 'download', 'phone'],
      [2, 'play', 'phone'],
    ]);
    expect(docs[1]!['action']).to.deep.include({ podcast: FEED_A, episode: mp3, guid: 'e2', position: 10, total: 10 });
  });

  it('forgets an erased feed or episode, and the whole user on account deletion', () => {
    const h = new ProjectionHarness([episodeActionsProjection]).apply(
      alice,
      gp.download(alice, 'a1'),
      gp.download(alice, 'a2'),
      gp.download(alice, 'b1', FEED_B),
    );
    h.apply(bob, gp.download(bob, 'a1'));
    h.apply(alice, events.remove(alice, { rss_source_feed: FEED_A, rss_source_id: 'a1' }));
    expect(h.docs(EPISODE_ACTIONS).map((doc) => [doc['user'], doc['guid']])).to.have.deep.members([
      [alice.user, 'a2'],
      [alice.user, 'b1'],
      [bob.user, 'a1'],
    ]);
    h.apply(alice, events.remove(alice, { rss_source_feed: FEED_B }));
    expect(
      h
        .docs(EPISODE_ACTIONS)
        .filter((doc) => doc['user'] === alice.user)
        .map((doc) => doc['guid']),
    ).to.deep.equal(['a2']);
    h.apply(alice, { ...envelope(alice), type: 'account_deleted', object: null, data: {} });
    expect(h.docs(EPISODE_ACTIONS).map((doc) => doc['user'])).to.deep.equal([bob.user]);
  });

  it('after retention, keeps the retained actions plus the play status of each episode they no longer cover, and equals a rebuild', () => {
    const withUrl = (guid: string) => events.play(alice, guid, FEED_A, { enclosure: { url: `https://cdn.example.com/${guid}.mp3` } });
    const history = [gp.download(alice, 'e1'), withUrl('e1'), withUrl('e2'), gp.download(alice, 'e3'), events.play(alice, 'e3'), events.play(alice, 'e4')];
    // Revisions 0-2 are truncated by the checkpoint at revision 6.
    const numbered = history.map((event, i) => ({ event, revision: i, seq: 10 + i }));
    const cp = { event: checkpoint(alice, history, 3), revision: 6, seq: 20 };
    const live = project(episodeActionsProjection, [...numbered, cp]);
    const rebuilt = project(episodeActionsProjection, [...numbered.slice(3), cp]);
    expect(live(EPISODE_ACTIONS)).to.deep.equal(rebuilt(EPISODE_ACTIONS));
    const actions = live(EPISODE_ACTIONS).map(({ doc }) => [(doc['action'] as Doc)['action'], doc['guid'], doc['seq']]);
    expect(actions).to.have.deep.members([
      ['download', 'e3', 13],
      ['play', 'e3', 14],
      ['play', 'e4', 15],
      ['play', 'e1', 20],
      ['play', 'e2', 20],
    ]);
    // Without a URL named, readers resolve it (src/services/gpodder-episodes.ts).
    const e4 = live(EPISODE_ACTIONS).find(({ doc }) => doc['guid'] === 'e4')!.doc['action'] as Doc;
    expect(e4['episode']).to.equal('');
  });

  it('after an erasure (a checkpoint that truncates nothing), each kept play is listed once', () => {
    const history = [events.play(alice, 'e1'), events.play(alice, 'e2'), gp.download(alice, 'e3')];
    const numbered = history.map((event, i) => ({ event, revision: i, seq: 10 + i }));
    const cp = { event: checkpoint(alice, history, 0), revision: 3, seq: 20 };
    const docs = project(episodeActionsProjection, [...numbered, cp])(EPISODE_ACTIONS);
    const actions = docs.map(({ doc }) => [(doc['action'] as Doc)['action'], doc['guid']]);
    expect(actions).to.have.deep.members([
      ['play', 'e1'],
      ['play', 'e2'],
      ['download', 'e3'],
    ]);
  });
});
