/** The simple API's list formats (src/domain/gpodder-formats.ts). */
import { expect } from 'chai';
import { ListFormatError, formatList, parseList } from '../../src/domain/gpodder-formats.js';

const PODCASTS = [
  { url: 'https://a.example/feed.xml?x=1&y=2', title: 'A & "B" <show>' },
  { url: 'https://b.example/rss', title: null },
];

describe('gpodder simple API formats', () => {
  it('round-trips every format', () => {
    for (const format of ['opml', 'json', 'txt'] as const) {
      expect(parseList(format, formatList(format, PODCASTS)), format).to.deep.equal(PODCASTS.map((p) => p.url));
    }
  });

  it('JSON is a list of URLs; TXT one URL a line', () => {
    expect(JSON.parse(formatList('json', PODCASTS))).to.deep.equal(PODCASTS.map((p) => p.url));
    expect(formatList('txt', PODCASTS)).to.equal('https://a.example/feed.xml?x=1&y=2\nhttps://b.example/rss\n');
  });

  it('OPML escapes titles and URLs and names the feeds by title', () => {
    const opml = formatList('opml', PODCASTS);
    expect(opml).to.contain('xmlUrl="https://a.example/feed.xml?x=1&amp;y=2"');
    expect(opml).to.contain('title="A &amp; &quot;B&quot; &lt;show&gt;"');
    expect(opml).to.contain('title="https://b.example/rss"');
  });

  it('reads OPML as exported by podcast apps: nested outlines, single quotes, entities, comments', () => {
    const opml = `<?xml version='1.0'?>
      <opml version='1.1'><head/><body>
        <outline text='Folder'>
          <outline type='rss' xmlUrl='https://a.example/f?a=1&amp;b=&#50;' />
          <!-- <outline xmlUrl="https://commented.example/out"/> -->
        </outline>
        <outline XMLURL="https://b.example/f&#x2F;x"></outline>
        <outline text="no feed"/>
      </body></opml>`;
    expect(parseList('opml', opml)).to.deep.equal(['https://a.example/f?a=1&b=2', 'https://b.example/f/x']);
  });

  it("reads AntennaPod's export as its OpmlWriter writes it (KXmlSerializer: single-quoted declaration, escapes, htmlUrl, atom type)", () => {
    // storage/importexport/.../OpmlWriter.java: text and title, type when known, xmlUrl, htmlUrl when known.
    const opml = [
      "<?xml version='1.0' encoding='UTF-8' ?>",
      '<opml version="2.0">',
      '  <head>',
      '    <title>AntennaPod Subscriptions</title>',
      '    <dateCreated>07 Dec 26 10:15:00 +0000</dateCreated>',
      '  </head>',
      '  <body>',
      '    <outline text="Tom &amp; &quot;Jerry&quot; &lt;live&gt;&#10;" title="Tom &amp; &quot;Jerry&quot; &lt;live&gt;&#10;" type="rss" xmlUrl="https://feeds.example.com/show.xml?x=1&amp;y=2" htmlUrl="https://example.com/" />',
      '    <outline text="Ünïcödé 📻" title="Ünïcödé 📻" type="atom" xmlUrl="https://atom.example.org/feed" />',
      '    <outline text="No type" title="No type" xmlUrl="http://plain.example.net/rss" />',
      '  </body>',
      '</opml>',
    ].join('\n');
    expect(parseList('opml', opml)).to.deep.equal([
      'https://feeds.example.com/show.xml?x=1&y=2',
      'https://atom.example.org/feed',
      'http://plain.example.net/rss',
    ]);
  });

  it('reads OPML: case-insensitive names, other elements named outline…, a comment never closed runs to the end', () => {
    const opml = `<OPML><body><OUTLINE XmlUrl="https://a.example/f"/><outlines xmlUrl="https://not.example/1"/>
      <outline.x xmlUrl="https://not.example/2"/><outline
        xmlUrl="https://b.example/f">
      <!-- <outline xmlUrl="https://not.example/3"/> --><outline xmlUrl="https://c.example/f"/>
      <!-- never closed <outline xmlUrl="https://not.example/4"/>`;
    expect(parseList('opml', opml)).to.deep.equal(['https://a.example/f', 'https://b.example/f', 'https://c.example/f']);
  });

  it('reads a hostile OPML list of 2 MB in time linear in its size (a scan retried at every start took minutes)', function () {
    this.timeout(10_000);
    const size = 2 * 1024 * 1024;
    const hostile = (unit: string) => `<opml>${unit.repeat(Math.ceil(size / unit.length))}`;
    for (const unit of ['<outline ', '<!--', '<outline xmlUrl="', '<outline xmlUrl=\'x" ', '<outline x="<outline"']) {
      const started = performance.now();
      parseList('opml', hostile(unit));
      // Linear: a few milliseconds; the quadratic scans took 5 s at a sixth of this size.
      expect(performance.now() - started, unit).to.be.below(1_000);
    }
  });

  it('reads TXT with blank lines, comments and CRLF; JSON lists of podcast objects', () => {
    expect(parseList('txt', '# mine\r\nhttps://a.example/f\r\n\r\n  https://b.example/f  \n')).to.deep.equal(['https://a.example/f', 'https://b.example/f']);
    expect(parseList('json', '[{"url":"https://a.example/f","title":"A"},"https://b.example/f"]')).to.deep.equal([
      'https://a.example/f',
      'https://b.example/f',
    ]);
  });

  it('refuses bodies that are not the format', () => {
    expect(() => parseList('json', '{"a":1}')).to.throw(ListFormatError);
    expect(() => parseList('json', 'not json')).to.throw(ListFormatError);
    expect(() => parseList('json', '[1]')).to.throw(ListFormatError, 'entry 0');
    expect(() => parseList('opml', 'https://a.example/f')).to.throw(ListFormatError);
  });
});
