import type { AutomationEngineOptions } from '@crm-automation/core';
import { createRecordingChannel, doneJobPayload, highValueJobPayload, highValueJobRule, technicianSmsRule } from '@crm-automation/testing';
import { describe, expect, it } from 'vitest';
import type { DryRunOk, EventAccepted, Rule, ValidateResult } from '../app/api/types.js';
import { dryRunVerdict } from '../app/model/dry-run-verdict.js';
import { publishedRunsText } from '../app/model/published-runs.js';
import { rulesApiPerTest } from './rules-api-answers.js';

const openRulesApi = rulesApiPerTest();

/** `POST /rules/validate` with a sample, as the test panel sends it for a rule being edited. */
async function tryRule(rule: unknown, payload: unknown, channels?: AutomationEngineOptions['channels']) {
  const api = await openRulesApi(channels ? { channels } : {});
  const answer = await api.call<ValidateResult>('POST', '/rules/validate', { rule, sample: { payload } });
  if (!answer.valid || !answer.dryRun?.valid) throw new Error(`the rule did not dry-run: ${JSON.stringify(answer)}`);
  return { dryRun: answer.dryRun as DryRunOk, warnings: answer.warnings ?? [] };
}

describe("the test panel's banner", () => {
  it('is a success when the conditions pass and every action would go out', async () => {
    const { dryRun, warnings } = await tryRule(technicianSmsRule, doneJobPayload);
    expect(dryRunVerdict(dryRun, warnings)).toMatchObject({ tone: 'success', text: 'Conditions pass: 1 action would be sent' });
  });

  it('is a warning when an action cannot be rendered from the event, naming how many would fail', async () => {
    // A template recipient that renders empty: the action fails (a missing fact reference skips the run instead, below).
    const rule = { ...highValueJobRule, actions: [...highValueJobRule.actions, { type: 'sms', params: { recipient: '{{job.manager.phone}}', message: 'New job' } }] };
    const { dryRun, warnings } = await tryRule(rule, highValueJobPayload(2500, 'Commercial'));
    const verdict = dryRunVerdict(dryRun, warnings);
    expect(verdict).toMatchObject({ tone: 'warning', text: 'Conditions pass, but 1 of 3 actions would fail: 2 actions would be sent' });
    expect([...verdict.failing.keys()]).toEqual([2]);
    expect(verdict.failing.get(2)).toBe(dryRun.commands[2]?.error?.message);
  });

  it('is a warning when an action has no gateway on the engine, from the save warnings', async () => {
    const { dryRun, warnings } = await tryRule(highValueJobRule, highValueJobPayload(2500, 'Commercial'), { webhook: createRecordingChannel() });
    expect(warnings).toEqual([expect.objectContaining({ path: 'actions[0].type', code: 'no_gateway' })]);
    // The email renders: only the warning says it would fail.
    expect(dryRun.commands.every((c) => c.command)).toBe(true);
    const verdict = dryRunVerdict(dryRun, warnings);
    expect(verdict).toMatchObject({ tone: 'warning', text: 'Conditions pass, but 1 of 2 actions would fail: 1 action would be sent' });
    expect(verdict.failing.get(0)).toContain('no gateway for "email"');
    expect(dryRunVerdict(dryRun).tone).toBe('success');
  });

  it('says when every action would fail, when a missing recipient skips the run, and stays neutral when the conditions fail', async () => {
    const onlySms = { ...technicianSmsRule, conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] } };
    const { job } = doneJobPayload;
    const badNumber = await tryRule({ ...onlySms, actions: [{ type: 'sms', params: { recipient: '{{job.manager.phone}}', message: 'Hi' } }] }, doneJobPayload);
    expect(dryRunVerdict(badNumber.dryRun)).toMatchObject({ tone: 'warning', text: 'Conditions pass, but the action would fail: 0 actions would be sent' });
    const withoutPhone = await tryRule(onlySms, { job: { ...job, assignedTechnician: { name: 'Jane Doe' } } });
    expect(withoutPhone.dryRun.skipped).toBe('recipient-missing');
    expect(dryRunVerdict(withoutPhone.dryRun)).toMatchObject({ tone: 'warning', text: 'Conditions pass, but a recipient is missing from this event: the run would be skipped, nothing sent' });
    const api = await openRulesApi();
    const deleted = await api.call<ValidateResult>('POST', '/rules/validate', { rule: { ...technicianSmsRule, evaluate: 'current' }, sample: { payload: doneJobPayload, current: { job: null } } });
    if (!deleted.valid || !deleted.dryRun?.valid) throw new Error(JSON.stringify(deleted));
    expect(dryRunVerdict(deleted.dryRun)).toMatchObject({ tone: 'neutral', text: 'The entity is gone (its current state is empty): the run would be skipped, nothing sent' });
    const notDone = await tryRule(technicianSmsRule, { job: { ...job, status: 'Open' } });
    expect(dryRunVerdict(notDone.dryRun)).toMatchObject({ tone: 'neutral', text: 'Conditions fail: nothing would be sent' });
  });
});

describe('"runs started" after publishing an event', () => {
  const due = (iso: string) => `<${iso}>`;

  it("names the earliest due time of this rule's runs, among runs of other rules", async () => {
    const api = await openRulesApi();
    const later = await api.call<Rule>('POST', '/rules', { ...technicianSmsRule, name: 'later', delay: { value: 30, unit: 'minutes' } });
    const other = await api.call<Rule>('POST', '/rules', { ...technicianSmsRule, name: 'other rule', delay: { value: 1, unit: 'minutes' } });
    const sooner = await api.call<Rule>('POST', '/rules', { ...technicianSmsRule, name: 'sooner', delay: { value: 5, unit: 'minutes' } });
    const accepted = await api.call<EventAccepted>('POST', '/events', { name: 'job.status.changed', payload: doneJobPayload, timestamp: '2030-01-01T09:00:00.000Z' });
    expect(accepted.triggers.map((t) => t.ruleId).sort()).toEqual([later.id, other.id, sooner.id].sort());

    expect(publishedRunsText(accepted, later.id, due)).toBe('3 runs started (1 of this rule), the first of this rule due <2030-01-01T09:30:00.000Z>');
    expect(publishedRunsText(accepted, other.id, due)).toBe('3 runs started (1 of this rule), the first of this rule due <2030-01-01T09:01:00.000Z>');
    expect(publishedRunsText(accepted, sooner.id, due)).toBe('3 runs started (1 of this rule), the first of this rule due <2030-01-01T09:05:00.000Z>');
  });

  it('says when the runs are all this rule\'s, and when none is', async () => {
    const api = await openRulesApi();
    const sms = await api.call<Rule>('POST', '/rules', technicianSmsRule);
    const highValue = await api.call<Rule>('POST', '/rules', highValueJobRule);
    const accepted = await api.call<EventAccepted>('POST', '/events', { name: 'job.status.changed', payload: doneJobPayload, timestamp: '2030-01-01T09:00:00.000Z' });
    expect(publishedRunsText(accepted, sms.id, due)).toBe('1 run started, due <2030-01-01T09:05:00.000Z>');
    expect(publishedRunsText(accepted, highValue.id, due)).toBe('1 run started, none of this rule: it is disabled or runs on another event');
    const nothing = await api.call<EventAccepted>('POST', '/events', { name: 'job.deleted', payload: doneJobPayload });
    expect(publishedRunsText(nothing, sms.id, due)).toBe('no run started: no enabled rule of this account runs on this event');
  });
});
