import { randomBytes } from 'node:crypto';
import type {
  AttemptResult,
  AutomationStore,
  ClaimRequest,
  InsertedTrigger,
  NewTrigger,
  PurgeRequest,
  RuleReplaceResult,
  TransitionRequest,
  TransitionResult,
} from '../ports/store.js';
import type { Page, Rule, RuleDraft, RuleFilter } from '../rules/rule.js';
import type { ClaimedTrigger, Trigger, TriggerFilter, TriggerStatus } from '../scheduling/trigger.js';
import { AutomationError } from '../errors.js';
import { TimeHeap } from './min-heap.js';

const ID_PATTERN = /^[0-9a-f]{24}$/;
const PROCESS_PART = randomBytes(5).toString('hex');
let counter = randomBytes(3).readUIntBE(0, 3);

/** ObjectId-shaped ids (time, process, counter): sortable by creation, like the Mongo store's. */
function newId(now: number): string {
  counter = (counter + 1) % 0xffffff;
  return Math.floor(now / 1000).toString(16).padStart(8, '0') + PROCESS_PART + counter.toString(16).padStart(6, '0');
}

export function clampLimit(limit: number | undefined, fallback = 50, max = 500): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(max, Math.max(1, Math.floor(limit)));
}

function paginate<T extends { id: string }>(sorted: T[], limit: number): Page<T> {
  const items = sorted.slice(0, limit);
  const last = items[items.length - 1];
  return sorted.length > limit && last ? { items, nextCursor: last.id } : { items };
}

const copyRule = (rule: Rule): Rule => structuredClone(rule);
const copyTrigger = (t: Trigger): Trigger => ({
  ...t,
  executionHistory: [...t.executionHistory],
  sentActions: [...t.sentActions],
});

const DUE_STATUSES: ReadonlySet<TriggerStatus> = new Set(['pending', 'retrying']);

/** A due time the store can order; anything else is refused before it reaches the heap. */
function requireValidDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || !Number.isFinite(value.getTime())) {
    throw new AutomationError('CRM_ERR_CONFIG', `${field} must be a valid Date, got ${value instanceof Date ? 'an invalid Date' : typeof value}`);
  }
  return value;
}

/**
 * An in-memory store: everything the Mongo store does, for tests, demos and single-process apps that
 * can afford to lose pending triggers on restart. Claims are atomic because they never yield.
 */
export function createMemoryStore(): AutomationStore & { readonly size: { rules: number; triggers: number } } {
  const rules = new Map<string, Rule>();
  const rulesByEvent = new Map<string, Set<string>>();
  const triggers = new Map<string, Trigger & { leaseToken?: string | undefined }>();
  const triggersByAccount = new Map<string, string[]>();
  /** (account, event id) → rule id → trigger id: what makes intake of a redelivered event a no-op. */
  const intakeKeys = new Map<string, Map<string, string>>();
  const due = new TimeHeap();
  const leases = new TimeHeap();

  const eventKey = (accountId: string, eventName: string) => `${accountId}\u0000${eventName}`;
  const ownedRule = (accountId: string, id: string) => {
    if (!ID_PATTERN.test(id)) return undefined;
    const rule = rules.get(id);
    return rule && rule.accountId === accountId ? rule : undefined;
  };
  const ownedTrigger = (accountId: string, id: string) => {
    if (!ID_PATTERN.test(id)) return undefined;
    const trigger = triggers.get(id);
    return trigger && trigger.accountId === accountId ? trigger : undefined;
  };
  const index = (rule: Rule) => {
    const key = eventKey(rule.accountId, rule.trigger.eventName);
    let set = rulesByEvent.get(key);
    if (!set) rulesByEvent.set(key, (set = new Set()));
    set.add(rule.id);
  };
  const unindex = (rule: Rule) => rulesByEvent.get(eventKey(rule.accountId, rule.trigger.eventName))?.delete(rule.id);

  /** Takes the next claimable trigger off a heap, skipping entries made stale by later writes. */
  const takeFrom = (heap: TimeHeap, now: number, isCurrent: (t: Trigger, time: number) => boolean) => {
    while (heap.size > 0) {
      const time = heap.peekTime() as number;
      if (time > now) return undefined;
      const id = heap.peekId() as string;
      heap.pop();
      const trigger = triggers.get(id);
      if (trigger && isCurrent(trigger, time)) return trigger;
    }
    return undefined;
  };
  const isDue = (t: Trigger, time: number) => DUE_STATUSES.has(t.status) && t.evaluateAt.getTime() === time;
  const isExpired = (t: Trigger, time: number) => t.status === 'processing' && t.leaseExpiresAt?.getTime() === time;
  const earliestValid = (heap: TimeHeap, isCurrent: (t: Trigger, time: number) => boolean) => {
    while (heap.size > 0) {
      const time = heap.peekTime() as number;
      const trigger = triggers.get(heap.peekId() as string);
      if (trigger && isCurrent(trigger, time)) return time;
      heap.pop();
    }
    return undefined;
  };

  const store: AutomationStore & { readonly size: { rules: number; triggers: number } } = {
    capabilities: { name: 'memory' },

    get size() {
      return { rules: rules.size, triggers: triggers.size };
    },

    async insertRule(accountId, draft: RuleDraft, now) {
      const rule: Rule = { ...structuredClone(draft), id: newId(now.getTime()), accountId, version: 1, createdAt: now, updatedAt: now };
      rules.set(rule.id, rule);
      index(rule);
      return copyRule(rule);
    },

    async getRule(accountId, id) {
      const rule = ownedRule(accountId, id);
      return rule ? copyRule(rule) : null;
    },

    async replaceRule(accountId, id, draft, { now, expectedVersion }): Promise<RuleReplaceResult> {
      const current = ownedRule(accountId, id);
      if (!current) return { ok: false, reason: 'not-found' };
      if (expectedVersion !== undefined && expectedVersion !== current.version) {
        return { ok: false, reason: 'conflict', currentVersion: current.version };
      }
      const next: Rule = { ...structuredClone(draft), id, accountId, version: current.version + 1, createdAt: current.createdAt, updatedAt: now };
      unindex(current);
      rules.set(id, next);
      index(next);
      return { ok: true, rule: copyRule(next) };
    },

    async deleteRule(accountId, id) {
      const current = ownedRule(accountId, id);
      if (!current) return false;
      unindex(current);
      rules.delete(id);
      return true;
    },

    async listRules(accountId, filter: RuleFilter) {
      const limit = clampLimit(filter.limit);
      const out: Rule[] = [];
      for (const rule of rules.values()) {
        if (rule.accountId !== accountId) continue;
        if (filter.eventName !== undefined && rule.trigger.eventName !== filter.eventName) continue;
        if (filter.enabled !== undefined && rule.enabled !== filter.enabled) continue;
        if (filter.cursor !== undefined && rule.id <= filter.cursor) continue;
        out.push(rule);
      }
      out.sort((a, b) => (a.id < b.id ? -1 : 1));
      const page = paginate(out, limit);
      return { ...page, items: page.items.map(copyRule) };
    },

    async findRulesForEvent(accountId, eventName) {
      const ids = rulesByEvent.get(eventKey(accountId, eventName));
      if (!ids) return [];
      const out: Rule[] = [];
      for (const id of ids) {
        const rule = rules.get(id);
        if (rule?.enabled) out.push(rule);
      }
      // Intake only reads id, version and delay; returning the stored objects keeps it allocation-free.
      return out;
    },

    async insertTriggers(batch: readonly NewTrigger[], at: Date) {
      // All or nothing: a bad due time refuses the batch before any trigger is stored.
      for (const input of batch) requireValidDate(input.evaluateAt, 'evaluateAt');
      const out: InsertedTrigger[] = [];
      // Intake batches share one event: clone it once, look its dedupe entry up once.
      let lastEvent: NewTrigger['triggeringEvent'] | undefined;
      let clone: Trigger['triggeringEvent'] | undefined;
      let seen: Map<string, string> | undefined;
      for (const input of batch) {
        if (input.triggeringEvent !== lastEvent) {
          lastEvent = input.triggeringEvent;
          clone = undefined;
          const key = `${input.accountId}\u0000${input.triggeringEvent.id}`;
          seen = intakeKeys.get(key);
          if (!seen) intakeKeys.set(key, (seen = new Map()));
        }
        const existingId = seen?.get(input.ruleId);
        const existing = existingId ? triggers.get(existingId) : undefined;
        if (existing) {
          out.push({ trigger: copyTrigger(existing), created: false });
          continue;
        }
        clone ??= structuredClone(input.triggeringEvent);
        const trigger: Trigger = {
          id: newId(at.getTime()),
          accountId: input.accountId,
          ruleId: input.ruleId,
          ruleVersion: input.ruleVersion,
          status: 'pending',
          evaluateAt: input.evaluateAt,
          attempt: 0,
          triggeringEvent: clone,
          ...(input.trace ? { trace: { ...input.trace } } : {}),
          executionHistory: [],
          sentActions: [],
          createdAt: at,
          updatedAt: at,
        };
        triggers.set(trigger.id, trigger);
        seen?.set(input.ruleId, trigger.id);
        let ids = triggersByAccount.get(input.accountId);
        if (!ids) triggersByAccount.set(input.accountId, (ids = []));
        ids.push(trigger.id);
        due.push(trigger.evaluateAt.getTime(), trigger.id);
        out.push({ trigger: copyTrigger(trigger), created: true });
      }
      return out;
    },

    async getTrigger(accountId, id) {
      const trigger = ownedTrigger(accountId, id);
      return trigger ? stripLease(trigger) : null;
    },

    async listTriggers(accountId, filter: TriggerFilter) {
      const limit = clampLimit(filter.limit);
      const statuses = filter.status === undefined ? undefined : new Set(Array.isArray(filter.status) ? filter.status : [filter.status]);
      const ids = triggersByAccount.get(accountId) ?? [];
      const out: Trigger[] = [];
      // Newest first; the cursor is the last id of the previous page.
      for (let i = ids.length - 1; i >= 0 && out.length <= limit; i--) {
        const t = triggers.get(ids[i] as string);
        if (!t) continue;
        if (filter.cursor !== undefined && t.id >= filter.cursor) continue;
        if (statuses && !statuses.has(t.status)) continue;
        if (filter.ruleId !== undefined && t.ruleId !== filter.ruleId) continue;
        if (filter.from && t.evaluateAt < filter.from) continue;
        if (filter.to && t.evaluateAt >= filter.to) continue;
        out.push(t);
      }
      const page = paginate(out, limit);
      return { ...page, items: page.items.map(stripLease) };
    },

    async claimDueTriggers({ now, limit, leaseMs }: ClaimRequest) {
      const at = requireValidDate(now, 'now').getTime();
      if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new AutomationError('CRM_ERR_CONFIG', `leaseMs must be a positive number, got ${leaseMs}`);
      const claimed: ClaimedTrigger[] = [];
      while (claimed.length < limit) {
        const trigger = takeFrom(leases, at, isExpired) ?? takeFrom(due, at, isDue);
        if (!trigger) break;
        const leaseToken = randomBytes(12).toString('hex');
        const leaseExpiresAt = new Date(at + leaseMs);
        trigger.status = 'processing';
        trigger.attempt += 1;
        trigger.leaseToken = leaseToken;
        trigger.leaseExpiresAt = leaseExpiresAt;
        trigger.updatedAt = now;
        leases.push(leaseExpiresAt.getTime(), trigger.id);
        claimed.push({ ...copyTrigger(trigger), leaseToken, leaseExpiresAt });
      }
      return claimed;
    },

    async finishAttempt(id, leaseToken, result: AttemptResult) {
      const trigger = triggers.get(id);
      if (!trigger || trigger.status !== 'processing' || trigger.leaseToken !== leaseToken) return false;
      if (result.status === 'retrying') requireValidDate(result.evaluateAt ?? result.now, 'evaluateAt');
      trigger.status = result.status;
      trigger.updatedAt = result.now;
      trigger.executionHistory.push(result.history);
      for (const index of result.sentActions) if (!trigger.sentActions.includes(index)) trigger.sentActions.push(index);
      trigger.leaseToken = undefined;
      trigger.leaseExpiresAt = undefined;
      if (result.status === 'retrying') {
        trigger.evaluateAt = result.evaluateAt ?? result.now;
        due.push(trigger.evaluateAt.getTime(), id);
      }
      return true;
    },

    async transitionTrigger(accountId, id, request: TransitionRequest): Promise<TransitionResult> {
      const trigger = ownedTrigger(accountId, id);
      if (!trigger) return { ok: false, reason: 'not-found' };
      if (!request.from.includes(trigger.status)) return { ok: false, reason: 'conflict', current: trigger.status };
      if (request.evaluateAt !== undefined) requireValidDate(request.evaluateAt, 'evaluateAt');
      trigger.status = request.to;
      trigger.updatedAt = request.now;
      trigger.executionHistory.push(request.history);
      if (request.evaluateAt) trigger.evaluateAt = request.evaluateAt;
      if (request.to === 'pending') due.push(trigger.evaluateAt.getTime(), id);
      return { ok: true, trigger: stripLease(trigger) };
    },

    async nextDueAt() {
      const a = earliestValid(due, isDue);
      const b = earliestValid(leases, isExpired);
      const next = Math.min(a ?? Number.POSITIVE_INFINITY, b ?? Number.POSITIVE_INFINITY);
      return Number.isFinite(next) ? new Date(next) : null;
    },

    async purgeTriggers({ statuses, olderThan }: PurgeRequest) {
      let removed = 0;
      const wanted = new Set(statuses);
      for (const [id, t] of triggers) {
        if (!wanted.has(t.status) || t.updatedAt >= olderThan) continue;
        triggers.delete(id);
        const key = `${t.accountId}\u0000${t.triggeringEvent.id}`;
        const seen = intakeKeys.get(key);
        seen?.delete(t.ruleId);
        if (seen?.size === 0) intakeKeys.delete(key);
        removed += 1;
      }
      if (removed > 0) {
        for (const [account, ids] of triggersByAccount) triggersByAccount.set(account, ids.filter((id) => triggers.has(id)));
      }
      return removed;
    },

    async close() {},
  };
  return store;
}

function stripLease(trigger: Trigger & { leaseToken?: string | undefined }): Trigger {
  const { leaseToken: _token, ...rest } = trigger;
  return copyTrigger(rest);
}
