/**
 * Parses IP address literals in every spelling a URL parser or the system resolver accepts, so an
 * address policy sees the same address the socket will connect to. `127.1`, `2130706433`, `0x7f.1`
 * and `0177.0.0.1` all mean 127.0.0.1 to the WHATWG URL parser and to inet_aton (getaddrinfo).
 */

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
export type IpAddress = { readonly family: 4; readonly bytes: Uint8Array } | { readonly family: 6; readonly bytes: Uint8Array };

// Longer numbers overflow 32 bits in any radix; refusing them early keeps parseInt exact.
const MAX_NUMBER_DIGITS = 12;

/** One dot-separated IPv4 part, in the radix its prefix selects (0x = hex, leading 0 = octal). */
function parseIPv4Number(part: string): number | null {
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(digits)) {
    digits = digits.slice(2);
    radix = 16;
    if (digits === '') return 0;
  } else if (digits.length > 1 && digits.startsWith('0')) {
    digits = digits.slice(1);
    radix = 8;
  }
  const valid = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!valid.test(digits) || digits.length > MAX_NUMBER_DIGITS) return null;
  return parseInt(digits, radix);
}

/**
 * IPv4 in the WHATWG URL / inet_aton forms: one to four parts, each decimal, octal or hex, the last
 * part filling the remaining bytes; one trailing dot allowed. Returns null for anything else.
 */
export function parseIPv4(input: string): Uint8Array | null {
  const parts = input.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 0 || parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    if (part === '') return null;
    const n = parseIPv4Number(part);
    if (n === null) return null;
    numbers.push(n);
  }
  const last = numbers.pop() as number;
  if (numbers.some((n) => n > 255)) return null;
  if (last >= 256 ** (4 - numbers.length)) return null;
  let value = last;
  numbers.forEach((n, i) => {
    value += n * 256 ** (3 - i);
  });
  return Uint8Array.of((value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255);
}

/** Strict dotted quad (decimal, no leading zeros), the only IPv4 form allowed inside IPv6. */
function parseDottedQuad(input: string): Uint8Array | null {
  const parts = input.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] ?? '';
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    bytes[i] = n;
  }
  return bytes;
}

/** IPv6 with `::` compression, a trailing dotted IPv4 part, optional brackets and zone id. */
export function parseIPv6(input: string): Uint8Array | null {
  let text = input;
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  if (!text.includes(':')) return null;

  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string | undefined): number[] | null => {
    if (half === undefined || half === '') return [];
    const out: number[] = [];
    const pieces = half.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? '';
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseDottedQuad(piece);
        if (!v4) return null;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
        continue;
      }
      if (!/^[0-9a-f]{1,4}$/i.test(piece)) return null;
      out.push(parseInt(piece, 16));
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  let all: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    all = head;
  }
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 255;
  });
  return bytes;
}

/**
 * Parses an IP literal in any accepted spelling (IPv4 shorthand/octal/hex/integer, IPv6 with or
 * without brackets and zone). Returns null when `text` is not an IP literal (a hostname).
 */
export function parseIpLiteral(text: string): IpAddress | null {
  const trimmed = text.trim();
  if (trimmed.includes(':')) {
    const v6 = parseIPv6(trimmed);
    return v6 ? { family: 6, bytes: v6 } : null;
  }
  const v4 = parseIPv4(trimmed);
  return v4 ? { family: 4, bytes: v4 } : null;
}

/** Canonical text of an address: dotted quad, or RFC 5952 compressed IPv6. */
export function formatIpAddress(address: IpAddress): string {
  const b = address.bytes;
  if (address.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
  // Longest run of at least two zero groups becomes `::` (first one on a tie).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
