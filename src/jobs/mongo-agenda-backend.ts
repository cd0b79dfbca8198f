/**
 * `@agendajs/mongo-backend` with one change: `every()` no longer resets a job's run state.
 *
 * Its `saveJob` upserts a `type: 'single'` job (what `every()` creates) with a `$set` that writes
 * `lockedAt`, `lastRunAt`, `lastFinishedAt`, `failReason`, `progress`, `disabled`, … as null
 * when the saved job leaves them out, which `Job.save()` always does (Agenda's
 * PROCESSOR_MANAGED_FIELDS). Every worker calls `every()` at start, so a worker starting while
 * a retention pass runs elsewhere unlocked that job (another worker could start a second pass),
 * and a paused job (`disabled: true`) was resumed. Here those fields are only set on insert.
 * Everything else, including updates by id and the processor's own writes, is the library's.
 * (node_modules/@agendajs/mongo-backend/dist/MongoJobRepository.js, saveJob, v4.0.3.)
 */
import { MongoBackend, type MongoJobRepository } from '@agendajs/mongo-backend';
import type { AgendaBackend, JobLogger, JobParameters, JobRepository, JobRepositoryOptions } from 'agenda';
import type { Db } from 'mongodb';

/** Run state a re-declaration of the job must not touch: the processor's fields and the pause flag. */
export const RUN_STATE_FIELDS = ['lockedAt', 'lastRunAt', 'lastFinishedAt', 'failedAt', 'failCount', 'failReason', 'progress', 'disabled'] as const;

/** The fields the library's upsert sets to null when the job leaves them out. */
const NULLED_WHEN_ABSENT = [
  ...RUN_STATE_FIELDS,
  'repeatTimezone',
  'repeatInterval',
  'repeatAt',
  'debounceStartedAt',
  'fork',
  'startDate',
  'endDate',
  'skipDays',
] as const;

export class RunStatePreservingMongoBackend implements AgendaBackend {
  readonly name = 'MongoDB';
  readonly notificationChannel = undefined;
  readonly repository: JobRepository;
  private readonly inner: MongoBackend;

  constructor(config: { mongo: Db; collection: string }) {
    this.inner = new MongoBackend(config);
    const repository = this.inner.repository as MongoJobRepository;
    const saveJob = (job: JobParameters, options: JobRepositoryOptions | undefined) => this.saveJob(repository, job, options);
    this.repository = new Proxy(repository, {
      get(target, property, receiver) {
        if (property === 'saveJob') return saveJob;
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  get logger(): JobLogger {
    return this.inner.logger;
  }

  get ownsConnection(): boolean {
    return this.inner.ownsConnection;
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  disconnect(): Promise<void> {
    return this.inner.disconnect();
  }

  private async saveJob<DATA>(
    repository: MongoJobRepository,
    job: JobParameters<DATA>,
    options: JobRepositoryOptions | undefined,
  ): Promise<JobParameters<DATA>> {
    // Only the upsert by name is changed; inserts, updates by id and `unique` upserts are the library's.
    if (job._id !== undefined || job.type !== 'single' || job.unique !== undefined) return repository.saveJob(job, options);
    const { _id: _noId, unique: _noUnique, uniqueOpts: _uniqueOpts, ...props } = job;
    const fields: Record<string, unknown> = { ...props, lastModifiedBy: options?.lastModifiedBy ?? null };
    const $setOnInsert: Record<string, unknown> = {};
    for (const field of NULLED_WHEN_ABSENT) {
      const value = fields[field];
      if (value !== undefined && value !== null) continue;
      delete fields[field];
      if ((RUN_STATE_FIELDS as readonly string[]).includes(field)) $setOnInsert[field] = null;
      else fields[field] = null;
    }
    // As the library: a nextRunAt already due does not move an existing schedule.
    if (props.nextRunAt && props.nextRunAt <= new Date()) {
      $setOnInsert['nextRunAt'] = props.nextRunAt;
      delete fields['nextRunAt'];
    }
    const saved = await repository.collection.findOneAndUpdate(
      { name: props.name, type: 'single' },
      { $set: fields, $setOnInsert },
      { upsert: true, returnDocument: 'after' },
    );
    if (!saved) throw new Error(`upserting the job ${props.name} returned no document`);
    return ((await repository.getJobById(saved._id.toString())) ?? job) as JobParameters<DATA>;
  }
}
