/**
 * Feed keys (src/domain/feeds.ts): the stream names and document ids of feeds and their
 * episodes. They are stored, so they must never change, whatever the memo in front of the hash
 * holds: pinned against SHA-256 itself, before and after the memo has been filled and emptied.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { episodeDocKey, feedKey, feedStream } from '../../src/domain/feeds.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);
const FEED = 'https://feeds.example.com/show.xml';

describe('feed keys', function () {
  it('are the first 128 bits of SHA-256, as stored, before and after the memo fills up and empties', function () {
    const check = () => {
      expect(feedKey(FEED)).to.equal(sha(FEED));
      expect(feedStream(FEED)).to.equal(`feed-${sha(FEED)}`);
      expect(episodeDocKey(FEED, 'urn:guid:1')).to.equal(`${sha(FEED)}|${sha('urn:guid:1')}`);
    };
    check();
    for (let i = 0; i < 25_000; i++) expect(feedKey(`https://feeds.example.com/${i}.xml`)).to.have.length(32);
    check();
    expect(feedKey('https://feeds.example.com/24999.xml')).to.equal(sha('https://feeds.example.com/24999.xml'));
  });

  it('tell different feeds apart', function () {
    expect(feedKey(FEED)).to.not.equal(feedKey(`${FEED}?page=2`));
  });
});
