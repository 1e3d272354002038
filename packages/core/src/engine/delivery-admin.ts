import { AutomationError, DeliveryStateError, NotFoundError, TriggerStateError } from '../errors.js';
import { normalizedRecipient } from '../actions/contact-points.js';
import { DELIVERY_STATES } from '../ports/delivery-ledger.js';
import type { Clock } from '../ports/clock.js';
import type { Delivery, DeliveryFilter, DeliveryLedger, DeliveryReceipt, ReceiptResult } from '../ports/delivery-ledger.js';
import type { ChannelMap } from '../ports/gateway.js';
import type { Logger } from '../ports/logger.js';
import type { TriggerStore } from '../ports/store.js';
import type { Page } from '../rules/rule.js';
import { failoverAfter, receiptOf } from '../dispatch/dispatch-actions.js';
import type { DeliveryOutcome } from '../ports/delivery-ledger.js';
import type { Trigger } from '../scheduling/trigger.js';
import { requireAccount } from './account.js';
import type { EngineObserver } from './observer.js';

/** `engine.deliveries`: the delivery ledger as users and operators see it. */
export interface DeliveryAdmin {
  /**
   * An account's deliveries, newest first (filter by trigger, recipient, provider, provider id, state;
   * all combined). The recipient is compared as deliveries keep it (email lower-cased).
   */
  list(accountId: string, filter?: Parameters<DeliveryLedger['listDeliveries']>[1]): Promise<Page<Delivery>>;
  get(accountId: string, id: string): Promise<Delivery | null>;
  /** Every send of one trigger, oldest first. */
  ofTrigger(accountId: string, triggerId: string): Promise<Delivery[]>;
  /**
   * An operator's decision on an `unknown` send: `sent` (it did reach the provider) or `resend` (send
   * the action again: the delivery is `abandoned` and the trigger runs again now). Null when the
   * delivery does not exist in this account; `DeliveryStateError` (`CRM_ERR_DELIVERY_STATE`) when it
   * is not `unknown`, and `TriggerStateError` for a resend while its trigger has not finished (nothing
   * changed in either case).
   */
  resolve(accountId: string, id: string, resolution: { as: 'sent' | 'resend'; by?: string | undefined; note?: string | undefined }): Promise<Delivery | null>;
  /** Applies a provider receipt (the receipt routes call it), forward only. */
  applyReceipt(receipt: DeliveryReceipt): Promise<ReceiptResult>;
  /**
   * Settles intents older than the lease that never got an outcome: from the trigger's history when it
   * recorded how the send ended (the outcome write to the ledger was lost, not the send's result), else
   * `unknown`. Returns how many were settled.
   */
  reconcile(): Promise<number>;
}

export interface DeliveryAdminContext {
  ledger: DeliveryLedger | undefined;
  /** The engine's gateways, for their failover settings. */
  channels: ChannelMap;
  triggers: TriggerStore;
  clock: Clock;
  logger: Logger;
  observer: EngineObserver;
  leaseMs: number;
  wake: (at: Date) => void;
}

/**
 * A list filter as the ledgers compare it: the recipient normalised as deliveries keep it (an email
 * address lower-cased and trimmed, as `GET /deliveries` reads it), and a state that does not exist
 * refused rather than answered with an empty page.
 */
function checkedFilter(filter: DeliveryFilter): DeliveryFilter {
  if (typeof filter !== 'object' || filter === null) throw new AutomationError('CRM_ERR_CONFIG', 'deliveries.list: the filter must be an object');
  const states = filter.state === undefined ? [] : Array.isArray(filter.state) ? filter.state : [filter.state];
  const wrong = states.find((state) => !DELIVERY_STATES.includes(state));
  if (wrong !== undefined) throw new AutomationError('CRM_ERR_CONFIG', `deliveries.list: state ${JSON.stringify(wrong)} is not a delivery state (${DELIVERY_STATES.join(', ')})`);
  for (const key of ['triggerId', 'recipient', 'provider', 'providerId', 'cursor'] as const) {
    const value = filter[key];
    if (value !== undefined && typeof value !== 'string') throw new AutomationError('CRM_ERR_CONFIG', `deliveries.list: ${key} must be a string`);
  }
  if (filter.recipient === undefined) return filter;
  return { ...filter, recipient: normalizedRecipient('query', { recipient: filter.recipient }) ?? filter.recipient };
}

export function createDeliveryAdmin(ctx: DeliveryAdminContext): DeliveryAdmin {
  const ledger = (): DeliveryLedger => {
    if (!ctx.ledger) throw new AutomationError('CRM_ERR_CONFIG', 'this engine keeps no delivery ledger: give it a store that has one (memory, PostgreSQL, MongoDB) or `ledger`');
    return ctx.ledger;
  };
  /** The other providers behind the failover gateways that have `provider` among theirs. */
  const siblingsOf = (provider: string): string[] => {
    const siblings = new Set<string>();
    for (const gateway of Object.values(ctx.channels)) {
      const providers = gateway.failover?.providers;
      if (providers?.includes(provider)) for (const other of providers) if (other !== provider) siblings.add(other);
    }
    return [...siblings];
  };
  return {
    list: async (accountId, filter = {}) => ledger().listDeliveries(requireAccount(accountId), checkedFilter(filter)),
    get: async (accountId, id) => ledger().getDelivery(requireAccount(accountId), id),
    ofTrigger: async (accountId, triggerId) => ledger().deliveriesOfTrigger(requireAccount(accountId), triggerId),
    async resolve(accountId, id, resolution) {
      requireAccount(accountId);
      const as = (resolution as { as?: unknown } | null | undefined)?.as;
      if (as !== 'sent' && as !== 'resend') throw new AutomationError('CRM_ERR_CONFIG', `deliveries.resolve: resolution.as must be 'sent' or 'resend', got ${JSON.stringify(as) ?? String(as)}`);
      const at = ctx.clock.now();
      const by = resolution.by ?? 'user';
      const before = await ledger().getDelivery(accountId, id);
      if (!before) return null;
      // Only an unknown send has a decision to make; anything else (in flight, accepted, settled,
      // resolved already) is refused rather than answered as if the resolution had been applied.
      if (before.state !== 'unknown') throw new DeliveryStateError(id, before.state);
      // A resend runs the trigger again, which it can only do once it has finished: refuse before the
      // delivery is touched, so a refusal leaves nothing half done.
      const finished = ['completed', 'failed', 'skipped', 'cancelled'] as const;
      if (resolution.as === 'resend' && before.state === 'unknown') {
        const trigger = await ctx.triggers.getTrigger(accountId, before.triggerId);
        // Purged: nothing would run the action again, so the send must not be marked as given up.
        if (!trigger) throw new NotFoundError('CRM_ERR_TRIGGER_NOT_FOUND', before.triggerId);
        if (!(finished as readonly string[]).includes(trigger.status)) throw new TriggerStateError(before.triggerId, trigger.status, 'resend an action of');
      }
      const after = await ledger().resolveDelivery(accountId, id, { as: resolution.as, at, by, note: resolution.note });
      if (!after) return null;
      // A receipt or another operator moved it between the read and the write: the ledger left it alone.
      if (after.state !== (resolution.as === 'sent' ? 'accepted' : 'abandoned') || after.events.at(-1)?.source !== 'operator') throw new DeliveryStateError(id, after.state);
      ctx.logger.info({ accountId, triggerId: after.triggerId, ruleId: after.ruleId, deliveryId: id, resolution: resolution.as, by }, 'delivery resolved by an operator');
      if (resolution.as === 'resend' && before.state === 'unknown') {
        const trigger = await ctx.triggers.getTrigger(accountId, after.triggerId);
        const result = await ctx.triggers.transitionTrigger(accountId, after.triggerId, {
          from: [...finished],
          to: 'pending',
          evaluateAt: at,
          now: at,
          history: { at, attempt: trigger?.attempt ?? 0, outcome: 'retry-requested', reason: 'resend', by },
        });
        if (!result.ok && result.reason === 'conflict') throw new TriggerStateError(after.triggerId, result.current, 'resend an action of');
        ctx.wake(at);
      }
      ctx.observer.emit('delivery:changed', { delivery: after, source: 'operator' });
      return after;
    },
    async applyReceipt(receipt) {
      let result = await ledger().applyReceipt(receipt);
      // One receipt route serves every provider of a kind (one Twilio status callback URL, its auth
      // tokens listing both accounts), but a failover gateway's providers each have their own name: a
      // message id the route's provider does not know may be one its siblings took.
      if (!result.applied && result.reason === 'unknown-id' && receipt.providerId !== undefined) {
        for (const provider of siblingsOf(receipt.provider)) {
          result = await ledger().applyReceipt({ ...receipt, provider });
          if (result.applied || result.reason !== 'unknown-id') break;
        }
      }
      if (!result.applied) return result;
      const delivery = result.delivery;
      ctx.observer.emit('delivery:changed', { delivery, source: 'receipt' });
      const gateway = ctx.channels[delivery.type];
      const sends = delivery.state === 'undelivered' && gateway?.failover ? (await ledger().deliveriesOfTrigger(delivery.accountId, delivery.triggerId)).filter((d) => d.actionIndex === delivery.actionIndex) : [];
      if (sends.length > 0 && failoverAfter(gateway, sends, delivery)) {
        // Run the trigger again now: dispatch sends this action through a provider not yet tried.
        const at = ctx.clock.now();
        const trigger = await ctx.triggers.getTrigger(delivery.accountId, delivery.triggerId);
        const moved = await ctx.triggers.transitionTrigger(delivery.accountId, delivery.triggerId, {
          from: ['completed', 'failed'],
          to: 'pending',
          evaluateAt: at,
          now: at,
          history: { at, attempt: trigger?.attempt ?? 0, outcome: 'retry-requested', reason: 'failover', by: `receipt:${delivery.provider}` },
        });
        if (moved.ok) {
          ctx.logger.info({ accountId: delivery.accountId, triggerId: delivery.triggerId, ruleId: delivery.ruleId, deliveryId: delivery.id, provider: delivery.provider }, 'undelivered within the failover window: sending through the next provider');
          ctx.wake(at);
        }
      }
      return result;
    },
    async reconcile() {
      // In batches until none is left: a crash under load leaves more intents than one batch holds, and
      // an intent of a trigger that is never claimed again is settled by nothing else. A batch that
      // settles nothing (another engine got there, a ledger that cannot write) ends it.
      let total = 0;
      for (;;) {
        const { found, settled } = await reconcileBatch();
        total += settled;
        if (found < RECONCILE_BATCH || settled === 0) return total;
      }
    },
  };

  async function reconcileBatch(): Promise<{ found: number; settled: number }> {
    const at = ctx.clock.now();
    const stale = await ledger().staleIntents(new Date(at.getTime() - ctx.leaseMs), RECONCILE_BATCH);
    if (stale.length === 0) return { found: 0, settled: 0 };
    const error = { code: 'CRM_ERR_DELIVERY_UNKNOWN', message: 'the engine stopped during this send; it may have reached the provider', retryable: false };
    // The trigger's outcome and the ledger's are two writes; when only the trigger's landed, its
    // history says how the send ended, and that is what the ledger records (never a needless hold).
    const triggers = new Map<string, Promise<Trigger | null>>();
    const triggerOf = (d: Delivery) => {
      const key = `${d.accountId}\u0000${d.triggerId}`;
      let found = triggers.get(key);
      if (!found) {
        found = ctx.triggers.getTrigger(d.accountId, d.triggerId).catch(() => null);
        triggers.set(key, found);
      }
      return found;
    };
    const outcomes: DeliveryOutcome[] = await Promise.all(
      stale.map(async (d): Promise<DeliveryOutcome> => {
        const trigger = await triggerOf(d);
        const seen = trigger?.executionHistory.flatMap((h) => h.actions ?? []).find((a) => a.deliveryId === d.id && (a.status === 'sent' || a.status === 'failed'));
        if (seen?.status === 'sent') {
          const receipt = receiptOf(seen.result);
          return { id: d.id, state: 'accepted', at, source: 'reconcile', ...(receipt.providerId ? { providerId: receipt.providerId } : {}), ...(receipt.provider ? { provider: receipt.provider } : {}) };
        }
        if (seen?.status === 'failed' && seen.error?.['ambiguous'] !== true) return { id: d.id, state: 'refused', at, source: 'reconcile', ...(seen.error ? { error: seen.error } : {}) };
        return { id: d.id, state: 'unknown', at, source: 'reconcile', error };
      }),
    );
    const applied = await ledger().recordOutcomes(outcomes);
    const count = applied.filter(Boolean).length;
    const held = outcomes.filter((o, n) => applied[n] && o.state === 'unknown').length;
    stale.forEach((d, n) => {
      const outcome = outcomes[n];
      if (applied[n] && outcome) ctx.observer.emit('delivery:changed', { delivery: { ...d, state: outcome.state, ...(outcome.providerId ? { providerId: outcome.providerId } : {}), ...(outcome.provider ? { provider: outcome.provider } : {}) }, source: 'reconcile' });
    });
    if (count > held) ctx.logger.info({ deliveries: count - held }, 'sends whose outcome the ledger missed settled from their triggers\' history');
    if (held > 0) ctx.logger.warn({ deliveries: held }, 'sends interrupted by a stopped engine marked unknown');
    return { found: stale.length, settled: count };
  }
}

/** Stale intents read and settled at a time by {@link DeliveryAdmin.reconcile}. */
const RECONCILE_BATCH = 1_000;
