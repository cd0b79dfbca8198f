/**
 * gpodder.net's podcast directory read by a real client: Debian's python3-mygpoclient's public
 * client (toplist, search, podcast data), driven by mygpo_directory_test.py over real HTTP. The
 * listeners it expects are written here first: two publishing listeners and a private one.
 * Without /usr/bin/python3 or the module this FAILS in CI and is SKIPPED elsewhere (see
 * real-client.ts).
 */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { describeRealClient } from './real-client.js';

const SHOW = 'https://feeds.example.com/rust-weekly.xml';
const OTHER = 'https://feeds.example.com/garden-hour.xml';
const PRIVATE = 'https://feeds.example.com/very-private-matters.xml';

const privacy = (level: string) => ({ type: 'privacy', timestamp: '2026-05-01T00:00:00Z', object: null, data: { privacy: level } });
const play = (feed: string, guid: string, title: string) => ({
  type: 'play',
  timestamp: '2026-05-02T00:00:00Z',
  object: { rss_source_feed: feed, rss_source_id: guid },
  data: { played: true, position: 60, rss_feed_title: title },
});

async function listeners(service: TestService): Promise<void> {
  const writes = [
    [privacy('public'), play(SHOW, 'e1', 'Rust Weekly'), play(OTHER, 'g1', 'The Garden Hour')],
    [privacy('anonymous'), play(SHOW, 'e2', 'Rust Weekly')],
    [play(PRIVATE, 'p1', 'Very Private Matters')],
  ];
  for (const events of writes) {
    const { token } = await service.login();
    const response = await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events });
    expect(response.status, JSON.stringify(response.body)).to.equal(201);
  }
  await service.settle();
}

describeRealClient(
  'gpodder API: the podcast directory with a real client (python3-mygpoclient)',
  'reads the toplist, a search and a podcast’s data through mygpoclient’s public client, without a private listener’s podcast',
  {
    name: 'mygpoclient',
    script: 'mygpo_directory_test.py',
    probe: 'import mygpoclient.public',
    install: 'apt-get install -y python3-mygpoclient',
    verboseEnv: 'MYGPO_VERBOSE',
    username: 'mygpo-directory',
    password: 'a long mygpo password',
    timeout: 60_000,
    prepare: listeners,
  },
);
