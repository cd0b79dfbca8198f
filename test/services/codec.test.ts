/**
 * How user events are stored (src/services/codec.ts; docs/architecture.md, "Events and
 * streams"): the envelope's id and type are the store event's own, its user the stream's, and
 * the data holds the rest; events stored with the whole envelope read the same, and an erasure's
 * copy keeps its original's domain id.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { UserEvent } from '../../src/domain/events.js';
import { streams } from '../../src/domain/events.js';
import { toJsonObject } from '../../src/domain/json.js';
import { copyOf } from '../../src/retention/history.js';
import { copiedData, cutAfterStates, envelopeOf, fromStoreEvent, toStoreEvent, userEventOf } from '../../src/services/codec.js';
import type { EventToAppend, RecordedEvent } from '../../src/stores/event-store.js';
import { turnCounter } from '../support/turns.js';

const USER = '0b6c2f0e-6d55-4d2b-8f3a-1c2d3e4f5a6b';
const play: UserEvent = {
  id: '01a1968d-3900-778a-88dd-a45baf232cb8',
  user: USER,
  timestamp: '2026-11-01T10:00:00.000Z',
  object: { rss_source_feed: 'https://feeds.example.org/p0.xml', rss_source_id: 'g-0' },
  type: 'play',
  data: { played: false, position: 60, started: 0, total: 3600, enclosure: { url: 'https://cdn.example.org/p0/e0.mp3' }, device: 'phone' },
};

const recordedOf = (event: EventToAppend, stream = streams.user(USER), revision = 0n): RecordedEvent => ({
  id: event.id,
  type: event.type,
  // As a store hands it out: JSON written and read back.
  data: JSON.parse(JSON.stringify(event.data)),
  metadata: event.metadata ?? {},
  stream,
  revision,
  position: { commit: 10n + revision, prepare: 10n + revision },
  recordedAt: new Date('2026-11-01T10:00:01.000Z'),
});

describe('codec: user events in the store', function () {
  it('stores the envelope once: id and type as the store event, the user as the stream, the rest as data', function () {
    const stored = toStoreEvent(play, { username: 'ann' });
    expect(stored.id).to.equal(play.id);
    expect(stored.type).to.equal('play');
    expect(stored.data).to.deep.equal({ timestamp: play.timestamp, object: play.object, data: play.data });
    expect(JSON.stringify(stored.data)).to.not.include(USER);
    expect(stored.metadata).to.deep.equal({ username: 'ann' });
  });

  it('reads back the same event, in the envelope field order', function () {
    const read = userEventOf(recordedOf(toStoreEvent(play)));
    expect(read).to.deep.equal(play);
    expect(Object.keys(read)).to.deep.equal(['id', 'user', 'timestamp', 'object', 'type', 'data']);
    expect(fromStoreEvent(recordedOf(toStoreEvent(play)))).to.deep.equal(play);
    expect(envelopeOf(recordedOf(toStoreEvent(play)))).to.deep.equal(play);
  });

  it('reads an event stored with the whole envelope as its data the same', function () {
    const older = recordedOf({ id: play.id, type: play.type, data: toJsonObject(play) });
    expect(userEventOf(older)).to.deep.equal(play);
    expect(envelopeOf(older)).to.deep.equal(play);
  });

  it("an erasure's copy keeps its original's domain id, in both forms, and a copy of a copy too", function () {
    for (const original of [recordedOf(toStoreEvent(play)), recordedOf({ id: play.id, type: play.type, data: toJsonObject(play) })]) {
      const copy = recordedOf(copyOf(original, 'c0ffee00-0000-4000-8000-000000000001'), original.stream, 5n);
      expect(copy.id).to.not.equal(play.id);
      expect(userEventOf(copy)).to.deep.equal(play);
      const copyOfCopy = recordedOf(copyOf(copy, 'c0ffee00-0000-4000-8000-000000000002'), original.stream, 9n);
      expect(userEventOf(copyOfCopy)).to.deep.equal(play);
    }
    expect(copiedData(recordedOf(toStoreEvent(play)))).to.deep.equal({ id: play.id, ...toStoreEvent(play).data });
  });

  it('leaves the data of other events as it is', function () {
    const checkpoint = recordedOf({ id: 'c0ffee00-0000-4000-8000-000000000003', type: 'checkpoint', data: { id: 'x', type: 'checkpoint', data: {} } });
    expect(envelopeOf(checkpoint)).to.equal(checkpoint.data);
    expect(copiedData(checkpoint)).to.equal(checkpoint.data);
  });

  it('refuses a user event that names no user, outside a user stream', function () {
    const stray = recordedOf(toStoreEvent(play), 'podcast_stats-abc');
    expect(() => userEventOf(stray)).to.throw(/names no user/);
  });
});

describe('codec: pages cut after the events that carry a whole state', function () {
  const eventOf = (type: string, n: number): RecordedEvent => recordedOf({ id: `e${n}`, type, data: {} }, streams.user(USER), BigInt(n));

  it('gives every event once, in order, in pieces ending after a snapshot or checkpoint or where a page ends (property)', async function () {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.constantFrom('play', 'play', 'play', 'snapshot', 'checkpoint'), { minLength: 1, maxLength: 12 }), { maxLength: 5 }),
        async (types) => {
          let n = 0;
          const pages = types.map((page) => page.map((type) => eventOf(type, n++)));
          async function* source() {
            for (const page of pages) yield page;
          }
          const pieces: (readonly RecordedEvent[])[] = [];
          for await (const piece of cutAfterStates(source())) pieces.push(piece);
          expect(pieces.flat().map((event) => event.id)).to.deep.equal(pages.flat().map((event) => event.id));
          const pageEnds = new Set(pages.map((page) => page.at(-1)!.id));
          for (const piece of pieces) {
            expect(piece).to.have.length.above(0);
            // A state only at a piece's end; a piece ends at a state or at its page's end.
            piece.slice(0, -1).forEach((event) => expect(event.type).to.equal('play'));
            const last = piece.at(-1)!;
            expect(last.type !== 'play' || pageEnds.has(last.id), `piece ending at ${last.id}`).to.equal(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('lets other work run after each cut', async function () {
    const counter = turnCounter();
    async function* one() {
      yield ['play', 'snapshot', 'checkpoint', 'play', 'snapshot', 'checkpoint', 'play'].map((type, n) => eventOf(type, n));
    }
    const pieces: (readonly RecordedEvent[])[] = [];
    for await (const piece of cutAfterStates(one())) pieces.push(piece);
    const turns = counter.stop();
    expect(pieces.map((piece) => piece.length)).to.deep.equal([2, 1, 2, 1, 1]);
    expect(turns).to.be.at.least(4);
  });
});
