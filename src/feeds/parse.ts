/**
 * Feed parsing (docs/design.md, "Feeds"): RSS 2.0 with the iTunes and Podcasting 2.0
 * namespaces, and Atom, into the facts the service keeps: the podcast's title, author,
 * description, cover (src and `podcast:images` srcset) and its episodes (guid, title,
 * enclosure URL/size/type, duration, published).
 *
 * The XML parser is fast-xml-parser: pure JavaScript (no native build next to better-sqlite3),
 * actively maintained, among the fastest JS parsers, with a validator that reports malformed
 * documents instead of guessing, and limits against entity expansion, deep nesting and
 * prototype-polluting names, which a parser of untrusted documents needs.
 *
 * Everything taken from a feed is bounded and cleaned to what events accept (see
 * src/domain/events.ts): no control characters, titles and texts cut to their limits, URLs
 * http(s) only; markup is stripped from descriptions so no client renders a feed's HTML.
 * A malformed document throws {@link FeedParseError}, recorded as a failed fetch.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { LIMITS } from '../domain/events.js';
import type { FeedFacts, FeedEpisode } from '../domain/feeds.js';
import { MAX_FEED_EPISODES } from '../domain/feeds.js';

export class FeedParseError extends Error {
  override readonly name = 'FeedParseError';
}

const ITUNES_NS = 'http://www.itunes.com/dtds/podcast-1.0.dtd';
const PODCAST_NS = 'https://podcastindex.org/namespace/1.0';
const ATOM_NS = 'http://www.w3.org/2005/Atom';

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Titles such as "2024" stay strings.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Items and links repeat; a single one must not come back as an object instead of a list.
  isArray: (name) => ['item', 'entry', 'link', 'enclosure'].some((local) => name === local || name.endsWith(`:${local}`)),
  processEntities: true,
  htmlEntities: true,
});

/** The document's text: in the encoding its XML declaration names (UTF-8 when none, or one unknown). */
export function decodeXml(body: Buffer): string {
  const declared = /^\uFEFF?<\?xml[^>]*encoding=["']([A-Za-z0-9._-]{1,40})["']/.exec(body.subarray(0, 200).toString('latin1'))?.[1];
  if (declared && !/^utf-?8$/i.test(declared)) {
    try {
      return new TextDecoder(declared).decode(body);
    } catch {
      // An encoding TextDecoder does not know: read as UTF-8, as most such feeds really are.
    }
  }
  return new TextDecoder('utf-8').decode(body);
}

export function parseFeed(xml: string): FeedFacts {
  const validation = XMLValidator.validate(xml);
  if (validation !== true) {
    const { msg, line } = validation.err;
    throw new FeedParseError(`malformed XML at line ${line}: ${msg}`);
  }
  let document: Node;
  try {
    document = parser.parse(xml) as Node;
  } catch (error) {
    throw new FeedParseError(`malformed XML: ${error instanceof Error ? error.message : String(error)}`);
  }
  const rss = asNode(document['rss']) ?? asNode(document['rdf:RDF']);
  if (rss) return parseRss(rss);
  const root = Object.entries(document).find(([name]) => name === 'feed' || name.endsWith(':feed'));
  if (root && asNode(root[1])) return parseAtom(asNode(root[1])!, root[0].includes(':') ? `${root[0].split(':')[0]}:` : '');
  throw new FeedParseError('neither an RSS nor an Atom feed');
}

// ---- RSS -----------------------------------------------------------------------------------

/** The prefixes a document bound the namespaces to (feeds almost always use `itunes:`, `podcast:`). */
function prefixes(root: Node): { itunes: string; podcast: string; atom: string } {
  const bound = (uri: string, fallback: string) => {
    for (const [key, value] of Object.entries(root)) {
      if (key.startsWith('@_xmlns:') && typeof value === 'string' && value.replace(/\/$/, '') === uri.replace(/\/$/, ''))
        return `${key.slice('@_xmlns:'.length)}:`;
    }
    return fallback;
  };
  return { itunes: bound(ITUNES_NS, 'itunes:'), podcast: bound(PODCAST_NS, 'podcast:'), atom: bound(ATOM_NS, 'atom:') };
}

function parseRss(rss: Node): FeedFacts {
  const channel = asNode(rss['channel']);
  if (!channel) throw new FeedParseError('an RSS feed without a channel');
  const ns = prefixes(rss);
  const cover = {
    ...optional('src', httpUrl(attr(channel[`${ns.itunes}image`], 'href')) ?? httpUrl(text(asNode(channel['image'])?.['url']))),
    ...optional('srcset', bounded(attr(first(channel[`${ns.podcast}images`]), 'srcset'), LIMITS.text)),
  };
  const items = list(channel['item'] ?? rss['item']);
  return {
    podcast: {
      title: bounded(text(channel['title']), LIMITS.title) ?? null,
      author: bounded(text(channel[`${ns.itunes}author`]) ?? text(channel['managingEditor']), LIMITS.title) ?? null,
      description: plain(text(channel['description']) ?? text(channel[`${ns.itunes}summary`])),
      link: httpUrl(text(channel['link'])) ?? null,
      podcast_guid: bounded(text(channel[`${ns.podcast}guid`]), LIMITS.id) ?? null,
      cover: Object.keys(cover).length > 0 ? cover : null,
    },
    episodes: episodes(items.map((item) => rssEpisode(item, ns))),
  };
}

function rssEpisode(item: Node, ns: { itunes: string }): FeedEpisode | undefined {
  const enclosure = asNode(list(item['enclosure'])[0]);
  const url = httpUrl(attr(enclosure, 'url'));
  const guid = bounded(text(item['guid']), LIMITS.guid) ?? url;
  if (guid === undefined) return undefined;
  return {
    guid,
    title: bounded(text(item['title']), LIMITS.title) ?? null,
    url: url ?? null,
    type: bounded(attr(enclosure, 'type'), LIMITS.id) ?? null,
    size: nonNegativeInt(attr(enclosure, 'length')),
    duration: duration(text(item[`${ns.itunes}duration`])),
    published: isoDate(text(item['pubDate']) ?? text(item['dc:date'])),
  };
}

// ---- Atom ----------------------------------------------------------------------------------

function parseAtom(feed: Node, prefix: string): FeedFacts {
  const get = (node: Node, name: string) => node[`${prefix}${name}`];
  const logo = httpUrl(text(get(feed, 'logo'))) ?? httpUrl(text(get(feed, 'icon')));
  return {
    podcast: {
      title: bounded(text(get(feed, 'title')), LIMITS.title) ?? null,
      author: bounded(text(asNode(get(feed, 'author'))?.[`${prefix}name`]), LIMITS.title) ?? null,
      description: plain(text(get(feed, 'subtitle'))),
      link: httpUrl(atomLink(list(get(feed, 'link')), 'alternate')) ?? null,
      podcast_guid: null,
      cover: logo ? { src: logo } : null,
    },
    episodes: episodes(
      list(get(feed, 'entry')).map((entry): FeedEpisode | undefined => {
        const links = list(get(entry, 'link'));
        const enclosure = links.find((link) => attr(link, 'rel') === 'enclosure');
        const url = httpUrl(attr(enclosure, 'href'));
        const guid = bounded(text(get(entry, 'id')), LIMITS.guid) ?? url;
        if (guid === undefined) return undefined;
        return {
          guid,
          title: bounded(text(get(entry, 'title')), LIMITS.title) ?? null,
          url: url ?? null,
          type: bounded(attr(enclosure, 'type'), LIMITS.id) ?? null,
          size: nonNegativeInt(attr(enclosure, 'length')),
          duration: null,
          published: isoDate(text(get(entry, 'published')) ?? text(get(entry, 'updated'))),
        };
      }),
    ),
  };
}

function atomLink(links: Node[], rel: string): string | undefined {
  const link = links.find((candidate) => (attr(candidate, 'rel') ?? 'alternate') === rel);
  return attr(link, 'href');
}

// ---- values --------------------------------------------------------------------------------

/** One episode per guid (the first, as feeds list the newest first), at most {@link MAX_FEED_EPISODES}. */
function episodes(candidates: (FeedEpisode | undefined)[]): FeedEpisode[] {
  const seen = new Set<string>();
  const kept: FeedEpisode[] = [];
  for (const episode of candidates) {
    if (!episode || seen.has(episode.guid)) continue;
    seen.add(episode.guid);
    kept.push(episode);
    if (kept.length >= MAX_FEED_EPISODES) break;
  }
  return kept;
}

const asNode = (value: unknown): Node | undefined => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Node) : undefined);
const list = (value: unknown): Node[] =>
  (Array.isArray(value) ? value : value === undefined ? [] : [value]).map((entry) => asNode(entry) ?? { '#text': entry });
const first = (value: unknown): Node | undefined => list(value)[0];
const optional = <K extends string>(key: K, value: string | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, string>));

/** The text of an element: a string, or the `#text` of one with attributes (`<guid isPermaLink>`). */
function text(value: unknown): string | undefined {
  if (Array.isArray(value)) return text(value[0]);
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  const node = asNode(value);
  if (node && node['#text'] !== undefined) return text(node['#text']);
  return undefined;
}

function attr(node: unknown, name: string): string | undefined {
  const value = asNode(node)?.[`@_${name}`];
  return typeof value === 'string' ? value : undefined;
}

// Control characters other than tab/newline are refused by the event schemas.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

function bounded(value: string | undefined, max: number): string | undefined {
  const cleaned = value?.replace(CONTROL, '').trim();
  if (!cleaned) return undefined;
  return cleaned.length > max ? cleaned.slice(0, max) : cleaned;
}

/** Descriptions as plain text: markup removed, HTML's own escapes read, whitespace collapsed, bounded. */
function plain(value: string | undefined): string | null {
  const stripped = withoutTags(value)
    ?.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|amp|lt|gt|quot|apos|nbsp);/gi, (_match, entity: string) => htmlEntity(entity))
    .replace(/\s+/g, ' ')
    .trim();
  return bounded(stripped, LIMITS.text) ?? null;
}

/**
 * Each `<…>` replaced by a space; a `<` never closed stays, with what follows it. Linear in the
 * text by `indexOf`: `replace(/<[^>]*>/g)` tries again from every later `<` when one is never
 * closed, and a feed's description of 80 KB of `<` (or of `&lt;`, which the parser decodes) took
 * 2 s of the thread that serves requests.
 */
function withoutTags(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let text = '';
  let from = 0;
  for (let open = value.indexOf('<'); open >= 0; open = value.indexOf('<', from)) {
    const close = value.indexOf('>', open + 1);
    if (close < 0) break;
    text += `${value.slice(from, open)} `;
    from = close + 1;
  }
  return text + value.slice(from);
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function htmlEntity(entity: string): string {
  if (entity[0] !== '#') return NAMED[entity.toLowerCase()] ?? '';
  const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
  return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
}

function httpUrl(value: string | undefined): string | undefined {
  const candidate = value?.trim();
  if (!candidate || candidate.length > LIMITS.url) return undefined;
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' ? candidate : undefined;
  } catch {
    return undefined;
  }
}

function nonNegativeInt(value: string | undefined): number | null {
  if (value === undefined || !/^\s*\d{1,15}\s*$/.test(value)) return null;
  return Number(value);
}

/** `itunes:duration`: seconds, `MM:SS` or `HH:MM:SS`. */
export function duration(value: string | undefined): number | null {
  const trimmed = value?.trim();
  if (!trimmed) return null;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return bound(Math.round(Number(trimmed)));
  const parts = /^(?:(\d{1,4}):)?(\d{1,4}):(\d{1,2})(?:\.\d+)?$/.exec(trimmed);
  if (!parts) return null;
  return bound(Number(parts[1] ?? 0) * 3600 + Number(parts[2]) * 60 + Number(parts[3]));
}

const bound = (seconds: number): number | null => (Number.isFinite(seconds) && seconds >= 0 && seconds <= LIMITS.seconds ? seconds : null);

/** RFC 822 (RSS) or ISO 8601 (Atom) dates, as ISO UTC; null when unreadable or absurd. */
export function isoDate(value: string | undefined): string | null {
  if (!value) return null;
  const time = Date.parse(value.trim());
  if (Number.isNaN(time) || time < Date.UTC(1970, 0, 1) || time >= Date.UTC(2100, 0, 1)) return null;
  return new Date(time).toISOString();
}
