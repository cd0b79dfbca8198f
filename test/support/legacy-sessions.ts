/**
 * Tokens as a version before sessions had a kind of their own wrote them, and what each store's
 * one-time upgrade must make of them (src/stores/accounts.ts, `LEGACY_SESSION_LABELS`): the
 * embedded store's test (test/services/tokens.test.ts) and MongoDB's (test/stores/mongodb.test.ts).
 */
import type { TokenKind, TokenRecord } from '../../src/stores/accounts.js';

export const LEGACY_TOKEN_LABELS: readonly (string | null)[] = ['Web session', 'gpodder session', 'gpodder session (gPodder/3.11.4)', 'backup script', null];

export const UPGRADED_KINDS: Readonly<Record<string, TokenKind>> = {
  'Web session': 'session',
  'gpodder session': 'session',
  'gpodder session (gPodder/3.11.4)': 'session',
  'backup script': 'token',
  null: 'token',
};

/** Each token's kind by its label (`null` for none). */
export const kindsByLabel = (tokens: readonly TokenRecord[]): Record<string, TokenKind> =>
  Object.fromEntries(tokens.map((token) => [String(token.label), token.kind]));
