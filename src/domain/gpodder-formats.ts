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

/** The most entries a list may have (the simple API's PUT, the web's OPML import). */
export const MAX_LIST_ENTRIES = 10_000;

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
 * attributes matter here. Linear in the body, whatever it holds: the scan moves forward by
 * `indexOf` only (a regex searched globally for `<outline[^>]*>` or `<!--[\s\S]*?-->` tries
 * again at every later start when a tag is never closed: a 360 KB list of `<outline ` took 5 s,
 * every other request waiting).
 */
function parseOpml(body: string): string[] {
  if (!/<opml[\s>]/i.test(body)) throw new ListFormatError('expected an OPML document');
  const text = withoutXmlComments(body);
  const urls: string[] = [];
  // A literal's search tries each start once, in constant time: linear too.
  const outline = /<outline/gi;
  for (let found = outline.exec(text); found !== null; found = outline.exec(text)) {
    const afterName = found.index + found[0].length;
    const end = text.indexOf('>', afterName);
    if (end < 0) break;
    // `<outlines>` is another element; `<outline>`, `<outline/>` and `<outline …>` are outlines.
    if (!/[\w.:-]/.test(text.charAt(afterName))) {
      const attribute = XML_URL_ATTRIBUTE.exec(text.slice(afterName, end));
      if (attribute) urls.push(decodeXml(attribute[1] ?? attribute[2] ?? ''));
    }
    outline.lastIndex = end + 1;
  }
  return urls;
}

const XML_URL_ATTRIBUTE = /\bxmlUrl\s*=\s*(?:"([^"]*)"|'([^']*)')/i;

/** The text without its comments; a comment never closed runs to the end, as XML reads it. */
function withoutXmlComments(text: string): string {
  let start = text.indexOf('<!--');
  if (start < 0) return text;
  let kept = '';
  let from = 0;
  while (start >= 0) {
    kept += text.slice(from, start);
    const end = text.indexOf('-->', start + 4);
    if (end < 0) return kept;
    from = end + 3;
    start = text.indexOf('<!--', from);
  }
  return kept + text.slice(from);
}
