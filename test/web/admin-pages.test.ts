import { expect } from 'chai';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { WebClient } from './web-client.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

describe('admin pages (/manage)', function () {
  this.timeout(30_000);
  let service: TestService;
  before(async () => {
    service = await startTestService({ ADMIN_TOKEN }, { runScheduler: true });
  });
  after(async () => service.stop());

  it('do not exist without ADMIN_TOKEN', async () => {
    const plain = await startTestService();
    try {
      expect((await plain.http.get('/manage')).status).to.equal(404);
    } finally {
      await plain.stop();
    }
  });

  it('ask for the admin token; a wrong one, a user session or a forged cookie is not an admin', async () => {
    const web = new WebClient(service.app);
    expect((await web.get('/manage')).text).to.include('Admin token (ADMIN_TOKEN)');
    expect((await web.submit('/manage', '/manage/signin', { token: 'not the token at all' })).status).to.equal(401);
    await web.signUp('not-an-admin');
    expect((await web.get('/manage')).text, 'a signed-in user is not an admin').not.to.include('Projections');
    expect((await web.submit('/', '/manage/users/not-an-admin/disable', {})).status).to.equal(403);
    expect((await web.get('/manage').set('Cookie', 'podsync_admin=forged')).text).not.to.include('Projections');
    expect((await service.stores.accounts.findByUsername('not-an-admin'))?.disabled).to.equal(false);
  });

  it('list, create, disable and enable users; show a stream, projections and the retention job', async () => {
    const user = await service.login('streamer');
    await service.http
      .post('/v1/events')
      .set('Authorization', `Bearer ${user.token}`)
      .send({
        events: [{ type: 'subscribe', timestamp: new Date().toISOString(), object: { rss_source_feed: 'https://example.com/admin-feed.xml' }, data: {} }],
      })
      .expect(201);
    const web = new WebClient(service.app);
    const signedIn = await web.submit('/manage', '/manage/signin', { token: ADMIN_TOKEN });
    expect(signedIn.status).to.equal(303);
    const cookie = (signedIn.headers['set-cookie'] as unknown as string[]).find((line) => line.startsWith('podsync_admin='))!;
    expect(cookie).to.include('HttpOnly').and.include('SameSite=Strict').and.not.include(ADMIN_TOKEN);
    const dashboard = await web.get('/manage');
    expect(dashboard.text).to.include('streamer').and.include('Projections').and.include('subscriptions').and.include('Next run');

    expect((await web.submit('/manage', '/manage/users', { username: 'made-by-admin', password: 'correct horse battery' })).headers['location']).to.equal(
      '/manage?done=created',
    );
    expect((await web.submit('/manage', '/manage/users', { username: 'bad name!', password: 'correct horse battery' })).status).to.equal(400);
    expect((await service.http.post('/v1/auth/token').send({ username: 'made-by-admin', password: 'correct horse battery' })).status).to.equal(200);

    await web.submit('/manage', '/manage/users/streamer/disable', {});
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${user.token}`)).status).to.equal(401);
    await web.submit('/manage', '/manage/users/streamer/enable', {});
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${user.token}`)).status).to.equal(200);
    expect((await web.submit('/manage', '/manage/users/nobody-here/disable', {})).status).to.equal(404);

    const stream = await web.get('/manage/users/streamer');
    expect(stream.text).to.include('Stream of streamer').and.include('https://example.com/admin-feed.xml');
    expect((await web.get('/manage/users/nobody-here')).status).to.equal(404);

    await web.submit('/manage', '/manage/signout', {});
    expect((await web.get('/manage')).text).to.include('Admin token (ADMIN_TOKEN)');
  });

  it("set a user's password from their page: the new one logs in, a short one is refused there, and only an admin may", async () => {
    await service.login('forgetful', 'forgetful old password');
    const web = new WebClient(service.app);
    await web.submit('/manage', '/manage/signin', { token: ADMIN_TOKEN });
    expect((await web.get('/manage/users/forgetful')).text).to.include('Set a new password');
    const short = await web.submit('/manage/users/forgetful', '/manage/users/forgetful/password', { password: 'short' });
    expect(short.status).to.equal(400);
    expect(short.text).to.include('password: at least 8 characters').and.include('Stream of forgetful');
    const set = await web.submit('/manage/users/forgetful', '/manage/users/forgetful/password', { password: 'forgetful new password' });
    expect(set.headers['location']).to.equal('/manage?done=password');
    expect((await web.get('/manage?done=password')).text).to.include('Password set: tell the user.');
    expect((await service.http.post('/v1/auth/token').send({ username: 'forgetful', password: 'forgetful new password' })).status).to.equal(200);
    expect((await service.http.post('/v1/auth/token').send({ username: 'forgetful', password: 'forgetful old password' })).status).to.equal(401);
    expect((await web.submit('/manage', '/manage/users/nobody-here/password', { password: 'long enough password' })).status).to.equal(404);

    const stranger = new WebClient(service.app);
    await stranger.signUp('not-an-admin-either');
    expect((await stranger.submit('/', '/manage/users/forgetful/password', { password: 'taken over password' })).status).to.equal(403);
    expect((await service.http.post('/v1/auth/token').send({ username: 'forgetful', password: 'forgetful new password' })).status).to.equal(200);
  });

  it('delete a user from their page, after a confirmation naming them: everything of theirs goes; only an admin may', async () => {
    const leaving = await service.login('leaving', 'leaving long password');
    await service.http
      .post('/v1/events')
      .set('Authorization', `Bearer ${leaving.token}`)
      .send({ events: [{ type: 'subscribe', timestamp: new Date().toISOString(), object: { rss_source_feed: 'https://example.com/leaving.xml' }, data: {} }] })
      .expect(201);
    const stranger = new WebClient(service.app);
    await stranger.signUp('not-an-admin-at-all');
    expect((await stranger.submit('/', '/manage/users/leaving/delete', { confirm: 'yes', username: 'leaving' })).status).to.equal(403);

    const web = new WebClient(service.app);
    await web.submit('/manage', '/manage/signin', { token: ADMIN_TOKEN });
    expect((await web.get('/manage/users/leaving')).text)
      .to.include('Delete the account')
      .and.include('/manage/users/leaving/delete');
    const asked = await web.submit('/manage/users/leaving', '/manage/users/leaving/delete', {});
    expect(asked.status).to.equal(200);
    expect(asked.text).to.include('Delete the account leaving?').and.include('Type the username, <strong>leaving</strong>, to confirm');
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${leaving.token}`)).status, 'asking deletes nothing').to.equal(200);
    const wrongName = await web.submit('/manage/users/leaving', '/manage/users/leaving/delete', { confirm: 'yes', username: 'someone-else' });
    expect(wrongName.status).to.equal(400);
    expect(wrongName.text).to.include('That is not the username.');
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${leaving.token}`)).status).to.equal(200);

    const deleted = await web.submit('/manage/users/leaving', '/manage/users/leaving/delete', { confirm: 'yes', username: 'leaving' });
    expect(deleted.headers['location']).to.equal('/manage?done=deleted');
    expect((await web.get('/manage?done=deleted')).text)
      .to.include('Account deleted, with all its data.')
      .and.not.include('>leaving<');
    expect((await service.http.get('/v1/subscriptions').set('Authorization', `Bearer ${leaving.token}`)).status).to.equal(401);
    expect(await service.stores.accounts.findByUsername('leaving')).to.equal(undefined);
    expect(await service.stores.eventStore.readStream(`user-${leaving.userId}`).catch((error: Error) => error.name)).to.equal('StreamDeletedError');
    expect((await web.submit('/manage', '/manage/users/leaving/delete', { confirm: 'yes', username: 'leaving' })).status, 'gone').to.equal(404);
  });
});
