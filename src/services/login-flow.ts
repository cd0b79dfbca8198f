/**
 * Nextcloud Login Flow v2, as AntennaPod's Nextcloud provider runs it (docs/design.md,
 * "Login Flow v2"): the app starts a flow and opens its login URL in a browser; the user signs
 * in on this server's page and grants the app access, which creates an app password named
 * after the app; the app polls with its token and receives the password once. Flows expire
 * after {@link FLOW_LIFETIME_MS}, as Nextcloud's do.
 */
import { randomBytes } from 'node:crypto';
import type { AccountStore } from '../stores/accounts.js';
import { hashTokenSecret } from '../auth/passwords.js';
import { decryptWithPollToken, encryptToFlow, newFlowKey } from '../auth/login-flow-crypto.js';
import type { AccountService } from './accounts.js';

export const FLOW_LIFETIME_MS = 20 * 60_000;
/** Nextcloud's poll tokens are 128 characters; AntennaPod sends them back as they came. */
const TOKEN_BYTES = 96;

export interface StartedFlow {
  readonly pollToken: string;
  readonly loginToken: string;
}

export class LoginFlowService {
  constructor(
    private readonly accounts: AccountService,
    private readonly store: AccountStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async start(clientName: string): Promise<StartedFlow> {
    const pollToken = randomBytes(TOKEN_BYTES).toString('base64url');
    const loginToken = randomBytes(TOKEN_BYTES).toString('base64url');
    const now = this.clock();
    await this.store.createLoginFlow({
      pollHash: hashTokenSecret(pollToken),
      loginHash: hashTokenSecret(loginToken),
      clientName,
      sealedKey: newFlowKey(pollToken),
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + FLOW_LIFETIME_MS).toISOString(),
    });
    return { pollToken, loginToken };
  }

  /** The app a pending flow is for, or undefined if there is no such flow (expired, decided). */
  async pending(loginToken: string): Promise<{ clientName: string } | undefined> {
    const flow = await this.store.findLoginFlow(hashTokenSecret(loginToken), this.clock().toISOString());
    return flow && flow.grant === null ? { clientName: flow.clientName } : undefined;
  }

  /**
   * The user granted access: checks the credentials (`InvalidCredentialsError`), creates the
   * app password and leaves it for the app. False if the flow is gone or already decided.
   */
  async grant(loginToken: string, username: string, password: string): Promise<boolean> {
    const loginHash = hashTokenSecret(loginToken);
    const flow = await this.store.findLoginFlow(loginHash, this.clock().toISOString());
    if (!flow || flow.grant !== null) return false;
    const account = await this.accounts.verify(username, password);
    const created = await this.accounts.createAppPassword(account.id, flow.clientName);
    const granted = await this.store.grantLoginFlow(
      loginHash,
      { loginName: account.username, sealedPassword: encryptToFlow(flow.sealedKey, created.password) },
      this.clock().toISOString(),
    );
    // Lost a race with another grant or the expiry: the password nobody will receive goes.
    if (!granted) await this.accounts.revokeAppPassword(account.id, created.id);
    return granted;
  }

  async deny(loginToken: string): Promise<void> {
    await this.store.deleteLoginFlow(hashTokenSecret(loginToken));
  }

  /** The app's poll: the login name and app password once granted, once; undefined otherwise. */
  async poll(pollToken: string): Promise<{ loginName: string; appPassword: string } | undefined> {
    const flow = await this.store.takeGrantedLoginFlow(hashTokenSecret(pollToken), this.clock().toISOString());
    if (!flow?.grant) return undefined;
    const appPassword = decryptWithPollToken(flow.sealedKey, pollToken, flow.grant.sealedPassword);
    return appPassword === undefined ? undefined : { loginName: flow.grant.loginName, appPassword };
  }
}
