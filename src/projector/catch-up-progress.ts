/**
 * Progress of projections catching up a backlog, for the service's log: a projection rebuilt at
 * start (its version changed, the read models moved), or a projector that was stopped, can take
 * minutes over a large event log, and /readyz alone says only "behind". While the projections are
 * behind as /readyz counts it, the service logs every {@link CATCH_UP_LOG_EVERY_MS} how far the
 * slowest has come through `$all` and about how long is left; once they have caught up, how long it
 * took. Positions are what both stores have: event numbers in the embedded store, byte offsets of
 * the log in EventStoreDB; either way their ratio is the share of the log read.
 *
 * {@link nextCatchUpReport} decides (pure); {@link watchCatchUp} looks every interval.
 */
import type { Logger } from '../logger.js';
import type { ProjectionsReport, StatusStores } from '../admin/status.js';
import { DEFAULT_LAG_BOUND, DEFAULT_LAG_GRACE_MS, projectionsReport } from '../admin/status.js';

export const CATCH_UP_LOG_EVERY_MS = 30_000;

/** One look: when, the slowest projection's position, the head of `$all`, and whether they are behind. */
export interface CatchUpSample {
  readonly atMs: number;
  readonly slowest: string;
  readonly position: bigint;
  readonly head: bigint;
  readonly behind: boolean;
}

/** What the watcher remembers between looks: the look its current report started from, if it is reporting. */
export interface CatchUpState {
  readonly started?: CatchUpSample;
  readonly previous?: CatchUpSample;
}

export interface CatchUpLine {
  readonly message: string;
  readonly meta: Record<string, unknown>;
}

/** The state after `sample`, and the line to log, if any. */
export function nextCatchUpReport(state: CatchUpState, sample: CatchUpSample): { state: CatchUpState; line?: CatchUpLine } {
  if (!sample.behind) {
    if (!state.started) return { state: {} };
    const seconds = Math.round((sample.atMs - state.started.atMs) / 1000);
    return { state: {}, line: { message: 'projections caught up', meta: { seconds } } };
  }
  const started = state.started ?? sample;
  const share = sample.head > 0n ? Number((sample.position * 1000n) / sample.head) / 10 : 0;
  const meta: Record<string, unknown> = { slowest: sample.slowest, read: `${share.toFixed(1)} %` };
  const previous = state.previous;
  if (previous && sample.atMs > previous.atMs && sample.position > previous.position) {
    const perSecond = Number(sample.position - previous.position) / ((sample.atMs - previous.atMs) / 1000);
    // The head moves on meanwhile: what is left is measured to where it is now.
    meta['left'] = duration(Number(sample.head - sample.position) / perSecond);
  }
  return { state: { started, previous: sample }, line: { message: 'projections catching up', meta } };
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'unknown';
  if (seconds < 90) return `about ${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `about ${Math.round(seconds / 60)} min`;
  return `about ${(seconds / 3600).toFixed(1)} h`;
}

/** The look at a report: behind as /readyz counts it (at least the lag bound, the oldest pending event older than the grace). */
export function sampleOf(report: ProjectionsReport, nowMs: number, lagBound = DEFAULT_LAG_BOUND, graceMs = DEFAULT_LAG_GRACE_MS): CatchUpSample {
  let slowest = report.projections[0];
  for (const projection of report.projections) {
    if ((projection.checkpoint?.commit ?? -1n) < (slowest?.checkpoint?.commit ?? -1n)) slowest = projection;
  }
  const behind = report.projections.some(
    (projection) => projection.lag >= lagBound && projection.pendingSince !== undefined && nowMs - projection.pendingSince.getTime() >= graceMs,
  );
  return { atMs: nowMs, slowest: slowest?.name ?? '', position: slowest?.checkpoint?.commit ?? 0n, head: report.head.commit, behind };
}

/** Looks every `everyMs` and logs what {@link nextCatchUpReport} says; returns the function that stops it. */
export function watchCatchUp(stores: StatusStores, names: readonly string[], logger: Logger, everyMs = CATCH_UP_LOG_EVERY_MS): () => void {
  let state: CatchUpState = {};
  let looking = false;
  const timer = setInterval(() => {
    if (looking) return;
    looking = true;
    projectionsReport(stores, names)
      .then((report) => {
        const next = nextCatchUpReport(state, sampleOf(report, Date.now()));
        state = next.state;
        if (next.line) logger.info(next.line.message, next.line.meta);
      })
      // A store that does not answer is /readyz's to report, not this log's.
      .catch(() => undefined)
      .finally(() => {
        looking = false;
      });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
