/**
 * Every sort the code issues must be read from an index in order: MongoDB otherwise sorts every
 * matching document in memory (the whole collection for the public lists), and refuses beyond
 * its sort memory limit. A find sorts by its orderBy then `_id` ascending (the port's tie rule),
 * so an index serves it only if its keys are some of the query's equality fields, then the sort
 * fields in the sort's directions, then `_id` ascending, or exactly all of that reversed.
 * The shapes below are the finds of src/http, src/services and projections (rankPeople).
 */
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import { mongoIndex } from '../../src/stores/mongodb/mongo-read-model.js';
import { indexSpec, mergeSpecs } from '../../src/stores/read-model.js';

interface Shape {
  readonly what: string;
  readonly collection: string;
  readonly equality: Readonly<Record<string, string | boolean>>;
  readonly sort: readonly [string, 1 | -1][];
}

const QUERIES: readonly Shape[] = [
  { what: 'public events, unfiltered', collection: 'public_events', equality: {}, sort: [['timestamp', -1]] },
  { what: 'public events of a feed', collection: 'public_events', equality: { 'object.rss_source_feed': 'f' }, sort: [['timestamp', -1]] },
  { what: 'public events of a user', collection: 'public_events', equality: { user: 'u' }, sort: [['timestamp', -1]] },
  {
    what: 'popular podcasts',
    collection: 'podcast_popularity',
    equality: {},
    sort: [
      ['plays', -1],
      ['likes', -1],
    ],
  },
  {
    what: 'popular episodes',
    collection: 'episode_popularity',
    equality: {},
    sort: [
      ['plays', -1],
      ['likes', -1],
    ],
  },
  {
    what: 'popular episodes of a feed',
    collection: 'episode_popularity',
    equality: { rss_source_feed: 'f' },
    sort: [
      ['plays', -1],
      ['likes', -1],
    ],
  },
  ...(['play', 'like'] as const).flatMap((kind) => {
    const [seq, flag] = kind === 'play' ? ['play_seq', 'played'] : ['like_seq', 'liked'];
    return [
      {
        what: `people who ${kind}ed an episode`,
        collection: 'popularity_episode_contributions',
        equality: { feed: 'f', guid: 'g', level: 'public', [flag]: true },
        sort: [[seq, -1]] as [string, -1][],
      },
      {
        what: `people who ${kind}ed a podcast`,
        collection: 'popularity_podcast_contributions',
        equality: { feed: 'f', level: 'public', [flag]: true },
        sort: [[seq, -1]] as [string, -1][],
      },
    ];
  }),
  { what: 'play statuses since', collection: 'play_statuses', equality: { user: 'u' }, sort: [['seq', 1]] },
  { what: 'subscriptions since', collection: 'subscriptions', equality: { user: 'u' }, sort: [['seq', 1]] },
  { what: 'episode actions since', collection: 'episode_actions', equality: { user: 'u', 'action.podcast': 'f', 'action.device': 'd' }, sort: [['seq', 1]] },
  { what: 'gpodder devices', collection: 'gpodder_devices', equality: { user: 'u' }, sort: [['key', 1]] },
  { what: 'subscriptions, oldest first', collection: 'subscriptions', equality: { user: 'u' }, sort: [['created_at', 1]] },
  // Playlists and their items, all of a user's (playlistsOf orders them).
  { what: "a user's playlists", collection: 'playlists', equality: { user: 'u' }, sort: [] },
  // Every privacy choice of a user (an account-wide change, a checkpoint, an account deleted).
  ...['privacy_settings', 'public_events_privacy', 'popularity_privacy'].map((collection) => ({
    what: `a user's privacy choices (${collection})`,
    collection,
    equality: { user: 'u' },
    sort: [] as [string, 1 | -1][],
  })),
];

function serves(index: ReturnType<typeof mongoIndex>, shape: Shape): boolean {
  const filter = Object.entries(index.partialFilterExpression ?? {});
  if (!filter.every(([field, value]) => shape.equality[field] === value)) return false;
  const keys = Object.entries(index.key);
  let start = 0;
  while (start < keys.length && keys[start]![0] in shape.equality && !shape.sort.some(([field]) => field === keys[start]![0])) start++;
  const rest = keys.slice(start);
  const wanted = [...shape.sort, ['_id', 1] as [string, 1]];
  if (rest.length !== wanted.length || rest.some(([field], i) => field !== wanted[i]![0])) return false;
  const same = rest.every(([, direction], i) => direction === wanted[i]![1]);
  const reversed = rest.every(([, direction], i) => direction === -wanted[i]![1]);
  return same || reversed;
}

describe('MongoDB indexes cover every sort the code issues', function () {
  const specs = mergeSpecs(allProjections.flatMap((projection) => projection.collections));
  for (const shape of QUERIES) {
    it(shape.what, function () {
      const spec = specs.find((candidate) => candidate.name === shape.collection);
      expect(spec, shape.collection).to.not.equal(undefined);
      const indexes = spec!.indexes.map(indexSpec).map(mongoIndex);
      expect(
        indexes.some((index) => serves(index, shape)),
        JSON.stringify(indexes.map((index) => index.key)),
      ).to.equal(true);
    });
  }

  it('declares, for every collection clustered by fields, an index on them: MongoDB keeps documents by _id', function () {
    const clustered = specs.filter((spec) => spec.clusteredBy !== undefined);
    expect(clustered.map((spec) => spec.name)).to.include('episode_actions');
    for (const spec of clustered) {
      const keys = spec.clusteredBy!;
      expect(
        spec.indexes.map(indexSpec).some((index) => index.where === undefined && keys.every((field, at) => index.fields[at] === field)),
        spec.name,
      ).to.equal(true);
    }
  });

  it('builds an index as its fields in the declared direction, then _id ascending', function () {
    expect(mongoIndex({ fields: ['plays', 'likes'], sort: 'desc' })).to.deep.equal({ key: { plays: -1, likes: -1, _id: 1 }, name: 'plays_-1_likes_-1__id_1' });
    expect(mongoIndex({ fields: ['episode', 'play_seq'], where: { level: 'public', played: true }, sort: 'desc' })).to.deep.include({
      name: 'episode_-1_play_seq_-1__id_1__where__level_public__played_true',
      partialFilterExpression: { level: 'public', played: true },
    });
  });
});
