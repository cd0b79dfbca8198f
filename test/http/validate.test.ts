/**
 * A long request checked a slice at a time (src/http/validate.ts, `parseInputPaced`) answers
 * exactly what its schema answers at once: the same parsed request, or the same 400 naming the
 * same fields, for valid and invalid inputs alike. Pinned on the sync request, the one paced
 * body, against `syncRequest` itself.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { SYNC_LIMITS, pacedSyncRequest, syncRequest } from '../../src/domain/sync.js';
import { MAX_ACTIONS_PER_UPLOAD, gpodderUploadBody, pacedGpodderUpload } from '../../src/domain/gpodder.js';
import { HttpError, validationError } from '../../src/http/errors.js';
import type { PacedSchema } from '../../src/http/validate.js';
import { parseInputPaced } from '../../src/http/validate.js';
import type { z } from 'zod';
import { turnCounter } from '../support/turns.js';

type Outcome = { ok: unknown } | { status: number; body: unknown };

async function paced(input: unknown, schema: PacedSchema<z.ZodType> = pacedSyncRequest): Promise<Outcome> {
  try {
    return { ok: await parseInputPaced(schema, input) };
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return { status: error.status, body: { message: error.message, details: error.details } };
  }
}

function atOnce(input: unknown, schema: z.ZodType = syncRequest): Outcome {
  const result = schema.safeParse(input);
  if (result.success) return { ok: result.data };
  const error = validationError(result.error);
  return { status: error.status, body: { message: error.message, details: error.details } };
}

async function expectSame(input: unknown): Promise<Outcome> {
  const outcome = await paced(input);
  expect(outcome).to.deep.equal(atOnce(input));
  return outcome;
}

/** `expectSame` over `runs` random inputs, valid ones and invalid ones among them (both kinds compared, not only one). */
async function expectSameOnBoth(inputs: fc.Arbitrary<unknown>, same: (input: unknown) => Promise<Outcome>, runs: number): Promise<void> {
  let valid = 0;
  await fc.assert(
    fc.asyncProperty(inputs, async (input) => {
      if ('ok' in (await same(input))) valid++;
    }),
    { numRuns: runs },
  );
  expect(valid).to.be.within(20, runs - 20);
}

async function expectSameUpload(input: unknown): Promise<Outcome> {
  const outcome = await paced(input, pacedGpodderUpload);
  expect(outcome).to.deep.equal(atOnce(input, gpodderUploadBody));
  return outcome;
}

const FEEDS = ['https://a.example.org/feed.xml', ' https://b.example.org/feed ', 'ftp://c.example.org/', 'not a url'];
const TIMES = ['2026-01-01T10:00:00Z', '2026-01-01T12:00:00+02:00', '2026-02-30T10:00:00Z', 'yesterday'];
const oneOf = <T>(values: readonly T[]) => fc.constantFrom(...values);
/** Mostly valid values, now and then a wrong one: about half the requests hold one. */
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: valid, weight: 60 }, { arbitrary: invalid, weight: 1 });
/** Now and then a key the schema does not know. */
const withUnknownKey = <T extends object>(record: fc.Arbitrary<T>) =>
  fc.tuple(record, fc.nat({ max: 200 })).map(([value, dice]) => (dice === 0 ? { ...value, unknown: true } : value));

/** One of `count` numbered values: lists of a few of them repeat one now and then (a duplicate). */
const numbered = (prefix: string, count: number) => fc.nat({ max: count - 1 }).map((n) => `${prefix}${n}`);
const feed = mostly(fc.oneof(numbered('https://a.example.org/feed/', 40), numbered(' https://b.example.org/', 40)), oneOf([...FEEDS.slice(2), 42, null]));
const time = mostly(oneOf(TIMES.slice(0, 2)), oneOf([...TIMES.slice(2), 0]));
const guid = mostly(numbered('g', 40), oneOf(['', 7, 'a\u0007b']));

const subscription = withUnknownKey(
  fc.record(
    {
      rss_source_feed: feed,
      rss_feed_title: fc.option(mostly(oneOf(['Title']), oneOf(['x'.repeat(2_000)]))),
      subscribed_at: time,
      unsubscribed_at: fc.option(time),
    },
    { requiredKeys: ['rss_source_feed', 'subscribed_at'] },
  ),
);
const playStatus = withUnknownKey(
  fc.record(
    {
      rss_source_feed: feed,
      rss_source_id: guid,
      played: mostly(fc.boolean(), oneOf(['yes', 1])),
      position: mostly(fc.nat({ max: 10_000 }), oneOf([-1, 'x', 1e12])),
      updated_at: time,
      enclosure: fc.option(fc.record({ url: feed, duration: mostly(fc.nat({ max: 100_000 }), oneOf([-5, 1e10])) }, { requiredKeys: [] })),
    },
    { requiredKeys: ['rss_source_feed', 'rss_source_id', 'played', 'position', 'updated_at'] },
  ),
);
const item = fc.record(
  {
    item_id: mostly(numbered('i', 100), oneOf(['', 3])),
    rss_source_feed: feed,
    rss_source_id: guid,
    created_at: time,
    updated_at: time,
    deleted_at: fc.option(time),
  },
  { requiredKeys: ['item_id', 'rss_source_feed', 'rss_source_id', 'created_at', 'updated_at'] },
);
const playlist = fc.record(
  {
    id: numbered('p', 40),
    name: mostly(oneOf(['Queue']), oneOf(['', 5])),
    updated_at: time,
    items: mostly(fc.array(item, { maxLength: 4 }), oneOf(['x', null])),
  },
  { requiredKeys: ['id', 'name', 'updated_at', 'items'] },
);
const task = fc.record({
  id: mostly(
    fc.nat({ max: 39 }).map((n) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`),
    oneOf(['t1']),
  ),
  type: mostly(oneOf(['remove']), oneOf(['play'])),
  timestamp: time,
  object: fc.constant({ rss_source_feed: FEEDS[0] }),
  data: fc.constant({}),
});
/** A list, or now and then something that is not one. */
const list = (element: fc.Arbitrary<unknown>) => mostly(fc.array(element, { maxLength: 6 }), oneOf(['list', {}, null]));

const request = withUnknownKey(
  fc.record(
    {
      device: mostly(oneOf(['phone', 'web']), oneOf(['', 3])),
      request_id: mostly(oneOf(['r1', 'r2']), oneOf([null, ''])),
      since: fc.option(mostly(oneOf(['0', '123']), oneOf(['abc', 5]))),
      subscriptions: list(subscription),
      play_statuses: list(playStatus),
      playlists: list(playlist),
      tasks: list(task),
    },
    { requiredKeys: ['device', 'request_id', 'subscriptions', 'play_statuses', 'playlists'] },
  ),
);

const FEED = FEEDS[0]!;
const statuses = (count: number) =>
  Array.from({ length: count }, (_, index) => ({ rss_source_feed: FEED, rss_source_id: `g${index}`, played: false, position: index, updated_at: TIMES[1]! }));
const base = { device: 'phone', request_id: 'r1', subscriptions: [], play_statuses: [], playlists: [] };

describe('parseInputPaced (the sync request a slice at a time)', () => {
  it('answers what syncRequest answers, for random valid and invalid requests', async () => {
    await expectSameOnBoth(request, expectSame, 600);
  });

  it('answers what syncRequest answers for inputs that are not requests', async () => {
    for (const input of [
      null,
      42,
      'sync',
      [],
      [base],
      JSON.parse('{"__proto__":{"polluted":true},"device":"phone"}') as unknown,
      { ...base, play_statuses: [null] },
    ])
      await expectSame(input);
  });

  it('parses long lists, slice after slice, into the request syncRequest parses', async () => {
    const outcome = await expectSame({ ...base, play_statuses: statuses(5_000) });
    expect(outcome).to.have.nested.property('ok.play_statuses').with.length(5_000);
    // Normalised as the schema normalises: to UTC.
    expect((outcome as { ok: { play_statuses: { updated_at: string }[] } }).ok.play_statuses[4_999]!.updated_at).to.equal('2026-01-01T10:00:00.000Z');
  });

  it('lets the event loop serve other work between slices', async () => {
    const counter = turnCounter();
    await parseInputPaced(pacedSyncRequest, { ...base, play_statuses: statuses(5_000) });
    const turns = counter.stop();
    // A slice is 1,000 elements: at least one turn of the loop after each of the first four.
    expect(turns).to.be.at.least(4);
  });

  it('names a bad element deep in a long list, and a duplicate, as syncRequest does', async () => {
    const bad = statuses(3_000);
    bad[2_500] = { ...bad[2_500]!, updated_at: 'soon' };
    expect(await expectSame({ ...base, play_statuses: bad })).to.have.nested.property('body.details.issues[0].path', 'play_statuses.2500.updated_at');
    const twice = statuses(3_000);
    twice[2_999] = { ...twice[2_999]!, rss_source_id: 'g7' };
    expect(await expectSame({ ...base, play_statuses: twice })).to.have.nested.property('body.details.issues[0].path', 'play_statuses.2999.rss_source_id');
  });

  it('enforces the lists’ limits as syncRequest does', async () => {
    const tooMany = await expectSame({ ...base, play_statuses: statuses(SYNC_LIMITS.play_statuses + 1) });
    expect(tooMany).to.have.nested.property('body.details.issues[0].path', 'play_statuses');
    const items = (count: number) =>
      Array.from({ length: count }, (_, index) => ({
        item_id: `i${index}`,
        rss_source_feed: FEED,
        rss_source_id: `g${index}`,
        created_at: TIMES[0]!,
        updated_at: TIMES[0]!,
      }));
    const full = Array.from({ length: 11 }, (_, index) => ({
      id: `p${index}`,
      name: 'List',
      updated_at: TIMES[0]!,
      items: items(SYNC_LIMITS.itemsPerPlaylist),
    }));
    const overTotal = await expectSame({ ...base, playlists: full });
    expect(overTotal)
      .to.have.nested.property('body.details.issues[0].message')
      .that.matches(/playlist items in all/);
  });
});

describe('parseInputPaced (a gpodder upload a slice at a time)', () => {
  const action = withUnknownKey(
    fc.record(
      {
        podcast: mostly(oneOf(FEEDS), oneOf([7, null])),
        episode: mostly(numbered('https://media.example.org/', 40), oneOf([false, 'x'.repeat(5_000)])),
        guid: fc.option(mostly(numbered('g', 40), oneOf([3, 'a\u0007b']))),
        device: fc.option(mostly(oneOf(['phone', '']), oneOf(['bad device!', 5]))),
        action: mostly(oneOf(['play', 'PLAY', 'download', 'delete', 'new']), oneOf(['jump', 1])),
        timestamp: fc.option(mostly(oneOf(['2026-01-01T10:00:00', '2026-01-01T10:00:00Z', 1767261600]), oneOf(['soon', true]))),
        position: fc.option(mostly(fc.nat({ max: 10_000 }), oneOf(['x', 2e9]))),
      },
      { requiredKeys: ['podcast', 'episode', 'action'] },
    ),
  );
  const body = fc.oneof(
    fc.array(action, { maxLength: 8 }),
    fc.array(action, { maxLength: 8 }).map((actions) => ({ actions })),
    fc.array(action, { maxLength: 8 }).map((actions) => ({ actions, other: 'ignored' })),
    oneOf([{}, { actions: 'x' }, { other: [] }, 'actions', null, 3]),
  );

  it('answers what gpodderUploadBody answers, for bare lists, {actions} and other bodies (property)', async () => {
    await expectSameOnBoth(body, expectSameUpload, 500);
  });

  const upload = (count: number) =>
    Array.from({ length: count }, (_, n) => ({ podcast: FEED, episode: `https://media.example.org/${n}.mp3`, action: 'play', position: n }));

  it('checks a long list in slices, other work served in between, to the same actions; and its limit', async () => {
    const counter = turnCounter();
    const outcome = await expectSameUpload(upload(5_000));
    const turns = counter.stop();
    expect(turns).to.be.at.least(4);
    expect(outcome).to.have.nested.property('ok').with.length(5_000);
    await expectSameUpload({ actions: upload(3_000) });
    const bad = upload(3_000);
    bad[2_200] = { ...bad[2_200]!, action: 'jump' };
    expect(await expectSameUpload(bad)).to.have.nested.property('body.details.issues[0].path', '2200.action');
    expect(await expectSameUpload(upload(MAX_ACTIONS_PER_UPLOAD + 1))).to.have.nested.property('status', 400);
  });
});
