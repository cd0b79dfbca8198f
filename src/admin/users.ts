/**
 * Account administration shared by the admin CLI, `/admin` and `/manage`: create, list, disable
 * and enable users, set a user's password, and (`/admin`, `/manage`) delete a user. Disabling is
 * reversible and keeps the user's data; a disabled user cannot log in and their tokens stop
 * working (AccountService refuses disabled accounts) until enabled.
 */
import type { Account, AccountStore } from '../stores/accounts.js';
import { hashPassword } from '../auth/passwords.js';
import { AccountService, credentialsSchema, endPasswordSessions, passwordSchema } from '../services/accounts.js';
import type { MeService } from '../services/me.js';

export class UnknownUserError extends Error {
  override readonly name = 'UnknownUserError';
  constructor(readonly username: string) {
    super(`no user named "${username}"`);
  }
}

export interface UserSummary {
  id: string;
  username: string;
  created_at: string;
  disabled: boolean;
}

export function userSummary(account: Account): UserSummary {
  return { id: account.id, username: account.username, created_at: account.createdAt, disabled: account.disabled };
}

export async function requireAccount(accounts: AccountStore, username: string): Promise<Account> {
  const account = await accounts.findByUsername(username);
  if (!account) throw new UnknownUserError(username);
  return account;
}

/** Validates like registration does (throws the ZodError), then creates the account. */
export async function createUser(accounts: AccountStore, username: string, password: string): Promise<UserSummary> {
  const credentials = credentialsSchema.parse({ username, password });
  return userSummary(await new AccountService(accounts).register(credentials.username, credentials.password));
}

export async function listUsers(accounts: AccountStore): Promise<UserSummary[]> {
  return (await accounts.listAccounts()).map(userSummary);
}

export async function setUserDisabled(accounts: AccountStore, username: string, disabled: boolean): Promise<UserSummary> {
  const account = await requireAccount(accounts, username);
  await accounts.setDisabled(account.id, disabled);
  return userSummary({ ...account, disabled });
}

/**
 * Sets a user's password for a user who lost theirs (validated as registration does: throws the
 * ZodError). The sessions opened with the old password end; their app passwords and tokens
 * stay, as when they change it themselves; disabling the user is what stops those.
 */
export async function setUserPassword(accounts: AccountStore, username: string, password: string): Promise<UserSummary> {
  const valid = passwordSchema.parse(password);
  const account = await requireAccount(accounts, username);
  await accounts.setPasswordHash(account.id, await hashPassword(valid));
  await endPasswordSessions(accounts, account.id, null);
  return userSummary(account);
}

/**
 * Deletes a user's account as their own `DELETE /v1/me` does (docs/design.md, "Erasure"): their
 * credentials stop at once, every read model forgets them, then their streams and account go.
 * 'pending' when the read models had not caught up in time: `me` finishes it shortly (and a
 * restart would). Through the running service only (its admin API and pages): the deletion waits
 * for its projections and clears what it holds of the user.
 */
export async function deleteUser(accounts: AccountStore, me: MeService, username: string): Promise<{ user: UserSummary; outcome: 'deleted' | 'pending' }> {
  const account = await requireAccount(accounts, username);
  const outcome = await me.deleteAccount({ userId: account.id, username: account.username, tokenId: null });
  return { user: userSummary(account), outcome };
}
