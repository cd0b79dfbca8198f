/**
 * Replaying a user's pending events on the read model's documents, for reads that answer ahead
 * of the projector (docs/design.md, "Read models") when a pending event changes documents
 * already there.
 */
import { LoadingView } from '../projector/loading-view.js';
import type { ReadModelStore } from '../stores/read-model.js';
import type { ProjectedEvent, Projection, ProjectionContext, ProjectionView } from '../../projections/projection.js';
import { StagedView } from '../../projections/staged-view.js';

/** Rounds of loading before a replay ahead of the projector gives up (each loads what the one before asked for). */
const REPLAY_ROUNDS = 4;
/** Documents a replay keeps loaded: a checkpoint reads all of the user's actions, or statuses. */
const REPLAY_CACHE = 1_000_000;

/**
 * `replay` — pending events run by a projection's own `evolve` over the view it is given, then
 * what is read of the outcome — on the read model's documents: the projector's own view
 * (src/projector/loading-view.ts) answers what it loaded and notes what it did not, which is
 * loaded before `replay` runs again, until a run asked for nothing missing. For events that
 * change documents already there (a `remove`, a `checkpoint`). Undefined when a run still
 * asked for more after {@link REPLAY_ROUNDS}; else what the last run read (wrapped: it may be undefined itself).
 */
export async function replayOnReadModel<T>(readModel: ReadModelStore, replay: (view: ProjectionView) => T): Promise<{ value: T } | undefined> {
  const view = new LoadingView(readModel, REPLAY_CACHE);
  for (let round = 0; round < REPLAY_ROUNDS; round++) {
    let answer: T;
    try {
      answer = replay(view);
    } catch (error) {
      // The projection contract: what a run with reads missing threw is discarded, as what it returned.
      if (!view.hasMissing()) throw error;
      await view.loadMissing();
      continue;
    }
    if (!view.hasMissing()) return { value: answer };
    await view.loadMissing();
  }
  return undefined;
}

/** The projections replayed for a user's reads read nothing of the context (privacy is for public views). */
export const CONTEXT: ProjectionContext = { defaultPrivacy: 'private' };

/** `view` with `pending` applied by `projection`'s own `evolve`, event after event. */
export function applyPending(view: ProjectionView, projection: Projection, pending: readonly ProjectedEvent[]): StagedView {
  const staged = new StagedView(view, { keepLog: false });
  for (const projected of pending) staged.apply(projection.evolve(projected, staged, CONTEXT));
  return staged;
}
