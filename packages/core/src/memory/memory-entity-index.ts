import type { Trigger, TriggerStatus } from '../scheduling/trigger.js';

/** Statuses a cancelling event can still act on: they are the only ones the cancel index holds. */
const CANCELLABLE: ReadonlySet<TriggerStatus> = new Set(['pending', 'retrying', 'processing']);

const ruleEntityKey = (accountId: string, ruleId: string, entityKey: string) => `${accountId}\u0000${ruleId}\u0000${entityKey}`;
const accountEntityKey = (accountId: string, entityKey: string) => `${accountId}\u0000${entityKey}`;

/**
 * The memory trigger store's indexes for keyed rules, so no keyed operation scans the store:
 * - the pending slot: (account, rule, entityKey) → the one pending trigger inserted with a concurrency
 *   mode (what `supersede` and `skipIfPending` decide on);
 * - the cancel index: (account, rule, entityKey) → its pending, retrying and processing triggers;
 * - the listing index: (account, entityKey) → trigger ids in creation order (`listTriggers({ entityKey })`).
 * The store calls {@link statusChanged} after every status write so the first two stay exact.
 */
export class EntityIndex {
  private readonly slots = new Map<string, string>();
  /** Trigger id → the slot it holds; a trigger leaves its slot on any status change. */
  private readonly heldSlots = new Map<string, string>();
  private readonly cancellable = new Map<string, Set<string>>();
  private readonly listing = new Map<string, string[]>();

  /** The id of the trigger holding the pending slot of (account, rule, entityKey), if any. */
  slotHolder(accountId: string, ruleId: string, entityKey: string): string | undefined {
    return this.slots.get(ruleEntityKey(accountId, ruleId, entityKey));
  }

  /** Gives the slot of (account, rule, entityKey) to a pending trigger, taking it from whoever held it. */
  takeSlot(triggerId: string, accountId: string, ruleId: string, entityKey: string): void {
    const slot = ruleEntityKey(accountId, ruleId, entityKey);
    const previous = this.slots.get(slot);
    if (previous !== undefined) this.heldSlots.delete(previous);
    this.slots.set(slot, triggerId);
    this.heldSlots.set(triggerId, slot);
  }

  /** Records a new keyed trigger in the listing index and, when it can still be cancelled, the cancel index. */
  added(trigger: Trigger): void {
    if (trigger.entityKey === undefined) return;
    const listKey = accountEntityKey(trigger.accountId, trigger.entityKey);
    let ids = this.listing.get(listKey);
    if (!ids) this.listing.set(listKey, (ids = []));
    ids.push(trigger.id);
    if (CANCELLABLE.has(trigger.status)) this.cancelSet(trigger, true)?.add(trigger.id);
  }

  /**
   * Keeps the indexes exact after `trigger.status` was written: only a pending trigger holds a slot
   * (claim, cancel, supersede and finishing all release it; nothing but {@link takeSlot} takes it),
   * and only cancellable statuses stay in the cancel index.
   */
  statusChanged(trigger: Trigger): void {
    if (trigger.status !== 'pending') this.releaseSlot(trigger.id);
    if (trigger.entityKey === undefined) return;
    if (CANCELLABLE.has(trigger.status)) this.cancelSet(trigger, true)?.add(trigger.id);
    else this.dropFromCancel(trigger);
  }

  /** Ids of (account, rule, entityKey)'s pending, retrying and processing triggers, oldest first. */
  cancellableIds(accountId: string, ruleId: string, entityKey: string): string[] {
    const set = this.cancellable.get(ruleEntityKey(accountId, ruleId, entityKey));
    return set ? [...set].sort() : [];
  }

  /** Ids of an account's triggers of one entity, in creation order. */
  listed(accountId: string, entityKey: string): readonly string[] {
    return this.listing.get(accountEntityKey(accountId, entityKey)) ?? [];
  }

  /** Forgets purged triggers (`isGone` says which). */
  removed(triggers: readonly Trigger[], isGone: (id: string) => boolean): void {
    const listKeys = new Set<string>();
    for (const trigger of triggers) {
      this.releaseSlot(trigger.id);
      if (trigger.entityKey === undefined) continue;
      this.dropFromCancel(trigger);
      listKeys.add(accountEntityKey(trigger.accountId, trigger.entityKey));
    }
    for (const key of listKeys) {
      const left = (this.listing.get(key) ?? []).filter((id) => !isGone(id));
      if (left.length > 0) this.listing.set(key, left);
      else this.listing.delete(key);
    }
  }

  private releaseSlot(id: string): void {
    const slot = this.heldSlots.get(id);
    if (slot === undefined) return;
    this.heldSlots.delete(id);
    if (this.slots.get(slot) === id) this.slots.delete(slot);
  }

  private cancelSet(trigger: Trigger, create: boolean): Set<string> | undefined {
    if (trigger.entityKey === undefined) return undefined;
    const key = ruleEntityKey(trigger.accountId, trigger.ruleId, trigger.entityKey);
    let set = this.cancellable.get(key);
    if (!set && create) this.cancellable.set(key, (set = new Set()));
    return set;
  }

  private dropFromCancel(trigger: Trigger): void {
    if (trigger.entityKey === undefined) return;
    const key = ruleEntityKey(trigger.accountId, trigger.ruleId, trigger.entityKey);
    const set = this.cancellable.get(key);
    if (!set) return;
    set.delete(trigger.id);
    if (set.size === 0) this.cancellable.delete(key);
  }
}
