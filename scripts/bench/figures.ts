/** How the benchmarks compute and print their figures (one definition for every script). */

/** The nearest-rank percentile `p` (0–100) of `values`; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Milliseconds to one decimal, as the JSON summaries carry them. */
export const round = (ms: number) => Math.round(ms * 10) / 10;

/** A rate for people: whole units with thousands separators. */
export const formatRate = (perSecond: number) => Math.round(perSecond).toLocaleString('en-US');
