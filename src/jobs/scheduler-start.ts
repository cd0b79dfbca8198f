/**
 * The scheduler's start on a full disk (docs/operations.md, "A full disk"): scheduling its jobs
 * writes them, so on a disk with no room left it fails. Rather than the whole service refusing to
 * start (a restart loop that serves nothing, reads included), the service starts without its
 * jobs and tries again until the scheduler starts, once space is freed.
 */
import type { Logger } from '../logger.js';
import { isStorageFull } from '../stores/store-errors.js';
import type { Scheduler } from './retention-job.js';

export const SCHEDULER_RETRY_MS = 60_000;

export interface StartedScheduler {
  /** The running scheduler; undefined while it waits for room to start. */
  readonly current: Scheduler | undefined;
  /** Stops the scheduler, or its next try (waiting for a try in progress). */
  stop(): Promise<void>;
}

/** Any other failure to start is the caller's, as before. */
export async function startSchedulerOrRetry(start: () => Promise<Scheduler>, logger: Logger, retryMs = SCHEDULER_RETRY_MS): Promise<StartedScheduler> {
  let current: Scheduler | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let trying: Promise<void> | undefined;
  const tryAgain = (): void => {
    timer = setTimeout(() => {
      trying = start().then(
        async (started) => {
          if (stopped) await started.stop();
          else current = started;
        },
        (error: unknown) => {
          if (stopped) return;
          logger.error('the scheduler could not start; trying again', { error: errorText(error) });
          tryAgain();
        },
      );
    }, retryMs);
    // A timer alone does not keep the process up (tests, scripts).
    timer.unref();
  };
  try {
    current = await start();
  } catch (error) {
    if (!isStorageFull(error)) throw error;
    logger.error(`the scheduler could not start: the disk holding the store is full; its jobs start once there is room (tried every ${retryMs / 1000} s)`, {
      error: errorText(error),
    });
    tryAgain();
  }
  return {
    get current() {
      return current;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await trying;
      await current?.stop();
    },
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
