/** Every read model, by name. */
import type { Projection } from './projection.js';
import { playStatusesProjection } from './play-statuses.js';
import { playlistsProjection } from './playlists.js';
import { popularityProjection } from './popularity.js';
import { privacySettingsProjection } from './privacy.js';
import { publicEventsProjection } from './public-events.js';
import { subscriptionsProjection } from './subscriptions.js';
import { episodeActionsProjection } from './episode-actions.js';
import { gpodderDevicesProjection } from './gpodder-devices.js';
import { retentionIndexProjection } from './retention-index.js';
import { podcastsProjection } from './podcasts.js';

export const allProjections: readonly Projection[] = [
  subscriptionsProjection,
  playStatusesProjection,
  playlistsProjection,
  privacySettingsProjection,
  publicEventsProjection,
  popularityProjection,
  episodeActionsProjection,
  gpodderDevicesProjection,
  retentionIndexProjection,
  podcastsProjection,
];

export function projectionsNamed(names: readonly string[]): Projection[] {
  return names.map((name) => {
    const projection = allProjections.find((candidate) => candidate.name === name);
    if (!projection) throw new Error(`Unknown projection "${name}"; known: ${allProjections.map((p) => p.name).join(', ')}`);
    return projection;
  });
}
