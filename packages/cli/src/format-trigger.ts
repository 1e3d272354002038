import type { ActionOutcome, ConditionTrace, HistoryEntry, Trigger } from '@crm-automation/core';

const iso = (date: Date | undefined) => (date ? date.toISOString() : '-');

function value(v: unknown): string {
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function condition(c: ConditionTrace): string {
  const mark = c.evaluated === false ? '·' : c.result ? '✓' : '✗';
  const fact = c.factPath ? `${c.fact} ${c.factPath}` : c.fact;
  const seen = c.evaluated === false ? 'not evaluated' : `got ${value(c.factResult)}`;
  return `${mark} ${fact} ${c.operator} ${value(c.value)} (${seen})`;
}

function action(a: ActionOutcome): string {
  const took = a.durationMs === undefined ? '' : ` in ${a.durationMs} ms`;
  const error = a.error ? `: ${a.error.code} ${a.error.message}${a.error.retryable ? ' (retryable)' : ''}` : '';
  return `[${a.index}] ${a.type} ${a.status}${took}${error}`;
}

const eventText = (event: { id: string; name: string }) => `${event.name} ${event.id}`;

/**
 * Why another trigger or event ended this one, in words: the cancelling event, the trigger that
 * superseded it, or the pending one it was stale or skipped for. Undefined for any other entry.
 */
export function otherRunText(h: HistoryEntry): string | undefined {
  if (h.outcome === 'cancelled' && h.event) return `cancelled by event ${eventText(h.event)}`;
  if (h.outcome === 'superseded' && h.reason === 'stale') return `stale: pending trigger ${h.triggerId ?? '?'} holds a newer event`;
  if (h.outcome === 'superseded') return `superseded by trigger ${h.triggerId ?? '?'}${h.event ? ` (event ${eventText(h.event)})` : ''}`;
  if (h.outcome === 'skipped' && h.reason === 'pending-exists') return `skipped: trigger ${h.triggerId ?? '?'} was already pending`;
  return undefined;
}

function entry(h: HistoryEntry, n: number): string[] {
  const head = [`${n}. ${iso(h.at)}  attempt ${h.attempt}  ${h.outcome}`];
  if (h.reason) head[0] += ` (${h.reason})`;
  if (h.by) head[0] += `  by ${h.by}`;
  const lines = [...head];
  const other = otherRunText(h);
  if (other) lines.push(`     ${other}`);
  else if (h.event) lines.push(`     event ${eventText(h.event)}`);
  if (h.ruleVersion !== undefined) lines.push(`     rule version ${h.ruleVersion}`);
  for (const c of h.conditions ?? []) lines.push(`     ${condition(c)}`);
  for (const a of h.actions ?? []) lines.push(`     ${action(a)}`);
  if (h.error) lines.push(`     error ${h.error.code}: ${h.error.message}`);
  if (h.nextAttemptAt) lines.push(`     next attempt at ${iso(h.nextAttemptAt)}`);
  return lines;
}

/** A trigger and its execution history as an on-call engineer reads it in a terminal. */
export function formatTrigger(trigger: Trigger): string {
  const event = trigger.triggeringEvent;
  const lines = [
    `trigger   ${trigger.id}`,
    `account   ${trigger.accountId}`,
    `rule      ${trigger.ruleId} (version ${trigger.ruleVersion} at intake)`,
    ...(trigger.entityKey === undefined ? [] : [`entity    ${trigger.entityKey}`]),
    `status    ${trigger.status}`,
    `attempts  ${trigger.attempt}`,
    `due       ${iso(trigger.evaluateAt)}`,
    `created   ${iso(trigger.createdAt)}`,
    `updated   ${iso(trigger.updatedAt)}`,
  ];
  // The newest entry that names another run or event says why a cancelled, superseded or skipped trigger ended.
  const why = [...trigger.executionHistory].reverse().map(otherRunText).find((text) => text !== undefined);
  if (why && (trigger.status === 'cancelled' || trigger.status === 'skipped')) lines.push(`why       ${why}`);
  if (trigger.cancelRequested) lines.push(`cancel    requested by event ${eventText(trigger.cancelRequested.event)} at ${iso(trigger.cancelRequested.at)}; stops before its next unsent action`);
  // Every keyed trigger has one; it says something only when a chain of superseded runs began earlier.
  if (trigger.firstEventAt && trigger.firstEventAt < event.timestamp) lines.push(`first     event at ${iso(trigger.firstEventAt)} (superseded runs of this entity; maxWait counts from it)`);
  if (trigger.leaseExpiresAt && trigger.status === 'processing') lines.push(`lease     until ${iso(trigger.leaseExpiresAt)}`);
  if (trigger.sentActions.length > 0) lines.push(`sent      actions ${trigger.sentActions.join(', ')}`);
  if (trigger.trace?.['traceparent']) lines.push(`trace     ${trigger.trace['traceparent']}`);
  lines.push('', `event     ${event.name} ${event.id} at ${iso(event.timestamp)}`, `payload   ${JSON.stringify(event.payload, null, 2).split('\n').join('\n          ')}`, '');
  if (trigger.executionHistory.length === 0) lines.push('history   (none yet)');
  else {
    lines.push('history');
    trigger.executionHistory.forEach((h, i) => lines.push(...entry(h, i + 1)));
  }
  return lines.join('\n');
}
