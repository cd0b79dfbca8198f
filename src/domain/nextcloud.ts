/**
 * The Nextcloud gPodder Sync API (the Nextcloud app thrillfall/nextcloud-gpodder, which
 * AntennaPod and Kasts offer as their second sync provider) in terms of gpodder actions. Pure.
 *
 * Its cursor is a clock, not a sequence: AntennaPod's Nextcloud provider ignores the answer of
 * an upload and takes its own clock, in unix seconds, as the next `since`; Kasts sends back
 * every answer plus one, and downloads again at once while a download's `timestamp` lags its
 * own clock by more than ten seconds. So a `since` selects what the store recorded (the
 * server's clock, never the device's) from {@link SINCE_MARGIN_S} before it: a late upload is
 * recorded when it arrives, so it is never lost, and a device clock ahead of the server's is
 * covered by the margin. An upload answers the server's clock; a download answers it plus the
 * margin less {@link RECORDING_GRACE_S} ({@link downloadTimestamp}): answered as the bare
 * clock, a Kasts whose clock runs ahead of the server's would download the margin again and
 * again, as fast as the server answers, until its last action is ten minutes old; and the
 * cursor sent back reads from the download less the grace: what was recorded meanwhile but not
 * yet readable. What falls in the margin is delivered again, which both apps apply idempotently
 * (docs/design.md, "Nextcloud cursor").
 */
import { RECORDING_GRACE_S, SINCE_MARGIN_S } from './cursors.js';
import type { GpodderAction } from './gpodder.js';
import type { Query } from './documents.js';

/** The `timestamp` a download answers at `nowS` (see the module's comment). */
export function downloadTimestamp(nowS: number): number {
  return nowS + SINCE_MARGIN_S - RECORDING_GRACE_S;
}

/**
 * The recording time from which a `since` reads (undefined: from the start). A `since` later
 * than any `timestamp` this server answers (a device's clock far ahead) reads as the latest.
 */
export function recordedFrom(since: number | undefined, nowS: number): number | undefined {
  if (since === undefined || since <= 0) return undefined;
  return Math.min(since, downloadTimestamp(nowS)) - SINCE_MARGIN_S;
}

/** A user's per-user documents recorded at or after `from` (all without it; `at` in unix seconds), in `$all` order. */
export function recordedFromQuery(user: string, from: number | undefined): Query {
  return { where: { user }, ...(from === undefined ? {} : { greaterThan: { field: 'at', value: from - 1 } }), orderBy: [{ field: 'seq', direction: 'asc' }] };
}

/** An episode action as the Nextcloud app answers it. */
export interface NextcloudAction {
  podcast: string;
  episode: string;
  guid: string | null;
  /** Upper case, as the Nextcloud app stores it; AntennaPod and Kasts read any case. */
  action: string;
  /** `YYYY-MM-DDTHH:MM:SS` in UTC: what AntennaPod and Kasts parse (Kasts refuses a zone). */
  timestamp: string;
  /** -1 when unknown, as the Nextcloud app answers. */
  started: number;
  position: number;
  total: number;
}

export function toNextcloudAction(action: GpodderAction): NextcloudAction {
  return {
    podcast: action.podcast,
    episode: action.episode,
    guid: action.guid ?? null,
    action: action.action.toUpperCase(),
    timestamp: action.timestamp,
    started: action.started ?? -1,
    position: action.position ?? -1,
    total: action.total ?? -1,
  };
}
