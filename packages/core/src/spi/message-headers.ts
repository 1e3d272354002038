/**
 * Headers every bus sets on the messages it writes, the same names on every broker, so a dead letter
 * read with another tool (or by another adapter) says the same thing. Everything else in a message's
 * headers belongs to its publisher.
 */
export const BUS_HEADER = {
  /** The delivery attempt a message is on: 1 when published, n + 1 on the copy that retries attempt n. */
  attempt: 'x-crm-attempt',
  accountId: 'x-crm-account-id',
  /** The consumer group a retry or dead letter belongs to. */
  group: 'x-crm-group',
  /** Why a dead letter was given up on. */
  reason: 'x-crm-reason',
  /** Deliveries a dead letter had. */
  attempts: 'x-crm-attempts',
  /** When it was dead-lettered (ISO 8601). */
  deadAt: 'x-crm-dead-at',
} as const;

/** The bus's own header names; publishers' headers never start like this. */
export const BUS_HEADER_PATTERN = /^x-crm-/;

/**
 * The publisher's headers as strings, without the ones whose names match `reserved` (the bus's own;
 * a broker adds its bookkeeping headers to the pattern). Numbers, booleans and bigints become text,
 * bytes are read as UTF-8, anything else is left out.
 */
export function publisherHeaders(headers: Readonly<Record<string, unknown>> | undefined, reserved: RegExp = BUS_HEADER_PATTERN): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (reserved.test(key)) continue;
    if (typeof value === 'string') out[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') out[key] = String(value);
    else if (Buffer.isBuffer(value)) out[key] = value.toString('utf8');
  }
  return out;
}

/** A header holding a number (as a number, a bigint or decimal text); undefined when absent or not a number. */
export function numberHeader(headers: Readonly<Record<string, unknown>> | undefined, key: string): number | undefined {
  const value = headers?.[key];
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? Number.parseInt(value, 10) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** A header holding text (a string or UTF-8 bytes); undefined otherwise. */
export function stringHeader(headers: Readonly<Record<string, unknown>> | undefined, key: string): string | undefined {
  const value = headers?.[key];
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

/** What a dead letter carries besides its original headers. */
export interface DeadLetterHeaders {
  [BUS_HEADER.reason]: string;
  [BUS_HEADER.attempts]: number;
  [BUS_HEADER.deadAt]: string;
  [BUS_HEADER.group]: string;
  [BUS_HEADER.accountId]?: string;
}

/** The headers that make a copy of a message a dead letter of `group`. */
export function deadLetterHeaders(letter: { reason: string; attempts: number; group: string; accountId: string | undefined }): DeadLetterHeaders {
  const headers: DeadLetterHeaders = {
    [BUS_HEADER.reason]: letter.reason,
    [BUS_HEADER.attempts]: letter.attempts,
    [BUS_HEADER.deadAt]: new Date().toISOString(),
    [BUS_HEADER.group]: letter.group,
  };
  if (letter.accountId !== undefined) headers[BUS_HEADER.accountId] = letter.accountId;
  return headers;
}
