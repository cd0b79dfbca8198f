/**
 * Runs projections purely, in memory: events in, documents out. Given/when/then style, as in
 * Emmett's projection specifications: `given` events, `when` one more, `then` read documents.
 */
import { randomUUID } from 'node:crypto';
import type { Privacy, UserEvent } from '../../src/domain/events.js';
import type { Doc, DocChange } from '../../src/stores/read-model.js';
import type { ProjectedEvent, Projection } from '../../projections/projection.js';
import type { CheckpointEvent } from '../../src/domain/system-events.js';
import { emptyView, StagedView } from '../../projections/staged-view.js';

export interface Actor {
  readonly user: string;
  readonly username: string;
}

export class ProjectionHarness {
  /** Every event applied, per user: the users' streams, as ProjectionView.history reads them. */
  private readonly streams = new Map<string, ProjectedEvent[]>();
  private readonly view = new StagedView({
    ...emptyView,
    history: (user, through) => (this.streams.get(user) ?? []).filter(({ revision }) => revision <= through),
  });
  private seq = 0;
  private readonly revisions = new Map<string, number>();
  /** What the projections returned for the last event applied. */
  lastChanges: DocChange[] = [];

  constructor(
    private readonly projections: readonly Projection[],
    private readonly defaultPrivacy: Privacy = 'private',
  ) {}

  /** Applies events as if each had been appended by `actor`. */
  apply(actor: Actor, ...events: (UserEvent | CheckpointEvent)[]): this {
    for (const event of events) {
      this.seq++;
      const revision = this.revisions.get(actor.user) ?? 0;
      this.revisions.set(actor.user, revision + 1);
      const projected: ProjectedEvent = {
        event,
        user: actor.user,
        username: actor.username,
        position: { commit: BigInt(this.seq), prepare: BigInt(this.seq) },
        revision,
        seq: this.seq,
        recordedAt: new Date(Date.UTC(2026, 0, 1) + this.seq * 1000).toISOString(),
      };
      let stream = this.streams.get(actor.user);
      if (!stream) this.streams.set(actor.user, (stream = []));
      stream.push(projected);
      this.lastChanges = [];
      for (const projection of this.projections) {
        const changes = projection.evolve(projected, this.view, { defaultPrivacy: this.defaultPrivacy });
        this.lastChanges.push(...changes);
        this.view.apply(changes);
      }
    }
    return this;
  }

  docs(collection: string): Doc[] {
    return this.view.find(collection, {}).map(({ doc }) => doc);
  }

  stored(collection: string): { id: string; doc: Doc }[] {
    return this.view.find(collection, {});
  }

  doc(collection: string, id: string): Doc | undefined {
    return this.view.get(collection, id);
  }
}

export const FEED_A = 'https://a.example.com/feed.xml';
export const FEED_B = 'https://b.example.com/feed.xml';

let clock = Date.UTC(2026, 2, 1);
const nextTime = () => new Date((clock += 60_000)).toISOString();

const envelope = (actor: Actor) => ({ id: randomUUID(), user: actor.user, timestamp: nextTime() });

export const events = {
  subscribe: (actor: Actor, feed = FEED_A): UserEvent => ({
    ...envelope(actor),
    type: 'subscribe',
    object: { rss_source_feed: feed },
    data: { rss_feed_title: `Title of ${feed}` },
  }),
  play: (actor: Actor, guid: string, feed = FEED_A, extra: Record<string, unknown> = {}): UserEvent => ({
    ...envelope(actor),
    type: 'play',
    object: { rss_source_feed: feed, rss_source_id: guid },
    data: { played: true, position: 10, device: 'phone', rss_item_title: `Episode ${guid}`, rss_feed_title: 'Feed title', ...extra },
  }),
  save: (actor: Actor, guid: string, options: { feed?: string; playlist?: string; removed?: boolean } = {}): UserEvent => ({
    ...envelope(actor),
    type: 'save',
    object: { rss_source_feed: options.feed ?? FEED_A, rss_source_id: guid },
    data: { ...(options.playlist ? { playlist: options.playlist } : {}), ...(options.removed ? { removed: true } : {}) },
  }),
  privacy: (actor: Actor, privacy: Privacy | null, feed?: string): UserEvent => ({
    ...envelope(actor),
    type: 'privacy',
    object: feed ? { rss_source_feed: feed } : null,
    data: { privacy },
  }),
  remove: (actor: Actor, scope: { rss_source_feed: string; rss_source_id?: string } | null): UserEvent => ({
    ...envelope(actor),
    type: 'remove',
    object: scope,
    data: {},
  }),
};
