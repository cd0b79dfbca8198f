/**
 * Anonymous means no trace of identity (issue 16, item 5): over random users and events, no
 * free text an anonymous or private user supplied — titles, share recipients and messages,
 * playlist names, device names, enclosure and cover URLs — reaches a public view (public events,
 * podcast and episode popularity). Public users' titles do (so the test is not vacuous).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { allProjections } from '../../projections/index.js';
import { PUBLIC_EVENTS } from '../../projections/public-events.js';
import { EPISODE_POPULARITY, PODCAST_POPULARITY } from '../../projections/popularity.js';
import type { Privacy, UserEvent } from '../../src/domain/events.js';
import { toStoreEvent } from '../../src/services/codec.js';
import { foldInMemory, memoryStores } from '../projector/support.js';

const PUBLIC_VIEWS = [PUBLIC_EVENTS, EPISODE_POPULARITY, PODCAST_POPULARITY];
const FEEDS = ['https://a.example.com/feed.xml', 'https://b.example.com/feed.xml'];

type Kind = 'subscribe' | 'play' | 'save' | 'share';
interface Plan {
  readonly users: readonly {
    readonly privacy: Privacy | null;
    readonly privacyAt: number;
    readonly events: readonly { kind: Kind; feed: number; guid: number }[];
  }[];
}

const plan: fc.Arbitrary<Plan> = fc.record({
  users: fc.array(
    fc.record({
      privacy: fc.constantFrom<Privacy | null>('public', 'anonymous', 'private', null),
      privacyAt: fc.nat(6),
      events: fc.array(fc.record({ kind: fc.constantFrom<Kind>('subscribe', 'play', 'save', 'share'), feed: fc.nat(1), guid: fc.nat(2) }), {
        minLength: 1,
        maxLength: 6,
      }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
});

/** A user's events, every free-text field holding a marker unique to the user. */
function eventsOf(index: number, user: Plan['users'][number]): UserEvent[] {
  const userId = `user-${index}`;
  const mark = (what: string) => `zz${what}${index}zz`;
  let n = 0;
  const base = () => ({
    id: `00000000-0000-4000-8000-${String(index * 100 + ++n).padStart(12, '0')}`,
    timestamp: `2026-05-01T00:${String(n).padStart(2, '0')}:00.000Z`,
    user: userId,
  });
  const events: UserEvent[] = user.events.map(({ kind, feed, guid }): UserEvent => {
    const episode = { rss_source_feed: FEEDS[feed]!, rss_source_id: `guid-${guid}` };
    switch (kind) {
      case 'subscribe':
        return { ...base(), type: 'subscribe', object: { rss_source_feed: FEEDS[feed]! }, data: { rss_feed_title: mark('feedtitle'), device: mark('device') } };
      case 'play':
        return {
          ...base(),
          type: 'play',
          object: episode,
          data: {
            played: true,
            position: 10,
            rss_feed_title: mark('feedtitle'),
            rss_item_title: mark('itemtitle'),
            device: mark('device'),
            enclosure: {
              url: `https://cdn.example.com/${mark('enclosure')}.mp3`,
              cover: { src: `https://cdn.example.com/${mark('cover')}.jpg`, srcset: mark('srcset') },
            },
          },
        };
      case 'save':
        return {
          ...base(),
          type: 'save',
          object: episode,
          data: { playlist: mark('playlist'), item_id: mark('item'), item_title: mark('itemtitle'), feed_title: mark('feedtitle') },
        };
      case 'share':
        return { ...base(), type: 'share', object: episode, data: { to: `${mark('to')}@example.com`, message: mark('message') } };
    }
  });
  if (user.privacy !== null)
    events.splice(Math.min(user.privacyAt, events.length), 0, { ...base(), type: 'privacy', object: null, data: { privacy: user.privacy } });
  return events;
}

describe('anonymity of public views (property)', function () {
  this.timeout(120_000);

  it('no free text of an anonymous or private user reaches a public view', async () => {
    await fc.assert(
      fc.asyncProperty(plan, async (p) => {
        const { eventStore, readModel: _unused, close } = memoryStores();
        try {
          for (const [index, user] of p.users.entries()) {
            await eventStore.append(
              `user-user-${index}`,
              eventsOf(index, user).map((event) => toStoreEvent(event, { username: `name${index}` })),
            );
          }
          const docs = await foldInMemory(eventStore, allProjections, { defaultPrivacy: 'private' });
          const served = JSON.stringify(PUBLIC_VIEWS.map((name) => docs[name]));
          for (const [index, user] of p.users.entries()) {
            const hidden = user.privacy !== 'public';
            if (hidden) expect(served, `user ${index} (${user.privacy ?? 'default private'})`).to.not.match(new RegExp(`zz[a-z]+${index}zz`));
            // Never published, whatever the level: devices, recipients, playlist ids and URLs clients chose.
            expect(served).to.not.match(new RegExp(`zz(device|to|playlist|item|enclosure)${index}zz`));
          }
        } finally {
          await close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a public user’s titles are published (the check above is not vacuous)', async () => {
    const { eventStore, close } = memoryStores();
    try {
      await eventStore.append(
        'user-user-0',
        eventsOf(0, { privacy: 'public', privacyAt: 0, events: [{ kind: 'play', feed: 0, guid: 0 }] }).map((event) =>
          toStoreEvent(event, { username: 'name0' }),
        ),
      );
      const docs = await foldInMemory(eventStore, allProjections, { defaultPrivacy: 'private' });
      expect(JSON.stringify(docs[PUBLIC_EVENTS])).to.contain('zzitemtitle0zz');
      expect(JSON.stringify(docs[EPISODE_POPULARITY])).to.contain('zzitemtitle0zz');
    } finally {
      await close();
    }
  });
});
