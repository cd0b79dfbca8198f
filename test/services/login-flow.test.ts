/** Login Flow v2's life cycle over a real accounts store, with a controlled clock: expiry, races, secrecy. */
import { expect } from 'chai';
import { AccountService } from '../../src/services/accounts.js';
import { FLOW_LIFETIME_MS, LoginFlowService } from '../../src/services/login-flow.js';
import { SqliteAccountStore } from '../../src/stores/embedded/sqlite-account-store.js';
import { openTempDatabase } from '../stores/temp-database.js';

describe('Login Flow v2 service', function () {
  this.timeout(20_000);
  let now = Date.UTC(2026, 5, 1);
  const clock = () => new Date(now);
  let store: SqliteAccountStore;
  let accounts: AccountService;
  let flows: LoginFlowService;
  let cleanup: () => Promise<void>;

  before(async () => {
    const opened = openTempDatabase();
    cleanup = opened.cleanup;
    store = new SqliteAccountStore(opened.db);
    accounts = new AccountService(store, clock);
    flows = new LoginFlowService(accounts, store, clock);
    await accounts.register('lena', 'a long password');
  });
  after(async () => cleanup());

  it('a flow expires after 20 minutes: no page, no grant, no poll', async () => {
    const { pollToken, loginToken } = await flows.start('AntennaPod/3.6');
    now += FLOW_LIFETIME_MS - 1000;
    expect(await flows.pending(loginToken)).to.deep.equal({ clientName: 'AntennaPod/3.6' });
    now += 1000;
    expect(await flows.pending(loginToken)).to.equal(undefined);
    expect(await flows.grant(loginToken, 'lena', 'a long password')).to.equal(false);
    expect(await flows.poll(pollToken)).to.equal(undefined);
    expect(await accounts.listAppPasswords((await store.findByUsername('lena'))!.id)).to.deep.equal([]);
  });

  it('a grant not polled within the lifetime is never handed out', async () => {
    const { pollToken, loginToken } = await flows.start('Kasts');
    expect(await flows.grant(loginToken, 'lena', 'a long password')).to.equal(true);
    now += FLOW_LIFETIME_MS;
    expect(await flows.poll(pollToken)).to.equal(undefined);
  });

  it('only the poll token reads the password: the login token cannot, and the store holds it in no readable form', async () => {
    const { pollToken, loginToken } = await flows.start('AntennaPod/3.6');
    expect(await flows.grant(loginToken, 'lena', 'a long password')).to.equal(true);
    expect(await flows.poll(loginToken), 'the login token is no poll token').to.equal(undefined);
    const answer = await flows.poll(pollToken);
    expect(answer?.loginName).to.equal('lena');
    expect(await accounts.verifyAppPassword('lena', answer!.appPassword)).to.not.equal(undefined);
    expect(await accounts.verifyAppPassword('someone-else', answer!.appPassword), 'bound to its user').to.equal(undefined);
    expect(await flows.poll(pollToken), 'once').to.equal(undefined);
  });

  it('two grants of one flow: one app password survives, and the second grant says so', async () => {
    const { loginToken } = await flows.start('Twice');
    const results = await Promise.all([flows.grant(loginToken, 'lena', 'a long password'), flows.grant(loginToken, 'lena', 'a long password')]);
    expect(results.filter(Boolean)).to.have.length(1);
    const named = (await accounts.listAppPasswords((await store.findByUsername('lena'))!.id)).filter((app) => app.name === 'Twice');
    expect(named).to.have.length(1);
  });
});
