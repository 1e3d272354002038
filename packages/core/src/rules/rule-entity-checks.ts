import { formatPath, type ValidationIssue } from '../errors.js';
import { currentFactsOf } from './rule-facts.js';
import { delayToMs, type RuleDraft } from './rule.js';

/**
 * Checks across fields of a rule's entity settings, on the raw document so they are reported together
 * with any other problem: `cancelOn` and a `concurrency` other than `all` need `trigger.key`; `maxWait`
 * is for `supersede` only and may not be shorter than the delay.
 */
export function entityIssues(input: Record<string, unknown>): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const trigger = input['trigger'];
  const key = typeof trigger === 'object' && trigger !== null ? (trigger as Record<string, unknown>)['key'] : undefined;
  const keyed = typeof key === 'string' && key.length > 0;
  const cancelOn = input['cancelOn'];
  const concurrency = typeof input['concurrency'] === 'object' && input['concurrency'] !== null ? (input['concurrency'] as Record<string, unknown>) : undefined;
  const mode = concurrency?.['mode'];
  if (!keyed) {
    const needs = [
      ...(Array.isArray(cancelOn) && cancelOn.length > 0 ? ['cancelOn'] : []),
      ...(mode === 'supersede' || mode === 'skipIfPending' ? [`concurrency mode "${mode}"`] : []),
    ];
    if (needs.length > 0) {
      issues.push({ path: 'trigger.key', code: 'key_required', message: `${needs.join(' and ')} need${needs.length > 1 ? '' : 's'} trigger.key, the JSONPath of the entity in the payload (e.g. "$.job.id")` });
    }
  }
  const maxWait = concurrency?.['maxWait'];
  const scheduled = input['schedule'] !== undefined;
  // A zero delay is what a stored scheduled rule reads back with: a document sent back as read is not a conflict.
  const delayGiven = input['delay'] !== undefined && !(isDelay(input['delay']) && input['delay'].value === 0);
  if (scheduled && delayGiven) {
    issues.push({ path: 'schedule', code: 'delay_and_schedule', message: 'a rule has either delay (a wait from the event) or schedule (a time relative to a date in the event), not both' });
  }
  if (scheduled && maxWait !== undefined) {
    issues.push({ path: 'concurrency.maxWait', code: 'max_wait_with_schedule', message: 'maxWait applies to delay rules; a scheduled rule\'s run is due at its schedule, moved by later events for the same entity' });
  } else if (maxWait !== undefined && mode !== undefined && mode !== 'supersede') {
    issues.push({ path: 'concurrency.maxWait', code: 'max_wait_needs_supersede', message: 'maxWait applies to concurrency mode "supersede" only' });
  } else if (isDelay(maxWait)) {
    const ruleDelay = input['delay'] === undefined ? { value: 0, unit: 'minutes' as const } : input['delay'];
    if (isDelay(ruleDelay) && delayToMs(maxWait) < delayToMs(ruleDelay)) {
      issues.push({ path: 'concurrency.maxWait', code: 'max_wait_too_short', message: `maxWait (${maxWait.value} ${maxWait.unit}) is shorter than the delay (${ruleDelay.value} ${ruleDelay.unit}); a superseded run could never wait its delay` });
    }
  }
  return issues;
}

function isDelay(value: unknown): value is { value: number; unit: 'seconds' | 'minutes' | 'hours' | 'days' } {
  if (typeof value !== 'object' || value === null) return false;
  const { value: amount, unit } = value as Record<string, unknown>;
  return typeof amount === 'number' && Number.isFinite(amount) && (unit === 'seconds' || unit === 'minutes' || unit === 'hours' || unit === 'days');
}

/** Facts a rule evaluates on current state that this engine has no loader for. */
export function loaderIssues(rule: RuleDraft, loaders: ReadonlySet<string>): ValidationIssue[] {
  const missing = currentFactsOf(rule).filter((fact) => !loaders.has(fact));
  const known = loaders.size > 0 ? `; loaders: ${[...loaders].join(', ')}` : '; the engine has no `facts` loaders';
  return missing.map((fact) => ({
    path: rule.evaluate === 'current' ? 'evaluate' : formatPath(['evaluate', fact]),
    code: 'no_fact_loader',
    message: `fact "${fact}" is evaluated on current state, but the engine has no loader for it (facts.${fact})${known}`,
  }));
}
