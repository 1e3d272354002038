import { highValueJobRule, technicianSmsRule } from '@crm-automation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ValidateResult } from '../app/api/types.js';
import { formFieldPaths, type PathIssue } from '../app/model/form-fields.js';
import { fieldLabel, issuesForPeople, messageForPeople, placeOf } from '../app/model/issue-messages.js';
import type { JsonObject } from '../app/model/json.js';
import { emptyRuleForm, formToRule, ruleToForm, type RuleForm } from '../app/model/rule-form.js';
import { rulesApiAnswers } from './rules-api-answers.js';

let api: Awaited<ReturnType<typeof rulesApiAnswers>>;
beforeAll(async () => {
  api = await rulesApiAnswers();
});
afterAll(() => api.close());

/** What the editor shows for a form: the API's issues for its document, and the form's own. */
async function shownFor(form: RuleForm) {
  const { rule, issues: local } = formToRule(form);
  const answer = await api.call<ValidateResult>('POST', '/rules/validate', { rule });
  const issues: PathIssue[] = [...local, ...(answer.valid ? [] : answer.issues)];
  return { issues, ...issuesForPeople(issues, formFieldPaths(form), form.actions.map((a) => (a.kind === 'action' ? a.type : ''))) };
}

const messagesOf = (byField: ReadonlyMap<string, readonly PathIssue[]>) => Object.fromEntries([...byField].map(([field, list]) => [field, list.map((i) => i.message)]));

describe('validation messages for people', () => {
  it('say a new rule needs a name, an event and an action, one message per field', async () => {
    const { issues, byField, shown } = await shownFor(emptyRuleForm());
    // The validator reports the empty event name twice (too short, and not a name).
    expect(issues.filter((i) => i.path === 'trigger.eventName')).toHaveLength(2);
    expect(messagesOf(byField)).toEqual({
      name: ['Name is required'],
      'trigger.eventName': ['Event is required'],
      actions: ['A rule needs at least one action'],
    });
    expect(shown.map((i) => i.message)).toEqual(['Name is required', 'Event is required', 'A rule needs at least one action']);
  });

  it("name an action's fields as their labels do", async () => {
    const form = ruleToForm({
      ...technicianSmsRule,
      actions: [
        { type: 'sms', params: { recipient: '555-0100', message: '' } },
        { type: 'email', params: { recipient: { source: 'fact', fact: '', path: '$.client.email' }, subject: 'Hi', body: 'x' } },
      ],
    } as unknown as JsonObject);
    const { byField } = await shownFor(form);
    expect(messagesOf(byField)).toMatchObject({
      'actions[0].params.recipient': ['SMS recipient must be an E.164 number such as +15557654321'],
      'actions[0].params.message': ['Message must not be empty'],
      'actions[1].params.recipient.fact': ['Fact is required'],
    });
  });

  it('give limits in words: longest name, smallest wait, and a wait that is not a number', async () => {
    const long = ruleToForm({ ...highValueJobRule, name: 'x'.repeat(201), delay: { value: -1, unit: 'minutes' } } as unknown as JsonObject);
    expect(messagesOf((await shownFor(long)).byField)).toMatchObject({ name: ['Name must be 200 characters or fewer'], 'delay.value': ['Wait must be 0 or more'] });
    const typed = { ...ruleToForm(highValueJobRule as unknown as JsonObject), delayValue: 'soon' };
    expect(messagesOf((await shownFor(typed)).byField)).toMatchObject({ 'delay.value': ['Wait must be a number, like 5 (0 runs straight away)'] });
  });

  it('leave none of the validator\'s developer wording for a badly broken rule, and never two messages at one field', async () => {
    const broken = ruleToForm({
      ...highValueJobRule,
      name: '',
      trigger: { eventName: 'bad event name!' },
      conditions: { all: [{ fact: '', path: '$.', operator: 'bogus', value: 1 }, { fact: 'job', path: 'no-dollar', operator: 'equal', value: 1 }] },
      actions: [
        { type: 'email', params: { recipient: 'not-an-email', subject: '' } },
        { type: 'webhook', params: { url: 'ftp://nope', headers: { 'Bad Header': 'x' } } },
      ],
    } as unknown as JsonObject);
    const { shown, byField, unplaced } = await shownFor(broken);
    expect(unplaced).toEqual([]);
    for (const list of byField.values()) expect(list).toHaveLength(1);
    for (const issue of shown) {
      expect(issue.message, issue.path).not.toMatch(/Too (small|big):|Invalid input|expected (string|number)|>=|<=/);
      expect(issue.message.charAt(0), issue.path).toMatch(/[A-Z"]/);
    }
    expect(messagesOf(byField)).toMatchObject({ name: ['Name is required'], 'conditions.all[0].fact': ['Fact is required'] });
  });

  it('keep a "required" message over another one at the same field, whatever the order', () => {
    const issues = [
      { path: 'trigger.eventName', code: 'invalid_format', message: 'event name may use letters, digits and _ . : - /' },
      { path: 'trigger.eventName', code: 'too_small', message: 'Too small: expected string to have >=1 characters' },
    ];
    const { shown } = issuesForPeople(issues, new Set(['trigger.eventName']));
    expect(shown).toEqual([{ path: 'trigger.eventName', code: 'too_small', message: 'Event is required' }]);
  });

  it('rewrite the validator\'s type and choice messages', () => {
    const say = (code: string, message: string, path = 'delay.unit') => messageForPeople({ path, code, message }, fieldLabel(path));
    expect(say('invalid_value', 'Invalid option: expected one of "seconds"|"minutes"|"hours"|"days"')).toBe('Unit must be one of: seconds, minutes, hours, days');
    expect(say('invalid_type', 'Invalid input: expected string, received undefined', 'name')).toBe('Name is required');
    expect(say('invalid_type', 'Invalid input: expected number, received string', 'delay.value')).toBe('Wait must be a number');
    expect(say('custom', 'message must not be empty', 'actions[0].params.message')).toBe('Message must not be empty');
  });

  it('say where a field is when its label does not', () => {
    expect(placeOf('conditions.all[1].any[0].fact')).toBe('Condition 2.1');
    expect(placeOf('actions[0].params.recipient')).toBe('Action 1');
    expect(placeOf('name')).toBeNull();
    expect(placeOf('actions')).toBeNull();
    expect(fieldLabel('actions[1].params.recipient', ['sms', 'email'])).toBe('Email address');
    expect(fieldLabel('actions[0].params.recipient', ['sms'])).toBe('Phone number');
  });
});
