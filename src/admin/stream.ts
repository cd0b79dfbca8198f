/**
 * A user's stream as an admin reads it (`npm run admin -- stream <username>`,
 * `GET /admin/users/:username/stream`): each retained event with its revision, type, device
 * time, recorded time (the original's, for a copy an EventStoreDB erasure made) and object,
 * plus the stream's truncation point and metadata.
 */
import { streams } from '../domain/events.js';
import type { Account } from '../stores/accounts.js';
import type { EventStore, JsonObject, JsonValue, RecordedEvent } from '../stores/event-store.js';
import { readStreamOrEmpty, StreamNotFoundError } from '../stores/event-store.js';
import { rewriteOrigin } from '../retention/history.js';
import { formatTable } from './table.js';
import { userSummary, type UserSummary } from './users.js';

export interface StreamEventRow {
  revision: string;
  type: string;
  /** The device's time of the action (the envelope's `timestamp`), if the event has one. */
  device_time: string | null;
  recorded_at: string;
  /** For a copy made by an EventStoreDB erasure: its original's revision and recorded time (retention ages it by that). */
  rewritten_from: { revision: string; recorded_at: string } | null;
  object: JsonValue;
  data: JsonValue;
}

export interface StreamInspection {
  user: UserSummary;
  stream: string;
  /** Revision of the last event ever written, retained or not. */
  last_revision: string | null;
  /** Events below this revision are hidden (retention's `$tb`); null if never truncated. */
  truncate_before: string | null;
  soft_deleted: boolean;
  /** Custom metadata keys (e.g. what retention records). */
  metadata: JsonObject;
  /** Retained events shown (the last `limit` when a limit is given). */
  events: StreamEventRow[];
}

export async function inspectStream(eventStore: EventStore, account: Account, options: { limit?: number } = {}): Promise<StreamInspection> {
  const stream = streams.user(account.id);
  const [state, meta, recorded] = await Promise.all([
    eventStore.streamState(stream),
    eventStore.getStreamMetadata(stream),
    readEvents(eventStore, stream, options.limit),
  ]);
  return {
    user: userSummary(account),
    stream,
    last_revision: state.lastRevision === 'no_stream' ? null : state.lastRevision.toString(),
    truncate_before: meta.metadata.truncateBefore === undefined ? null : meta.metadata.truncateBefore.toString(),
    soft_deleted: state.softDeleted,
    metadata: meta.metadata.custom ?? {},
    events: recorded.map(toRow),
  };
}

async function readEvents(eventStore: EventStore, stream: string, limit: number | undefined): Promise<RecordedEvent[]> {
  if (limit === undefined) return readStreamOrEmpty(eventStore, stream);
  try {
    return (await eventStore.readStream(stream, { direction: 'backwards', fromRevision: 'end', maxCount: limit })).reverse();
  } catch (error) {
    if (error instanceof StreamNotFoundError) return [];
    throw error;
  }
}

function toRow(event: RecordedEvent): StreamEventRow {
  // Stored `data` is the whole envelope {id, timestamp, user, type, object, data}.
  const timestamp = event.data['timestamp'];
  const origin = rewriteOrigin(event.metadata);
  return {
    revision: event.revision.toString(),
    type: event.type,
    device_time: typeof timestamp === 'string' ? timestamp : null,
    recorded_at: event.recordedAt.toISOString(),
    rewritten_from: origin ? { revision: origin.revision, recorded_at: origin.recorded_at } : null,
    object: event.data['object'] ?? null,
    data: event.data['data'] ?? null,
  };
}

/** The readable form: a header about the stream, then one line per event. */
export function formatStream(inspection: StreamInspection): string {
  const truncation =
    inspection.truncate_before === null || inspection.truncate_before === '0'
      ? 'none'
      : `revision ${inspection.truncate_before} (revisions below it are hidden)`;
  const field = (label: string, value: string) => `${`${label}:`.padEnd(18)}${value}`;
  const header = [
    field('user', `${inspection.user.username} (${inspection.user.id})${inspection.user.disabled ? ' [disabled]' : ''}`),
    field('stream', inspection.stream),
    field('last revision', `${inspection.last_revision ?? 'none (no events yet)'}${inspection.soft_deleted ? ' [deleted]' : ''}`),
    field('truncated before', truncation),
  ];
  if (Object.keys(inspection.metadata).length > 0) header.push(field('metadata', JSON.stringify(inspection.metadata)));
  header.push(field('events shown', String(inspection.events.length)), '');
  const recorded = (event: StreamEventRow) =>
    event.rewritten_from ? `${event.rewritten_from.recorded_at} (copy of r${event.rewritten_from.revision})` : event.recorded_at;
  const rows = inspection.events.map((event) => [
    event.revision,
    event.type,
    event.device_time ?? '-',
    recorded(event),
    describeObject(event.object),
    clip(JSON.stringify(event.data), 60),
  ]);
  return [...header, formatTable(['revision', 'type', 'device time', 'recorded', 'object', 'data'], rows)].join('\n');
}

/** `feed` for a podcast, `feed #guid` for an episode, `-` for the account. */
function describeObject(object: JsonValue): string {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) return '-';
  const feed = object['rss_source_feed'];
  const item = object['rss_source_id'];
  if (typeof feed !== 'string') return clip(JSON.stringify(object), 80);
  return typeof item === 'string' ? `${feed} #${clip(item, 40)}` : feed;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
