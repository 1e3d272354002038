import { AutomationError, describeError } from '../errors.js';
import type { Logger } from '../ports/logger.js';
import type { ContactCounter, ContactPolicyStore, ReleaseRequest, SendThrottle, StoredContactPolicy, SuppressionChange, SuppressionStore } from '../ports/contact-policy.js';
import type { ClaimedTrigger } from '../scheduling/trigger.js';
import { DEFAULT_MESSAGE_CATEGORY, IMPERSONAL_ACTION_TYPES, type ChannelPolicy, type ContactCap, type MessageCategory, type SendThrottlePolicy } from './contact-policy.js';
import { capBuckets, deferralJitterMs, quietUntil, recipientZone, throttleJitterMs } from './fire-time.js';

/** The contact policy ports an engine has, and what it tells observers. */
export interface ContactPorts {
  policies?: ContactPolicyStore | undefined;
  suppressions?: SuppressionStore | undefined;
  counter?: ContactCounter | undefined;
  /** Paces each account's sends per channel (`throttle` in the policy); without it no throttle holds. */
  throttle?: SendThrottle | undefined;
  /** Who the engine's own suppressions are by (its instance id). */
  by: string;
  /** A suppression the engine added itself (a provider's opt-out error). */
  onSuppressed?: ((change: SuppressionChange) => void) | undefined;
  onDeferred?: ((info: { trigger: ClaimedTrigger; actionIndex: number; reason: ContactDeferralReason; until: Date }) => void) | undefined;
  onSkipped?: ((info: { trigger: ClaimedTrigger; actionIndex: number; reason: 'suppressed' | 'capped' }) => void) | undefined;
}

/** Why the policy deferred a run: the recipient's quiet hours, a full cap (`overCap: 'defer'`), the channel's rate. */
export type ContactDeferralReason = 'quiet-hours' | 'capped' | 'throttled';

/** What the policy says about one send, now. */
export type ContactDecision =
  | { kind: 'send'; reservation?: ReleaseRequest | undefined; /** A preview: the caps the send would be counted against. */ counted?: ContactCap[] | undefined }
  | { kind: 'skip'; reason: 'suppressed' | 'capped' }
  | { kind: 'defer'; reason: ContactDeferralReason; until: Date };

const SEND: ContactDecision = { kind: 'send' };

/** Twilio's "Attempt to send to unsubscribed recipient": the person replied STOP to that number. */
export const PROVIDER_OPT_OUT_CODES: ReadonlySet<string> = new Set(['21610']);

/** Whether a send's error says the recipient opted out at the provider. */
export function isProviderOptOut(error: { [key: string]: unknown }): boolean {
  const code = error['providerCode'];
  return (typeof code === 'string' || typeof code === 'number') && PROVIDER_OPT_OUT_CODES.has(String(code));
}

function unavailable(what: string, error: unknown): AutomationError {
  return new AutomationError('CRM_ERR_POLICY_UNAVAILABLE', `could not read the ${what} before the send: ${describeError(error).message}`, { retryable: true, cause: error });
}

/**
 * The contact policy for one attempt at one trigger: the account's policy is read once, on the first
 * send to a person, and every send is checked in the order suppression, quiet hours, caps.
 */
export class AttemptContactGuard {
  private policy: Promise<StoredContactPolicy | null> | undefined;

  constructor(
    private readonly ports: ContactPorts,
    private readonly accountId: string,
    private readonly triggerId: string,
    private readonly payload: Record<string, unknown>,
    private readonly logger: Logger,
    /** The attempt's number, so that a run the throttle defers again and again lands at a new offset each time. */
    private readonly attempt = 1,
  ) {}

  private policyOfAccount(): Promise<StoredContactPolicy | null> {
    const store = this.ports.policies;
    if (!store) return Promise.resolve(null);
    this.policy ??= store.getContactPolicy(this.accountId);
    return this.policy;
  }

  /**
   * What the policy says about a send now: suppression (any category), then for marketing quiet hours
   * and caps, then the channel's throttle (any category). `preview` (a dry run) takes nothing from the
   * counter or the throttle: a send the caps would count is `send` with the caps it would be `counted` against.
   */
  async check(type: string, recipient: string | undefined, category: MessageCategory | undefined, holder: string, now: Date, preview = false): Promise<ContactDecision> {
    // Only an engine with a throttle reads the policy for sends the rest of it never holds back.
    const throttled = this.ports.throttle !== undefined && !preview;
    // No person behind it: no suppression, quiet hours or caps, only the channel's rate.
    const impersonal = IMPERSONAL_ACTION_TYPES.has(type);
    if (impersonal && !throttled) return SEND;
    const unheld = impersonal || (category ?? DEFAULT_MESSAGE_CATEGORY) === 'transactional';
    // The policy read goes out with the suppression look-up rather than after it: one round trip, not two.
    const reading = unheld && !throttled ? undefined : this.policyOfAccount();
    // A suppressed send never looks at the policy; a failed read is not kept for the next action.
    reading?.catch(() => {
      if (this.policy === reading) this.policy = undefined;
    });
    const { suppressions } = this.ports;
    if (!impersonal && suppressions && recipient !== undefined) {
      let found;
      try {
        found = await suppressions.findSuppression(this.accountId, type, recipient);
      } catch (error) {
        throw unavailable('suppression list', error);
      }
      if (found) return { kind: 'skip', reason: 'suppressed' };
    }
    if (!reading) return SEND;
    let policy;
    try {
      policy = await reading;
    } catch (error) {
      // The next action reads it again rather than reusing a failed read.
      this.policy = undefined;
      throw unavailable('contact policy', error);
    }
    const channel = policy?.channels[type];
    if (!channel) return SEND;
    // Without a rate to take, the path (and its awaits) is the one an engine without a throttle has.
    if (!throttled || !channel.throttle) return unheld ? SEND : this.marketing(type, channel, recipient, holder, now, preview);
    const decision = unheld ? SEND : await this.marketing(type, channel, recipient, holder, now, preview);
    // A send the caps admitted keeps its unit while the throttle holds it back: the retry reserves
    // with the same holder, a no-op, rather than competing for the cap again.
    if (decision.kind !== 'send') return decision;
    const rate = await this.throttle(type, channel.throttle, now);
    return rate.kind === 'send' ? decision : rate;
  }

  /** Takes a token of the channel's throttle, or the deferral to when one is due (plus a jitter of up to a second). */
  private async throttle(type: string, rate: SendThrottlePolicy, now: Date): Promise<ContactDecision> {
    const throttle = this.ports.throttle;
    if (!throttle) return SEND;
    let taken;
    try {
      taken = await throttle.take({ accountId: this.accountId, channel: type, now, perSecond: rate.perSecond, ...(rate.burst === undefined ? {} : { burst: rate.burst }) });
    } catch (error) {
      throw unavailable('send throttle', error);
    }
    if (taken.ok) return SEND;
    const due = Math.max(taken.retryAtMs, now.getTime());
    return { kind: 'defer', reason: 'throttled', until: new Date(due + throttleJitterMs(this.triggerId, this.attempt)) };
  }

  /** Quiet hours and caps, for a marketing send on a channel the policy names. */
  private async marketing(type: string, channel: ChannelPolicy, recipient: string | undefined, holder: string, now: Date, preview: boolean): Promise<ContactDecision> {
    const caps = channel.caps ?? [];
    if (!channel.quietHours && caps.length === 0) return SEND;
    const zone = recipientZone(channel, this.payload);
    if (zone.unknown !== undefined || (zone.source === 'default' && (channel.quietHours?.timeZone ?? channel.timeZone) !== undefined)) {
      this.logger.warn({ accountId: this.accountId, triggerId: this.triggerId, channel: type, zone: typeof zone.unknown === 'string' ? zone.unknown.slice(0, 64) : typeof zone.unknown }, 'recipient time zone missing or unknown in the payload; contact policy applied in UTC');
    }
    if (channel.quietHours) {
      const until = quietUntil(channel.quietHours, zone.zone, now);
      if (until) return { kind: 'defer', reason: 'quiet-hours', until: new Date(until.getTime() + deferralJitterMs(this.triggerId)) };
    }
    if (caps.length === 0 || recipient === undefined) return SEND;
    if (preview) return { kind: 'send', counted: caps };
    const counter = this.ports.counter;
    if (!counter) {
      this.logger.warn({ accountId: this.accountId, triggerId: this.triggerId, channel: type }, 'the contact policy caps this channel but the engine has no contact counter; sent uncounted');
      return SEND;
    }
    const buckets = capBuckets(type, recipient, caps, zone.zone, now);
    let reserved;
    try {
      reserved = await counter.reserve({ accountId: this.accountId, channel: type, recipient, buckets: buckets.map(({ key, max, expiresAt }) => ({ key, max, expiresAt })), holder, now });
    } catch (error) {
      throw unavailable('cap counter', error);
    }
    if (reserved.ok) return { kind: 'send', reservation: { accountId: this.accountId, channel: type, recipient, bucketKeys: buckets.map((b) => b.key), holder } };
    if (channel.overCap !== 'defer') return { kind: 'skip', reason: 'capped' };
    const full = buckets.find((b) => b.key === reserved.full) ?? buckets[0];
    const endsAt = full ? full.endsAt.getTime() : now.getTime();
    return { kind: 'defer', reason: 'capped', until: new Date(endsAt + deferralJitterMs(this.triggerId)) };
  }

  /** Gives a reservation back (the send failed permanently, or the recipient opted out). Never throws. */
  async release(reservation: ReleaseRequest | undefined): Promise<void> {
    if (!reservation || !this.ports.counter) return;
    try {
      await this.ports.counter.release(reservation);
    } catch (error) {
      this.logger.warn({ accountId: this.accountId, triggerId: this.triggerId, error: describeError(error) }, 'could not release a cap reservation; the cap counts a send that was not made');
    }
  }

  /** Suppresses a recipient the provider says opted out (Twilio 21610). Never throws. */
  async providerOptOut(type: string, recipient: string, detail: string, at: Date): Promise<void> {
    const store = this.ports.suppressions;
    if (!store) return;
    const by = this.ports.by;
    try {
      const added = await store.addSuppression({ accountId: this.accountId, channel: type, recipient, reason: 'provider-opt-out', source: 'provider-error', detail, by, createdAt: at });
      if (added.created) this.ports.onSuppressed?.({ accountId: this.accountId, channel: type, recipient, action: 'added', reason: 'provider-opt-out', source: 'provider-error', detail, by, at });
    } catch (error) {
      this.logger.error({ accountId: this.accountId, triggerId: this.triggerId, channel: type, error: describeError(error) }, 'could not record a provider opt-out in the suppression list');
    }
  }
}
