/**
 * Where the stores and the projections stand: the figures behind `npm run admin -- stats`,
 * `GET /admin/stats`, the projection gauges of `/metrics` and `/readyz`. Everything is read
 * from the stores (checkpoints, parked events, `$all`), never from one process's memory, so
 * any HTTP worker reports the same thing whichever process runs the projector.
 */
import type { AccountStore } from '../stores/accounts.js';
import type { EventStore, Position } from '../stores/event-store.js';
import { comparePositions, formatPosition, START } from '../stores/event-store.js';
import type { ReadModelStore } from '../stores/read-model.js';
import { PARKED_EVENTS } from '../projector/internal-collections.js';
import { PROJECTED_STREAM_PREFIXES } from '../projector/projected-event.js';
import { formatTable } from './table.js';
import { yieldToEventLoop } from '../concurrency.js';

export interface StatusStores {
  readonly eventStore: EventStore;
  readonly readModel: ReadModelStore;
  /**
   * True when `$all` positions are consecutive event numbers (the embedded store), so that
   * head − checkpoint counts events; EventStoreDB positions are byte offsets.
   */
  readonly sequentialPositions: boolean;
}

export interface ProjectionStatus {
  readonly name: string;
  /** Undefined before the projection's first commit. */
  readonly checkpoint: Position | undefined;
  readonly updatedAt: string | null;
  /** Projected events (users' streams) after the checkpoint. */
  readonly lag: number;
  /**
   * False when there were more than the counting bound: `lag` is then head − checkpoint with
   * sequential positions (an upper bound), else the bound itself (a lower bound).
   */
  readonly lagExact: boolean;
  /** When the oldest event it has yet to project was written (undefined when caught up). */
  readonly pendingSince: Date | undefined;
  readonly parked: number;
}

export interface ProjectionsReport {
  readonly head: Position;
  readonly projections: ProjectionStatus[];
}

/** How many events a lag count reads at most (one `$all` page). */
export const DEFAULT_LAG_BOUND = 1000;

/** Checkpoint, lag and parked events of each named projection. */
export async function projectionsReport(stores: StatusStores, names: readonly string[], lagBound = DEFAULT_LAG_BOUND): Promise<ProjectionsReport> {
  const head = await stores.eventStore.headPosition();
  // Projections usually share a checkpoint: count each distinct one once.
  const lags = new Map<string, Promise<{ lag: number; exact: boolean; pendingSince: Date | undefined }>>();
  const projections: ProjectionStatus[] = [];
  for (const name of names) {
    const checkpoint = await stores.readModel.getCheckpoint(name);
    const position = checkpoint?.position ?? START;
    const key = formatPosition(position);
    if (!lags.has(key)) lags.set(key, countLag(stores, position, head, lagBound));
    const { lag, exact, pendingSince } = await lags.get(key)!;
    projections.push({
      name,
      checkpoint: checkpoint?.position,
      updatedAt: checkpoint?.updatedAt ?? null,
      lag,
      lagExact: exact,
      pendingSince,
      parked: await stores.readModel.count(PARKED_EVENTS, { projection: name }),
    });
  }
  return { head, projections };
}

/**
 * Counts what a projection still has to read. Head − checkpoint alone would overstate it: the
 * head may be an event of a stream no projection reads, and in EventStoreDB it is in bytes.
 */
async function countLag(
  stores: StatusStores,
  checkpoint: Position,
  head: Position,
  bound: number,
): Promise<{ lag: number; exact: boolean; pendingSince: Date | undefined }> {
  if (comparePositions(checkpoint, head) >= 0) return { lag: 0, exact: true, pendingSince: undefined };
  const pending = await stores.eventStore.readAll({ after: checkpoint, maxCount: bound, filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } });
  const pendingSince = pending[0]?.recordedAt;
  if (pending.length < bound) return { lag: pending.length, exact: true, pendingSince };
  // Sequential positions: every position from the first pending event to the head is one event.
  return { lag: stores.sequentialPositions ? Number(head.commit - pending[0]!.position.commit) + 1 : bound, exact: false, pendingSince };
}

/** Counts the visible events of `$all`, page by page, stopping at `limit`. */
export async function countEvents(eventStore: EventStore, limit = Number.POSITIVE_INFINITY): Promise<{ count: number; complete: boolean }> {
  const pageSize = 5000;
  let after = START;
  let count = 0;
  for (;;) {
    const page = await eventStore.readAll({ after, maxCount: pageSize });
    count += page.length;
    if (page.length < pageSize) return { count, complete: true };
    if (count >= limit) return { count, complete: false };
    after = page.at(-1)!.position;
    // A long count must not starve the HTTP requests sharing the process.
    await yieldToEventLoop();
  }
}

export interface StatsJson {
  events: number;
  /** False when counting stopped at the limit: there are at least `events`. */
  events_complete: boolean;
  users: number;
  head: string;
  parked: number;
  projections: { name: string; checkpoint: string | null; updated_at: string | null; lag: number; lag_exact: boolean; parked: number }[];
}

/** Everything `stats` shows, as JSON (the CLI and `GET /admin/stats` print the same). */
export async function collectStats(
  stores: StatusStores & { accounts: AccountStore },
  names: readonly string[],
  options: { eventLimit?: number } = {},
): Promise<StatsJson> {
  const report = await projectionsReport(stores, names);
  const events = await countEvents(stores.eventStore, options.eventLimit);
  const users = (await stores.accounts.listAccounts()).length;
  return {
    events: events.count,
    events_complete: events.complete,
    users,
    head: formatPosition(report.head),
    // Counted whole, not summed per projection: parked events of a projection that no longer exists count too.
    parked: await stores.readModel.count(PARKED_EVENTS),
    projections: report.projections.map((projection) => ({
      name: projection.name,
      checkpoint: projection.checkpoint ? formatPosition(projection.checkpoint) : null,
      updated_at: projection.updatedAt,
      lag: projection.lag,
      lag_exact: projection.lagExact,
      parked: projection.parked,
    })),
  };
}

export function formatStats(stats: StatsJson): string {
  const lines = [
    `events:  ${stats.events}${stats.events_complete ? '' : '+ (counting stopped)'}`,
    `users:   ${stats.users}`,
    `head:    ${stats.head} (position in $all)`,
    `parked:  ${stats.parked}${stats.parked > 0 ? ' (see the parked_events collection)' : ''}`,
    '',
  ];
  const rows = stats.projections.map((p) => [p.name, p.checkpoint ?? '-', `${p.lag}${p.lag_exact ? '' : '+'}`, String(p.parked), p.updated_at ?? '-']);
  lines.push(formatTable(['projection', 'checkpoint', 'lag', 'parked', 'updated'], rows));
  return lines.join('\n');
}

export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
  readonly projections?: Record<string, { lag: number; checkpoint: string | null }>;
}

/**
 * Below this many bytes free on the disk holding the embedded store's files, `/readyz` answers
 * not ready: SQLite grows its files a page at a time and its WAL by whole transactions, so writes
 * fail at about this point, and the read models stop following (docs/operations.md, "A full disk").
 */
export const MIN_FREE_BYTES = 16 * 1024 * 1024;

/** How long an event may wait for a projection before `/readyz` calls the projection stuck. */
export const DEFAULT_MAX_STALL_MS = 30_000;
/**
 * How long the oldest event a projection has not applied may have waited before its lag counts
 * against `maxLag`: a burst of writes the projector is absorbing (one user's upload of 10,000
 * gpodder actions put it over 1,000 events behind for a moment) is not a service to take out
 * of rotation; a projection catching up a backlog (a rebuild at start, a stopped projector) is.
 */
export const DEFAULT_LAG_GRACE_MS = 10_000;

/**
 * Ready when every store answers, a projector runs (holds the projections' leases, where the
 * store can tell), and every projection is less than `maxLag` events behind — or its oldest
 * pending event has waited less than `lagGraceMs` — and makes progress — no event has waited
 * more than `maxStallMs` for it: a projection stuck on one event, or with no projector running,
 * is a few events behind forever — within `timeoutMs` (a store that hangs makes the service
 * unready, not `/readyz` hang).
 */
export async function checkReadiness(
  stores: StatusStores & { accounts: AccountStore },
  names: readonly string[],
  options: {
    maxLag: number;
    timeoutMs?: number;
    maxStallMs?: number;
    now?: () => Date;
    lagGraceMs?: number;
    /** Bytes free on the disk holding the store's files, where the service has them (the embedded store). */
    freeBytes?: () => Promise<number>;
    minFreeBytes?: number;
  },
): Promise<Readiness> {
  const probe = async (): Promise<Readiness> => {
    // A lookup that finds nothing still proves the accounts store answers.
    await stores.accounts.findByUsername('readiness-probe');
    const report = await projectionsReport(stores, names, options.maxLag);
    const projections = Object.fromEntries(
      report.projections.map((projection) => [
        projection.name,
        { lag: projection.lag, checkpoint: projection.checkpoint ? formatPosition(projection.checkpoint) : null },
      ]),
    );
    const free = await options.freeBytes?.();
    const minFree = options.minFreeBytes ?? MIN_FREE_BYTES;
    // No path in the reason: /readyz is public.
    if (free !== undefined && free < minFree)
      return { ready: false, reason: `the disk holding the store is full or nearly (${mebibytes(free)} free, ${mebibytes(minFree)} needed)`, projections };
    const now = (options.now?.() ?? new Date()).getTime();
    const waited = (projection: ProjectionStatus) => (projection.pendingSince === undefined ? 0 : now - projection.pendingSince.getTime());
    const graceMs = options.lagGraceMs ?? DEFAULT_LAG_GRACE_MS;
    const behind = report.projections
      .filter((projection) => projection.lag >= options.maxLag && waited(projection) >= graceMs)
      .map((projection) => projection.name);
    if (behind.length > 0) return { ready: false, reason: `projections behind by ${options.maxLag} events or more: ${behind.join(', ')}`, projections };
    const leases = (await stores.readModel.liveLeases?.(names)) ?? names.map(() => true);
    const unowned = names.filter((_name, index) => !leases[index]);
    if (unowned.length > 0) return { ready: false, reason: `no projector is running for: ${unowned.join(', ')}`, projections };
    const stallMs = options.maxStallMs ?? DEFAULT_MAX_STALL_MS;
    const stalled = report.projections
      .filter((projection) => projection.pendingSince !== undefined && now - projection.pendingSince.getTime() > stallMs)
      .map((projection) => projection.name);
    if (stalled.length > 0)
      return { ready: false, reason: `projections making no progress for ${stallMs / 1000} s or more: ${stalled.join(', ')}`, projections };
    return { ready: true, projections };
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Readiness>((resolve) => {
    timer = setTimeout(() => resolve({ ready: false, reason: `the stores did not answer within ${options.timeoutMs ?? 2000} ms` }), options.timeoutMs ?? 2000);
  });
  try {
    return await Promise.race([
      // The error's name only: /readyz is public, and messages can hold hosts and addresses.
      probe().catch((error: unknown): Readiness => ({ ready: false, reason: `a store failed: ${error instanceof Error ? error.name : 'unknown error'}` })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
