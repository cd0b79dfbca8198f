/**
 * The gpodder.net simple API's subscription list formats: OPML, plain text (one URL a line)
 * and JSON (a list of URLs). Pure. Parsing returns the URLs as written; the caller sanitises.
 */
export const SIMPLE_FORMATS = ['opml', 'json', 'txt'] as const;
export type SimpleFormat = (typeof SIMPLE_FORMATS)[number];

export const CONTENT_TYPES: Record<SimpleFormat, string> = {
  opml: 'text/x-opml; charset=utf-8',
  json: 'application/json; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
};

export interface ListedPodcast {
  readonly url: string;
  readonly title: string | null;
}

export class ListFormatError extends Error {
  override readonly name = 'ListFormatError';
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const escapeXml = (text: string) => text.replace(/[&<>"']/g, (char) => XML_ESCAPES[char]!);

export function formatList(format: SimpleFormat, podcasts: readonly ListedPodcast[]): string {
  switch (format) {
    case 'json':
      return JSON.stringify(podcasts.map((podcast) => podcast.url));
    case 'txt':
      return podcasts.map((podcast) => `${podcast.url}\n`).join('');
    case 'opml':
      return toOpml(podcasts);
  }
}

function toOpml(podcasts: readonly ListedPodcast[]): string {
  const outlines = podcasts.map((podcast) => {
    const title = escapeXml(podcast.title ?? podcast.url);
    return `    <outline type="rss" text="${title}" title="${title}" xmlUrl="${escapeXml(podcast.url)}"/>\n`;
  });
  return `<?xml version="1.0" encoding="utf-8"?>\n<opml version="2.0">\n  <head>\n    <title>podsync subscriptions</title>\n  </head>\n  <body>\n${outlines.join('')}  </body>\n</opml>\n`;
}

/** The URLs of an uploaded list; throws {@link ListFormatError} when the body is not that format. */
export function parseList(format: SimpleFormat, body: string): string[] {
  switch (format) {
    case 'json':
      return parseJsonList(body);
    case 'txt':
      return body
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('#'));
    case 'opml':
      return parseOpml(body);
  }
}

function parseJsonList(body: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new ListFormatError('the body is not valid JSON');
  }
  if (!Array.isArray(value)) throw new ListFormatError('expected a JSON list of feed URLs');
  return value.map((entry, index) => {
    if (typeof entry === 'string') return entry;
    // Podcast objects (`{url, title, ...}`) as gpodder.net's own JSON lists have them.
    if (typeof entry === 'object' && entry !== null && typeof (entry as { url?: unknown }).url === 'string') return (entry as { url: string }).url;
    throw new ListFormatError(`entry ${index} is neither a URL nor an object with a url`);
  });
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x') || entity.startsWith('#X')) return safeCodePoint(parseInt(entity.slice(2), 16), whole);
    if (entity.startsWith('#')) return safeCodePoint(parseInt(entity.slice(1), 10), whole);
    return ENTITIES[entity] ?? whole;
  });
}

function safeCodePoint(code: number, fallback: string): string {
  return Number.isInteger(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : fallback;
}

/**
 * Every `xmlUrl` of the OPML's outlines, nested ones included. A tolerant scan rather than a
 * full XML parser: OPML files in the wild are often not well-formed, and only the outline
 * attributes matter here.
 */
function parseOpml(body: string): string[] {
  if (!/<opml[\s>]/i.test(body)) throw new ListFormatError('expected an OPML document');
  const urls: string[] = [];
  const withoutComments = body.replace(/<!--[\s\S]*?-->/g, '');
  for (const tag of withoutComments.matchAll(/<outline\b([^>]*)>/gi)) {
    const attribute = /\bxmlUrl\s*=\s*(?:"([^"]*)"|'([^']*)')/i.exec(tag[1]!);
    if (attribute) urls.push(decodeXml(attribute[1] ?? attribute[2] ?? ''));
  }
  return urls;
}
