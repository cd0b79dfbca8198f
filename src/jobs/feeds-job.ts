/**
 * The `feeds` job (docs/design.md, "Feeds"): every minute, Agenda runs one pass over the
 * subscribed feeds that are due (`next_fetch_at` passed: FEED_REFRESH_HOURS after the last
 * answer, later while a feed keeps failing, at once for a newly subscribed one). It shares the
 * retention job's Agenda (src/jobs/retention-job.ts): same storage, same lock, so one pass at a
 * time across workers; a pass cut short is simply continued by the next, as every feed's
 * schedule is in its own stream.
 */
import type { Agenda, Job } from 'agenda';
import type { Logger } from '../logger.js';
import { recordFeedProgress, recordFeedRun } from '../metrics.js';
import type { FeedService } from '../services/feeds.js';
import type { ScheduledJob } from './retention-job.js';
import { trackRuns } from './retention-job.js';

export const FEEDS_JOB = 'feeds';
/** How often the job looks for due feeds: a newly subscribed feed waits at most this (plus the projector's lag). */
export const FEEDS_EVERY = '1 minute';

export function feedsJob(feeds: FeedService, logger: Logger, every: string | number = FEEDS_EVERY): ScheduledJob {
  return {
    name: FEEDS_JOB,
    every,
    define(agenda: Agenda, options: { lockLifetimeMs: number }) {
      const tracker = trackRuns(agenda, FEEDS_JOB);
      const touchEveryMs = Math.max(1, Math.floor(options.lockLifetimeMs / 10));
      agenda.define(
        FEEDS_JOB,
        async (job: Job) => {
          let lastTouch = Date.now();
          try {
            const due = await feeds.due();
            if (due.length === 0) return;
            logger.info('feeds run started', { due: due.length });
            recordFeedProgress(0, due.length);
            const summary = await feeds.refreshMany(due, {
              stopping: () => tracker.stopping,
              onFeed: async (_outcome, done, total) => {
                recordFeedProgress(done, total);
                // Keeps the lock while a long run works (it would expire after lockLifetime).
                if (Date.now() - lastTouch >= touchEveryMs) {
                  lastTouch = Date.now();
                  await job.touch(Math.floor((done * 100) / total));
                }
              },
            });
            recordFeedRun('success');
            logger.info('feeds run finished', { ...summary });
          } catch (error) {
            recordFeedRun('failure');
            logger.error('feeds run failed', { error: error instanceof Error ? error.message : String(error) });
            // Rethrown so Agenda stores failReason/failedAt on the job, for operators to see.
            throw error;
          }
        },
        { concurrency: 1, lockLimit: 1, lockLifetime: options.lockLifetimeMs },
      );
      return tracker;
    },
  };
}
