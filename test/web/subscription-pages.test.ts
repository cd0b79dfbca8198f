/** Subscriptions from the browser (src/web/subscription-pages.ts): subscribe, unsubscribe, OPML out and in. */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { WebClient, csrfIn, sendEvents } from './web-client.js';

const PASSWORD = 'correct horse battery';
const FEED = 'https://feeds.example.com/web-sub.xml';

const opml = (outlines: string, declaration = '<?xml version="1.0" encoding="utf-8"?>') =>
  `${declaration}\n<opml version="2.0"><head><title>from another app</title></head><body>${outlines}</body></opml>\n`;

describe('subscriptions from the browser', function () {
  this.timeout(20_000);
  let service: TestService;
  before(async () => {
    service = await startTestService();
  });
  after(async () => service.stop());

  const signedUp = async (username: string) => {
    const web = new WebClient(service.app);
    await web.signUp(username, PASSWORD);
    return web;
  };
  /** The account's subscriptions as the gpodder API lists them to every app. */
  const gpodderList = async (username: string) =>
    (await service.http.get(`/subscriptions/${username}.json`).auth(username, PASSWORD).expect(200)).body as string[];
  /** Posts an OPML file as the data page's import form does. */
  const importFile = async (web: WebClient, file: Buffer | string, name = 'subscriptions.opml') => {
    const token = csrfIn((await web.get('/data')).text)!;
    return web.agent.post('/data/subscriptions').field('_csrf', token).attach('file', Buffer.from(file), name);
  };

  it('subscribes by feed address on every device; the same again records nothing', async () => {
    const web = await signedUp('websub1');
    const subscribed = await web.submit('/', '/subscribe', { feed: ` ${FEED} ` });
    expect(subscribed.status).to.equal(303);
    expect(subscribed.headers['location']).to.equal('/?done=subscribed#subs');
    expect(await gpodderList('websub1')).to.deep.equal([FEED]);
    const home = await web.get('/?done=subscribed');
    expect(home.text).to.include(FEED).and.include('Your apps add the podcast at their next sync');

    const events = await service.eventCount();
    const again = await web.submit('/', '/subscribe', { feed: FEED });
    expect(again.headers['location']).to.equal('/?done=already#subs');
    expect(await service.eventCount()).to.equal(events);
  });

  it('refuses an address that is not an http(s) feed with a 400 naming the field, and writes nothing', async () => {
    const web = await signedUp('websub2');
    const events = await service.eventCount();
    for (const feed of ['javascript:alert(1)', 'not a url', '', `https://x.example/${'a'.repeat(2100)}`]) {
      const answer = await web.submit('/', '/subscribe', { feed });
      expect(answer.status, feed.slice(0, 30)).to.equal(400);
      expect(answer.text).to.include('feed:');
    }
    expect((await web.submit('/', '/unsubscribe', { feed: 'ftp://x.example/f' })).status).to.equal(400);
    expect(await service.eventCount()).to.equal(events);
    expect(await gpodderList('websub2')).to.deep.equal([]);
  });

  it('unsubscribes only once confirmed, on every device', async () => {
    const web = await signedUp('websub3');
    await web.submit('/', '/subscribe', { feed: FEED });
    const events = await service.eventCount();
    const confirm = await web.submit('/', '/unsubscribe', { feed: FEED });
    expect(confirm.status).to.equal(200);
    expect(confirm.text).to.include('Unsubscribe?').and.include(FEED).and.include('href="/"');
    expect(await service.eventCount(), 'the confirmation page writes nothing').to.equal(events);

    const done = await web.agent
      .post('/unsubscribe')
      .type('form')
      .send({ feed: FEED, confirm: 'yes', _csrf: csrfIn(confirm.text)! });
    expect(done.headers['location']).to.equal('/?done=unsubscribed#subs');
    expect(await gpodderList('websub3')).to.deep.equal([]);
    expect((await web.get('/')).text).not.to.include(`value="${FEED}"`);
  });

  it('downloads the subscriptions as OPML, with the titles apps sent', async () => {
    const web = await signedUp('websub4');
    const now = new Date().toISOString();
    await sendEvents(service, 'websub4', [
      { type: 'subscribe', timestamp: now, object: { rss_source_feed: FEED }, data: { rss_feed_title: 'Tom & "Jerry"' } },
      { type: 'subscribe', timestamp: now, object: { rss_source_feed: 'https://b.example/rss?x=1&y=2' }, data: {} },
    ]);
    const answer = await web.get('/data/subscriptions.opml').expect(200);
    expect(answer.headers['content-type']).to.match(/^text\/x-opml/);
    expect(answer.headers['content-disposition']).to.equal('attachment; filename="websub4-subscriptions.opml"');
    expect(answer.text).to.include(`xmlUrl="${FEED}"`).and.include('title="Tom &amp; &quot;Jerry&quot;"');
    expect(answer.text).to.include('xmlUrl="https://b.example/rss?x=1&amp;y=2"');
    // What it downloads, another account imports as it is.
    const other = await signedUp('websub4b');
    expect((await importFile(other, answer.text)).status).to.equal(303);
    expect((await gpodderList('websub4b')).sort()).to.deep.equal((await gpodderList('websub4')).sort());
    expect((await service.http.get('/data/subscriptions.opml').redirects(0)).status, 'signed out').to.equal(303);
  });

  it('imports an OPML file: nested outlines added, known ones and non-feeds counted, nothing removed', async () => {
    const web = await signedUp('websub5');
    await web.submit('/', '/subscribe', { feed: FEED });
    const answer = await importFile(
      web,
      opml(`<outline text="Folder">
        <outline type="rss" text="A" xmlUrl="https://a.example/feed"/>
        <outline type="rss" text="A again" xmlUrl="https://a.example/feed"/>
      </outline>
      <outline type="rss" text="Known" xmlUrl="${FEED}"/>
      <outline type="rss" text="B" xmlUrl="https://b.example/f?x=1&amp;y=2"/>
      <outline type="rss" text="Not a feed" xmlUrl="mailto:someone@example.com"/>`),
    );
    expect(answer.status).to.equal(303);
    expect(answer.headers['location']).to.equal('/data?added=2&known=1&skipped=1#opml');
    expect((await gpodderList('websub5')).sort()).to.deep.equal(['https://a.example/feed', 'https://b.example/f?x=1&y=2', FEED]);
    const page = await web.get('/data?added=2&known=1&skipped=1');
    expect(page.text).to.include('Imported: 2 podcasts added (your apps add them at their next sync), 1 podcast subscribed already, 1 entry skipped');
    expect((await web.get('/data?added=2&known=x&skipped=1')).text).not.to.include('Imported:');
    expect((await web.get('/data?done=toString')).text).not.to.include('native code');
  });

  it('reads a file in the encoding its declaration names', async () => {
    const web = await signedUp('websub6');
    const latin1 = Buffer.from(
      opml('<outline text="Caf\u00e9" xmlUrl="https://caf\u00e9.example/feed"/>', '<?xml version="1.0" encoding="ISO-8859-1"?>'),
      'latin1',
    );
    expect((await importFile(web, latin1)).status).to.equal(303);
    expect(await gpodderList('websub6')).to.deep.equal(['https://caf\u00e9.example/feed']);
  });

  it('refuses what is not one OPML list of at most 10,000 feeds in at most 5 MB, writing nothing', async () => {
    const web = await signedUp('websub7');
    const events = await service.eventCount();
    const refused = async (answer: { status: number; text: string }, status: number, says: string) => {
      expect(answer.status, says).to.equal(status);
      expect(answer.text).to.include(says);
    };
    await refused(await importFile(web, 'https://a.example/feed\n', 'list.txt'), 400, 'file: not an OPML list');
    await refused(await importFile(web, opml('<outline text="no feed"/>')), 400, 'file: the list names no feed');
    await refused(await importFile(web, ''), 400, 'file: choose an OPML file');
    const many = Array.from({ length: 10_001 }, (_, i) => `<outline xmlUrl="https://m.example/${i}"/>`).join('');
    await refused(await importFile(web, opml(many)), 400, 'at most 10000 podcasts');
    await refused(await importFile(web, opml(`<!-- ${'x'.repeat(5 * 1024 * 1024)} -->`)), 413, 'larger than 5 MB');
    const token = csrfIn((await web.get('/data')).text)!;
    await refused(await web.agent.post('/data/subscriptions').field('_csrf', token), 400, 'file: choose an OPML file');
    await refused(
      await web.agent
        .post('/data/subscriptions')
        .field('_csrf', token)
        .attach('file', Buffer.from(opml('')), 'a.opml')
        .attach('file', Buffer.from(opml('')), 'b.opml'),
      400,
      'The form was not understood',
    );
    await refused(
      await web.agent
        .post('/data/subscriptions')
        .field('_csrf', token)
        .attach('other', Buffer.from(opml('')), 'a.opml'),
      400,
      '(other)',
    );
    // Said to be multipart but not: no boundary, cut short, a part without headers.
    for (const [type, body] of [
      ['multipart/form-data', ''],
      ['multipart/form-data; boundary=x', ''],
      ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n' + token],
      ['multipart/form-data; boundary=x', '--x\r\n\r\n\r\n--x--'],
    ] as const)
      await refused(await web.agent.post('/data/subscriptions').set('Content-Type', type).send(body), 400, 'The form was not understood');
    // Without the form's CSRF token, or not as multipart (so without one): 403.
    const noToken = await web.agent.post('/data/subscriptions').attach('file', Buffer.from(opml(`<outline xmlUrl="${FEED}"/>`)), 'a.opml');
    expect(noToken.status).to.equal(403);
    expect((await web.agent.post('/data/subscriptions').type('form').send({ _csrf: token })).status, 'not multipart: no token read').to.equal(403);
    expect((await service.http.post('/subscribe').type('form').send({ feed: FEED })).status, 'signed out').to.equal(403);
    // Signed out with a file on its way (a session ended while the page was open): the page, read after the file.
    const signedOut = await service.http.post('/data/subscriptions').set('Connection', 'close').attach('file', Buffer.alloc(900_000, 'x'), 'a.opml');
    expect(signedOut.status).to.equal(403);
    expect(signedOut.text).to.include('Your session has ended');
    expect(await service.eventCount()).to.equal(events);
  });
});
