/**
 * The pure parts of retention's view of a stream (src/retention/history.ts): ages of rewritten
 * copies, where a pass cuts, the EventStoreDB erasure rewrite and the rule saying which
 * rewritten copies projections see. Run always (no server needed).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { UserEvent } from '../../src/domain/events.js';
import { isUserEventType } from '../../src/domain/events.js';
import type { StateEvent, UserState } from '../../src/domain/state.js';
import { fold } from '../../src/domain/state.js';
import { toProjectedEvent } from '../../src/projector/projected-event.js';
import {
  REWRITTEN_FROM,
  copyId,
  copyOf,
  oldestRetainedAt,
  planErasureRewrite,
  projectsRewrittenCopy,
  retainedAt,
  retentionCut,
  rewriteOrigin,
} from '../../src/retention/history.js';
import type { JsonObject, RecordedEvent } from '../../src/stores/event-store.js';
import { checkpointStateOf, checkpointStateOfPaced } from '../../src/retention/snapshot.js';
import { turnCounter } from '../support/turns.js';
import { toJsonObject } from '../../src/domain/json.js';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 0, 1);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function recorded(revision: number, type: string, options: { day?: number; data?: JsonObject; metadata?: JsonObject; id?: string } = {}): RecordedEvent {
  return {
    id: options.id ?? randomUUID(),
    type,
    data: options.data ?? { type },
    metadata: options.metadata ?? { username: 'ann' },
    stream: 'user-1',
    revision: BigInt(revision),
    position: { commit: BigInt(100 + revision), prepare: BigInt(100 + revision) },
    recordedAt: new Date(T0 + (options.day ?? revision) * DAY),
  };
}

/** A stored user event whose data is the envelope, as the service stores them. */
function stored(revision: number, event: Omit<UserEvent, 'id' | 'user'>, day = revision): RecordedEvent {
  const id = randomUUID();
  return recorded(revision, event.type, { id, day, data: { ...event, id, user: '1' } as unknown as JsonObject });
}

const stateOf = (events: readonly RecordedEvent[]) => fold(events.map((event) => event.data as unknown as StateEvent));
const checkpointOf = (state: UserState): StateEvent => ({ type: 'checkpoint', timestamp: new Date(T0).toISOString(), data: { state } });

describe('retention history (pure)', function () {
  describe('rewritten copies', function () {
    it('keep type, data and metadata, and name their original: id, revision, recorded time, rewrite', function () {
      const original = recorded(7, 'play', { day: 3, data: { id: 'domain-id', type: 'play' }, metadata: { username: 'ann', request_id: 'r1' } });
      const copy = copyOf(original, 'checkpoint-1');
      expect(copy.type).to.equal('play');
      expect(copy.data).to.deep.equal(original.data);
      expect(copy.metadata).to.deep.include({ username: 'ann', request_id: 'r1' });
      expect(copy.metadata?.[REWRITTEN_FROM]).to.deep.equal({
        event_id: original.id,
        revision: '7',
        recorded_at: new Date(T0 + 3 * DAY).toISOString(),
        checkpoint: 'checkpoint-1',
      });
      expect(copy.id).to.match(UUID).and.not.equal(original.id);
    });

    it('derive their ids from the rewrite and the original, so a retried rewrite appends the same ids', function () {
      const original = randomUUID();
      expect(copyId('c1', original)).to.equal(copyId('c1', original));
      expect(copyId('c1', original.toUpperCase())).to.equal(copyId('c1', original));
      expect(copyId('c2', original)).to.not.equal(copyId('c1', original));
      for (let i = 0; i < 50; i++) expect(copyId(randomUUID(), randomUUID())).to.match(UUID);
    });

    it('a copy of a copy names the first original, with the new rewrite', function () {
      const original = recorded(2, 'play', { day: 1 });
      const first = copyOf(original, 'c1');
      const firstStored = recorded(9, 'play', { day: 20, id: first.id, data: first.data, metadata: first.metadata! });
      const second = copyOf(firstStored, 'c2');
      expect(rewriteOrigin(second.metadata!)).to.deep.equal({
        event_id: original.id,
        revision: '2',
        recorded_at: new Date(T0 + DAY).toISOString(),
        checkpoint: 'c2',
      });
      expect(retainedAt(recorded(15, 'play', { day: 40, metadata: second.metadata! })).getTime()).to.equal(T0 + DAY);
    });

    it('ages: a copy is as old as its original; anything else as its own recording', function () {
      const copy = recorded(10, 'play', {
        day: 50,
        metadata: { [REWRITTEN_FROM]: { event_id: 'x', revision: '1', recorded_at: new Date(T0 + 2 * DAY).toISOString(), checkpoint: 'c' } },
      });
      expect(retainedAt(copy).getTime()).to.equal(T0 + 2 * DAY);
      expect(retainedAt(recorded(10, 'play', { day: 50 })).getTime()).to.equal(T0 + 50 * DAY);
      // Malformed markers are not trusted.
      for (const marker of [null, 'x', { event_id: 'x' }, { event_id: 'x', revision: '1', recorded_at: 'not a date', checkpoint: 'c' }]) {
        expect(rewriteOrigin({ [REWRITTEN_FROM]: marker } as JsonObject)).to.equal(undefined);
      }
      expect(oldestRetainedAt([recorded(0, 'play', { day: 9 }), copy, recorded(11, 'play', { day: 51 })])?.getTime()).to.equal(T0 + 2 * DAY);
      expect(oldestRetainedAt([])).to.equal(undefined);
    });
  });

  describe('which rewritten copies projections see', function () {
    const marker = { [REWRITTEN_FROM]: { event_id: 'x', revision: '1', recorded_at: new Date(T0).toISOString(), checkpoint: 'c' } };

    it('events that are not copies: always', function () {
      for (const type of ['privacy', 'play', 'sync_group', 'checkpoint', 'roll_stats'])
        expect(projectsRewrittenCopy({ type, metadata: {} }), type).to.equal(true);
    });

    it('copies of what a read model keeps per event: yes; copies of state-only events: no', function () {
      for (const type of ['subscribe', 'unsubscribe', 'play', 'position', 'save', 'share', 'episode_action'])
        expect(projectsRewrittenCopy({ type, metadata: marker }), type).to.equal(true);
      for (const type of ['privacy', 'playlist', 'device', 'sync_group', 'setting', 'sync'])
        expect(projectsRewrittenCopy({ type, metadata: marker }), type).to.equal(false);
    });

    it('the projector applies the rule', function () {
      const privacy = stored(3, { type: 'privacy', timestamp: new Date(T0).toISOString(), object: null, data: { privacy: 'public' } });
      expect(toProjectedEvent(privacy)).to.not.equal(undefined);
      expect(toProjectedEvent({ ...privacy, metadata: { ...privacy.metadata, ...marker } })).to.equal(undefined);
      const play = stored(4, {
        type: 'play',
        timestamp: new Date(T0).toISOString(),
        object: { rss_source_feed: 'https://f.example/rss', rss_source_id: 'e1' },
        data: { played: true, position: 1 },
      });
      expect(toProjectedEvent({ ...play, metadata: { ...play.metadata, ...marker } })?.event).to.deep.equal(play.data);
    });
  });

  describe('retentionCut', function () {
    const keepFrom = new Date(T0 + 31 * DAY);

    it('on a stream recorded in order: the first event recorded since keepFrom', function () {
      const events = [0, 10, 30, 31, 40].map((day, revision) => recorded(revision, 'play', { day }));
      expect(retentionCut(events, keepFrom)).to.equal(3);
      expect(retentionCut(events.slice(3), keepFrom)).to.equal(0);
      expect(retentionCut(events.slice(0, 3), keepFrom)).to.equal(3);
    });

    it('after a rewrite: past the last old copy, whatever newer events precede it', function () {
      const copyFrom = (day: number) => ({
        [REWRITTEN_FROM]: { event_id: randomUUID(), revision: '0', recorded_at: new Date(T0 + day * DAY).toISOString(), checkpoint: 'c' },
      });
      // An unfinished rewrite: originals, then their copies (recorded at day 35), then the checkpoint.
      const events = [
        recorded(0, 'play', { day: 5 }),
        recorded(1, 'play', { day: 33 }),
        recorded(2, 'play', { day: 35, metadata: copyFrom(5) }),
        recorded(3, 'play', { day: 35, metadata: copyFrom(33) }),
        recorded(4, 'checkpoint', { day: 35 }),
      ];
      expect(retentionCut(events, keepFrom)).to.equal(3);
    });
  });

  describe('planErasureRewrite', function () {
    it('copies the kept user events in order, then the closing events; $tb at the first copy', function () {
      const events = [
        recorded(4, 'play'),
        recorded(5, 'play'),
        recorded(6, 'snapshot'),
        recorded(7, 'checkpoint'),
        recorded(8, 'privacy'),
        recorded(9, 'remove'),
        recorded(10, 'sync'),
      ];
      const erased = new Set([events[1]!.id, events[3]!.id, events[5]!.id]);
      let seen: { truncateBefore: bigint; kept: readonly RecordedEvent[] } | undefined;
      const rewrite = planErasureRewrite(events, erased, isUserEventType, (plan) => {
        seen = plan;
        return {
          checkpointId: 'cp',
          events: [
            { id: randomUUID(), type: 'snapshot', data: {} },
            { id: 'cp', type: 'checkpoint', data: {} },
          ],
        };
      });
      expect(rewrite.truncateBefore).to.equal(11n);
      expect(seen?.truncateBefore).to.equal(11n);
      expect(rewrite.kept.map((event) => event.revision)).to.deep.equal([4n, 8n, 10n]);
      expect(seen?.kept).to.deep.equal(rewrite.kept);
      expect(rewrite.events.map((event) => event.type)).to.deep.equal(['play', 'privacy', 'sync', 'snapshot', 'checkpoint']);
      expect(rewrite.events.slice(0, 3).map((event) => rewriteOrigin(event.metadata!)?.revision)).to.deep.equal(['4', '8', '10']);
      expect(rewrite.events.slice(0, 3).every((event) => rewriteOrigin(event.metadata!)?.checkpoint === 'cp')).to.equal(true);
    });

    it('puts the checkpoint last: copies re-applied after it would undo sync-group edits', function () {
      const at = (minute: number) => new Date(T0 + minute * 60_000).toISOString();
      const group = (minute: number, synchronize: string[][], stop: string[]) =>
        stored(minute, { type: 'sync_group', timestamp: at(minute), object: null, data: { synchronize, stop_synchronize: stop } });
      const history = [group(0, [['a', 'b']], []), group(1, [], ['a']), group(2, [['a', 'c']], [])];
      const state = stateOf(history);
      expect(state.sync_groups).to.deep.equal([['a', 'c']]);
      // Checkpoint first, copies after: the copies are folded onto a state that holds them already.
      expect(fold([checkpointOf(state), ...history.map((event) => event.data as unknown as StateEvent)]).sync_groups).to.deep.equal([['a', 'b', 'c']]);
      // Copies first, checkpoint last (the rewrite's layout): exactly the state.
      expect(fold([...history.map((event) => event.data as unknown as StateEvent), checkpointOf(state)])).to.deep.equal(state);
    });
  });
});

describe("checkpointStateOfPaced (the erasure reactor's fold, on the HTTP thread)", function () {
  it('gives what checkpointStateOf gives, folding 2,000 events at a time with other work between', async function () {
    const feed = 'https://a.example/feed.xml';
    const events = Array.from({ length: 4_500 }, (_, n) =>
      n % 1_000 === 999
        ? stored(
            n,
            { type: 'remove', timestamp: new Date(T0 + n * 1000).toISOString(), object: { rss_source_feed: feed, rss_source_id: `g${n - 1}` }, data: {} },
            0,
          )
        : stored(
            n,
            {
              type: 'play',
              timestamp: new Date(T0 + n * 1000).toISOString(),
              object: { rss_source_feed: feed, rss_source_id: `g${n}` },
              data: { played: true, position: n },
            },
            0,
          ),
    );
    const now = new Date(T0 + DAY);
    const counter = turnCounter();
    const paced = await checkpointStateOfPaced(events, now);
    const turnsBeforeDone = counter.stop();
    expect(paced).to.deep.equal(checkpointStateOf(events, now));
    expect(Object.keys(paced.play_statuses)).to.have.length(4_500 - 4 - 4);
    // Three slices: two turns of the event loop between them (and none needed before the first).
    expect(turnsBeforeDone).to.be.at.least(2);
  });

  it('ends a slice after each checkpoint and snapshot too (each carries a whole state), to the same state', async function () {
    const feed = 'https://a.example/feed.xml';
    const play = (n: number) =>
      stored(
        n,
        {
          type: 'play',
          timestamp: new Date(T0 + n * 1000).toISOString(),
          object: { rss_source_feed: feed, rss_source_id: `g${n}` },
          data: { played: true, position: n },
        },
        0,
      );
    const before = Array.from({ length: 300 }, (_, n) => play(n));
    const state = stateOf(before);
    const withState = (revision: number, type: 'snapshot' | 'checkpoint') =>
      recorded(revision, type, { day: 0, data: toJsonObject({ ...checkpointOf(state), id: randomUUID(), user: '1' }) });
    const events = [...before, withState(300, 'snapshot'), withState(301, 'checkpoint'), ...Array.from({ length: 300 }, (_, n) => play(302 + n))];
    const now = new Date(T0 + DAY);
    const counter = turnCounter();
    const paced = await checkpointStateOfPaced(events, now);
    // Four slices (to the snapshot, the checkpoint, the rest): a turn between each two.
    expect(counter.stop()).to.be.at.least(2);
    expect(paced).to.deep.equal(checkpointStateOf(events, now));
    expect(Object.keys(paced.play_statuses)).to.have.length(600);
  });
});
