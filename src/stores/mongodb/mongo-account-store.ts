/**
 * MongoDB accounts adapter: `accounts` (unique, case-insensitive username) and `tokens` (unique
 * secretHash, indexed by userId). Case-insensitivity comes from a collation (en, strength 2) on
 * the unique index and on every username query, so queries use the index.
 *
 * Differences from the embedded adapter to know about: strength 2 folds case for all of Unicode
 * (SQLite's NOCASE folds ASCII only) and compares diacritics as distinct, as NOCASE does; and
 * there is no foreign key from tokens to accounts (the embedded adapter refuses a token for an
 * unknown user; here callers must only create tokens for existing accounts).
 */
import { MongoServerError } from 'mongodb';
import type { CollationOptions, Collection, Db } from 'mongodb';
import type { Account, AccountStore, LoginFlow, NewToken, TokenKind, TokenRecord } from '../accounts.js';
import { LEGACY_SESSION_LABELS, SESSION_KIND_UPGRADE, UsernameTakenError } from '../accounts.js';

const USERNAME_COLLATION: CollationOptions = { locale: 'en', strength: 2 };
const DUPLICATE_KEY = 11000;
const USERNAME_INDEX = 'username_ci_unique';

interface AccountShape {
  _id: string;
  username: string;
  passwordHash: string;
  createdAt: string;
  disabled: boolean;
  deleting?: boolean;
}

interface TokenShape {
  _id: string;
  userId: string;
  secretHash: string;
  /** Absent on tokens written before app passwords: those are `token`. */
  kind?: TokenKind;
  label: string | null;
  parentId?: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt?: string | null;
}

interface LoginFlowShape {
  /** The poll token's hash. */
  _id: string;
  loginHash: string;
  clientName: string;
  sealedKey: string;
  createdAt: string;
  expiresAt: string;
  grant: { loginName: string; sealedPassword: string } | null;
}

const toLoginFlow = (raw: LoginFlowShape): LoginFlow => ({
  pollHash: raw._id,
  loginHash: raw.loginHash,
  clientName: raw.clientName,
  sealedKey: raw.sealedKey,
  createdAt: raw.createdAt,
  expiresAt: raw.expiresAt,
  grant: raw.grant,
});

const toAccount = (raw: AccountShape): Account => ({
  id: raw._id,
  username: raw.username,
  passwordHash: raw.passwordHash,
  createdAt: raw.createdAt,
  disabled: raw.disabled || raw.deleting === true,
  deleting: raw.deleting === true,
});

const toToken = (raw: TokenShape): TokenRecord => ({
  id: raw._id,
  userId: raw.userId,
  kind: raw.kind ?? 'token',
  label: raw.label,
  parentId: raw.parentId ?? null,
  createdAt: raw.createdAt,
  lastUsedAt: raw.lastUsedAt,
  expiresAt: raw.expiresAt ?? null,
});

/** A duplicate key on the username index (not on `_id`, which is a different bug). */
function isUsernameDuplicate(error: unknown): boolean {
  if (!(error instanceof MongoServerError) || error.code !== DUPLICATE_KEY) return false;
  const keyPattern: unknown = error.errorResponse['keyPattern'];
  if (keyPattern !== null && typeof keyPattern === 'object') return 'username' in keyPattern;
  return error.message.includes(USERNAME_INDEX);
}

export class MongoAccountStore implements AccountStore {
  private indexes: Promise<void> | undefined;

  /** Indexes are created on first use (or by awaiting {@link MongoAccountStore.init}). */
  constructor(private readonly db: Db) {}

  private get accounts(): Collection<AccountShape> {
    return this.db.collection<AccountShape>('accounts');
  }

  private get tokens(): Collection<TokenShape> {
    return this.db.collection<TokenShape>('tokens');
  }

  private get loginFlows(): Collection<LoginFlowShape> {
    return this.db.collection<LoginFlowShape>('login_flows');
  }

  /** Creates the indexes (idempotent; remembered once it succeeded). */
  init(): Promise<void> {
    this.indexes ??= this.createIndexes().catch((error: unknown) => {
      this.indexes = undefined;
      throw error;
    });
    return this.indexes;
  }

  private async createIndexes(): Promise<void> {
    await this.accounts.createIndex({ username: 1 }, { name: USERNAME_INDEX, unique: true, collation: USERNAME_COLLATION });
    await this.tokens.createIndexes([
      { key: { secretHash: 1 }, name: 'secretHash_unique', unique: true },
      { key: { userId: 1, createdAt: 1 }, name: 'userId_createdAt' },
      { key: { parentId: 1 }, name: 'parentId', partialFilterExpression: { parentId: { $type: 'string' } } },
    ]);
    await this.loginFlows.createIndexes([
      { key: { loginHash: 1 }, name: 'loginHash_unique', unique: true },
      { key: { expiresAt: 1 }, name: 'expiresAt' },
    ]);
    await this.upgradeOnce(SESSION_KIND_UPGRADE, async () => {
      const { exact, prefix } = LEGACY_SESSION_LABELS;
      const legacy = { $or: [{ label: { $in: [...exact] } }, { label: { $regex: `^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` } }] };
      await this.tokens.updateMany({ kind: { $nin: ['session', 'app_password'] }, ...legacy }, { $set: { kind: 'session' } });
    });
  }

  /**
   * Runs `upgrade` once in a database's life (recorded in `account_upgrades` after it ran): an
   * upgrade that reads what the data looked like before a change must not run again over data
   * written after it. Two processes starting at once may both run it: each upgrade is idempotent.
   */
  private async upgradeOnce(name: string, upgrade: () => Promise<void>): Promise<void> {
    const upgrades = this.db.collection<{ _id: string; at: string }>('account_upgrades');
    if (await upgrades.findOne({ _id: name })) return;
    await upgrade();
    await upgrades.updateOne({ _id: name }, { $setOnInsert: { at: new Date().toISOString() } }, { upsert: true });
  }

  async createAccount(account: Omit<Account, 'disabled' | 'deleting'>): Promise<Account> {
    await this.init();
    try {
      await this.accounts.insertOne({
        _id: account.id,
        username: account.username,
        passwordHash: account.passwordHash,
        createdAt: account.createdAt,
        disabled: false,
      });
    } catch (error) {
      if (isUsernameDuplicate(error)) throw new UsernameTakenError(account.username);
      throw error;
    }
    return { ...account, disabled: false, deleting: false };
  }

  async findByUsername(username: string): Promise<Account | undefined> {
    await this.init();
    const raw = await this.accounts.findOne({ username }, { collation: USERNAME_COLLATION });
    return raw ? toAccount(raw) : undefined;
  }

  async findById(id: string): Promise<Account | undefined> {
    await this.init();
    const raw = await this.accounts.findOne({ _id: id });
    return raw ? toAccount(raw) : undefined;
  }

  async listAccounts(): Promise<Account[]> {
    await this.init();
    // Usernames are unique under this collation, so they alone order the list, and the unique
    // index delivers that order; an `_id` tie-breaker would make MongoDB sort every account in memory.
    const raws = await this.accounts.find({}, { collation: USERNAME_COLLATION }).sort({ username: 1 }).toArray();
    return raws.map(toAccount);
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    await this.init();
    await this.accounts.updateOne({ _id: id }, { $set: { disabled } });
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.init();
    await this.accounts.updateOne({ _id: id }, { $set: { passwordHash } });
  }

  async markDeleting(id: string): Promise<void> {
    await this.init();
    await this.accounts.updateOne({ _id: id }, { $set: { deleting: true } });
  }

  /**
   * Tokens, then the account, then tokens again (one created meanwhile by a login that had
   * already checked the password). Not a transaction: a crash in between leaves either an
   * account without tokens or orphan tokens of a deleted account, which authenticate nobody
   * (the auth service looks the account up) and are removed when the erasure is retried.
   */
  async deleteAccount(id: string): Promise<void> {
    await this.init();
    await this.tokens.deleteMany({ userId: id });
    await this.accounts.deleteOne({ _id: id });
    await this.tokens.deleteMany({ userId: id });
  }

  async createToken(token: NewToken): Promise<void> {
    await this.init();
    await this.tokens.insertOne({
      _id: token.id,
      userId: token.userId,
      secretHash: token.secretHash,
      kind: token.kind ?? 'token',
      label: token.label,
      parentId: token.parentId ?? null,
      createdAt: token.createdAt,
      lastUsedAt: null,
      expiresAt: token.expiresAt ?? null,
    });
  }

  async findToken(secretHash: string): Promise<TokenRecord | undefined> {
    await this.init();
    const raw = await this.tokens.findOne({ secretHash });
    return raw ? toToken(raw) : undefined;
  }

  async touchToken(id: string, at: string): Promise<void> {
    await this.init();
    await this.tokens.updateOne({ _id: id }, { $set: { lastUsedAt: at } });
  }

  async listTokens(userId: string): Promise<TokenRecord[]> {
    await this.init();
    const raws = await this.tokens.find({ userId }).sort({ createdAt: 1, _id: 1 }).toArray();
    return raws.map(toToken);
  }

  async revokeToken(userId: string, tokenId: string): Promise<boolean> {
    await this.init();
    // Children first, then the token: a crash in between leaves the token itself, and the
    // user's retried revocation finishes the job (never a live session of a revoked password).
    if ((await this.tokens.countDocuments({ _id: tokenId, userId }, { limit: 1 })) === 0) return false;
    await this.tokens.deleteMany({ parentId: tokenId, userId });
    const result = await this.tokens.deleteOne({ _id: tokenId, userId });
    return result.deletedCount > 0;
  }

  async createLoginFlow(flow: Omit<LoginFlow, 'grant'>): Promise<void> {
    await this.init();
    await this.loginFlows.deleteMany({ expiresAt: { $lte: flow.createdAt } });
    await this.loginFlows.insertOne({
      _id: flow.pollHash,
      loginHash: flow.loginHash,
      clientName: flow.clientName,
      sealedKey: flow.sealedKey,
      createdAt: flow.createdAt,
      expiresAt: flow.expiresAt,
      grant: null,
    });
  }

  async findLoginFlow(loginHash: string, now: string): Promise<LoginFlow | undefined> {
    await this.init();
    const raw = await this.loginFlows.findOne({ loginHash, expiresAt: { $gt: now } });
    return raw ? toLoginFlow(raw) : undefined;
  }

  async grantLoginFlow(loginHash: string, grant: NonNullable<LoginFlow['grant']>, now: string): Promise<boolean> {
    await this.init();
    const result = await this.loginFlows.updateOne({ loginHash, expiresAt: { $gt: now }, grant: null }, { $set: { grant } });
    return result.modifiedCount > 0;
  }

  async deleteLoginFlow(loginHash: string): Promise<void> {
    await this.init();
    await this.loginFlows.deleteOne({ loginHash });
  }

  async takeGrantedLoginFlow(pollHash: string, now: string): Promise<LoginFlow | undefined> {
    await this.init();
    await this.loginFlows.deleteMany({ expiresAt: { $lte: now } });
    // findOneAndDelete is atomic on one document: of two concurrent polls, one gets it.
    const raw = await this.loginFlows.findOneAndDelete({ _id: pollHash, grant: { $ne: null }, expiresAt: { $gt: now } });
    return raw ? toLoginFlow(raw) : undefined;
  }
}
