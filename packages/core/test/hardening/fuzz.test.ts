import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  asUntrustedRule,
  createAutomationEngine,
  createManualClock,
  createMemoryStore,
  createRecordingChannel,
  ERROR_CODES,
  isAutomationError,
} from '@crm-automation/core';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';
import { event, FUZZ_RUNS_FACTOR, fuzzParameters, jobPayload, ruleDocument, validRule, withNonJson } from './fuzz-arbitraries.js';

const KNOWN_CODES = new Set(Object.keys(ERROR_CODES));

function expectTyped(error: unknown, codes: readonly string[]): void {
  if (!isAutomationError(error)) throw new Error(`untyped error: ${String((error as Error)?.stack ?? error)}`);
  expect(KNOWN_CODES.has(error.code)).toBe(true);
  expect(codes).toContain(error.code);
}

describe('fuzzing the engine with generated rules and events', () => {
  it('answers every generated rule and event with acceptance or a typed refusal; the loop still fires a good event', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const sms = createRecordingChannel();
    const email = createRecordingChannel();
    const webhook = createRecordingChannel();
    const loopErrors: unknown[] = [];
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms, email, webhook } });
    engine.on('loop:error', (e) => loopErrors.push(e));
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    let accepted = 0;
    let refused = 0;

    await fc.assert(
      fc.asyncProperty(fc.oneof({ arbitrary: validRule, weight: 1 }, { arbitrary: ruleDocument, weight: 3 }), fc.nat({ max: 49 }), async (doc, account) => {
        const result = engine.rules.validate(doc);
        if (!result.ok) {
          expect(result.issues.length).toBeGreaterThan(0);
          for (const issue of result.issues) {
            expect(typeof issue.path).toBe('string');
            expect(typeof issue.code).toBe('string');
            expect(issue.message.length).toBeGreaterThan(0);
          }
        }
        try {
          await engine.rules.create(`acc_${account}`, asUntrustedRule(doc));
          accepted += 1;
          expect(result.ok).toBe(true);
        } catch (error) {
          refused += 1;
          expect(result.ok).toBe(false);
          expectTyped(error, ['CRM_ERR_RULE_INVALID']);
        }
      }),
      fuzzParameters(2_000),
    );

    await fc.assert(
      fc.asyncProperty(event, async (e) => {
        try {
          await engine.ingest(e as Parameters<typeof engine.ingest>[0]);
        } catch (error) {
          expectTyped(error, ['CRM_ERR_EVENT_INVALID', 'CRM_ERR_CONFIG']);
        }
      }),
      fuzzParameters(2_000),
    );

    // Every accepted rule runs to an outcome: nothing throws out of the loop or stalls it.
    await clock.advance(366 * 86_400_000);
    const counts = await engine.runDue();
    expect(counts.leaseLost + counts.unsaved).toBe(0);
    expect(counts.claimed).toBeGreaterThan(100);
    expect(counts.completed).toBeGreaterThan(0);
    expect(counts.failed + counts.skipped).toBeGreaterThan(0);
    expect(loopErrors).toEqual([]);

    // And a good event still fires.
    sms.sent.length = 0;
    await engine.rules.create('acc_good', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    await engine.ingest({ name: 'job.status.changed', accountId: 'acc_good', payload: doneJobPayload });
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(sms.sent).toHaveLength(1);

    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    // The generators must reach both sides, or the test proves nothing.
    expect(accepted).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(200);
  }, 120_000 * FUZZ_RUNS_FACTOR);

  it('refuses in-process values that are not JSON, anywhere in a rule, a dry run sample or an event, with a typed error; the loop still fires', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms, email: createRecordingChannel(), webhook: createRecordingChannel() } });
    const loopErrors: unknown[] = [];
    engine.on('loop:error', (e) => loopErrors.push(e));
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

    await fc.assert(
      fc.asyncProperty(withNonJson(fc.oneof(validRule, ruleDocument)), async (generated) => {
        const doc = generated.build();
        // validate answers; it never throws, whatever the document holds.
        const result = engine.rules.validate(doc as never);
        if (!result.ok) for (const issue of result.issues) expect(typeof issue.path).toBe('string');
        for (const call of [() => engine.rules.create('acc_1', asUntrustedRule(doc)), () => engine.rules.dryRun('acc_1', asUntrustedRule(doc), { payload: { job: { status: 'Done' } } })]) {
          try {
            await call();
          } catch (error) {
            expectTyped(error, ['CRM_ERR_RULE_INVALID', 'CRM_ERR_EVENT_INVALID', 'CRM_ERR_CONFIG']);
          }
        }
      }),
      fuzzParameters(1_000),
    );

    await fc.assert(
      fc.asyncProperty(withNonJson(fc.record({ name: fc.constant('job.created'), accountId: fc.constant('acc_1'), payload: fc.record({ job: jobPayload }) })), async (generated) => {
        try {
          await engine.ingest(generated.build() as Parameters<typeof engine.ingest>[0]);
        } catch (error) {
          expectTyped(error, ['CRM_ERR_EVENT_INVALID', 'CRM_ERR_CONFIG']);
        }
      }),
      fuzzParameters(1_000),
    );

    await clock.advance(366 * 86_400_000);
    expect(await engine.runDue()).toMatchObject({ leaseLost: 0, unsaved: 0 });
    expect(loopErrors).toEqual([]);
    sms.sent.length = 0;
    await engine.rules.create('acc_good', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    await engine.ingest({ name: 'job.status.changed', accountId: 'acc_good', payload: doneJobPayload });
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(sms.sent).toHaveLength(1);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
  }, 120_000 * FUZZ_RUNS_FACTOR);
});
