/**
 * Event ids (docs/architecture.md, "Event ids"): UUIDs version 7 (RFC 9562), which begin with
 * their time in milliseconds, so ids made one after another sort one after another.
 *
 * Why the order matters: the stores index events and documents by id (the event store's
 * `(stream, id)` index for idempotency, `episode_actions` keyed by event id), and a B-tree
 * takes ordered keys at its right edge, a few pages per batch, where random keys land on a
 * different page each: the embedded store appended an upload of 100 actions in 1.3–1.8× the
 * time with the former random-looking ids (bench/RESULTS.md, "Event ids in time order").
 */
import { hash } from 'node:crypto';
import { v7 } from 'uuid';

/** A fresh event id for an action that carries none: later ids sort after earlier ones. */
export const newEventId = (): string => v7();

/** The largest time a UUIDv7 holds (48 bits of milliseconds). */
const MAX_MS = 2 ** 48 - 1;

/**
 * An id derived from content (the same content, the same id: an idempotency key), ordered by
 * `at`, the time the content says it happened: a UUIDv7 whose time is `at` and whose other
 * bits are `digest` (the content's SHA-256: {@link contentDigest}). Content happening at the
 * same millisecond is told apart by 74 bits of the digest.
 */
export function derivedEventId(at: string, digest: Uint8Array): string {
  const ms = Math.min(MAX_MS, Math.max(0, Date.parse(at) || 0));
  return v7({ msecs: ms, random: digest.subarray(0, 16) });
}

/** The SHA-256 of `content`: what {@link derivedEventId} takes. */
export const contentDigest = (content: string): Buffer => hash('sha256', content, 'buffer');
