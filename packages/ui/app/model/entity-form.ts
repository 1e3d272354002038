// The entity part of the form: what a rule's runs are about (`trigger.key`), which events cancel them
// (`cancelOn`), what a new event does while one is pending (`concurrency`) and which facts are read at
// fire time (`evaluate`). Read and written here both ways, like rule-form.ts does for the rest.
import { isDelayUnit, type DelayUnit } from './delay-units.js';
import { childPath } from './issue-path.js';
import { isJsonObject, prettyJson, type JsonObject, type JsonValue } from './json.js';

export type ConcurrencyMode = 'all' | 'supersede' | 'skipIfPending';
export const CONCURRENCY_MODES: readonly ConcurrencyMode[] = ['all', 'supersede', 'skipIfPending'];

export type FactEvaluation = 'event' | 'current';

/** One `cancelOn` entry: the event, its optional conditions (JSON) and where it carries the key. */
export interface CancelOnForm {
  key: string;
  eventName: string;
  /** The entry's conditions as JSON; empty means none (every such event cancels). */
  conditionsText: string;
  /** JSONPath of the entity key in the cancelling event; empty means the rule's own key. */
  entityPath: string;
  extra: JsonObject;
}

/** `evaluate`: absent, one mode for every fact, or a mode per fact. */
export type EvaluateMode = '' | FactEvaluation | 'perFact';

export interface EvaluateRow {
  key: string;
  fact: string;
  mode: FactEvaluation;
}

export interface EntityForm {
  /** `trigger.key`: JSONPath of the entity in the payload; empty means an unkeyed rule. */
  entityKey: string;
  cancelOn: CancelOnForm[];
  /** Empty means no `concurrency` in the document (the engine's default, `all`). */
  concurrencyMode: '' | ConcurrencyMode;
  /** `supersede` only; empty means no `maxWait`. */
  maxWaitValue: string;
  maxWaitUnit: DelayUnit;
  evaluateMode: EvaluateMode;
  evaluateFacts: EvaluateRow[];
}

/** Where problems found while writing the document go (rule-form.ts's sink). */
export interface EntityIssueSink {
  add(path: string, code: string, message: string): void;
  json(path: string, source: string): JsonValue;
}

let keyCounter = 0;
const newKey = (prefix: string) => `${prefix}${(keyCounter += 1)}`;

export function emptyEntityForm(): EntityForm {
  return { entityKey: '', cancelOn: [], concurrencyMode: '', maxWaitValue: '', maxWaitUnit: 'minutes', evaluateMode: '', evaluateFacts: [] };
}

export function emptyCancelOn(eventName = ''): CancelOnForm {
  return { key: newKey('x'), eventName, conditionsText: '', entityPath: '', extra: {} };
}

export function emptyEvaluateRow(fact = ''): EvaluateRow {
  return { key: newKey('v'), fact, mode: 'current' };
}

const isEvaluation = (value: unknown): value is FactEvaluation => value === 'event' || value === 'current';
const onlyKeys = (value: JsonObject, known: readonly string[]) => Object.keys(value).every((k) => known.includes(k));

function cancelOnToForm(value: JsonValue | undefined): CancelOnForm[] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const entries: CancelOnForm[] = [];
  for (const entry of value) {
    if (!isJsonObject(entry) || typeof entry['eventName'] !== 'string') return null;
    const { eventName, conditions, key, ...extra } = entry;
    if (conditions !== undefined && !isJsonObject(conditions)) return null;
    if (key !== undefined && typeof key !== 'string') return null;
    entries.push({ key: newKey('x'), eventName, conditionsText: conditions === undefined ? '' : prettyJson(conditions), entityPath: key ?? '', extra });
  }
  return entries;
}

function concurrencyToForm(value: JsonValue | undefined): Pick<EntityForm, 'concurrencyMode' | 'maxWaitValue' | 'maxWaitUnit'> | null {
  if (!isJsonObject(value) || !onlyKeys(value, ['mode', 'maxWait'])) return null;
  const { mode, maxWait } = value;
  if (typeof mode !== 'string' || !(CONCURRENCY_MODES as readonly string[]).includes(mode)) return null;
  if (maxWait === undefined) return { concurrencyMode: mode as ConcurrencyMode, maxWaitValue: '', maxWaitUnit: 'minutes' };
  if (!isJsonObject(maxWait) || !onlyKeys(maxWait, ['value', 'unit']) || typeof maxWait['value'] !== 'number' || !isDelayUnit(maxWait['unit'])) return null;
  return { concurrencyMode: mode as ConcurrencyMode, maxWaitValue: String(maxWait['value']), maxWaitUnit: maxWait['unit'] };
}

function evaluateToForm(value: JsonValue | undefined): Pick<EntityForm, 'evaluateMode' | 'evaluateFacts'> | null {
  if (isEvaluation(value)) return { evaluateMode: value, evaluateFacts: [] };
  if (!isJsonObject(value) || !Object.values(value).every(isEvaluation)) return null;
  return { evaluateMode: 'perFact', evaluateFacts: Object.entries(value).map(([fact, mode]) => ({ key: newKey('v'), fact, mode: mode as FactEvaluation })) };
}

/**
 * Reads the entity fields of a rule document. Parts the form cannot show field by field (a malformed
 * `concurrency`, an empty `cancelOn`) are answered in `unread`, for the caller to carry as they are.
 */
export function entityToForm(rule: JsonObject, trigger: JsonObject): { form: EntityForm; read: string[]; triggerExtra: JsonObject } {
  const form = emptyEntityForm();
  const read: string[] = [];
  const { eventName: _eventName, key, ...triggerExtra } = trigger;
  if (typeof key === 'string') form.entityKey = key;
  else if (key !== undefined) triggerExtra['key'] = key;
  const cancelOn = cancelOnToForm(rule['cancelOn']);
  if (cancelOn) {
    form.cancelOn = cancelOn;
    read.push('cancelOn');
  }
  const concurrency = concurrencyToForm(rule['concurrency']);
  if (concurrency) {
    Object.assign(form, concurrency);
    read.push('concurrency');
  }
  const evaluate = evaluateToForm(rule['evaluate']);
  if (evaluate) {
    Object.assign(form, evaluate);
    read.push('evaluate');
  }
  return { form, read, triggerExtra };
}

function parseNumber(raw: string): number | null {
  const trimmed = raw.trim();
  if (trimmed === '') return null;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : null;
}

/** The entity fields as the document holds them (only those set), and `trigger.key`. */
export function entityToDoc(form: EntityForm, sink: EntityIssueSink): { key?: string; fields: JsonObject } {
  const fields: JsonObject = {};
  if (form.cancelOn.length > 0) {
    fields['cancelOn'] = form.cancelOn.map((entry, i) => {
      const path = childPath('cancelOn', i);
      const doc: JsonObject = { eventName: entry.eventName };
      if (entry.conditionsText.trim() !== '') doc['conditions'] = sink.json(childPath(path, 'conditions'), entry.conditionsText);
      if (entry.entityPath !== '') doc['key'] = entry.entityPath;
      return { ...doc, ...entry.extra };
    });
  }
  if (form.concurrencyMode !== '') {
    const concurrency: JsonObject = { mode: form.concurrencyMode };
    // maxWait belongs to supersede; a value left over from another mode is not written.
    if (form.concurrencyMode === 'supersede' && form.maxWaitValue.trim() !== '') {
      const value = parseNumber(form.maxWaitValue);
      if (value === null) sink.add('concurrency.maxWait.value', 'invalid_number', 'Longest wait must be a number, like 15');
      concurrency['maxWait'] = { value: value ?? form.maxWaitValue, unit: form.maxWaitUnit };
    }
    fields['concurrency'] = concurrency;
  }
  if (form.evaluateMode === 'event' || form.evaluateMode === 'current') fields['evaluate'] = form.evaluateMode;
  if (form.evaluateMode === 'perFact') {
    const perFact: JsonObject = {};
    form.evaluateFacts.forEach((row, i) => {
      if (row.fact === '') sink.add(childPath(childPath('evaluate', i), 'fact'), 'required', 'Fact is required');
      else if (row.fact in perFact) sink.add(childPath('evaluate', row.fact), 'duplicate_fact', `The fact "${row.fact}" is listed twice`);
      else perFact[row.fact] = row.mode;
    });
    fields['evaluate'] = perFact;
  }
  return { ...(form.entityKey === '' ? {} : { key: form.entityKey }), fields };
}

/** The form paths of the entity fields, named like the API's issue paths. */
export function entityFieldPaths(form: EntityForm, out: Set<string>): void {
  for (const path of ['trigger.key', 'cancelOn', 'concurrency.mode', 'concurrency.maxWait', 'concurrency.maxWait.value', 'concurrency.maxWait.unit', 'evaluate']) out.add(path);
  form.cancelOn.forEach((_, i) => {
    const path = childPath('cancelOn', i);
    for (const part of ['eventName', 'conditions', 'key']) out.add(childPath(path, part));
    out.add(path);
  });
  if (form.evaluateMode === 'perFact') {
    form.evaluateFacts.forEach((row, i) => {
      out.add(childPath(childPath('evaluate', i), 'fact'));
      if (row.fact !== '') out.add(childPath('evaluate', row.fact));
    });
  }
}

/** Whether the rule needs an entity key for what it asks: cancel events, or a mode other than `all`. */
export function needsEntityKey(form: EntityForm): boolean {
  return form.entityKey === '' && (form.cancelOn.length > 0 || form.concurrencyMode === 'supersede' || form.concurrencyMode === 'skipIfPending');
}

/** Whether a rule's `evaluate` reads any fact at fire time (`'current'`, or a per-fact map naming one). */
export function readsCurrentState(evaluate: JsonValue | undefined): boolean {
  if (evaluate === 'current') return true;
  return isJsonObject(evaluate) && Object.values(evaluate).includes('current');
}

/** What a keyed rule does per entity, in a few words each, for the rules list: `debounced`, `cancels on 2 events`. */
export function entitySummary(rule: { concurrency?: { mode: string } | undefined; cancelOn?: readonly unknown[] | undefined; evaluate?: JsonValue | undefined }): string[] {
  const mode = rule.concurrency?.mode;
  const cancels = rule.cancelOn?.length ?? 0;
  return [
    ...(mode === 'supersede' ? ['debounced'] : mode === 'skipIfPending' ? ['one waiting run at a time'] : []),
    ...(cancels > 0 ? [`cancels on ${cancels} event${cancels === 1 ? '' : 's'}`] : []),
    ...(readsCurrentState(rule.evaluate) ? ['reads current state'] : []),
  ];
}
