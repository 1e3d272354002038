import { z } from 'zod';
import { formatPath, type ValidationIssue } from '../errors.js';
import { checkJsonShape } from '../input/json-shape.js';
import { issue } from '../actions/fields.js';
import { toValidationIssues } from '../rules/issues.js';
import { clockSchema, fallbackNeedsPath, fallbackRefinement, zoneNameSchema, zoneSpecSchema } from '../scheduling/zone-schemas.js';
import { CAP_PERIODS, IMPERSONAL_ACTION_TYPES, type ContactPolicy } from './contact-policy.js';

/** Channels one policy may name; an account has a handful (sms, email, a custom chat type). */
export const MAX_POLICY_CHANNELS = 20;
/** Caps one channel may have (one per period is what makes sense; a few more are tolerated). */
export const MAX_CHANNEL_CAPS = 6;

const clock = clockSchema;
const zoneName = zoneNameSchema;
const zoneSpec = zoneSpecSchema;

const quietHours = z
  .strictObject({ from: clock, to: clock, timeZone: zoneSpec.optional(), fallbackTimeZone: zoneName.optional() })
  .refine((q) => q.from !== q.to, { message: 'quiet hours need different from and to (to before from spans midnight)', params: { code: 'empty_window' }, path: ['to'] })
  .refine(fallbackNeedsPath, fallbackRefinement);

const cap = z.strictObject({
  max: z.number().int('max must be a whole number').min(1).max(1_000_000),
  per: z.enum(CAP_PERIODS),
});

/** Largest throttle rate: past it the engine's own claim loop, not the provider, is the limit. */
export const MAX_THROTTLE_PER_SECOND = 1_000;
export const MAX_THROTTLE_BURST = 10_000;

const throttle = z.strictObject({
  perSecond: z.number().gt(0, 'perSecond must be more than 0').max(MAX_THROTTLE_PER_SECOND),
  burst: z.number().int('burst must be a whole number').min(1).max(MAX_THROTTLE_BURST).optional(),
});

const channelPolicy = z
  .strictObject({
    quietHours: quietHours.optional(),
    caps: z
      .array(cap)
      .max(MAX_CHANNEL_CAPS)
      .superRefine((caps, ctx) => {
        const seen = new Set<string>();
        caps.forEach((c, index) => {
          if (seen.has(c.per)) ctx.addIssue(issue('duplicate_cap', `a second cap per ${c.per}: one per period (the smaller max is the one that holds)`, [index, 'per']));
          seen.add(c.per);
        });
      })
      .optional(),
    overCap: z.enum(['skip', 'defer']).optional(),
    timeZone: zoneSpec.optional(),
    fallbackTimeZone: zoneName.optional(),
    throttle: throttle.optional(),
  })
  .refine(fallbackNeedsPath, fallbackRefinement);

const policySchema = z
  .strictObject({
    channels: z.record(z.string().min(1).max(50), channelPolicy),
    // What `get` returns, so a read policy can be written back unchanged; the account and version come from the call.
    accountId: z.string().optional(),
    version: z.number().optional(),
    updatedAt: z.unknown().optional(),
  })
  .superRefine((policy, ctx) => {
    if (Object.keys(policy.channels).length > MAX_POLICY_CHANNELS) ctx.addIssue(issue('too_many_channels', `a policy names at most ${MAX_POLICY_CHANNELS} channels`, ['channels']));
  });

/**
 * Caps and quiet hours on a channel without a person behind it, read from the raw input: a refinement
 * of the schema would not run while other parts of the policy have problems, and this one is worth
 * reporting with them.
 */
function impersonalIssues(input: unknown): ValidationIssue[] {
  const channels = (input as { channels?: unknown } | null)?.channels;
  if (typeof channels !== 'object' || channels === null) return [];
  const issues: ValidationIssue[] = [];
  for (const name of IMPERSONAL_ACTION_TYPES) {
    const channel = Object.prototype.hasOwnProperty.call(channels, name) ? (channels as Record<string, unknown>)[name] : undefined;
    if (typeof channel !== 'object' || channel === null) continue;
    for (const field of ['quietHours', 'caps']) {
      if ((channel as Record<string, unknown>)[field] !== undefined) {
        issues.push({ path: formatPath(['channels', name, field]), code: 'not_a_person', message: `${name} has no person behind it: it is never capped or held by quiet hours` });
      }
    }
  }
  return issues;
}

/** Checks a contact policy document; the policy without the fields `get` adds, or every issue with its path. */
export function validateContactPolicy(input: unknown): { ok: true; policy: ContactPolicy } | { ok: false; issues: ValidationIssue[] } {
  const shape = checkJsonShape(input);
  if (shape) return { ok: false, issues: [{ path: formatPath(shape.path), code: shape.code, message: `policy ${shape.message}` }] };
  const parsed = policySchema.safeParse(input);
  const issues = [...impersonalIssues(input), ...(parsed.success ? [] : toValidationIssues(parsed.error.issues))];
  if (!parsed.success || issues.length > 0) return { ok: false, issues };
  const channels: ContactPolicy['channels'] = {};
  for (const [name, channel] of Object.entries(parsed.data.channels)) {
    const { throttle: rate, ...rest } = channel;
    channels[name] = {
      ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
      ...(rate ? { throttle: { perSecond: rate.perSecond, ...(rate.burst === undefined ? {} : { burst: rate.burst }) } } : {}),
    };
  }
  return { ok: true, policy: { channels } };
}

/** JSON Schema (2020-12) of a contact policy document, from the validator's zod schema (for OpenAPI). */
export function contactPolicyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(policySchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema['$schema'];
  return schema;
}
