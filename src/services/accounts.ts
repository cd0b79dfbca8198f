/** Registration, login and token life cycle, over the accounts port. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { boundedString } from '../domain/events.js';
import type { Account, AccountStore, TokenRecord } from '../stores/accounts.js';
import { isBearerToken } from '../stores/accounts.js';
import { isStorageFull, isStoreBusy } from '../stores/store-errors.js';
import { hashPassword, hashTokenSecret, newTokenSecret, verifyPassword } from '../auth/passwords.js';

export const usernameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'at most 64 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, underscore and dash only, starting with a letter or digit');
export const passwordSchema = z.string().min(8, 'at least 8 characters').max(256, 'at most 256 characters');
export const credentialsSchema = z.object({ username: usernameSchema, password: passwordSchema }).strict();
export const tokenRequestSchema = z
  .object({
    username: z.string().max(64),
    password: z.string().max(256),
    label: boundedString(128).optional(),
    expires_in_days: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .optional()
      .meta({ description: 'The token stops working after this many days; without it, it works until revoked' }),
  })
  .strict();

/**
 * A token's last use is recorded to the hour, and written at most once an hour: enough to tell
 * a forgotten token from a live one, without a write per request nor a trace of each use.
 */
const TOUCH_RESOLUTION_MS = 60 * 60_000;
const DAY_MS = 24 * 60 * 60_000;

export interface Principal {
  readonly userId: string;
  readonly username: string;
  readonly tokenId: string | null;
}

/** An app password as its owner sees it (never the password itself, after creation). */
export interface AppPassword {
  readonly id: string;
  readonly name: string;
  readonly created_at: string;
  readonly last_used_at: string | null;
}

const appPasswordOf = (token: TokenRecord): AppPassword => ({
  id: token.id,
  name: token.label ?? '',
  created_at: token.createdAt,
  last_used_at: token.lastUsedAt,
});

/**
 * Ends the sessions opened with the account's password (web sessions, gpodder session cookies
 * opened with it), but `keep`: after a password change, whoever held the old password holds
 * nothing. What the user created on purpose stays (app passwords, the sessions opened with them,
 * API tokens): they are listed on the Access page, one by one revocable (docs/design.md, "App passwords").
 */
export async function endPasswordSessions(store: AccountStore, userId: string, keep: string | null): Promise<number> {
  const ended = (await store.listTokens(userId)).filter((token) => token.kind === 'session' && token.parentId === null && token.id !== keep);
  for (const token of ended) await store.revokeToken(userId, token.id);
  return ended.length;
}

export const appPasswordName = boundedString(128).trim().min(1, 'must not be empty');

export class InvalidCredentialsError extends Error {
  override readonly name = 'InvalidCredentialsError';
  constructor() {
    super('Invalid username or password');
  }
}

export class AccountService {
  constructor(
    private readonly accounts: AccountStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async register(username: string, password: string): Promise<Account> {
    const passwordHash = await hashPassword(password);
    return this.accounts.createAccount({ id: randomUUID(), username, passwordHash, createdAt: this.clock().toISOString() });
  }

  /** Checks a username and password; the same error whether the user or the password is wrong. */
  async verify(username: string, password: string): Promise<Account> {
    const account = await this.accounts.findByUsername(username);
    const ok = account !== undefined && !account.disabled && (await verifyPassword(password, account.passwordHash));
    if (!ok || account === undefined) throw new InvalidCredentialsError();
    return account;
  }

  /** The account of a signed-in user (undefined once deleted). */
  account(userId: string): Promise<Account | undefined> {
    return this.accounts.findById(userId);
  }

  /**
   * Changes the password after checking the current one (the same error as a failed login), and
   * ends the sessions opened with the old one but `keep` (the session asking). Tokens and app
   * passwords stay valid: they are separate credentials, revoked on their own.
   */
  async changePassword(userId: string, currentPassword: string, newPassword: string, keep: string | null = null): Promise<void> {
    const account = await this.accounts.findById(userId);
    if (!account) throw new InvalidCredentialsError();
    await this.verify(account.username, currentPassword);
    await this.accounts.setPasswordHash(account.id, await hashPassword(passwordSchema.parse(newPassword)));
    await endPasswordSessions(this.accounts, account.id, keep);
  }

  async issueToken(username: string, password: string, label?: string, expiresInDays?: number): Promise<{ token: string; id: string; account: Account }> {
    return this.issueTokenFor(await this.verify(username, password), label, expiresInDays === undefined ? {} : { expiresInDays });
  }

  /**
   * A new token for an account the caller has just authenticated (gpodder session cookies, web
   * sessions); `parentId` names the app password it was opened with, so that revoking one
   * revokes both; `expiresInDays` bounds its life.
   */
  async issueTokenFor(
    account: Account,
    label?: string,
    options: { kind?: 'token' | 'session'; parentId?: string | undefined; expiresInDays?: number } = {},
  ): Promise<{ token: string; id: string; account: Account }> {
    const secret = newTokenSecret();
    const id = randomUUID();
    const now = this.clock();
    await this.accounts.createToken({
      id,
      userId: account.id,
      secretHash: hashTokenSecret(secret),
      kind: options.kind ?? 'token',
      label: label ?? null,
      parentId: options.parentId ?? null,
      createdAt: now.toISOString(),
      expiresAt: options.expiresInDays === undefined ? null : new Date(now.getTime() + options.expiresInDays * DAY_MS).toISOString(),
    });
    return { token: secret, id, account };
  }

  // ---- app passwords (docs/design.md, "App passwords") --------------------------------------

  /** A new app password: random, shown once (returned here), stored as its hash. */
  async createAppPassword(userId: string, name: string): Promise<AppPassword & { password: string }> {
    const password = newTokenSecret();
    const record = {
      id: randomUUID(),
      userId,
      secretHash: hashTokenSecret(password),
      kind: 'app_password' as const,
      label: name,
      createdAt: this.clock().toISOString(),
    };
    await this.accounts.createToken(record);
    return { id: record.id, name, created_at: record.createdAt, last_used_at: null, password };
  }

  async listAppPasswords(userId: string): Promise<AppPassword[]> {
    return (await this.accounts.listTokens(userId)).filter((token) => token.kind === 'app_password').map(appPasswordOf);
  }

  /** Revokes an app password and every session opened with it; false if the user has none with this id. */
  async revokeAppPassword(userId: string, id: string): Promise<boolean> {
    const owned = (await this.accounts.listTokens(userId)).some((token) => token.id === id && token.kind === 'app_password');
    return owned && this.accounts.revokeToken(userId, id);
  }

  /**
   * The account and app password that `password` is for `username`, if it is one. A SHA-256
   * lookup, no scrypt: app passwords are 256 random bits, so nothing is gained by stretching.
   */
  async verifyAppPassword(username: string, password: string): Promise<{ account: Account; appPasswordId: string } | undefined> {
    const found = await this.appPasswordAccount(password);
    if (!found || found.account.username.toLowerCase() !== username.toLowerCase()) return undefined;
    await this.touch(found.token);
    return { account: found.account, appPasswordId: found.token.id };
  }

  private async appPasswordAccount(password: string): Promise<{ account: Account; token: TokenRecord } | undefined> {
    const token = await this.accounts.findToken(hashTokenSecret(password));
    if (!token || token.kind !== 'app_password') return undefined;
    const account = await this.accounts.findById(token.userId);
    return account && !account.disabled ? { account, token } : undefined;
  }

  /**
   * Records a credential's use, to the hour: at most one write per credential an hour (a write
   * per request would be waste), and a coarse time says no more than needed.
   */
  private async touch(token: TokenRecord): Promise<void> {
    const now = this.clock().getTime();
    const hour = new Date(Math.floor(now / TOUCH_RESOLUTION_MS) * TOUCH_RESOLUTION_MS).toISOString();
    if (token.lastUsedAt !== null && token.lastUsedAt >= hour) return;
    // Bookkeeping: on a full disk, or a file another connection holds locked, the request goes
    // on without it, and reads keep being served (docs/operations.md, "A full disk").
    await this.accounts.touchToken(token.id, hour).catch((error: unknown) => {
      if (!isStorageFull(error) && !isStoreBusy(error)) throw error;
    });
  }

  /**
   * The principal of a bearer token. With `appPasswords`, an app password sent alone is one too:
   * how Nextcloud accepts the app password of a Login Flow (its `tryTokenLogin`), and how Music
   * Assistant sends it (docs/api.md, "Nextcloud gPodder Sync API"); the native API takes tokens only.
   */
  async authenticateToken(secret: string, options: { appPasswords?: boolean } = {}): Promise<Principal | undefined> {
    const token = await this.accounts.findToken(hashTokenSecret(secret));
    if (!token) return undefined;
    // App passwords do not expire (they are revoked); tokens may.
    const usable = token.kind === 'app_password' ? options.appPasswords === true : token.expiresAt === null || token.expiresAt > this.clock().toISOString();
    if (!usable) return undefined;
    const account = await this.accounts.findById(token.userId);
    if (!account || account.disabled) return undefined;
    await this.touch(token);
    return { userId: account.id, username: account.username, tokenId: isBearerToken(token) ? token.id : null };
  }

  listTokens(userId: string): Promise<TokenRecord[]> {
    return this.accounts.listTokens(userId);
  }

  revokeToken(userId: string, tokenId: string): Promise<boolean> {
    return this.accounts.revokeToken(userId, tokenId);
  }
}
