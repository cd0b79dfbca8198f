/** The podcast directory's pure rules (src/domain/directory.ts): what an entry holds, what a search finds. */
import { expect } from 'chai';
import { directoryPodcastOf, matchesSearch, searchTerms } from '../../src/domain/directory.js';

const FEED = 'https://feeds.example.com/rust-weekly.xml';

describe('podcast directory', () => {
  it('makes an entry of a popularity document joined with its feed, blanks as unknown', () => {
    expect(
      directoryPodcastOf({
        rss_source_feed: FEED,
        plays: 3,
        likes: 1,
        title: 'Rust Weekly',
        author: ' ',
        cover: { src: 'https://c.example/x.png', srcset: 'https://c.example/x2.png 2x' },
        website: 'https://rust.example',
      }),
    ).to.deep.equal({
      url: FEED,
      title: 'Rust Weekly',
      author: null,
      description: null,
      website: 'https://rust.example',
      logo: 'https://c.example/x.png',
      listeners: 3,
    });
    expect(directoryPodcastOf({ rss_source_feed: FEED, likes: 2 }).listeners, 'liked, never played').to.equal(0);
    expect(directoryPodcastOf({ rss_source_feed: FEED, plays: 1, cover: null }).logo).to.equal(null);
  });

  it('finds an entry holding every word of the query in its title, author or URL, whatever the case', () => {
    const podcast = directoryPodcastOf({ rss_source_feed: FEED, plays: 1, title: 'Rust Weekly', author: 'Ferris Crab', description: 'gardening tips' });
    const finds = (query: string) => matchesSearch(podcast, searchTerms(query));
    expect(finds('rust')).to.equal(true);
    expect(finds('  WEEKLY   rust ')).to.equal(true);
    expect(finds('ferris')).to.equal(true);
    expect(finds('feeds.example.com')).to.equal(true);
    expect(finds('rust garden'), 'a word only the description holds').to.equal(false);
    expect(finds('   '), 'no words find nothing').to.equal(false);
  });
});
