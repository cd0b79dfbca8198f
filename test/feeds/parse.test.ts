/** Feed parsing: RSS 2.0 with iTunes and Podcasting 2.0, Atom, and malformed documents. */
import { expect } from 'chai';
import { feedEpisode, feedPodcast } from '../../src/domain/feeds.js';
import { decodeXml, duration, FeedParseError, parseFeed } from '../../src/feeds/parse.js';
import { fixture } from './feed-server.js';

describe('feed parsing', () => {
  it('reads RSS 2.0 with the iTunes and podcast namespaces', () => {
    const facts = parseFeed(fixture('rss-podcast.xml'));
    expect(facts.podcast).to.deep.equal({
      title: 'Fixture Radio',
      author: 'Ada Fixture',
      description: 'A fixture podcast & friends',
      link: 'https://fixture.example/',
      podcast_guid: '917393e3-1b1e-5cef-ace4-edaa54e1f810',
      cover: {
        src: 'https://fixture.example/cover-itunes.jpg',
        srcset: 'https://fixture.example/cover-1500.jpg 1500w, https://fixture.example/cover-600.jpg 600w',
      },
    });
    expect(facts.episodes).to.deep.equal([
      {
        guid: 'fixture-ep-2',
        title: 'Episode 2: Second',
        url: 'https://fixture.example/ep2.mp3',
        type: 'audio/mpeg',
        size: 2345678,
        duration: 3723,
        published: '2026-02-03T10:00:00.000Z',
      },
      {
        guid: 'https://fixture.example/ep1',
        title: 'Episode 1: First',
        url: 'https://fixture.example/ep1.mp3',
        type: 'audio/mpeg',
        size: 1234,
        duration: 754,
        published: '2026-02-02T08:30:00.000Z',
      },
      {
        guid: 'https://fixture.example/ep0.mp3',
        title: 'No guid, only an enclosure',
        url: 'https://fixture.example/ep0.mp3',
        type: 'audio/mpeg',
        size: null,
        duration: 750,
        published: null,
      },
    ]);
    // What the parser gives is what the event schemas accept.
    feedPodcast.parse(facts.podcast);
    for (const episode of facts.episodes) feedEpisode.parse(episode);
  });

  it('follows the namespace bindings, not just the usual prefixes', () => {
    const xml = fixture('rss-podcast.xml').replaceAll('itunes:', 'it:').replace('xmlns:itunes=', 'xmlns:it=');
    expect(parseFeed(xml).podcast.author).to.equal('Ada Fixture');
  });

  it('reads Atom', () => {
    const facts = parseFeed(fixture('atom.xml'));
    expect(facts.podcast).to.include({ title: 'Atom Fixture', author: 'Grace Atom', description: 'Told in Atom' });
    expect(facts.podcast.cover).to.deep.equal({ src: 'https://atom.example/logo.png' });
    expect(facts.episodes).to.deep.equal([
      {
        guid: 'urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a',
        title: 'Atom episode',
        url: 'https://atom.example/episode.mp3',
        type: 'audio/mpeg',
        size: 9999,
        duration: null,
        published: '2026-02-01T12:00:00.000Z',
      },
    ]);
  });

  it('throws a FeedParseError on malformed XML and on documents that are no feed', () => {
    for (const xml of [fixture('malformed.xml'), '', 'not xml at all', '<html><body>hi</body></html>', '<rss version="2.0"></rss>']) {
      expect(() => parseFeed(xml), xml.slice(0, 30)).to.throw(FeedParseError);
    }
  });

  it('keeps only what events accept: http(s) URLs, no control characters, bounded titles', () => {
    const xml = `<rss><channel><title>T\u0001${'x'.repeat(2000)}</title><itunes:image href="javascript:alert(1)"/>
      <item><guid>a</guid><enclosure url="file:///etc/passwd" length="-1"/><itunes:duration>nonsense</itunes:duration><pubDate>yesterday</pubDate></item>
      <item><guid>a</guid><title>duplicate guid</title></item></channel></rss>`;
    const facts = parseFeed(xml);
    expect(facts.podcast.title).to.have.length(1024).and.match(/^Tx+$/);
    expect(facts.podcast.cover).to.equal(null);
    expect(facts.episodes).to.deep.equal([{ guid: 'a', title: null, url: null, type: null, size: null, duration: null, published: null }]);
  });

  it('reads descriptions as text: markup gone, escapes read, a `<` never closed kept', () => {
    const description = (html: string) => parseFeed(`<rss><channel><description><![CDATA[${html}]]></description></channel></rss>`).podcast.description;
    expect(description('<p>One &amp; <b>two</b></p><br/>three')).to.equal('One & two three');
    expect(description('<i>a</i> < b')).to.equal('a < b');
    expect(description('x <unclosed <y')).to.equal('x <unclosed <y');
  });

  it('reads a hostile description of 512 KB in time linear in its size (a strip retried at every `<` took a minute)', function () {
    this.timeout(10_000);
    for (const unit of ['<', '&lt;', '<a<b']) {
      const xml = `<rss><channel><description>${unit.replace(/</g, '&lt;').repeat(Math.ceil((512 * 1024) / unit.length))}</description></channel></rss>`;
      const started = performance.now();
      parseFeed(xml);
      // Linear: a few hundred milliseconds, most of it the XML parser's; the quadratic strip took
      // 2 s at 80 KB, and four times as long at each doubling.
      expect(performance.now() - started, unit).to.be.below(3_000);
    }
  });

  it('reads itunes:duration as seconds, MM:SS or HH:MM:SS', () => {
    expect([duration('90'), duration('1:30'), duration('01:01:30'), duration('12.6'), duration('x'), duration(undefined)]).to.deep.equal([
      90,
      90,
      3690,
      13,
      null,
      null,
    ]);
  });
});

describe('feed decoding', () => {
  it('reads the encoding the XML declaration names', () => {
    const latin1 = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><rss><channel><title>Caf\xe9</title></channel></rss>', 'latin1');
    expect(parseFeed(decodeXml(latin1)).podcast.title).to.equal('Café');
    expect(parseFeed(decodeXml(Buffer.from('<rss><channel><title>Café</title></channel></rss>'))).podcast.title).to.equal('Café');
  });
});
