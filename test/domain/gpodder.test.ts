/** The gpodder mapping (src/domain/gpodder.ts): pure, so tested without HTTP. */
import { expect } from 'chai';
import fc from 'fast-check';
import type { UserEvent } from '../../src/domain/events.js';
import { httpUrl, userEvent } from '../../src/domain/events.js';
import type { GpodderActionInput, GpodderActionRecord } from '../../src/domain/gpodder.js';
import {
  actionId,
  formerActionId,
  actionToEvent,
  decideSubscriptionChanges,
  diffSubscriptionList,
  effectiveSince,
  formatGpodderTimestamp,
  gpodderActionInput,
  gpodderTimestamp,
  gpodderUploadBody,
  isPlayedAt,
  latestPerEpisode,
  newDeviceEvents,
  pageByPosition,
  PREPARE_STEP,
  prepareUpload,
  prepareUploadSteps,
  presentAction,
  servingOf,
  sanitizeChanges,
  mayBeHttpUrl,
  sanitizeUrl,
  UNKNOWN_MEDIA_URL,
  UrlRewrites,
} from '../../src/domain/gpodder.js';
import { idSequence } from './spec.js';

const FEED = 'https://feeds.example.com/show.xml';
const MP3 = 'https://cdn.example.com/ep1.mp3';
const NOW = '2026-06-01T12:00:00.000Z';
const input = (fields: Record<string, unknown>): GpodderActionInput => gpodderActionInput.parse({ podcast: FEED, episode: MP3, action: 'download', ...fields });

function expectValidEvent(event: UserEvent): void {
  const parsed = userEvent.safeParse(event);
  expect(parsed.success, parsed.error?.message).to.equal(true);
  expect(parsed.data).to.deep.equal(event);
}

describe('gpodder: URLs', () => {
  it('trims http(s) URLs and rejects everything else', () => {
    expect(sanitizeUrl('  https://example.com/feed.xml \n')).to.equal('https://example.com/feed.xml');
    expect(sanitizeUrl('http://example.com/a?b=c')).to.equal('http://example.com/a?b=c');
    for (const bad of ['ftp://example.com/feed', 'example.com/feed', '', '   ', 'javascript:alert(1)', `https://example.com/${'x'.repeat(3000)}`]) {
      expect(sanitizeUrl(bad), bad.slice(0, 30)).to.equal(undefined);
    }
  });

  it('tells a text that cannot be an http(s) URL without the schema, and never one the schema takes (property)', () => {
    // Texts made of what the schema trims and the URL parser strips, scheme letters in either
    // case, separators, and anything else.
    const piece = fc.oneof(
      fc.constantFrom(
        ' ',
        '\t',
        '\n',
        '\r',
        '\u0000',
        '\u0001',
        '\u001f',
        '\u00a0',
        '\u2028',
        '\ufeff',
        'h',
        'H',
        't',
        'T',
        'p',
        'P',
        's',
        'S',
        ':',
        '/',
        'x.example',
        'urn',
      ),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), (pieces) => {
        const text = pieces.join('');
        if (httpUrl.safeParse(text).success) expect(mayBeHttpUrl(text), JSON.stringify(text)).to.equal(true);
        expect(sanitizeUrl(text), JSON.stringify(text)).to.equal(httpUrl.safeParse(text).data);
      }),
      { numRuns: 3000 },
    );
    for (const text of ['\u0001http://x.example/a', ' \u00a0\u0001HTTPS://x.example/', 'ht\ttp://x.example/', 'h\nttps://x.example/']) {
      expect(httpUrl.safeParse(text).success, JSON.stringify(text)).to.equal(true);
      expect(sanitizeUrl(text), JSON.stringify(text)).to.equal(httpUrl.safeParse(text).data);
    }
    for (const guid of ['urn:podcast-1:episode-2', 'g-123', 'tag:example.com,2026:1']) expect(mayBeHttpUrl(guid), guid).to.equal(false);
  });

  it('update_urls lists each changed URL once, rejected ones as ""', () => {
    const rewrites = new UrlRewrites();
    rewrites.sanitize(' https://a.example/f ');
    rewrites.sanitize(' https://a.example/f ');
    rewrites.sanitize('https://b.example/f');
    rewrites.sanitize('gopher://c');
    expect(rewrites.list()).to.deep.equal([
      [' https://a.example/f ', 'https://a.example/f'],
      ['gopher://c', ''],
    ]);
  });
});

describe('gpodder: timestamps and cursors', () => {
  it('formats as YYYY-MM-DDTHH:MM:SS, UTC without a zone', () => {
    expect(formatGpodderTimestamp('2026-03-04T05:06:07.890Z')).to.equal('2026-03-04T05:06:07');
    expect(formatGpodderTimestamp('2026-03-04T05:06:07.890Z')).not.to.match(/\+00:00|Z$/);
    // Not in the stored form: through Date, to UTC.
    expect(formatGpodderTimestamp('2026-03-04T07:06:07+02:00')).to.equal('2026-03-04T05:06:07');
    expect(formatGpodderTimestamp('2026-03-04T05:06:07Z')).to.equal('2026-03-04T05:06:07');
  });

  it('parses the forms clients send, a missing zone meaning UTC', () => {
    const cases: [unknown, string][] = [
      ['2009-12-12T09:00:00', '2009-12-12T09:00:00.000Z'],
      ['2009-12-12T09:00:00Z', '2009-12-12T09:00:00.000Z'],
      ['2009-12-12T09:00:00.5', '2009-12-12T09:00:00.500Z'],
      ['2009-12-12 09:00:00', '2009-12-12T09:00:00.000Z'],
      ['2009-12-12T10:00:00+01:00', '2009-12-12T09:00:00.000Z'],
      [1260608400, '2009-12-12T09:00:00.000Z'],
    ];
    for (const [given, expected] of cases) expect(gpodderTimestamp.parse(given), String(given)).to.equal(expected);
    for (const bad of ['yesterday', '2009-02-30T00:00:00', '1900-01-01T00:00:00', 1.5, -1]) {
      expect(gpodderTimestamp.safeParse(bad).success, String(bad)).to.equal(false);
    }
  });

  it('reads a since beyond the head (a gpodder.net unix time) as 0', () => {
    expect(effectiveSince(undefined, 100)).to.equal(0);
    expect(effectiveSince(42, 100)).to.equal(42);
    expect(effectiveSince(100, 100)).to.equal(100);
    expect(effectiveSince(1_700_000_000, 100)).to.equal(0);
  });
});

describe('gpodder: action input', () => {
  it('accepts upper-case actions, numeric strings, null fields, and ignores unknown fields', () => {
    const parsed = input({ action: 'PLAY', position: '120', started: 15, total: null, guid: null, device: null, uuid: 'x' });
    expect(parsed).to.deep.include({ action: 'play', position: 120, started: 15, total: undefined, guid: undefined, device: undefined });
  });

  it('reads negative seconds as unknown and rounds fractions', () => {
    expect(input({ action: 'play', position: 10.6, started: -1, total: -1 })).to.deep.include({ position: 11, started: undefined, total: undefined });
  });

  it('names the bad field', () => {
    const result = gpodderUploadBody.safeParse([
      { podcast: FEED, episode: MP3, action: 'play', position: 'soon' },
      { podcast: FEED, episode: MP3, action: 'flattr' },
      { podcast: FEED, action: 'new' },
    ]);
    expect(result.success).to.equal(false);
    const paths = result.error!.issues.map((issue) => issue.path.join('.'));
    expect(paths).to.include.members(['0.position', '1.action', '2.episode']);
  });

  it('accepts {actions: [...]} as well as a bare list', () => {
    expect(gpodderUploadBody.parse({ actions: [{ podcast: FEED, episode: MP3, action: 'new' }] })).to.have.length(1);
  });

  it('rejects device ids outside [\\w.-]', () => {
    expect(gpodderActionInput.safeParse({ podcast: FEED, episode: MP3, action: 'new', device: 'my phone' }).success).to.equal(false);
    expect(input({ device: 'gpodder_abc-1.2' }).device).to.equal('gpodder_abc-1.2');
  });
});

describe('gpodder: preparing an upload', () => {
  it('sanitises URLs, drops actions it cannot store and reports them in update_urls', () => {
    const prepared = prepareUpload('u1', [input({ podcast: ` ${FEED} ` }), input({ episode: 'file:///tmp/x.mp3' }), input({ podcast: 'feed://x' })], NOW);
    expect(prepared.actions).to.have.length(1);
    expect(prepared.actions[0]!.record.podcast).to.equal(FEED);
    expect(prepared.updateUrls).to.deep.equal([
      [` ${FEED} `, FEED],
      ['file:///tmp/x.mp3', ''],
      ['feed://x', ''],
    ]);
  });

  it('collapses exact duplicates, keeps actions that differ in any field', () => {
    const play = { action: 'play', position: 10, timestamp: '2026-01-01T00:00:00' };
    const prepared = prepareUpload('u1', [input(play), input(play), input({ ...play, position: 11 }), input({ ...play, device: 'other' })], NOW);
    expect(prepared.actions).to.have.length(3);
  });

  it('keeps started/position/total on play only, and stamps actions without a time with now', () => {
    const prepared = prepareUpload('u1', [input({ action: 'download', position: 5, total: 9 })], NOW);
    expect(prepared.actions[0]!.record).to.deep.include({ action: 'download', position: undefined, total: undefined, timestamp: NOW });
  });

  it(`prepares in steps, pausing after every ${PREPARE_STEP} actions, what prepareUpload prepares`, () => {
    const inputs = Array.from({ length: 2 * PREPARE_STEP + 10 }, (_, n) => input({ episode: `https://cdn.example.com/${n % 1_500}.mp3`, device: `d${n % 3}` }));
    const steps = prepareUploadSteps('u1', inputs, NOW);
    let pauses = 0;
    let next = steps.next();
    for (; !next.done; next = steps.next()) pauses++;
    expect(pauses).to.equal(2);
    expect(next.value).to.deep.equal(prepareUpload('u1', inputs, NOW));
    // Duplicates across steps collapse too.
    expect(next.value.actions).to.have.length(1_500);
  });

  it('lists the devices the actions name', () => {
    const prepared = prepareUpload('u1', [input({ device: 'a' }), input({ device: 'b', action: 'new' }), input({ device: 'a', action: 'delete' })], NOW);
    expect(prepared.devices).to.deep.equal(['a', 'b']);
  });

  it('keeps media URLs up to 2,048 characters (the limit of gpodder.net) as the identity, and reports longer ones', () => {
    const long = `https://cdn.example.com/${'e'.repeat(2048 - 28)}.mp3`;
    expect(long).to.have.length(2048);
    const kept = prepareUpload('u1', [input({ episode: long })], NOW);
    expect(kept.actions).to.have.length(1);
    expect(kept.updateUrls).to.deep.equal([]);
    expectValidEvent(actionToEvent('u1', kept.actions[0]!.id, kept.actions[0]!.record));
    const tooLong = `${long}x`;
    expect(prepareUpload('u1', [input({ episode: tooLong })], NOW).updateUrls).to.deep.equal([[tooLong, '']]);
  });

  it('keeps a play without a usable position as a playback start that carries no position', () => {
    const cases: Record<string, unknown>[] = [{}, { position: -1, started: -1, total: -1 }, { position: null }, { started: 10, total: 600 }];
    for (const fields of cases) {
      const prepared = prepareUpload('u1', [input({ action: 'play', ...fields })], NOW);
      expect(prepared.actions, JSON.stringify(fields)).to.have.length(1);
      const { id, record } = prepared.actions[0]!;
      const event = actionToEvent('u1', id, record);
      expectValidEvent(event);
      expect(event.type, JSON.stringify(fields)).to.equal('episode_action');
      expect(event.data).to.deep.equal({ action: 'play', enclosure: { url: MP3 } });
      // Served back without started/total, which mygpoclient refuses without a position.
      expect(presentAction(event)).to.deep.equal({ podcast: FEED, episode: MP3, timestamp: formatGpodderTimestamp(NOW), action: 'play' });
    }
    const atStart = actionToEvent('u1', 'x', prepareUpload('u1', [input({ action: 'play', position: 0, total: 600 })], NOW).actions[0]!.record);
    expect(atStart.type, 'position 0 of a known length is a position').to.equal('play');
  });

  it('reads 0 of a total of 0 as a finish of unknown length, served as finished (position = total, at least 1 s)', () => {
    const { id, record } = prepareUpload('u1', [input({ action: 'play', started: 0, position: 0, total: 0 })], NOW).actions[0]!;
    const finish = actionToEvent('u1', id, record);
    expectValidEvent(finish);
    expect(finish).to.deep.include({ type: 'play' });
    expect(finish.data).to.include({ played: true, position: 0 });
    expect(presentAction(finish)).to.include({ action: 'play', started: 0, position: 1, total: 1 });
  });
});

describe('gpodder: action ids', () => {
  const record: GpodderActionRecord = { podcast: FEED, episode: MP3, action: 'play', timestamp: NOW, position: 3 };

  it('are UUIDs version 7, the same for the same user and action, different otherwise', () => {
    const id = actionId('u1', record);
    expect(id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(actionId('u1', { ...record })).to.equal(id);
    expect(actionId('u2', record)).not.to.equal(id);
    expect(actionId('u1', { ...record, position: 4 })).not.to.equal(id);
    expect(actionId('u1', { ...record, device: 'd' })).not.to.equal(id);
  });

  it("sort by the action's timestamp (an upload's actions are stored side by side), whatever else differs", () => {
    const at = (timestamp: string, fields: Partial<GpodderActionRecord> = {}) => actionId('u1', { ...record, ...fields, timestamp });
    const ids = [
      at('2026-01-01T00:00:00.000Z', { position: 900 }),
      at('2026-01-01T00:00:00.001Z', { position: 1 }),
      at('2026-01-01T00:00:01.000Z', { episode: 'https://cdn.example.org/zzz.mp3' }),
      at('2031-06-30T12:00:00.000Z', { position: 0 }),
    ];
    expect([...ids].sort()).to.deep.equal(ids);
    expect(at('1970-01-01T00:00:00.000Z')).to.match(/^00000000-0000-7/);
  });

  it('keep their former id (version 8, from the content alone) for actions stored before ids were ordered', () => {
    const former = formerActionId('u1', record);
    expect(former).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(formerActionId('u1', { ...record }))
      .to.equal(former)
      .and.not.equal(actionId('u1', record));
    expect(formerActionId('u1', { ...record, position: 4 })).not.to.equal(former);
    expect(prepareUpload('u1', [input({ action: 'play', position: 3 })], NOW).actions[0]!.formerId).to.equal(formerActionId('u1', record));
  });
});

describe('gpodder: how stored actions are served', () => {
  const play = { podcast: FEED, episode: MP3, action: 'play' as const, timestamp: '2026-06-01T12:00:00' };
  it('never a playback start or an action without URL or guid; with the status URL one without URL; others as they are', () => {
    expect(servingOf({ ...play, position: 10 })).to.equal('as-is');
    expect(servingOf({ ...play, action: 'download' })).to.equal('as-is');
    expect(servingOf(play), 'a play without a position').to.equal('never');
    expect(servingOf({ ...play, episode: '', position: 10 }), 'no URL, no guid').to.equal('never');
    expect(servingOf({ ...play, episode: '', guid: 'g', position: 10 })).to.equal('status-url');
    expect(servingOf({ ...play, episode: '', guid: 'g' }), 'a playback start, whatever its URL').to.equal('never');
  });
});

describe('gpodder: actions ↔ events', () => {
  const record = (fields: Partial<GpodderActionRecord>): GpodderActionRecord => ({
    podcast: FEED,
    episode: MP3,
    action: 'play',
    timestamp: NOW,
    position: 0,
    ...fields,
  });

  it('play → play: position, started, total, media URL as enclosure, guid as identity', () => {
    const event = actionToEvent('u1', actionId('u1', record({})), record({ guid: 'g1', started: 5, position: 60, total: 100, device: 'phone' }));
    expectValidEvent(event);
    expect(event).to.deep.include({ type: 'play', object: { rss_source_feed: FEED, rss_source_id: 'g1' } });
    expect(event.data).to.deep.equal({ played: false, position: 60, started: 5, total: 100, enclosure: { url: MP3 }, device: 'phone' });
  });

  it('the media URL is the identity without a guid; played means position reached total', () => {
    const event = actionToEvent('u1', actionId('u1', record({})), record({ position: 100, total: 100 }));
    expectValidEvent(event);
    expect(event.object.rss_source_id).to.equal(MP3);
    expect(event.data).to.include({ played: true });
    expect(isPlayedAt(100, undefined)).to.equal(false);
    expect(isPlayedAt(99, 100)).to.equal(false);
    expect(isPlayedAt(5, 0), 'a position of an unknown length').to.equal(false);
    // 0 of 0: a finish of unknown length (AntennaPod's first sync, GNOME Podcasts).
    expect(isPlayedAt(0, 0)).to.equal(true);
  });

  it('download / delete / new → episode_action', () => {
    for (const action of ['download', 'delete', 'new'] as const) {
      const event = actionToEvent('u1', actionId('u1', record({ action })), record({ action, position: undefined, device: 'd' }));
      expectValidEvent(event);
      expect(event).to.deep.include({ type: 'episode_action', data: { action, enclosure: { url: MP3 }, device: 'd' } });
    }
  });

  it('round-trips: an uploaded action reads back as sent (property)', () => {
    const arbitrary = fc.record({
      action: fc.constantFrom('download', 'delete', 'play', 'new'),
      guid: fc.option(fc.stringMatching(/^[a-z0-9-]{1,20}$/), { nil: undefined }),
      device: fc.option(fc.stringMatching(/^[a-z0-9_.-]{1,12}$/), { nil: undefined }),
      seconds: fc.integer({ min: 0, max: 3_000_000_000 }),
      started: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
      position: fc.integer({ min: 0, max: 10_000 }),
      total: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(arbitrary, (a) => {
        const timestamp = new Date(Date.UTC(1995, 0, 1) + a.seconds * 1000).toISOString().slice(0, 19);
        const sent = {
          podcast: FEED,
          episode: MP3,
          action: a.action,
          timestamp,
          ...(a.guid ? { guid: a.guid } : {}),
          ...(a.device ? { device: a.device } : {}),
          ...(a.action === 'play'
            ? { position: a.position, ...(a.started !== undefined ? { started: a.started } : {}), ...(a.total !== undefined ? { total: a.total } : {}) }
            : {}),
        };
        const [prepared] = prepareUpload('u1', [gpodderActionInput.parse(sent)], NOW).actions;
        const event = actionToEvent('u1', prepared!.id, prepared!.record);
        expectValidEvent(event);
        expect(presentAction(event)).to.deep.equal(sent);
      }),
      { numRuns: 200 },
    );
  });

  it('native play and position events read as play actions; played reads as position = total', () => {
    const base = {
      id: '00000000-0000-4000-8000-000000000001',
      user: 'u1',
      timestamp: '2026-01-02T03:04:05.678Z',
      object: { rss_source_feed: FEED, rss_source_id: 'guid-1' },
    };
    const played: UserEvent = { ...base, type: 'play', data: { played: true, position: 0, enclosure: { url: MP3, duration: 1800.4 } } };
    expect(presentAction(played)).to.deep.equal({
      podcast: FEED,
      episode: MP3,
      guid: 'guid-1',
      timestamp: '2026-01-02T03:04:05',
      action: 'play',
      position: 1800,
      total: 1800,
    });
    const noTotal: UserEvent = { ...base, type: 'play', data: { played: true, position: 0, enclosure: { url: MP3 } } };
    expect(presentAction(noTotal)).to.deep.include({ episode: MP3, guid: 'guid-1', position: 1, total: 1 });
    const resumed: UserEvent = { ...base, type: 'play', data: { played: false, position: 61.7, device: 'phone', enclosure: { url: MP3 } } };
    expect(presentAction(resumed)).to.deep.equal({
      podcast: FEED,
      episode: MP3,
      guid: 'guid-1',
      device: 'phone',
      timestamp: '2026-01-02T03:04:05',
      action: 'play',
      position: 62,
    });
    const position: UserEvent = { ...base, type: 'position', data: { position: 30 } };
    expect(presentAction(position), 'no URL named: resolved by the reader').to.deep.equal({
      podcast: FEED,
      episode: UNKNOWN_MEDIA_URL,
      guid: 'guid-1',
      timestamp: '2026-01-02T03:04:05',
      action: 'play',
      position: 30,
    });
    // A media URL as the identity (what gpodder uploads without a guid) is the episode.
    const byUrl: UserEvent = { ...base, object: { rss_source_feed: FEED, rss_source_id: MP3 }, type: 'position', data: { position: 30 } };
    expect(presentAction(byUrl)).to.deep.include({ episode: MP3 }).and.not.to.have.property('guid');
    expect(presentAction({ ...base, type: 'share', data: {} })).to.equal(undefined);
  });

  it('marks the media URL of a native event that names none as unknown, never as its guid', () => {
    const base = {
      id: '00000000-0000-4000-8000-000000000001',
      user: 'u1',
      timestamp: '2026-01-02T03:04:05.678Z',
      object: { rss_source_feed: FEED, rss_source_id: 'ep-1' },
    };
    expect(presentAction({ ...base, type: 'play', data: { played: false, position: 5 } })).to.include({ episode: UNKNOWN_MEDIA_URL, guid: 'ep-1' });
    expect(presentAction({ ...base, type: 'position', data: { position: 5 } })).to.include({ episode: UNKNOWN_MEDIA_URL, guid: 'ep-1' });
  });

  it('aggregated keeps the latest action of each episode, by action time', () => {
    const item = (episode: string, timestamp: string, action: 'play' | 'download') => ({ action: { podcast: FEED, episode, timestamp, action } });
    const items = [
      item('a', '2026-01-02T00:00:00', 'play'),
      item('b', '2026-01-01T00:00:00', 'download'),
      item('a', '2026-01-01T00:00:00', 'download'),
      item('b', '2026-01-03T00:00:00', 'play'),
    ];
    expect(latestPerEpisode(items).map((i) => [i.action.episode, i.action.action])).to.deep.equal([
      ['a', 'play'],
      ['b', 'play'],
    ]);
  });
});

describe('gpodder: subscriptions', () => {
  const ctx = { user: 'u1', newId: idSequence(1), now: NOW };

  it('sanitises both lists and reports URLs in both', () => {
    const changes = sanitizeChanges(
      [' https://a.example/f', 'https://b.example/f', 'https://b.example/f', 'ftp://x'],
      ['https://a.example/f ', 'https://c.example/f'],
    );
    expect(changes.add).to.deep.equal(['https://a.example/f', 'https://b.example/f']);
    expect(changes.remove).to.deep.equal(['https://a.example/f', 'https://c.example/f']);
    expect(changes.conflicts).to.deep.equal(['https://a.example/f']);
    expect(changes.updateUrls).to.deep.include(['ftp://x', '']);
  });

  it('emits subscribe/unsubscribe with the device, only for real changes', () => {
    const events = decideSubscriptionChanges(
      new Set(['https://a.example/f', 'https://b.example/f']),
      { add: ['https://a.example/f', 'https://c.example/f'], remove: ['https://b.example/f', 'https://d.example/f'] },
      'phone',
      ctx,
    );
    for (const event of events) expectValidEvent(event);
    expect(events.map((event) => [event.type, event.object?.rss_source_feed, event.data])).to.deep.equal([
      ['subscribe', 'https://c.example/f', { device: 'phone' }],
      ['unsubscribe', 'https://b.example/f', { device: 'phone' }],
    ]);
  });

  it('a whole list replaces the subscriptions', () => {
    expect(diffSubscriptionList(new Set(['a', 'b']), ['b', 'c', 'c'])).to.deep.equal({ add: ['c'], remove: ['a'] });
  });

  it('creates unknown devices once', () => {
    const events = newDeviceEvents(new Set(['known']), ['known', 'new', 'new'], ctx);
    expect(events.map((event) => event.data)).to.deep.equal([{ device_id: 'new' }]);
    for (const event of events) expectValidEvent(event);
  });
});

describe('gpodder: paging by position', () => {
  it('never splits one position between pages (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 60 }), fc.integer({ min: 1, max: 7 }), (groupSizes, cap) => {
        // Items with ascending positions; several items may share one position.
        const all = groupSizes.flatMap((size, group) => Array.from({ length: size }, (_, n) => ({ seq: group + 1, n })));
        const seen: { seq: number; n: number }[] = [];
        let cursor = 0;
        for (let guard = 0; guard < 1000; guard++) {
          const after = all.filter((item) => item.seq > cursor);
          const page = pageByPosition(after.slice(0, cap + 1), cap);
          if (page.kind === 'complete') {
            seen.push(...page.items);
            break;
          }
          const items = page.kind === 'partial' ? page.items : after.filter((item) => item.seq === page.seq);
          const next = page.kind === 'partial' ? page.cursor : page.seq;
          expect(items.length).to.be.greaterThan(0);
          expect(items.every((item) => item.seq <= next)).to.equal(true);
          seen.push(...items);
          cursor = next;
        }
        expect(seen).to.deep.equal(all);
      }),
    );
  });
});
