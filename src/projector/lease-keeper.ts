/**
 * Holding leases in the read-model store, for whatever must run once across processes: the
 * projector (one lease per projection) and the erasure reactor (src/retention/erasure-reactor.ts).
 *
 * - {@link LeaseKeeper.acquire} takes every lease at once, standing by (renewed attempts every
 *   third of the lifetime, cut short by {@link LeaseKeeper.cancelStandby}) while another owner
 *   holds one.
 * - Once held, a timer renews them every third of their lifetime. A lease is **lost** only when
 *   another owner holds it, or when it may have lapsed: a renewal that fails (say SQLITE_BUSY
 *   while a WAL checkpoint holds writers back, or a network error) is logged and tried again at
 *   the next tick, as long as the last successful renewal still covers now. Treating every failed
 *   renewal as a loss made a transient lock end a rebuild of many minutes.
 * - {@link LeaseKeeper.ensure}, before work that needs the leases, renews them when due (the
 *   event loop may have been too busy for the timer) and throws {@link LeaseLostError} once lost.
 */
import type { Logger } from '../logger.js';
import { LeaseNotHeldError, type ReadModelStore } from '../stores/read-model.js';

/** Another owner holds a lease, or it may have lapsed: the holder must stop and stand by. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(message = 'projection lease lost') {
    super(message);
  }
}

export interface LeaseKeeperOptions {
  readonly readModel: Pick<ReadModelStore, 'tryAcquireLeases' | 'releaseLease'>;
  readonly names: readonly string[];
  readonly owner: string;
  readonly ttlMs: number;
  readonly logger: Logger;
  /** Who holds the leases, in log lines and errors ('projector', 'erasure reactor'). */
  readonly holder: string;
  /** The lost lease's error message (default `${holder} lease lost`). */
  readonly lostMessage?: string;
  /** The renewal timer skips a tick while this says so (a pipelined projector renews between its commits instead). */
  readonly skipTimerTick?: () => boolean;
}

export class LeaseKeeper {
  /** Until when (epoch ms) the last successful acquisition or renewal holds every lease; 0 before any. */
  private heldUntil = 0;
  private lost = false;
  private timer: NodeJS.Timeout | undefined;
  private wakeStandby: (() => void) | undefined;

  constructor(private readonly options: LeaseKeeperOptions) {}

  /** Whether the leases were taken and may still be held. */
  get held(): boolean {
    return !this.lost && Date.now() < this.heldUntil;
  }

  /** Whether they were ever taken (commits are fenced on them from then on). */
  get acquired(): boolean {
    return this.heldUntil > 0;
  }

  /**
   * Takes every lease, standing by while another owner holds one if `wait` (until `shouldStop`
   * says so); false if they could not be taken. Renewed on a timer from then on.
   */
  async acquire(wait: boolean, shouldStop: () => boolean = () => false): Promise<boolean> {
    const { readModel, names, owner, ttlMs, logger, holder } = this.options;
    for (let logged = false; ;) {
      const attempted = Date.now();
      if ((await readModel.tryAcquireLeases(names, owner, ttlMs)).every(Boolean)) {
        this.heldUntil = attempted + ttlMs;
        break;
      }
      if (!wait || shouldStop()) return false;
      if (!logged) logger.info(`${holder} on standby: another process holds its lease`, { owner });
      logged = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ttlMs / 3);
        this.wakeStandby = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeStandby = undefined;
      if (shouldStop()) return false;
    }
    this.lost = false;
    clearInterval(this.timer);
    this.timer = setInterval(() => void (this.options.skipTimerTick?.() ? undefined : this.renew()), ttlMs / 3);
    this.timer.unref();
    return true;
  }

  /** Ends a standby wait at once (a process on standby closes without waiting a lease period). */
  cancelStandby(): void {
    this.wakeStandby?.();
  }

  /** Renews every lease (see the module comment for when a failed renewal is a loss). */
  async renew(): Promise<void> {
    const { readModel, names, owner, ttlMs, logger, holder } = this.options;
    const attempted = Date.now();
    try {
      if ((await readModel.tryAcquireLeases(names, owner, ttlMs)).every(Boolean)) this.heldUntil = attempted + ttlMs;
      else this.lost = true;
    } catch (error) {
      const expired = Date.now() >= this.heldUntil;
      if (expired) this.lost = true;
      logger.warn(expired ? `${holder} lease renewal failed and the lease may have expired` : `${holder} lease renewal failed; retrying`, {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Before work that needs the leases: renews them when due, throws {@link LeaseLostError} once lost. */
  async ensure(): Promise<void> {
    if (!this.lost && Date.now() >= this.heldUntil - this.options.ttlMs / 3) await this.renew();
    if (!this.held) throw new LeaseLostError(this.options.lostMessage ?? `${this.options.holder} lease lost`);
  }

  /**
   * Runs a commit fenced on the leases in the store (`commitAll` with `leaseOwner`): if the store
   * finds a lease no longer ours, the leases are lost and {@link LeaseLostError} is thrown.
   */
  async fenced<T>(commit: () => Promise<T>): Promise<T> {
    try {
      return await commit();
    } catch (error) {
      if (!(error instanceof LeaseNotHeldError)) throw error;
      this.stopRenewing({ lost: true });
      throw new LeaseLostError(this.options.lostMessage ?? `${this.options.holder} lease lost`);
    }
  }

  /** Stops renewing and gives the leases back (they stay held by no one). */
  async release(): Promise<void> {
    this.stopRenewing();
    for (const name of this.options.names) await this.options.readModel.releaseLease(name, this.options.owner).catch(() => undefined);
    this.heldUntil = 0;
  }

  /** Stops renewing; with `lost`, as a crash would: the leases are left to expire and nothing more is done under them. */
  stopRenewing(options: { lost?: boolean } = {}): void {
    clearInterval(this.timer);
    if (options.lost) this.lost = true;
  }
}
