/** How the pages write times, durations and addresses (every view gets these as `it.format`). */

/** An ISO timestamp to the minute, in UTC ("2026-12-07 15:29 UTC"); null for none. */
export function minute(iso: string | null | undefined): string | null {
  return iso ? `${iso.replace('T', ' ').slice(0, 16)} UTC` : null;
}

/** Seconds as a player shows them: "4:05", "1:02:03". */
export function clock(seconds: number): string {
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor(whole / 60) % 60;
  const rest = String(whole % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

/** A podcast's page (src/web/podcast-page.ts). */
export function podcastPath(feed: string): string {
  return `/podcast?feed=${encodeURIComponent(feed)}`;
}

export const FORMAT = { minute, clock, podcastPath } as const;
