/** Bearer tokens record their last use (to the hour, one write an hour) and may expire (issue 16, item 9). */
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { AccountService } from '../../src/services/accounts.js';
import { SqliteAccountStore } from '../../src/stores/embedded/sqlite-account-store.js';

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
