/**
 * Privacy (docs/design.md, "Privacy"): the account's level and per-feed overrides, what each level means, and a
 * preview read from the public read model itself, so it shows exactly what others see.
 */
import { z } from 'zod';
import type { Privacy } from '../domain/events.js';
import { httpUrl, privacyLevel } from '../domain/events.js';
import { effectivePrivacy, recordAt } from '../domain/state.js';
import type { ListenerService } from '../services/listener.js';
import type { PublicViews } from '../services/public-views.js';
import type { Site } from './site.js';
import { principalOf, show, seeOther } from './site.js';

/** A level, or (for a feed) `account`: the feed's own choice taken back, so it follows the account's. */
const privacyForm = z.union([z.object({ privacy: privacyLevel, feed: httpUrl.optional() }), z.object({ privacy: z.literal('account'), feed: httpUrl })]);
const PREVIEW = 20;

export interface PrivacyPageOptions {
  readonly listener: ListenerService;
  readonly publicViews: PublicViews;
  readonly defaultPrivacy: Privacy;
}

export function privacyPage(site: Site, { listener, publicViews, defaultPrivacy }: PrivacyPageOptions): void {
  site.userPage('/privacy', async (req, res) => {
    const { userId } = principalOf(res);
    const [overview, preview] = await Promise.all([listener.overview(userId), publicViews.seenOf(userId, PREVIEW)]);
    const { privacy } = overview;
    // Feeds subscribed to, then any other feed with its own setting.
    const urls = [...new Set([...overview.subscriptions.map((sub) => sub.feed), ...Object.keys(privacy.feeds)])];
    const titles = new Map(overview.subscriptions.map((sub) => [sub.feed, sub.title]));
    const feeds = urls.map((feed, index) => ({
      feed,
      index,
      title: titles.get(feed) ?? null,
      level: effectivePrivacy(privacy, feed, defaultPrivacy),
      override: recordAt(privacy.feeds, feed) !== undefined,
    }));
    show(res, 'privacy', {
      privacy,
      effective: effectivePrivacy(privacy, null, defaultPrivacy),
      defaultPrivacy,
      feeds,
      preview,
      error: null,
      notice: req.query['done'] === 'saved' ? 'Saved. The public timeline now follows your choice.' : null,
    });
  });

  site.userForm('/privacy', async (req, res) => {
    const form = privacyForm.safeParse(req.body);
    if (!form.success)
      return show(
        res,
        'message',
        { title: 'That did not work', message: "Choose public, anonymous or private (or, for a podcast, your account's choice).", back: '/privacy' },
        400,
      );
    await listener.setPrivacy(principalOf(res), form.data.feed ?? null, form.data.privacy === 'account' ? null : form.data.privacy);
    seeOther(res, '/privacy?done=saved');
  });
}
