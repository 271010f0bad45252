const unitMs: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const durationPattern = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const partPattern = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/**
 * Parses a duration such as `500ms`, `5s`, `1m`, `1h30m` or `1.5s` into milliseconds
 * (rounded to an integer). Returns undefined for anything else, including bare numbers,
 * whose unit would be a guess.
 */
export function parseDuration(text: string): number | undefined {
  if (!durationPattern.test(text)) return undefined;
  let ms = 0;
  for (const [, value, unit] of text.matchAll(partPattern)) ms += Number(value) * (unitMs[unit ?? ''] ?? 0);
  return Math.round(ms);
}

/** Milliseconds as the shortest duration text parseDuration reads back to the same value. */
export function formatDuration(ms: number): string {
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
