/** Registration, login and token life cycle, over the accounts port. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { boundedString } from '../domain/events.js';
import type { Account, AccountStore, TokenRecord } from '../stores/accounts.js';
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
    expires_in_days: z.number().int().min(1).max(3650).optional().meta({ description: 'The token stops working after this many days; without it, it works until revoked' }),
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

  async issueToken(username: string, password: string, label?: string, expiresInDays?: number): Promise<{ token: string; id: string; account: Account }> {
    return this.issueTokenFor(await this.verify(username, password), label, expiresInDays);
  }

  /** A new token for an account the caller has just authenticated (gpodder session cookies). */
  async issueTokenFor(account: Account, label?: string, expiresInDays?: number): Promise<{ token: string; id: string; account: Account }> {
    const secret = newTokenSecret();
    const id = randomUUID();
    const now = this.clock();
    await this.accounts.createToken({
      id,
      userId: account.id,
      secretHash: hashTokenSecret(secret),
      label: label ?? null,
      createdAt: now.toISOString(),
      expiresAt: expiresInDays === undefined ? null : new Date(now.getTime() + expiresInDays * DAY_MS).toISOString(),
    });
    return { token: secret, id, account };
  }

  async authenticateToken(secret: string): Promise<Principal | undefined> {
    const token = await this.accounts.findToken(hashTokenSecret(secret));
    if (!token) return undefined;
    const now = this.clock();
    if (token.expiresAt !== null && token.expiresAt <= now.toISOString()) return undefined;
    const account = await this.accounts.findById(token.userId);
    if (!account || account.disabled) return undefined;
    const hour = new Date(Math.floor(now.getTime() / TOUCH_RESOLUTION_MS) * TOUCH_RESOLUTION_MS).toISOString();
    if (token.lastUsedAt === null || token.lastUsedAt < hour) await this.accounts.touchToken(token.id, hour);
    return { userId: account.id, username: account.username, tokenId: token.id };
  }

  listTokens(userId: string): Promise<TokenRecord[]> {
    return this.accounts.listTokens(userId);
  }

  revokeToken(userId: string, tokenId: string): Promise<boolean> {
    return this.accounts.revokeToken(userId, tokenId);
  }
}
