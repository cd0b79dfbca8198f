/**
 * Prometheus metrics (`GET /metrics`, prom-client).
 *
 * Two kinds:
 * - **process metrics**, counted where things happen, in one registry per process
 *   ({@link processRegistry}): HTTP latency, events appended, retention runs, and Node's
 *   defaults (CPU, memory, event-loop delay). Each HTTP worker reports its own; Prometheus
 *   sums them.
 * - **store gauges**, read from the stores at scrape time ({@link StoreGauges}): the head of
 *   `$all`, each projection's checkpoint and lag, parked events. Every worker reports the same
 *   values whichever process runs the projector.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventStore, EventToAppend, Position } from './stores/event-store.js';
import type { ProjectionsReport } from './admin/status.js';
import type { Stores } from './runtime.js';

export const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry });

export const httpRequestDuration = new Histogram({
  name: 'podsync_http_request_duration_seconds',
  help: 'HTTP request latency, by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  // Fine below 50 ms, where the read-latency target (p99 < 20 ms) lives.
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [processRegistry],
});

export const eventsAppended = new Counter({
  name: 'podsync_events_appended_total',
  help: 'Events appended to user streams by this process, by event type (an idempotent retry counts again)',
  labelNames: ['type'] as const,
  registers: [processRegistry],
});

const retentionRuns = new Counter({
  name: 'podsync_retention_runs_total',
  help: 'Retention runs in this process, by outcome',
  labelNames: ['outcome'] as const,
  registers: [processRegistry],
});

const retentionLastRun = new Gauge({
  name: 'podsync_retention_last_run_timestamp_seconds',
  help: 'Unix time of the last retention run in this process, by outcome',
  labelNames: ['outcome'] as const,
  registers: [processRegistry],
});

/** For the retention job: call once per run (an alert can watch the last success's age). */
export function recordRetentionRun(outcome: 'success' | 'failure', at: Date = new Date()): void {
  retentionRuns.inc({ outcome });
  retentionLastRun.set({ outcome }, at.getTime() / 1000);
}

const feedFetches = new Counter({
  name: 'podsync_feed_fetches_total',
  help: 'Feed fetches in this process, by outcome (fetched, not_modified, failed) and, for failures, reason',
  labelNames: ['outcome', 'reason'] as const,
  registers: [processRegistry],
});

const feedRuns = new Counter({
  name: 'podsync_feed_runs_total',
  help: 'Runs of the feeds job in this process, by outcome',
  labelNames: ['outcome'] as const,
  registers: [processRegistry],
});

const feedRunProgress = new Gauge({
  name: 'podsync_feed_run_progress',
  help: 'Feeds done and due in the feeds job run in progress (or the last one) in this process',
  labelNames: ['state'] as const,
  registers: [processRegistry],
});

/** For the feeds job and CLI: one call per fetch (docs/design.md, "Feeds"). */
export function recordFeedFetch(outcome: 'fetched' | 'not_modified' | 'failed', reason = ''): void {
  feedFetches.inc({ outcome, reason });
}

export function recordFeedRun(outcome: 'success' | 'failure'): void {
  feedRuns.inc({ outcome });
}

export function recordFeedProgress(done: number, due: number): void {
  feedRunProgress.set({ state: 'done' }, done);
  feedRunProgress.set({ state: 'due' }, due);
}

const syncCacheLookups = new Counter({
  name: 'podsync_sync_cache_lookups_total',
  help: "Users looked up in this process's folded-user cache (writes, syncs, downloads ahead of the projector), by outcome: hit (cached, caught up), miss (not cached), stale (cached, but the stream was truncated, rewritten or deleted: dropped)",
  labelNames: ['outcome'] as const,
  registers: [processRegistry],
});

/** For the cache of folded users (src/services/user-state-cache.ts). */
export function recordSyncCacheLookup(outcome: 'hit' | 'miss' | 'stale'): void {
  syncCacheLookups.inc({ outcome });
}

/** Gauges set from a {@link ProjectionsReport} just before each scrape. */
export class StoreGauges {
  readonly registry = new Registry();
  private readonly head = new Gauge({ name: 'podsync_store_head_position', help: 'Commit position of the last event in $all', registers: [this.registry] });
  private readonly position = new Gauge({
    name: 'podsync_projection_position',
    help: 'Commit position of the projection checkpoint (0 before its first commit)',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });
  private readonly lag = new Gauge({
    name: 'podsync_projection_lag_events',
    help: 'Events in user streams after the projection checkpoint (capped at the counting bound except in the embedded store)',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });
  private readonly parked = new Gauge({
    name: 'podsync_parked_events',
    help: 'Events parked because the projection could not apply them',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  private readonly free = new Gauge({
    name: 'podsync_storage_free_bytes',
    help: 'Bytes free on the disk holding the embedded store (absent with EventStoreDB and MongoDB, whose servers report their own)',
    registers: [this.registry],
  });

  /** Set at each scrape by a service with embedded files (docs/operations.md, "A full disk"). */
  updateFreeBytes(bytes: number): void {
    this.free.set(bytes);
  }

  update(report: ProjectionsReport): void {
    // Reset so a projection that no longer exists does not linger with its last value.
    for (const gauge of [this.position, this.lag, this.parked]) gauge.reset();
    this.head.set(positionValue(report.head));
    for (const projection of report.projections) {
      this.position.set({ projection: projection.name }, projection.checkpoint ? positionValue(projection.checkpoint) : 0);
      this.lag.set({ projection: projection.name }, projection.lag);
      this.parked.set({ projection: projection.name }, projection.parked);
    }
  }
}

/** Positions are below 2^53 in practice (EventStoreDB's are byte offsets in its log). */
function positionValue(position: Position): number {
  return Number(position.commit);
}

/** The `/metrics` body: the process metrics, then the store gauges. */
export async function renderMetrics(gauges: StoreGauges): Promise<string> {
  return `${await processRegistry.metrics()}\n${await gauges.registry.metrics()}`;
}

export const METRICS_CONTENT_TYPE = processRegistry.contentType;

/**
 * Counts appended events by type. Wraps the event store used by the application services
 * (never the projector's reads), so only real appends from this process count.
 */
export class CountingEventStore implements EventStore {
  constructor(
    private readonly inner: EventStore,
    private readonly counter: (events: readonly EventToAppend[]) => void = countByType,
  ) {}

  get positionGap(): number {
    return this.inner.positionGap;
  }

  async append(...args: Parameters<EventStore['append']>): ReturnType<EventStore['append']> {
    const result = await this.inner.append(...args);
    this.counter(args[1]);
    return result;
  }
  readStream(...args: Parameters<EventStore['readStream']>): ReturnType<EventStore['readStream']> {
    return this.inner.readStream(...args);
  }
  readStreamTail(...args: Parameters<EventStore['readStreamTail']>): ReturnType<EventStore['readStreamTail']> {
    return this.inner.readStreamTail(...args);
  }
  lastPosition(...args: Parameters<EventStore['lastPosition']>): ReturnType<EventStore['lastPosition']> {
    return this.inner.lastPosition(...args);
  }
  readAll(...args: Parameters<EventStore['readAll']>): ReturnType<EventStore['readAll']> {
    return this.inner.readAll(...args);
  }
  subscribeToAll(...args: Parameters<EventStore['subscribeToAll']>): ReturnType<EventStore['subscribeToAll']> {
    return this.inner.subscribeToAll(...args);
  }
  getStreamMetadata(...args: Parameters<EventStore['getStreamMetadata']>): ReturnType<EventStore['getStreamMetadata']> {
    return this.inner.getStreamMetadata(...args);
  }
  setStreamMetadata(...args: Parameters<EventStore['setStreamMetadata']>): ReturnType<EventStore['setStreamMetadata']> {
    return this.inner.setStreamMetadata(...args);
  }
  streamState(...args: Parameters<EventStore['streamState']>): ReturnType<EventStore['streamState']> {
    return this.inner.streamState(...args);
  }
  deleteStream(...args: Parameters<EventStore['deleteStream']>): ReturnType<EventStore['deleteStream']> {
    return this.inner.deleteStream(...args);
  }
  tombstoneStream(...args: Parameters<EventStore['tombstoneStream']>): ReturnType<EventStore['tombstoneStream']> {
    return this.inner.tombstoneStream(...args);
  }
  headPosition(): ReturnType<EventStore['headPosition']> {
    return this.inner.headPosition();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The same stores, with appends counted into {@link eventsAppended}. */
/** `onAppended` is told after every append (the projector thread is woken through it). */
export function withAppendCounting(stores: Stores, onAppended?: () => void): Stores {
  const counter = onAppended
    ? (events: readonly { readonly type: string }[]) => {
        countByType(events);
        onAppended();
      }
    : countByType;
  // close is named explicitly: a spread would drop it if Stores were ever a class instance.
  return { ...stores, eventStore: new CountingEventStore(stores.eventStore, counter), appendedElsewhere: counter, close: () => stores.close() };
}

function countByType(events: readonly { readonly type: string }[]): void {
  const counts = new Map<string, number>();
  for (const event of events) counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
  for (const [type, count] of counts) eventsAppended.inc({ type }, count);
}
