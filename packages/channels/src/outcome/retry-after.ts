/** Longest wait a provider may impose; a larger Retry-After is clamped so a trigger is not parked for months. */
export const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * Parses an HTTP `Retry-After` header, either delay-seconds or an HTTP date (RFC 9110 §10.2.3),
 * into milliseconds from `now`. Returns undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(value: string | readonly string[] | undefined, now: number = Date.now()): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value) as string | undefined;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  // HTTP-date forms all start with a day name; Date.parse would also accept "1.5" or "-5".
  if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}
