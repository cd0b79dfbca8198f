/**
 * Withdrawals (docs/design.md, "Public answers"): the events after which a read model may
 * publish less than before — a privacy choice, an erasure (`remove`), retention's `checkpoint`
 * (truncation) and `roll_stats` (recount), an account's deletion. A public answer made before
 * one of them is applied must not be served once it is; any other event only adds to, or
 * updates, what is published, and an answer may lag it a little (PUBLIC_CACHE_MS). Pure.
 */
export const WITHDRAWING_EVENT_TYPES: ReadonlySet<string> = new Set(['privacy', 'remove', 'checkpoint', 'roll_stats', 'account_deleted']);

export const isWithdrawal = (type: string): boolean => WITHDRAWING_EVENT_TYPES.has(type);
