/**
 * What a recipient is, in one place: rule validation, the Notification Service and every gateway
 * import these, so save-time and send-time checks cannot drift apart.
 */

/** E.164: a plus, a non-zero country digit and 6 to 14 more digits. */
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;

// An address as providers take it (RFC 5321/5322 dot-atoms, with RFC 6531 UTF-8): a local part of
// atoms joined by single dots, then a domain of at least two labels of letters, digits and inner
// hyphens, the last not all digits, with no trailing dot. No quoted local parts, display names
// (`A <a@b>`), comments or address literals: the provider would refuse each send of them. Both
// patterns are unambiguous (a dot always ends an atom or label), so they run in linear time.
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\u00a1-\\uffff-]";
const LOCAL_PART_PATTERN = new RegExp(`^${ATEXT}+(?:\\.${ATEXT}+)*$`);
const LABEL = '[A-Za-z0-9\\u00a1-\\uffff](?:[A-Za-z0-9\\u00a1-\\uffff-]{0,61}[A-Za-z0-9\\u00a1-\\uffff])?';
const DOMAIN_PATTERN = new RegExp(`^(?:${LABEL}\\.)+${LABEL}$`);
const NUMERIC_LABEL = /^[0-9]+$/;
// Whitespace anywhere (Unicode spaces and separators included), ASCII and C1 control characters.
const NOT_IN_ADDRESS = /[\s\x00-\x1f\x7f-\x9f]/;

/** Longest email address (RFC 5321 path limit, rounded as providers do). */
export const MAX_EMAIL_LENGTH = 320;
/** Longest local part and domain (RFC 5321 §4.5.3.1). */
export const MAX_EMAIL_LOCAL_PART_LENGTH = 64;
export const MAX_EMAIL_DOMAIN_LENGTH = 255;

// CR, LF, NUL and the Unicode line and paragraph separators: anything that could end a header line.
const LINE_BREAK = /[\r\n\u2028\u2029\0]/;

export function isE164(value: string): boolean {
  return E164_PATTERN.test(value);
}

export function isEmailAddress(value: string): boolean {
  if (value.length > MAX_EMAIL_LENGTH || NOT_IN_ADDRESS.test(value)) return false;
  const at = value.lastIndexOf('@');
  if (at <= 0) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (local.length > MAX_EMAIL_LOCAL_PART_LENGTH || domain.length > MAX_EMAIL_DOMAIN_LENGTH) return false;
  if (!LOCAL_PART_PATTERN.test(local) || !DOMAIN_PATTERN.test(domain)) return false;
  return !NUMERIC_LABEL.test(domain.slice(domain.lastIndexOf('.') + 1));
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
