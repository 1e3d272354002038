// The form model stays one file: a document read into the form (ruleToForm) and the form written back
// (formToRule) mirror each other part by part, so a change to one direction is made next to the other.
import type { MessageCategory } from '../api/types.js';
import { DELAY_UNITS, type DelayUnit } from './delay-units.js';
import { emptyEntityForm, entityToDoc, entityToForm, type EntityForm } from './entity-form.js';
import { isJsonObject, parseJson, prettyJson, type JsonObject, type JsonValue } from './json.js';
import { childPath } from './issue-path.js';
import { emptyScheduleForm, scheduleToDoc, scheduleToForm, type ScheduleForm, type TimingMode } from './schedule-form.js';
import { valueKindsFor, type ValueKind } from './operators.js';

export { DELAY_UNITS, type DelayUnit };

/**
 * The editor's model of a rule: what the form shows, field by field. `ruleToForm` and `formToRule`
 * convert between it and the rule document the API takes; a well-typed document survives the round
 * trip unchanged, and keys the form has no field for are carried along in `extra`.
 */

export type ListItemKind = 'string' | 'number';

export interface ConditionForm {
  kind: 'condition';
  key: string;
  fact: string;
  /** JSONPath inside the fact; empty means none. */
  path: string;
  operator: string;
  valueKind: ValueKind;
  /** The value as typed: text, a number, list items one per line, or JSON. */
  valueText: string;
  valueBool: boolean;
  listItemKind: ListItemKind;
  extra: JsonObject;
}

export type GroupMode = 'all' | 'any' | 'not';

export interface GroupForm {
  kind: 'group';
  key: string;
  mode: GroupMode;
  /** Exactly one child when `mode` is `not`. */
  children: NodeForm[];
  extra: JsonObject;
}

/** A part of the conditions the form cannot show field by field; edited as JSON. */
export interface RawNodeForm {
  kind: 'raw';
  key: string;
  text: string;
}

export type NodeForm = ConditionForm | GroupForm | RawNodeForm;

export interface KeyValueRow {
  key: string;
  name: string;
  value: string;
}

export type RecipientMode = 'literal' | 'fact';

export interface ActionForm {
  kind: 'action';
  key: string;
  /** sms, email, webhook, or a custom type whose params are edited as JSON. */
  type: string;
  /** What the message is for, as the contact policy reads it; '' leaves it out (the engine then takes `marketing`). */
  category: '' | MessageCategory;
  recipientMode: RecipientMode;
  recipientLiteral: string;
  recipientFact: string;
  recipientPath: string;
  message: string;
  subject: string;
  body: string;
  html: string;
  templateId: string;
  url: string;
  /** Empty means the gateway's default (POST). */
  method: string;
  headers: KeyValueRow[];
  /** `fields`: a flat object of templates; `json`: any JSON. */
  payloadMode: 'fields' | 'json';
  payloadFields: KeyValueRow[];
  payloadText: string;
  /** Params of a custom action type, as JSON. */
  paramsText: string;
  extraParams: JsonObject;
  extra: JsonObject;
}

/** An action the form cannot show field by field; edited as JSON. */
export interface RawActionForm {
  kind: 'raw';
  key: string;
  text: string;
}

export type ActionEntry = ActionForm | RawActionForm;

export interface RuleForm {
  name: string;
  description: string;
  enabled: boolean;
  eventName: string;
  /** A fixed wait from the event (`delay`), or a time relative to a date in the event (`schedule`). */
  timing: TimingMode;
  delayValue: string;
  delayUnit: DelayUnit;
  /** Kept while `timing` is `delay` too, so switching back and forth loses nothing. */
  schedule: ScheduleForm;
  conditions: GroupForm | RawNodeForm;
  actions: ActionEntry[];
  /** Entity key, cancel events, concurrency and evaluation (entity-form.ts). */
  entity: EntityForm;
  /** Keys of `trigger` the form has no field for. */
  triggerExtra: JsonObject;
  extra: JsonObject;
}

/** A problem the form finds before the API is asked (a number that is not one, broken JSON). */
export interface FormIssue {
  path: string;
  code: string;
  message: string;
}

let keyCounter = 0;
/** Stable keys for list rendering; never part of the document. */
export function newKey(prefix = 'k'): string {
  keyCounter += 1;
  return `${prefix}${keyCounter}`;
}

const BUILT_IN_ACTIONS = ['sms', 'email', 'webhook'] as const;
export type BuiltInActionType = (typeof BUILT_IN_ACTIONS)[number];
export function isBuiltInAction(type: string): type is BuiltInActionType {
  return (BUILT_IN_ACTIONS as readonly string[]).includes(type);
}

const ACTION_PARAM_KEYS: Record<BuiltInActionType, readonly string[]> = {
  sms: ['recipient', 'message'],
  email: ['recipient', 'subject', 'body', 'html', 'templateId'],
  webhook: ['url', 'method', 'headers', 'payload'],
};

// ---------------------------------------------------------------------------------------------
// Empty parts, for "add" buttons

export function emptyCondition(fact = 'job', path = '$.'): ConditionForm {
  return { kind: 'condition', key: newKey('c'), fact, path, operator: 'equal', valueKind: 'string', valueText: '', valueBool: true, listItemKind: 'string', extra: {} };
}

export function emptyGroup(mode: GroupMode = 'all', children: NodeForm[] = []): GroupForm {
  return { kind: 'group', key: newKey('g'), mode, children, extra: {} };
}

export function emptyAction(type: string): ActionForm {
  return {
    kind: 'action',
    key: newKey('a'),
    type,
    category: '',
    recipientMode: 'literal',
    recipientLiteral: '',
    recipientFact: 'job',
    recipientPath: '$.',
    message: '',
    subject: '',
    body: '',
    html: '',
    templateId: '',
    url: '',
    method: '',
    headers: [],
    payloadMode: 'fields',
    payloadFields: [],
    payloadText: '{}',
    paramsText: '{}',
    extraParams: {},
    extra: {},
  };
}

export function emptyRuleForm(eventName = ''): RuleForm {
  return {
    name: '',
    description: '',
    enabled: true,
    eventName,
    timing: 'delay',
    delayValue: '0',
    delayUnit: 'minutes',
    schedule: emptyScheduleForm(),
    conditions: emptyGroup('all', []),
    actions: [],
    entity: emptyEntityForm(),
    triggerExtra: {},
    extra: {},
  };
}

// ---------------------------------------------------------------------------------------------
// Document -> form

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function pick(source: JsonObject, known: readonly string[]): JsonObject {
  const extra: JsonObject = {};
  for (const [k, v] of Object.entries(source)) if (!known.includes(k)) extra[k] = v;
  return extra;
}

function isFlatStringMap(value: unknown): value is Record<string, string> {
  return isJsonObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

function rows(map: Record<string, string>): KeyValueRow[] {
  return Object.entries(map).map(([name, value]) => ({ key: newKey('r'), name, value }));
}

/** A condition value as the form types it. */
export function valueToForm(value: JsonValue | undefined): Pick<ConditionForm, 'valueKind' | 'valueText' | 'valueBool' | 'listItemKind'> {
  const base = { valueText: '', valueBool: true, listItemKind: 'string' as ListItemKind };
  if (value === undefined) return { ...base, valueKind: 'json' };
  if (value === null) return { ...base, valueKind: 'null' };
  if (typeof value === 'boolean') return { ...base, valueKind: 'boolean', valueBool: value };
  if (typeof value === 'number') return { ...base, valueKind: 'number', valueText: String(value) };
  if (typeof value === 'string') return { ...base, valueKind: 'string', valueText: value };
  if (Array.isArray(value)) {
    // One item per line, so only items that survive that (no line breaks, no edge spaces, not empty).
    if (value.every((v) => typeof v === 'string' && v !== '' && v.trim() === v && !/[\r\n]/.test(v))) {
      return { ...base, valueKind: 'list', valueText: value.join('\n') };
    }
    if (value.length > 0 && value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      return { ...base, valueKind: 'list', listItemKind: 'number', valueText: value.join('\n') };
    }
  }
  return { ...base, valueKind: 'json', valueText: prettyJson(value) };
}

function nodeToForm(node: JsonValue | undefined): NodeForm {
  if (isJsonObject(node)) {
    const kinds = (['all', 'any', 'not'] as const).filter((k) => k in node);
    if (kinds.length === 1 && !('condition' in node) && !('fact' in node)) {
      const mode = kinds[0] as GroupMode;
      const inner = node[mode];
      const extra = pick(node, [mode]);
      if (mode === 'not' && inner !== undefined && !Array.isArray(inner)) {
        return { kind: 'group', key: newKey('g'), mode, children: [nodeToForm(inner)], extra };
      }
      if (mode !== 'not' && Array.isArray(inner)) {
        return { kind: 'group', key: newKey('g'), mode, children: inner.map((c) => nodeToForm(c)), extra };
      }
    }
    if (kinds.length === 0 && typeof node['fact'] === 'string' && typeof node['operator'] === 'string' && (node['path'] === undefined || typeof node['path'] === 'string')) {
      return {
        kind: 'condition',
        key: newKey('c'),
        fact: node['fact'],
        path: typeof node['path'] === 'string' ? node['path'] : '',
        operator: node['operator'],
        ...valueToForm(node['value']),
        extra: pick(node, ['fact', 'path', 'operator', 'value']),
      };
    }
  }
  return { kind: 'raw', key: newKey('n'), text: prettyJson(node ?? null) };
}

function actionToForm(action: JsonValue): ActionEntry {
  if (!isJsonObject(action) || typeof action['type'] !== 'string' || !isJsonObject(action['params'])) {
    return { kind: 'raw', key: newKey('a'), text: prettyJson(action) };
  }
  const type = action['type'];
  const params = action['params'];
  const form = emptyAction(type);
  const category = action['category'];
  // Any other value stays in `extra`, sent back as it was for the API to refuse by its path.
  if (category === 'transactional' || category === 'marketing') form.category = category;
  form.extra = pick(action, form.category === '' ? ['type', 'params'] : ['type', 'category', 'params']);
  if (!isBuiltInAction(type)) {
    form.paramsText = prettyJson(params);
    return form;
  }
  const known = [...ACTION_PARAM_KEYS[type]];
  if (type === 'sms' || type === 'email') {
    const recipient = params['recipient'];
    if (isJsonObject(recipient) && recipient['source'] === 'fact' && Object.keys(recipient).every((k) => ['source', 'fact', 'path'].includes(k))) {
      form.recipientMode = 'fact';
      form.recipientFact = text(recipient['fact']);
      form.recipientPath = text(recipient['path']);
    } else {
      form.recipientLiteral = text(recipient);
    }
    form.message = text(params['message']);
    form.subject = text(params['subject']);
    form.body = text(params['body']);
    form.html = text(params['html']);
    form.templateId = text(params['templateId']);
  } else {
    form.url = text(params['url']);
    form.method = text(params['method']);
    const headers = params['headers'];
    if (isFlatStringMap(headers)) form.headers = rows(headers);
    else if (headers !== undefined) known.splice(known.indexOf('headers'), 1);
    const payload = params['payload'];
    if (payload === undefined || (isFlatStringMap(payload) && Object.keys(payload).length > 0)) {
      form.payloadMode = 'fields';
      form.payloadFields = payload === undefined ? [] : rows(payload);
    } else {
      form.payloadMode = 'json';
      form.payloadText = prettyJson(payload);
    }
  }
  form.extraParams = pick(params, known);
  return form;
}

/** Reads any rule document (even a broken one) into the form; never throws. */
export function ruleToForm(doc: JsonValue): RuleForm {
  const rule = isJsonObject(doc) ? doc : {};
  const trigger = isJsonObject(rule['trigger']) ? rule['trigger'] : {};
  const delay = isJsonObject(rule['delay']) ? rule['delay'] : {};
  const unit = delay['unit'];
  const conditions = nodeToForm(rule['conditions'] ?? { all: [] });
  const actions = Array.isArray(rule['actions']) ? rule['actions'] : [];
  const entity = entityToForm(rule, trigger);
  return {
    name: text(rule['name']),
    description: text(rule['description']),
    enabled: rule['enabled'] !== false,
    eventName: text(trigger['eventName']),
    delayValue: delay['value'] === undefined ? '0' : text(delay['value']),
    delayUnit: typeof unit === 'string' && (DELAY_UNITS as readonly string[]).includes(unit) ? (unit as DelayUnit) : 'minutes',
    timing: rule['schedule'] === undefined ? 'delay' : 'schedule',
    schedule: rule['schedule'] === undefined ? emptyScheduleForm() : scheduleToForm(rule['schedule']),
    conditions: conditions.kind === 'condition' ? { kind: 'raw', key: newKey('n'), text: prettyJson(rule['conditions'] ?? null) } : conditions,
    actions: actions.map((a) => actionToForm(a)),
    entity: entity.form,
    triggerExtra: entity.triggerExtra,
    extra: pick(rule, ['name', 'description', 'enabled', 'trigger', 'delay', 'schedule', 'conditions', 'actions', ...entity.read]),
  };
}

// ---------------------------------------------------------------------------------------------
// Form -> document

class IssueSink {
  readonly issues: FormIssue[] = [];
  add(path: string, code: string, message: string): void {
    this.issues.push({ path, code, message });
  }
  /** Parses JSON text typed into a field; on failure records an issue and returns the text itself. */
  json(path: string, source: string): JsonValue {
    const parsed = parseJson(source);
    if (parsed.ok) return parsed.value;
    this.add(path, 'invalid_json', `This is not valid JSON: ${parsed.message}`);
    return source;
  }
}

function parseNumber(raw: string): number | null {
  const trimmed = raw.trim();
  if (trimmed === '') return null;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : null;
}

/** A condition value as the document holds it; `undefined` means "no value". */
function formToValue(c: Pick<ConditionForm, 'valueKind' | 'valueText' | 'valueBool' | 'listItemKind'>, path: string, sink: IssueSink): JsonValue | undefined {
  switch (c.valueKind) {
    case 'null':
      return null;
    case 'boolean':
      return c.valueBool;
    case 'string':
      return c.valueText;
    case 'number': {
      const n = parseNumber(c.valueText);
      if (n === null) {
        sink.add(path, 'invalid_number', 'Value must be a number, like 2000');
        return c.valueText;
      }
      return n;
    }
    case 'list': {
      const items = c.valueText.split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== '');
      if (c.listItemKind === 'string') return items;
      return items.map((item) => {
        const n = parseNumber(item);
        if (n === null) sink.add(path, 'invalid_number', `Values must be numbers, one per line: "${item}" is not one`);
        return n ?? item;
      });
    }
    case 'json':
      return c.valueText.trim() === '' ? undefined : sink.json(path, c.valueText);
  }
}

function nodeToDoc(node: NodeForm, path: string, sink: IssueSink): JsonValue {
  if (node.kind === 'raw') return sink.json(path, node.text);
  if (node.kind === 'group') {
    if (node.mode === 'not') {
      const only = node.children[0];
      return { not: only ? nodeToDoc(only, childPath(path, 'not'), sink) : null, ...node.extra };
    }
    const listPath = childPath(path, node.mode);
    return { [node.mode]: node.children.map((c, i) => nodeToDoc(c, childPath(listPath, i), sink)), ...node.extra };
  }
  const doc: JsonObject = { fact: node.fact };
  if (node.path !== '') doc['path'] = node.path;
  doc['operator'] = node.operator;
  const value = formToValue(node, childPath(path, 'value'), sink);
  if (value !== undefined) doc['value'] = value;
  return { ...doc, ...node.extra };
}

function mapOf(list: readonly KeyValueRow[]): JsonObject {
  const out: JsonObject = {};
  for (const row of list) if (row.name !== '' || row.value !== '') out[row.name] = row.value;
  return out;
}

function actionToDoc(action: ActionEntry, path: string, sink: IssueSink): JsonValue {
  if (action.kind === 'raw') return sink.json(path, action.text);
  const paramsPath = childPath(path, 'params');
  let params: JsonValue;
  if (!isBuiltInAction(action.type)) {
    params = sink.json(paramsPath, action.paramsText);
  } else {
    const p: JsonObject = {};
    if (action.type === 'sms' || action.type === 'email') {
      if (action.recipientMode === 'fact') {
        const ref: JsonObject = { source: 'fact', fact: action.recipientFact };
        if (action.recipientPath !== '') ref['path'] = action.recipientPath;
        p['recipient'] = ref;
      } else {
        p['recipient'] = action.recipientLiteral;
      }
    }
    if (action.type === 'sms') p['message'] = action.message;
    if (action.type === 'email') {
      p['subject'] = action.subject;
      if (action.body !== '') p['body'] = action.body;
      if (action.html !== '') p['html'] = action.html;
      if (action.templateId !== '') p['templateId'] = action.templateId;
    }
    if (action.type === 'webhook') {
      p['url'] = action.url;
      if (action.method !== '') p['method'] = action.method;
      if (action.headers.length > 0) p['headers'] = mapOf(action.headers);
      if (action.payloadMode === 'json') p['payload'] = sink.json(childPath(paramsPath, 'payload'), action.payloadText);
      else if (action.payloadFields.length > 0) p['payload'] = mapOf(action.payloadFields);
    }
    params = { ...p, ...action.extraParams };
  }
  return { type: action.type, ...(action.category === '' ? {} : { category: action.category }), params, ...action.extra };
}

/** The rule document the form describes, and the problems found on the way. */
export function formToRule(form: RuleForm): { rule: JsonObject; issues: FormIssue[] } {
  const sink = new IssueSink();
  const rule: JsonObject = { name: form.name };
  if (form.description !== '') rule['description'] = form.description;
  rule['enabled'] = form.enabled;
  const entity = entityToDoc(form.entity, sink);
  rule['trigger'] = { eventName: form.eventName, ...(entity.key === undefined ? {} : { key: entity.key }), ...form.triggerExtra };
  const delay = parseNumber(form.delayValue);
  if (form.timing === 'schedule') {
    // A stored scheduled rule comes back with a zero delay, which the API refuses next to a schedule;
    // any other delay is kept, for the API to report the two together.
    if (delay !== 0) rule['delay'] = { value: delay ?? form.delayValue, unit: form.delayUnit };
    rule['schedule'] = scheduleToDoc(form.schedule, sink);
  } else {
    if (delay === null) sink.add('delay.value', 'invalid_number', 'Wait must be a number, like 5 (0 runs straight away)');
    rule['delay'] = { value: delay ?? form.delayValue, unit: form.delayUnit };
  }
  rule['conditions'] = nodeToDoc(form.conditions, 'conditions', sink);
  rule['actions'] = form.actions.map((a, i) => actionToDoc(a, childPath('actions', i), sink));
  return { rule: { ...rule, ...entity.fields, ...form.extra }, issues: sink.issues };
}

/** Makes a condition's value kind fit its (new) operator, keeping what was typed where it can. */
export function fitValueToOperator(condition: ConditionForm): ConditionForm {
  const kinds = valueKindsFor(condition.operator);
  const preferred = kinds[0] ?? 'string';
  // Nothing typed yet: take the operator's natural kind (a number for greaterThanInclusive).
  const untouched = condition.valueText.trim() === '' && condition.valueKind === 'string';
  if (kinds.includes(condition.valueKind) && !untouched) return condition;
  return { ...condition, valueKind: preferred };
}
