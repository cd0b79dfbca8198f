/**
 * The accounts port: credentials and bearer tokens. Credentials are not events: erasing an
 * account must remove them for real, and they never belong in a replayable history.
 */

export interface Account {
  readonly id: string;
  readonly username: string;
  readonly passwordHash: string;
  readonly createdAt: string;
  /**
   * The account may not authenticate: disabled by an admin, or being deleted. Every credential
   * check consults this one field, so a deletion stops every kind of credential at once.
   */
  readonly disabled: boolean;
  /** Deletion has started ({@link AccountStore.markDeleting}); it also reads as disabled, for good. */
  readonly deleting: boolean;
}

/**
 * `token`: a bearer token the user asked for (the native API); `session`: a bearer token opened
 * by signing in (a web session, a gpodder session cookie), which ends when the password it was
 * opened with changes (docs/design.md, "App passwords"); `app_password`: a password for one app,
 * given as the HTTP Basic password (Nextcloud and gpodder endpoints).
 */
export type TokenKind = 'token' | 'session' | 'app_password';

/** Bearer tokens: what `Authorization: Bearer` and the session cookies carry, listed as the user's tokens. */
export const isBearerToken = (token: Pick<TokenRecord, 'kind'>): boolean => token.kind !== 'app_password';

/**
 * Sessions written before they had a kind of their own were tokens with these labels: each store
 * makes them sessions once, when it first opens a database written before (`SESSION_KIND_UPGRADE`).
 */
export const LEGACY_SESSION_LABELS = { exact: ['Web session', 'gpodder session'], prefix: 'gpodder session (' } as const;
export const SESSION_KIND_UPGRADE = 'session-kind';

export interface TokenRecord {
  /** Public identifier of the token (not the secret), used to list and revoke. */
  readonly id: string;
  readonly userId: string;
  readonly kind: TokenKind;
  readonly label: string | null;
  /** The credential this one was opened with (a session opened with an app password): revoking that revokes this. */
  readonly parentId: string | null;
  readonly createdAt: string;
  /** Coarse (to the hour; see AccountService.authenticateToken), null until first used. */
  readonly lastUsedAt: string | null;
  /** After this instant the token no longer authenticates; null: until revoked. */
  readonly expiresAt: string | null;
}

export interface NewToken {
  readonly id: string;
  readonly userId: string;
  readonly secretHash: string;
  readonly kind?: TokenKind;
  readonly label: string | null;
  readonly parentId?: string | null;
  readonly createdAt: string;
  readonly expiresAt?: string | null;
}

/**
 * A pending Nextcloud Login Flow v2 (docs/design.md, "Login Flow v2"). Both of its secrets are
 * stored hashed: the poll token (the app's) and the login token (in the browser's URL). Once
 * the user grants access, the new app password waits here encrypted to the flow's key, whose
 * private half only the poll token unseals: only the app that started the flow reads it, once.
 */
export interface LoginFlow {
  readonly pollHash: string;
  readonly loginHash: string;
  /** The app, as its User-Agent named it. */
  readonly clientName: string;
  /** The flow's public key, and its private key sealed under the poll token (src/auth/login-flow-crypto.ts). */
  readonly sealedKey: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly grant: { readonly loginName: string; readonly sealedPassword: string } | null;
}

export interface AccountStore {
  /** Throws {@link UsernameTakenError} if the username exists. */
  createAccount(account: Omit<Account, 'disabled' | 'deleting'>): Promise<Account>;
  findByUsername(username: string): Promise<Account | undefined>;
  findById(id: string): Promise<Account | undefined>;
  listAccounts(): Promise<Account[]>;
  /** An admin's switch; a deleting account stays disabled whatever it says. */
  setDisabled(id: string, disabled: boolean): Promise<void>;
  /** Replaces the account's password hash (a password change); tokens and app passwords stay. */
  setPasswordHash(id: string, passwordHash: string): Promise<void>;
  /** Deletion has started: the account no longer authenticates (final; the account goes next). */
  markDeleting(id: string): Promise<void>;
  /** Removes the account and all its tokens. */
  deleteAccount(id: string): Promise<void>;
  /** Stores a token by the hash of its secret; the secret itself is never stored. */
  createToken(token: NewToken): Promise<void>;
  /** The live token with this secret hash, if any (revoked tokens are gone). */
  findToken(secretHash: string): Promise<TokenRecord | undefined>;
  touchToken(id: string, at: string): Promise<void>;
  listTokens(userId: string): Promise<TokenRecord[]>;
  /** Removes the token and the tokens opened with it; false if the user has no such token. */
  revokeToken(userId: string, tokenId: string): Promise<boolean>;

  createLoginFlow(flow: Omit<LoginFlow, 'grant'>): Promise<void>;
  /** The unexpired flow with this login token hash. */
  findLoginFlow(loginHash: string, now: string): Promise<LoginFlow | undefined>;
  /** Records the grant on a pending, unexpired flow; false if there is none (taken, expired, decided). */
  grantLoginFlow(loginHash: string, grant: NonNullable<LoginFlow['grant']>, now: string): Promise<boolean>;
  /** Removes a flow (the user denied it). */
  deleteLoginFlow(loginHash: string): Promise<void>;
  /**
   * Removes and returns the granted, unexpired flow with this poll token hash: at most once,
   * even to concurrent pollers. A pending flow stays (undefined). Expired flows are removed.
   */
  takeGrantedLoginFlow(pollHash: string, now: string): Promise<LoginFlow | undefined>;
}

export class UsernameTakenError extends Error {
  override readonly name = 'UsernameTakenError';
  constructor(readonly username: string) {
    super(`Username ${username} is taken`);
  }
}
