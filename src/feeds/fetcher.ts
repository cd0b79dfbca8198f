/**
 * One feed fetch, SSRF-safe (docs/design.md, "Feeds"): a conditional GET over node:http(s)
 * with connect and total timeouts, a size cap on the decoded body, and redirects followed by
 * hand (at most `maxRedirects`), each hop checked again.
 *
 * The address check is done inside the socket's own `lookup`: the host is resolved once, every
 * address it resolves to is checked, and the connection is made to those checked addresses.
 * So a DNS answer that changes between a check and the connection (DNS rebinding) cannot slip
 * through: there is no second resolution. IP-literal hosts are never looked up by Node, so they
 * are checked before the request.
 *
 * node:http rather than the global fetch: fetch (undici) takes a custom lookup only through an
 * Agent of the separate `undici` package, while node:http takes one per request.
 */
import type { LookupAddress } from 'node:dns';
import { promises as dns } from 'node:dns';
import type { IncomingMessage } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { RefusedAddressError, refusedRange } from './address-policy.js';

export interface FetcherOptions {
  /** FEEDS_ALLOW_PRIVATE_NETWORKS: skip the address policy (tests, LAN-only setups). */
  readonly allowPrivateNetworks: boolean;
  readonly userAgent: string;
  readonly connectTimeoutMs: number;
  /** For the whole fetch, redirects included. */
  readonly totalTimeoutMs: number;
  /** Largest body, decoded (a gzip bomb counts at its inflated size). */
  readonly maxBytes: number;
  readonly maxRedirects: number;
  /** The resolver (tests); default the system's, as `dns.lookup` (hosts file included). */
  readonly resolve?: (host: string) => Promise<LookupAddress[]>;
  /** The policy (tests); default {@link refusedRange}: public unicast only. */
  readonly refused?: (address: string) => string | undefined;
}

/** What the previous fetch answered, for a conditional GET. */
export interface Validators {
  readonly etag?: string | undefined;
  readonly lastModified?: string | undefined;
}

export type FetchOutcome =
  | {
      readonly kind: 'fetched';
      readonly url: string;
      readonly body: Buffer;
      readonly etag?: string;
      readonly lastModified?: string;
      readonly redirects: number;
    }
  | { readonly kind: 'not_modified'; readonly url: string; readonly etag?: string; readonly lastModified?: string; readonly redirects: number };

export type FetchFailureCode = 'bad_url' | 'refused_address' | 'timeout' | 'too_large' | 'too_many_redirects' | 'http_status' | 'network';

/** A fetch that failed; `code` is what logs and metrics count. */
export class FeedFetchError extends Error {
  override readonly name = 'FeedFetchError';
  constructor(
    readonly code: FetchFailureCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function fetchFeed(url: string, validators: Validators, options: FetcherOptions): Promise<FetchOutcome> {
  const deadline = Date.now() + options.totalTimeoutMs;
  let current = url;
  for (let redirects = 0; ; redirects++) {
    const answer = await requestOnce(current, validators, options, deadline);
    if (answer.kind === 'redirect') {
      if (redirects >= options.maxRedirects)
        throw new FeedFetchError('too_many_redirects', `more than ${options.maxRedirects} redirects (last to ${answer.location})`);
      current = answer.location;
      continue;
    }
    return { ...answer, redirects };
  }
}

type HopAnswer =
  | { kind: 'redirect'; location: string }
  | { kind: 'fetched'; url: string; body: Buffer; etag?: string; lastModified?: string }
  | { kind: 'not_modified'; url: string; etag?: string; lastModified?: string };

function parseHttpUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new FeedFetchError('bad_url', `not a URL: ${text.slice(0, 200)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FeedFetchError('bad_url', `only http(s) feeds are fetched, not ${url.protocol}`);
  return url;
}

/** The `lookup` of the socket: resolve once, refuse if any address is refused, connect to those checked. */
function checkedLookup(options: FetcherOptions) {
  const resolve = options.resolve ?? ((host: string) => dns.lookup(host, { all: true, verbatim: true }));
  const refused = options.refused ?? refusedRange;
  return (hostname: string, lookupOptions: { all?: boolean }, callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void) => {
    resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0) return callback(new FeedFetchError('network', `${hostname} resolves to no address`), '', 4);
        if (!options.allowPrivateNetworks) {
          for (const { address } of addresses) {
            const range = refused(address);
            if (range !== undefined) return callback(new RefusedAddressError(hostname, address, range), '', 4);
          }
        }
        if (lookupOptions.all) return callback(null, addresses);
        const [first] = addresses;
        return callback(null, first!.address, first!.family);
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), '', 4),
    );
  };
}

function requestOnce(target: string, validators: Validators, options: FetcherOptions, deadline: number): Promise<HopAnswer> {
  const url = parseHttpUrl(target);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0 && !options.allowPrivateNetworks) {
    const range = (options.refused ?? refusedRange)(host);
    if (range !== undefined) return Promise.reject(new RefusedAddressError(host, host, range));
  }
  const remaining = deadline - Date.now();
  if (remaining <= 0) return Promise.reject(new FeedFetchError('timeout', `no answer within ${options.totalTimeoutMs} ms`));

  return new Promise<HopAnswer>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, answer?: HopAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(totalTimer);
      clearTimeout(connectTimer);
      if (error) {
        request.destroy();
        reject(error);
      } else resolve(answer!);
    };
    const headers: Record<string, string> = {
      'User-Agent': options.userAgent,
      Accept: 'application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5',
      'Accept-Encoding': 'gzip, deflate, br',
    };
    if (validators.etag) headers['If-None-Match'] = validators.etag;
    if (validators.lastModified) headers['If-Modified-Since'] = validators.lastModified;
    const transport = url.protocol === 'https:' ? https : http;
    // agent: false: no pooled socket, so every hop goes through the checked lookup.
    const request = transport.request(url, { method: 'GET', headers, lookup: checkedLookup(options) as never, agent: false });
    const totalTimer = setTimeout(() => finish(new FeedFetchError('timeout', `no complete answer within ${options.totalTimeoutMs} ms`)), remaining);
    let connectTimer: NodeJS.Timeout | undefined = setTimeout(
      () => finish(new FeedFetchError('timeout', `no connection within ${options.connectTimeoutMs} ms`)),
      Math.min(options.connectTimeoutMs, remaining),
    );
    request.on('socket', (socket) => {
      const connected = () => {
        clearTimeout(connectTimer);
        connectTimer = undefined;
      };
      if (!socket.connecting) connected();
      else socket.once('connect', connected);
    });
    request.on('error', (error) => {
      if (error instanceof RefusedAddressError || error instanceof FeedFetchError) return finish(error);
      finish(new FeedFetchError('network', error.message));
    });
    request.on('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      const etag = header(response, 'etag');
      const lastModified = header(response, 'last-modified');
      const validatorsOf = { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
      if (REDIRECTS.has(status)) {
        response.resume();
        const location = header(response, 'location');
        if (!location) return finish(new FeedFetchError('http_status', `redirect ${status} without a Location`, status));
        let next: string;
        try {
          next = new URL(location, url).toString();
        } catch {
          return finish(new FeedFetchError('bad_url', `redirect to an invalid URL: ${location.slice(0, 200)}`));
        }
        return finish(undefined, { kind: 'redirect', location: next });
      }
      if (status === 304) {
        response.resume();
        return finish(undefined, { kind: 'not_modified', url: url.toString(), ...validatorsOf });
      }
      if (status < 200 || status > 299) {
        response.resume();
        return finish(new FeedFetchError('http_status', `HTTP ${status}`, status));
      }
      const declared = Number(header(response, 'content-length'));
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        return finish(new FeedFetchError('too_large', `${declared} bytes declared, more than the ${options.maxBytes} allowed`));
      }
      let body: Readable;
      try {
        body = decoded(response);
      } catch (error) {
        return finish(error as Error);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      body.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          body.destroy();
          return finish(new FeedFetchError('too_large', `more than the ${options.maxBytes} bytes allowed`));
        }
        chunks.push(chunk);
      });
      body.on('error', (error) => finish(new FeedFetchError('network', `reading the body: ${error.message}`)));
      body.on('end', () => finish(undefined, { kind: 'fetched', url: url.toString(), body: Buffer.concat(chunks), ...validatorsOf }));
    });
    request.end();
  });
}

function header(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return typeof value === 'string' && value.length > 0 && value.length <= 1024 ? value : undefined;
}

function decoded(response: IncomingMessage): Readable {
  const encoding = (header(response, 'content-encoding') ?? 'identity').trim().toLowerCase();
  switch (encoding) {
    case 'identity':
      return response;
    case 'gzip':
    case 'x-gzip':
      return response.pipe(zlib.createGunzip());
    case 'deflate':
      return response.pipe(zlib.createInflate());
    case 'br':
      return response.pipe(zlib.createBrotliDecompress());
    default:
      throw new FeedFetchError('network', `unsupported Content-Encoding ${encoding.slice(0, 40)}`);
  }
}
