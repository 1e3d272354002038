import { SUPPRESSION_REASONS, SUPPRESSION_SOURCES, type ContactPolicy, type Page, type StoredContactPolicy, type Suppression, type SuppressionChange } from '@crm-automation/core';
import { z } from 'zod';

/**
 * The contact data as it travels between the trigger service (which keeps it) and the rules service
 * (whose Rules API shows and changes it) in JSON: dates as ISO strings. The shape is checked; the
 * policy's content was validated by the engine that stored it.
 */
/** Where the rules service reaches the trigger service's contact data. */
export const CONTACT_API_PREFIX = '/internal/v1/contact';

const short = z.string().min(1).max(320);
const reason = z.enum(SUPPRESSION_REASONS as [Suppression['reason'], ...Suppression['reason'][]]);
const source = z.enum(SUPPRESSION_SOURCES as [Suppression['source'], ...Suppression['source'][]]);
const provenance = { by: z.string().max(200).optional(), detail: z.string().max(1_000).optional() };

const suppressionJson = z.object({ accountId: short, channel: short, recipient: short, reason, source, ...provenance, createdAt: z.coerce.date() });
const changeJson = z.object({ accountId: short, channel: short, recipient: short, action: z.enum(['added', 'removed']), reason, source, ...provenance, at: z.coerce.date() });
const policyJson = z.object({ accountId: short, channels: z.record(z.string(), z.unknown()), version: z.number().int().positive(), updatedAt: z.coerce.date() });

/** What the internal contact routes take (the rules service's engine has checked and normalised it already; checked again here). */
export const contactRequests = {
  lookup: z.object({ accountId: short, channel: short, recipient: short }).strict(),
  add: z.object({ accountId: short, entry: z.object({ channel: short, recipient: short, reason, source, ...provenance }).strict() }).strict(),
  remove: z.object({ accountId: short, channel: short, recipient: short, change: z.object({ reason: reason.optional(), source, ...provenance }).strict() }).strict(),
  list: z.object({ accountId: short, filter: z.object({ channel: short.optional(), limit: z.number().int().positive().max(1_000).optional(), cursor: z.string().max(1_000).optional() }).strict() }).strict(),
  changes: z.object({ accountId: short, filter: z.object({ channel: short.optional(), recipient: short.optional(), limit: z.number().int().positive().max(1_000).optional(), cursor: z.string().max(1_000).optional() }).strict() }).strict(),
  policyGet: z.object({ accountId: short }).strict(),
  policySet: z.object({ accountId: short, policy: z.unknown(), expectedVersion: z.number().int().min(0).optional() }).strict(),
};

/** A contact answer without the shape it should have (a bug or version skew between the services). */
export class ContactWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContactWireError';
  }
}

function read<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ContactWireError(`malformed ${what}: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
}

/** Optional text fields as the ports have them: absent, never `undefined`-valued. */
function withProvenance<T extends object>(base: T, value: { by?: string | undefined; detail?: string | undefined }): T & { by?: string; detail?: string } {
  return { ...base, ...(value.by === undefined ? {} : { by: value.by }), ...(value.detail === undefined ? {} : { detail: value.detail }) };
}

export function suppressionFromJson(value: unknown): Suppression {
  const { by, detail, ...rest } = read(suppressionJson, value, 'suppression');
  return withProvenance(rest, { by, detail });
}

export function suppressionChangeFromJson(value: unknown): SuppressionChange {
  const { by, detail, ...rest } = read(changeJson, value, 'suppression change');
  return withProvenance(rest, { by, detail });
}

export function storedPolicyFromJson(value: unknown): StoredContactPolicy {
  const parsed = read(policyJson, value, 'contact policy');
  return { ...parsed, channels: parsed.channels as ContactPolicy['channels'] };
}

export function pageFromJson<T>(value: unknown, item: (value: unknown) => T, what: string): Page<T> {
  const page = read(z.object({ items: z.array(z.unknown()), nextCursor: z.string().optional() }), value, `${what} page`);
  const items = page.items.map(item);
  return page.nextCursor === undefined ? { items } : { items, nextCursor: page.nextCursor };
}
