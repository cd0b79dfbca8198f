/**
 * The ETag of an answer: Express's weak ETag, the same value (`W/"<length in hex>-<SHA-1 in
 * base64, 27 characters>"`, the `etag` package's), computed with the one-shot `hash`. Express's
 * own generator builds a `createHash` object for every answer, and each is a native object the
 * next scavenge of the HTTP thread must process (bench/RESULTS.md, "Hashes without hash objects").
 */
import { hash } from 'node:crypto';

export function weakEtag(body: string | Buffer, encoding: BufferEncoding = 'utf8'): string {
  // Express hands it a Buffer (it converts a string body before asking for the ETag).
  const bytes = typeof body === 'string' ? Buffer.from(body, encoding) : body;
  return `W/"${bytes.length.toString(16)}-${hash('sha1', bytes, 'base64').slice(0, 27)}"`;
}
