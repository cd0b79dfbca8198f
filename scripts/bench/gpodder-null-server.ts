/**
 * A gpodder server that does no work, to measure what the side-by-side's client
 * (`../shared/peers/gpodder_workload.py`) reaches on this machine with a server costing nothing:
 * uploads are answered at once, downloads from pages made once at start, the same actions this
 * service answers for that workload, {@link EPISODES_PAGE} to a page. The ceiling of any
 * ratio to oPodSync measured with that client is this figure over oPodSync's.
 *
 *   npx tsx scripts/bench/gpodder-null-server.ts PORT [N]
 *   /usr/bin/python3 ../shared/peers/gpodder_workload.py http://127.0.0.1:PORT u pw N 100
 */
import { createServer } from 'node:http';
import { EPISODE_ACTIONS_PAGE as EPISODES_PAGE } from '../../src/services/gpodder-episodes.js';

const port = Number(process.argv[2]);
const n = Number(process.argv[3] ?? 10_000);
if (!Number.isInteger(port) || !Number.isInteger(n)) throw new Error('usage: gpodder-null-server.ts PORT [N]');

const two = (value: number) => String(value).padStart(2, '0');
// The workload's actions as this service serves them back (field order included).
const actions = Array.from({ length: n }, (_, i) => ({
  podcast: `https://feeds.example.org/p${i % 50}.xml`,
  episode: `https://cdn.example.org/p${i % 50}/e${i}.mp3`,
  guid: `g-${i}`,
  device: 'bench',
  timestamp: `2026-11-01T10:${two(Math.floor(i / 60) % 60)}:${two(i % 60)}`,
  action: 'play',
  started: 0,
  position: i % 3600,
  total: 3600,
}));
/** Cursors are 1 + the index of the page's first action (0 is "from the start"). */
const pages: string[] = [];
for (let first = 0; first < n; first += EPISODES_PAGE) {
  pages.push(JSON.stringify({ actions: actions.slice(first, first + EPISODES_PAGE), timestamp: 1 + first + EPISODES_PAGE }));
}
const end = JSON.stringify({ actions: [], timestamp: 1 + n });

createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.setHeader('content-type', 'application/json');
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith('/api/2/episodes/')) return response.end('{}');
    if (request.method !== 'GET') return response.end(JSON.stringify({ timestamp: 1, update_urls: [] }));
    const since = Number(url.searchParams.get('since') ?? 0);
    response.end(pages[Math.floor(Math.max(0, since - 1) / EPISODES_PAGE)] ?? end);
  });
}).listen(port, '127.0.0.1', () => console.log(`gpodder null server on 127.0.0.1:${port}, ${n} actions`));
