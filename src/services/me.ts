/**
 * The user's own account data: export everything (docs/design.md, "Erasure": "a user can export all their data
 * first") and delete the account (streams, documents, credentials).
 */
import { randomUUID } from 'node:crypto';
import { yieldToEventLoop } from '../concurrency.js';
import { streams } from '../domain/events.js';
import type { UserEvent } from '../domain/events.js';
import type { UserState } from '../domain/state.js';
import type { AccountStore } from '../stores/accounts.js';
import type { EventStore, RecordedEvent } from '../stores/event-store.js';
import { readStreamOrEmpty, readStreamPages, StreamDeletedError, WrongExpectedVersionError } from '../stores/event-store.js';
import { StateFold } from '../domain/state.js';
import { jsonPieces, toJsonObject } from '../domain/json.js';
import { cutAfterStates, envelopeOf, stateEventsOf, toStoreEvent } from './codec.js';
import { feedOf } from '../retention/snapshot.js';
import type { Principal } from './accounts.js';
import type { ReadModelService } from './read-models.js';

export interface Export {
  user: { id: string; username: string; created_at: string | null };
  events: ExportedEvent[];
  state: UserState;
}

type ExportedEvent = Record<string, unknown> & { recorded_at: string; revision: string };

const exportedEvent = (event: RecordedEvent): ExportedEvent => ({
  ...envelopeOf(event),
  recorded_at: event.recordedAt.toISOString(),
  revision: event.revision.toString(),
});

/** Rounds of "a write slipped in after account_deleted" before giving up for now. */
const MAX_ROUNDS = 5;
const MAX_BACKGROUND_ATTEMPTS = 20;

export class AccountDeletionPendingError extends Error {
  override readonly name = 'AccountDeletionPendingError';
}

/** What a deletion does beyond the event store, the accounts and the read models (the service wires them all). */
export interface AccountDeletionSteps {
  /** The projections a deletion waits for before the stream goes. */
  readonly projections?: readonly string[];
  /** Physically removes a deleted stream's rows (the embedded store's scavenge), if any. */
  readonly purge?: (stream: string) => void;
  /** Recounts the popularity of the feeds the user touched, once they are forgotten. */
  readonly rollFeeds?: (feeds: Iterable<string>) => Promise<void>;
  /**
   * Removes the old page images the deletion left in the store files' write-ahead logs (the
   * embedded store: docs/design.md, "Erasure"), if any.
   */
  readonly forgetDeletedBytes?: () => Promise<void>;
  /** Drops what this process keeps of the user in memory (the folded-user cache), if anything. */
  readonly forgetUser?: (userId: string) => void;
}

export class MeService {
  private readonly purge: (stream: string) => void;
  private readonly projections: readonly string[];
  private readonly rollFeeds: (feeds: Iterable<string>) => Promise<void>;
  private readonly forgetDeletedBytes: () => Promise<void>;
  private readonly forgetUser: (userId: string) => void;

  constructor(
    private readonly store: EventStore,
    private readonly accounts: AccountStore,
    private readonly readModels: ReadModelService,
    steps: AccountDeletionSteps = {},
  ) {
    this.purge = steps.purge ?? (() => undefined);
    this.projections = steps.projections ?? [];
    this.rollFeeds = steps.rollFeeds ?? (async () => undefined);
    this.forgetDeletedBytes = steps.forgetDeletedBytes ?? (async () => undefined);
    this.forgetUser = steps.forgetUser ?? (() => undefined);
  }

  /**
   * The user's export ({@link Export}) as JSON text, in pieces: a page of events each, so that
   * a large stream neither holds other requests while it is read and written nor sits whole in
   * memory (docs/design.md, "Erasure").
   */
  async *exportJson(principal: Principal): AsyncGenerator<string> {
    const account = await this.accounts.findById(principal.userId);
    const user: Export['user'] = { id: principal.userId, username: principal.username, created_at: account?.createdAt ?? null };
    // The head goes with the first page, so that an error reading the stream's start is still
    // answered as an error (src/http/json-pieces.ts sends the status with the first piece).
    let head = `{"user":${JSON.stringify(user)},"events":[`;
    let separator = '';
    const state = new StateFold();
    for await (const page of cutAfterStates(readStreamPages(this.store, streams.user(principal.userId)))) {
      yield `${head}${separator}${page.map((event) => JSON.stringify(exportedEvent(event))).join(',')}`;
      head = '';
      separator = ',';
      state.add(stateEventsOf(page));
    }
    yield `${head}],"state":`;
    // The state too, in pieces with other work between them (20,000 play statuses: 8 MB).
    for (const piece of jsonPieces(toJsonObject(state.state))) {
      yield piece;
      await yieldToEventLoop();
    }
    yield '}';
  }

  /**
   * Deletes the account. First the account is marked as being deleted: from then on none of
   * its credentials authenticate, so no new request can write. Then {@link finishDeletion}.
   * 'pending' when the read models did not catch up in time: the deletion goes on in the
   * background (and at the next start, should this process stop first).
   */
  async deleteAccount(principal: Principal): Promise<'deleted' | 'pending'> {
    await this.accounts.markDeleting(principal.userId);
    try {
      await this.finishDeletion(principal.userId, principal.username);
      return 'deleted';
    } catch (error) {
      if (!(error instanceof AccountDeletionPendingError)) throw error;
      this.retryLater(principal.userId, principal.username, 1);
      return 'pending';
    }
  }

  /** Finishes the deletions that started and did not end (a crash, a timeout). */
  async finishPendingDeletions(): Promise<number> {
    let finished = 0;
    for (const account of await this.accounts.listAccounts()) {
      if (!account.deleting) continue;
      await this.finishDeletion(account.id, account.username);
      finished++;
    }
    return finished;
  }

  private retryLater(userId: string, username: string, attempt: number): void {
    const timer = setTimeout(
      () => {
        this.finishDeletion(userId, username).catch(() => {
          // Still pending (or failing): the next start finishes it if this process gives up.
          if (attempt < MAX_BACKGROUND_ATTEMPTS) this.retryLater(userId, username, attempt + 1);
        });
      },
      Math.min(60_000, 5_000 * attempt),
    );
    timer.unref();
  }

  /**
   * An `account_deleted` event tells every projection to forget the user; once they all have,
   * the stream is tombstoned (the events are gone for real at once in the embedded store, at
   * the next scavenge in EventStoreDB) and the credentials removed.
   *
   * A request authenticated just before the account was marked may still append after the
   * `account_deleted`, and projections would then hold its documents: so the stream is
   * tombstoned only while `account_deleted` is its last event (expected revision), else another
   * `account_deleted` goes after the stragglers. A tombstoned stream refuses every append
   * (410), so nothing re-creates it. Harmless to run twice.
   */
  async finishDeletion(userId: string, username: string): Promise<void> {
    const stream = streams.user(userId);
    const feeds = new Set<string>();
    for (let round = 1; ; round++) {
      let recorded: RecordedEvent[];
      try {
        recorded = await readStreamOrEmpty(this.store, stream);
      } catch (error) {
        if (error instanceof StreamDeletedError) break;
        throw error;
      }
      for (const feed of recorded.flatMap(feedOf)) feeds.add(feed);
      const last = recorded.at(-1);
      let position = last?.position;
      let revision = last?.revision;
      if (last?.type !== 'account_deleted') {
        const event: UserEvent = { id: randomUUID(), type: 'account_deleted', user: userId, timestamp: new Date().toISOString(), object: null, data: {} };
        const appended = await this.store.append(stream, [toStoreEvent(event, { username })], { expectedRevision: 'any' });
        position = appended.position;
        revision = appended.nextRevision;
      }
      if (!(await this.readModels.waitFor(this.projections, position!, 10_000))) {
        throw new AccountDeletionPendingError('The read models are catching up; the deletion completes shortly');
      }
      try {
        await this.store.tombstoneStream(stream, { expectedRevision: revision! });
        break;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || round >= MAX_ROUNDS) throw error;
      }
    }
    this.purge(stream);
    // A deleted user's state is never served again (no credential of theirs authenticates), but
    // it is their data: it leaves this process's memory now, not when the cache needs the room.
    this.forgetUser(userId);
    await this.rollFeeds(feeds);
    await this.accounts.deleteAccount(userId);
    await this.forgetDeletedBytes();
  }
}
