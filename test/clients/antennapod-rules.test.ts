/**
 * The AntennaPod replica's own rules, checked against AntennaPod's (no server involved): what
 * EpisodeAction.readFromJsonObject keeps, the JSON-stored queue, and EpisodeActionFilter (two
 * cases ported from AntennaPod's EpisodeActionFilterTest.java).
 */
import { expect } from 'chai';
import {
  AntennaPodDevice,
  buildAction,
  parseActionTimestamp,
  readEpisodeAction,
  remoteActionsOverridingLocalActions,
  writeEpisodeAction,
} from './antennapod.js';

const at = (text: string) => parseActionTimestamp(text.replace(' ', 'T'));

describe('AntennaPod replica: the rules it runs by', () => {
  it('reads actions as EpisodeAction.readFromJsonObject does', () => {
    const base = { podcast: 'https://f.example/a.xml', episode: 'https://c.example/1.mp3', action: 'play', timestamp: '2026-02-01T10:00:00' };
    expect(readEpisodeAction({ ...base, started: 0, position: 60, total: 600 })).to.include({
      action: 'PLAY',
      started: 0,
      position: 60,
      total: 600,
      timestamp: Date.UTC(2026, 1, 1, 10),
    });
    // Numbers are kept only if started >= 0, position > 0 and total > 0.
    for (const numbers of [
      {},
      { started: -1, position: -1, total: -1 },
      { started: 0, position: 0, total: 0 },
      { started: 0, position: 60, total: 0 },
      { started: 0, position: 60 },
    ]) {
      expect(readEpisodeAction({ ...base, ...numbers }), JSON.stringify(numbers)).to.include({ started: -1, position: -1, total: -1 });
    }
    expect(readEpisodeAction({ ...base, started: '0', position: '60.9', total: '600' }), 'numeric strings, truncated').to.include({ position: 60 });
    // Required fields; the action in any case; unknown actions dropped.
    expect(readEpisodeAction({ ...base, podcast: '' })).to.equal(null);
    expect(readEpisodeAction({ ...base, action: 'flattr' })).to.equal(null);
    expect(readEpisodeAction({ ...base, action: 'Download' })).to.include({ action: 'DOWNLOAD' });
    // Timestamps: anything after the seconds ignored; other forms unreadable (null), not fatal.
    expect(readEpisodeAction({ ...base, timestamp: '2026-02-01T10:00:00.250+01:00' })!.timestamp).to.equal(Date.UTC(2026, 1, 1, 10));
    expect(readEpisodeAction({ ...base, timestamp: 1769940000 })!.timestamp).to.equal(null);
    // JSON null reads as the text "null": a guid AntennaPod then refuses to look up by.
    expect(readEpisodeAction({ ...base, guid: null })).to.include({ guid: 'null' });
  });

  it('writes actions as EpisodeAction.writeToJsonObject does', () => {
    const play = buildAction({ podcast: 'p', episode: 'e', action: 'PLAY', timestamp: Date.UTC(2026, 1, 1, 10), started: 0, position: 0, total: 0 });
    expect(writeEpisodeAction(play)).to.deep.equal({
      podcast: 'p',
      episode: 'e',
      action: 'play',
      timestamp: '2026-02-01T10:00:00',
      started: 0,
      position: 0,
      total: 0,
    });
    expect(writeEpisodeAction(buildAction({ podcast: 'p', episode: 'e', guid: 'g', action: 'NEW', timestamp: 0, position: 5 }))).to.deep.equal({
      podcast: 'p',
      episode: 'e',
      guid: 'g',
      action: 'new',
      timestamp: '1970-01-01T00:00:00',
    });
  });

  it('stores its queue as JSON: a PLAY with position 0 or total 0 comes back as -1/-1/-1', () => {
    const device = new AntennaPodDevice({
      name: 'test',
      catalog: new Map([['https://f.example/a.xml', [{ guid: 'g1', url: 'https://c.example/1.mp3', duration: 0 }]]]),
    });
    device.subscribe('https://f.example/a.xml');
    device.connection = { provider: 'nextcloud', hostUrl: 'http://127.0.0.1:1', username: 'u', password: 'p' };
    device.play('https://f.example/a.xml', 'g1', { from: 0, to: 100 });
    device.play('https://f.example/a.xml', 'g1', { from: 100, to: 200, duration: 1800 });
    expect(device.queuedActions().map((action) => [action!.started, action!.position, action!.total])).to.deep.equal([
      [-1, -1, -1],
      [100, 200, 1800],
    ]);
    // enqueueEpisodePlayed: nothing when playback did not advance (and was not completed).
    device.play('https://f.example/a.xml', 'g1', { from: 200, to: 200 });
    expect(device.queuedActions()).to.have.length(2);
  });

  it('applies remote plays as EpisodeActionFilter does (EpisodeActionFilterTest)', () => {
    const local = [
      buildAction({ podcast: 'podcast.a', episode: 'episode.1', action: 'PLAY', timestamp: at('2021-01-01 08:00:00'), position: 10 }),
      buildAction({ podcast: 'podcast.a', episode: 'episode.1', action: 'PLAY', timestamp: at('2021-01-01 09:00:00'), position: 20 }),
      buildAction({ podcast: 'podcast.a', episode: 'episode.2', action: 'PLAY', timestamp: at('2021-01-01 08:00:00'), position: 5 }),
    ];
    const remoteAt = (time: string) => [
      buildAction({ podcast: 'podcast.a', episode: 'episode.1', action: 'PLAY', timestamp: at(time), position: 10 }),
      buildAction({ podcast: 'podcast.a', episode: 'episode.2', action: 'PLAY', timestamp: at(time), position: 5 }),
    ];
    expect(remoteActionsOverridingLocalActions(remoteAt('2021-01-01 08:05:00'), local).size).to.equal(1);
    expect(remoteActionsOverridingLocalActions(remoteAt('2021-01-01 07:55:00'), local).size).to.equal(0);
    // Among remote plays of one episode, the latest wins; other actions are never applied.
    const remote = [
      buildAction({ podcast: 'p', episode: 'e', action: 'PLAY', timestamp: at('2021-01-01 10:00:00'), started: 0, position: 30, total: 60 }),
      buildAction({ podcast: 'p', episode: 'e', action: 'PLAY', timestamp: at('2021-01-01 09:00:00'), started: 0, position: 10, total: 60 }),
      buildAction({ podcast: 'p', episode: 'e', action: 'DOWNLOAD', timestamp: at('2021-01-01 11:00:00') }),
    ];
    expect([...remoteActionsOverridingLocalActions(remote, []).values()].map((action) => action.position)).to.deep.equal([30]);
  });
});
