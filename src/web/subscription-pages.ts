/**
 * Subscriptions from the browser (docs/design.md, "Web pages"): subscribe to a feed by its URL,
 * unsubscribe (after a confirmation: the apps remove the podcast at their next sync), and the
 * list as an OPML file, out and in. Every change is the listener service's, the decision the
 * Nextcloud API's upload takes (src/services/listener.ts).
 */
import { z, type ZodError } from 'zod';
import { fieldIssues } from '../http/errors.js';
import { httpUrl } from '../domain/events.js';
import { formatList, ListFormatError, MAX_LIST_ENTRIES, parseList } from '../domain/gpodder-formats.js';
import { decodeXml } from '../feeds/parse.js';
import type { ListenerService } from '../services/listener.js';
import type { Site } from './site.js';
import { principalOf, show, showMessage, uploadedFile, seeOther } from './site.js';

const subscribeForm = z.object({ feed: httpUrl });
const unsubscribeForm = z.object({ feed: httpUrl, confirm: z.literal('yes').optional() });

/** What the home page says after a change (`/?done=…`). */
export const SUBSCRIPTION_NOTICES: Readonly<Record<string, string>> = {
  subscribed: 'Subscribed. Your apps add the podcast at their next sync.',
  already: 'You were subscribed to it already.',
  unsubscribed: 'Unsubscribed. Your apps remove the podcast at their next sync.',
};

/** `feed: must be an http(s) URL`: the field named, as the API's 400s name it. */
const feedProblem = (error: ZodError) =>
  fieldIssues(error)
    .map((issue) => `${issue.path}: ${issue.message}`)
    .join('; ');

export function subscriptionPages(site: Site, listener: ListenerService): void {
  site.userForm('/subscribe', async (req, res) => {
    const form = subscribeForm.safeParse(req.body);
    if (!form.success) return showMessage(res, 400, 'That did not work', `Give the podcast's feed address. ${feedProblem(form.error)}`, '/');
    const change = await listener.changeSubscriptions(principalOf(res), [form.data.feed]);
    seeOther(res, `/?done=${change.subscribed > 0 ? 'subscribed' : 'already'}#subs`);
  });

  site.userForm('/unsubscribe', async (req, res) => {
    const form = unsubscribeForm.safeParse(req.body);
    if (!form.success) return showMessage(res, 400, 'That did not work', feedProblem(form.error), '/');
    const { feed } = form.data;
    if (form.data.confirm !== 'yes') {
      return show(res, 'confirm', {
        title: 'Unsubscribe?',
        message: `This unsubscribes from ${feed} on every device: your apps remove the podcast at their next sync (some delete its downloaded episodes too). Your listening history of it stays.`,
        action: '/unsubscribe',
        fields: { feed },
        button: 'Unsubscribe',
        typeToConfirm: null,
        error: null,
        cancel: '/',
      });
    }
    await listener.changeSubscriptions(principalOf(res), [], [feed]);
    seeOther(res, '/?done=unsubscribed#subs');
  });

  site.userPage('/data/subscriptions.opml', async (_req, res) => {
    const principal = principalOf(res);
    const { subscriptions } = await listener.overview(principal.userId);
    res.setHeader('Content-Disposition', `attachment; filename="${principal.username}-subscriptions.opml"`);
    res.setHeader('Cache-Control', 'no-store');
    res.type('text/x-opml; charset=utf-8').send(
      formatList(
        'opml',
        subscriptions.map((sub) => ({ url: sub.feed, title: sub.title })),
      ),
    );
  });

  site.userUpload('/data/subscriptions', async (req, res) => {
    const file = uploadedFile(req);
    if (file === undefined || file.length === 0) return showMessage(res, 400, 'That did not work', 'file: choose an OPML file to import.', '/data#opml');
    let feeds: string[];
    try {
      // In the encoding its XML declaration names, as feeds are read.
      feeds = parseList('opml', decodeXml(file));
    } catch (error) {
      if (!(error instanceof ListFormatError)) throw error;
      return showMessage(res, 400, 'That did not work', `file: not an OPML list (${error.message}).`, '/data#opml');
    }
    if (feeds.length === 0) return showMessage(res, 400, 'That did not work', 'file: the list names no feed (no outline with an xmlUrl).', '/data#opml');
    if (feeds.length > MAX_LIST_ENTRIES)
      return showMessage(res, 400, 'That did not work', `file: at most ${MAX_LIST_ENTRIES} podcasts at a time (this list has ${feeds.length}).`, '/data#opml');
    const change = await listener.changeSubscriptions(principalOf(res), feeds);
    seeOther(res, `/data?added=${change.subscribed}&known=${change.unchanged}&skipped=${change.rejected.length}#opml`);
  });
}

/** The data page's account of an import (`/data?added=…&known=…&skipped=…`), or null. */
export function importNotice(query: Record<string, unknown>): string | null {
  const count = (name: string) => {
    const value = query[name];
    return typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : undefined;
  };
  const [added, known, skipped] = [count('added'), count('known'), count('skipped')];
  if (added === undefined || known === undefined || skipped === undefined) return null;
  const podcasts = (n: number) => `${n} podcast${n === 1 ? '' : 's'}`;
  const parts = [`${podcasts(added)} added (your apps add them at their next sync)`, `${podcasts(known)} subscribed already`];
  if (skipped > 0) parts.push(`${skipped} ${skipped === 1 ? 'entry' : 'entries'} skipped (not an http(s) feed address)`);
  return `Imported: ${parts.join(', ')}.`;
}
