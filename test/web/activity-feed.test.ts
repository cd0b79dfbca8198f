/**
 * Public activity as Atom feeds (src/web/activity-feed.ts): what each entry says, that hostile
 * text stays well-formed XML, that privacy holds as on the pages (anonymous: nobody named;
 * private: nothing), and a real feed reader's parser (Debian's python3-feedparser) reading them
 * over HTTP. Without /usr/bin/python3 or the module the reader's test FAILS in CI (`.ci/run`
 * installs it) and is SKIPPED, saying why, elsewhere.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { atomFeed } from '../../src/web/activity-feed.js';
import { activity } from '../../src/web/format.js';
import type { PublicEvent } from '../../src/services/public-views.js';
import { listenServing } from '../../src/http/server.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { PYTHON, requireClient, run } from '../gpodder/real-client.js';
import { sendEvents } from './web-client.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FEED = 'https://feeds.example.com/atom-show.xml';
const PASSWORD = 'correct horse battery';
const event = (fields: Partial<PublicEvent> & Pick<PublicEvent, 'type'>): PublicEvent =>
  ({
    id: '0190d7a8-0000-7000-8000-000000000001',
    timestamp: '2026-05-01T10:00:00Z',
    object: { rss_source_feed: FEED, rss_source_id: 'ep-1' },
    data: {},
    ...fields,
  }) as PublicEvent;
const entriesOf = (xml: string) => {
  const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', isArray: (name) => name === 'entry' || name === 'link' }).parse(xml) as {
    feed: { entry?: Record<string, unknown>[]; title: string; link: Record<string, string>[] };
  };
  return parsed.feed;
};

describe('public activity as Atom feeds', function () {
  this.timeout(60_000);

  describe('entries (pure)', () => {
    it('say what happened in words, with the titles the event carries, else its addresses', () => {
      expect(activity(event({ type: 'subscribe', data: { rss_feed_title: 'The Show' } }))).to.equal('subscribed to The Show');
      expect(activity(event({ type: 'unsubscribe', object: { rss_source_feed: FEED } }))).to.equal(`unsubscribed from ${FEED}`);
      expect(activity(event({ type: 'play', data: { played: true, rss_item_title: 'Pilot', rss_feed_title: 'The Show' } }))).to.equal(
        'finished “Pilot” (The Show)',
      );
      expect(activity(event({ type: 'play', data: { played: false } }))).to.equal(`listened to “ep-1” (${FEED})`);
      expect(activity(event({ type: 'save', data: { item_title: 'Pilot', feed_title: 'The Show' } }))).to.equal('saved “Pilot” (The Show)');
      expect(activity(event({ type: 'save', data: { removed: true } }))).to.equal(`took “ep-1” (${FEED}) off a playlist`);
      expect(activity(event({ type: 'share', object: { rss_source_feed: FEED } }))).to.equal(`shared an episode of ${FEED}`);
    });

    it('stay well-formed XML whatever the titles hold: markup escaped, characters XML cannot carry dropped', () => {
      const hostile = 'a <b>&amp; "c" ]]> \u0001\u0008\u000b\ud800 \u{1F600}';
      const xml = atomFeed({
        title: `${hostile}'s listening`,
        self: 'http://127.0.0.1/explore/activity.atom',
        page: 'http://127.0.0.1/explore',
        server: 'http://127.0.0.1',
        events: [
          event({ type: 'play', user: 'x"><script>', data: { played: true, rss_item_title: hostile, rss_feed_title: hostile } } as Partial<PublicEvent> &
            Pick<PublicEvent, 'type'>),
          event({ type: 'share', data: { message: hostile } }),
        ],
      });
      expect(XMLValidator.validate(xml), xml).to.equal(true);
      expect(xml).not.to.match(/[\u0001\u0008\u000b]/);
      expect(xml).not.to.include('<script>').and.not.to.include('<b>');
      const feed = entriesOf(xml);
      expect(feed.entry).to.have.length(2);
      expect(String(feed.entry![0]!['title'])).to.include('a <b>&amp; "c" ]]>').and.include('\u{1F600}');
    });
  });

  describe('served', () => {
    let service: TestService;
    let server: Server;
    let base: string;
    before(async () => {
      service = await startTestService({ DEFAULT_PRIVACY: 'private' });
      server = await listenServing(service.app, 0, '127.0.0.1');
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      // Episode ids are published for anonymous users too: these name nobody.
      const listener = async (username: string, privacy: string, title: string, guid: string) => {
        await service.login(username, PASSWORD);
        await sendEvents(service, username, [
          { type: 'privacy', timestamp: '2026-05-01T00:00:00Z', object: null, data: { privacy } },
          { type: 'subscribe', timestamp: '2026-05-01T00:00:01Z', object: { rss_source_feed: FEED }, data: { rss_feed_title: `${title} show` } },
          {
            type: 'play',
            timestamp: '2026-05-01T00:00:02Z',
            object: { rss_source_feed: FEED, rss_source_id: guid },
            data: { played: true, position: 60, rss_item_title: `${title} episode`, rss_feed_title: `${title} show` },
          },
          { type: 'share', timestamp: '2026-05-01T00:00:03Z', object: { rss_source_feed: FEED, rss_source_id: guid }, data: { message: `${title} says hi` } },
        ]);
      };
      await listener('atom-alice', 'public', 'Alice’s', 'ep-1');
      await listener('atom-bob', 'anonymous', 'Bob’s', 'ep-2');
      await listener('atom-carol', 'private', 'Carol’s', 'ep-3');
      await service.settle();
    });
    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await service.stop();
    });

    it('the timeline names public listeners, nobody for anonymous ones, and holds nothing of private ones; no cookie is set', async () => {
      const answer = await service.http.get('/explore/activity.atom');
      expect(answer.status).to.equal(200);
      expect(answer.headers['content-type']).to.equal('application/atom+xml; charset=utf-8');
      expect(answer.headers['set-cookie']).to.equal(undefined);
      expect(answer.headers['x-content-type-options']).to.equal('nosniff');
      const xml = answer.text;
      expect(XMLValidator.validate(xml)).to.equal(true);
      const entries = entriesOf(xml).entry!;
      const authors = entries.map((entry) => (entry['author'] as { name: string }).name);
      expect(authors.filter((name) => name === 'atom-alice')).to.have.length(3);
      expect(authors.filter((name) => name === 'someone')).to.have.length(3);
      expect(xml).not.to.include('atom-bob').and.not.to.include('Bob’s');
      expect(xml).not.to.include('atom-carol').and.not.to.include('Carol’s');
      expect(entries.map((entry) => String(entry['title']))).to.include.members([
        'atom-alice finished “Alice’s episode” (Alice’s show)',
        `atom-alice shared “ep-1” (${FEED})`,
      ]);
    });

    it("a user's feed holds a public user's activity only; an anonymous or private user's is empty; a bad name is a 400 naming it", async () => {
      const alice = entriesOf((await service.http.get('/explore/users/atom-alice/activity.atom')).text);
      expect(alice.title).to.equal('atom-alice’s listening'.replace('’', "'"));
      expect(alice.entry).to.have.length(3);
      for (const name of ['atom-bob', 'atom-carol', 'nobody-at-all']) {
        const answer = await service.http.get(`/explore/users/${name}/activity.atom`);
        expect(answer.status, name).to.equal(200);
        expect(entriesOf(answer.text).entry, name).to.equal(undefined);
      }
      const bad = await service.http.get(`/explore/users/${'x'.repeat(65)}/activity.atom`);
      expect(bad.status).to.equal(400);
      expect(bad.body.details.issues[0].path).to.equal('username');
    });

    it('the Explore pages point readers to their feeds', async () => {
      const explore = await service.http.get('/explore');
      expect(explore.text).to.include('<link rel="alternate" type="application/atom+xml" title="Explore" href="/explore/activity.atom">');
      const profile = await service.http.get('/explore/users/atom-alice');
      expect(profile.text).to.include('href="/explore/users/atom-alice/activity.atom"');
    });

    it(`a feed reader's parser (python3-feedparser) reads the timeline whole: entries, authors, times, links`, async function () {
      await requireClient(this, { name: 'feedparser', probe: 'import feedparser', install: 'apt-get install -y python3-feedparser' });
      const result = await run(PYTHON, [path.join(HERE, 'atom_reader.py'), `${base}/explore/activity.atom`], 30_000);
      expect(result.code, result.stderr).to.equal(0);
      const read = JSON.parse(result.stdout) as {
        version: string;
        bozo: boolean;
        bozo_exception: string;
        feed: { title: string; id: string; links: { rel: string; href: string }[] };
        entries: {
          id: string;
          title: string;
          author: string;
          author_href: string | null;
          updated_parsed: boolean;
          links: { rel: string; href: string }[];
          content: string[];
        }[];
      };
      expect(read.bozo, read.bozo_exception).to.equal(false);
      expect(read.version).to.equal('atom10');
      expect(read.feed.title).to.equal('Public listening activity');
      expect(read.feed.links).to.deep.include({ rel: 'self', href: `${base}/explore/activity.atom`, type: 'application/atom+xml' });
      expect(read.entries).to.have.length(6);
      for (const entry of read.entries) {
        expect(entry.id).to.match(/^urn:uuid:[0-9a-f-]{36}$/);
        expect(entry.updated_parsed, entry.title).to.equal(true);
        expect(entry.links).to.deep.include({ rel: 'related', href: FEED });
      }
      const alices = read.entries.filter((entry) => entry.author === 'atom-alice');
      expect(alices).to.have.length(3);
      expect(alices[0]!.author_href).to.equal(`${base}/explore/users/atom-alice`);
      expect(read.entries.find((entry) => entry.title.startsWith('atom-alice shared'))!.content).to.deep.equal([
        `atom-alice shared “ep-1” (${FEED}): Alice’s says hi`,
      ]);
      expect(read.entries.filter((entry) => entry.author === 'someone')).to.have.length(3);
    });

    it('a reader polling an unchanged feed gets a 304 (its ETag), and the new entry once there is one', async () => {
      // One Host for all (supertest's own server has a new port each time, and the feed names its address).
      const poll = () => service.http.get('/explore/users/atom-alice/activity.atom').set('Host', 'sync.example.org');
      const first = await poll();
      const etag = first.headers['etag'] as string;
      expect(etag).to.be.a('string');
      expect((await poll().set('If-None-Match', etag)).status).to.equal(304);
      await sendEvents(service, 'atom-alice', [{ type: 'subscribe', timestamp: '2026-05-02T00:00:00Z', object: { rss_source_feed: `${FEED}?new` }, data: {} }]);
      await service.settle();
      // Public answers may lag an addition by PUBLIC_CACHE_MS (1 s by default; docs/design.md, "Public answers").
      const deadline = Date.now() + 1000 + 2000;
      let changed = await poll().set('If-None-Match', etag);
      while (changed.status === 304 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        changed = await poll().set('If-None-Match', etag);
      }
      expect(changed.status, 'the new entry, within PUBLIC_CACHE_MS').to.equal(200);
      expect(entriesOf(changed.text).entry).to.have.length(4);
    });
  });
});
