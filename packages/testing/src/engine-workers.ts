import { expect } from 'vitest';
import { createAutomationEngine, type AutomationEngine, type AutomationEngineOptions, type AutomationStore, type DeliveryLedger, type RecordingChannel } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { ADAPTER_TEST_ACCOUNT, dueTriggerOf, immediateTechnicianRule, pollUntil } from './adapter-fixtures.js';

/*
 * The engines the MongoDB and PostgreSQL adapters' multi-engine services tests run side by side (each
 * with a store instance of its own, as separate processes would have), and the clock-skew takeover both
 * stores must survive, kept once so both are held to the same scenario.
 */

/** One engine of a multi-engine test, with the store instance and recording gateways it alone uses. */
export interface EngineWorker<S> {
  engine: AutomationEngine;
  store: S;
  sms: RecordingChannel;
  email: RecordingChannel;
}

/** Engine options a worker may add (its store and channels are its own). */
export type EngineWorkerOptions = Partial<Omit<AutomationEngineOptions, 'store'>>;

/**
 * An engine named `name` on `store`, with recording `sms` and `email` gateways named after it;
 * `smsRespond` decides what the SMS gateway answers (default: the recording gateway's own answer).
 */
export function engineWorker<S extends AutomationStore>(store: S, name: string, extra: EngineWorkerOptions = {}, smsRespond?: () => unknown): EngineWorker<S> {
  const sms = createRecordingChannel({ name: `${name}-sms`, ...(smsRespond ? { respond: smsRespond } : {}) });
  const email = createRecordingChannel({ name: `${name}-email` });
  const engine = createAutomationEngine({ store, channels: { sms, email }, instanceId: name, ...extra });
  return { engine, store, sms, email };
}

/** Opens a worker on the scenario's shared database, its schema or indexes ready. */
export type OpenEngineWorker<S> = (name: string, extra: EngineWorkerOptions, smsRespond?: () => unknown) => Promise<EngineWorker<S>>;

type SkewStore = AutomationStore & Pick<DeliveryLedger, 'deliveriesOfTrigger'>;

/**
 * Two engines whose clocks are 5 s apart share one due trigger: B does not claim it while A's 20 s
 * lease holds by B's clock, takes it over after that without sending again (A's intent is in the
 * ledger, so B marks it `unknown`), and A's late outcome is refused (`leaseLost`).
 */
export async function expectClockSkewTakeover<S extends SkewStore>(open: OpenEngineWorker<S>): Promise<void> {
  const t0 = Date.parse('2030-01-01T00:00:00.000Z');
  const clockA = createManualClock(t0);
  const clockB = createManualClock(t0 + 5_000); // B runs 5 s ahead of A
  let releaseA: (value: unknown) => void = () => {};
  const gateA = new Promise((resolve) => {
    releaseA = resolve;
  });
  const a = await open('engine-a', { clock: clockA, leaseMs: 20_000, sendTimeoutMs: 10_000 }, () => gateA.then(() => ({ id: 'from-a' })));
  const b = await open('engine-b', { clock: clockB, leaseMs: 20_000, sendTimeoutMs: 10_000 });
  const rule = await a.engine.rules.create(ADAPTER_TEST_ACCOUNT, immediateTechnicianRule({ actions: immediateTechnicianRule().actions.slice(0, 1) }));
  const [inserted] = await a.store.insertTriggers([dueTriggerOf(rule, 'evt_skew', new Date(t0))], new Date(t0));
  const id = inserted?.trigger.id as string;

  const runA = a.engine.runDue();
  await pollUntil('engine A to start sending', () => a.sms.calls.length === 1, 10_000, 10);
  // B's clock reads A's claim time + 5 s: the 20 s lease is still valid for it.
  expect((await b.engine.runDue()).claimed).toBe(0);
  await clockB.set(t0 + 19_999);
  expect((await b.engine.runDue()).claimed).toBe(0);
  // A stalls past its lease (by B's clock): B takes over and finishes the trigger. A's send is still
  // at the provider, which the recording gateway cannot deduplicate: B finds its intent in the
  // ledger and does not send again, marking it unknown.
  await clockB.set(t0 + 20_000);
  expect(await b.engine.runDue()).toMatchObject({ claimed: 1, completed: 1 });
  expect(b.sms.calls).toHaveLength(0);

  // B's outcome write is not awaited by its run: wait until its reconcile is in the ledger, so that
  // A's late outcome meets an `unknown` delivery (released earlier, A's `accepted` may win the race).
  await pollUntil('B to record its reconcile', async () => (await b.store.deliveriesOfTrigger(ADAPTER_TEST_ACCOUNT, id))[0]?.state === 'unknown', 10_000, 10);
  releaseA(undefined);
  expect(await runA).toMatchObject({ claimed: 1, completed: 0, leaseLost: 1 });
  expect(a.sms.calls).toHaveLength(1);
  const stored = await b.engine.triggers.get(ADAPTER_TEST_ACCOUNT, id);
  expect(stored).toMatchObject({ status: 'completed', attempt: 2 });
  expect(stored?.executionHistory.map((h) => [h.outcome, h.by])).toEqual([['completed', 'engine-b']]);
  expect(stored?.executionHistory[0]?.actions?.map((x) => [x.status, x.error?.code])).toEqual([['unknown', 'CRM_ERR_DELIVERY_UNKNOWN']]);
  // One delivery, A's: B's reconcile moved it to unknown, so A's late `accepted` (an engine outcome) does not apply.
  await a.engine.stop();
  const deliveries = await b.store.deliveriesOfTrigger(ADAPTER_TEST_ACCOUNT, id);
  expect(deliveries.map((d) => [d.attempt, d.provider, d.state, d.events.map((e) => `${e.state}:${e.source}`).join()])).toEqual([[1, 'engine-a-sms', 'unknown', 'intent:engine,unknown:reconcile']]);
}
