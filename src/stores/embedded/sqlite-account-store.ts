/** Embedded accounts adapter: two SQLite tables beside the events. */
import type Database from 'better-sqlite3';
import type { Account, AccountStore, TokenRecord } from '../accounts.js';
import { UsernameTakenError } from '../accounts.js';

interface AccountRow {
  id: string;
  username: string;
  password_hash: string;
  created_at: string;
  disabled: number;
  deleting: number;
}

interface TokenRow {
  id: string;
  user_id: string;
  label: string | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
}

const toAccount = (row: AccountRow): Account => ({
  id: row.id,
  username: row.username,
  passwordHash: row.password_hash,
  createdAt: row.created_at,
  disabled: row.disabled !== 0 || row.deleting !== 0,
  deleting: row.deleting !== 0,
});

const toToken = (row: TokenRow): TokenRecord => ({
  id: row.id,
  userId: row.user_id,
  label: row.label,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  expiresAt: row.expires_at,
});

export class SqliteAccountStore implements AccountStore {
  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS accounts (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS tokens (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        secret_hash TEXT NOT NULL UNIQUE,
        label TEXT,
        created_at TEXT NOT NULL,
        last_used_at TEXT
      );
      CREATE INDEX IF NOT EXISTS tokens_by_user ON tokens(user_id);
    `);
    // Data directories from before deletion was a state of the account.
    const columns = db.prepare('PRAGMA table_info(accounts)').all() as { name: string }[];
    if (!columns.some((column) => column.name === 'deleting')) db.exec('ALTER TABLE accounts ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0');
    const tokenColumns = db.prepare('PRAGMA table_info(tokens)').all() as { name: string }[];
    if (!tokenColumns.some((column) => column.name === 'expires_at')) db.exec('ALTER TABLE tokens ADD COLUMN expires_at TEXT');
  }

  async createAccount(account: Omit<Account, 'disabled' | 'deleting'>): Promise<Account> {
    try {
      this.db
        .prepare('INSERT INTO accounts (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)')
        .run(account.id, account.username, account.passwordHash, account.createdAt);
    } catch (error) {
      if (error instanceof Error && 'code' in error && error.code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new UsernameTakenError(account.username);
      }
      throw error;
    }
    return { ...account, disabled: false, deleting: false };
  }

  async findByUsername(username: string): Promise<Account | undefined> {
    const row = this.db.prepare('SELECT * FROM accounts WHERE username = ?').get(username) as AccountRow | undefined;
    return row && toAccount(row);
  }

  async findById(id: string): Promise<Account | undefined> {
    const row = this.db.prepare('SELECT * FROM accounts WHERE id = ?').get(id) as AccountRow | undefined;
    return row && toAccount(row);
  }

  async listAccounts(): Promise<Account[]> {
    return (this.db.prepare('SELECT * FROM accounts ORDER BY username').all() as AccountRow[]).map(toAccount);
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    this.db.prepare('UPDATE accounts SET disabled = ? WHERE id = ?').run(disabled ? 1 : 0, id);
  }

  async markDeleting(id: string): Promise<void> {
    this.db.prepare('UPDATE accounts SET deleting = 1 WHERE id = ?').run(id);
  }

  async deleteAccount(id: string): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM tokens WHERE user_id = ?').run(id);
      this.db.prepare('DELETE FROM accounts WHERE id = ?').run(id);
    })();
  }

  async createToken(token: { id: string; userId: string; secretHash: string; label: string | null; createdAt: string; expiresAt?: string | null }): Promise<void> {
    this.db
      .prepare('INSERT INTO tokens (id, user_id, secret_hash, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(token.id, token.userId, token.secretHash, token.label, token.createdAt, token.expiresAt ?? null);
  }

  async findToken(secretHash: string): Promise<TokenRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM tokens WHERE secret_hash = ?').get(secretHash) as TokenRow | undefined;
    return row && toToken(row);
  }

  async touchToken(id: string, at: string): Promise<void> {
    this.db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(at, id);
  }

  async listTokens(userId: string): Promise<TokenRecord[]> {
    return (this.db.prepare('SELECT * FROM tokens WHERE user_id = ? ORDER BY created_at').all(userId) as TokenRow[]).map(toToken);
  }

  async revokeToken(userId: string, tokenId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM tokens WHERE id = ? AND user_id = ?').run(tokenId, userId).changes > 0;
  }
}
