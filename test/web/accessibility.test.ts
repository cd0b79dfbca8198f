/**
 * Every page checked by axe-core (Deque's accessibility engine, as browsers' audits run it) in
 * headless Chromium against WCAG 2.1 A and AA, in the light colour scheme and the dark one: the
 * listener's pages holding data, the public pages, the admin pages, the Login Flow pages, forms
 * answered with an error, confirmations and messages. A violation
 * names the rule, the page and the elements, so the test says what to mend.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import type { TestService } from '../support/service.js';
import type { ServedPages } from './browser.js';
import { requireChromium, servePages } from './browser.js';
import { NIGHT_SHIFT, listenersWeek, syncEvents } from './listener-week.js';
import type { FeedServer } from '../feeds/feed-server.js';
import { fixture, startFeedServer, xml } from '../feeds/feed-server.js';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const ADMIN_TOKEN = 'admin-token-accessibility-0123456789';
const PASSWORD = 'correct horse battery';

interface Violation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly string[]; readonly failureSummary?: string }[];
}

/** axe's violations on the page as it is now, one line each: rule, impact, what it asks, where. */
async function violations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const found = (await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(WCAG_21_AA)} } }).then((result) => result.violations)`,
  )) as Violation[];
  return found.map(
    (violation) =>
      `${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes
        .slice(0, 3)
        .map((node) => `${node.target.join(' ')}: ${node.failureSummary ?? ''}`.replaceAll('\n', ' '))
        .join(' | ')}`,
  );
}

describe('web pages, accessibility (axe-core, WCAG 2.1 AA)', function () {
  this.timeout(120_000);
  let served: ServedPages | undefined;
  let service: TestService;
  let base: string;
  let page: Page;
  let feeds: FeedServer;

  const api = (pathname: string, init: RequestInit = {}) => fetch(`${base}${pathname}`, init);

  /** Checks the page at `where` (or the one open, for '') in the light scheme and the dark one. */
  async function expectAccessible(where: string, what = where): Promise<void> {
    if (where !== '') await page.goto(`${base}${where}`);
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      expect(await violations(page), `${what}, ${colorScheme}: axe's violations`).to.deep.equal([]);
    }
  }

  before(async function () {
    requireChromium(this);
    served = await servePages({ ADMIN_TOKEN, DEFAULT_PRIVACY: 'public', FEEDS_ALLOW_PRIVATE_NETWORKS: 'true' });
    ({ service, base, page } = served);
    feeds = await startFeedServer();
    feeds.route('/feed.xml', xml(fixture('rss-podcast.xml')));
  });

  after(async () => {
    await served?.close();
    await feeds?.close();
  });

  it('signing up and in, and their errors', async () => {
    await expectAccessible('/signup');
    await page.getByLabel('Username').fill('x');
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expectAccessible('', 'the sign-up form answered with an error');
    await expectAccessible('/signin');
    await page.getByLabel('Username').fill('nobody');
    await page.getByLabel('Password').fill('wrong password here');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectAccessible('', 'the sign-in form answered with an error');
  });

  it("a listener's pages, holding subscriptions, plays, saved episodes, devices and app passwords", async () => {
    await page.goto(`${base}/signup`);
    await page.getByLabel('Username').fill('listener');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Your listening' }).waitFor();
    await expectAccessible('/', 'the home page of a new account');

    const fixtureFeed = `${feeds.origin}/feed.xml`;
    await syncEvents(base, 'listener', PASSWORD, [
      ...listenersWeek(),
      { type: 'subscribe', timestamp: new Date().toISOString(), object: { rss_source_feed: fixtureFeed }, data: {} },
      {
        type: 'play',
        timestamp: new Date().toISOString(),
        object: { rss_source_feed: fixtureFeed, rss_source_id: 'fixture-ep-2' },
        data: { played: false, position: 600 },
      },
    ]);
    // A gpodder device too (the home page offers to forget it).
    const gpodderDevice = await fetch(`${base}/api/2/devices/listener/pixel-7.json`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`listener:${PASSWORD}`).toString('base64')}` },
      body: JSON.stringify({ caption: 'Pixel 7', type: 'mobile' }),
    });
    expect(gpodderDevice.status).to.equal(200);
    await page.goto(`${base}/access`);
    await page.getByLabel('New app password for').fill('Kasts on the laptop');
    await page.getByRole('button', { name: 'Create app password' }).click();
    await expectAccessible('', 'a new app password, shown once');

    await page.goto(`${base}/`);
    await page.getByText('The Night Shift', { exact: true }).first().waitFor();
    await expectAccessible('', 'the home page');
    for (const where of ['/privacy', '/access', '/account', '/data']) await expectAccessible(where);
    await expectAccessible(`/podcast?feed=${encodeURIComponent(NIGHT_SHIFT)}`, "a podcast's page, its feed not read yet");
    expect(await service.feeds.refresh(fixtureFeed)).to.include({ outcome: 'fetched' });
    await service.settle();
    await expectAccessible(`/podcast?feed=${encodeURIComponent(fixtureFeed)}`, "a podcast's page with its episodes");
    expect(await page.getByRole('progressbar', { name: 'Position in Episode 2: Second' }).getAttribute('value')).to.equal('600');
    await expectAccessible('/explore');
    await expectAccessible('/explore/users/listener');
    await expectAccessible('/explore/users/nobody-by-that-name', 'a profile that does not exist');
  });

  it('confirmations and messages', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('button', { name: 'Unsubscribe' }).first().click();
    await page.getByRole('heading', { name: 'Unsubscribe?' }).waitFor();
    await expectAccessible('', 'the confirmation to unsubscribe');
    await page.goto(`${base}/`);
    await page.getByRole('button', { name: 'Forget Pixel 7' }).click();
    await page.getByRole('heading', { name: 'Forget this device?' }).waitFor();
    await expectAccessible('', 'the confirmation to forget a device');
    await expectAccessible('/explore?before=', 'a message (a page that does not exist)');
    await expectAccessible('/no/such/page', 'not found');
  });

  it('the Login Flow pages an app opens (Nextcloud gPodder Sync: AntennaPod, Kasts)', async () => {
    const started = (await (await api('/index.php/login/v2', { method: 'POST', headers: { 'User-Agent': 'AntennaPod/3.6.2' } })).json()) as { login: string };
    await page.goto(started.login);
    await page.getByRole('heading', { name: 'Allow AntennaPod/3.6.2 to sync with your account?' }).waitFor();
    await expectAccessible('', 'the Login Flow question');
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Grant access' }).click();
    await expectAccessible('', 'the Login Flow question answered with a wrong password');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Grant access' }).click();
    await page.getByRole('heading', { name: 'Account connected' }).waitFor();
    await expectAccessible('', 'the Login Flow granted');
  });

  it('the admin pages', async () => {
    await expectAccessible('/manage', 'the admin sign-in');
    await page.getByLabel('Admin token (ADMIN_TOKEN)').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectAccessible('', 'the admin overview');
    await expectAccessible('/manage/users/listener', "a user's admin page");
  });
});
