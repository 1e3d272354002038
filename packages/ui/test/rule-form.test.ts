import { describe, expect, it } from 'vitest';
import { highValueJobRule, technicianSmsRule } from '@crm-automation/testing';
import { addChild, removeNode, setGroupMode, updateNode } from '../app/model/condition-tree.js';
import type { JsonObject, JsonValue } from '../app/model/json.js';
import { emptyCondition, emptyGroup, formToRule, ruleToForm, type ConditionForm, type GroupForm } from '../app/model/rule-form.js';

const roundTrip = (doc: JsonValue) => formToRule(ruleToForm(doc));

/** A rule using every part the form has: nested all/any/not, typed values, extras, every action kind. */
const kitchenSink: JsonObject = {
  name: 'Every shape the form knows',
  description: 'Used to prove the round trip',
  enabled: false,
  trigger: { eventName: 'job.updated' },
  delay: { value: 90, unit: 'seconds' },
  conditions: {
    any: [
      { fact: 'job', path: '$.status', operator: 'in', value: ['Done', 'Closed'] },
      { fact: 'job', path: '$.priority', operator: 'notIn', value: [1, 2, 3] },
      {
        all: [
          { fact: 'job', path: '$.total', operator: 'greaterThan', value: 10.5 },
          { fact: 'job', path: '$.vip', operator: 'equal', value: true, name: 'vip', priority: 2 },
          { not: { fact: 'job', path: '$.tags', operator: 'contains', value: 'test' } },
        ],
        name: 'big-and-vip',
      },
      { fact: 'job', path: '$.meta', operator: 'equal', value: { a: 1 } },
      { fact: 'account', operator: 'notEqual', value: null, params: { x: 1 } },
      { fact: 'job', path: "$['odd key']", operator: 'equal', value: '  spaced  ' },
      { fact: 'job', path: '$.empty', operator: 'in', value: [] },
    ],
  },
  actions: [
    { type: 'sms', params: { recipient: '+15550001111', message: 'Hello {{job.client.name}}' } },
    { type: 'email', params: { recipient: { source: 'fact', fact: 'job', path: '$.client.email' }, subject: 'Hi', body: 'Text', html: '<p>Hi</p>' } },
    {
      type: 'webhook',
      params: { url: 'https://example.test/hook', method: 'PUT', headers: { 'X-Token': 'abc', Accept: 'application/json' }, payload: { nested: { id: '{{job.id}}' }, list: [1, 2] } },
    },
    { type: 'webhook', params: { url: 'https://example.test/bare' } },
    { type: 'slack', params: { channel: '#ops', text: 'hi' } },
    { type: 'email', params: { recipient: { source: 'fact', fact: 'job' }, subject: 'S', templateId: 't-1' } },
  ],
  accountId: 'acc_12345',
};

describe('rule document ↔ form', () => {
  it('keeps the design doc rules exactly', () => {
    for (const rule of [technicianSmsRule, highValueJobRule]) {
      const result = roundTrip(rule as unknown as JsonObject);
      expect(result.issues).toEqual([]);
      expect(result.rule).toEqual(rule);
    }
  });

  it('keeps every shape the form knows, extras included', () => {
    const result = roundTrip(kitchenSink);
    expect(result.issues).toEqual([]);
    expect(result.rule).toEqual(kitchenSink);
  });

  it('reads the design doc rule into the fields a person sees', () => {
    const form = ruleToForm(technicianSmsRule as unknown as JsonObject);
    expect(form.eventName).toBe('job.status.changed');
    expect([form.delayValue, form.delayUnit]).toEqual(['5', 'minutes']);
    const root = form.conditions as GroupForm;
    expect(root.mode).toBe('all');
    const [status, phone] = root.children as ConditionForm[];
    expect(status).toMatchObject({ fact: 'job', path: '$.status', operator: 'equal', valueKind: 'string', valueText: 'Done' });
    expect(phone).toMatchObject({ operator: 'notEqual', valueKind: 'null' });
    const sms = form.actions[0];
    expect(sms).toMatchObject({ kind: 'action', type: 'sms', recipientMode: 'fact', recipientFact: 'job', recipientPath: '$.assignedTechnician.phone' });
  });

  it('keeps what the form cannot show as JSON, and gives it back unchanged', () => {
    const odd: JsonObject = {
      name: 'odd',
      enabled: true,
      trigger: { eventName: 'x' },
      delay: { value: 0, unit: 'minutes' },
      conditions: { all: [{ condition: 'shared' }, { all: 'not-a-list' }, 42] },
      actions: ['not an action', { type: 'sms', params: 'nope' }],
    };
    const form = ruleToForm(odd);
    expect((form.conditions as GroupForm).children.map((c) => c.kind)).toEqual(['raw', 'raw', 'raw']);
    expect(form.actions.map((a) => a.kind)).toEqual(['raw', 'raw']);
    expect(formToRule(form).rule).toEqual(odd);
  });

  it('never throws on documents that are not rules', () => {
    for (const doc of [null, 42, 'x', [], {}, { conditions: 5, actions: 'x', trigger: 'y', delay: [] }, { conditions: { fact: 'job', operator: 'equal', value: 1 } }]) {
      const form = ruleToForm(doc as JsonValue);
      expect(() => formToRule(form)).not.toThrow();
    }
    // A single condition at the root is not a group: it stays JSON rather than being rewritten.
    const leafRoot = { fact: 'job', operator: 'equal', value: 1 };
    expect(formToRule(ruleToForm({ conditions: leafRoot })).rule['conditions']).toEqual(leafRoot);
  });

  it('reports what the user typed wrong at the path the API would use', () => {
    const form = ruleToForm(technicianSmsRule as unknown as JsonObject);
    const root = form.conditions as GroupForm;
    const first = root.children[0] as ConditionForm;
    const edited = {
      ...form,
      delayValue: 'soon',
      conditions: updateNode(root, first.key, (n) => ({ ...(n as ConditionForm), valueKind: 'number', valueText: 'abc' })),
    };
    const { rule, issues } = formToRule(edited);
    expect(issues.map((i) => i.path)).toEqual(['delay.value', 'conditions.all[0].value']);
    // The document still shows what was typed, so the JSON view does not lose it.
    expect((rule['delay'] as JsonObject)['value']).toBe('soon');
  });

  it('types values: numbers, booleans, null, lists of numbers, JSON', () => {
    const c = (patch: Partial<ConditionForm>) => ({ ...emptyCondition(), ...patch });
    const form = { ...ruleToForm({}), conditions: emptyGroup('all', [
      c({ valueKind: 'number', valueText: ' 2000 ' }),
      c({ valueKind: 'boolean', valueBool: false }),
      c({ valueKind: 'null' }),
      c({ operator: 'in', valueKind: 'list', listItemKind: 'number', valueText: '1\n 2 \n\n3' }),
      c({ operator: 'in', valueKind: 'list', valueText: 'Done\nClosed\n' }),
      c({ valueKind: 'json', valueText: '{"a": [1]}' }),
      c({ valueKind: 'json', valueText: '{broken' }),
    ]) };
    const { rule, issues } = formToRule(form);
    const values = ((rule['conditions'] as JsonObject)['all'] as JsonObject[]).map((x) => x['value']);
    expect(values).toEqual([2000, false, null, [1, 2, 3], ['Done', 'Closed'], { a: [1] }, '{broken']);
    expect(issues).toEqual([expect.objectContaining({ path: 'conditions.all[6].value', code: 'invalid_json' })]);
  });
});

describe('condition tree edits', () => {
  it('adds, updates and removes nodes by key anywhere in the tree', () => {
    const inner = emptyGroup('any', [emptyCondition()]);
    let root: GroupForm = emptyGroup('all', [emptyCondition(), inner]);
    const added = emptyCondition('job', '$.x');
    root = addChild(root, inner.key, added);
    expect((root.children[1] as GroupForm).children).toHaveLength(2);
    root = updateNode(root, added.key, (n) => ({ ...(n as ConditionForm), valueText: 'y' }));
    expect(((root.children[1] as GroupForm).children[1] as ConditionForm).valueText).toBe('y');
    root = removeNode(root, added.key);
    expect((root.children[1] as GroupForm).children).toHaveLength(1);
    root = removeNode(root, inner.key);
    expect(root.children).toHaveLength(1);
  });

  it('turns a group into "not" without losing conditions, and back', () => {
    const a = emptyCondition();
    const b = emptyCondition();
    const negated = setGroupMode(emptyGroup('all', [a, b]), 'not');
    expect(negated.children).toHaveLength(1);
    const wrapped = negated.children[0] as GroupForm;
    expect(wrapped.mode).toBe('all');
    expect(wrapped.children).toEqual([a, b]);
    expect(setGroupMode(negated, 'any').children).toEqual([wrapped]);
    expect(setGroupMode(emptyGroup('all', []), 'not').children[0]?.kind).toBe('condition');
    const doc = formToRule({ ...ruleToForm({}), conditions: negated }).rule['conditions'] as JsonObject;
    expect(Object.keys(doc)).toEqual(['not']);
  });
});
