import { checkOptions } from '../config/check-options.js';
import type { Delivery, DeliveryLedger, DeliveryOutcome, DeliveryState, NewDelivery } from '../ports/delivery-ledger.js';
import { deliveryRank } from '../ports/delivery-ledger.js';
import { declareInProcessStore } from '../engine/store-deadlines.js';
import { AutomationError } from '../errors.js';
import { requireValidDate } from '../spi/valid-dates.js';
import { clampLimit, isMemoryId, newMemoryId, paginate } from './memory-ids.js';

const copy = (d: Delivery): Delivery => ({ ...d, events: [...d.events] });

const requireDate = requireValidDate;

/**
 * The intent's fields but `at`, in their order, as the delivery to complete. Not `{ ...rest, id, ... }`:
 * V8 defines each property after a spread through the runtime when the spread object's shape lacks it,
 * which made that literal most of this ledger's cost on the fire path (about 7 µs an intent).
 */
function withoutAt(intent: NewDelivery): Delivery {
  const d: Record<string, unknown> = {};
  for (const key of Object.keys(intent)) if (key !== 'at') d[key] = intent[key as keyof NewDelivery];
  return d as unknown as Delivery;
}

/** States a receipt may not move (the message never reached the provider, or was given up). */
const RECEIPT_PROOF: ReadonlySet<DeliveryState> = new Set(['refused', 'abandoned']);

/** An in-memory delivery ledger, for tests, demos and single-process apps. */
export function createMemoryDeliveryLedger(): DeliveryLedger & { readonly size: number } {
  // It takes no options: a JavaScript caller passing some (a clock, a retention) would otherwise be ignored.
  checkOptions('createMemoryDeliveryLedger', arguments[0], []);
  const deliveries = new Map<string, Delivery>();
  /**
   * Account → trigger id → delivery ids. Two levels rather than one joined key: the ids the engine
   * passes are strings whose hash V8 has computed already, where a joined key is a new string to
   * flatten and hash on every intent.
   */
  const byTrigger = new Map<string, Map<string, string[]>>();
  const byAccount = new Map<string, string[]>();
  const byProviderId = new Map<string, string>();
  const providerKey = (provider: string, providerId: string) => `${provider}\u0000${providerId}`;
  const owned = (accountId: string, id: string) => {
    if (!isMemoryId(id)) return undefined;
    const d = deliveries.get(id);
    return d && d.accountId === accountId ? d : undefined;
  };
  const move = (d: Delivery, state: DeliveryState, at: Date, source: Delivery['events'][number]['source'], detail?: string) => {
    d.state = state;
    d.updatedAt = at;
    d.events.push({ at, state, source, ...(detail === undefined ? {} : { detail }) });
  };

  const ledger: DeliveryLedger & { readonly size: number } = {
    get size() {
      return deliveries.size;
    },

    async recordIntents(intents) {
      for (const i of intents) requireDate(i.at, 'at');
      return intents.map((intent) => {
        const at = intent.at;
        const d = withoutAt(intent);
        d.id = newMemoryId(at.getTime());
        d.state = 'intent';
        d.events = [{ at, state: 'intent', source: 'engine' }];
        d.createdAt = at;
        d.updatedAt = at;
        deliveries.set(d.id, d);
        let ofAccount = byTrigger.get(d.accountId);
        if (!ofAccount) byTrigger.set(d.accountId, (ofAccount = new Map()));
        let ofTrigger = ofAccount.get(d.triggerId);
        if (!ofTrigger) ofAccount.set(d.triggerId, (ofTrigger = []));
        ofTrigger.push(d.id);
        (byAccount.get(d.accountId) ?? byAccount.set(d.accountId, []).get(d.accountId))?.push(d.id);
        // Handed out as stored (the engine reads the id); queries hand out copies.
        return d;
      });
    },

    async recordOutcomes(outcomes: readonly DeliveryOutcome[]) {
      for (const o of outcomes) requireDate(o.at, 'at');
      return outcomes.map((o) => {
        const d = isMemoryId(o.id) ? deliveries.get(o.id) : undefined;
        if (!d) return false;
        const source = o.source ?? 'engine';
        const from: readonly DeliveryState[] = source === 'engine' ? ['intent'] : ['intent', 'unknown'];
        if (!from.includes(d.state) || deliveryRank(o.state) < deliveryRank(d.state)) return false;
        if (o.provider !== undefined) d.provider = o.provider;
        if (o.providerId !== undefined) {
          d.providerId = o.providerId;
          byProviderId.set(providerKey(d.provider, o.providerId), d.id);
        }
        if (o.error !== undefined) d.error = o.error;
        move(d, o.state, o.at, source, o.error?.code);
        return true;
      });
    },

    async applyReceipt(receipt) {
      requireDate(receipt.at, 'at');
      const id = receipt.deliveryId !== undefined && isMemoryId(receipt.deliveryId) ? receipt.deliveryId : receipt.providerId !== undefined ? byProviderId.get(providerKey(receipt.provider, receipt.providerId)) : undefined;
      const d = id === undefined ? undefined : deliveries.get(id);
      if (!d || (receipt.deliveryId !== undefined && receipt.providerId !== undefined && d.providerId !== undefined && d.providerId !== receipt.providerId)) {
        return { applied: false, reason: 'unknown-id' };
      }
      if (RECEIPT_PROOF.has(d.state) || deliveryRank(receipt.state) <= deliveryRank(d.state)) return { applied: false, reason: 'stale', delivery: copy(d) };
      if (receipt.providerId !== undefined && d.providerId === undefined) {
        d.providerId = receipt.providerId;
        byProviderId.set(providerKey(d.provider, receipt.providerId), d.id);
      }
      move(d, receipt.state, receipt.at, 'receipt', receipt.detail);
      return { applied: true, delivery: copy(d) };
    },

    async getDelivery(accountId, id) {
      const d = owned(accountId, id);
      return d ? copy(d) : null;
    },

    async listDeliveries(accountId, filter) {
      const limit = clampLimit(filter.limit);
      const states = filter.state === undefined ? undefined : new Set(Array.isArray(filter.state) ? filter.state : [filter.state]);
      const ids = byAccount.get(accountId) ?? [];
      const out: Delivery[] = [];
      for (let i = ids.length - 1; i >= 0 && out.length <= limit; i--) {
        const d = deliveries.get(ids[i] as string);
        if (!d) continue;
        if (filter.cursor !== undefined && d.id >= filter.cursor) continue;
        if (filter.triggerId !== undefined && d.triggerId !== filter.triggerId) continue;
        if (filter.recipient !== undefined && d.recipient !== filter.recipient) continue;
        if (filter.provider !== undefined && d.provider !== filter.provider) continue;
        if (filter.providerId !== undefined && d.providerId !== filter.providerId) continue;
        if (states && !states.has(d.state)) continue;
        out.push(d);
      }
      const page = paginate(out, limit);
      return { ...page, items: page.items.map(copy) };
    },

    async deliveriesOfTrigger(accountId, triggerId) {
      return (byTrigger.get(accountId)?.get(triggerId) ?? []).map((id) => copy(deliveries.get(id) as Delivery));
    },

    async staleIntents(olderThan, limit) {
      requireDate(olderThan, 'olderThan');
      const out: Delivery[] = [];
      for (const d of deliveries.values()) {
        if (out.length >= limit) break;
        if (d.state === 'intent' && d.createdAt < olderThan) out.push(copy(d));
      }
      return out;
    },

    async resolveDelivery(accountId, id, resolution) {
      requireDate(resolution.at, 'at');
      const d = owned(accountId, id);
      if (!d) return null;
      if (d.state !== 'unknown') return copy(d);
      move(d, resolution.as === 'sent' ? 'accepted' : 'abandoned', resolution.at, 'operator', `${resolution.by}${resolution.note ? `: ${resolution.note}` : ''}`);
      return copy(d);
    },

    async countDeliveries(accountId, since) {
      const counts: Partial<Record<DeliveryState, number>> = {};
      for (const id of byAccount.get(accountId) ?? []) {
        const d = deliveries.get(id);
        if (d && d.updatedAt >= since) counts[d.state] = (counts[d.state] ?? 0) + 1;
      }
      return counts;
    },
  };
  return declareInProcessStore(ledger);
}
