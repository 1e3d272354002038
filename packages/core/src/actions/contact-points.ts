/**
 * What a recipient is, in one place: rule validation, the Notification Service and every gateway
 * import these, so save-time and send-time checks cannot drift apart.
 */

/** E.164: a plus, a non-zero country digit and 6 to 14 more digits. */
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;

// Deliberately simple (one @, no whitespace, quotes, brackets or separators, a dot in the domain): the
// provider does the full check; this one stops header tricks and obvious mistakes.
const EMAIL_PATTERN = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

/** Longest email address (RFC 5321 path limit, rounded as providers do). */
export const MAX_EMAIL_LENGTH = 320;

// CR, LF, NUL and the Unicode line and paragraph separators: anything that could end a header line.
const LINE_BREAK = /[\r\n\u2028\u2029\0]/;

export function isE164(value: string): boolean {
  return E164_PATTERN.test(value);
}

export function isEmailAddress(value: string): boolean {
  return value.length <= MAX_EMAIL_LENGTH && EMAIL_PATTERN.test(value);
}

/** True when `value` could end a header line early (CR, LF, NUL, Unicode line separators). */
export function hasLineBreak(value: string): boolean {
  return LINE_BREAK.test(value);
}

/**
 * The recipient a delivery is counted and found by: an E.164 number as is, an email address
 * lower-cased, a webhook's host; undefined for actions without one.
 */
export function normalizedRecipient(type: string, params: Record<string, unknown>): string | undefined {
  if (type === 'webhook') {
    const url = params['url'];
    if (typeof url !== 'string') return undefined;
    try {
      return new URL(url).host.toLowerCase();
    } catch {
      return undefined;
    }
  }
  const recipient = params['recipient'];
  if (typeof recipient !== 'string' || recipient === '') return undefined;
  return recipient.includes('@') ? recipient.trim().toLowerCase() : recipient.trim();
}
