import { createAutomationEngine, createMemoryStore } from '@crm-automation/core';
import { describe, expect, it } from 'vitest';
import { highValueJobRule, technicianSmsRule } from '@crm-automation/testing';
import { describeFieldPath, fieldForPath, formFieldPaths, placeIssues } from '../app/model/form-fields.js';
import { fieldId, formatPath, parsePath } from '../app/model/issue-path.js';
import type { JsonObject } from '../app/model/json.js';
import { ruleToForm, type ActionForm } from '../app/model/rule-form.js';

const smsForm = () => ruleToForm(technicianSmsRule as unknown as JsonObject);
const hvForm = () => ruleToForm(highValueJobRule as unknown as JsonObject);

describe('issue paths', () => {
  it('parses and formats paths exactly like core', () => {
    for (const path of ['actions[1].params.url', 'conditions.all[0].any[2].operator', 'actions[0].params.headers["X-Token"]', 'conditions.not.value', 'name', 'x["a\\"b"]']) {
      const segments = parsePath(path);
      expect(segments).not.toBeNull();
      expect(formatPath(segments ?? [])).toBe(path);
    }
    expect(parsePath('actions[1].params.url')).toEqual(['actions', 1, 'params', 'url']);
    expect(parsePath('a..b')).toBeNull();
    expect(parsePath('[oops')).toBeNull();
  });

  it('makes ids that are unique per path and safe in selectors', () => {
    const a = fieldId('actions[0].params.headers["X-Token"]');
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(fieldId('a.b')).not.toBe(fieldId('a_b'));
  });

  it('places issues at the field their path names', () => {
    const form = hvForm();
    const paths = formFieldPaths(form);
    expect(fieldForPath('actions[1].params.url', paths)).toBe('actions[1].params.url');
    expect(fieldForPath('conditions.all[0].operator', paths)).toBe('conditions.all[0].operator');
    expect(fieldForPath('conditions.all[1].value', paths)).toBe('conditions.all[1].value');
    expect(fieldForPath('actions[0].params.recipient', paths)).toBe('actions[0].params.recipient');
    expect(fieldForPath('actions[0].params.body', paths)).toBe('actions[0].params.body');
    expect(fieldForPath('actions[1].params.payload.jobId', paths)).toBe('actions[1].params.payload.jobId');
    expect(fieldForPath('delay', paths)).toBe('delay.value');
    expect(fieldForPath('trigger', paths)).toBe('trigger.eventName');
    expect(fieldForPath('trigger.eventName', paths)).toBe('trigger.eventName');
  });

  it('falls back to the nearest enclosing field or section', () => {
    const paths = formFieldPaths(hvForm());
    expect(fieldForPath('conditions.all[0]', paths)).toBe('conditions.all[0]');
    expect(fieldForPath('conditions.all[0].params.x', paths)).toBe('conditions.all[0]');
    expect(fieldForPath('conditions.all[9].value', paths)).toBe('conditions');
    expect(fieldForPath('actions[7].params.url', paths)).toBe('actions');
    expect(fieldForPath('actions[0].params.unknownKey', paths)).toBe('actions[0]');
  });

  it('sends paths no field owns to the summary', () => {
    const issues = [
      { path: '', code: 'too_large', message: 'too big' },
      { path: 'accountId', code: 'account_mismatch', message: 'no' },
      { path: 'bogus path!', code: 'x', message: 'x' },
      { path: 'name', code: 'too_small', message: 'name is required' },
    ];
    const { byField, unplaced } = placeIssues(issues, formFieldPaths(hvForm()));
    expect(unplaced.map((i) => i.path)).toEqual(['', 'accountId', 'bogus path!']);
    expect([...byField.keys()]).toEqual(['name']);
  });

  it('follows recipients from a field, headers, and "not" groups', () => {
    const form = smsForm();
    const paths = formFieldPaths(form);
    expect(fieldForPath('actions[0].params.recipient.path', paths)).toBe('actions[0].params.recipient.path');
    expect(fieldForPath('actions[0].params.recipient.fact', paths)).toBe('actions[0].params.recipient.fact');
    const webhook = ruleToForm({
      ...highValueJobRule,
      conditions: { not: { fact: 'job', path: '$.x', operator: 'equal', value: 1 } },
      actions: [{ type: 'webhook', params: { url: 'https://x.test', headers: { 'X-Token': 'a' } } }],
    } as unknown as JsonObject);
    const wp = formFieldPaths(webhook);
    expect(fieldForPath('actions[0].params.headers["X-Token"]', wp)).toBe('actions[0].params.headers["X-Token"]');
    expect(fieldForPath('conditions.not.operator', wp)).toBe('conditions.not.operator');
    expect((webhook.actions[0] as ActionForm).headers[0]?.name).toBe('X-Token');
  });

  it('gives every issue the real validator reports for a broken rule a field', () => {
    const engine = createAutomationEngine({ store: createMemoryStore() });
    const broken = {
      ...highValueJobRule,
      name: '',
      trigger: { eventName: 'bad event name!' },
      delay: { value: -1, unit: 'weeks' },
      conditions: { all: [{ fact: 'job', path: '$.total', operator: 'bogus', value: 1 }, { fact: 'job', path: 'no-dollar', operator: 'equal', value: 1 }, { all: [], any: [] }] },
      actions: [
        { type: 'email', params: { recipient: 'not-an-email', subject: 'line\nbreak' } },
        { type: 'webhook', params: { url: 'ftp://nope', headers: { 'Bad Header': 'x' }, payload: { a: '{{#if}}' } } },
        { type: 'sms', params: { recipient: { source: 'fact', fact: '' }, message: '' } },
      ],
    };
    const result = engine.rules.validate(broken);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.length).toBeGreaterThan(8);
    const { byField, unplaced } = placeIssues(result.issues, formFieldPaths(ruleToForm(broken as unknown as JsonObject)));
    expect(unplaced).toEqual([]);
    // The most useful ones land on the exact field, not just the section.
    expect(byField.has('actions[0].params.recipient')).toBe(true);
    expect(byField.has('actions[1].params.url')).toBe(true);
    expect(byField.has('conditions.all[0].operator')).toBe(true);
    expect(byField.has('conditions.all[1].path')).toBe(true);
    expect(byField.has('trigger.eventName')).toBe(true);
  });

  it('names paths for people', () => {
    expect(describeFieldPath('conditions.all[1].any[0].value')).toBe('Condition 2.1 › value');
    expect(describeFieldPath('conditions.not.operator')).toBe('Condition 1 › operator');
    expect(describeFieldPath('actions[0].params.recipient')).toBe('Action 1 › recipient');
    expect(describeFieldPath('delay.value')).toBe('Delay');
    expect(describeFieldPath('trigger.eventName')).toBe('Event');
    expect(describeFieldPath('name')).toBe('Name');
    expect(describeFieldPath('accountId')).toBe('accountId');
    expect(describeFieldPath('')).toBe('The rule');
  });
});
