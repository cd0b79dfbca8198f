/**
 * The feed parser thread (see parse-thread.ts): reads the bodies it is sent as feeds.
 *
 * Messages in: `parse` (an id, the body). Out: `ready`, `parsed` (the facts), `failed` (the
 * error's message, and whether it is the feed's fault: a {@link FeedParseError}).
 */
import { parentPort } from 'node:worker_threads';
import type { FeedFacts } from '../domain/feeds.js';
import { decodeXml, FeedParseError, parseFeed } from './parse.js';

export interface ParseRequest {
  readonly type: 'parse';
  readonly id: number;
  readonly body: Uint8Array;
}

export type ParseReply =
  | { readonly type: 'ready' }
  | { readonly type: 'parsed'; readonly id: number; readonly facts: FeedFacts }
  | { readonly type: 'failed'; readonly id: number; readonly message: string; readonly malformed: boolean };

const port = parentPort;
if (!port) throw new Error('parse-worker.ts runs as a worker thread (see parse-thread.ts)');
const post = (reply: ParseReply) => port.postMessage(reply);

port.on('message', (request: ParseRequest) => {
  try {
    const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
    post({ type: 'parsed', id: request.id, facts: parseFeed(decodeXml(body)) });
  } catch (error) {
    post({ type: 'failed', id: request.id, message: error instanceof Error ? error.message : String(error), malformed: error instanceof FeedParseError });
  }
});
post({ type: 'ready' });
