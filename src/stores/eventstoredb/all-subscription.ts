import type { AllStreamResolvedEvent, AllStreamSubscription } from '@eventstore/db-client';
import type { AllSubscription, Position, RecordedEvent } from '../event-store.js';
import { toPosition } from './mapping.js';
import type { ConsumerView } from './consumer-view.js';

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** Why the subscription stopped, if it did. */
type Stop = { readonly kind: 'unsubscribed' } | { readonly kind: 'failed'; readonly error: unknown };

/**
 * A port subscription over the client's catch-up subscription to `$all` (a Readable of resolved
 * events): converts and filters through a {@link ConsumerView}, in `$all` order.
 *
 * It is its own async iterator: `break` in `for await` calls {@link return}, which unsubscribes.
 * Every pending read races a stop signal, so `unsubscribe()` resolves a waiting `next()` with
 * `done`, and a failure reaches the consumer, without relying on how the client's Readable ends
 * after a cancel or on whether an iterator was listening when it emitted 'error'. The race is
 * against a per-read waiter, never against one long-lived promise: every `Promise.race` leaves a
 * reaction on each contender until it settles, so racing a promise that settles only at
 * unsubscribe would keep every record ever delivered reachable for the subscription's lifetime.
 */
export class EventStoreDbAllSubscription implements AllSubscription, AsyncIterator<RecordedEvent, undefined> {
  private readonly source: AsyncIterator<AllStreamResolvedEvent>;
  private stopped: Stop | undefined;
  /** The pending read's wake-up on stop (at most one: reads are serialised). */
  private readonly stopWaiters = new Set<(stop: Stop) => void>();
  /** Serialises concurrent `next()` calls so events are handed out once and in order. */
  private pending: Promise<unknown> = Promise.resolve();
  private unsubscribing: Promise<void> | undefined;
  /** A failure is thrown once; later `next()` calls answer `done`. */
  private failureReported = false;
  /** The last record read from the client, handed out or not (see idlePosition). */
  private lastRead: Position | undefined;
  /** Waiting for the client's next record, having handed out every admitted one. */
  private waiting = false;

  constructor(
    private readonly subscription: AllStreamSubscription,
    private readonly view: ConsumerView,
    private readonly onEnd: (ended: EventStoreDbAllSubscription) => void,
  ) {
    // The client emits 'error' without destroying its Readable: an error emitted before anyone
    // iterates would otherwise crash the process (no listener) or be lost to a later iterator.
    subscription.on('error', (error: Error) => this.stop({ kind: 'failed', error }));
    this.source = subscription[Symbol.asyncIterator]();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<RecordedEvent, undefined>> {
    const result = this.pending.then(() => this.pull());
    // The caller owns `result`'s rejection; the chain itself must never reject.
    this.pending = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorReturnResult<undefined>> {
    await this.unsubscribe();
    return DONE;
  }

  idlePosition(): Position | undefined {
    return this.waiting && this.stopped === undefined ? this.lastRead : undefined;
  }

  /** Idempotent: cancels the server-side subscription and ends the iteration. */
  unsubscribe(): Promise<void> {
    this.stop({ kind: 'unsubscribed' });
    this.unsubscribing ??= this.cancel();
    return this.unsubscribing;
  }

  private stop(stop: Stop): void {
    if (this.stopped !== undefined) return;
    this.stopped = stop;
    for (const wake of [...this.stopWaiters]) wake(stop);
    this.stopWaiters.clear();
  }

  /** The source's next record, or the stop if it comes first; holds nothing once settled. */
  private nextOrStop(): Promise<IteratorResult<AllStreamResolvedEvent> | Stop> {
    return new Promise((resolve, reject) => {
      if (this.stopped !== undefined) return resolve(this.stopped);
      const wake = (stop: Stop) => resolve(stop);
      this.stopWaiters.add(wake);
      this.source.next().then(
        (result) => {
          this.stopWaiters.delete(wake);
          resolve(result);
        },
        (error: unknown) => {
          this.stopWaiters.delete(wake);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  private async cancel(): Promise<void> {
    this.onEnd(this);
    await this.subscription.unsubscribe();
  }

  private async pull(): Promise<IteratorResult<RecordedEvent, undefined>> {
    try {
      while (this.stopped === undefined) {
        this.waiting = true;
        let next: Awaited<ReturnType<typeof this.nextOrStop>>;
        try {
          next = await this.nextOrStop();
        } finally {
          this.waiting = false;
        }
        if ('kind' in next) break;
        if (next.done) {
          // Only unsubscribe() may end a catch-up subscription; anything else is a failure.
          this.stop({ kind: 'failed', error: new Error('EventStoreDB ended the $all subscription') });
          break;
        }
        const event = next.value.event;
        if (event === undefined) continue;
        const admitted = await this.view.admit(event);
        // Only once decided: a record is behind the idle position once handed out or left out.
        this.lastRead = toPosition(event.position);
        if (admitted !== undefined && this.stopped === undefined) return { done: false, value: admitted };
      }
    } catch (error) {
      this.stop({ kind: 'failed', error });
    }
    return this.finish();
  }

  /** Ends cleanly after an unsubscribe or the end of the source; rethrows a failure. */
  private async finish(): Promise<IteratorReturnResult<undefined>> {
    const stopped = this.stopped;
    await this.unsubscribe();
    if (stopped?.kind === 'failed' && !this.failureReported) {
      this.failureReported = true;
      throw stopped.error;
    }
    return DONE;
  }
}
