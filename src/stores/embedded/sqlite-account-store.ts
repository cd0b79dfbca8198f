/** Embedded accounts adapter: two SQLite tables beside the events. */
import type Database from 'better-sqlite3';
import type { Account, AccountStore, LoginFlow, NewToken, TokenKind, TokenRecord } from '../accounts.js';
import { LEGACY_SESSION_LABELS, SESSION_KIND_UPGRADE, UsernameTakenError } from '../accounts.js';
import { hasColumn } from './schema.js';

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
  kind: TokenKind;
  label: string | null;
  parent_id: string | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
}

interface LoginFlowRow {
  poll_hash: string;
  login_hash: string;
  client_name: string;
  sealed_key: string;
  created_at: string;
  expires_at: string;
  login_name: string | null;
  sealed_password: string | null;
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
  kind: row.kind,
  label: row.label,
  parentId: row.parent_id,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  expiresAt: row.expires_at,
});

const toLoginFlow = (row: LoginFlowRow): LoginFlow => ({
  pollHash: row.poll_hash,
  loginHash: row.login_hash,
  clientName: row.client_name,
  sealedKey: row.sealed_key,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  grant: row.login_name !== null && row.sealed_password !== null ? { loginName: row.login_name, sealedPassword: row.sealed_password } : null,
});

/**
 * Runs `upgrade` once in a database's life: an upgrade that reads what the data looked like before
 * a change must not run again over data written after it.
 */
function upgradeOnce(db: Database.Database, name: string, upgrade: () => void): void {
  db.exec('CREATE TABLE IF NOT EXISTS account_upgrades (name TEXT PRIMARY KEY)');
  db.transaction(() => {
    if (db.prepare('SELECT 1 FROM account_upgrades WHERE name = ?').get(name)) return;
    upgrade();
    db.prepare('INSERT INTO account_upgrades (name) VALUES (?)').run(name);
  })();
}

export class SqliteAccountStore implements AccountStore {
  /** Prepared once: every authenticated request looks its token and account up (compiling the SQL each time cost more than running it). */
  private readonly statements = new Map<string, Database.Statement>();

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
      CREATE TABLE IF NOT EXISTS login_flows (
        poll_hash TEXT PRIMARY KEY,
        login_hash TEXT NOT NULL UNIQUE,
        client_name TEXT NOT NULL,
        sealed_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        login_name TEXT,
        sealed_password TEXT
      );
    `);
    // Columns added after the first release: data directories made before them gain them here.
    if (!hasColumn(db, 'accounts', 'deleting')) db.exec('ALTER TABLE accounts ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0');
    if (!hasColumn(db, 'tokens', 'kind')) db.exec("ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'token'");
    if (!hasColumn(db, 'tokens', 'parent_id')) db.exec('ALTER TABLE tokens ADD COLUMN parent_id TEXT');
    if (!hasColumn(db, 'tokens', 'expires_at')) db.exec('ALTER TABLE tokens ADD COLUMN expires_at TEXT');
    db.exec('CREATE INDEX IF NOT EXISTS tokens_by_parent ON tokens(parent_id) WHERE parent_id IS NOT NULL');
    upgradeOnce(db, SESSION_KIND_UPGRADE, () => {
      const { exact, prefix } = LEGACY_SESSION_LABELS;
      db.prepare("UPDATE tokens SET kind = 'session' WHERE kind = 'token' AND (label IN (?, ?) OR substr(label, 1, ?) = ?)").run(
        ...exact,
        prefix.length,
        prefix,
      );
    });
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  async createAccount(account: Omit<Account, 'disabled' | 'deleting'>): Promise<Account> {
    try {
      this.statement('INSERT INTO accounts (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)').run(
        account.id,
        account.username,
        account.passwordHash,
        account.createdAt,
      );
    } catch (error) {
      if (error instanceof Error && 'code' in error && error.code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new UsernameTakenError(account.username);
      }
      throw error;
    }
    return { ...account, disabled: false, deleting: false };
  }

  async findByUsername(username: string): Promise<Account | undefined> {
    const row = this.statement('SELECT * FROM accounts WHERE username = ?').get(username) as AccountRow | undefined;
    return row && toAccount(row);
  }

  async findById(id: string): Promise<Account | undefined> {
    const row = this.statement('SELECT * FROM accounts WHERE id = ?').get(id) as AccountRow | undefined;
    return row && toAccount(row);
  }

  async listAccounts(): Promise<Account[]> {
    return (this.statement('SELECT * FROM accounts ORDER BY username').all() as AccountRow[]).map(toAccount);
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    this.statement('UPDATE accounts SET disabled = ? WHERE id = ?').run(disabled ? 1 : 0, id);
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    this.statement('UPDATE accounts SET password_hash = ? WHERE id = ?').run(passwordHash, id);
  }

  async markDeleting(id: string): Promise<void> {
    this.statement('UPDATE accounts SET deleting = 1 WHERE id = ?').run(id);
  }

  async deleteAccount(id: string): Promise<void> {
    this.db.transaction(() => {
      this.statement('DELETE FROM tokens WHERE user_id = ?').run(id);
      this.statement('DELETE FROM accounts WHERE id = ?').run(id);
    })();
  }

  async createToken(token: NewToken): Promise<void> {
    this.statement('INSERT INTO tokens (id, user_id, secret_hash, kind, label, parent_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
      token.id,
      token.userId,
      token.secretHash,
      token.kind ?? 'token',
      token.label,
      token.parentId ?? null,
      token.createdAt,
      token.expiresAt ?? null,
    );
  }

  async findToken(secretHash: string): Promise<TokenRecord | undefined> {
    const row = this.statement('SELECT * FROM tokens WHERE secret_hash = ?').get(secretHash) as TokenRow | undefined;
    return row && toToken(row);
  }

  async touchToken(id: string, at: string): Promise<void> {
    this.statement('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(at, id);
  }

  async listTokens(userId: string): Promise<TokenRecord[]> {
    return (this.statement('SELECT * FROM tokens WHERE user_id = ? ORDER BY created_at').all(userId) as TokenRow[]).map(toToken);
  }

  async revokeToken(userId: string, tokenId: string): Promise<boolean> {
    return this.db.transaction(() => {
      const removed = this.statement('DELETE FROM tokens WHERE id = ? AND user_id = ?').run(tokenId, userId).changes > 0;
      if (removed) this.statement('DELETE FROM tokens WHERE parent_id = ? AND user_id = ?').run(tokenId, userId);
      return removed;
    })();
  }

  async createLoginFlow(flow: Omit<LoginFlow, 'grant'>): Promise<void> {
    this.db.transaction(() => {
      this.statement('DELETE FROM login_flows WHERE expires_at <= ?').run(flow.createdAt);
      this.statement('INSERT INTO login_flows (poll_hash, login_hash, client_name, sealed_key, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(
        flow.pollHash,
        flow.loginHash,
        flow.clientName,
        flow.sealedKey,
        flow.createdAt,
        flow.expiresAt,
      );
    })();
  }

  async findLoginFlow(loginHash: string, now: string): Promise<LoginFlow | undefined> {
    const row = this.statement('SELECT * FROM login_flows WHERE login_hash = ? AND expires_at > ?').get(loginHash, now) as LoginFlowRow | undefined;
    return row && toLoginFlow(row);
  }

  async grantLoginFlow(loginHash: string, grant: NonNullable<LoginFlow['grant']>, now: string): Promise<boolean> {
    const result = this.statement(
      'UPDATE login_flows SET login_name = ?, sealed_password = ? WHERE login_hash = ? AND expires_at > ? AND sealed_password IS NULL',
    ).run(grant.loginName, grant.sealedPassword, loginHash, now);
    return result.changes > 0;
  }

  async deleteLoginFlow(loginHash: string): Promise<void> {
    this.statement('DELETE FROM login_flows WHERE login_hash = ?').run(loginHash);
  }

  async takeGrantedLoginFlow(pollHash: string, now: string): Promise<LoginFlow | undefined> {
    return this.db.transaction(() => {
      this.statement('DELETE FROM login_flows WHERE expires_at <= ?').run(now);
      const row = this.statement('DELETE FROM login_flows WHERE poll_hash = ? AND sealed_password IS NOT NULL RETURNING *').get(pollHash) as
        LoginFlowRow | undefined;
      return row && toLoginFlow(row);
    })();
  }
}
