import { afterEach, beforeEach } from 'vitest';
import type { AttemptResult, HistoryEntry, HistoryOutcome, InsertedTrigger, NewTrigger, RuleDraft, Trigger, TriggerStore } from '@crm-automation/core';

export const ACCOUNT = 'acc_contract_a';
export const OTHER_ACCOUNT = 'acc_contract_b';
export const EVENT = 'job.status.changed';
export const T0 = new Date('2030-01-01T00:00:00.000Z');
export const LEASE_MS = 30_000;

/**
 * Ids no store could have issued, or that probe the query layer (operators, casts, huge values):
 * every store treats them as not found, never as an error. Adapters add their own malformed forms.
 */
export const WEIRD_IDS = ['', ' ', 'nope', '123', '-1', '0x10', "{ $ne: null }", '{"$gt":""}', "' OR 1=1 --", '%', '\u0000', '../x', 'é', 'x'.repeat(1_000)];

export const at = (ms: number) => new Date(T0.getTime() + ms);

export function ruleDraft(overrides: Partial<RuleDraft> = {}): RuleDraft {
  return {
    name: 'Notify technician',
    description: 'SMS the technician when a job is done',
    enabled: true,
    trigger: { eventName: EVENT },
    delay: { value: 5, unit: 'minutes' },
    conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }, { fact: 'job', path: '$.assignedTechnician.phone', operator: 'notEqual', value: null }] },
    actions: [
      { type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path: '$.assignedTechnician.phone' }, message: 'Hi {{job.assignedTechnician.name}}, job #{{job.number}} is done.' } },
      { type: 'email', params: { recipient: 'manager@example.com', subject: 'Job {{job.number}}', body: 'Done.' } },
    ],
    ...overrides,
  };
}

/** What a trigger needs of its rule: an opaque id (the rule may live in another store) and a version. */
export interface RuleRef {
  id: string;
  accountId: string;
  version: number;
  eventName: string;
}

let refs = 0;
/** A rule reference with an id of another store's shape (a UUID), so trigger stores keep it opaque. */
export function ruleRef(accountId = ACCOUNT, version = 1): RuleRef {
  refs += 1;
  return { id: `5f0c7a1e-${String(refs).padStart(4, '0')}-4b3a-9c1d-${Date.now().toString(16).padStart(12, '0').slice(-12)}`, accountId, version, eventName: EVENT };
}

export function newTrigger(rule: RuleRef, eventId: string, evaluateAt: Date, accountId = rule.accountId): NewTrigger {
  return {
    accountId,
    ruleId: rule.id,
    ruleVersion: rule.version,
    evaluateAt,
    triggeringEvent: {
      id: eventId,
      name: rule.eventName,
      timestamp: T0,
      payload: { job: { id: `job_${eventId}`, number: 5541, status: 'Done', total: 2500.5, tags: ['a', 'b'], client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' }, notes: null } },
    },
  };
}

/** A trigger of a keyed rule: its event's timestamp, entity key and (optionally) concurrency mode. */
export function keyedTrigger(
  rule: RuleRef,
  eventId: string,
  options: { entityKey: string; timestamp: Date; evaluateAt: Date; concurrency?: NewTrigger['concurrency']; accountId?: string },
): NewTrigger {
  const base = newTrigger(rule, eventId, options.evaluateAt, options.accountId ?? rule.accountId);
  return {
    ...base,
    entityKey: options.entityKey,
    triggeringEvent: { ...base.triggeringEvent, timestamp: options.timestamp, payload: { job: { id: options.entityKey, status: 'Done', event: eventId } } },
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  };
}

export function history(outcome: HistoryOutcome, time: Date, attempt: number, extra: Partial<HistoryEntry> = {}): HistoryEntry {
  return { at: time, attempt, outcome, by: 'contract', ...extra };
}

export function attemptResult(status: AttemptResult['status'], time: Date, attempt: number, extra: Partial<AttemptResult> = {}): AttemptResult {
  return { status, sentActions: [], now: time, history: history(status, time, attempt), ...extra };
}

export const ids = (items: readonly { id: string }[]) => items.map((i) => i.id);
export const sorted = (values: readonly number[]) => [...values].sort((a, b) => a - b);

/** A store under test and how to dispose of it. */
export interface ContractSubject<S> {
  store: S;
  /** Called after each test (drop the database, close clients, ...). */
  cleanup?: (() => Promise<void> | void) | undefined;
  /**
   * Opens another handle on the same data as `store`, with clients of its own, as a second engine
   * process would: the tests of concurrent intake on several engines insert through several handles.
   * The contract closes (`close?.()`) every handle it opened after the test, before `cleanup`. Without
   * it those tests use `store` for every engine, which is right only for a store whose handles are
   * one state (the in-memory store); an adapter over a server should give it.
   */
  openAnother?: (() => S | Promise<S>) | undefined;
}

/** Returns a fresh, empty store for each test. */
export type ContractFactory<S> = () => S | ContractSubject<S> | Promise<S | ContractSubject<S>>;

export async function open<S extends object>(factory: ContractFactory<S>): Promise<ContractSubject<S>> {
  const made = await factory();
  if ('store' in made && typeof (made as ContractSubject<S>).store === 'object' && !('capabilities' in made)) return made as ContractSubject<S>;
  return { store: made as S };
}

/** More handles on the data of the current test's store: `handles(4)` gives the store and three others. */
export type OpenHandles<S> = (count: number) => Promise<S[]>;

/**
 * Opens a fresh store from `factory` before each test of the suite and hands it to `use`, with a way to
 * open more handles on the same data; disposes of them after.
 */
export function storePerTest<S extends object>(factory: ContractFactory<S>, use: (store: S, handles: OpenHandles<S>) => void): void {
  let subject: ContractSubject<S> | undefined;
  let extra: S[] = [];
  beforeEach(async () => {
    const opened = await open(factory);
    subject = opened;
    extra = [];
    use(opened.store, async (count) => {
      const out: S[] = [opened.store];
      for (let i = 1; i < count; i++) {
        const another = opened.openAnother ? await opened.openAnother() : opened.store;
        if (another !== opened.store) extra.push(another);
        out.push(another);
      }
      return out;
    });
  });
  afterEach(async () => {
    const handles = extra;
    extra = [];
    for (const handle of handles) await (handle as { close?: () => Promise<void> }).close?.();
    await subject?.cleanup?.();
    subject = undefined;
  });
}

/**
 * The reads and writes the keyed and scheduled cases repeat, on the store of the running test
 * (`current`): `entityKey` is the cases' default entity, `owner` the name their claims lease under.
 */
export function triggerCaseSteps(current: () => TriggerStore, defaults: { entityKey: string; owner: string }) {
  return {
    keyedConcurrency: () => current().capabilities.keyedConcurrency !== false,
    cancelByEvent: () => current().capabilities.cancelByEvent !== false,
    /** Inserts one trigger (on `store`, another engine's handle, when given) and returns its result. */
    insertOne: async (input: NewTrigger, now: Date, store: TriggerStore = current()): Promise<InsertedTrigger> => {
      const [inserted] = await store.insertTriggers([input], now);
      if (!inserted) throw new Error('insertTriggers returned no result for one trigger');
      return inserted;
    },
    get: async (id: string): Promise<Trigger> => {
      const trigger = await current().getTrigger(ACCOUNT, id);
      if (!trigger) throw new Error(`trigger ${id} not found`);
      return trigger;
    },
    claim: (now: Date, limit = 100) => current().claimDueTriggers({ now, limit, leaseMs: LEASE_MS, owner: defaults.owner }),
    pendingOf: async (rule: RuleRef, entityKey = defaults.entityKey, accountId = ACCOUNT) =>
      (await current().listTriggers(accountId, { ruleId: rule.id, entityKey, status: 'pending', limit: 500 })).items,
    allOf: async (rule: RuleRef, entityKey = defaults.entityKey) => (await current().listTriggers(ACCOUNT, { ruleId: rule.id, entityKey, limit: 500 })).items,
  };
}
