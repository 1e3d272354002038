// Issue 16's acceptance on the memory store, end to end: several engines share one store and ingest
// events about one entity at the same time; the store's pending slot leaves one run per entity.
import { describe, expect, it } from 'vitest';
import { createAutomationEngine, type RuleInput } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryStore } from '@crm-automation/core/memory';
import { technicianSmsRule } from '@crm-automation/testing';

const ACCOUNT = 'acc_1';
const START = '2026-03-01T10:00:00Z';
const eventTime = (offsetMs: number) => new Date(new Date(START).getTime() + offsetMs).toISOString();

const keyed = {
  ...technicianSmsRule,
  trigger: { eventName: 'job.status.changed', key: '$.job.id' },
  delay: { value: 5, unit: 'minutes' },
} satisfies RuleInput;

function fourEngines() {
  const clock = createManualClock(START);
  const store = createMemoryStore();
  const sms = createRecordingChannel();
  const engines = Array.from({ length: 4 }, (_, i) => createAutomationEngine({ store, clock, channels: { sms }, instanceId: `engine-${i}` }));
  return { clock, store, sms, engines };
}

/** 8 events about job-1, ingested at once, 2 per engine, issued out of timestamp order. */
async function ingestEight(engines: ReturnType<typeof fourEngines>['engines']) {
  const order = [3, 7, 0, 5, 1, 6, 2, 4];
  await Promise.all(
    order.map((i, n) =>
      engines[n % engines.length]?.ingest({
        id: `evt_${i}`,
        name: 'job.status.changed',
        accountId: ACCOUNT,
        timestamp: eventTime(i * 1_000),
        payload: { job: { id: 'job-1', number: 7, status: 'Done', seq: i, client: { name: 'Acme' }, assignedTechnician: { name: 'Ana', phone: '+15550001111' } } },
      }),
    ),
  );
}

describe('memory store: concurrent intake of one entity on 4 engines', () => {
  it('supersede: 8 concurrent ingests leave exactly one pending trigger, for the newest event, and one SMS', async () => {
    const { clock, store, sms, engines } = fourEngines();
    const [first] = engines;
    const rule = await first?.rules.create(ACCOUNT, { ...keyed, concurrency: { mode: 'supersede', maxWait: { value: 30, unit: 'minutes' } } });
    await ingestEight(engines);
    const all = (await store.listTriggers(ACCOUNT, { ruleId: rule?.id, entityKey: 'job-1', limit: 100 })).items;
    expect(all).toHaveLength(8);
    const pending = all.filter((t) => t.status === 'pending');
    expect(pending).toHaveLength(1);
    expect(pending[0]?.triggeringEvent.id).toBe('evt_7');
    expect(all.filter((t) => t.status === 'cancelled')).toHaveLength(7);
    expect(all.filter((t) => t.status === 'cancelled').every((t) => t.executionHistory[0]?.outcome === 'superseded')).toBe(true);

    await clock.advance(10 * 60_000);
    const counts = await Promise.all(engines.map((engine) => engine.runDue()));
    expect(counts.reduce((sum, c) => sum + c.completed, 0)).toBe(1);
    expect(sms.sent).toHaveLength(1);
  });

  it('skipIfPending: 8 concurrent ingests leave exactly one pending trigger and 7 skipped naming it', async () => {
    const { store, engines } = fourEngines();
    const rule = await engines[0]?.rules.create(ACCOUNT, { ...keyed, concurrency: { mode: 'skipIfPending' } });
    await ingestEight(engines);
    const all = (await store.listTriggers(ACCOUNT, { ruleId: rule?.id, entityKey: 'job-1', limit: 100 })).items;
    expect(all).toHaveLength(8);
    const pending = all.filter((t) => t.status === 'pending');
    expect(pending).toHaveLength(1);
    const skipped = all.filter((t) => t.status === 'skipped');
    expect(skipped).toHaveLength(7);
    expect(skipped.every((t) => t.executionHistory[0]?.triggerId === pending[0]?.id)).toBe(true);
  });
});
