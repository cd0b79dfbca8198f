/**
 * gpodder.net's podcast directory (docs/api.md, "Podcast directory"): the toplist, the search and
 * one podcast's data list what public and anonymous listeners played, most played first, in
 * gpodder.net's formats; a private listener's podcasts never appear, and a listener going
 * private takes theirs out; what the feed says (title, website, cover) fills what apps sent none
 * of. Bad input is a 400 naming the field.
 */
import { expect } from 'chai';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import { OTHER, PRIVATE, SHOW, play, postEvents, privacy, publishListeners } from '../../support/published-podcasts.js';
import { fixture, startFeedServer, xml } from '../../feeds/feed-server.js';

describe('gpodder API: the podcast directory', function () {
  this.timeout(20_000);
  let service: TestService;

  before(async () => {
    service = await startTestService({ FEEDS_ALLOW_PRIVATE_NETWORKS: 'true' });
    await publishListeners(service);
  });
  after(() => service.stop());

  it('lists the most played published podcasts as gpodder.net does, without a private listener’s', async () => {
    const response = await service.http.get('/toplist/10.json');
    expect(response.status).to.equal(200);
    expect(response.type).to.equal('application/json');
    expect(response.body).to.have.length(2);
    const [first, second] = response.body;
    expect(first).to.include({ url: SHOW, title: 'Rust Weekly', subscribers: 2, subscribers_last_week: 2, description: '' });
    expect(first.mygpo_link).to.match(/^http:\/\/127\.0\.0\.1:\d+\/podcast\?feed=https%3A%2F%2Ffeeds\.example\.com%2Frust-weekly\.xml$/);
    expect(first).to.have.all.keys(
      'url',
      'title',
      'author',
      'description',
      'subscribers',
      'subscribers_last_week',
      'logo_url',
      'scaled_logo_url',
      'website',
      'mygpo_link',
    );
    expect(second).to.include({ url: OTHER, subscribers: 1 });
    expect(JSON.stringify(response.body)).not.to.include('private-matters');
    expect((await service.http.get('/toplist/1.json')).body.map((podcast: { url: string }) => podcast.url)).to.deep.equal([SHOW]);
  });

  it('answers the toplist and a search as OPML and as text too', async () => {
    const opml = await service.http.get('/toplist/5.opml');
    expect(opml.status).to.equal(200);
    expect(opml.type).to.equal('text/x-opml');
    expect(opml.text).to.include(`xmlUrl="${SHOW}"`).and.to.include('title="Rust Weekly"');
    const text = await service.http.get('/search.txt?q=garden');
    expect(text.status).to.equal(200);
    expect(text.text).to.equal(`${OTHER}\n`);
  });

  it('searches the published podcasts by every word of the query in their title, author or URL', async () => {
    const search = async (q: string) => {
      const response = await service.http.get('/search.json').query({ q });
      expect(response.status).to.equal(200);
      return response.body.map((podcast: { url: string }) => podcast.url);
    };
    expect(await search('RUST weekly')).to.deep.equal([SHOW]);
    expect(await search('feeds.example.com')).to.deep.equal([SHOW, OTHER]);
    expect(await search('rust garden')).to.deep.equal([]);
    expect(await search('private'), 'a private listener’s podcast is not found').to.deep.equal([]);
  });

  it('answers one published podcast’s data, and 404 for any other', async () => {
    const found = await service.http.get('/api/2/data/podcast.json').query({ url: OTHER });
    expect(found.status).to.equal(200);
    expect(found.body).to.include({ url: OTHER, title: 'The Garden Hour', subscribers: 1 });
    const secret = await service.http.get('/api/2/data/podcast.json').query({ url: PRIVATE });
    expect(secret.status).to.equal(404);
    expect(JSON.stringify(secret.body)).not.to.include('Very Private');
    expect((await service.http.get('/api/2/data/podcast.json').query({ url: 'https://unknown.example/feed' })).status).to.equal(404);
  });

  it('refuses bad input with a 400 naming the field', async () => {
    for (const [path, field] of [
      ['/toplist/0.json', 'count'],
      ['/toplist/101.json', 'count'],
      ['/toplist/ten.json', 'count'],
      ['/search.json', 'query.q'],
      ['/search.json?q=%20%20', 'query.q'],
      ['/search.json?q=a&q=b', 'query.q'],
      [`/search.json?q=${'x'.repeat(201)}`, 'query.q'],
      ['/api/2/data/podcast.json?url=javascript:alert(1)', 'query.url'],
      ['/api/2/data/podcast.json', 'query.url'],
    ] as const) {
      const response = await service.http.get(path);
      expect(response.status, path).to.equal(400);
      expect(JSON.stringify(response.body), path).to.include(field);
    }
    expect((await service.http.get('/toplist/10.xml')).status).to.equal(404);
  });

  it('takes a listener’s podcasts out once they go private', async () => {
    const dave = await service.login();
    const LATE = 'https://feeds.example.com/late-show.xml';
    await postEvents(service, dave.token, [privacy('public'), play(LATE, 'l1', 'The Late Show')]);
    await service.settle();
    expect((await service.http.get('/search.json?q=late')).body).to.have.length(1);
    await postEvents(service, dave.token, [privacy('private', '2026-05-03T00:00:00Z')]);
    await service.settle();
    expect((await service.http.get('/search.json?q=late')).body).to.deep.equal([]);
    expect((await service.http.get('/api/2/data/podcast.json').query({ url: LATE })).status).to.equal(404);
  });

  it('fills what apps sent none of from the fetched feed: title, description, website and cover', async () => {
    const feeds = await startFeedServer();
    try {
      const feed = `${feeds.origin}/fixture.xml`;
      feeds.route('/fixture.xml', xml(fixture('rss-podcast.xml')));
      const erin = await service.login();
      await postEvents(service, erin.token, [privacy('public'), { ...play(feed, 'f1', 'x'), data: { played: true, position: 1 } }]);
      await service.feeds.refresh(feed);
      await service.settle();
      const found = await service.http.get('/api/2/data/podcast.json').query({ url: feed });
      expect(found.status).to.equal(200);
      expect(found.body).to.include({
        title: 'Fixture Radio',
        description: 'A fixture podcast & friends',
        website: 'https://fixture.example/',
        logo_url: 'https://fixture.example/cover-itunes.jpg',
        scaled_logo_url: 'https://fixture.example/cover-itunes.jpg',
      });
    } finally {
      await feeds.close();
    }
  });
});
