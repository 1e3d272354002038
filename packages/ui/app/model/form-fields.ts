import { entityFieldPaths } from './entity-form.js';
import { childPath, formatPath, parsePath } from './issue-path.js';
import { scheduleFieldPaths } from './schedule-form.js';
import { isBuiltInAction, type NodeForm, type RuleForm } from './rule-form.js';

/** A validation problem with the JSON path it belongs to (the API's `issues[]`). */
export interface PathIssue {
  path: string;
  code: string;
  message: string;
}

/** Paths that have no field of their own but an obvious one. */
const ALIASES: Record<string, string> = {
  trigger: 'trigger.eventName',
  delay: 'delay.value',
  concurrency: 'concurrency.mode',
};

function addNode(node: NodeForm, path: string, out: Set<string>): void {
  out.add(path);
  if (node.kind === 'condition') {
    for (const field of ['fact', 'path', 'operator', 'value']) out.add(childPath(path, field));
  } else if (node.kind === 'group') {
    if (node.mode === 'not') {
      const only = node.children[0];
      if (only) addNode(only, childPath(path, 'not'), out);
    } else {
      node.children.forEach((child, i) => addNode(child, childPath(childPath(path, node.mode), i), out));
    }
  }
}

/** Every path the form has a field (or a section) for, named like the API's issue paths. */
export function formFieldPaths(form: RuleForm): Set<string> {
  const out = new Set<string>(['name', 'description', 'enabled', 'trigger.eventName', 'delay.value', 'delay.unit', 'conditions', 'actions']);
  addNode(form.conditions, 'conditions', out);
  if (form.timing === 'schedule') scheduleFieldPaths(form.schedule, out);
  entityFieldPaths(form.entity, out);
  form.actions.forEach((action, i) => {
    const path = childPath('actions', i);
    out.add(path);
    if (action.kind === 'raw') return;
    out.add(childPath(path, 'type'));
    out.add(childPath(path, 'category'));
    const params = childPath(path, 'params');
    if (!isBuiltInAction(action.type)) {
      out.add(params);
      return;
    }
    const param = (name: string) => childPath(params, name);
    if (action.type === 'sms' || action.type === 'email') {
      out.add(param('recipient'));
      if (action.recipientMode === 'fact') {
        out.add(childPath(param('recipient'), 'fact'));
        out.add(childPath(param('recipient'), 'path'));
      }
    }
    if (action.type === 'sms') out.add(param('message'));
    if (action.type === 'email') for (const name of ['subject', 'body', 'html', 'templateId']) out.add(param(name));
    if (action.type === 'webhook') {
      for (const name of ['url', 'method', 'headers', 'payload']) out.add(param(name));
      for (const row of action.headers) out.add(childPath(param('headers'), row.name));
      if (action.payloadMode === 'fields') for (const row of action.payloadFields) out.add(childPath(param('payload'), row.name));
    }
  });
  return out;
}

/**
 * Places each issue at the most specific field its path reaches: `actions[1].params.url` at the URL
 * field, `conditions.all[0]` at that condition, `actions[7].params.url` (no such action) at the actions
 * section. Issues no field can take (the document itself, `accountId`, a path we cannot parse) are
 * `unplaced`, for the summary at the top.
 */
export function placeIssues<I extends PathIssue>(issues: readonly I[], fieldPaths: ReadonlySet<string>): { byField: Map<string, I[]>; unplaced: I[] } {
  const byField = new Map<string, I[]>();
  const unplaced: I[] = [];
  for (const issue of issues) {
    const field = fieldForPath(issue.path, fieldPaths);
    if (field === null) {
      unplaced.push(issue);
      continue;
    }
    const list = byField.get(field) ?? [];
    list.push(issue);
    byField.set(field, list);
  }
  return { byField, unplaced };
}

/** The field an issue path belongs to, or null. */
export function fieldForPath(path: string, fieldPaths: ReadonlySet<string>): string | null {
  const segments = parsePath(path);
  if (segments === null) return null;
  for (let length = segments.length; length > 0; length--) {
    const prefix = formatPath(segments.slice(0, length));
    const candidate = ALIASES[prefix] ?? prefix;
    if (fieldPaths.has(candidate)) return candidate;
  }
  return null;
}

const TOP_LEVEL_NAMES: Record<string, string> = { name: 'Name', description: 'Description', enabled: 'Enabled' };

/**
 * A person's name for a field path: `conditions.all[1].any[0].value` is "Condition 2.1 › value",
 * `actions[0].params.recipient` is "Action 1 › recipient".
 */
export function describeFieldPath(path: string): string {
  const segments = parsePath(path);
  if (segments === null || segments.length === 0) return 'The rule';
  const parts: string[] = [];
  const numbers: number[] = [];
  let i = 0;
  if (segments[0] === 'conditions') {
    i = 1;
    while (i < segments.length) {
      const s = segments[i];
      const next = segments[i + 1];
      if ((s === 'all' || s === 'any') && typeof next === 'number') {
        numbers.push(next + 1);
        i += 2;
      } else if (s === 'not') {
        numbers.push(1);
        i += 1;
      } else break;
    }
    parts.push(numbers.length > 0 ? `Condition ${numbers.join('.')}` : 'Conditions');
  } else if (segments[0] === 'actions' && typeof segments[1] === 'number') {
    parts.push(`Action ${segments[1] + 1}`);
    i = 2;
    if (segments[2] === 'params') i = 3;
  } else if (segments[0] === 'trigger') {
    parts.push(segments[1] === 'key' ? 'Entity key' : 'Event');
    i = segments.length;
  } else if (segments[0] === 'cancelOn' && typeof segments[1] === 'number') {
    parts.push(`Cancel event ${segments[1] + 1}`);
    i = 2;
  } else if (segments[0] === 'cancelOn') {
    parts.push('Cancel events');
    i = 1;
  } else if (segments[0] === 'concurrency') {
    parts.push(segments[1] === 'maxWait' ? 'Longest wait' : 'Concurrency');
    i = segments.length;
  } else if (segments[0] === 'evaluate') {
    parts.push('Evaluate');
    i = 1;
  } else if (segments[0] === 'schedule') {
    parts.push('Schedule');
    i = 1;
  } else if (segments[0] === 'delay') {
    parts.push('Delay');
    i = segments.length;
  }
  const rest = segments.slice(i).map((s) => (typeof s === 'number' ? `#${s + 1}` : s));
  if (parts.length === 0) {
    const [first, ...others] = rest;
    const top = first === undefined ? 'The rule' : (TOP_LEVEL_NAMES[first] ?? first);
    return [top, ...others].join(' › ');
  }
  return [...parts, ...rest].join(' › ');
}
