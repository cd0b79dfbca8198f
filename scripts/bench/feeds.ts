/**
 * A feed fetch's hold on the thread that serves requests. A large feed (BENCH_FEED_EPISODES
 * items with show notes, default 3,000: about 7 MB, what long-running podcasts serve) is served
 * from 127.0.0.1 and refreshed BENCH_FEED_RUNS times (default 5, each version changing a few
 * episodes, so every refresh reads and records a change) by the service's FeedService, with the
 * feeds read on the caller's thread (`inline`) and on the parser's thread (`thread`, as the
 * service does: src/feeds/parse-thread.ts). For each, the longest gap between the turns of a
 * 1 ms interval during a refresh (every request waits that long), the median and the worst over
 * the runs, and the median refresh time. The first refresh of each mode is left out (the
 * thread's start, the parser's warm-up).
 *
 * Run: `npm run bench -- feeds`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { silentLogger } from '../../src/logger.js';
import { FeedService } from '../../src/services/feeds.js';
import type { FeedParser } from '../../src/feeds/parse-thread.js';
import { FeedParseThread, inlineFeedParser } from '../../src/feeds/parse-thread.js';
import { SqliteEventStore } from '../../src/stores/embedded/sqlite-event-store.js';
import { SqliteReadModelStore } from '../../src/stores/embedded/sqlite-read-model.js';
import type { BenchResult } from './append.js';
import { positiveIntegerFromEnv } from './env.js';

const NOTES = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(20);

function feedOf(episodes: number, version: number): string {
  const items = Array.from({ length: episodes }, (_, i) => {
    const title = `Episode ${i}: a title of some length${i < 5 ? ` (v${version})` : ''}`;
    return `<item><title>${title}</title><guid isPermaLink="false">ep-${i}</guid><pubDate>Mon, 02 Feb 2026 08:30:00 GMT</pubDate><enclosure url="https://cdn.example.com/podcast/${i}/audio.mp3" length="12345678" type="audio/mpeg"/><itunes:duration>01:02:03</itunes:duration><description><![CDATA[<p>Show notes of episode ${i}. ${NOTES}</p><ul><li><a href="https://example.com/${i}">link</a></li></ul>]]></description></item>`;
  });
  return `<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>A large podcast</title>${items.join('')}</channel></rss>`;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const round = (value: number) => Math.round(value * 10) / 10;

export async function benchFeeds(log: (line: string) => void = console.log): Promise<BenchResult> {
  const episodes = positiveIntegerFromEnv('BENCH_FEED_EPISODES', 3_000);
  const runs = positiveIntegerFromEnv('BENCH_FEED_RUNS', 5);
  let body = '';
  const server = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/rss+xml' }).end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed.xml`;
  const dir = mkdtempSync(path.join(tmpdir(), 'podsync-bench-feeds-'));
  const eventStore = SqliteEventStore.open(path.join(dir, 'events.db'));
  const readModel = new SqliteReadModelStore(new BetterSqlite3(':memory:'));
  let version = 0;
  let feedBytes = 0;

  const measure = async (parser: FeedParser) => {
    const service = new FeedService(
      eventStore,
      readModel,
      {
        refreshHours: 6,
        concurrency: 1,
        parser,
        fetcher: {
          allowPrivateNetworks: true,
          userAgent: 'podsync-bench',
          connectTimeoutMs: 5_000,
          totalTimeoutMs: 60_000,
          maxBytes: 64 * 1024 * 1024,
          maxRedirects: 0,
        },
      },
      silentLogger(),
    );
    const gaps: number[] = [];
    const times: number[] = [];
    for (let run = 0; run <= runs; run++) {
      body = feedOf(episodes, ++version);
      feedBytes = Buffer.byteLength(body);
      let last = performance.now();
      let gap = 0;
      const interval = setInterval(() => {
        const now = performance.now();
        gap = Math.max(gap, now - last);
        last = now;
      }, 1);
      const started = performance.now();
      const outcome = await service.refresh(url);
      const took = performance.now() - started;
      // A turn after the refresh, so that a hold at its very end is seen too.
      await new Promise((resolve) => setTimeout(resolve, 20));
      clearInterval(interval);
      if (outcome.outcome !== 'fetched') throw new Error(`refresh ${run}: ${JSON.stringify(outcome)}`);
      if (run === 0) continue;
      gaps.push(gap);
      times.push(took);
    }
    return { loopMedian: median(gaps), loopMax: Math.max(...gaps), refresh: median(times) };
  };

  const thread = new FeedParseThread(silentLogger());
  try {
    const inline = await measure(inlineFeedParser);
    const threaded = await measure(thread);
    log(`feed of ${episodes} episodes, ${(feedBytes / 1e6).toFixed(1)} MB, ${runs} refreshes each`);
    log(`  read on the caller's thread: longest hold ${round(inline.loopMedian)} ms (worst ${round(inline.loopMax)}), refresh ${round(inline.refresh)} ms`);
    log(
      `  read on the parser's thread: longest hold ${round(threaded.loopMedian)} ms (worst ${round(threaded.loopMax)}), refresh ${round(threaded.refresh)} ms`,
    );
    return {
      bench: 'feeds',
      episodes,
      feed_mb: round(feedBytes / 1e6),
      inline_loop_max_ms: round(inline.loopMedian),
      inline_loop_worst_ms: round(inline.loopMax),
      inline_refresh_ms: round(inline.refresh),
      thread_loop_max_ms: round(threaded.loopMedian),
      thread_loop_worst_ms: round(threaded.loopMax),
      thread_refresh_ms: round(threaded.refresh),
    };
  } finally {
    await thread.close();
    await eventStore.close();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}
