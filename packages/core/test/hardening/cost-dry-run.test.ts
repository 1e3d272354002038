import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel, type RuleInput } from '@crm-automation/core';

/*
 * A dry run renders each command through what a run checks before a gateway is called (the render
 * budget and the action type's command schema): what it shows as sendable, a run sends; what it shows
 * failing, a run fails with the same code.
 */

const nestedEach = (depth: number, body: string) => '{{#each job.items}}'.repeat(1) + '{{#each @root.job.items}}'.repeat(depth - 1) + body + '{{/each}}'.repeat(depth);
const items = (n: number) => Array.from({ length: n }, (_, i) => i);

type Action = RuleInput['actions'][number];
const sms = (message: string, recipient: string = '+15557654321'): Action => ({ type: 'sms', params: { recipient, message } });
const email = (subject: string, body: string): Action => ({ type: 'email', params: { recipient: 'a@example.com', subject, body } });
const webhook = (params: Record<string, unknown>): Action => ({ type: 'webhook', params: { url: 'https://example.com/hook', ...params } }) as Action;

const cases: Array<[string, 'sent' | 'fails', Action, Record<string, unknown>]> = [
  ['a plain SMS', 'sent', sms('Job {{job.number}} is done'), { job: { number: 'J-1' } }],
  ['an SMS that renders empty', 'fails', sms('{{job.none}}'), { job: {} }],
  ['an SMS longer than an SMS may be', 'fails', sms('{{job.text}}'), { job: { text: 'x'.repeat(2_000) } }],
  ['an SMS recipient that renders to no number', 'fails', sms('hi', '{{job.phone}}'), { job: { phone: 'not a number' } }],
  ['an SMS recipient that renders to a number', 'sent', sms('hi', '{{job.phone}}'), { job: { phone: '+15550001111' } }],
  ['an email subject that renders a line break', 'fails', email('{{job.subject}}', 'body'), { job: { subject: 'a\r\nBcc: x@example.com' } }],
  ['an email that renders', 'sent', email('Job {{job.number}}', '{{#each job.items}}{{this}} {{/each}}'), { job: { number: 1, items: items(5) } }],
  ['a webhook header that renders a line break', 'fails', webhook({ headers: { 'x-job': '{{job.id}}' } }), { job: { id: 'a\nb' } }],
  ['a webhook payload that renders', 'sent', webhook({ payload: { id: '{{job.id}}', list: ['{{#each job.items}}{{this}}{{/each}}'] } }), { job: { id: 7, items: items(3) } }],
  ['nested loops over the iteration budget', 'fails', sms(nestedEach(4, '{{this}}')), { job: { items: items(50) } }],
  ['a heavy loop body over the step budget', 'fails', email('s', `{{#each job.items}}${'{{#if job.zz}}{{/if}}'.repeat(200)}{{/each}}x`), { job: { items: items(100) } }],
  ['webhook payload strings over the output budget together', 'fails', webhook({ payload: Array.from({ length: 40 }, () => '{{job.big}}') }), { job: { big: 'y'.repeat(10_000) } }],
  ['a webhook path segment that renders ..', 'fails', webhook({ url: 'https://example.com/a/{{job.id}}/b' }), { job: { id: '..' } }],
];

describe('dry runs and runs agree on every command', () => {
  it.each(cases)('%s: %s in both', async (_label, expected, action, payload) => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const channels = { sms: createRecordingChannel(), email: createRecordingChannel(), webhook: createRecordingChannel() };
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels });
    const rule: RuleInput = { name: 'r', trigger: { eventName: 'e' }, conditions: { all: [{ fact: 'job', operator: 'notEqual', value: null }] }, actions: [action] };
    await engine.rules.create('acc', rule);

    const dry = await engine.rules.dryRun('acc', rule, { payload });
    if (!dry?.valid) throw new Error('the rule is valid');
    const [command] = dry.commands;

    await engine.ingest({ name: 'e', accountId: 'acc', payload });
    await engine.runDue();
    const [trigger] = (await engine.triggers.list('acc')).items;
    const outcome = trigger?.executionHistory.at(-1)?.actions?.[0];
    const sent = channels.sms.sent.length + channels.email.sent.length + channels.webhook.sent.length;

    expect(command?.error ? 'fails' : 'sent').toBe(expected);
    if (command?.error) {
      expect(command.error.code).toBe('CRM_ERR_RENDER');
      expect(outcome?.error?.code).toBe(command.error.code);
      expect(sent).toBe(0);
    } else {
      expect(outcome?.error).toBeUndefined();
      expect(sent).toBe(1);
      const delivered = [...channels.sms.sent, ...channels.email.sent, ...channels.webhook.sent][0];
      expect(delivered?.params).toEqual(command?.command?.params);
    }
  });
});
