import { afterEach, beforeEach } from 'vitest';
import type { AttemptResult, HistoryEntry, HistoryOutcome, NewTrigger, RuleDraft } from '@crm-automation/core';

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
}

/** Returns a fresh, empty store for each test. */
export type ContractFactory<S> = () => S | ContractSubject<S> | Promise<S | ContractSubject<S>>;

export async function open<S extends object>(factory: ContractFactory<S>): Promise<ContractSubject<S>> {
  const made = await factory();
  if ('store' in made && typeof (made as ContractSubject<S>).store === 'object' && !('capabilities' in made)) return made as ContractSubject<S>;
  return { store: made as S };
}

/** Opens a fresh store from `factory` before each test of the suite and hands it to `use`; disposes of it after. */
export function storePerTest<S extends object>(factory: ContractFactory<S>, use: (store: S) => void): void {
  let cleanup: (() => Promise<void> | void) | undefined;
  beforeEach(async () => {
    const subject = await open(factory);
    cleanup = subject.cleanup;
    use(subject.store);
  });
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });
}
