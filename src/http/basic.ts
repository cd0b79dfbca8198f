/** HTTP Basic credentials, as every API that takes them reads them. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Basic credentials. Their bytes are UTF-8 when they are valid UTF-8, else ISO-8859-1: Python's
 * aiohttp and requests (Music Assistant, scripts) and OkHttp by default encode Basic as
 * ISO-8859-1, Qt (Kasts) and AntennaPod's gpodder.net provider as UTF-8, and a password outside
 * ASCII must work from all of them.
 */
export function parseBasic(header: string): { username: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const bytes = Buffer.from(match[1]!, 'base64');
  let decoded: string;
  try {
    decoded = UTF8.decode(bytes);
  } catch {
    decoded = bytes.toString('latin1');
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
