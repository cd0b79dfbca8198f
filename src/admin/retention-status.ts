/** The retention job's last and next run, as Agenda records them (admin pages). */
import type { Agenda } from 'agenda';
import { RETENTION_JOB } from '../jobs/retention-job.js';

export interface RetentionStatus {
  readonly last_run_at: string | null;
  readonly last_finished_at: string | null;
  readonly next_run_at: string | null;
  readonly failed_at: string | null;
  readonly fail_reason: string | null;
}

const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : null);

export async function retentionStatus(agenda: Agenda): Promise<RetentionStatus | undefined> {
  const [job] = (await agenda.queryJobs({ name: RETENTION_JOB })).jobs;
  if (!job) return undefined;
  return {
    last_run_at: iso(job.lastRunAt),
    last_finished_at: iso(job.lastFinishedAt),
    next_run_at: iso(job.nextRunAt),
    failed_at: iso(job.failedAt),
    fail_reason: job.failReason ?? null,
  };
}
