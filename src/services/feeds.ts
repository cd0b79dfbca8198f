/**
 * Fetching feeds (docs/design.md, "Feeds"): load a feed's stream → fetch → decide what
 * changed → append one event to `feed-<hash>`; and which feeds are due. The `feeds` job
 * (src/jobs/feeds-job.ts) and `npm run feeds` (scripts/feeds.ts) both run it.
 *
 * The stream, not the read model, is what a fetch starts from (validators, the known facts to
 * diff against, failures in a row), and the append expects the revision it read: two fetchers
 * of one feed (the job and the CLI) cannot interleave their changes; the loser's fetch is dropped.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { FeedEvent, FeedFetchFailedData, FeedFetchedData, FeedState } from '../domain/feeds.js';
import {
  factsChange,
  feedEvent,
  feedStream,
  foldFeed,
  fullChange,
  isFeedEvent,
  nextFetchAfterFailure,
  nextFetchAfterSuccess,
  SNAPSHOT_EVERY,
} from '../domain/feeds.js';
import type { FetcherOptions, FetchOutcome } from '../feeds/fetcher.js';
import { FeedFetchError, fetchFeed } from '../feeds/fetcher.js';
import { RefusedAddressError } from '../feeds/address-policy.js';
import { FeedParseError } from '../feeds/parse.js';
import type { FeedParser } from '../feeds/parse-thread.js';
import { inlineFeedParser } from '../feeds/parse-thread.js';
import { recordFeedFetch } from '../metrics.js';
import type { EventStore } from '../stores/event-store.js';
import { readStreamOrEmpty, truncateStream, WrongExpectedVersionError } from '../stores/event-store.js';
import type { Doc, ReadModelStore } from '../stores/read-model.js';
import { PODCAST_EPISODES, PODCASTS } from '../../projections/podcasts.js';
import { feedKey } from '../domain/feeds.js';
import { fromJson, toJsonObject } from '../domain/json.js';

export interface FeedServiceOptions {
  readonly refreshHours: number;
  readonly fetcher: FetcherOptions;
  /** Feeds fetched at once. */
  readonly concurrency: number;
  /** Requests to one host at once (the issue's "one or two"). */
  readonly perHost?: number;
  /**
   * Deletes a stream's truncated events for good, where the store keeps them until asked (the
   * embedded store; EventStoreDB's scavenge does it there).
   */
  readonly purgeTruncated?: (stream: string) => void;
  /** Where fetched bodies are read (the service's: a thread of their own); on the caller's thread by default. */
  readonly parser?: FeedParser;
}

export type RefreshOutcome =
  | { readonly url: string; readonly outcome: 'fetched'; readonly full: boolean; readonly changed: boolean; readonly episodes: number }
  | { readonly url: string; readonly outcome: 'not_modified' }
  | { readonly url: string; readonly outcome: 'failed'; readonly reason: FeedFetchFailedData['error']; readonly message: string; readonly failures: number }
  | { readonly url: string; readonly outcome: 'skipped'; readonly message: string };

export interface RefreshSummary {
  readonly due: number;
  readonly fetched: number;
  readonly notModified: number;
  readonly failed: number;
  readonly skipped: number;
  readonly seconds: number;
}

export interface RefreshHooks {
  /** After each feed (the CLI's progress bar, the job's touch and progress). */
  readonly onFeed?: (outcome: RefreshOutcome, done: number, due: number) => void | Promise<void>;
  /** Checked before each feed starts: true ends the run (shutdown). */
  readonly stopping?: () => boolean;
}

/** `podsync/<version> (+<FEEDS_CONTACT_URL>)`: feed hosts see who fetches and where to ask. */
export function feedUserAgent(contactUrl: string | undefined): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
  const product = `${typeof manifest.name === 'string' ? manifest.name : 'podsync'}/${typeof manifest.version === 'string' ? manifest.version : '0'}`;
  return `${product} (podcast sync service; feed fetcher${contactUrl ? `; +${contactUrl}` : ''})`;
}

/** The service's options from the configuration (src/config.ts). */
export function feedServiceOptions(config: Config): FeedServiceOptions {
  return {
    refreshHours: config.FEED_REFRESH_HOURS,
    concurrency: config.FEEDS_CONCURRENCY,
    fetcher: {
      allowPrivateNetworks: config.FEEDS_ALLOW_PRIVATE_NETWORKS,
      userAgent: feedUserAgent(config.FEEDS_CONTACT_URL),
      connectTimeoutMs: config.FEEDS_CONNECT_TIMEOUT_MS,
      totalTimeoutMs: config.FEEDS_TIMEOUT_MS,
      maxBytes: config.FEEDS_MAX_BYTES,
      maxRedirects: 5,
    },
  };
}

/** Feeds one run takes on at most: the job runs every minute, so the rest waits a minute. */
export const RUN_BATCH = 500;

export class FeedService {
  constructor(
    private readonly eventStore: EventStore,
    private readonly readModel: ReadModelStore,
    private readonly options: FeedServiceOptions,
    private readonly logger: Logger,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Subscribed feeds whose `next_fetch_at` has come, soonest first. */
  async due(limit = RUN_BATCH): Promise<string[]> {
    const now = this.clock().toISOString();
    const docs = await this.readModel.find(PODCASTS, {
      where: { subscribed: true },
      lessThan: { field: 'next_fetch_at', value: `${now}~` },
      orderBy: [{ field: 'next_fetch_at', direction: 'asc' }],
      limit,
    });
    return docs.map(({ doc }) => String(doc['url']));
  }

  /** Fetches the given feeds (default: the due ones), at most `concurrency` at once and `perHost` per host. */
  async refreshMany(urls?: readonly string[], hooks: RefreshHooks = {}): Promise<RefreshSummary> {
    const started = Date.now();
    const list = urls ?? (await this.due());
    const counts = { fetched: 0, notModified: 0, failed: 0, skipped: 0 };
    const global = new Limiter(this.options.concurrency);
    const hosts = new Map<string, Limiter>();
    let done = 0;
    await Promise.all(
      list.map(async (url) => {
        const host = hostOf(url);
        let limiter = hosts.get(host);
        if (!limiter) hosts.set(host, (limiter = new Limiter(this.options.perHost ?? 2)));
        // The host's turn first, then a global slot: waiting for a busy host holds no global slot.
        const outcome = await limiter.run(() =>
          global.run(async (): Promise<RefreshOutcome> => (hooks.stopping?.() ? { url, outcome: 'skipped', message: 'stopping' } : this.refresh(url))),
        );
        if (outcome.outcome === 'fetched') counts.fetched++;
        else if (outcome.outcome === 'not_modified') counts.notModified++;
        else if (outcome.outcome === 'failed') counts.failed++;
        else counts.skipped++;
        done++;
        await hooks.onFeed?.(outcome, done, list.length);
      }),
    );
    return { due: list.length, ...counts, seconds: (Date.now() - started) / 1000 };
  }

  /** One feed: load its stream, fetch, append what was learnt (or the failure). Never throws for the feed's own faults. */
  async refresh(url: string): Promise<RefreshOutcome> {
    const stream = feedStream(url);
    const recorded = await readStreamOrEmpty(this.eventStore, stream);
    const events = recorded.map((event) => fromJson<FeedEvent>(event.data)).filter(isFeedEvent);
    const state = foldFeed(events);
    const expectedRevision = recorded.length === 0 ? ('no_stream' as const) : recorded.at(-1)!.revision;
    // A full event from time to time, so older events can go: fetched without validators, so it is a 200.
    const full = state.facts === undefined || state.sinceFull >= SNAPSHOT_EVERY;
    const now = this.clock();
    let outcome: FetchOutcome;
    let event: FeedEvent;
    let result: RefreshOutcome;
    try {
      outcome = await fetchFeed(url, full ? {} : { etag: state.etag ?? undefined, lastModified: state.lastModified ?? undefined }, this.options.fetcher);
      ({ event, result } = await this.decide(url, state, outcome, full, now));
    } catch (error) {
      const failure = failureOf(error);
      if (!failure) throw error;
      const failures = state.failures + 1;
      const data: FeedFetchFailedData = {
        url,
        ...failure,
        failures,
        next_fetch_at: nextFetchAfterFailure(now, failures, this.options.refreshHours).toISOString(),
      };
      event = { id: randomUUID(), timestamp: now.toISOString(), type: 'feed_fetch_failed', data };
      result = { url, outcome: 'failed', reason: failure.error, message: failure.message, failures };
    }
    const checked = feedEvent.safeParse(event);
    if (!checked.success) {
      // What a feed said does not fit the events (a bug in the parser's cleaning, never the feed's fault to crash on).
      const failures = state.failures + 1;
      const message = `feed facts refused by the event schema: ${checked.error.issues[0]?.message ?? 'invalid'}`.slice(0, 4096);
      event = {
        id: randomUUID(),
        timestamp: now.toISOString(),
        type: 'feed_fetch_failed',
        data: { url, error: 'invalid', message, failures, next_fetch_at: nextFetchAfterFailure(now, failures, this.options.refreshHours).toISOString() },
      };
      result = { url, outcome: 'failed', reason: 'invalid', message, failures };
    }
    try {
      const appended = await this.eventStore.append(stream, [{ id: event.id, type: event.type, data: toJsonObject(event) }], { expectedRevision });
      if (event.type === 'feed_fetched' && event.data.full && appended.nextRevision > 0n) {
        // Safe even before the projector has seen the older events: the full one replaces them.
        await truncateStream(this.eventStore, stream, appended.nextRevision);
        this.options.purgeTruncated?.(stream);
      }
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      return { url, outcome: 'skipped', message: 'fetched concurrently elsewhere' };
    }
    recordFeedFetch(
      result.outcome === 'failed' ? 'failed' : result.outcome === 'not_modified' ? 'not_modified' : 'fetched',
      result.outcome === 'failed' ? result.reason : '',
    );
    if (result.outcome === 'failed')
      this.logger.warn('feed fetch failed', { url, reason: result.reason, message: result.message, failures: result.failures, next: event.data.next_fetch_at });
    else this.logger.debug('feed fetched', { ...result });
    return result;
  }

  private async decide(url: string, state: FeedState, outcome: FetchOutcome, full: boolean, now: Date): Promise<{ event: FeedEvent; result: RefreshOutcome }> {
    const next = nextFetchAfterSuccess(now, this.options.refreshHours).toISOString();
    const base = { id: randomUUID(), timestamp: now.toISOString(), type: 'feed_fetched' as const };
    if (outcome.kind === 'not_modified') {
      const data: FeedFetchedData = {
        url,
        full: false,
        not_modified: true,
        podcast: {},
        episodes: [],
        removed: [],
        etag: outcome.etag ?? state.etag,
        last_modified: outcome.lastModified ?? state.lastModified,
        next_fetch_at: next,
      };
      return { event: { ...base, data }, result: { url, outcome: 'not_modified' } };
    }
    const facts = await (this.options.parser ?? inlineFeedParser).parse(outcome.body);
    const change = full || !state.facts ? fullChange(facts) : factsChange(state.facts, facts);
    const data: FeedFetchedData = {
      url,
      full,
      not_modified: false,
      ...change,
      etag: outcome.etag ?? null,
      last_modified: outcome.lastModified ?? null,
      next_fetch_at: next,
    };
    const changed = full || Object.keys(change.podcast).length > 0 || change.episodes.length > 0 || change.removed.length > 0;
    return { event: { ...base, data }, result: { url, outcome: 'fetched', full, changed, episodes: facts.episodes.length } };
  }

  // ---- reading ----------------------------------------------------------------------------

  /** The `podcasts` document of a feed, if it is known. */
  podcast(url: string): Promise<Doc | undefined> {
    return this.readModel.get(PODCASTS, feedKey(url));
  }

  /** A feed's episodes, newest published first. */
  async episodes(url: string, limit: number): Promise<Doc[]> {
    const docs = await this.readModel.find(PODCAST_EPISODES, {
      where: { feed_key: feedKey(url) },
      orderBy: [{ field: 'published', direction: 'desc' }],
      limit,
    });
    return docs.map(({ doc }) => doc);
  }
}

/** What went wrong, as a failure event says it; undefined for errors that are not the feed's (the store's, a bug). */
function failureOf(error: unknown): Pick<FeedFetchFailedData, 'error' | 'message'> | undefined {
  const message = (error instanceof Error ? error.message : String(error)).slice(0, 4096);
  if (error instanceof RefusedAddressError) return { error: 'refused_address', message };
  if (error instanceof FeedFetchError) return { error: error.code, message };
  if (error instanceof FeedParseError) return { error: 'malformed', message };
  return undefined;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return url;
  }
}

/** At most `max` tasks at once, the others queued in order. */
class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finished task hands its slot to the next one in line, so no newcomer can slip in between.
    if (this.active >= this.max) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}
