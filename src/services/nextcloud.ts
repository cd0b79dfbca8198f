/**
 * The Nextcloud gPodder Sync API over the same events and read models as the gpodder and
 * native APIs: uploads go through the gpodder services (one decision, one append), reads
 * select by recording time (src/domain/nextcloud.ts).
 */
import type { GpodderActionInput } from '../domain/gpodder.js';
import type { NextcloudAction } from '../domain/nextcloud.js';
import { downloadTimestamp, recordedFrom, recordedFromQuery, toNextcloudAction } from '../domain/nextcloud.js';
import { isSubscribed } from '../domain/state.js';
import type { SubscriptionState } from '../domain/state.js';
import type { Principal } from './accounts.js';
import type { GpodderService } from './gpodder.js';
import type { GpodderEpisodeService } from './gpodder-episodes.js';
import { subscriptionsProjection } from '../../projections/subscriptions.js';
import { ownRecords } from './own-records.js';
import { fromJson } from '../domain/json.js';
import { mapPaced } from '../concurrency.js';

export class NextcloudService {
  constructor(
    private readonly gpodder: GpodderService,
    private readonly episodes: GpodderEpisodeService,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private nowS(): number {
    return Math.floor(this.clock().getTime() / 1000);
  }

  /** `GET /index.php/apps/gpoddersync/subscriptions?since=`. From the start, removals mean nothing. */
  async subscriptions(principal: Principal, since: number | undefined): Promise<{ add: string[]; remove: string[]; timestamp: number }> {
    const nowS = this.nowS();
    const from = recordedFrom(since, nowS);
    const { docs } = await ownRecords(this.gpodder.readModels, subscriptionsProjection, principal.userId, recordedFromQuery(principal.userId, from));
    const records = docs.map(({ doc }) => fromJson<SubscriptionState>(doc));
    const fromStart = from === undefined;
    return {
      add: records.filter(isSubscribed).map((record) => record.rss_source_feed),
      remove: fromStart ? [] : records.filter((record) => !isSubscribed(record)).map((record) => record.rss_source_feed),
      timestamp: downloadTimestamp(nowS),
    };
  }

  /** `POST /index.php/apps/gpoddersync/subscription_change/create`. */
  async changeSubscriptions(principal: Principal, add: readonly string[], remove: readonly string[]): Promise<{ timestamp: number }> {
    await this.gpodder.uploadSubscriptionChanges(principal, undefined, add, remove);
    return { timestamp: this.nowS() };
  }

  /**
   * `GET /index.php/apps/gpoddersync/episode_action?since=`. Read-your-writes without waiting
   * for the projector where the user's stream can stand in for it (GpodderEpisodeService.recordedFrom).
   * The timestamp is taken first: what is recorded while the actions are read comes now and
   * maybe again, never skipped.
   */
  async episodeActions(principal: Principal, since: number | undefined): Promise<{ actions: NextcloudAction[]; timestamp: number }> {
    const nowS = this.nowS();
    const actions = await this.episodes.recordedFrom(principal, recordedFrom(since, nowS));
    // A first download of a heavy user's 10,000 actions: shaped a slice at a time.
    return { actions: await mapPaced(actions, toNextcloudAction), timestamp: downloadTimestamp(nowS) };
  }

  /** `POST /index.php/apps/gpoddersync/episode_action/create`: the same upload as gpodder's. */
  async uploadEpisodeActions(principal: Principal, actions: readonly GpodderActionInput[]): Promise<{ timestamp: number }> {
    await this.episodes.upload(principal, actions);
    return { timestamp: this.nowS() };
  }
}
