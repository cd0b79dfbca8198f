/** Bearer tokens record their last use (to the hour, one write an hour) and may expire (issue 16, item 9). */
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { AccountService } from '../../src/services/accounts.js';
import { SqliteAccountStore } from '../../src/stores/embedded/sqlite-account-store.js';
import { kindsByLabel, LEGACY_TOKEN_LABELS, UPGRADED_KINDS } from '../support/legacy-sessions.js';

describe('token last use and expiry', function () {
  let now: Date;
  let touches: number;
  let service: AccountService;
  let store: SqliteAccountStore;

  beforeEach(async () => {
    now = new Date('2026-06-01T10:20:00.000Z');
    touches = 0;
    store = new SqliteAccountStore(new BetterSqlite3(':memory:'));
    const touch = store.touchToken.bind(store);
    store.touchToken = async (id, at) => {
      touches++;
      return touch(id, at);
    };
    service = new AccountService(store, () => now);
    await service.register('tess', 'a long password');
  });

  it('records the last use to the hour, writing at most once an hour', async () => {
    const { token, account } = await service.issueToken('tess', 'a long password');
    expect((await service.listTokens(account.id))[0]!.lastUsedAt).to.equal(null);
    expect(await service.authenticateToken(token)).to.not.equal(undefined);
    expect((await service.listTokens(account.id))[0]!.lastUsedAt).to.equal('2026-06-01T10:00:00.000Z');
    now = new Date('2026-06-01T10:59:00.000Z');
    await service.authenticateToken(token);
    expect(touches, 'one write within the hour').to.equal(1);
    now = new Date('2026-06-01T11:05:00.000Z');
    await service.authenticateToken(token);
    expect(touches).to.equal(2);
    expect((await service.listTokens(account.id))[0]!.lastUsedAt).to.equal('2026-06-01T11:00:00.000Z');
  });

  it('a token issued with an expiry stops working after it; one without works on', async () => {
    const expiring = await service.issueToken('tess', 'a long password', 'short', 1);
    const lasting = await service.issueToken('tess', 'a long password', 'long');
    expect((await service.listTokens(expiring.account.id)).find((t) => t.id === expiring.id)?.expiresAt).to.equal('2026-06-02T10:20:00.000Z');
    now = new Date('2026-06-02T10:19:59.000Z');
    expect(await service.authenticateToken(expiring.token)).to.not.equal(undefined);
    now = new Date('2026-06-02T10:20:00.000Z');
    expect(await service.authenticateToken(expiring.token)).to.equal(undefined);
    expect(await service.authenticateToken(lasting.token)).to.not.equal(undefined);
  });
});

describe('sessions written before they had a kind of their own', function () {
  it('are made sessions once, when the store first opens their database; later tokens of those labels stay tokens', async () => {
    const db = new BetterSqlite3(':memory:');
    const before = new SqliteAccountStore(db);
    const service = new AccountService(before);
    const account = await service.register('olga', 'a long password');
    // As an older version wrote them: every bearer token of kind `token`, the sessions known by their labels.
    for (const label of LEGACY_TOKEN_LABELS) await service.issueTokenFor(account, label ?? undefined);
    db.exec("DELETE FROM account_upgrades; UPDATE tokens SET kind = 'token'");
    const kinds = async (store: SqliteAccountStore) => kindsByLabel(await store.listTokens(account.id));

    const upgraded = new SqliteAccountStore(db);
    expect(await kinds(upgraded)).to.deep.equal(UPGRADED_KINDS);
    // A token a user labels "Web session" after the upgrade is theirs, not a session.
    db.exec("DELETE FROM tokens WHERE label = 'Web session'");
    await new AccountService(upgraded).issueTokenFor(account, 'Web session');
    expect((await kinds(new SqliteAccountStore(db)))['Web session'], 'the upgrade ran once').to.equal('token');
    db.close();
  });
});
