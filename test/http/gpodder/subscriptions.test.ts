/**
 * Subscriptions, advanced API: `POST {add, remove}` → `{timestamp, update_urls}`, `GET ?since=`
 * → `{add, remove, timestamp}`; timestamps are server positions; URLs sanitised. And updates.
 */
import { expect } from 'chai';
import type { TestService } from '../../support/service.js';
import { startTestService } from '../../support/service.js';
import type { GpodderTestUser } from './support.js';
import { FEED_A, FEED_B, FEED_C, action, gpodderUser } from './support.js';

describe("gpodder API: cursors over time (an upload's, and a since that is a clock)", function () {
  let now = Date.UTC(2026, 5, 1, 12);
  const unix = (ms: number) => Math.floor(ms / 1000);
  let service: TestService;
  let user: GpodderTestUser;
  before(async () => {
    service = await startTestService({}, { clock: () => new Date(now) });
  });
  beforeEach(async () => {
    user = await gpodderUser(service);
  });
  after(async () => {
    await service.stop();
  });
  const upload = (device: string, body: object) =>
    service.http.post(`/api/2/subscriptions/${user.username}/${device}.json`).set('Authorization', user.basic).send(body);
  const changes = (device: string, since: number) =>
    service.http.get(`/api/2/subscriptions/${user.username}/${device}.json?since=${since}`).set('Authorization', user.basic);
  const actions = (since: number) => service.http.get(`/api/2/episodes/${user.username}.json?since=${since}`).set('Authorization', user.basic);
  const play = (episode: number) =>
    service.http
      .post(`/api/2/episodes/${user.username}.json`)
      .set('Authorization', user.basic)
      .send([action({ episode: `https://cdn.example.com/a/${episode}.mp3`, action: 'play', position: 60, timestamp: new Date(now).toISOString() })]);

  it("an upload's reaches back ten minutes, not further: older changes are not delivered again", async () => {
    await upload('laptop', { add: [FEED_A] });
    now += 11 * 60_000;
    await upload('laptop', { add: [FEED_B] });
    const uploaded = await upload('phone', { add: [FEED_C] });
    const next = await changes('phone', uploaded.body.timestamp);
    expect(next.body.add).to.have.members([FEED_B, FEED_C]);
    now += 11 * 60_000;
    const later = await upload('phone', { add: [FEED_C] });
    expect((await changes('phone', later.body.timestamp)).body.add, 'nothing within ten minutes').to.deep.equal([]);
  });

  // PinePods sends its own clock as every since; a gpodder.net cursor is one too.
  it('a clock reads what the store recorded from ten minutes before it: removals included, older changes not again', async () => {
    const start = now;
    await upload('laptop', { add: [FEED_A, FEED_C] });
    expect((await play(1)).status).to.equal(200);
    now += 20 * 60_000;
    const synced = now;
    await upload('laptop', { add: [FEED_B], remove: [FEED_A] });
    expect((await play(2)).status).to.equal(200);
    now += 20 * 60_000;
    // A client whose last sync ended 20 minutes in, whose clock is 5 minutes ahead or behind: the second changes only.
    for (const skew of [0, 5 * 60_000, -5 * 60_000]) {
      const since = unix(synced + skew);
      const answer = await changes('pinepods', since);
      expect(answer.status).to.equal(200);
      expect(answer.body, `clock ${skew / 60_000} min off`).to.deep.include({ add: [FEED_B], remove: [FEED_A] });
      expect(((await actions(since)).body.actions as { episode: string }[]).map((found) => found.episode)).to.deep.equal(['https://cdn.example.com/a/2.mp3']);
    }
    // Since the end of a sync after all that: nothing; since before anything: everything there is, with what was removed.
    expect((await changes('pinepods', unix(now))).body).to.deep.include({ add: [], remove: [] });
    expect((await actions(unix(now))).body.actions).to.deep.equal([]);
    expect((await changes('pinepods', unix(start) - 3600)).body).to.deep.include({ add: [FEED_C, FEED_B], remove: [FEED_A] });
    expect((await actions(unix(start) - 3600)).body.actions).to.have.length(2);
    // A clock a day ahead reads as the last answer would: the last minute.
    expect((await changes('pinepods', unix(now) + 86_400)).body).to.deep.include({ add: [], remove: [] });
    // Further ahead it is no clock (an old EventStoreDB log offset, another server's cursor): from the start, nothing lost.
    expect((await changes('pinepods', unix(now) + 86_400 + 1)).body).to.deep.include({ add: [FEED_C, FEED_B], remove: [] });
    expect((await actions(unix(now) + 10 * 365 * 86_400)).body.actions).to.have.length(2);
    // The answers' timestamps are still positions of the store, which read as ever.
    const answered = await changes('pinepods', unix(synced));
    expect(answered.body.timestamp).to.be.below(unix(start));
    expect((await changes('pinepods', answered.body.timestamp as number)).body).to.deep.include({ add: [], remove: [] });
  });
});

describe('gpodder API: subscriptions', function () {
  let service: TestService;
  let user: GpodderTestUser;
  const upload = (device: string, body: unknown, contentType = 'application/json') =>
    service.http
      .post(`/api/2/subscriptions/${user.username}/${device}.json`)
      .set('Authorization', user.basic)
      .set('Content-Type', contentType)
      .send(JSON.stringify(body));
  const changes = (device: string, since?: number | string) =>
    service.http.get(`/api/2/subscriptions/${user.username}/${device}.json${since === undefined ? '' : `?since=${since}`}`).set('Authorization', user.basic);

  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    user = await gpodderUser(service);
  });

  it('uploads changes and answers an integer timestamp and update_urls (always present)', async () => {
    const response = await upload('phone', { add: [FEED_A, FEED_B], remove: [] });
    expect(response.status).to.equal(200);
    expect(response.body).to.have.keys(['timestamp', 'update_urls']);
    expect(response.body.timestamp).to.be.a('number').and.satisfy(Number.isInteger);
    expect(response.body.update_urls).to.deep.equal([]);
  });

  it('sanitises URLs: trimmed ones are mapped, non-http(s) ones mapped to "" and not stored', async () => {
    const response = await upload('phone', { add: [`  ${FEED_A}\n`, 'feed://example.com/rss', 'not a url'], remove: [] }, 'application/x-www-form-urlencoded');
    expect(response.status).to.equal(200);
    expect(response.body.update_urls).to.deep.equal([
      [`  ${FEED_A}\n`, FEED_A],
      ['feed://example.com/rss', ''],
      ['not a url', ''],
    ]);
    expect((await changes('phone', 0)).body.add).to.deep.equal([FEED_A]);
  });

  it('400 when a URL is both added and removed, and nothing is written', async () => {
    const before = await service.eventCount();
    const response = await upload('phone', { add: [FEED_A, FEED_B], remove: [` ${FEED_B}`] });
    expect(response.status).to.equal(400);
    expect(response.body.message).to.contain(FEED_B);
    expect(response.body.details.issues[0].path).to.equal('add');
    expect(await service.eventCount()).to.equal(before);
  });

  it('400 naming the field for malformed lists', async () => {
    const response = await upload('phone', { add: [FEED_A, 7], remove: 'x' });
    expect(response.status).to.equal(400);
    expect(response.body.details.issues.map((issue: { path: string }) => issue.path)).to.have.members(['add.1', 'remove']);
  });

  it('GET since=0 lists the current subscriptions (no removals); a GET cursor answers nothing new', async () => {
    await upload('phone', { add: [FEED_A, FEED_B, FEED_C] });
    await upload('phone', { remove: [FEED_B] });
    const all = await changes('phone', 0);
    expect(all.status).to.equal(200);
    expect(all.body).to.have.keys(['add', 'remove', 'timestamp']);
    expect(all.body.add).to.have.members([FEED_A, FEED_C]);
    expect(all.body.remove).to.deep.equal([]);
    expect((await changes('phone', all.body.timestamp)).body).to.deep.include({ add: [], remove: [] });
  });

  it('an upload answers a cursor that never passes another device’s write: what was recorded within ten minutes is read again', async () => {
    // AntennaPod reads, another device writes, then AntennaPod uploads and takes the upload's
    // timestamp as its next since: the other device's write must still reach it.
    const read = await changes('phone', 0);
    await upload('laptop', { add: [FEED_B] });
    const uploaded = await upload('phone', { add: [FEED_A] });
    const next = await changes('phone', uploaded.body.timestamp);
    expect(next.body.add).to.include(FEED_B);
    expect(uploaded.body.timestamp).to.be.at.most(read.body.timestamp);
  });

  it('every device of the account sees every device’s changes, from its own cursor', async () => {
    const start = await changes('laptop', 0);
    await upload('phone', { add: [FEED_A] });
    const onLaptop = await changes('laptop', start.body.timestamp);
    expect(onLaptop.body.add).to.deep.equal([FEED_A]);
    await upload('laptop', { add: [FEED_B], remove: [FEED_A] });
    const onPhone = await changes('phone', onLaptop.body.timestamp);
    expect(onPhone.body).to.deep.include({ add: [FEED_B], remove: [FEED_A] });
  });

  it('adding a subscribed feed or removing an unknown one writes nothing, and still answers a timestamp', async () => {
    const first = await upload('phone', { add: [FEED_A] });
    const before = await service.eventCount();
    const again = await upload('phone', { add: [FEED_A], remove: [FEED_C] });
    expect(await service.eventCount()).to.equal(before);
    expect(again.body.timestamp).to.equal(first.body.timestamp);
  });

  it('creates the device on first use (type other)', async () => {
    await upload('tablet', { add: [FEED_A] });
    const devices = await service.http.get(`/api/2/devices/${user.username}.json`).set('Authorization', user.basic);
    expect(devices.body).to.deep.equal([{ id: 'tablet', caption: '', type: 'other', subscriptions: 1 }]);
  });

  it('a since beyond the server’s sequence (a gpodder.net unix time, before anything here) gives everything; a bad since is a 400', async () => {
    await upload('phone', { add: [FEED_A] });
    expect((await changes('phone', 1_700_000_000)).body.add).to.deep.equal([FEED_A]);
    const bad = await changes('phone', 'yesterday');
    expect(bad.status).to.equal(400);
    expect(bad.body.details.issues[0].path).to.equal('query.since');
  });

  it('updates: subscription changes as podcast objects, an empty list of new episodes, a timestamp', async () => {
    await upload('phone', { add: [FEED_A] });
    const response = await service.http.get(`/api/2/updates/${user.username}/phone.json?since=0&include_actions=true`).set('Authorization', user.basic);
    expect(response.status).to.equal(200);
    expect(response.body).to.have.keys(['add', 'remove', 'updates', 'timestamp']);
    expect(response.body.add).to.have.length(1);
    expect(response.body.add[0]).to.include({ url: FEED_A });
    expect(response.body.updates).to.deep.equal([]);
    const later = await service.http.get(`/api/2/updates/${user.username}/phone.json?since=${response.body.timestamp}`).set('Authorization', user.basic);
    expect(later.body).to.deep.include({ add: [], remove: [] });
  });
});
