import { expect } from 'chai';
import fc from 'fast-check';
import type { z } from 'zod';
import {
  JSON_LIMITS,
  LIMITS,
  actionInput,
  boundedString,
  httpUrl,
  isUserEventType,
  isoTimestamp,
  settingData,
  streams,
  userEvent,
  userIdFromStream,
} from '../../src/domain/events.js';
import { uuidOf } from './spec.js';

const FEED = 'https://example.com/feed.xml';

function issuesOf(schema: z.ZodType, input: unknown) {
  const result = schema.safeParse(input);
  expect(result.success, 'expected the input to be rejected').to.equal(false);
  return result.error!.issues;
}

const playEvent = {
  id: uuidOf(1),
  timestamp: '2026-01-31T12:00:00Z',
  user: 'u1',
  type: 'play',
  object: { rss_source_feed: FEED, rss_source_id: 'guid-1' },
  data: { played: true, position: 12.5 },
};

describe('httpUrl', () => {
  it('accepts http and https, trimmed', () => {
    expect(httpUrl.parse('http://example.com/a')).to.equal('http://example.com/a');
    expect(httpUrl.parse('  https://example.com/a  ')).to.equal('https://example.com/a');
  });

  for (const bad of ['ftp://example.com/feed', 'javascript:alert(1)', 'file:///etc/passwd', '/relative/feed.xml', 'not a url', '']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      expect(issuesOf(httpUrl, bad)[0]!.message).to.equal('must be an http(s) URL');
    });
  }

  it('rejects URLs over the length limit', () => {
    expect(issuesOf(httpUrl, `https://example.com/${'a'.repeat(LIMITS.url)}`)[0]!.message).to.equal(`at most ${LIMITS.url} characters`);
  });
});

describe('isoTimestamp', () => {
  it('normalises offsets and precision to UTC ...Z with milliseconds', () => {
    expect(isoTimestamp.parse('2026-01-31T12:00:00+01:00')).to.equal('2026-01-31T11:00:00.000Z');
    expect(isoTimestamp.parse('2026-01-31T12:00:00-0530')).to.equal('2026-01-31T17:30:00.000Z');
    expect(isoTimestamp.parse('2026-01-31T12:00Z')).to.equal('2026-01-31T12:00:00.000Z');
    expect(isoTimestamp.parse('2026-01-31T12:00:00.123456Z')).to.equal('2026-01-31T12:00:00.123Z');
    expect(isoTimestamp.parse('2024-02-29T00:00:00Z')).to.equal('2024-02-29T00:00:00.000Z');
  });

  it('makes string order time order across offsets', () => {
    const earlier = isoTimestamp.parse('2026-01-31T12:30:00+02:00');
    const later = isoTimestamp.parse('2026-01-31T11:00:00Z');
    expect(earlier < later).to.equal(true);
  });

  const cases: Array<[string, string]> = [
    ['2026-01-31T12:00:00', 'must be an ISO-8601 timestamp with a time zone, e.g. 2026-01-31T12:00:00Z'],
    ['2026-01-31', 'must be an ISO-8601 timestamp with a time zone, e.g. 2026-01-31T12:00:00Z'],
    ['1767225600', 'must be an ISO-8601 timestamp with a time zone, e.g. 2026-01-31T12:00:00Z'],
    ['2026-02-30T00:00:00Z', 'must be a real calendar date and time'],
    ['2025-02-29T00:00:00Z', 'must be a real calendar date and time'],
    ['2026-01-31T24:00:00Z', 'must be a real calendar date and time'],
    ['2026-01-31T12:60:00Z', 'must be a valid time between 1990 and 2100'],
    ['1989-12-31T23:59:59Z', 'must be a valid time between 1990 and 2100'],
    ['2100-01-01T00:00:00Z', 'must be a valid time between 1990 and 2100'],
  ];
  for (const [input, message] of cases) {
    it(`rejects ${input} with one clear message`, () => {
      expect(issuesOf(isoTimestamp, input).map((issue) => issue.message)).to.deep.equal([message]);
    });
  }

  it('takes normalised timestamps as they are, and agrees with Date on near misses (property)', () => {
    // The reference: the ISO-8601 shape, a real calendar date (Date rolls 02-30 over), the range.
    const reference = (value: string): string | undefined => {
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) return undefined;
      const [year, month, day, hour] = [value.slice(0, 4), value.slice(5, 7), value.slice(8, 10), value.slice(11, 13)].map(Number) as [
        number,
        number,
        number,
        number,
      ];
      const probe = new Date(Date.UTC(year, month - 1, day));
      if (hour >= 24 || probe.getUTCFullYear() !== year || probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day) return undefined;
      const time = new Date(value).getTime();
      return Number.isNaN(time) || time < Date.UTC(1990, 0, 1) || time >= Date.UTC(2100, 0, 1) ? undefined : new Date(value).toISOString();
    };
    // Normalised, or in whole seconds (`...:SSZ`, what gpodder uploads become), which has a fast path too.
    const normalised = fc
      .tuple(fc.date({ min: new Date(Date.UTC(1985, 0, 1)), max: new Date(Date.UTC(2105, 0, 1)), noInvalidDate: true }), fc.boolean())
      .map(([date, wholeSeconds]) => (wholeSeconds ? `${date.toISOString().slice(0, 19)}Z` : date.toISOString()));
    // One character replaced by a digit or a separator: 2026-02-30, 24:00, 12:60, 1989...
    const nearMiss = fc
      .tuple(normalised, fc.nat(23), fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '9', ':', '-', 'T', 'Z', '.'))
      .map(([value, index, char]) => value.slice(0, index) + char + value.slice(index + 1));
    fc.assert(
      fc.property(fc.oneof(normalised, nearMiss), (value) => {
        const result = isoTimestamp.safeParse(value);
        expect(result.success ? result.data : undefined, value).to.equal(reference(value));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('boundedString', () => {
  const title = boundedString(10);
  it('accepts tabs and newlines', () => expect(title.parse('a\tb\nc')).to.equal('a\tb\nc'));
  for (const char of ['\u0000', '\u0007', '\u001b', '\u007f']) {
    it(`rejects the control character U+${char.charCodeAt(0).toString(16).padStart(4, '0')}`, () => {
      expect(issuesOf(title, `a${char}b`)[0]!.message).to.equal('control characters are not allowed');
    });
  }
  it('rejects strings over the limit', () => expect(issuesOf(title, 'x'.repeat(11))[0]!.message).to.equal('at most 10 characters'));
});

describe('userEvent', () => {
  it('accepts a valid play event and normalises its timestamp', () => {
    expect(userEvent.parse(playEvent).timestamp).to.equal('2026-01-31T12:00:00.000Z');
  });

  it('names the bad field in the error path', () => {
    const issue = issuesOf(userEvent, { ...playEvent, data: { ...playEvent.data, played: 'yes' } })[0]!;
    expect(issue.path).to.deep.equal(['data', 'played']);
    expect(issuesOf(userEvent, { ...playEvent, data: { ...playEvent.data, position: -1 } })[0]!.path).to.deep.equal(['data', 'position']);
    expect(issuesOf(userEvent, { ...playEvent, object: { rss_source_feed: 'ftp://x/feed', rss_source_id: 'g' } })[0]!.path).to.deep.equal([
      'object',
      'rss_source_feed',
    ]);
    expect(issuesOf(userEvent, { ...playEvent, timestamp: 'yesterday' })[0]!.path).to.deep.equal(['timestamp']);
  });

  it('rejects unknown keys in the envelope, the object and the data (strict)', () => {
    const envelope = issuesOf(userEvent, { ...playEvent, extra: 1 })[0]!;
    expect(envelope).to.include({ code: 'unrecognized_keys' });
    expect(envelope).to.deep.include({ path: [], keys: ['extra'] });
    expect(issuesOf(userEvent, { ...playEvent, data: { ...playEvent.data, rating: 5 } })[0]).to.deep.include({ path: ['data'], keys: ['rating'] });
    expect(issuesOf(userEvent, { ...playEvent, object: { ...playEvent.object, x: 1 } })[0]).to.deep.include({ path: ['object'], keys: ['x'] });
  });

  it('requires an episode object for episode events and a null object for playlist and sync', () => {
    expect(issuesOf(userEvent, { ...playEvent, object: { rss_source_feed: FEED } })[0]!.path).to.deep.equal(['object', 'rss_source_id']);
    const playlist = { ...playEvent, type: 'playlist', object: { rss_source_feed: FEED }, data: { playlist_id: 'p', action: 'upsert' } };
    expect(issuesOf(userEvent, playlist)[0]!.path).to.deep.equal(['object']);
  });

  it('accepts privacy and remove with a null (account) or feed object', () => {
    const privacy = { ...playEvent, type: 'privacy', object: null, data: { privacy: 'anonymous' } };
    expect(userEvent.safeParse(privacy).success).to.equal(true);
    expect(userEvent.safeParse({ ...privacy, object: { rss_source_feed: FEED } }).success).to.equal(true);
    expect(issuesOf(userEvent, { ...privacy, data: { privacy: 'secret' } })[0]!.path).to.deep.equal(['data', 'privacy']);
    // null takes a choice back (the feed follows the account, the account the server's default).
    expect(userEvent.safeParse({ ...privacy, object: { rss_source_feed: FEED }, data: { privacy: null } }).success).to.equal(true);
    expect(issuesOf(userEvent, { ...privacy, data: {} })[0]!.path).to.deep.equal(['data', 'privacy']);
    expect(userEvent.safeParse({ ...privacy, type: 'remove', data: {} }).success).to.equal(true);
  });

  it('rejects unknown types and non-UUID ids', () => {
    expect(issuesOf(userEvent, { ...playEvent, type: 'like' })[0]!.path).to.deep.equal(['type']);
    expect(issuesOf(userEvent, { ...playEvent, id: '1234' })[0]!.path).to.deep.equal(['id']);
  });
});

describe('actionInput', () => {
  const { user: _user, id: _id, ...action } = playEvent;

  it('is an event without user, with an optional id', () => {
    expect(actionInput.safeParse(action).success).to.equal(true);
    expect(actionInput.safeParse({ ...action, id: uuidOf(2) }).success).to.equal(true);
  });

  it('rejects a user chosen by the client', () => {
    expect(issuesOf(actionInput, { ...action, user: 'someone-else' })[0]).to.deep.include({ keys: ['user'] });
  });

  it('does not accept sync, which only the server emits', () => {
    const sync = { ...action, type: 'sync', object: null, data: { device: 'd', request_id: 'r', counts: {} } };
    expect(issuesOf(actionInput, sync)[0]!.path).to.deep.equal(['type']);
  });
});

describe('streams', () => {
  it('names user streams and reads the user back', () => {
    expect(streams.user('42')).to.equal('user-42');
    expect(userIdFromStream('user-42')).to.equal('42');
    expect(userIdFromStream('podcast_stats-x')).to.equal(undefined);
    expect(isUserEventType('play')).to.equal(true);
    expect(isUserEventType('checkpoint')).to.equal(false);
    expect(isUserEventType('toString')).to.equal(false);
  });
});

describe('gpodder setting values (they become read-model documents as they are)', () => {
  const parse = (value: unknown) => settingData.safeParse({ scope: 'account', set: { key: value }, remove: [] }).success;

  it('refuses an object key with a NUL, however deep: MongoDB cannot store it (BSON ends a name there)', () => {
    expect(parse({ nested: { 'a\u0000b': 1 } })).to.equal(false);
    expect(parse([{ '\u0000': true }])).to.equal(false);
    expect(parse({ nested: { 'a b': 'text with \u0000 is a value, fine' } })).to.equal(true);
  });

  it(`refuses a value over ${JSON_LIMITS.bytes} characters of JSON`, () => {
    expect(parse('x'.repeat(JSON_LIMITS.bytes))).to.equal(false);
    expect(parse('x'.repeat(JSON_LIMITS.bytes - 2))).to.equal(true);
  });
});
