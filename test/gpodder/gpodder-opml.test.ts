/**
 * The web's OPML import and download (src/web/subscription-pages.ts) with gPodder's own OPML code
 * (Debian's gpodder, gpodder.opml, driven by gpodder_opml.py): what gPodder's "Export to OPML"
 * writes is imported whole, and what the server's download gives, gPodder's "Import from OPML"
 * reads back, URLs and titles. Without /usr/bin/python3 or the package this FAILS in CI and is
 * SKIPPED, saying so, elsewhere (see real-client.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { WebClient, csrfIn, sendEvents } from '../web/web-client.js';
import { PYTHON, requireClient, run } from './real-client.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gpodder_opml.py');
const PASSWORD = 'correct horse battery';

/** Subscriptions with what OPML must escape and what it must keep: ampersands, quotes, `<`, accents. */
const CHANNELS = [
  { url: 'https://feeds.example.com/show.xml?x=1&y=2', title: 'Tom & "Jerry" <live>', description: 'Café talk' },
  { url: 'https://podcasts.example.org/long-walks/feed', title: 'Long Walks', description: 'Walking' },
  { url: 'http://radio.example.net/rss', title: 'Ünïcödé Radio 📻', description: 'Radio' },
];

describe('OPML with gPodder’s own code (gpodder.opml)', function () {
  this.timeout(60_000);
  let service: TestService;
  let dir: string;

  before(async function () {
    await requireClient(this, {
      name: 'gPodder',
      probe: "import gpodder; gpodder.prefix = '/usr'; import gpodder.opml",
      install: 'apt-get install -y --no-install-recommends gpodder',
    });
    service = await startTestService();
    dir = mkdtempSync(path.join(tmpdir(), 'podsync-opml-'));
  });
  after(async () => {
    await service?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const gpodderList = async (username: string) =>
    ((await service.http.get(`/subscriptions/${username}.json`).auth(username, PASSWORD).expect(200)).body as string[]).sort();

  it('imports the OPML file gPodder exports, every feed', async () => {
    const file = path.join(dir, 'gpodder-export.opml');
    const exported = await run(PYTHON, [SCRIPT, 'export', file], 30_000, JSON.stringify(CHANNELS));
    expect(exported.code, exported.stderr).to.equal(0);
    const web = new WebClient(service.app);
    await web.signUp('opml-from-gpodder', PASSWORD);
    const token = csrfIn((await web.get('/data')).text)!;
    const answer = await web.agent.post('/data/subscriptions').field('_csrf', token).attach('file', readFileSync(file), 'gpodder-export.opml');
    expect(answer.headers['location']).to.equal(`/data?added=${CHANNELS.length}&known=0&skipped=0#opml`);
    expect(await gpodderList('opml-from-gpodder')).to.deep.equal(CHANNELS.map((channel) => channel.url).sort());
  });

  it('downloads an OPML file gPodder imports: the same URLs, with the titles apps sent', async () => {
    const web = new WebClient(service.app);
    await web.signUp('opml-to-gpodder', PASSWORD);
    const now = new Date().toISOString();
    await sendEvents(
      service,
      'opml-to-gpodder',
      CHANNELS.map((channel) => ({ type: 'subscribe', timestamp: now, object: { rss_source_feed: channel.url }, data: { rss_feed_title: channel.title } })),
      PASSWORD,
    );
    const file = path.join(dir, 'podsync-download.opml');
    writeFileSync(file, (await web.get('/data/subscriptions.opml').expect(200)).text);
    const imported = await run(PYTHON, [SCRIPT, 'import', file], 30_000);
    expect(imported.code, imported.stderr).to.equal(0);
    const items = JSON.parse(imported.stdout) as { url: string; title: string }[];
    expect(items.map(({ url, title }) => ({ url, title })).sort((a, b) => a.url.localeCompare(b.url))).to.deep.equal(
      CHANNELS.map(({ url, title }) => ({ url, title })).sort((a, b) => a.url.localeCompare(b.url)),
    );
  });
});
