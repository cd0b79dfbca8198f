/**
 * Feeds read on a thread of their own. Reading a feed is synchronous, and a large one (7 MB, a
 * few thousand episodes) held the thread that serves requests for a quarter of a second; the
 * feeds job reads every feed that changed. One thread, started at the first feed and kept,
 * started again if it ends. Its heap is bounded: a feed that takes it past the bound ends the
 * thread, not the process, and fails as malformed; the feeds queued behind it are read again
 * on the next thread.
 */
import type { Worker } from 'node:worker_threads';
import type { FeedFacts } from '../domain/feeds.js';
import type { Logger } from '../logger.js';
import { createWorker, workerStarted } from '../worker-started.js';
import { decodeXml, FeedParseError, parseFeed } from './parse.js';
import type { ParseReply, ParseRequest } from './parse-worker.js';

/** Plain JavaScript: it registers the TypeScript loader in the thread, then loads parse-worker.ts. */
const WORKER_FILE = new URL('./parse-worker-entry.mjs', import.meta.url);
/** The thread's heap: a feed at the fetcher's limit (10 MB) reads in a fraction of it. */
const HEAP_LIMIT_MB = 512;

export interface FeedParseThreadOptions {
  /** The thread's heap, in MB ({@link HEAP_LIMIT_MB} unless a test makes it small). */
  readonly heapLimitMb?: number;
}

/** Reads a fetched body as a feed; rejects with {@link FeedParseError} when it is not one. */
export interface FeedParser {
  parse(body: Buffer): Promise<FeedFacts>;
  close(): Promise<void>;
}

/** On the caller's thread: for the operator's CLI, which serves nothing meanwhile, and tests. */
export const inlineFeedParser: FeedParser = {
  parse: async (body) => parseFeed(decodeXml(body)),
  close: async () => undefined,
};

interface Waiter {
  readonly body: Buffer;
  resolve(facts: FeedFacts): void;
  reject(error: Error): void;
}

export class FeedParseThread implements FeedParser {
  private running: Promise<Worker> | undefined;
  /** Feeds sent to the thread, by id: it reads them in that order. */
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 1;
  private closed = false;

  private readonly heapLimitMb: number;

  constructor(
    private readonly logger: Logger,
    options: FeedParseThreadOptions = {},
  ) {
    this.heapLimitMb = options.heapLimitMb ?? HEAP_LIMIT_MB;
  }

  async parse(body: Buffer): Promise<FeedFacts> {
    if (this.closed) throw new Error('the feed parser is closed');
    let worker: Worker;
    try {
      worker = await this.worker();
    } catch (error) {
      this.logger.warn('the feed parser thread could not start: reading the feed on this thread', { error: messageOf(error) });
      return inlineFeedParser.parse(body);
    }
    const id = this.nextId++;
    // A copy with a buffer of its own, moved to the thread (a Buffer may share its pool's).
    const copy = new Uint8Array(body);
    return new Promise<FeedFacts>((resolve, reject) => {
      this.waiting.set(id, { body, resolve, reject });
      worker.ref();
      worker.postMessage({ type: 'parse', id, body: copy } satisfies ParseRequest, [copy.buffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = await this.running?.catch(() => undefined);
    await worker?.terminate();
  }

  private worker(): Promise<Worker> {
    if (this.running) return this.running;
    const worker = createWorker(WORKER_FILE, { resourceLimits: { maxOldGenerationSizeMb: this.heapLimitMb } });
    const running = workerStarted<ParseReply>(worker, 'the feed parser thread', (reply) => reply.type === 'ready').then(() => worker);
    this.running = running;
    running.catch(() => {
      if (this.running === running) this.running = undefined;
      void worker.terminate();
    });
    worker.on('message', (reply: ParseReply) => this.settle(worker, reply));
    worker.on('error', (error) => this.logger.warn('the feed parser thread failed', { error: messageOf(error) }));
    worker.on('exit', (code) => {
      if (this.running === running) this.running = undefined;
      this.orphaned(code);
    });
    return running;
  }

  private settle(worker: Worker, reply: ParseReply): void {
    if (reply.type === 'ready') return;
    const waiter = this.waiting.get(reply.id);
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) worker.unref();
    if (!waiter) return;
    if (reply.type === 'parsed') waiter.resolve(reply.facts);
    else waiter.reject(reply.malformed ? new FeedParseError(reply.message) : new Error(reply.message));
  }

  /** The thread ended with feeds sent to it: the one it was reading is to blame, the others are read again. */
  private orphaned(code: number): void {
    const waiters = [...this.waiting.entries()].sort(([a], [b]) => a - b).map(([, waiter]) => waiter);
    this.waiting.clear();
    const [reading, ...queued] = waiters;
    if (this.closed) {
      for (const waiter of waiters) waiter.reject(new Error('the feed parser closed'));
      return;
    }
    if (reading) {
      this.logger.warn('the feed parser thread ended while reading a feed', { code });
      reading.reject(new FeedParseError(`the feed could not be read within ${this.heapLimitMb} MB (the parser's thread ended, code ${code})`));
    }
    for (const waiter of queued) this.parse(waiter.body).then(waiter.resolve, waiter.reject);
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
