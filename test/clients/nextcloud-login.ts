/**
 * Nextcloud Login Flow v2 as AntennaPod runs it (NextcloudLoginFlow.java), and a browser
 * stand-in for the user's part (open the login page, submit its form, grant access).
 *
 * AntennaPod: `POST {host}/index.php/login/v2` (empty form body) → `{poll: {token, endpoint},
 * login}`; opens `login` in the browser; polls `POST endpoint` with the body `token=<token>`
 * (not URL-encoded) once a second, for up to 5 minutes, any failure meaning "not yet"; a 200
 * must carry `server`, `loginName` and `appPassword` (else the login fails, without retry).
 */
import { getJSONObject, getString, parseObject } from './android-json.js';
import { parseHostUrl } from './antennapod.js';
import { HttpClient } from './okhttp.js';

export interface LoginFlowResult {
  readonly server: string;
  readonly loginName: string;
  readonly appPassword: string;
}

export interface LoginFlowStart {
  readonly login: string;
  readonly token: string;
  readonly endpoint: string;
}

export const BROWSER_USER_AGENT = 'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';

const FORM_URLENCODED = 'application/x-www-form-urlencoded; charset=utf-8';

/** NextcloudLoginFlow.doRequest: POST, form content type, anything but 200 is an IOException. */
async function doRequest(http: HttpClient, url: string, body: string): Promise<Record<string, unknown>> {
  const response = await http.execute('POST', url, { headers: { 'Content-Type': FORM_URLENCODED }, body });
  if (response.status !== 200) throw new Error(`IOException: Return code ${response.status}`);
  return parseObject(response.body);
}

/** NextcloudLoginFlow.start(): the first request. */
export async function startLoginFlow(http: HttpClient, hostUrl: string): Promise<LoginFlowStart> {
  const host = parseHostUrl(hostUrl);
  const result = await doRequest(http, `${host.scheme}://${host.host}:${host.port}${encodeURI(`${host.subfolder}/index.php/login/v2`)}`, '');
  const poll = getJSONObject(result, 'poll');
  return { login: getString(result, 'login'), token: getString(poll, 'token'), endpoint: getString(poll, 'endpoint') };
}

/** One poll: the credentials, or undefined while the server answers anything but 200. */
export async function pollLoginFlow(http: HttpClient, start: LoginFlowStart): Promise<LoginFlowResult | undefined> {
  let result;
  try {
    // URI.create(endpoint).toURL(): the endpoint exactly as given.
    result = await doRequest(http, new URL(start.endpoint).href, `token=${start.token}`);
  } catch {
    return undefined;
  }
  // Read in the subscriber: a 200 without these fields fails the login (no further polls).
  return { server: getString(result, 'server'), loginName: getString(result, 'loginName'), appPassword: getString(result, 'appPassword') };
}

export interface BrowserResult {
  /** The login page's answer. */
  readonly page: { status: number; body: string };
  /** The submitted form's fields, and the final answer (after redirects). */
  readonly submitted: Record<string, string>;
  readonly result: { status: number; url: string; body: string };
}

const decodeEntities = (text: string) =>
  text
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code: string) => String.fromCodePoint(parseInt(code, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The attributes of one tag (`<input type="hidden" name="x" value="y">`), names in lower case. */
export function tagAttributes(tag: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  const body = tag.replace(/^<\s*[\w-]+/, '').replace(/\/?>$/, '');
  for (const match of body.matchAll(/([^\s"'=<>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    attributes[match[1]!.toLowerCase()] = decodeEntities(match[2] ?? match[3] ?? match[4] ?? '');
  }
  return attributes;
}

/** The login page's form: where it goes, how, and the fields a browser would send as they are. */
export function parseLoginForm(html: string, pageUrl: string): { action: string; method: string; fields: Record<string, string> } {
  const forms = [...html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form\s*>/gi)].map((match) => match[0]);
  const form = forms.find((candidate) => /type\s*=\s*["']?password/i.test(candidate)) ?? forms[0];
  if (form === undefined) throw new Error(`no <form> in the login page: ${html.slice(0, 300)}`);
  const open = tagAttributes(/^<form\b[^>]*>/i.exec(form)![0]);
  const fields: Record<string, string> = {};
  for (const match of form.matchAll(/<input\b[^>]*>/gi)) {
    const input = tagAttributes(match[0]);
    const type = (input['type'] ?? 'text').toLowerCase();
    if (input['name'] === undefined || ['submit', 'button', 'image', 'file', 'reset'].includes(type)) continue;
    if ((type === 'checkbox' || type === 'radio') && !('checked' in input)) continue;
    fields[input['name']] = input['value'] ?? (type === 'checkbox' ? 'on' : '');
  }
  for (const match of form.matchAll(/<textarea\b[^>]*>([\s\S]*?)<\/textarea\s*>/gi)) {
    const name = tagAttributes(/^<textarea\b[^>]*>/i.exec(match[0])![0])['name'];
    if (name !== undefined) fields[name] = decodeEntities(match[1]!);
  }
  return { action: new URL(open['action'] || pageUrl, pageUrl).href, method: (open['method'] || 'GET').toUpperCase(), fields };
}

/**
 * The user in the browser: opens `login`, fills in the form's `username` and `password`,
 * grants access (`decision=grant`), keeps every other field of the form (hidden CSRF tokens
 * and the like) and submits it, `application/x-www-form-urlencoded`, with its own cookies.
 */
export async function grantInBrowser(
  loginUrl: string,
  username: string,
  password: string,
  options: { decision?: string; browser?: HttpClient } = {},
): Promise<BrowserResult> {
  const browser = options.browser ?? new HttpClient(BROWSER_USER_AGENT);
  const page = await browser.execute('GET', loginUrl, { headers: { Accept: 'text/html,application/xhtml+xml' } });
  if (page.status !== 200) throw new Error(`login page ${loginUrl}: ${page.status} ${page.body.slice(0, 300)}`);
  const form = parseLoginForm(page.body, page.url);
  const submitted = { ...form.fields, username, password, decision: options.decision ?? 'grant' };
  const body = new URLSearchParams(submitted).toString();
  const result = await browser.execute('POST', form.action, {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'text/html,application/xhtml+xml' },
    body,
  });
  return { page: { status: page.status, body: page.body }, submitted, result: { status: result.status, url: result.url, body: result.body } };
}

export interface AntennaPodLoginOptions {
  /** AntennaPod's OkHttp client (the device's); a fresh one by default. */
  readonly http?: HttpClient;
  /** The user's part; by default {@link grantInBrowser} with these credentials. */
  readonly browser?: (loginUrl: string) => Promise<unknown>;
  /** AntennaPod polls every second for five minutes. */
  readonly pollIntervalMs?: number;
  readonly timeoutMs?: number;
}

export interface AntennaPodLogin extends LoginFlowResult {
  readonly start: LoginFlowStart;
  /** Polls answered before the user acted (each must have been "not yet"). */
  readonly pollsBeforeGrant: number;
  readonly browser: unknown;
}

/**
 * The whole flow: start, one poll while the browser opens (the user has not acted yet: it
 * must not succeed), the user's part, then polls until the credentials come.
 */
export async function antennaPodLoginFlow(hostUrl: string, username: string, password: string, options: AntennaPodLoginOptions = {}): Promise<AntennaPodLogin> {
  const http = options.http ?? new HttpClient('AntennaPod/3.9.0');
  const start = await startLoginFlow(http, hostUrl);
  const early = await pollLoginFlow(http, start);
  if (early !== undefined) throw new Error(`the poll endpoint gave credentials before the user granted access: ${JSON.stringify(early)}`);
  const browser = await (options.browser ?? ((login: string) => grantInBrowser(login, username, password)))(start.login);
  const interval = options.pollIntervalMs ?? 1000;
  const deadline = Date.now() + (options.timeoutMs ?? 5 * 60_000);
  for (;;) {
    const result = await pollLoginFlow(http, start);
    if (result !== undefined) return { ...result, start, pollsBeforeGrant: 1, browser };
    if (Date.now() > deadline) throw new Error(`TimeoutException: no credentials from ${start.endpoint}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
