/** The state fold's gpodder parts (src/domain/gpodder-state.ts through state.ts). */
import { expect } from 'chai';
import fc from 'fast-check';
import type { UserEvent } from '../../src/domain/events.js';
import { userEvent } from '../../src/domain/events.js';
import { applySyncGroups, settingsKey } from '../../src/domain/gpodder-state.js';
import type { StateEvent, UserState } from '../../src/domain/state.js';
import { emptyState, episodeKey, fold } from '../../src/domain/state.js';
import { ev, idSequence, t, USER } from './spec.js';

const FEED = 'https://example.com/feed.xml';
const OTHER = 'https://other.example/rss';
const ids = idSequence(0x9000);
const base = (at: string) => ({ id: ids(), user: USER, timestamp: at });

function valid<T extends UserEvent>(event: T): T {
  const parsed = userEvent.safeParse(event);
  expect(parsed.success, parsed.error?.message).to.equal(true);
  return event;
}

const device = (at: string, data: Extract<UserEvent, { type: 'device' }>['data']): UserEvent => valid({ ...base(at), type: 'device', object: null, data });
const syncGroup = (at: string, synchronize: string[][], stop: string[] = []): UserEvent =>
  valid({ ...base(at), type: 'sync_group', object: null, data: { synchronize, stop_synchronize: stop } });
const setting = (
  at: string,
  target: { scope: 'account' | 'device' | 'podcast' | 'episode'; device?: string; podcast?: string; episode?: string },
  set: Record<string, unknown>,
  remove: string[] = [],
): UserEvent =>
  valid({
    ...base(at),
    type: 'setting',
    object: target.podcast === undefined ? null : { rss_source_feed: target.podcast, ...(target.episode ? { rss_source_id: target.episode } : {}) },
    data: { scope: target.scope, ...(target.device ? { device: target.device } : {}), set: set as Record<string, never>, remove },
  });

describe('state fold: gpodder devices', () => {
  it('creates a device with defaults and changes only the fields given', () => {
    const state = fold([
      device(t(1), { device_id: 'phone' }),
      device(t(2), { device_id: 'phone', caption: 'My phone' }),
      device(t(3), { device_id: 'phone', type: 'mobile' }),
    ]);
    expect(state.devices['phone']).to.deep.equal({ id: 'phone', caption: 'My phone', type: 'mobile', created_at: t(1), updated_at: t(3) });
  });

  it('a bare device event (auto-creation) changes nothing about a known device', () => {
    const before = fold([device(t(1), { device_id: 'phone', caption: 'Phone', type: 'mobile' })]);
    expect(fold([device(t(5), { device_id: 'phone' })], before)).to.deep.equal(before);
  });

  it('is last-writer-wins by time', () => {
    const state = fold([device(t(5), { device_id: 'pc', caption: 'New' }), device(t(3), { device_id: 'pc', caption: 'Old' })]);
    expect(state.devices['pc']!.caption).to.equal('New');
  });

  it("forgetting a device takes its record, its place in a sync group and its settings, and nobody else's", () => {
    const before = fold([
      device(t(1), { device_id: 'phone', caption: 'Phone' }),
      device(t(1), { device_id: 'laptop' }),
      device(t(1), { device_id: 'tablet' }),
      device(t(1), { device_id: 'tv' }),
      syncGroup(t(2), [['phone', 'laptop', 'tablet']]),
      setting(t(3), { scope: 'device', device: 'phone' }, { auto_download: true }),
      setting(t(3), { scope: 'device', device: 'laptop' }, { auto_download: false }),
      setting(t(3), { scope: 'account' }, { theme: 'dark' }),
    ]);
    const after = fold([device(t(4), { device_id: 'phone', forgotten: true })], before);
    expect(Object.keys(after.devices).sort()).to.deep.equal(['laptop', 'tablet', 'tv']);
    expect(after.sync_groups).to.deep.equal([['laptop', 'tablet']]);
    expect(Object.keys(after.settings).sort()).to.deep.equal([settingsKey({ scope: 'account' }), settingsKey({ scope: 'device', device: 'laptop' })].sort());
    // A group left with one device is gone.
    expect(fold([device(t(5), { device_id: 'laptop', forgotten: true })], after).sync_groups).to.deep.equal([]);
  });

  it('forgetting an unknown device, or forgetting one with a time before its last change, changes nothing', () => {
    const before = fold([device(t(5), { device_id: 'phone', caption: 'Phone' })]);
    expect(fold([device(t(6), { device_id: 'laptop', forgotten: true })], before)).to.deep.equal(before);
    expect(fold([device(t(4), { device_id: 'phone', forgotten: true })], before)).to.deep.equal(before);
  });

  it('a forgotten device used again is a new device', () => {
    const state = fold([
      device(t(1), { device_id: 'phone', caption: 'Phone', type: 'mobile' }),
      device(t(2), { device_id: 'phone', forgotten: true }),
      device(t(3), { device_id: 'phone' }),
    ]);
    expect(state.devices['phone']).to.deep.equal({ id: 'phone', caption: '', type: 'other', created_at: t(3), updated_at: t(3) });
  });
});

describe('state fold: gpodder sync groups', () => {
  it('merges overlapping groups, stops devices, drops groups of one', () => {
    let state = fold([syncGroup(t(1), [['b', 'a']]), syncGroup(t(2), [['c', 'd']])]);
    expect(state.sync_groups).to.deep.equal([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    state = fold([syncGroup(t(3), [['d', 'e']], ['a'])], state);
    expect(state.sync_groups).to.deep.equal([['c', 'd', 'e']]);
    state = fold([syncGroup(t(4), [], ['c', 'd'])], state);
    expect(state.sync_groups).to.deep.equal([]);
  });

  it('the result does not depend on the order of devices within groups (property)', () => {
    const groups = fc.array(fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { minLength: 2, maxLength: 4 }), { maxLength: 4 });
    fc.assert(
      fc.property(groups, fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 2 }), (synchronize, stop) => {
        const reversed = synchronize.map((group) => [...group].reverse());
        expect(applySyncGroups([], reversed, stop)).to.deep.equal(applySyncGroups([], synchronize, stop));
        for (const group of applySyncGroups([], synchronize, stop)) expect(group.length).to.be.at.least(2);
      }),
    );
  });
});

describe('state fold: gpodder settings', () => {
  it('is linear in the number of scopes: 20,000 podcasts set and cleared fold in well under a second', () => {
    const scopes = Array.from({ length: 20_000 }, (_, n) => ({ scope: 'podcast' as const, podcast: `https://feeds.example/${n}.xml` }));
    const events = [
      ...scopes.map((target, n) => setting(t(n % 50), target, { speed: 1.5 })),
      ...scopes.slice(0, 10_000).map((target) => setting(t(60), target, {}, ['speed'])),
    ];
    const started = performance.now();
    const state = fold(events);
    // Copied per event, 5,000 scopes took 3.3 s (a write or a sync folds a user it has not cached).
    expect(performance.now() - started).to.be.below(1000);
    expect(Object.keys(state.settings)).to.have.length(10_000);
    expect(state.settings[settingsKey(scopes[10_000]!)]!.values).to.deep.equal({ speed: 1.5 });
  });

  it('sets and removes keys per scope; an emptied scope is gone', () => {
    let state = fold([
      setting(t(1), { scope: 'account' }, { theme: 'dark', volume: 3 }),
      setting(t(2), { scope: 'device', device: 'phone' }, { auto: true }),
      setting(t(3), { scope: 'podcast', podcast: FEED }, { speed: 1.5, tags: ['a'] }),
      setting(t(4), { scope: 'episode', podcast: FEED, episode: 'https://example.com/1.mp3' }, { note: { x: 1 } }),
      setting(t(5), { scope: 'account' }, { volume: 4 }, ['theme']),
    ]);
    expect(state.settings[settingsKey({ scope: 'account' })]!.values).to.deep.equal({ volume: 4 });
    expect(state.settings[settingsKey({ scope: 'device', device: 'phone' })]!.values).to.deep.equal({ auto: true });
    expect(state.settings[settingsKey({ scope: 'podcast', podcast: FEED })]).to.deep.include({
      podcast: FEED,
      episode: null,
      values: { speed: 1.5, tags: ['a'] },
    });
    expect(state.settings[settingsKey({ scope: 'episode', podcast: FEED, episode: 'https://example.com/1.mp3' })]!.values).to.deep.equal({ note: { x: 1 } });
    state = fold([setting(t(6), { scope: 'device', device: 'phone' }, {}, ['auto'])], state);
    expect(state.settings).not.to.have.property(settingsKey({ scope: 'device', device: 'phone' }));
  });

  it('erasing a feed erases its podcast and episode settings, not the others', () => {
    const state = fold([
      setting(t(1), { scope: 'account' }, { a: 1 }),
      setting(t(2), { scope: 'podcast', podcast: FEED }, { b: 2 }),
      setting(t(3), { scope: 'episode', podcast: FEED, episode: 'https://example.com/1.mp3' }, { c: 3 }),
      setting(t(4), { scope: 'podcast', podcast: OTHER }, { d: 4 }),
      ev.remove(t(5), { rss_source_feed: FEED }),
    ]);
    expect(Object.values(state.settings).map((entry) => entry.values)).to.deep.equal([{ a: 1 }, { d: 4 }]);
  });

  it('erasing one episode keeps its podcast settings', () => {
    const state = fold([
      setting(t(1), { scope: 'podcast', podcast: FEED }, { b: 2 }),
      setting(t(2), { scope: 'episode', podcast: FEED, episode: 'https://example.com/1.mp3' }, { c: 3 }),
      ev.remove(t(3), { rss_source_feed: FEED, rss_source_id: 'https://example.com/1.mp3' }),
    ]);
    expect(Object.values(state.settings).map((entry) => entry.values)).to.deep.equal([{ b: 2 }]);
  });

  it('erasing everything keeps devices, sync groups and account settings (not listening data)', () => {
    const state = fold([
      device(t(1), { device_id: 'a' }),
      device(t(1), { device_id: 'b' }),
      syncGroup(t(2), [['a', 'b']]),
      setting(t(3), { scope: 'account' }, { a: 1 }),
      setting(t(3), { scope: 'podcast', podcast: FEED }, { b: 2 }),
      ev.subscribe(FEED, t(4)),
      ev.remove(t(5), null),
    ]);
    expect(Object.keys(state.devices)).to.deep.equal(['a', 'b']);
    expect(state.sync_groups).to.deep.equal([['a', 'b']]);
    expect(Object.values(state.settings).map((entry) => entry.values)).to.deep.equal([{ a: 1 }]);
    expect(state.subscriptions).to.deep.equal({});
  });
});

describe('state fold: what gpodder relies on elsewhere', () => {
  it('a checkpoint taken before devices, sync groups and settings existed folds to empty ones', () => {
    const old = { subscriptions: {}, play_statuses: {}, playlists: {}, privacy: { account: 'public', feeds: {} } } as unknown as UserState;
    const state = fold([{ type: 'checkpoint', timestamp: t(1), data: { state: old } } as StateEvent]);
    expect(state).to.deep.equal({ ...emptyState(), privacy: { account: 'public', feeds: {} } });
  });

  it('a play carrying only the media URL keeps the known duration and cover', () => {
    const state = fold([
      ev.play(FEED, 'g', t(1), {
        played: false,
        position: 1,
        enclosure: { url: 'https://example.com/old.mp3', duration: 60, cover: { src: 'https://example.com/c.jpg' } },
      }),
      ev.play(FEED, 'g', t(2), { played: false, position: 30, enclosure: { url: 'https://example.com/g.mp3' } }),
    ]);
    expect(state.play_statuses[episodeKey(FEED, 'g')]!.rss_enclosure).to.deep.equal({
      url: 'https://example.com/g.mp3',
      duration: 60,
      cover: { src: 'https://example.com/c.jpg' },
    });
  });

  it('episode actions (download, delete, new) are history, not state', () => {
    const action = valid({
      ...base(t(1)),
      type: 'episode_action',
      object: { rss_source_feed: FEED, rss_source_id: 'g' },
      data: { action: 'download' },
    } as UserEvent);
    expect(fold([action])).to.deep.equal(emptyState());
  });
});
