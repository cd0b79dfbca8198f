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

export interface TokenRecord {
  /** Public identifier of the token (not the secret), used to list and revoke. */
  readonly id: string;
  readonly userId: string;
  readonly label: string | null;
  readonly createdAt: string;
  /** Coarse (to the hour; see AccountService.authenticateToken), null until first used. */
  readonly lastUsedAt: string | null;
  /** After this instant the token no longer authenticates; null: until revoked. */
  readonly expiresAt: string | null;
}

export interface AccountStore {
  /** Throws {@link UsernameTakenError} if the username exists. */
  createAccount(account: Omit<Account, 'disabled' | 'deleting'>): Promise<Account>;
  findByUsername(username: string): Promise<Account | undefined>;
  findById(id: string): Promise<Account | undefined>;
  listAccounts(): Promise<Account[]>;
  /** An admin's switch; a deleting account stays disabled whatever it says. */
  setDisabled(id: string, disabled: boolean): Promise<void>;
  /** Deletion has started: the account no longer authenticates (final; the account goes next). */
  markDeleting(id: string): Promise<void>;
  /** Removes the account and all its tokens. */
  deleteAccount(id: string): Promise<void>;
  /** Stores a token by the hash of its secret; the secret itself is never stored. */
  createToken(token: { id: string; userId: string; secretHash: string; label: string | null; createdAt: string; expiresAt?: string | null }): Promise<void>;
  /** The live token with this secret hash, if any (revoked tokens are gone). */
  findToken(secretHash: string): Promise<TokenRecord | undefined>;
  touchToken(id: string, at: string): Promise<void>;
  listTokens(userId: string): Promise<TokenRecord[]>;
  /** Returns false if the user has no such token. */
  revokeToken(userId: string, tokenId: string): Promise<boolean>;
}

export class UsernameTakenError extends Error {
  override readonly name = 'UsernameTakenError';
  constructor(readonly username: string) {
    super(`Username ${username} is taken`);
  }
}
