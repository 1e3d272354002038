import { describe, expect, it } from 'vitest';
import { createAutomationEngine, type EngineEvents, type Logger, type Rule, type RuleInput, type TriggerStore } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryStore, createMemoryTriggerStore } from '@crm-automation/core/memory';
import { technicianSmsRule } from '@crm-automation/testing';

const ACCOUNT = 'acc_1';
const START = '2026-03-01T10:00:00Z';

/** The design doc's SMS rule, about one job: `$.job.id`. */
const keyed = {
  ...technicianSmsRule,
  trigger: { eventName: 'job.status.changed', key: '$.job.id' },
  delay: { value: 5, unit: 'minutes' },
} satisfies RuleInput;

const job = (status: string, id: string | number = 'job-1') => ({ job: { id, number: 7, status, client: { name: 'Acme' }, assignedTechnician: { name: 'Ana', phone: '+15550001111' } } });
const at = (offsetMs: number) => new Date(new Date(START).getTime() + offsetMs).toISOString();

function recordingLogger() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const logger: Logger = {
    debug: (fields, message) => void lines.push({ level: 'debug', fields, message: message ?? '' }),
    info: (fields, message) => void lines.push({ level: 'info', fields, message: message ?? '' }),
    warn: (fields, message) => void lines.push({ level: 'warn', fields, message: message ?? '' }),
    error: (fields, message) => void lines.push({ level: 'error', fields, message: message ?? '' }),
    child: () => logger,
  };
  return { logger, lines };
}

function setup() {
  const clock = createManualClock(START);
  const store = createMemoryStore();
  const sms = createRecordingChannel();
  const { logger, lines } = recordingLogger();
  const engine = createAutomationEngine({ store, clock, channels: { sms }, logger, instanceId: 'engine-a' });
  const seen: { superseded: EngineEvents['trigger:superseded'][0][]; cancelled: EngineEvents['trigger:cancelled'][0][]; ingested: EngineEvents['event:ingested'][0][] } = { superseded: [], cancelled: [], ingested: [] };
  engine.on('trigger:superseded', (info) => seen.superseded.push(info));
  engine.on('trigger:cancelled', (info) => seen.cancelled.push(info));
  engine.on('event:ingested', (info) => seen.ingested.push(info));
  const statusChanged = (id: string, status: string, offsetMs: number, jobId: string | number = 'job-1') =>
    engine.ingest({ id, name: 'job.status.changed', accountId: ACCOUNT, payload: job(status, jobId), timestamp: at(offsetMs) });
  return { clock, store, sms, engine, lines, seen, statusChanged };
}

describe('entity keys at intake', () => {
  it('stores the entity key (strings and numbers), lists triggers by it, and keeps unkeyed rules as they were', async () => {
    const { engine, statusChanged } = setup();
    const rule = await engine.rules.create(ACCOUNT, keyed);
    const unkeyed = await engine.rules.create(ACCOUNT, technicianSmsRule);
    const triggers = await statusChanged('e1', 'Done', 0);
    expect(triggers.map((t) => [t.ruleId, t.entityKey])).toEqual([[rule.id, 'job-1'], [unkeyed.id, undefined]]);
    expect(triggers[0]?.firstEventAt?.toISOString()).toBe(at(0));
    const [numeric] = await statusChanged('e2', 'Done', 1_000, 42);
    expect(numeric?.entityKey).toBe('42');
    const listed = await engine.triggers.list(ACCOUNT, { entityKey: 'job-1' });
    expect(listed.items.map((t) => t.id)).toEqual([triggers[0]?.id]);
  });

  it('an event with no usable key value is not refused: its trigger is unkeyed (mode all), with a warning', async () => {
    const { engine, lines } = setup();
    await engine.rules.create(ACCOUNT, { ...keyed, concurrency: { mode: 'supersede' } });
    for (const [id, value] of [['e1', undefined], ['e2', { nested: true }], ['e3', ''], ['e4', 'x'.repeat(257)], ['e5', null]] as const) {
      const [trigger] = await engine.ingest({ id, name: 'job.status.changed', accountId: ACCOUNT, payload: { job: { ...job('Done').job, id: value } } });
      expect(trigger?.status).toBe('pending');
      expect(trigger?.entityKey).toBeUndefined();
    }
    expect((await engine.triggers.list(ACCOUNT, { status: 'pending' })).items).toHaveLength(5);
    expect(lines.filter((l) => l.level === 'warn' && l.message.includes('no usable entity key'))).toHaveLength(5);
  });
});

describe('concurrency per entity', () => {
  it('supersede: a newer event replaces the pending trigger and pushes the due time out; history says which', async () => {
    const { engine, seen, statusChanged } = setup();
    await engine.rules.create(ACCOUNT, { ...keyed, concurrency: { mode: 'supersede' } });
    const [first] = await statusChanged('e1', 'Done', 0);
    const second = await statusChanged('e2', 'Done', 60_000);
    expect(second.summary).toMatchObject({ created: 1, superseded: 1, stale: 0 });
    const replaced = await engine.triggers.get(ACCOUNT, first?.id ?? '');
    expect(replaced?.status).toBe('cancelled');
    expect(replaced?.executionHistory.at(-1)).toMatchObject({ outcome: 'superseded', reason: 'superseded', triggerId: second[0]?.id, event: { id: 'e2', name: 'job.status.changed' } });
    expect(second[0]).toMatchObject({ status: 'pending', evaluateAt: new Date(at(60_000 + 300_000)), firstEventAt: new Date(at(0)) });
    expect(seen.superseded).toEqual([expect.objectContaining({ reason: 'superseded', triggerId: first?.id, pendingTriggerId: second[0]?.id, entityKey: 'job-1', event: { id: 'e2', name: 'job.status.changed' } })]);
    // Other entities are independent.
    const [other] = await statusChanged('e3', 'Done', 61_000, 'job-2');
    expect(other?.status).toBe('pending');
    expect((await engine.triggers.list(ACCOUNT, { status: 'pending' })).items).toHaveLength(2);
  });

  it('supersede: three quick changes send one SMS, with the last event', async () => {
    const { clock, engine, sms, statusChanged } = setup();
    await engine.rules.create(ACCOUNT, { ...keyed, concurrency: { mode: 'supersede' } });
    await statusChanged('e1', 'Done', 0);
    await statusChanged('e2', 'Done', 30_000);
    await statusChanged('e3', 'Done', 60_000);
    await clock.advance(60_000 + 300_000);
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(sms.sent).toHaveLength(1);
    expect(sms.sent[0]?.metadata.triggerId).toBe((await engine.triggers.list(ACCOUNT, { status: 'completed' })).items[0]?.id);
  });

  it('supersede is capped by maxWait from the first event', async () => {
    const { engine, statusChanged } = setup();
    await engine.rules.create(ACCOUNT, { ...keyed, concurrency: { mode: 'supersede', maxWait: { value: 8, unit: 'minutes' } } });
    await statusChanged('e1', 'Done', 0);
    const [second] = await statusChanged('e2', 'Done', 2 * 60_000);
    // 2 + 5 = 7 minutes: under the cap.
    expect(second?.evaluateAt.toISOString()).toBe(at(7 * 60_000));
    const [third] = await statusChanged('e3', 'Done', 6 * 60_000);
    // 6 + 5 = 11 minutes would pass 0 + 8: capped at the first event + maxWait.
    expect(third?.evaluateAt.toISOString()).toBe(at(8 * 60_000));
    expect(third?.firstEventAt?.toISOString()).toBe(at(0));
  });

  it('supersede: an older event arriving late is stored cancelled (stale), naming the pending trigger', async () => {
    const { engine, seen, statusChanged } = setup();
    await engine.rules.create(ACCOUNT, { ...keyed, concurrency: { mode: 'supersede' } });
    const [newer] = await statusChanged('e2', 'Done', 60_000);
    const late = await statusChanged('e1', 'Done', 0);
    expect(late.summary).toMatchObject({ stale: 1, created: 0 });
    expect(late[0]?.status).toBe('cancelled');
    expect(late[0]?.executionHistory.at(-1)).toMatchObject({ outcome: 'superseded', reason: 'stale', triggerId: newer?.id });
    expect((await engine.triggers.get(ACCOUNT, newer?.id ?? ''))?.status).toBe('pending');
    expect(seen.superseded).toEqual([expect.objectContaining({ reason: 'stale', triggerId: late[0]?.id, pendingTriggerId: newer?.id })]);
  });

  it('skipIfPending: a new event while one is pending is recorded skipped; a redelivery of either creates nothing new', async () => {
    const { engine, store, seen, statusChanged } = setup();
    await engine.rules.create(ACCOUNT, { ...keyed, concurrency: { mode: 'skipIfPending' } });
    const [pending] = await statusChanged('e1', 'Done', 0);
    const skipped = await statusChanged('e2', 'Done', 60_000);
    expect(skipped.summary).toMatchObject({ skipped: 1, created: 0 });
    expect(skipped[0]).toMatchObject({ status: 'skipped', entityKey: 'job-1' });
    expect(skipped[0]?.executionHistory).toEqual([expect.objectContaining({ outcome: 'skipped', reason: 'pending-exists', triggerId: pending?.id, event: { id: 'e2', name: 'job.status.changed' }, attempt: 0 })]);
    const before = store.size.triggers;
    // The bus delivers both again.
    const again1 = await statusChanged('e1', 'Done', 0);
    const again2 = await statusChanged('e2', 'Done', 60_000);
    expect(again1.map((t) => t.id)).toEqual([pending?.id]);
    expect(again2.map((t) => [t.id, t.status])).toEqual([[skipped[0]?.id, 'skipped']]);
    expect(again1.summary).toMatchObject({ redelivered: 1, created: 0, skipped: 0 });
    expect(again2.summary).toMatchObject({ redelivered: 1, created: 0, skipped: 0 });
    expect(store.size.triggers).toBe(before);
    expect((await engine.triggers.list(ACCOUNT, { status: 'pending' })).items.map((t) => t.id)).toEqual([pending?.id]);
    expect(seen.ingested.map((i) => i.summary.skipped)).toEqual([0, 1, 0, 0]);
  });

  it('supersede: 8 concurrent ingests for one entity on 4 engines over one store leave one pending trigger, the newest event\'s', async () => {
    const clock = createManualClock(START);
    const store = createMemoryStore();
    const engines = Array.from({ length: 4 }, (_, i) => createAutomationEngine({ store, clock, channels: { sms: createRecordingChannel() }, instanceId: `engine-${i}` }));
    await engines[0]?.rules.create(ACCOUNT, { ...keyed, concurrency: { mode: 'supersede' } });
    // Arrival order differs from event order: the newest event (e7) is not the last to arrive.
    const order = [3, 7, 0, 5, 1, 6, 2, 4];
    const results = await Promise.all(order.map((n, i) => engines[i % 4]?.ingest({ id: `e${n}`, name: 'job.status.changed', accountId: ACCOUNT, payload: job('Done'), timestamp: at(n * 1_000) })));
    const pending = await engines[0]?.triggers.list(ACCOUNT, { status: 'pending', entityKey: 'job-1' });
    expect(pending?.items.map((t) => t.triggeringEvent.id)).toEqual(['e7']);
    const all = await engines[0]?.triggers.list(ACCOUNT, { entityKey: 'job-1' });
    expect(all?.items).toHaveLength(8);
    expect(all?.items.filter((t) => t.status === 'cancelled')).toHaveLength(7);
    const totals = results.reduce((sum, r) => ({ superseded: sum.superseded + (r?.summary?.superseded ?? 0), stale: sum.stale + (r?.summary?.stale ?? 0) }), { superseded: 0, stale: 0 });
    expect(totals.superseded + totals.stale).toBe(7);
  });

  it('skipIfPending: once the pending run is claimed, a new event starts a new pending trigger', async () => {
    const { clock, engine, statusChanged } = setup();
    await engine.rules.create(ACCOUNT, { ...keyed, delay: { value: 0, unit: 'minutes' }, concurrency: { mode: 'skipIfPending' } });
    await statusChanged('e1', 'Done', 0);
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    await clock.advance(1_000);
    const [next] = await statusChanged('e2', 'Done', 1_000);
    expect(next?.status).toBe('pending');
  });
});

describe('cancel on a later event', () => {
  const cancelling = {
    ...keyed,
    cancelOn: [
      { eventName: 'job.status.changed', conditions: { all: [{ fact: 'job', path: '$.status', operator: 'notEqual', value: 'Done' }] } },
      { eventName: 'job.deleted', key: '$.jobId' },
    ],
    conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
  } satisfies RuleInput;

  it('a newer matching event cancels pending and retrying triggers of the same entity; history names the event', async () => {
    const { engine, seen, statusChanged } = setup();
    const rule = await engine.rules.create(ACCOUNT, cancelling);
    const [done] = await statusChanged('e1', 'Done', 0);
    const [otherJob] = await statusChanged('e2', 'Done', 0, 'job-2');
    // Re-opened: the cancelOn entry's conditions pass (status is not Done), and the rule's own conditions
    // would not start a run (the trigger is created and later skipped).
    const reopened = await statusChanged('e3', 'Open', 120_000);
    expect(reopened.summary).toMatchObject({ cancelled: 1, cancelRequested: 0 });
    const cancelled = await engine.triggers.get(ACCOUNT, done?.id ?? '');
    expect(cancelled?.status).toBe('cancelled');
    expect(cancelled?.executionHistory.at(-1)).toMatchObject({ outcome: 'cancelled', reason: 'cancelled-by-event', event: { id: 'e3', name: 'job.status.changed' }, by: 'engine-a' });
    expect((await engine.triggers.get(ACCOUNT, otherJob?.id ?? ''))?.status).toBe('pending');
    expect(seen.cancelled).toEqual([expect.objectContaining({ reason: 'cancelled-by-event', stage: 'intake', event: { id: 'e3', name: 'job.status.changed' }, trigger: expect.objectContaining({ id: done?.id, ruleId: rule.id }) as unknown })]);
  });

  it('cancelOn conditions that fail cancel nothing; a cancelOn-only event name creates no trigger', async () => {
    const { engine, statusChanged } = setup();
    await engine.rules.create(ACCOUNT, cancelling);
    const [first] = await statusChanged('e1', 'Done', 0);
    const again = await statusChanged('e2', 'Done', 60_000);
    expect(again.summary).toMatchObject({ cancelled: 0, created: 1 });
    expect((await engine.triggers.get(ACCOUNT, first?.id ?? ''))?.status).toBe('pending');
    const deleted = await engine.ingest({ id: 'e3', name: 'job.deleted', accountId: ACCOUNT, payload: { jobId: 'job-1' }, timestamp: at(90_000) });
    expect([...deleted]).toEqual([]);
    expect(deleted.summary).toMatchObject({ cancelled: 2, created: 0 });
    expect((await engine.triggers.list(ACCOUNT, { status: 'pending' })).items).toEqual([]);
  });

  it('a late, older cancel does not cancel a newer run', async () => {
    const { engine, statusChanged } = setup();
    await engine.rules.create(ACCOUNT, cancelling);
    const [newer] = await statusChanged('e2', 'Done', 120_000);
    // The delete happened before the newer status change, but arrives after it.
    const late = await engine.ingest({ id: 'e1', name: 'job.deleted', accountId: ACCOUNT, payload: { jobId: 'job-1' }, timestamp: at(60_000) });
    expect(late.summary).toMatchObject({ cancelled: 0, cancelRequested: 0 });
    expect((await engine.triggers.get(ACCOUNT, newer?.id ?? ''))?.status).toBe('pending');
  });

  it('a retrying trigger is cancelled too; a cancelling event with no key value cancels nothing and warns', async () => {
    const { clock, engine, sms, lines, statusChanged } = setup();
    await engine.rules.create(ACCOUNT, { ...cancelling, delay: { value: 0, unit: 'minutes' } });
    const [run] = await statusChanged('e1', 'Done', 0);
    sms.failNext(Object.assign(new Error('503'), { retryable: true }));
    expect(await engine.runDue()).toMatchObject({ retrying: 1 });
    await clock.advance(1_000);
    await engine.ingest({ id: 'e2', name: 'job.deleted', accountId: ACCOUNT, payload: {}, timestamp: at(1_000) });
    expect(lines.some((l) => l.level === 'warn' && l.message.includes('no usable entity key'))).toBe(true);
    expect((await engine.triggers.get(ACCOUNT, run?.id ?? ''))?.status).toBe('retrying');
    const deleted = await engine.ingest({ id: 'e3', name: 'job.deleted', accountId: ACCOUNT, payload: { jobId: 'job-1' }, timestamp: at(1_000) });
    expect(deleted.summary?.cancelled).toBe(1);
    expect((await engine.triggers.get(ACCOUNT, run?.id ?? ''))?.status).toBe('cancelled');
    await clock.advance(120_000);
    expect((await engine.runDue()).claimed).toBe(0);
    expect(sms.sent).toHaveLength(0);
  });

  it('ingestMany: an event that cancels in a batch cancels the runs its earlier events started', async () => {
    const { engine } = setup();
    await engine.rules.create(ACCOUNT, cancelling);
    const results = await engine.ingestMany([
      { id: 'e1', name: 'job.status.changed', accountId: ACCOUNT, payload: job('Done'), timestamp: at(0) },
      { id: 'e2', name: 'job.deleted', accountId: ACCOUNT, payload: { jobId: 'job-1' }, timestamp: at(1_000) },
      { id: 'e3', name: 'job.status.changed', accountId: ACCOUNT, payload: job('Done'), timestamp: at(2_000) },
    ]);
    expect(results.map((r) => r.ok && r.summary)).toEqual([
      expect.objectContaining({ created: 1, cancelled: 0 }),
      expect.objectContaining({ created: 0, cancelled: 1 }),
      expect.objectContaining({ created: 1, cancelled: 0 }),
    ]);
    const pending = await engine.triggers.list(ACCOUNT, { status: 'pending' });
    expect(pending.items.map((t) => t.triggeringEvent.id)).toEqual(['e3']);
  });

  it('rules handed to ingest (the lookup pattern) that only cancel on this event still cancel', async () => {
    const { engine, statusChanged } = setup();
    const rule = await engine.rules.create(ACCOUNT, cancelling);
    const [run] = await statusChanged('e1', 'Done', 0);
    await engine.ingest({ id: 'e2', name: 'job.deleted', accountId: ACCOUNT, payload: { jobId: 'job-1' }, timestamp: at(1_000) }, { rules: [rule] });
    expect((await engine.triggers.get(ACCOUNT, run?.id ?? ''))?.status).toBe('cancelled');
  });

  it('cancelOn conditions that cannot be evaluated cancel nothing, are logged, and do not refuse the event', async () => {
    const clock = createManualClock(START);
    const { logger, lines } = recordingLogger();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, logger, channels: { sms: createRecordingChannel() }, operators: { explodes: () => { throw new Error('boom'); } } });
    await engine.rules.create(ACCOUNT, { ...cancelling, cancelOn: [{ eventName: 'job.deleted', key: '$.jobId', conditions: { all: [{ fact: 'jobId', operator: 'explodes', value: 1 }] } }] });
    const [run] = await engine.ingest({ id: 'e1', name: 'job.status.changed', accountId: ACCOUNT, payload: job('Done'), timestamp: at(0) });
    const deleted = await engine.ingest({ id: 'e2', name: 'job.deleted', accountId: ACCOUNT, payload: { jobId: 'job-1' }, timestamp: at(1_000) });
    expect(deleted.summary?.cancelled).toBe(0);
    expect((await engine.triggers.get(ACCOUNT, run?.id ?? ''))?.status).toBe('pending');
    expect(lines.find((l) => l.level === 'error' && l.message.includes('cancelOn conditions could not be evaluated'))?.fields).toMatchObject({ ruleId: run?.ruleId, cancelOn: 0, error: { code: 'CRM_ERR_EVALUATION' } });
  });

  it('a cancelOn rule from another source on a store that cannot cancel: logged as an error, the event still starts its runs', async () => {
    const clock = createManualClock(START);
    const { logger, lines } = recordingLogger();
    const { cancelTriggers: _cannot, ...rest } = createMemoryTriggerStore();
    const triggerStore: TriggerStore = rest;
    const now = new Date(START);
    const saved: Rule = { ...cancelling, id: 'r1', accountId: ACCOUNT, enabled: true, version: 1, createdAt: now, updatedAt: now };
    const engine = createAutomationEngine({
      triggerStore,
      ruleSource: { findRulesForEvent: async () => [saved], getRule: async () => saved },
      clock,
      logger,
      channels: { sms: createRecordingChannel() },
    });
    const triggers = await engine.ingest({ id: 'e1', name: 'job.status.changed', accountId: ACCOUNT, payload: job('Open'), timestamp: at(0) });
    expect(triggers.summary).toMatchObject({ created: 1, cancelled: 0 });
    expect(lines.some((l) => l.level === 'error' && l.message.includes('cannot cancel triggers'))).toBe(true);
  });
});
