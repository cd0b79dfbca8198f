/**
 * Debian's Chromium driven by playwright-core (no browser download): a fresh profile per
 * session, only loopback traffic. Without /usr/bin/chromium the browser suites FAIL when `CI`
 * is set (.ci/run installs it) and are SKIPPED, saying why, otherwise.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { listenServing } from '../../src/http/server.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Skips (or, in CI, fails) the calling suite's `before` when Chromium is missing. */
export function requireChromium(context: Mocha.Context): void {
  if (existsSync(CHROMIUM)) return;
  const why = `${CHROMIUM} is missing`;
  if (process.env['CI']) throw new Error(`${why}: run \`apt-get install -y --no-install-recommends chromium\` (.ci/run does)`);
  console.log(`      browser tests SKIPPED: ${why}; run \`apt-get install -y --no-install-recommends chromium\` to include them`);
  context.skip();
}

export interface BrowserSession {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with its own fresh profile (so two sessions are two strangers). */
export async function openBrowser(options: { width?: number; height?: number } = {}): Promise<BrowserSession> {
  const profile = mkdtempSync(path.join(tmpdir(), 'podsync-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // Without the background-networking flags Chromium reaches out to Google's services, whose
    // connections are refused on a closed network; only loopback traffic is wanted.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: options.width ?? 1000, height: options.height ?? 800 },
    acceptDownloads: true,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A test service served on a loopback port and a Chromium page to visit it with. */
export interface ServedPages {
  readonly service: TestService;
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  readonly browser: BrowserSession;
  readonly page: Page;
  close(): Promise<void>;
}

/** Starts a test service with `env`, serves it, and opens a page in a fresh Chromium. */
export async function servePages(env: Record<string, string>): Promise<ServedPages> {
  const service = await startTestService(env);
  const server = await listenServing(service.app, 0, '127.0.0.1');
  const browser = await openBrowser();
  return {
    service,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    browser,
    page: await browser.context.newPage(),
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await service.stop();
    },
  };
}
