/**
 * The projector records, per projection and with its documents, the position of the last
 * withdrawal that changed them (src/domain/withdrawals.ts, src/projector/internal-collections.ts): the
 * record the public answers' cache reads (docs/design.md, "Public answers"). Checked on each
 * path that commits events: batches (catch-up and live), event by event after a failure, a
 * rebuild after a reset.
 */
import { expect } from 'chai';
import { allProjections } from '../../projections/index.js';
import type { UserEvent } from '../../src/domain/events.js';
import { formatPosition } from '../../src/domain/position.js';
import { lastWithdrawals, PROJECTION_WITHDRAWALS, resetProjection } from '../../src/projector/internal-collections.js';
import { toStoreEvent } from '../../src/services/codec.js';
import type { RecordedEvent } from '../../src/stores/event-store.js';
import { type MemoryStores, withMemoryStores, preparedProjector, subscribeEvent } from './support.js';

const FEED = 'https://example.com/feed.xml';
/** The projections the public answers are made from: every withdrawal below changes their documents. */
const NAMES = ['public_events', 'popularity'];
/** A projection none of the withdrawals below changes (no subscription is touched): it records none. */
const UNTOUCHED = 'subscriptions';

let ids = 0;
const event = (user: string, type: UserEvent['type'], object: UserEvent['object'], data: UserEvent['data']): UserEvent =>
  ({ id: `00000000-0000-4000-9000-${String(++ids).padStart(12, '0')}`, timestamp: '2026-01-02T00:00:00.000Z', user, type, object, data }) as UserEvent;
const play = (user: string, guid: string) => event(user, 'play', { rss_source_feed: FEED, rss_source_id: guid }, { played: true, position: 10 });
const privacy = (user: string, level: 'public' | 'private') => event(user, 'privacy', null, { privacy: level });
const remove = (user: string, guid: string) => event(user, 'remove', { rss_source_feed: FEED, rss_source_id: guid }, {});

describe('projection withdrawals: the last withdrawal that changed each projection, committed with its documents', function () {
  this.timeout(20_000);

  async function appended(stores: MemoryStores, user: string, events: UserEvent[]): Promise<RecordedEvent[]> {
    await stores.eventStore.append(
      `user-${user}`,
      events.map((one) => toStoreEvent(one)),
    );
    const all = await stores.eventStore.readAll({});
    return all.filter((recorded) => events.some((appendedEvent) => appendedEvent.id === recorded.id));
  }

  /** The public projections' records, as the cache reads them: the same position for both, or '' for none; none for {@link UNTOUCHED}. */
  async function expectRecords(stores: MemoryStores, expected: RecordedEvent | undefined, why: string) {
    const position = expected === undefined ? '' : formatPosition(expected.position);
    expect(await lastWithdrawals(stores.readModel, NAMES), why).to.equal(NAMES.map(() => position).join(' '));
    expect(await lastWithdrawals(stores.readModel, [UNTOUCHED]), `${why}: a projection whose documents no withdrawal changed`).to.equal('');
  }

  it('a batch records its last withdrawal that changed a projection, for that projection; additions leave the record; a reset drops it and a rebuild writes it again', async () => {
    await withMemoryStores(async (stores) => {
      const projector = await preparedProjector(stores);
      await appended(stores, 'alice', [subscribeEvent('alice'), play('alice', 'e1')]);
      await projector.catchUp();
      await expectRecords(stores, undefined, 'no withdrawal yet');

      const [goingPublic, secondPlay, goingPrivate] = await appended(stores, 'alice', [
        privacy('alice', 'public'),
        play('alice', 'e2'),
        privacy('alice', 'private'),
      ]);
      expect(goingPublic && secondPlay && goingPrivate).to.not.equal(undefined);
      await projector.catchUp();
      await expectRecords(stores, goingPrivate, "the batch's last withdrawal, not its first");

      const [, bobPublic] = await appended(stores, 'bob', [subscribeEvent('bob'), privacy('bob', 'public'), play('bob', 'e3')]);
      await projector.catchUp();
      await expectRecords(stores, bobPublic, 'a privacy choice either way');

      await appended(stores, 'bob', [play('bob', 'e4')]);
      await projector.catchUp();
      await expectRecords(stores, bobPublic, 'additions only: the record stays');

      const [privateErasure] = await appended(stores, 'alice', [remove('alice', 'e2')]);
      await projector.catchUp();
      expect(privateErasure).to.not.equal(undefined);
      await expectRecords(stores, bobPublic, 'an erasure of what was never public takes nothing out of the public views');

      const [erasure] = await appended(stores, 'bob', [remove('bob', 'e3')]);
      await projector.catchUp();
      await expectRecords(stores, erasure, 'an erasure of public plays is a withdrawal');

      await projector.stop();
      const popularity = allProjections.find((projection) => projection.name === 'popularity')!;
      await resetProjection(stores.readModel, popularity);
      expect(await stores.readModel.get(PROJECTION_WITHDRAWALS, 'popularity'), 'dropped with the documents').to.equal(undefined);
      const rebuilt = await preparedProjector(stores);
      await rebuilt.acquireLeases();
      await rebuilt.catchUp();
      await rebuilt.stop();
      await expectRecords(stores, erasure, 'the rebuild applied the same withdrawals again');
    });
  });

  it('the live loop records them too', async () => {
    await withMemoryStores(async (stores) => {
      const projector = await preparedProjector(stores);
      await projector.acquireLeases();
      projector.start();
      const [withdrawal] = await appended(stores, 'carol', [privacy('carol', 'public'), play('carol', 'e1')]);
      const head = await stores.eventStore.headPosition();
      for (let waited = 0; waited < 5000; waited += 10) {
        const checkpoints = await Promise.all(NAMES.map((name) => stores.readModel.getCheckpoint(name)));
        if (checkpoints.every((checkpoint) => checkpoint !== undefined && checkpoint.position.commit >= head.commit)) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await projector.stop();
      await expectRecords(stores, withdrawal, 'the live batch held a privacy choice');
    });
  });

  it('event by event (after a failed batch), a withdrawal is recorded as its own commit lands', async () => {
    await withMemoryStores(async (stores) => {
      const projector = await preparedProjector(stores);
      const events = await appended(stores, 'dave', [subscribeEvent('dave'), privacy('dave', 'public'), play('dave', 'e1')]);
      await projector.processIsolated(events);
      await expectRecords(stores, events[1], 'the privacy choice, projected alone');
    });
  });
});
