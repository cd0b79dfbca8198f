/**
 * Turning validated client actions (`POST /v1/events`, sync tasks) into events. Pure: the id
 * generator is passed in so tests are deterministic.
 *
 * Actions are facts about what happened on a device, so nothing is rejected here (the
 * schemas already validated them) and nothing depends on the current state: the fold
 * resolves conflicts last-writer-wins. The only decision is the order of the batch.
 */
import type { ActionInput, UserEvent, UserEventOf, UserEventType } from './events.js';

export interface ActionContext {
  /** The authenticated user's id; clients never choose it. */
  readonly user: string;
  /** Fresh UUIDs for actions that carry none (clients may supply ids to make retries safe). */
  readonly newId: () => string;
}

/**
 * The events of a batch of actions, in timestamp order (stable: equal timestamps keep the
 * client's order). Most of the fold is order-independent (last-writer-wins by timestamp),
 * but `privacy` (the last applied wins) and `remove` (erases what is folded before it) are
 * not, and a batch should mean what its timestamps say: a `remove` queued before a `play`
 * must not erase that play because the client listed it first.
 */
export function decideActions(actions: readonly ActionInput[], ctx: ActionContext): UserEvent[] {
  return byTimestamp(actions).map((action) => actionToEvent(action, ctx));
}

/**
 * `POST /v1/events` (and the web pages' changes): the batch's events as {@link decideActions}
 * orders them, and their ids in the order of the request's actions (what the client matches
 * them by). The user's state changes nothing: actions are facts, the fold resolves conflicts.
 */
export function decideActionBatch(actions: readonly ActionInput[], ctx: ActionContext): { events: UserEvent[]; ids: string[] } {
  const inRequestOrder = actions.map((action) => actionToEvent(action, ctx));
  return { events: byTimestamp(inRequestOrder), ids: inRequestOrder.map((event) => event.id) };
}

/** One action as an event of this user: the client's id if it gave one, else a fresh one. */
export function actionToEvent(action: ActionInput, ctx: ActionContext): UserEvent {
  // Object.assign, not `{ ...action, id, user }`: keys added to a spread copy take V8's slow path
  // (bench/RESULTS.md, "Object copies in the projections").
  return Object.assign({}, action, { id: action.id ?? ctx.newId(), user: ctx.user });
}

/** A stable sort by timestamp (timestamps are normalised UTC strings, so string order is time order). */
export function byTimestamp<T extends { timestamp: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => compareIso(a.timestamp, b.timestamp));
}

export function compareIso(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Builds one event of `type` with a fresh id (used by decisions that emit events themselves). */
export function newEvent<T extends UserEventType>(
  ctx: ActionContext,
  type: T,
  timestamp: string,
  object: UserEventOf<T>['object'],
  data: UserEventOf<T>['data'],
): UserEventOf<T> {
  // TypeScript cannot relate the generic `type` to the matching union member; the
  // parameters are typed from that member, so the assembled object is one.
  return { id: ctx.newId(), timestamp, user: ctx.user, type, object, data } as UserEventOf<T>;
}

/** The device an event came from, when its type records one. */
export function deviceOf(event: UserEvent): string | undefined {
  return 'device' in event.data ? event.data.device : undefined;
}
