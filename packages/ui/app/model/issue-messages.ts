import { describeFieldPath, fieldForPath, type PathIssue } from './form-fields.js';
import { parsePath, type PathSegment } from './issue-path.js';

/*
 * The validator's issues are written for developers ("Too small: expected string to have >=1
 * characters"), and one field may get several (an empty event name is both too short and badly
 * formed). The editor shows people one message per field, in words that name the field as its label
 * does: "Name is required".
 */

const TOP_LEVEL: Record<string, string> = {
  name: 'Name',
  description: 'Description',
  enabled: 'Enabled',
  trigger: 'Event',
  delay: 'Wait',
  schedule: 'Schedule',
  actions: 'Actions',
  conditions: 'Conditions',
  cancelOn: 'Cancel events',
  concurrency: 'When a run is already waiting',
  evaluate: 'Facts read at fire time',
};
const CANCEL_PARTS: Record<string, string> = { eventName: 'Cancel event', conditions: 'Cancel conditions', key: 'Entity key in the cancel event' };
const SCHEDULE_PARTS: Record<string, string> = {
  anchor: 'Date to count from',
  offset: 'How many',
  value: 'How many',
  unit: 'Unit',
  at: 'At (local time)',
  timeZone: 'Time zone',
  fallbackTimeZone: 'Fallback time zone',
  window: 'Hours the run may start in',
  days: 'Days',
  from: 'From',
  to: 'To',
  ifPast: 'If the time is already past',
};
const CONDITION_PARTS: Record<string, string> = { fact: 'Fact', path: 'JSONPath', operator: 'Operator', value: 'Value' };
const PARAM_LABELS: Record<string, string> = {
  message: 'Message',
  subject: 'Subject',
  body: 'Text body',
  html: 'HTML body',
  templateId: 'Provider template id',
  url: 'URL',
  method: 'Method',
  headers: 'Headers',
  payload: 'Payload',
};
const RECIPIENT_LABELS: Record<string, string> = { sms: 'Phone number', email: 'Email address' };

/**
 * The field at `path` as its label names it, for a sentence: "Name", "Event", "Phone number", "Fact".
 * `actionTypes` (the form's actions, in order) tells a phone number from an email address.
 */
export function fieldLabel(path: string, actionTypes: readonly string[] = []): string {
  const segments = parsePath(path);
  const [first, second] = segments ?? [];
  if (segments === null || first === undefined) return 'The rule';
  if (first === 'delay' && second === 'unit') return 'Unit';
  if (first === 'trigger' && second === 'key') return 'Entity key';
  if (first === 'concurrency' && second === 'maxWait') return 'Longest wait';
  if (first === 'schedule' && segments.length > 1) {
    // The deepest named part: `schedule.window.days[2]` is a day, `schedule.offset.unit` the unit.
    const part = [...segments].reverse().find((s): s is string => typeof s === 'string' && s in SCHEDULE_PARTS);
    return (part !== undefined && SCHEDULE_PARTS[part]) || 'Schedule';
  }
  if (first === 'cancelOn' && typeof second === 'number') {
    const part = segments[2];
    return (typeof part === 'string' && CANCEL_PARTS[part]) || 'This cancel event';
  }
  if (first === 'conditions') {
    const last = segments[segments.length - 1];
    return (typeof last === 'string' && CONDITION_PARTS[last]) || (segments.length === 1 ? 'Conditions' : 'This condition');
  }
  if (first === 'actions' && typeof second === 'number') return actionPartLabel(segments.slice(2), actionTypes[second]);
  return (typeof first === 'string' && TOP_LEVEL[first]) || first.toString();
}

function actionPartLabel(rest: readonly PathSegment[], type: string | undefined): string {
  const [head, param, ...deeper] = rest;
  if (head === 'type') return 'Action type';
  if (head !== 'params' || typeof param !== 'string') return 'This action';
  if (param === 'recipient') {
    if (deeper[0] === 'fact') return 'Fact';
    if (deeper[0] === 'path') return 'JSONPath';
    return RECIPIENT_LABELS[type ?? ''] ?? 'Recipient';
  }
  if (param === 'headers' && deeper.length > 0) return 'Header';
  if (param === 'payload' && deeper.length > 0) return 'Payload field';
  return PARAM_LABELS[param] ?? param;
}

const TYPE_PHRASES: Record<string, string> = {
  string: 'must be text',
  number: 'must be a number',
  int: 'must be a whole number',
  boolean: 'must be true or false',
  object: 'must be an object ({ ... })',
  array: 'must be a list',
};

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** One issue's message for people. Messages the validator already wrote for people keep their words. */
export function messageForPeople(issue: PathIssue, label: string): string {
  const { code, message } = issue;
  if (code === 'too_small') {
    const text = /expected string to have >=(\d+) characters?/.exec(message);
    if (text) return text[1] === '1' ? `${label} is required` : `${label} must be at least ${text[1]} characters`;
    const number = /expected number to be (>=?)(-?[\d.]+)/.exec(message);
    if (number) return number[1] === '>=' ? `${label} must be ${number[2]} or more` : `${label} must be more than ${number[2]}`;
    const items = /expected array to have >=(\d+) items?/.exec(message);
    if (items) return `${label} needs at least ${items[1]}`;
  }
  if (code === 'too_big') {
    const text = /expected string to have <=(\d+) characters?/.exec(message);
    if (text) return `${label} must be ${text[1]} characters or fewer`;
    const number = /expected number to be (<=?)(-?[\d.]+)/.exec(message);
    if (number) return number[1] === '<=' ? `${label} must be ${number[2]} or less` : `${label} must be less than ${number[2]}`;
    const items = /expected array to have <=(\d+) items?/.exec(message);
    if (items) return `${label} can have at most ${items[1]}`;
  }
  if (code === 'invalid_type') {
    if (/received undefined/.test(message)) return `${label} is required`;
    const expected = /expected (\w+)/.exec(message)?.[1];
    const phrase = expected === undefined ? undefined : TYPE_PHRASES[expected];
    if (phrase) return `${label} ${phrase}`;
  }
  if (code === 'invalid_value') {
    const options = /expected one of (.+)$/.exec(message)?.[1];
    if (options) return `${label} must be one of: ${options.split('|').map((o) => o.replace(/^"|"$/g, '')).join(', ')}`;
  }
  if (/^Invalid input\b/.test(message)) return `${label} is not valid`;
  return capitalized(message.trim());
}

const REQUIRED = / is required$/;

/** What the editor shows: one issue per field, in words for people, and where each one goes. */
export interface IssuesForPeople {
  /** Every issue shown, in the validator's order: the fields' first, and those no field takes. */
  shown: PathIssue[];
  /** The one issue of each field. */
  byField: Map<string, PathIssue[]>;
  /** Issues no field can take (the document itself, a path we cannot parse), once each. */
  unplaced: PathIssue[];
  /** The field each shown issue is placed at (absent for the unplaced). */
  fieldOf: Map<PathIssue, string>;
}

/**
 * Rewrites `issues` for people and keeps one per field: a "required" one when there is one (an empty
 * value is the thing to fix first), otherwise the first the validator reported.
 */
export function issuesForPeople(issues: readonly PathIssue[], fieldPaths: ReadonlySet<string>, actionTypes: readonly string[] = []): IssuesForPeople {
  const chosen = new Map<string, PathIssue>();
  const unplaced: PathIssue[] = [];
  const order: Array<PathIssue | string> = [];
  for (const issue of issues) {
    const person = { ...issue, message: messageForPeople(issue, fieldLabel(issue.path, actionTypes)) };
    const field = fieldForPath(issue.path, fieldPaths);
    if (field === null) {
      if (!unplaced.some((u) => u.path === person.path && u.message === person.message)) {
        unplaced.push(person);
        order.push(person);
      }
      continue;
    }
    const current = chosen.get(field);
    if (current === undefined) order.push(field);
    if (current === undefined || (REQUIRED.test(person.message) && !REQUIRED.test(current.message))) chosen.set(field, person);
  }
  const byField = new Map<string, PathIssue[]>();
  const fieldOf = new Map<PathIssue, string>();
  const shown: PathIssue[] = [];
  for (const entry of order) {
    if (typeof entry !== 'string') {
      shown.push(entry);
      continue;
    }
    const issue = chosen.get(entry);
    if (issue === undefined) continue;
    byField.set(entry, [issue]);
    fieldOf.set(issue, entry);
    shown.push(issue);
  }
  return { shown, byField, unplaced, fieldOf };
}

/**
 * Where in the rule a field is, when its label alone does not say: "Condition 2.1", "Action 1". Null
 * for the rule's own fields (name, event, wait), whose messages name them.
 */
export function placeOf(path: string): string | null {
  const segments = parsePath(path);
  if (segments === null || segments.length < 2 || (segments[0] !== 'conditions' && segments[0] !== 'actions' && segments[0] !== 'cancelOn')) return null;
  const place = describeFieldPath(path).split(' › ')[0];
  return place === undefined || place === 'Conditions' ? null : place;
}
