/** `GET /v1/public/events?before=`: a cursor or a timestamp; anything else is a 400 naming it. */
import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';

const FEED = 'https://public.example.com/feed.xml';
const play = (guid: string, at: string) => ({
  type: 'play',
  timestamp: at,
  object: { rss_source_feed: FEED, rss_source_id: guid },
  data: { played: true, position: 1 },
});

describe('public events paging', function () {
  let service: TestService;
  before(async () => {
    service = await startTestService();
    const { token } = await service.login('pub');
    const events = [
      { type: 'privacy', timestamp: '2026-05-01T00:00:00Z', object: null, data: { privacy: 'public' } },
      play('a', '2026-05-01T00:00:01Z'),
      play('b', '2026-05-01T00:00:02Z'),
      play('c', '2026-05-01T00:00:03Z'),
      // Three at one time: pages must not skip or repeat any of them.
      play('t1', '2026-04-30T00:00:00Z'),
      play('t2', '2026-04-30T00:00:00Z'),
      play('t3', '2026-04-30T00:00:00Z'),
    ];
    expect((await service.http.post('/v1/events').set('Authorization', `Bearer ${token}`).send({ events })).status).to.equal(201);
    await service.settle();
  });
  after(() => service.stop());

  it('pages with next_before and with a plain timestamp', async () => {
    const seen: string[] = [];
    let before: string | null | undefined;
    for (let pages = 0; before !== null && pages < 10; pages++) {
      const page = await service.http.get('/v1/public/events').query({ limit: 1, ...(before ? { before } : {}) });
      expect(page.status).to.equal(200);
      seen.push(...(page.body.events as { object: { rss_source_id: string } }[]).map((event) => event.object.rss_source_id));
      before = page.body.next_before as string | null;
    }
    expect(seen.slice(0, 3)).to.deep.equal(['c', 'b', 'a']);
    expect(seen.slice(3).sort()).to.deep.equal(['t1', 't2', 't3']);
    const whole = await service.http.get('/v1/public/events');
    // Newest first, ties by id (the events' ids, in the order the pages gave them).
    const tied = (whole.body.events as { id: string; object: { rss_source_id: string } }[]).slice(3);
    expect(tied.map((event) => event.object.rss_source_id)).to.deep.equal(seen.slice(3));
    expect(tied.map((event) => event.id)).to.deep.equal(tied.map((event) => event.id).sort());
    const older = await service.http.get('/v1/public/events').query({ before: '2026-05-01T02:00:02+02:00' });
    expect((older.body.events as { object: { rss_source_id: string } }[]).map((event) => event.object.rss_source_id)).to.deep.equal(['a', ...seen.slice(3)]);
    const tiedBefore = await service.http.get('/v1/public/events').query({ before: '2026-04-30T00:00:00.001Z' });
    expect(tiedBefore.body.events).to.have.length(3);
  });

  it('before=garbage is a 400 naming before, as since=garbage is', async () => {
    for (const before of ['garbage', '2026-13-01T00:00:00Z', '2026-05-01T00:00:00Z|not-a-uuid', '2026-05-01T00:00:00Z|a|b']) {
      const response = await service.http.get('/v1/public/events').query({ before });
      expect(response.status, before).to.equal(400);
      expect(JSON.stringify(response.body.details), before).to.contain('before');
    }
  });
});
