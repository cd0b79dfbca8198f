/**
 * Authentication for the gpodder.net API (docs/design.md, "Clients and their APIs"): HTTP Basic with the account's username
 * and password, and a `sessionid` cookie set by any successful Basic authentication.
 *
 * The session is a bearer token of the accounts store (only its hash is stored), labelled
 * {@link SESSION_LABEL} and the app's name: revocable, listed with the user's tokens, valid on
 * every stateless worker. Clients that log in before every request (PinePods), or send Basic on
 * every request and drop cookies (aiohttp from an IP address), mint a session per request, so an
 * app keeps at most {@link MAX_SESSIONS_PER_APP} and a user {@link MAX_SESSIONS} (the oldest go):
 * one such app does not end the long-lived session of another (gPodder's, whose client answers
 * three challenges at most).
 *
 * Basic on every request also means scrypt on every request (about 50 ms). A worker remembers,
 * for a few minutes, that a password was verified against a given stored hash: under an HMAC
 * with a per-process random key (never the password itself), and only while the stored hash
 * is unchanged and the account enabled, so a password change or a deletion takes effect at
 * once. A miss falls back to scrypt; nothing has to be shared between workers.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Account, AccountStore } from '../stores/accounts.js';
import type { AccountService, Principal } from './accounts.js';

export const SESSION_COOKIE = 'sessionid';
export const SESSION_LABEL = 'gpodder session';
export const MAX_SESSIONS = 20;
export const MAX_SESSIONS_PER_APP = 5;

const sessionLabel = (app: string | undefined) => (app === undefined ? SESSION_LABEL : `${SESSION_LABEL} (${app})`);
const isSession = (label: string | null) => label !== null && (label === SESSION_LABEL || label.startsWith(`${SESSION_LABEL} (`));

/** Who Basic credentials authenticated, and with which app password if not the account password. */
export interface BasicLogin {
  readonly account: Account;
  readonly appPasswordId?: string;
}

interface VerifiedLogin {
  readonly accountId: string;
  readonly passwordHash: string;
  readonly expiresAt: number;
}

export interface GpodderAuthOptions {
  /** How long a verified password is remembered (default 5 minutes). */
  readonly rememberMs?: number;
  /** At most this many remembered logins per worker (default 10,000). */
  readonly maxRemembered?: number;
  readonly now?: () => number;
}

export class GpodderAuth {
  private readonly remembered = new Map<string, VerifiedLogin>();
  private readonly hmacKey = randomBytes(32);
  private readonly rememberMs: number;
  private readonly maxRemembered: number;
  private readonly now: () => number;

  constructor(
    private readonly accounts: AccountService,
    private readonly store: AccountStore,
    options: GpodderAuthOptions = {},
  ) {
    this.rememberMs = options.rememberMs ?? 5 * 60_000;
    this.maxRemembered = options.maxRemembered ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Checks Basic credentials: an app password of the user, or the account password; throws
   * `InvalidCredentialsError` (src/services/accounts.ts).
   */
  async verifyBasic(username: string, password: string): Promise<BasicLogin> {
    const app = await this.accounts.verifyAppPassword(username, password);
    if (app) return app;
    return { account: await this.verifyAccountPassword(username, password) };
  }

  private async verifyAccountPassword(username: string, password: string): Promise<Account> {
    const key = createHmac('sha256', this.hmacKey).update(username).update('\u0000').update(password).digest('base64url');
    const known = this.remembered.get(key);
    if (known && known.expiresAt > this.now()) {
      const account = await this.store.findByUsername(username);
      if (account && !account.disabled && account.id === known.accountId && account.passwordHash === known.passwordHash) return account;
    }
    this.remembered.delete(key);
    const account = await this.accounts.verify(username, password);
    if (this.remembered.size >= this.maxRemembered) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.remembered.keys().next();
      if (!oldest.done) this.remembered.delete(oldest.value);
    }
    this.remembered.set(key, { accountId: account.id, passwordHash: account.passwordHash, expiresAt: this.now() + this.rememberMs });
    return account;
  }

  /**
   * A new session for the login of `app` (its User-Agent): the cookie value and the token's id.
   * It ends with the app password it was opened with.
   */
  async openSession(login: BasicLogin, app?: string): Promise<{ secret: string; tokenId: string }> {
    const { account } = login;
    const label = sessionLabel(app);
    const issued = await this.accounts.issueTokenFor(account, label, { kind: 'session', parentId: login.appPasswordId });
    const sessions = (await this.accounts.listTokens(account.id))
      .filter((token) => token.kind === 'session' && isSession(token.label))
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    const ofApp = sessions.filter((token) => token.label === label);
    const stale = new Set([...ofApp.slice(MAX_SESSIONS_PER_APP), ...sessions.slice(MAX_SESSIONS)]);
    for (const token of stale) {
      if (token.id !== issued.id) await this.accounts.revokeToken(account.id, token.id);
    }
    return { secret: issued.token, tokenId: issued.id };
  }

  /** The user of a session cookie, if it is live. */
  fromSession(secret: string): Promise<Principal | undefined> {
    return this.accounts.authenticateToken(secret);
  }

  /** Ends a session (logout): its token is revoked. */
  async closeSession(userId: string, tokenId: string): Promise<void> {
    await this.accounts.revokeToken(userId, tokenId);
  }
}
