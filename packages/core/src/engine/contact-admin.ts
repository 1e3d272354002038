import { hasLineBreak, isE164, isEmailAddress, MAX_EMAIL_LENGTH, normalizedRecipient } from '../actions/contact-points.js';
import { AutomationError, ContactPolicyValidationError, type ValidationIssue } from '../errors.js';
import { IMPERSONAL_ACTION_TYPES, type ContactPolicy } from '../policy/contact-policy.js';
import { contactPolicyJsonSchema, validateContactPolicy } from '../policy/validate-policy.js';
import type { Clock } from '../ports/clock.js';
import {
  SUPPRESSION_REASONS,
  SUPPRESSION_SOURCES,
  type ContactPolicyStore,
  type StoredContactPolicy,
  type Suppression,
  type SuppressionChange,
  type SuppressionChangeFilter,
  type SuppressionFilter,
  type SuppressionReason,
  type SuppressionSource,
  type SuppressionStore,
} from '../ports/contact-policy.js';
import type { Page } from '../rules/rule.js';
import { requireAccount } from './account.js';
import type { EngineObserver } from './observer.js';

export type ContactPolicyValidationResult = { ok: true; policy: ContactPolicy } | { ok: false; issues: ValidationIssue[] };

export interface SetContactPolicyOptions {
  /** Refuse the write (`VersionConflictError`) unless the stored policy is at this version (0: none yet). */
  expectedVersion?: number | undefined;
}

/** `engine.contactPolicy`: an account's quiet hours, caps and over-cap behaviour, per channel. */
export interface ContactPolicyAdmin {
  get(accountId: string): Promise<StoredContactPolicy | null>;
  /** Validates (`ContactPolicyValidationError`, `CRM_ERR_POLICY_INVALID`, with every issue) and replaces the policy. */
  set(accountId: string, policy: ContactPolicy | unknown, options?: SetContactPolicyOptions): Promise<StoredContactPolicy>;
  /** Checks a policy without storing it. */
  validate(input: unknown): ContactPolicyValidationResult;
  /** JSON Schema (2020-12) of the policy documents `set` accepts. */
  jsonSchema(): Record<string, unknown>;
}

/** What `engine.suppressions.add` takes. */
export interface SuppressionInput {
  channel: string;
  /** E.164 for sms, an email address for email (lower-cased); checked and normalised. */
  recipient: string;
  reason: SuppressionReason;
  source: SuppressionSource;
  by?: string | undefined;
  detail?: string | undefined;
}

/** What `engine.suppressions.remove` records (START removes a STOP). */
export interface SuppressionRemovalInput {
  /** Default `manual`. */
  reason?: SuppressionReason | undefined;
  source: SuppressionSource;
  by?: string | undefined;
  detail?: string | undefined;
}

/** `engine.suppressions`: the consent ledger. Every add and remove is kept (`changes`) and observed (`suppression:changed`). */
export interface SuppressionAdmin {
  /** Idempotent: `created: false` with the existing entry when the recipient is already suppressed. */
  add(accountId: string, input: SuppressionInput): Promise<{ created: boolean; suppression: Suppression }>;
  /** False when the recipient was not suppressed. */
  remove(accountId: string, channel: string, recipient: string, change: SuppressionRemovalInput): Promise<boolean>;
  lookup(accountId: string, channel: string, recipient: string): Promise<Suppression | null>;
  list(accountId: string, filter?: SuppressionFilter): Promise<Page<Suppression>>;
  /** Every add and remove, oldest first: the audit export. */
  changes(accountId: string, filter?: SuppressionChangeFilter): Promise<Page<SuppressionChange>>;
}

export interface ContactAdminContext {
  policies: ContactPolicyStore | undefined;
  suppressions: SuppressionStore | undefined;
  clock: Clock;
  observer: EngineObserver;
}

const MAX_CHANNEL_LENGTH = 50;
const MAX_BY_LENGTH = 200;
const MAX_DETAIL_LENGTH = 1_000;

function noStore(what: 'contact policy' | 'suppression'): never {
  throw new AutomationError(
    'CRM_ERR_CONFIG',
    `this engine has no ${what} store: give it a store that keeps one (createMemoryStore()) or \`${what === 'contact policy' ? 'contactPolicies' : 'suppressions'}\``,
  );
}

/** `engine.contactPolicy`. */
export function createContactPolicyAdmin(ctx: ContactAdminContext): ContactPolicyAdmin {
  const store = (): ContactPolicyStore => ctx.policies ?? noStore('contact policy');
  return {
    get: async (accountId) => store().getContactPolicy(requireAccount(accountId)),
    async set(accountId, input, options = {}) {
      requireAccount(accountId);
      const policies = store();
      const checked = validateContactPolicy(input);
      if (!checked.ok) throw new ContactPolicyValidationError(checked.issues);
      const expected = options.expectedVersion;
      if (expected !== undefined && (!Number.isInteger(expected) || expected < 0)) {
        throw new ContactPolicyValidationError([{ path: 'expectedVersion', code: 'invalid_value', message: 'expectedVersion must be a non-negative integer (0: no policy stored yet)' }]);
      }
      return policies.putContactPolicy(accountId, checked.policy, { now: ctx.clock.now(), ...(expected === undefined ? {} : { expectedVersion: expected }) });
    },
    validate: (input) => validateContactPolicy(input),
    jsonSchema: () => contactPolicyJsonSchema(),
  };
}

/** The recipient as suppressions key it, or the issues of one that cannot be a recipient of `channel`. */
export function suppressionKey(channel: unknown, recipient: unknown): { ok: true; channel: string; recipient: string } | { ok: false; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  if (typeof channel !== 'string' || channel.length === 0 || channel.length > MAX_CHANNEL_LENGTH) {
    issues.push({ path: 'channel', code: 'invalid_value', message: `channel must be an action type (sms, email, ...) of 1 to ${MAX_CHANNEL_LENGTH} characters` });
  } else if (IMPERSONAL_ACTION_TYPES.has(channel)) {
    issues.push({ path: 'channel', code: 'not_a_person', message: `${channel} has no person behind it: nothing to suppress` });
  }
  if (typeof recipient !== 'string' || recipient.trim() === '') {
    issues.push({ path: 'recipient', code: 'required', message: 'recipient is required' });
    return { ok: false, issues };
  }
  if (issues.length > 0 || typeof channel !== 'string') return { ok: false, issues };
  const normalized = normalizedRecipient(channel, { recipient }) ?? '';
  if (channel === 'sms' && !isE164(normalized)) {
    issues.push({ path: 'recipient', code: 'invalid_recipient', message: 'SMS recipient must be an E.164 number such as +15557654321' });
  } else if (channel === 'email' && !isEmailAddress(normalized)) {
    issues.push({ path: 'recipient', code: 'invalid_recipient', message: 'email recipient must be an email address' });
  } else if (normalized.length > MAX_EMAIL_LENGTH || hasLineBreak(normalized)) {
    issues.push({ path: 'recipient', code: 'invalid_recipient', message: `recipient must be one line of at most ${MAX_EMAIL_LENGTH} characters` });
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, channel, recipient: normalized };
}

function checkKey(channel: unknown, recipient: unknown): { channel: string; recipient: string } {
  const key = suppressionKey(channel, recipient);
  if (!key.ok) throw new ContactPolicyValidationError(key.issues, 'suppression');
  return key;
}

function checkProvenance(input: { reason?: unknown; source?: unknown; by?: unknown; detail?: unknown }, reasonRequired: boolean): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if ((reasonRequired || input.reason !== undefined) && !SUPPRESSION_REASONS.includes(input.reason as SuppressionReason)) {
    issues.push({ path: 'reason', code: 'invalid_value', message: `reason must be one of ${SUPPRESSION_REASONS.join(', ')}` });
  }
  if (!SUPPRESSION_SOURCES.includes(input.source as SuppressionSource)) {
    issues.push({ path: 'source', code: 'invalid_value', message: `source must be one of ${SUPPRESSION_SOURCES.join(', ')}` });
  }
  if (input.by !== undefined && (typeof input.by !== 'string' || input.by.length > MAX_BY_LENGTH)) {
    issues.push({ path: 'by', code: 'invalid_value', message: `by must be a string of at most ${MAX_BY_LENGTH} characters` });
  }
  if (input.detail !== undefined && (typeof input.detail !== 'string' || input.detail.length > MAX_DETAIL_LENGTH)) {
    issues.push({ path: 'detail', code: 'invalid_value', message: `detail must be a string of at most ${MAX_DETAIL_LENGTH} characters` });
  }
  return issues;
}

/**
 * Adds a suppression and tells observers when it is new: what `engine.suppressions.add` and the
 * engine's own opt-out handling (a provider's 21610) share.
 */
export async function addSuppression(store: SuppressionStore, observer: EngineObserver, entry: Suppression): Promise<{ created: boolean; suppression: Suppression }> {
  const added = await store.addSuppression(entry);
  if (added.created) {
    const { createdAt, ...rest } = entry;
    observer.emit('suppression:changed', { change: { ...rest, action: 'added', at: createdAt } });
  }
  return added;
}

/** `engine.suppressions`. */
export function createSuppressionAdmin(ctx: ContactAdminContext): SuppressionAdmin {
  const store = (): SuppressionStore => ctx.suppressions ?? noStore('suppression');
  return {
    async add(accountId, input) {
      requireAccount(accountId);
      const suppressions = store();
      const key = suppressionKey(input.channel, input.recipient);
      const issues = [...(key.ok ? [] : key.issues), ...checkProvenance(input, true)];
      if (!key.ok || issues.length > 0) throw new ContactPolicyValidationError(issues, 'suppression');
      return addSuppression(suppressions, ctx.observer, {
        accountId,
        channel: key.channel,
        recipient: key.recipient,
        reason: input.reason,
        source: input.source,
        ...(input.by === undefined ? {} : { by: input.by }),
        ...(input.detail === undefined ? {} : { detail: input.detail }),
        createdAt: ctx.clock.now(),
      });
    },
    async remove(accountId, channel, recipient, change) {
      requireAccount(accountId);
      const suppressions = store();
      const key = suppressionKey(channel, recipient);
      const issues = [...(key.ok ? [] : key.issues), ...checkProvenance(change, false)];
      if (!key.ok || issues.length > 0) throw new ContactPolicyValidationError(issues, 'suppression');
      const at = ctx.clock.now();
      const reason = change.reason ?? 'manual';
      const provenance = { ...(change.by === undefined ? {} : { by: change.by }), ...(change.detail === undefined ? {} : { detail: change.detail }) };
      const removed = await suppressions.removeSuppression(accountId, key.channel, key.recipient, { at, reason, source: change.source, ...provenance });
      if (removed) ctx.observer.emit('suppression:changed', { change: { accountId, channel: key.channel, recipient: key.recipient, action: 'removed', reason, source: change.source, ...provenance, at } });
      return removed;
    },
    async lookup(accountId, channel, recipient) {
      requireAccount(accountId);
      const suppressions = store();
      const key = checkKey(channel, recipient);
      return suppressions.findSuppression(accountId, key.channel, key.recipient);
    },
    async list(accountId, filter = {}) {
      requireAccount(accountId);
      return store().listSuppressions(accountId, filter);
    },
    async changes(accountId, filter = {}) {
      requireAccount(accountId);
      const suppressions = store();
      if (filter.recipient !== undefined && filter.channel !== undefined) {
        const key = checkKey(filter.channel, filter.recipient);
        return suppressions.suppressionChanges(accountId, { ...filter, recipient: key.recipient });
      }
      // Without a channel the recipient cannot be checked against one; it is normalised as a delivery's is.
      const recipient = filter.recipient === undefined ? undefined : normalizedRecipient(filter.recipient.includes('@') ? 'email' : 'sms', { recipient: filter.recipient });
      return suppressions.suppressionChanges(accountId, { ...filter, ...(recipient === undefined ? {} : { recipient }) });
    },
  };
}
