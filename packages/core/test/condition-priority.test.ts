import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel, type RuleInput } from '@crm-automation/core';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';

describe('conditions with priorities', () => {
  // json-rules-engine writes parsed priorities back into the conditions it is given, and the memory
  // store hands out frozen rules: evaluation must never run on the stored rule itself.
  it.each([
    ['compiled', {}],
    ['json-rules-engine (an async custom operator makes the compiler fall back)', { operators: { later: (async (a: unknown, b: unknown) => a === b) as unknown as (a: unknown, b: unknown) => boolean } }],
  ])('a rule whose leaves carry priorities runs on the memory store: %s', async (_name, extra) => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const sms = createRecordingChannel();
    const compiled: string[] = [];
    const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms }, clock, ...extra });
    engine.on('rule:compiled', ({ evaluator, fallback }) => compiled.push(`${evaluator}${fallback ? `:${fallback.code}` : ''}`));
    const leaves = [
      { fact: 'job', path: '$.status', operator: 'equal', value: 'Done', priority: 10 },
      { fact: 'job', path: '$.assignedTechnician.phone', operator: 'present', value: true, priority: 5 },
      ...('operators' in extra ? [{ fact: 'job', path: '$.status', operator: 'later', value: 'Done', priority: 1 }] : []),
    ];
    const rule = { ...technicianSmsRule, conditions: { all: leaves } } as unknown as RuleInput;
    await engine.rules.create('acc_1', rule as never);
    await engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });
    await clock.advance(5 * 60_000);
    expect(await engine.runDue()).toMatchObject({ completed: 1, failed: 0 });
    expect(sms.sent).toHaveLength(1);
    expect(compiled).toEqual(['operators' in extra ? 'json-rules-engine:async_operator' : 'compiled']);
  });
});
