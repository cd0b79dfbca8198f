/**
 * gpodder (and Nextcloud) downloads ahead of the projector: when `episode_actions` has not reached the user's
 * latest event, the actions it has not projected are made from the user's stream, and the
 * answer is the one the read model gives once caught up (the same actions, page by page, in
 * the same order, with filters; a cursor that skips nothing).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import type { Principal } from '../../src/services/accounts.js';
import type { GpodderAction, GpodderActionInput } from '../../src/domain/gpodder.js';
import { gpodderUploadBody } from '../../src/domain/gpodder.js';
import { GpodderService } from '../../src/services/gpodder.js';
import type { DownloadQuery } from '../../src/services/gpodder-episodes.js';
import { GpodderEpisodeService } from '../../src/services/gpodder-episodes.js';
import { ReadModelService } from '../../src/services/read-models.js';
import { UserEventService } from '../../src/services/user-events.js';
import { UserStateCache } from '../../src/services/user-state-cache.js';
import { appendCheckpoint } from '../support/checkpoint.js';
import type { Position, StreamTailOptions } from '../../src/stores/event-store.js';
import { gpodderTimestamp } from '../../src/domain/cursors.js';

const FEEDS = ['https://feeds.example.com/a.xml', 'https://feeds.example.com/b.xml'];

function actions(from: number, count: number): GpodderActionInput[] {
  return gpodderUploadBody.parse(
    Array.from({ length: count }, (_, k) => {
      const i = from + k;
      const base = {
        podcast: FEEDS[i % 2],
        episode: `https://cdn.example.com/e${i}.mp3`,
        device: i % 3 === 0 ? 'phone' : 'laptop',
        timestamp: `2026-03-01T10:${String(i % 60).padStart(2, '0')}:00`,
      };
      // Every fifth a download, every seventh a play without a position (never served).
      if (i % 5 === 0) return { ...base, action: 'download' };
      if (i % 7 === 0) return { ...base, action: 'play' };
      return { ...base, action: 'play', started: 0, position: i, total: 1000 };
    }),
  );
}

// Without the folded-user cache, and with it (the play statuses of actions that name no media
// URL then come from the user's folded state, wherever the projector is).
for (const cached of [false, true])
  describe(`gpodder downloads ahead of the projector${cached ? ', the user in the folded-user cache' : ''}`, function () {
    this.timeout(30_000);
    let service: TestService;
    let episodes: GpodderEpisodeService;
    /** The service's own: with the cache, appends through it keep the user's entry up to date. */
    let users: UserEventService;
    let principal: Principal;
    before(async () => {
      service = await startTestService({}, { runProjector: false });
      await service.projector.acquireLeases();
      const { eventStore, readModel } = service.stores;
      users = new UserEventService(eventStore, cached ? new UserStateCache(100_000) : undefined);
      // Short pages, so that pages end inside the projected part, inside the pending part and across them.
      episodes = new GpodderEpisodeService(new GpodderService(users, new ReadModelService(eventStore, readModel, 300)), 7);
    });
    after(async () => {
      await service.stop();
    });
    beforeEach(async () => {
      const { userId, username } = await service.login();
      principal = { userId, username, tokenId: null };
    });

    /** Every page from `since` on, and the cursor after the last. */
    async function walk(query: DownloadQuery): Promise<{ actions: GpodderAction[]; pages: number; timestamp: number }> {
      const all: GpodderAction[] = [];
      let since = query.since ?? 0;
      for (let pages = 1; ; pages++) {
        const page = await episodes.download(principal, { ...query, since });
        // The HTTP answer, written from the stored actions as they are, is this page's JSON to the byte.
        expect((await episodes.downloadJson(principal, { ...query, since })).toString('utf8'), JSON.stringify(query)).to.equal(JSON.stringify(page));
        all.push(...page.actions);
        if (page.timestamp === since || page.actions.length === 0) return { actions: all, pages, timestamp: page.timestamp };
        since = page.timestamp;
      }
    }

    /** The cursors a walk from `query` hands out, page after page (0 first). */
    async function pageCursors(query: DownloadQuery): Promise<number[]> {
      const cursors = [query.since ?? 0];
      for (;;) {
        const page = await episodes.download(principal, { ...query, since: cursors.at(-1)! });
        if (page.timestamp === cursors.at(-1) || page.actions.length === 0) return cursors;
        cursors.push(page.timestamp);
      }
    }

    it('answers from the stream what the read model answers once caught up: every page, filters, aggregated', async () => {
      await episodes.upload(principal, actions(0, 23));
      await service.projector.catchUp();
      // Pending: small uploads, and one of 20 actions (one append).
      await episodes.upload(principal, actions(23, 3));
      await episodes.upload(principal, actions(26, 20));
      await episodes.upload(principal, actions(46, 4));
      const queries: DownloadQuery[] = [{}, { podcast: FEEDS[1] }, { aggregated: true }, { podcast: FEEDS[0], aggregated: true }];
      const ahead = [];
      for (const query of queries) ahead.push(await walk(query));
      const { actions: everything } = ahead[0]!;
      expect(everything).to.have.length.above(30);
      expect(everything.map((action) => action.episode)).to.include('https://cdn.example.com/e48.mp3');
      await service.projector.catchUp();
      for (const [i, query] of queries.entries()) {
        const caughtUp = await walk(query);
        expect(ahead[i]!.actions, JSON.stringify(query)).to.deep.equal(caughtUp.actions);
      }
    });

    it('answers a user none of whose events is projected yet, more of them than the first read back takes', async () => {
      await episodes.upload(principal, actions(0, 30));
      await episodes.upload(principal, actions(30, 30));
      const ahead = await walk({});
      expect(ahead.actions).to.have.length.above(40);
      await service.projector.catchUp();
      expect(ahead.actions).to.deep.equal((await walk({})).actions);
    });

    it('answers a cursor that skips nothing: what comes after it is read from there', async () => {
      await episodes.upload(principal, actions(0, 10));
      await service.projector.catchUp();
      await episodes.upload(principal, actions(10, 10));
      const first = await walk({});
      await episodes.upload(principal, actions(20, 5));
      const next = await walk({ since: first.timestamp });
      await service.projector.catchUp();
      const whole = await walk({});
      expect([...first.actions, ...next.actions]).to.deep.equal(whole.actions);
    });

    it('reads a since beyond the store’s head as a clock (here far ahead: the last minutes), and one past the user’s latest event but not the head (others wrote since) as it is', async () => {
      await service.projector.catchUp();
      await episodes.upload(principal, actions(0, 10));
      const everything = await walk({});
      expect(everything.actions).to.have.length(9);
      // A unix time is beyond this store's head: a clock far ahead reads from the last minutes, all of this.
      expect((await walk({ since: 1_900_000_000 })).actions).to.deep.equal(everything.actions);
      const other = await service.login();
      await episodes.upload({ userId: other.userId, username: other.username, tokenId: null }, actions(10, 3));
      // As the API gives cursors (src/domain/cursors.ts).
      const head = gpodderTimestamp(Number((await service.stores.eventStore.headPosition()).commit), service.stores.eventStore.positionGap);
      expect(head).to.be.above(everything.timestamp);
      const past = await episodes.download(principal, { since: head });
      expect(past).to.deep.equal({ actions: [], timestamp: head });
      await service.projector.catchUp();
      expect(await episodes.download(principal, { since: head })).to.deep.equal(past);
    });

    it('answers the Nextcloud download from the stream too: what the read model answers once caught up, by recording time', async () => {
      await episodes.upload(principal, actions(0, 12));
      await service.projector.catchUp();
      await episodes.upload(principal, actions(12, 9));
      await episodes.upload(principal, actions(21, 3));
      const nowS = Math.floor(Date.now() / 1000);
      const froms = [undefined, nowS - 60, nowS, nowS + 3600];
      // The projector is stopped and waiting gives up after 300 ms: an answer here did not wait.
      const ahead = [];
      for (const from of froms) ahead.push(await episodes.recordedFrom(principal, from));
      expect(ahead[0]!.map((action) => action.episode)).to.include('https://cdn.example.com/e23.mp3');
      expect(ahead[3]).to.deep.equal([]);
      await service.projector.catchUp();
      for (const [i, from] of froms.entries()) expect(ahead[i], String(from)).to.deep.equal(await episodes.recordedFrom(principal, from));
    });

    it('gives an action that names no media URL the one its play status will know, from the pending events too, without waiting', async () => {
      const object = (guid: string) => ({ rss_source_feed: FEEDS[0]!, rss_source_id: guid });
      const play = (guid: string, at: string, url: string) => ({
        type: 'play',
        timestamp: at,
        object: object(guid),
        data: { played: false, position: 5, enclosure: { url } },
      });
      // A position names no media URL: gpodder clients get the one the play status knows.
      const position = (guid: string, at: string, seconds: number) => ({ type: 'position', timestamp: at, object: object(guid), data: { position: seconds } });
      await users.appendActions(principal, [
        play('g1', '2026-03-01T10:00:00Z', 'https://cdn.example.com/g1.mp3'),
        position('g1', '2026-03-01T10:01:00Z', 60),
        play('g3', '2026-03-01T10:00:00Z', 'https://cdn.example.com/g3-old.mp3'),
      ] as never);
      await service.projector.catchUp();
      await users.appendActions(principal, [
        // Held status: its URL.
        position('g1', '2026-03-01T10:02:00Z', 120),
        // Older than the status: newer wins, the URL stays.
        play('g1', '2026-03-01T09:00:00Z', 'https://cdn.example.com/g1-stale.mp3'),
        // A status only the pending events make.
        play('g2', '2026-03-01T10:00:00Z', 'https://cdn.example.com/g2.mp3'),
        position('g2', '2026-03-01T10:03:00Z', 180),
        // A held status whose URL a pending play changes: every action of the episode gets the new one.
        position('g3', '2026-03-01T10:01:00Z', 30),
        play('g3', '2026-03-01T10:05:00Z', 'https://cdn.example.com/g3-new.mp3'),
        // No status, no URL from a feed: left out, as once caught up.
        position('g4', '2026-03-01T10:06:00Z', 40),
      ] as never);
      // The projector is stopped and waiting gives up after 300 ms: these answers did not wait.
      const ahead = await walk({});
      const nextcloud = await episodes.recordedFrom(principal, undefined);
      expect(ahead.actions.map((action) => action.episode)).to.include.members([
        'https://cdn.example.com/g1.mp3',
        'https://cdn.example.com/g2.mp3',
        'https://cdn.example.com/g3-new.mp3',
      ]);
      // A play keeps the URL its event named; the position of g3 gets the URL its status will know.
      expect(ahead.actions.find((action) => action.guid === 'g3' && action.position === 30)?.episode).to.equal('https://cdn.example.com/g3-new.mp3');
      expect(ahead.actions.find((action) => action.guid === 'g1' && action.position === 120)?.episode).to.equal('https://cdn.example.com/g1.mp3');
      expect(ahead.actions.some((action) => action.guid === 'g4')).to.equal(false);
      await service.projector.catchUp();
      expect(ahead.actions).to.deep.equal((await walk({})).actions);
      expect(nextcloud).to.deep.equal(await episodes.recordedFrom(principal, undefined));
    });

    it('gives an action the media URL a pending event before the cursor names: read from the stream, or the folded user', async () => {
      const { eventStore } = service.stores;
      const object = { rss_source_feed: FEEDS[0]!, rss_source_id: 'g5' };
      await users.appendActions(principal, [
        { type: 'play', timestamp: '2026-03-01T10:00:00Z', object, data: { played: false, position: 5, enclosure: { url: 'https://cdn.example.com/g5.mp3' } } },
      ] as never);
      const first = await walk({});
      expect(first.actions.map((action) => action.episode)).to.deep.equal(['https://cdn.example.com/g5.mp3']);
      // After the cursor, a position that names no URL: its play status takes it from the play, pending and before the cursor.
      await users.appendActions(principal, [{ type: 'position', timestamp: '2026-03-01T10:01:00Z', object, data: { position: 60 } }] as never);
      const { readStream, readStreamTail, lastPosition } = eventStore;
      const reads: string[] = [];
      eventStore.lastPosition = async (...args) => {
        reads.push('latest');
        return lastPosition.apply(eventStore, args);
      };
      eventStore.readStream = async (...args) => {
        reads.push('stream');
        return readStream.apply(eventStore, args);
      };
      eventStore.readStreamTail = async (...args) => {
        reads.push('tail');
        return readStreamTail.apply(eventStore, args);
      };
      let next;
      try {
        next = await episodes.download(principal, { since: first.timestamp });
      } finally {
        eventStore.readStream = readStream;
        eventStore.readStreamTail = readStreamTail;
        eventStore.lastPosition = lastPosition;
      }
      expect(next.actions.map((action) => [action.episode, action.position])).to.deep.equal([['https://cdn.example.com/g5.mp3', 60]]);
      // The position of the user's latest event (no event read), then the events after the
      // cursor, for the actions; the play status from the folded user (kept up to date by the
      // appends), or from the events `play_statuses` has not applied, read from its checkpoint.
      expect(reads).to.deep.equal(cached ? ['latest', 'tail'] : ['latest', 'tail', 'tail']);
      await service.projector.catchUp();
      expect(next).to.deep.equal(await episodes.download(principal, { since: first.timestamp }));
    });

    it('writes the stored actions of a page as one text the store joins with their positions, and row by row when one of them is not served as stored', async () => {
      const { readModel } = service.stores;
      const { joinRaw, findRaw, findNumbers } = readModel;
      const joined: number[] = [];
      let rowReads = 0;
      let numberReads = 0;
      readModel.joinRaw = async (...args) => {
        const answer = await joinRaw.apply(readModel, args);
        joined.push(answer.count);
        return answer;
      };
      readModel.findRaw = async (...args) => {
        rowReads++;
        return findRaw.apply(readModel, args);
      };
      readModel.findNumbers = async (...args) => {
        numberReads++;
        return findNumbers.apply(readModel, args);
      };
      try {
        const page = async (since: number) => {
          joined.length = 0;
          rowReads = 0;
          numberReads = 0;
          const text = (await episodes.downloadJson(principal, { since })).toString('utf8');
          // The positions come with the joined text: no read of them alone.
          expect(numberReads).to.equal(0);
          const reads = { joined: [...joined], rowReads };
          expect(text).to.equal(JSON.stringify(await episodes.download(principal, { since })));
          return { ...(JSON.parse(text) as { actions: GpodderAction[]; timestamp: number }), reads };
        };
        // Plays with positions and downloads: all served as stored.
        await episodes.upload(
          principal,
          actions(0, 12).filter((action) => action.action !== 'play' || action.position !== undefined),
        );
        await service.projector.catchUp();
        const first = await page(0);
        expect(first.actions).to.have.length(7);
        // More than a page (11 actions): the read that planned it joined one too many (a page and
        // one), so the page's own are joined again.
        expect(first.reads).to.deep.equal({ joined: [8, 7], rowReads: 0 });
        // Ahead of the projector: the stored ones joined, those made from the stream after them.
        await episodes.upload(principal, actions(50, 3));
        const second = await page(first.timestamp);
        expect(second.reads).to.deep.equal({ joined: [4], rowReads: 0 });
        expect(second.actions.map((action) => action.episode).slice(4)).to.deep.equal([50, 51, 52].map((i) => `https://cdn.example.com/e${i}.mp3`));
        // A play without a position (never served) among the next: joined without it, then read row by row.
        await episodes.upload(principal, [...actions(49, 1), ...actions(53, 2)]);
        await service.projector.catchUp();
        const third = await page(second.timestamp);
        expect(third.actions.map((action) => action.episode)).to.deep.equal([53, 54].map((i) => `https://cdn.example.com/e${i}.mp3`));
        expect(third.reads).to.deep.equal({ joined: [2], rowReads: 1 });
      } finally {
        readModel.joinRaw = joinRaw;
        readModel.findRaw = findRaw;
        readModel.findNumbers = findNumbers;
      }
    });

    it('answers after pending events that change actions already there (a remove, checkpoints) what the read model answers once caught up', async () => {
      const { eventStore } = service.stores;
      // A position names no media URL: served with the one its play status knows.
      const position = (feed: string, episode: string, seconds: number, at: string) =>
        ({ type: 'position', timestamp: at, object: { rss_source_feed: feed, rss_source_id: episode }, data: { position: seconds } }) as never;
      const checkpoint = (truncateBefore: number | null) => appendCheckpoint(eventStore, principal.userId, truncateBefore);
      const queries: DownloadQuery[] = [{}, { podcast: FEEDS[1] }, { aggregated: true }];
      const compare = async (label: string) => {
        const ahead = [];
        // The projector is stopped and waiting gives up after 300 ms: these answers did not wait.
        for (const query of queries) ahead.push(await walk(query));
        const nextcloud = await episodes.recordedFrom(principal, undefined);
        await service.projector.catchUp();
        for (const [i, query] of queries.entries()) expect(ahead[i]!.actions, `${label} ${JSON.stringify(query)}`).to.deep.equal((await walk(query)).actions);
        expect(nextcloud, label).to.deep.equal(await episodes.recordedFrom(principal, undefined));
        return ahead[0]!.actions;
      };
      await episodes.upload(principal, actions(0, 12));
      await users.appendActions(principal, [position(FEEDS[1]!, 'https://cdn.example.com/e1.mp3', 61, '2026-03-01T11:00:00Z')]);
      await service.projector.catchUp();
      // A remove of one podcast, then more actions of both.
      await users.appendActions(principal, [{ type: 'remove', timestamp: '2026-03-02T10:00:00Z', object: { rss_source_feed: FEEDS[0]! }, data: {} } as never]);
      await episodes.upload(principal, actions(12, 4));
      await users.appendActions(principal, [position(FEEDS[1]!, 'https://cdn.example.com/e3.mp3', 63, '2026-03-01T11:01:00Z')]);
      const afterRemove = await compare('remove');
      expect(afterRemove.map((action) => action.podcast)).to.include(FEEDS[0]);
      expect(afterRemove.filter((action) => action.podcast === FEEDS[0]).every((action) => Number(/e(\d+)/.exec(action.episode)![1]) >= 12)).to.equal(true);
      expect(afterRemove.find((action) => action.position === 63)?.episode).to.equal('https://cdn.example.com/e3.mp3');
      // An erasure's checkpoint (it truncates nothing), then a retention's (it drops what comes before a revision).
      await checkpoint(null);
      await users.appendActions(principal, [position(FEEDS[1]!, 'https://cdn.example.com/e5.mp3', 65, '2026-03-01T11:02:00Z')]);
      await compare('erasure checkpoint');
      await checkpoint(10);
      await users.appendActions(principal, [position(FEEDS[1]!, 'https://cdn.example.com/e7.mp3', 67, '2026-03-01T11:03:00Z')]);
      const afterRetention = await compare('retention checkpoint');
      expect(afterRetention.find((action) => action.position === 67)?.episode).to.equal('https://cdn.example.com/e7.mp3');
    });

    it('answers a later page after a pending checkpoint as once caught up: its replay sees the pending actions before the cursor', async () => {
      const { eventStore, readModel } = service.stores;
      await service.projector.catchUp();
      // Seven actions of one episode (a page), then one of another, none projected, then an
      // erasure's checkpoint, whose play status of the first episode needs no action of its own:
      // the episode has some, all before the second page's cursor.
      const download = (second: number, episode = 'https://cdn.example.com/e0.mp3') => ({
        podcast: FEEDS[0],
        episode,
        device: 'phone',
        timestamp: `2026-03-01T10:00:0${second}`,
        action: 'download',
      });
      // The store as it is, and one whose tail reads return the events at or before the cursor
      // too, complete (the port allows it: EventStoreDB's backward reads do).
      const tailsPastTheCursor = new Proxy(eventStore, {
        get(target, property) {
          if (property === 'readStreamTail')
            return (stream: string, after: Position, options: StreamTailOptions = {}) => target.readStreamTail(stream, after, { ...options, from: 0 });
          const value: unknown = Reflect.get(target, property);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      const own = episodes;
      try {
        for (const store of [eventStore, tailsPastTheCursor]) {
          episodes = new GpodderEpisodeService(new GpodderService(users, new ReadModelService(store, readModel, 300)), 7);
          const { userId, username } = await service.login();
          principal = { userId, username, tokenId: null };
          await episodes.upload(principal, gpodderUploadBody.parse([download(0), download(1)]));
          await episodes.upload(
            principal,
            gpodderUploadBody.parse([
              { ...download(2), action: 'play', started: 0, position: 5, total: 100 },
              ...[3, 4, 5, 6].map((second) => download(second)),
              download(7, 'https://cdn.example.com/e1.mp3'),
            ]),
          );
          await appendCheckpoint(eventStore, principal.userId, null);
          const ahead = await walk({});
          expect(ahead.pages).to.be.above(1);
          await service.projector.catchUp();
          const caughtUp = await walk({});
          expect(caughtUp.actions).to.have.length(8);
          expect(ahead.actions, store === eventStore ? 'the store as it is' : 'tails past the cursor').to.deep.equal(caughtUp.actions);
        }
      } finally {
        episodes = own;
      }
    });

    it('answers any mix of uploads, native positions, removes, checkpoints and catch-ups as the read model does once caught up (property)', async function () {
      this.timeout(Number(process.env['PROPERTY_TIMEOUT_MS'] ?? 240_000));
      const { eventStore } = service.stores;
      const episodeUrl = (n: number) => `https://cdn.example.com/e${n}.mp3`;
      const anAction = fc.record({
        feed: fc.nat(2),
        episode: fc.nat(7),
        device: fc.constantFrom('phone', 'laptop'),
        kind: fc.constantFrom('download', 'delete', 'new', 'play', 'play without a position'),
        position: fc.nat(3_000),
        minute: fc.nat(59),
      });
      const anUpload = fc.record({ op: fc.constant('upload' as const), actions: fc.array(anAction, { minLength: 1, maxLength: 12 }) });
      const anOperation = fc.oneof(
        anUpload,
        // A native position names no media URL: served with the one its play status knows, if any.
        fc.record({ op: fc.constant('position' as const), feed: fc.nat(2), episode: fc.nat(7), position: fc.nat(3_000), minute: fc.nat(59) }),
        fc.record({ op: fc.constant('remove' as const), feed: fc.nat(2), episode: fc.option(fc.nat(7), { nil: undefined }) }),
        fc.record({ op: fc.constant('checkpoint' as const), truncate: fc.option(fc.nat(40), { nil: null }) }),
        fc.constant({ op: 'catch up' as const }),
      );
      const feedOf = (n: number) => `https://feeds.example.com/p${n}.xml`;
      const queries: DownloadQuery[] = [{}, { podcast: feedOf(1) }, { aggregated: true }];
      // The read models have a checkpoint (a projection that has none yet is waited for, not read ahead of).
      await service.projector.catchUp();
      await fc.assert(
        // An upload first: a checkpoint is of a stream that exists.
        fc.asyncProperty(anUpload, fc.array(anOperation, { maxLength: 12 }), fc.nat(), async (first, operations, sincePick) => {
          const { userId, username } = await service.login();
          principal = { userId, username, tokenId: null };
          // Each action of a run its own second: an action uploaded again while the projector is
          // stopped would wait for it (the upload leaves out what the read model holds).
          let uploaded = 0;
          for (const operation of [first, ...operations]) {
            switch (operation.op) {
              case 'upload':
                await episodes.upload(
                  principal,
                  gpodderUploadBody.parse(
                    operation.actions.map(({ feed, episode, device, kind, position, minute }) => ({
                      podcast: feedOf(feed),
                      episode: episodeUrl(episode),
                      device,
                      timestamp: `2026-03-01T${10 + Math.floor(uploaded / 60)}:${String(minute).padStart(2, '0')}:${String(uploaded++ % 60).padStart(2, '0')}`,
                      action: kind === 'play without a position' ? 'play' : kind,
                      ...(kind === 'play' ? { started: 0, position, total: 3_000 } : {}),
                    })),
                  ),
                );
                break;
              case 'position':
                await users.appendActions(principal, [
                  {
                    type: 'position',
                    timestamp: `2026-03-01T11:${String(operation.minute).padStart(2, '0')}:00Z`,
                    object: { rss_source_feed: feedOf(operation.feed), rss_source_id: episodeUrl(operation.episode) },
                    data: { position: operation.position },
                  } as never,
                ]);
                break;
              case 'remove':
                await users.appendActions(principal, [
                  {
                    type: 'remove',
                    timestamp: '2026-03-02T10:00:00Z',
                    object: {
                      rss_source_feed: feedOf(operation.feed),
                      ...(operation.episode === undefined ? {} : { rss_source_id: episodeUrl(operation.episode) }),
                    },
                    data: {},
                  } as never,
                ]);
                break;
              case 'checkpoint':
                await appendCheckpoint(eventStore, principal.userId, operation.truncate);
                break;
              case 'catch up':
                await service.projector.catchUp();
                break;
            }
          }
          // Ahead of the projector (whatever it has reached): every query walked, and a walk from
          // one of the cursors the first handed out.
          const ahead = [];
          for (const query of queries) ahead.push(await walk(query));
          const cursors = await pageCursors({});
          const since = cursors[sincePick % cursors.length]!;
          const aheadFrom = await walk({ since });
          const nextcloud = await episodes.recordedFrom(principal, undefined);
          await service.projector.catchUp();
          for (const [i, query] of queries.entries()) expect(ahead[i]!.actions, JSON.stringify(query)).to.deep.equal((await walk(query)).actions);
          expect(aheadFrom.actions, `since ${since}`).to.deep.equal((await walk({ since })).actions);
          expect(nextcloud, 'Nextcloud').to.deep.equal(await episodes.recordedFrom(principal, undefined));
        }),
        { numRuns: Number(process.env['PROPERTY_RUNS'] ?? 40) },
      );
    });
  });
