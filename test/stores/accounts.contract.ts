/**
 * The contract every AccountStore adapter must honour (see the port's doc comments).
 *
 * Written to run against a shared database too: every test uses ids and usernames under its own
 * random suffix and only looks at what it created. Usernames are ASCII: beyond ASCII, the
 * adapters fold case differently (SQLite NOCASE folds ASCII only; MongoDB's collation all of
 * Unicode).
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { UsernameTakenError, type Account, type AccountStore, type TokenKind, type TokenRecord } from '../../src/stores/accounts.js';

export type AccountStoreFactory = () => Promise<{ store: AccountStore; cleanup: () => Promise<void> }>;

export function accountsContract(name: string, factory: AccountStoreFactory): void {
  describe(`${name}: AccountStore contract`, function () {
    let store: AccountStore;
    let cleanup: (() => Promise<void>) | undefined;
    /** Unique per test: letters only, so usernames differ in case only where a test wants it. */
    let ns: string;

    before(async function () {
      ({ store, cleanup } = await factory());
    });

    after(async function () {
      await cleanup?.();
    });

    beforeEach(function () {
      ns = [...randomBytes(8)].map((byte) => String.fromCharCode(97 + (byte % 26))).join('');
    });

    async function account(username: string, createdAt = '2024-01-01T00:00:00.000Z'): Promise<Account> {
      return store.createAccount({ id: `id-${username}-${ns}`, username: `${username}${ns}`, passwordHash: `scrypt$hash-of-${username}`, createdAt });
    }

    async function token(
      userId: string,
      label: string | null,
      createdAt: string,
      extra: { kind?: TokenKind; parentId?: string } = {},
    ): Promise<{ id: string; secretHash: string }> {
      const created = { id: `tok-${label ?? 'none'}-${ns}-${randomBytes(4).toString('hex')}`, secretHash: randomBytes(32).toString('hex') };
      await store.createToken({ ...created, userId, label, createdAt, ...extra });
      return created;
    }

    it('creates an account, enabled, and finds it by id and by username', async function () {
      const created = await account('alice');
      expect(created).to.deep.equal({
        id: `id-alice-${ns}`,
        username: `alice${ns}`,
        passwordHash: 'scrypt$hash-of-alice',
        createdAt: '2024-01-01T00:00:00.000Z',
        disabled: false,
        deleting: false,
      });
      expect(await store.findById(created.id)).to.deep.equal(created);
      expect(await store.findByUsername(created.username)).to.deep.equal(created);
      expect(await store.findById(`nobody-${ns}`)).to.equal(undefined);
      expect(await store.findByUsername(`nobody${ns}`)).to.equal(undefined);
    });

    it('finds a username case-insensitively and keeps its spelling', async function () {
      const created = await store.createAccount({ id: `id-${ns}`, username: `MixedCase${ns}`, passwordHash: 'h', createdAt: '2024-01-01T00:00:00.000Z' });
      expect(await store.findByUsername(`mixedcase${ns}`)).to.deep.equal(created);
      expect(await store.findByUsername(`MIXEDCASE${ns.toUpperCase()}`)).to.deep.equal(created);
      expect((await store.findByUsername(`mixedcase${ns}`))?.username).to.equal(`MixedCase${ns}`);
    });

    it('refuses a taken username, in any case, with UsernameTakenError', async function () {
      const first = await store.createAccount({ id: `id-1-${ns}`, username: `Bob${ns}`, passwordHash: 'h1', createdAt: '2024-01-01T00:00:00.000Z' });
      for (const username of [`Bob${ns}`, `bob${ns}`, `BOB${ns.toUpperCase()}`]) {
        let caught: unknown;
        try {
          await store.createAccount({ id: `id-2-${ns}`, username, passwordHash: 'h2', createdAt: '2024-01-02T00:00:00.000Z' });
        } catch (error) {
          caught = error;
        }
        expect(caught, username).to.be.instanceOf(UsernameTakenError);
        expect((caught as UsernameTakenError).username).to.equal(username);
        expect((caught as UsernameTakenError).name).to.equal('UsernameTakenError');
      }
      expect(await store.findByUsername(`bob${ns}`)).to.deep.equal(first);
      expect(await store.findById(`id-2-${ns}`)).to.equal(undefined);
    });

    it('lists accounts ordered by username, case-insensitively', async function () {
      const carol = await account('Carol');
      const alice = await account('alice');
      const bob = await account('Bob');
      const listed = (await store.listAccounts()).filter((listedAccount) => listedAccount.username.endsWith(ns));
      expect(listed).to.deep.equal([alice, bob, carol]);
    });

    it('disables and re-enables an account', async function () {
      const created = await account('dave');
      await store.setDisabled(created.id, true);
      expect(await store.findById(created.id)).to.deep.equal({ ...created, disabled: true });
      expect((await store.findByUsername(created.username))?.disabled).to.equal(true);
      await store.setDisabled(created.id, false);
      expect(await store.findById(created.id)).to.deep.equal(created);
      await store.setDisabled(`nobody-${ns}`, true);
      expect(await store.findById(`nobody-${ns}`)).to.equal(undefined);
    });

    it("replaces a password hash, and only that account's", async function () {
      const frank = await account('frank');
      const grace = await account('grace');
      await store.setPasswordHash(frank.id, 'new-hash');
      expect(await store.findById(frank.id)).to.deep.equal({ ...frank, passwordHash: 'new-hash' });
      expect(await store.findById(grace.id)).to.deep.equal(grace);
    });

    it('markDeleting: the account reads as deleting and disabled, and an admin cannot enable it again', async function () {
      const created = await account('ivy');
      expect(created.deleting).to.equal(false);
      await store.markDeleting(created.id);
      expect(await store.findById(created.id)).to.deep.equal({ ...created, disabled: true, deleting: true });
      await store.setDisabled(created.id, false);
      expect((await store.findByUsername(created.username))?.disabled).to.equal(true);
      expect((await store.listAccounts()).find((listed) => listed.id === created.id)?.deleting).to.equal(true);
    });

    it('stores tokens by secret hash: find, list in creation order, touch', async function () {
      const user = await account('erin');
      const laptop = await token(user.id, 'laptop', '2024-02-02T00:00:00.000Z');
      const phone = await token(user.id, 'phone', '2024-02-01T00:00:00.000Z');
      const unlabelled = await token(user.id, null, '2024-02-03T00:00:00.000Z');
      const common = { userId: user.id, kind: 'token', parentId: null, lastUsedAt: null, expiresAt: null } as const;
      const laptopRecord: TokenRecord = { ...common, id: laptop.id, label: 'laptop', createdAt: '2024-02-02T00:00:00.000Z' };
      const phoneRecord: TokenRecord = { ...common, id: phone.id, label: 'phone', createdAt: '2024-02-01T00:00:00.000Z' };
      const unlabelledRecord: TokenRecord = { ...common, id: unlabelled.id, label: null, createdAt: '2024-02-03T00:00:00.000Z' };

      expect(await store.findToken(laptop.secretHash)).to.deep.equal(laptopRecord);
      expect(await store.findToken(randomBytes(32).toString('hex'))).to.equal(undefined);
      expect(await store.listTokens(user.id)).to.deep.equal([phoneRecord, laptopRecord, unlabelledRecord]);
      expect(await store.listTokens(`nobody-${ns}`)).to.deep.equal([]);

      await store.touchToken(phone.id, '2024-03-01T12:00:00.000Z');
      await store.touchToken(phone.id, '2024-03-02T12:00:00.000Z');
      expect(await store.findToken(phone.secretHash)).to.deep.equal({ ...phoneRecord, lastUsedAt: '2024-03-02T12:00:00.000Z' });
      expect(await store.findToken(laptop.secretHash)).to.deep.equal(laptopRecord);
    });

    it('revokes a token of its user only', async function () {
      const frank = await account('frank');
      const grace = await account('grace');
      const franks = await token(frank.id, 'phone', '2024-02-01T00:00:00.000Z');
      const graces = await token(grace.id, 'phone', '2024-02-01T00:00:00.000Z');

      expect(await store.revokeToken(grace.id, franks.id)).to.equal(false);
      expect((await store.findToken(franks.secretHash))?.id).to.equal(franks.id);
      expect(await store.revokeToken(frank.id, franks.id)).to.equal(true);
      expect(await store.findToken(franks.secretHash)).to.equal(undefined);
      expect(await store.listTokens(frank.id)).to.deep.equal([]);
      expect(await store.revokeToken(frank.id, franks.id)).to.equal(false);
      expect(await store.revokeToken(frank.id, `never-${ns}`)).to.equal(false);
      expect((await store.findToken(graces.secretHash))?.userId).to.equal(grace.id);
    });

    it("keeps each token's kind, and revoking a token revokes the tokens opened with it", async function () {
      const judy = await account('judy');
      const app = await token(judy.id, 'AntennaPod', '2024-02-01T00:00:00.000Z', { kind: 'app_password' });
      const session = await token(judy.id, 'gpodder session', '2024-02-02T00:00:00.000Z', { parentId: app.id });
      const other = await token(judy.id, 'cli', '2024-02-03T00:00:00.000Z');
      expect(await store.findToken(app.secretHash)).to.deep.include({ kind: 'app_password', parentId: null });
      expect(await store.findToken(session.secretHash)).to.deep.include({ kind: 'token', parentId: app.id });
      expect(await store.revokeToken(judy.id, app.id)).to.equal(true);
      expect(await store.findToken(session.secretHash)).to.equal(undefined);
      expect((await store.listTokens(judy.id)).map((listed) => listed.id)).to.deep.equal([other.id]);
    });

    it('login flows: found by login hash until they expire, granted once, taken once by poll hash', async function () {
      const flow = (suffix: string, expiresAt: string) => ({
        pollHash: `poll-${suffix}-${ns}`,
        loginHash: `login-${suffix}-${ns}`,
        clientName: 'AntennaPod/3.5',
        sealedKey: 'key',
        createdAt: '2024-06-01T00:00:00.000Z',
        expiresAt,
      });
      const live = flow('a', '2024-06-01T00:20:00.000Z');
      await store.createLoginFlow(live);
      const during = '2024-06-01T00:05:00.000Z';
      expect(await store.findLoginFlow(live.loginHash, during)).to.deep.equal({ ...live, grant: null });
      expect(await store.findLoginFlow(live.loginHash, '2024-06-01T00:20:00.000Z'), 'expired').to.equal(undefined);
      expect(await store.takeGrantedLoginFlow(live.pollHash, during), 'pending').to.equal(undefined);
      const grant = { loginName: 'judy', sealedPassword: 'sealed' };
      expect(await store.grantLoginFlow(live.loginHash, grant, during)).to.equal(true);
      expect(await store.grantLoginFlow(live.loginHash, { ...grant, sealedPassword: 'other' }, during), 'granted once').to.equal(false);
      const taken = await Promise.all([store.takeGrantedLoginFlow(live.pollHash, during), store.takeGrantedLoginFlow(live.pollHash, during)]);
      expect(taken.filter((item) => item !== undefined)).to.deep.equal([{ ...live, grant }]);
      expect(await store.findLoginFlow(live.loginHash, during)).to.equal(undefined);

      const late = flow('b', '2024-06-01T00:20:00.000Z');
      await store.createLoginFlow(late);
      expect(await store.grantLoginFlow(late.loginHash, grant, '2024-06-01T00:21:00.000Z'), 'expired').to.equal(false);
      const denied = flow('c', '2024-06-01T00:20:00.000Z');
      await store.createLoginFlow(denied);
      await store.deleteLoginFlow(denied.loginHash);
      expect(await store.findLoginFlow(denied.loginHash, during)).to.equal(undefined);
    });

    it('deleteAccount removes the account and all its tokens, and frees the username', async function () {
      const heidi = await account('heidi');
      const ivan = await account('ivan');
      const first = await token(heidi.id, 'a', '2024-02-01T00:00:00.000Z');
      const second = await token(heidi.id, 'b', '2024-02-02T00:00:00.000Z');
      const ivans = await token(ivan.id, 'a', '2024-02-01T00:00:00.000Z');

      await store.deleteAccount(heidi.id);
      expect(await store.findById(heidi.id)).to.equal(undefined);
      expect(await store.findByUsername(heidi.username)).to.equal(undefined);
      expect(await store.findToken(first.secretHash)).to.equal(undefined);
      expect(await store.findToken(second.secretHash)).to.equal(undefined);
      expect(await store.listTokens(heidi.id)).to.deep.equal([]);
      expect((await store.listAccounts()).map((listed) => listed.id)).not.to.include(heidi.id);
      expect((await store.findToken(ivans.secretHash))?.userId).to.equal(ivan.id);
      expect(await store.findById(ivan.id)).to.deep.equal(ivan);

      await store.deleteAccount(heidi.id);
      const again = await store.createAccount({
        id: `id-heidi-again-${ns}`,
        username: heidi.username.toUpperCase(),
        passwordHash: 'h',
        createdAt: '2024-05-01T00:00:00.000Z',
      });
      expect(await store.findByUsername(heidi.username)).to.deep.equal(again);
    });
  });
}
