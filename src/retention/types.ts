/**
 * Retention (docs/design.md, "Retention") as the rest of the service sees it. The pass itself lives in
 * src/retention/retention-service.ts; the Agenda job (src/jobs) and the operator CLI
 * (`npm run retention`) only call {@link RetentionPass.run}.
 */

export const RETENTION = {
  /** Users whose streams hold events older than this are snapshotted. */
  snapshotAfterDays: 45,
  /** A snapshot truncates the events older than this. */
  truncateAfterDays: 31,
  /** Deleted playlist items and subscriptions unsubscribed longer ago are left out of checkpoints. */
  forgetTombstonesAfterDays: 45,
  /** How often the job runs. */
  interval: '15 minutes',
} as const;

export interface RetentionProgress {
  readonly usersTotal: number;
  readonly usersDone: number;
}

export interface RetentionSummary {
  /** The time the pass ran "as of" (ages are measured from it). */
  readonly asOf: string;
  readonly usersConsidered: number;
  readonly usersSnapshotted: number;
  readonly eventsRemoved: number;
  readonly feedsRolled: number;
  /** Worker threads that snapshotted the users (0: the pass's own thread did). */
  readonly snapshotThreads: number;
  readonly seconds: number;
}

export interface RetentionPass {
  /**
   * Runs one pass as of `now`: idempotent (a second pass at the same time does nothing) and
   * safe with several workers (each user is snapshotted under optimistic concurrency).
   * `touch` is called regularly so a scheduler can keep its lock while the pass runs.
   */
  run(now: Date, options?: { onProgress?: (progress: RetentionProgress) => void; touch?: () => Promise<void> }): Promise<RetentionSummary>;
}
