/**
 * Positions in the store's global order (`$all`), the cursors of projections and syncs. Pure;
 * shared by the event-store port (src/stores/event-store.ts re-exports them) and the projections.
 */

/** A position in `$all`. In EventStoreDB events of one append can share a commit position, so
 * both numbers are kept; the embedded store uses its global sequence for both. */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export const START: Position = Object.freeze({ commit: 0n, prepare: 0n });

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** Positions travel through JSON (checkpoints, sync tokens) as "commit/prepare" strings. */
export function formatPosition(p: Position): string {
  return `${p.commit}/${p.prepare}`;
}

export function parsePosition(text: string): Position | undefined {
  const match = /^(\d{1,20})\/(\d{1,20})$/.exec(text);
  if (!match) return undefined;
  return { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) };
}
