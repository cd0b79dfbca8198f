/**
 * The HTTP side of the client replicas: Node's `fetch` dressed as AntennaPod's OkHttp client
 * (`User-Agent: AntennaPod/…`, a cookie jar per client, redirects followed like OkHttp), with
 * a log of every exchange and injectable faults (a request refused before it is sent, or a
 * response lost after the server handled the request).
 */

export interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly requestHeaders: Readonly<Record<string, string>>;
  readonly requestBody: string | undefined;
  readonly status: number;
  readonly responseBody: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly url: string;
  readonly body: string;
  readonly headers: Headers;
}

export interface FaultRequest {
  readonly method: string;
  readonly url: URL;
  readonly body: string | undefined;
}

export interface Fault {
  /** Which request fails. */
  readonly when: (request: FaultRequest) => boolean;
  /**
   * `refuse`: the request never leaves the client (no network); `drop-response`: the server
   * handles it, then the connection drops before the client reads the answer.
   */
  readonly kind: 'refuse' | 'drop-response';
}

export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

interface StoredCookie {
  readonly value: string;
  readonly path: string;
  readonly expiresAt: number | undefined;
}

/** A cookie jar keyed by host: cookies go back only to the server that set them. */
export class CookieJar {
  private readonly byHost = new Map<string, Map<string, StoredCookie>>();

  store(url: URL, setCookies: readonly string[]): void {
    for (const header of setCookies) {
      const [pair, ...attributes] = header.split(';');
      const eq = pair!.indexOf('=');
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      let path = '/';
      let expiresAt: number | undefined;
      for (const attribute of attributes) {
        const [key, ...rest] = attribute.split('=');
        const attrValue = rest.join('=').trim();
        switch (key!.trim().toLowerCase()) {
          case 'path':
            if (attrValue.startsWith('/')) path = attrValue;
            break;
          case 'max-age': {
            const seconds = Number(attrValue);
            if (Number.isFinite(seconds)) expiresAt = Date.now() + seconds * 1000;
            break;
          }
          case 'expires':
            if (expiresAt === undefined && !Number.isNaN(Date.parse(attrValue))) expiresAt = Date.parse(attrValue);
            break;
        }
      }
      const jar = this.byHost.get(url.host) ?? new Map<string, StoredCookie>();
      this.byHost.set(url.host, jar);
      if (expiresAt !== undefined && expiresAt <= Date.now()) jar.delete(name);
      else jar.set(name, { value, path, expiresAt });
    }
  }

  header(url: URL): string | undefined {
    const jar = this.byHost.get(url.host);
    if (!jar) return undefined;
    const pairs: string[] = [];
    for (const [name, cookie] of jar) {
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= Date.now()) continue;
      if (!url.pathname.startsWith(cookie.path)) continue;
      pairs.push(`${name}=${cookie.value}`);
    }
    return pairs.length > 0 ? pairs.join('; ') : undefined;
  }

  get(host: string, name: string): string | undefined {
    return this.byHost.get(host)?.get(name)?.value;
  }
}

export class HttpClient {
  readonly log: Exchange[] = [];
  readonly cookies = new CookieJar();
  private readonly faults: Fault[] = [];
  private readonly interludes: { when: (request: FaultRequest) => boolean; run: () => Promise<unknown> }[] = [];

  constructor(readonly userAgent: string) {}

  /** The next request matching `fault.when` fails that way (once). */
  failNext(fault: Fault): void {
    this.faults.push(fault);
  }

  /** Before the next request matching `when` is sent, `run` runs (another phone syncing, say). */
  beforeNext(when: (request: FaultRequest) => boolean, run: () => Promise<unknown>): void {
    this.interludes.push({ when, run });
  }

  async execute(method: string, url: string, options: { headers?: Record<string, string>; body?: string } = {}): Promise<HttpResponse> {
    let current = new URL(url);
    let currentMethod = method;
    let body = options.body;
    for (let redirects = 0; ; redirects++) {
      const interlude = this.interludes.findIndex((entry) => entry.when({ method: currentMethod, url: current, body }));
      if (interlude >= 0) await this.interludes.splice(interlude, 1)[0]!.run();
      const fault = this.takeFault({ method: currentMethod, url: current, body });
      if (fault?.kind === 'refuse') throw new NetworkError(`(injected) ${currentMethod} ${current.href} refused before sending`);
      const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...options.headers };
      const cookie = this.cookies.header(current);
      if (cookie !== undefined) headers['Cookie'] = cookie;
      if (body === undefined) {
        for (const key of Object.keys(headers)) if (key.toLowerCase() === 'content-type') delete headers[key];
      }
      const response = await fetch(current, { method: currentMethod, headers, body, redirect: 'manual' });
      const text = await response.text();
      this.cookies.store(current, response.headers.getSetCookie());
      this.log.push({ method: currentMethod, url: current.href, requestHeaders: headers, requestBody: body, status: response.status, responseBody: text });
      if (fault?.kind === 'drop-response')
        throw new NetworkError(`(injected) connection dropped after ${currentMethod} ${current.href} reached the server (${response.status})`);
      const location = response.headers.get('location');
      if ([301, 302, 303, 307, 308].includes(response.status) && location !== null && redirects < 20) {
        current = new URL(location, current);
        // OkHttp (like browsers) turns a redirected POST into a GET without a body, except for 307/308.
        if (response.status !== 307 && response.status !== 308 && currentMethod !== 'GET' && currentMethod !== 'HEAD') {
          currentMethod = 'GET';
          body = undefined;
        }
        continue;
      }
      return { status: response.status, url: current.href, body: text, headers: response.headers };
    }
  }

  private takeFault(request: FaultRequest): Fault | undefined {
    const index = this.faults.findIndex((fault) => fault.when(request));
    if (index < 0) return undefined;
    return this.faults.splice(index, 1)[0];
  }
}

/** OkHttp's `Credentials.basic(user, password, charset)`: UTF-8 for gpodder.net, ISO-8859-1 by default. */
export function basicCredentials(username: string, password: string, charset: 'utf8' | 'latin1'): string {
  return `Basic ${Buffer.from(`${username}:${password}`, charset).toString('base64')}`;
}
