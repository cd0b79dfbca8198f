/**
 * The user's own account data: export everything (SPEC 8: "a user can export all their data
 * first") and delete the account (streams, documents, credentials).
 */
import { randomUUID } from 'node:crypto';
import { streams } from '../domain/events.js';
import type { UserEvent } from '../domain/events.js';
import type { UserState } from '../domain/state.js';
import type { AccountStore } from '../stores/accounts.js';
import type { EventStore } from '../stores/event-store.js';
import { readStreamOrEmpty, StreamNotFoundError } from '../stores/event-store.js';
import { fold } from '../domain/state.js';
import { fromStoreEvent, toStoreEvent } from './codec.js';
import { feedOf } from '../retention/retention-service.js';
import type { Principal } from './accounts.js';
import type { ReadModelService } from './read-models.js';

export interface Export {
  user: { id: string; username: string; created_at: string | null };
  events: (Record<string, unknown> & { recorded_at: string; revision: string })[];
  state: UserState;
}

export class AccountDeletionPendingError extends Error {
  override readonly name = 'AccountDeletionPendingError';
}

export class MeService {
  constructor(
    private readonly store: EventStore,
    private readonly accounts: AccountStore,
    private readonly readModels: ReadModelService,
    /** Physically removes a deleted stream's rows (the embedded store's scavenge), if any. */
    private readonly purge: (stream: string) => void = () => undefined,
    private readonly projections: readonly string[] = [],
    /** Recounts the popularity of the feeds the user touched, once they are forgotten. */
    private readonly rollFeeds: (feeds: Iterable<string>) => Promise<void> = async () => undefined,
  ) {}

  async export(principal: Principal): Promise<Export> {
    const account = await this.accounts.findById(principal.userId);
    const recorded = await readStreamOrEmpty(this.store, streams.user(principal.userId));
    const domain = recorded.map(fromStoreEvent).filter((event) => event !== undefined);
    return {
      user: { id: principal.userId, username: principal.username, created_at: account?.createdAt ?? null },
      events: recorded.map((event) => ({ ...event.data, recorded_at: event.recordedAt.toISOString(), revision: event.revision.toString() })),
      state: fold(domain),
    };
  }

  /**
   * Deletes the account. An `account_deleted` event tells every projection to forget the
   * user; once they all have, the stream is deleted (for real in the embedded store; in
   * EventStoreDB the events are gone at the next scavenge) and the credentials removed.
   * If the projections do not catch up in time nothing else is deleted and the caller may
   * retry: the event is harmless twice.
   */
  async deleteAccount(principal: Principal): Promise<void> {
    const stream = streams.user(principal.userId);
    const feeds = new Set((await readStreamOrEmpty(this.store, stream)).flatMap(feedOf));
    const event: UserEvent = { id: randomUUID(), type: 'account_deleted', user: principal.userId, timestamp: new Date().toISOString(), object: null, data: {} };
    const { position } = await this.store.append(stream, [toStoreEvent(event, { username: principal.username })], { expectedRevision: 'any' });
    if (!(await this.readModels.waitFor(this.projections, position, 10_000))) {
      throw new AccountDeletionPendingError('The read models are catching up; try again shortly');
    }
    try {
      await this.store.deleteStream(stream);
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    this.purge(stream);
    await this.rollFeeds(feeds);
    await this.accounts.deleteAccount(principal.userId);
  }
}
