/**
 * The gpodder API's writes decided on the folded state (src/domain/gpodder-commands.ts), rule by
 * rule: given the user's events, when a command, then the events to append (or a 400 naming the
 * field, and nothing).
 */
import { expect } from 'chai';
import type { UserEvent } from '../../src/domain/events.js';
import type { GpodderActionRecord } from '../../src/domain/gpodder.js';
import { actionId, sanitizeChanges } from '../../src/domain/gpodder.js';
import {
  decideEpisodeActions,
  decideForgetDevice,
  decideNewDevices,
  finishedEpisodeKeys,
  decideSettings,
  decideSubscriptionList,
  decideSubscriptionUpload,
  decideSyncGroups,
  decideUpdateDevice,
  GpodderInputError,
  USER_LIMITS,
} from '../../src/domain/gpodder-commands.js';
import type { StateEvent } from '../../src/domain/state.js';
import { fold } from '../../src/domain/state.js';
import { NOW, USER, deciderSpec, ev, idSequence, t, testContext } from './spec.js';

const FEED = 'https://example.com/feed.xml';
const OTHER = 'https://other.example/rss';
const THIRD = 'https://third.example/podcast';
const ids = idSequence(0x7000);

const device = (at: string, data: Extract<UserEvent, { type: 'device' }>['data']): UserEvent => ({
  id: ids(),
  user: USER,
  timestamp: at,
  type: 'device',
  object: null,
  data,
});
const created = (id: string, data: Omit<Extract<UserEvent, { type: 'device' }>['data'], 'device_id'> = {}): UserEvent =>
  device(NOW, { device_id: id, ...data });
const syncGroup = (synchronize: string[][], stop: string[] = []): UserEvent => ({
  id: ids(),
  user: USER,
  timestamp: NOW,
  type: 'sync_group',
  object: null,
  data: { synchronize, stop_synchronize: stop },
});
const accountSetting = (at: string, set: Record<string, string>, remove: string[] = []): UserEvent => ({
  id: ids(),
  user: USER,
  timestamp: at,
  type: 'setting',
  object: null,
  data: { scope: 'account', set, remove },
});

function rejected(decide: () => unknown): GpodderInputError {
  try {
    decide();
  } catch (error) {
    expect(error).to.be.instanceOf(GpodderInputError);
    return error as GpodderInputError;
  }
  throw new Error('expected a GpodderInputError');
}

describe('gpodder decisions: devices', () => {
  const spec = deciderSpec(decideUpdateDevice);

  it('creates an unknown device with what is given', () => {
    spec
      .given([])
      .when({ device: 'phone', caption: 'Phone', type: 'mobile' })
      .then([created('phone', { caption: 'Phone', type: 'mobile' })]);
  });

  it('changes a known device only where it differs, and decides nothing when nothing does', () => {
    const history = [device(t(1), { device_id: 'phone', caption: 'Phone', type: 'mobile' })];
    spec.given(history).when({ device: 'phone', caption: 'Phone', type: 'mobile' }).thenNothing();
    spec.given(history).when({ device: 'phone' }).thenNothing();
    spec
      .given(history)
      .when({ device: 'phone', caption: 'My phone' })
      .then([created('phone', { caption: 'My phone' })]);
  });

  it('a device named like an Object.prototype member is a device like any other', () => {
    spec
      .given([])
      .when({ device: 'toString' })
      .then([created('toString')]);
  });

  it(`refuses a device beyond ${USER_LIMITS.devices}, naming the field; changing a known one stays possible`, () => {
    const state = fold(Array.from({ length: USER_LIMITS.devices }, (_, n) => device(t(n), { device_id: `d${n}` })));
    const error = rejected(() => decideUpdateDevice(state, { device: 'one-more' }, testContext()));
    expect(error.issues.map((issue) => issue.path)).to.deep.equal(['device']);
    spec
      .given(state)
      .when({ device: 'd1', caption: 'Renamed' })
      .then([created('d1', { caption: 'Renamed' })]);
  });

  it(`forgets a known device, which then no longer counts towards the ${USER_LIMITS.devices}; an unknown one decides nothing`, () => {
    const full = fold(Array.from({ length: USER_LIMITS.devices }, (_, n) => device(t(n), { device_id: `d${n}` })));
    expect(() => decideNewDevices(full, ['new-phone'], testContext())).to.throw(GpodderInputError);
    const forget = deciderSpec(decideForgetDevice);
    forget.given(full).when('no-such-device').thenNothing();
    const [forgotten] = decideForgetDevice(full, 'd7', testContext());
    expect(forgotten!.data).to.deep.equal({ device_id: 'd7', forgotten: true });
    const freed = fold([forgotten as StateEvent], full);
    expect(decideNewDevices(freed, ['new-phone'], testContext()).map((event) => event.data)).to.deep.equal([{ device_id: 'new-phone' }]);
  });

  it('a write naming devices creates only those the account does not know, once each', () => {
    const state = fold([device(t(1), { device_id: 'phone' })]);
    const events = decideNewDevices(state, ['phone', 'laptop', 'laptop'], testContext());
    expect(events.map((event) => event.data)).to.deep.equal([{ device_id: 'laptop' }]);
  });
});

describe('gpodder decisions: subscription uploads', () => {
  const upload = deciderSpec((state, command: { device: string | undefined; add: string[]; remove: string[] }, ctx) =>
    decideSubscriptionUpload(state, { device: command.device, changes: sanitizeChanges(command.add, command.remove) }, ctx),
  );

  it('subscribes to what is not subscribed and unsubscribes from what is, for the device, creating it first', () => {
    upload
      .given([ev.subscribe(FEED, t(1)), ev.subscribe(OTHER, t(2)), ev.unsubscribe(OTHER, t(3))])
      .when({ device: 'phone', add: [FEED, OTHER], remove: [THIRD] })
      .then([created('phone'), ev.subscribe(OTHER, NOW, { device: 'phone' })]);
    upload
      .given([ev.subscribe(FEED, t(1)), created('phone')])
      .when({ device: 'phone', add: [], remove: [FEED, THIRD] })
      .then([ev.unsubscribe(FEED, NOW, { device: 'phone' })]);
  });

  it('Nextcloud names no device: none is created or recorded', () => {
    upload
      .given([])
      .when({ device: undefined, add: [FEED], remove: [] })
      .then([ev.subscribe(FEED, NOW)]);
  });

  it('a URL both added and removed is a 400 naming it', () => {
    const error = rejected(() => decideSubscriptionUpload(fold([]), { device: 'phone', changes: sanitizeChanges([FEED], [FEED]) }, testContext()));
    expect(error.issues).to.deep.equal([{ path: 'add', message: `${FEED} is also in remove` }]);
  });

  it("the simple API's list replaces the account's subscriptions", () => {
    deciderSpec(decideSubscriptionList)
      .given([ev.subscribe(FEED, t(1)), ev.subscribe(OTHER, t(2)), created('pc')])
      .when({ device: 'pc', urls: [OTHER, THIRD] })
      .then([ev.subscribe(THIRD, NOW, { device: 'pc' }), ev.unsubscribe(FEED, NOW, { device: 'pc' })]);
  });
});

describe('gpodder decisions: sync groups', () => {
  const spec = deciderSpec(decideSyncGroups);
  const devices: StateEvent[] = [created('a'), created('b'), created('c')];

  it('synchronises known devices; groups of fewer than two devices are dropped', () => {
    spec
      .given(devices)
      .when({ synchronize: [['a', 'b', 'a'], ['c']], stop: [] })
      .then([syncGroup([['a', 'b']])]);
  });

  it('decides nothing when nothing is left to do', () => {
    spec
      .given(devices)
      .when({ synchronize: [['c']], stop: [] })
      .thenNothing();
  });

  it('an unknown device is a 400 naming each place it appears', () => {
    const error = rejected(() => decideSyncGroups(fold(devices), { synchronize: [['a', 'x']], stop: ['y'] }, testContext()));
    expect(error.issues.map((issue) => issue.path)).to.deep.equal(['synchronize.0.1', 'stop-synchronize.0']);
  });
});

describe('gpodder decisions: settings', () => {
  const spec = deciderSpec(decideSettings);

  it('sets and removes keys of a scope in one event; an empty change decides nothing', () => {
    spec
      .given([])
      .when({ target: { scope: 'account' }, set: { theme: 'dark' }, remove: ['old'] })
      .then([accountSetting(NOW, { theme: 'dark' }, ['old'])]);
    spec
      .given([])
      .when({ target: { scope: 'account' }, set: {}, remove: [] })
      .thenNothing();
  });

  it(`refuses a change that takes the account's settings, every scope, beyond ${USER_LIMITS.settingsBytes} bytes`, () => {
    const half = 'x'.repeat(USER_LIMITS.settingsBytes / 2);
    const state = fold([accountSetting(t(1), { big: half })]);
    const podcast = { scope: 'podcast' as const, podcast: FEED };
    const error = rejected(() => decideSettings(state, { target: podcast, set: { big: half }, remove: [] }, testContext()));
    expect(error.issues.map((issue) => issue.path)).to.deep.equal(['set']);
    // What a change replaces or removes is not counted.
    expect(decideSettings(state, { target: { scope: 'account' }, set: { big: half }, remove: [] }, testContext())).to.have.length(1);
    const emptied = fold([accountSetting(t(2), {}, ['big'])], state);
    expect(decideSettings(emptied, { target: podcast, set: { big: half }, remove: [] }, testContext())).to.have.length(1);
  });
});

describe('gpodder decisions: episode actions', () => {
  it('creates the devices the upload names that the account does not know, then the actions in time order under their derived ids', () => {
    const record = (at: string, action: GpodderActionRecord['action']): GpodderActionRecord => ({
      podcast: FEED,
      episode: 'https://example.com/ep.mp3',
      device: 'phone',
      action,
      timestamp: at,
    });
    const later = record(t(5), 'download');
    const earlier = record(t(2), 'new');
    const state = fold([created('laptop')]);
    const events = decideEpisodeActions(
      state,
      {
        devices: ['laptop', 'phone'],
        actions: [
          { id: actionId(USER, later), record: later },
          { id: actionId(USER, earlier), record: earlier },
        ],
      },
      testContext(),
    );
    expect(events.map((event) => event.type)).to.deep.equal(['device', 'episode_action', 'episode_action']);
    expect(events[0]!.data).to.deep.equal({ device_id: 'phone' });
    expect(events.slice(1).map((event) => event.id)).to.deep.equal([actionId(USER, earlier), actionId(USER, later)]);
  });

  it('records no finish of an episode already finished, unless marked new or played from a position since; older actions stay history', () => {
    const EPISODE = 'https://example.com/ep.mp3';
    const play = (at: string, position: number, total = 600): GpodderActionRecord => ({
      podcast: FEED,
      episode: EPISODE,
      action: 'play',
      timestamp: at,
      position,
      total,
    });
    const marked = (at: string): GpodderActionRecord => ({ podcast: FEED, episode: EPISODE, action: 'new', timestamp: at });
    const decide = (state: ReturnType<typeof fold>, records: GpodderActionRecord[]) => {
      // What the service hands over: the statuses of the episodes the upload finishes.
      const statuses = new Map(
        [...finishedEpisodeKeys(records)].flatMap((key) => (state.play_statuses[key] ? [[key, state.play_statuses[key]] as const] : [])),
      );
      const actions = records.map((record) => ({ id: actionId(USER, record), record }));
      return decideEpisodeActions(state, { devices: [], actions }, testContext(), statuses).map(
        (event) => `${event.type}@${event.timestamp}${event.type === 'play' ? ` ${event.data.position}${event.data.played ? ' played' : ''}` : ''}`,
      );
    };
    const finished = fold([ev.play(FEED, EPISODE, t(2), { played: true, position: 600 })]);
    expect(decide(finished, [play(t(3), 600)]), 'finished again: nothing').to.deep.equal([]);
    expect(decide(finished, [play(t(1), 600)]), 'an older finish is history').to.deep.equal([`play@${t(1)} 600 played`]);
    expect(decide(finished, [play(t(3), 300), play(t(4), 600)]), 'played from a position since').to.deep.equal([`play@${t(3)} 300`, `play@${t(4)} 600 played`]);
    expect(decide(finished, [marked(t(3)), play(t(4), 600)]), 'marked new since').to.deep.equal([`episode_action@${t(3)}`, `play@${t(4)} 600 played`]);
    expect(decide(fold([]), [play(t(3), 600), play(t(4), 600)]), 'twice in one upload').to.deep.equal([`play@${t(3)} 600 played`]);
    const listening = fold([ev.play(FEED, EPISODE, t(2), { played: false, position: 100 })]);
    expect(decide(listening, [play(t(3), 600), play(t(3), 200)]), 'positions are always recorded').to.deep.equal([
      `play@${t(3)} 600 played`,
      `play@${t(3)} 200`,
    ]);
  });
});
