import { describe, expect, it } from 'vitest';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';
import type { Rule, Trigger, ValidateResult } from '../app/api/types.js';
import { describeReason } from '../app/format.js';
import { emptyCancelOn, emptyEvaluateRow, entitySummary, needsEntityKey, readsCurrentState } from '../app/model/entity-form.js';
import { describeFieldPath, formFieldPaths } from '../app/model/form-fields.js';
import { issuesForPeople } from '../app/model/issue-messages.js';
import type { JsonObject, JsonValue } from '../app/model/json.js';
import { emptyRuleForm, formToRule, ruleToForm, type RuleForm } from '../app/model/rule-form.js';
import { cancelRequestedText, otherRunText, runEndReason } from '../app/model/run-outcome.js';
import { rulesApiPerTest } from './rules-api-answers.js';

const roundTrip = (doc: JsonValue) => formToRule(ruleToForm(doc));

/** A rule with every entity field the form has, each in a shape the form shows field by field. */
const entityRule: JsonObject = {
  ...(technicianSmsRule as unknown as JsonObject),
  trigger: { eventName: 'job.status.changed', key: '$.job.id' },
  cancelOn: [
    { eventName: 'job.reopened' },
    { eventName: 'job.status.changed', conditions: { all: [{ fact: 'job', path: '$.status', operator: 'notEqual', value: 'Done' }] }, key: '$.job.id', note: 'kept' },
  ],
  concurrency: { mode: 'supersede', maxWait: { value: 15, unit: 'minutes' } },
  evaluate: { job: 'current', client: 'event' },
};

const openRulesApi = rulesApiPerTest();

describe('entity fields: rule document ↔ form', () => {
  it('keeps every entity field exactly, and reads them into the fields a person sees', () => {
    const result = roundTrip(entityRule);
    expect(result.issues).toEqual([]);
    expect(result.rule).toEqual(entityRule);
    const { entity } = ruleToForm(entityRule);
    expect(entity).toMatchObject({ entityKey: '$.job.id', concurrencyMode: 'supersede', maxWaitValue: '15', maxWaitUnit: 'minutes', evaluateMode: 'perFact' });
    expect(entity.cancelOn.map((c) => [c.eventName, c.entityPath, c.conditionsText === '' ? 'none' : 'json', c.extra])).toEqual([
      ['job.reopened', '', 'none', {}],
      ['job.status.changed', '$.job.id', 'json', { note: 'kept' }],
    ]);
    expect(entity.evaluateFacts.map((r) => [r.fact, r.mode])).toEqual([
      ['job', 'current'],
      ['client', 'event'],
    ]);
  });

  it('gives back unchanged what it does not show field by field: explicit defaults, an empty list, odd shapes, other trigger keys', () => {
    for (const doc of [
      { ...entityRule, concurrency: { mode: 'all' }, evaluate: 'event', cancelOn: [] },
      { ...entityRule, concurrency: { mode: 'fast' }, evaluate: 'sometimes', cancelOn: [{ eventName: 5 }] },
      { ...entityRule, concurrency: { mode: 'supersede', maxWait: { value: 1, unit: 'weeks' } }, evaluate: { job: 'later' }, cancelOn: 'job.cancelled' },
      { ...entityRule, trigger: { eventName: 'job.status.changed', key: 42, source: 'crm' } },
      technicianSmsRule as unknown as JsonObject,
    ] as JsonObject[]) {
      const result = roundTrip(doc);
      expect(result.issues).toEqual([]);
      expect(result.rule).toEqual(doc);
    }
  });

  it('writes what the user sets, drops a longest wait left from supersede, and reports what it cannot read at the API’s paths', () => {
    const base = emptyRuleForm('job.status.changed');
    const form: RuleForm = {
      ...base,
      entity: { ...base.entity, entityKey: '$.job.id', concurrencyMode: 'skipIfPending', maxWaitValue: '30', cancelOn: [{ ...emptyCancelOn('appointment.cancelled'), conditionsText: '{"all": []}' }], evaluateMode: 'current' },
    };
    const written = formToRule(form);
    expect(written.issues).toEqual([]);
    expect(written.rule).toMatchObject({ trigger: { eventName: 'job.status.changed', key: '$.job.id' }, concurrency: { mode: 'skipIfPending' }, cancelOn: [{ eventName: 'appointment.cancelled', conditions: { all: [] } }], evaluate: 'current' });
    expect(written.rule['concurrency']).toEqual({ mode: 'skipIfPending' });

    const broken: RuleForm = {
      ...form,
      entity: {
        ...form.entity,
        concurrencyMode: 'supersede',
        maxWaitValue: 'soon',
        cancelOn: [{ ...emptyCancelOn('x'), conditionsText: '{all' }],
        evaluateMode: 'perFact',
        evaluateFacts: [emptyEvaluateRow('job'), emptyEvaluateRow('job'), emptyEvaluateRow('')],
      },
    };
    const { rule, issues } = formToRule(broken);
    expect(issues.map((i) => [i.path, i.code])).toEqual([
      ['cancelOn[0].conditions', 'invalid_json'],
      ['concurrency.maxWait.value', 'invalid_number'],
      ['evaluate.job', 'duplicate_fact'],
      ['evaluate[2].fact', 'required'],
    ]);
    // The document still shows what was typed, so the JSON view does not lose it.
    expect(rule['concurrency']).toEqual({ mode: 'supersede', maxWait: { value: 'soon', unit: 'minutes' } });
    expect(rule['evaluate']).toEqual({ job: 'current' });
    for (const issue of issues) expect(formFieldPaths(broken).has(issue.path), issue.path).toBe(true);
  });

  it('says when the choices need an entity key, and when the rule reads current state', () => {
    const base = emptyRuleForm().entity;
    expect(needsEntityKey(base)).toBe(false);
    expect(needsEntityKey({ ...base, concurrencyMode: 'all' })).toBe(false);
    expect(needsEntityKey({ ...base, concurrencyMode: 'supersede' })).toBe(true);
    expect(needsEntityKey({ ...base, cancelOn: [emptyCancelOn('x')] })).toBe(true);
    expect(needsEntityKey({ ...base, entityKey: '$.job.id', cancelOn: [emptyCancelOn('x')] })).toBe(false);
    expect(entitySummary(entityRule as Parameters<typeof entitySummary>[0])).toEqual(['debounced', 'cancels on 2 events', 'reads current state']);
    expect(entitySummary({ concurrency: { mode: 'skipIfPending' }, cancelOn: [{}], evaluate: { job: 'event' } })).toEqual(['one waiting run at a time', 'cancels on 1 event']);
    expect(entitySummary({})).toEqual([]);
    expect([readsCurrentState('current'), readsCurrentState({ job: 'current' }), readsCurrentState('event'), readsCurrentState({ job: 'event' }), readsCurrentState(undefined)]).toEqual([true, true, false, false, false]);
  });

  it('places the API’s issues at the entity fields and names them as their labels do', () => {
    const form = ruleToForm(entityRule);
    const issues = [
      { path: 'trigger.key', code: 'invalid_path', message: 'not a JSONPath that names one value' },
      { path: 'cancelOn[1].conditions.all[0].operator', code: 'unknown_operator', message: 'unknown operator' },
      { path: 'cancelOn[0].eventName', code: 'too_small', message: 'Too small: expected string to have >=1 characters' },
      { path: 'concurrency.maxWait', code: 'too_small', message: 'maxWait must be at least the delay (5 minutes)' },
      { path: 'concurrency', code: 'invalid_type', message: 'Invalid input' },
      { path: 'evaluate.job', code: 'no_fact_loader', message: 'no facts loader for "job" on this engine' },
    ];
    const placed = issuesForPeople(issues, formFieldPaths(form));
    expect([...placed.byField.keys()]).toEqual(['trigger.key', 'cancelOn[1].conditions', 'cancelOn[0].eventName', 'concurrency.maxWait', 'concurrency.mode', 'evaluate.job']);
    expect(placed.unplaced).toEqual([]);
    expect(placed.byField.get('cancelOn[0].eventName')?.[0]?.message).toBe('Cancel event is required');
    expect(placed.byField.get('concurrency.mode')?.[0]?.message).toBe('When a run is already waiting is not valid');
    expect(['trigger.key', 'cancelOn[1].key', 'concurrency.maxWait', 'evaluate.job'].map(describeFieldPath)).toEqual(['Entity key', 'Cancel event 2 › key', 'Longest wait', 'Evaluate › job']);
  });
});

describe('entity-aware runs as the run view shows them', () => {
  it('names the run that superseded another, the event that cancelled one, and the entity', async () => {
    const api = await openRulesApi();
    const rule = await api.call<Rule>('POST', '/rules', {
      ...technicianSmsRule,
      trigger: { eventName: 'job.status.changed', key: '$.job.id' },
      concurrency: { mode: 'supersede' },
      cancelOn: [{ eventName: 'job.reopened' }],
    });
    const t0 = api.clock.now().getTime();
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    const job = (id: string) => ({ job: { ...doneJobPayload.job, id } });
    await api.call('POST', '/events', { name: 'job.status.changed', id: 'e1', payload: job('J1'), timestamp: at(0) });
    await api.call('POST', '/events', { name: 'job.status.changed', id: 'e2', payload: job('J1'), timestamp: at(1_000) });
    await api.call('POST', '/events', { name: 'job.status.changed', id: 'e3', payload: job('J2'), timestamp: at(0) });
    await api.call('POST', '/events', { name: 'job.reopened', id: 'r1', payload: job('J2'), timestamp: at(2_000) });

    const page = await api.call<{ items: Trigger[] }>('GET', `/triggers?ruleId=${rule.id}&entityKey=J1`);
    const replaced = page.items.find((t) => t.triggeringEvent.id === 'e1');
    const newer = page.items.find((t) => t.triggeringEvent.id === 'e2');
    if (!replaced || !newer) throw new Error('both events of J1 should have a run');
    expect(replaced.entityKey).toBe('J1');
    expect(runEndReason(replaced)).toBe(`Replaced by the run ${newer.id}, for a newer event job.status.changed (e2).`);
    expect(runEndReason(newer)).toBeNull();
    expect(describeReason(replaced.executionHistory[0]?.reason)).toBe('A newer event for the same entity replaced it');

    const [cancelled] = (await api.call<{ items: Trigger[] }>('GET', `/triggers?ruleId=${rule.id}&entityKey=J2`)).items;
    expect(cancelled?.status).toBe('cancelled');
    expect(cancelled ? runEndReason(cancelled) : null).toBe('Cancelled by the event job.reopened (r1).');
  });

  it('words every outcome that names another run or event, and a cancel waiting for a processing run', () => {
    const entry = (patch: Partial<Trigger['executionHistory'][number]>) => ({ at: '2030-01-01T09:00:00.000Z', attempt: 0, outcome: 'skipped' as const, ...patch });
    expect(otherRunText(entry({ outcome: 'superseded', reason: 'stale', triggerId: 'trg_9' }))).toBe('Not run: the run trg_9 was already waiting with a newer event for this entity.');
    expect(otherRunText(entry({ reason: 'pending-exists', triggerId: 'trg_9' }))).toBe('Not run: the run trg_9 was already waiting for this entity.');
    expect(otherRunText(entry({ reason: 'conditions-not-met' }))).toBeNull();
    expect(otherRunText(entry({ outcome: 'cancelled', by: 'user' }))).toBeNull();
    const processing = { cancelRequested: { event: { id: 'r2', name: 'appointment.cancelled' }, at: '2030-01-01T09:00:00.000Z' } } as Trigger;
    expect(cancelRequestedText(processing)).toBe('Cancel requested by the event appointment.cancelled (r2): the run stops before its next action not yet sent.');
  });

  it('dry-runs a rule on current state from the editor’s document with a current sample', async () => {
    const api = await openRulesApi();
    const doc = formToRule(ruleToForm({ ...(technicianSmsRule as unknown as JsonObject), trigger: { eventName: 'job.status.changed', key: '$.job.id' }, evaluate: 'current' })).rule;
    const result = await api.call<ValidateResult>('POST', '/rules/validate', { rule: doc, sample: { payload: doneJobPayload, current: { job: { ...doneJobPayload.job, status: 'Scheduled' } } } });
    if (!result.valid || !result.dryRun?.valid) throw new Error(`expected a dry run: ${JSON.stringify(result)}`);
    expect(result.dryRun.matched).toBe(false);
    expect(result.dryRun.conditions[0]).toMatchObject({ factResult: 'Scheduled', eventValue: 'Done' });
  });
});
