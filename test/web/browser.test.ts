/**
 * The pages in a real browser (headless Chromium): a listener's whole round, as the issue
 * lists it. Screenshots of home and privacy are written to docs/ with UPDATE_SCREENSHOTS=1.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import type { ServedPages } from './browser.js';
import { openBrowser, requireChromium, servePages } from './browser.js';
import { LONG_WALKS, NIGHT_SHIFT, listenersWeek, syncEvents } from './listener-week.js';

const DOCS = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../docs');
const FEED = NIGHT_SHIFT;
const OTHER_FEED = LONG_WALKS;
const PASSWORD = 'correct horse battery';

describe('web pages in a real browser', function () {
  this.timeout(60_000);
  let served: ServedPages | undefined;
  let base: string;
  let page: Page;
  let appPasswordId: string;

  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const api = (pathname: string, init: RequestInit = {}) => fetch(`${base}${pathname}`, init);

  before(async function () {
    requireChromium(this);
    served = await servePages({ DEFAULT_PRIVACY: 'private' });
    ({ base, page } = served);
  });

  after(async () => {
    await served?.close();
  });

  it('signs up, signs out and signs in again', async () => {
    await page.goto(`${base}/signup`);
    await page.getByLabel('Username').fill('listener');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Your listening' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.goto(`${base}/privacy`);
    expect(new URL(page.url()).pathname, 'signed out: sent to sign in').to.equal('/signin');
    await page.getByLabel('Username').fill('listener');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Privacy' }).waitFor();
  });

  it('shows a subscription and a play position synced through the API', async () => {
    await syncEvents(base, 'listener', PASSWORD, listenersWeek());
    await page.goto(`${base}/`);
    await page.getByText('The Night Shift', { exact: true }).first().waitFor();
    expect(await page.getByText(OTHER_FEED).first().isVisible(), 'a feed without a title shows its URL').to.equal(true);
    const progress = page.getByRole('progressbar', { name: 'Position in Episode 42: Night Trains' });
    expect(await progress.getAttribute('value')).to.equal('1280');
    expect(await progress.getAttribute('max')).to.equal('3200');
    expect(await page.getByText('21:20 of 53:20').isVisible()).to.equal(true);
    expect(await page.getByRole('cell', { name: 'pixel-7' }).isVisible(), 'devices with last sync').to.equal(true);
    expect(await page.getByText('Walk 7: The Coast Path').isVisible(), 'playlist items').to.equal(true);
    if (process.env['UPDATE_SCREENSHOTS']) await page.screenshot({ path: path.join(DOCS, 'screenshot-home.png'), fullPage: true });
  });

  it('changes privacy and the public timeline follows', async () => {
    await page.goto(`${base}/explore`);
    expect(await page.locator('#timeline-list').count(), 'private by default: nothing public').to.equal(0);
    await page.goto(`${base}/privacy`);
    expect(await page.locator('#preview-empty').isVisible()).to.equal(true);
    await page.getByRole('radio', { name: 'Public' }).check();
    await page.getByRole('button', { name: 'Save account privacy' }).click();
    await page.getByText('Saved. The public timeline now follows your choice.').waitFor();
    expect(await page.locator('#preview-list li').count()).to.be.greaterThan(0);
    await page.getByLabel(`Privacy of ${OTHER_FEED}`).selectOption('anonymous');
    await page.getByRole('row', { name: OTHER_FEED }).getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').first().waitFor();
    expect(await page.getByText('shown anonymously').count(), 'the anonymous feed in the preview').to.be.greaterThan(0);
    if (process.env['UPDATE_SCREENSHOTS']) await page.screenshot({ path: path.join(DOCS, 'screenshot-privacy.png'), fullPage: true });
    await page.goto(`${base}/explore`);
    expect(await page.locator('#timeline-list').getByRole('link', { name: 'listener' }).count(), 'public events carry the username').to.be.greaterThan(0);
    await page.goto(`${base}/explore/users/listener`);
    expect(await page.locator('#timeline-list li').count()).to.be.greaterThan(0);
    expect(await page.locator('#timeline-list').innerText(), 'the anonymous feed is not on the profile').not.to.include(OTHER_FEED);
    await page.goto(`${base}/privacy`);
    await page.getByRole('radio', { name: 'Private' }).check();
    await page.getByRole('button', { name: 'Save account privacy' }).click();
    await page.getByText('Saved.').first().waitFor();
    await page.goto(`${base}/explore/users/listener`);
    expect(await page.locator('#timeline-list').count(), 'private again: the profile is empty').to.equal(0);
  });

  it('creates an app password (shown once) and revokes it', async () => {
    await page.goto(`${base}/access`);
    await page.getByLabel('New app password for').fill('Kasts on the laptop');
    await page.getByRole('button', { name: 'Create app password' }).click();
    const secret = (await page.locator('#new-secret').innerText()).trim();
    expect(secret).to.match(/^[A-Za-z0-9_-]{40,}$/);
    expect((await page.locator('#setup-server').innerText()).trim(), 'the server to enter in the app').to.equal(base);
    expect((await page.locator('#setup-username').innerText()).trim()).to.equal('listener');
    expect((await api('/api/2/devices/listener.json', { headers: { Authorization: basic('listener', secret) } })).status).to.equal(200);
    await page.goto(`${base}/access`);
    expect(await page.content(), 'shown once').not.to.include(secret);
    const row = page.getByRole('row', { name: /Kasts on the laptop/ });
    const action = await row.locator('form').getAttribute('action');
    appPasswordId = /app-passwords\/([^/]+)\/revoke/.exec(action!)![1]!;
    await row.getByRole('button', { name: 'Revoke app password Kasts on the laptop' }).click();
    await page.getByText('Revoked: it no longer works.').waitFor();
    expect(await page.getByRole('row', { name: /Kasts on the laptop/ }).count()).to.equal(0);
    expect((await api('/api/2/devices/listener.json', { headers: { Authorization: basic('listener', secret) } })).status).to.equal(401);
  });

  it('approves a Login Flow v2 request', async () => {
    const started = (await (await api('/index.php/login/v2', { method: 'POST', headers: { 'User-Agent': 'AntennaPod/3.6.2' } })).json()) as {
      login: string;
      poll: { token: string; endpoint: string };
    };
    await page.goto(started.login);
    await page.getByRole('heading', { name: 'Allow AntennaPod/3.6.2 to sync with your account?' }).waitFor();
    expect(await page.getByLabel('Username').inputValue(), 'signed in: the username is filled in').to.equal('listener');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Grant access' }).click();
    await page.getByRole('heading', { name: 'Account connected' }).waitFor();
    const polled = await api('/index.php/login/v2/poll', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `token=${started.poll.token}`,
    });
    expect(polled.status).to.equal(200);
    const { appPassword } = (await polled.json()) as { appPassword: string };
    expect((await api('/index.php/apps/gpoddersync/subscriptions?since=0', { headers: { Authorization: basic('listener', appPassword) } })).status).to.equal(
      200,
    );
    await page.goto(`${base}/access`);
    expect(await page.getByRole('row', { name: /AntennaPod\/3\.6\.2/ }).count(), 'the granted app password is listed').to.equal(1);
  });

  it('exports the data as a JSON download', async () => {
    await page.goto(`${base}/data`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download my data (JSON)' }).click()]);
    expect(download.suggestedFilename()).to.equal('listener-export.json');
    const exported = JSON.parse(readFileSync((await download.path())!, 'utf8')) as {
      user: { username: string };
      state: { subscriptions: Record<string, unknown> };
    };
    expect(exported.user.username).to.equal('listener');
    expect(exported.state.subscriptions).to.have.keys([FEED, OTHER_FEED]);
  });

  it('refuses a form without its CSRF token', async () => {
    await page.goto(`${base}/access`);
    await page.locator('form[action="/access/app-passwords"] input[name="_csrf"]').evaluate((input) => input.remove());
    await page.getByLabel('New app password for').fill('forged');
    const [answer] = await Promise.all([
      page.waitForResponse((response) => response.request().method() === 'POST'),
      page.getByRole('button', { name: 'Create app password' }).click(),
    ]);
    expect(answer.status()).to.equal(403);
    await page.getByRole('heading', { name: 'This form has expired' }).waitFor();
    await page.goto(`${base}/access`);
    expect(await page.getByText('forged').count()).to.equal(0);
  });

  it("another user's pages and data are unreachable", async () => {
    const other = await openBrowser();
    try {
      const stranger = await other.context.newPage();
      await stranger.goto(`${base}/`);
      expect(new URL(stranger.url()).pathname, 'signed out: no home').to.equal('/signin');
      await stranger.goto(`${base}/signup`);
      await stranger.getByLabel('Username').fill('stranger');
      await stranger.getByLabel('Password').fill(PASSWORD);
      await stranger.getByRole('button', { name: 'Create account' }).click();
      await stranger.getByRole('heading', { name: 'Your listening' }).waitFor();
      const text = await stranger.content();
      expect(text).not.to.include(FEED);
      expect(text).not.to.include('Night Trains');
      await stranger.goto(`${base}/access`);
      expect(await stranger.content()).not.to.include('AntennaPod/3.6.2');
      // Posting to the listener's app password's revoke address, with the stranger's own token.
      const csrf = await stranger.locator('input[name="_csrf"]').first().getAttribute('value');
      const forged = await stranger.request.post(`${base}/access/app-passwords/${appPasswordId}/revoke`, { form: { _csrf: csrf! } });
      expect(forged.status()).to.equal(404);
      const data = await stranger.request.get(`${base}/data/export`);
      expect(((await data.json()) as { user: { username: string } }).user.username).to.equal('stranger');
    } finally {
      await other.close();
    }
  });

  it('erases a feed after a confirmation', async () => {
    await page.goto(`${base}/data`);
    await page.getByLabel('Podcast', { exact: true }).selectOption(OTHER_FEED);
    await page.getByRole('button', { name: 'Erase this podcast…' }).click();
    await page.getByRole('heading', { name: 'Erase for good?' }).waitFor();
    await page.getByRole('button', { name: 'Yes, erase it' }).click();
    await page.getByText('Erased.').waitFor();
    await page.goto(`${base}/`);
    expect(await page.content()).not.to.include(OTHER_FEED);
    expect(await page.getByText('The Night Shift', { exact: true }).count()).to.be.greaterThan(0);
  });

  it('subscribes, imports an OPML file, downloads the list and unsubscribes', async () => {
    const gpodderList = async () =>
      (await (await api('/subscriptions/listener.json', { headers: { Authorization: basic('listener', PASSWORD) } })).json()) as string[];
    await page.goto(`${base}/`);
    await page.getByLabel('Subscribe to a podcast by its feed address').fill(OTHER_FEED);
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await page.getByText('Subscribed. Your apps add the podcast at their next sync.').waitFor();
    expect(await gpodderList()).to.include(OTHER_FEED);

    await page.getByRole('link', { name: 'My data' }).first().click();
    const imported = 'https://imported.example.net/feed.rss';
    await page.getByLabel(/Import an OPML file/).setInputFiles({
      name: 'antennapod-feeds.opml',
      mimeType: 'text/x-opml',
      buffer: Buffer.from(`<?xml version="1.0"?><opml version="2.0"><body><outline text="Imported" type="rss" xmlUrl="${imported}"/></body></opml>`),
    });
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByText(/Imported: 1 podcast added/).waitFor();
    expect(await gpodderList()).to.include(imported);

    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download my subscriptions (OPML)' }).click();
    const file = await (await download).path();
    expect(readFileSync(file, 'utf8')).to.include(`xmlUrl="${imported}"`).and.include(`xmlUrl="${OTHER_FEED}"`);

    await page.goto(`${base}/`);
    await page.getByRole('button', { name: `Unsubscribe from ${imported}` }).click();
    await page.getByRole('heading', { name: 'Unsubscribe?' }).waitFor();
    await page.getByRole('button', { name: 'Unsubscribe', exact: true }).click();
    await page.getByText('Unsubscribed. Your apps remove the podcast at their next sync.').waitFor();
    expect(await gpodderList()).not.to.include(imported);
  });

  it('is usable at phone width and by keyboard', async () => {
    const phone = await openBrowser({ width: 360, height: 740 });
    try {
      const small = await phone.context.newPage();
      await small.goto(`${base}/signin`);
      await small.keyboard.press('Tab');
      expect(await small.evaluate('document.activeElement?.textContent')).to.equal('Skip to content');
      await small.getByLabel('Username').focus();
      await small.keyboard.type('listener');
      await small.keyboard.press('Tab');
      await small.keyboard.type(PASSWORD);
      await small.keyboard.press('Enter');
      await small.getByRole('heading', { name: 'Your listening' }).waitFor();
      for (const where of ['/', '/privacy', '/access', '/data', '/explore']) {
        await small.goto(`${base}${where}`);
        const overflow = (await small.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
        expect(overflow, `${where} scrolls sideways`).to.be.at.most(0);
      }
    } finally {
      await phone.close();
    }
  });

  it('deletes the account after a confirmation', async () => {
    await page.goto(`${base}/data`);
    await page.getByRole('button', { name: 'Delete my account…' }).click();
    await page.getByRole('heading', { name: 'Delete your account?' }).waitFor();
    await page.getByLabel(/Type your username/).fill('listener');
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.getByRole('heading', { name: 'Account deleted' }).waitFor();
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).to.equal('/signin');
    expect((await api('/v1/auth/token', { method: 'POST', body: JSON.stringify({ username: 'listener', password: PASSWORD }) })).status).to.equal(401);
  });
});

describe('web pages in a real browser, the service under a path (BASE_PATH)', function () {
  this.timeout(60_000);
  let served: ServedPages | undefined;

  before(async function () {
    requireChromium(this);
    served = await servePages({ BASE_PATH: '/podsync' });
  });

  after(async () => {
    await served?.close();
  });

  it('signs up, is styled, follows its links and forms, and signs out and in again, all under the path', async () => {
    const { page, base } = served!;
    const asked: string[] = [];
    page.on('request', (request) => asked.push(new URL(request.url()).pathname));
    await page.goto(`${base}/podsync/signup`);
    await page.getByLabel('Username').fill('path-listener');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Your listening' }).waitFor();
    // The stylesheet loaded: the skip link is moved out of sight by it.
    expect(await page.evaluate("getComputedStyle(document.querySelector('a.skip')).position")).to.equal('absolute');
    await page.getByLabel('Feed address').fill('https://feeds.example.com/under-a-path.xml');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.getByText('Subscribed.').waitFor();
    for (const name of ['Privacy', 'Access', 'My data', 'Explore', 'Account', 'Home']) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
      await page.waitForLoadState();
    }
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.goto(`${base}/podsync/privacy`);
    expect(new URL(page.url()).pathname).to.equal('/podsync/signin');
    await page.getByLabel('Username').fill('path-listener');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Privacy' }).waitFor();
    expect(new URL(page.url()).pathname).to.equal('/podsync/privacy');
    expect(
      asked.filter((pathname) => !pathname.startsWith('/podsync/')),
      'every address the browser asked for',
    ).to.deep.equal([]);
  });
});
