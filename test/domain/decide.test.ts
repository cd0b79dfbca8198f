import { expect } from 'chai';
import type { ActionInput } from '../../src/domain/events.js';
import { actionInput } from '../../src/domain/events.js';
import { decideActionBatch, decideActions, deviceOf } from '../../src/domain/decide.js';
import { deciderSpec, ev, t, testContext, uuidOf } from './spec.js';

const FEED = 'https://example.com/feed.xml';
const action = (input: unknown): ActionInput => actionInput.parse(input);
const play = (at: string, extra: object = {}) =>
  action({ type: 'play', timestamp: at, object: { rss_source_feed: FEED, rss_source_id: 'g' }, data: { played: true, position: 3 }, ...extra });
const remove = (at: string) => action({ type: 'remove', timestamp: at, object: { rss_source_feed: FEED }, data: {} });
const privacy = (at: string, level: string) => action({ type: 'privacy', timestamp: at, object: null, data: { privacy: level } });

const spec = deciderSpec((_state, actions: ActionInput[], ctx) => decideActions(actions, ctx));

describe('decideActions', () => {
  it('sets the user and assigns ids only where the client gave none', () => {
    const { events } = spec
      .given([])
      .when([play(t(1), { id: uuidOf(7) }), play(t(2))])
      .then([ev.play(FEED, 'g', t(1), { played: true, position: 3 }), ev.play(FEED, 'g', t(2), { played: true, position: 3 })]);
    expect(events[0]!.id).to.equal(uuidOf(7));
    expect(events[1]!.id).to.not.equal(uuidOf(7));
  });

  it('orders the batch by timestamp, so a remove does not erase a later play listed before it', () => {
    const { state } = spec
      .given([])
      .when([play(t(2)), remove(t(1))])
      .then([ev.remove(t(1), { rss_source_feed: FEED }), ev.play(FEED, 'g', t(2), { played: true, position: 3 })]);
    expect(Object.keys(state.play_statuses)).to.have.length(1);
  });

  it('applies privacy changes in timestamp order, keeping the client order on ties', () => {
    const { state } = spec
      .given([])
      .when([privacy(t(3), 'private'), privacy(t(1), 'public'), privacy(t(3), 'anonymous')])
      .then([ev.privacy(t(1), 'public'), ev.privacy(t(3), 'private'), ev.privacy(t(3), 'anonymous')]);
    expect(state.privacy.account).to.equal('anonymous');
  });
});

describe('deviceOf', () => {
  it('reads the device of the event types that record one', () => {
    expect(deviceOf(ev.subscribe(FEED, t(1), { device: 'phone' }))).to.equal('phone');
    expect(deviceOf(ev.play(FEED, 'g', t(1), { played: true, position: 0, device: 'tv' }))).to.equal('tv');
    expect(deviceOf(ev.play(FEED, 'g', t(1), { played: true, position: 0 }))).to.equal(undefined);
    expect(deviceOf(ev.privacy(t(1), 'public'))).to.equal(undefined);
  });
});

describe('decideActionBatch (POST /v1/events)', () => {
  it('decides the events in timestamp order, and answers their ids in the order of the request', () => {
    const { events, ids } = decideActionBatch([play(t(5), { id: uuidOf(1) }), remove(t(2)), play(t(1), { id: uuidOf(3) })], testContext());
    expect(events.map((event) => event.timestamp)).to.deep.equal([t(1), t(2), t(5)]);
    expect(ids[0]).to.equal(uuidOf(1));
    expect(ids[2]).to.equal(uuidOf(3));
    expect(ids[1]).to.equal(events[1]!.id);
  });

  it('depends on no state: the same batch decides the same events whatever the user did before', () => {
    const batch = [play(t(1), { id: uuidOf(1) })];
    spec.given([]).when(batch).then(decideActionBatch(batch, testContext()).events);
    spec
      .given([ev.remove(t(0), null), ev.play(FEED, 'g', t(3), { played: false, position: 1 })])
      .when(batch)
      .then(decideActionBatch(batch, testContext()).events);
  });
});
