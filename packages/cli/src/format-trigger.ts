import type { ActionOutcome, ConditionTrace, HistoryEntry, ScheduleSkipReason, Trigger, TriggerSchedule } from '@crm-automation/core';

const iso = (date: Date | undefined) => (date ? date.toISOString() : '-');

/** A UTC instant as short as it stays exact: `2026-03-09T13:00Z`, `2026-03-09T13:00:30Z`, `...30.250Z`. */
export function shortIso(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, 'Z').replace(/(T\d\d:\d\d):00Z$/, '$1Z');
}

/** Where a schedule's zone came from, in words. */
export function zoneSourceText(source: TriggerSchedule['zoneSource']): string {
  switch (source) {
    case 'rule':
      return "the rule's zone";
    case 'payload':
      return "the recipient's zone, from the event";
    case 'fallback':
      return "the rule's fallback zone (the event has none)";
    case 'default':
      return 'UTC (the rule names no zone)';
  }
}

/** The schedule skip reasons of intake (a scheduled rule's event that gives no due time); a record, so a new reason must be added here to compile. */
const SCHEDULE_SKIPS: Record<ScheduleSkipReason, true> = { 'anchor-missing': true, 'zone-unknown': true, past: true, 'beyond-horizon': true };
const isScheduleSkip = (reason: string | undefined) => reason !== undefined && Object.hasOwn(SCHEDULE_SKIPS, reason);

/** A rescheduled move, as `2026-03-09T13:00Z → 2026-03-11T13:00Z by event e2`. */
const moveText = (h: HistoryEntry) => `${h.from ? shortIso(h.from) : '?'} → ${h.to ? shortIso(h.to) : '?'} by event ${h.eventId ?? h.event?.id ?? '?'}`;

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
  if (h.outcome === 'rescheduled') return `rescheduled ${moveText(h)}${h.triggerId ? ` (replaces trigger ${h.triggerId})` : ''}`;
  if (h.outcome === 'superseded' && h.reason === 'rescheduled') return `rescheduled ${moveText(h)}: replaced by trigger ${h.triggerId ?? '?'}`;
  if (h.outcome === 'skipped' && isScheduleSkip(h.reason)) return `skipped at intake (${h.reason}): ${h.error?.message ?? 'the event gives no due time'}`;
  if (h.outcome === 'cancelled' && isScheduleSkip(h.reason)) {
    return `cancelled: a newer event${h.event ? ` (${eventText(h.event)})` : ''} gives no due time (${h.reason})`;
  }
  if (h.outcome === 'cancelled' && h.event) return `cancelled by event ${eventText(h.event)}`;
  if (h.outcome === 'superseded' && h.reason === 'stale') return `stale: pending trigger ${h.triggerId ?? '?'} holds a newer event`;
  if (h.outcome === 'superseded') return `superseded by trigger ${h.triggerId ?? '?'}${h.event ? ` (event ${eventText(h.event)})` : ''}`;
  if (h.outcome === 'skipped' && h.reason === 'pending-exists') return `skipped: trigger ${h.triggerId ?? '?'} was already pending`;
  return undefined;
}

/** What a skipped run's schedule got to before it stopped: its zone, anchor and local due time. */
function scheduleText(schedule: Partial<TriggerSchedule>): string {
  const parts = [
    schedule.timeZone === undefined ? undefined : `zone ${schedule.timeZone}${schedule.zoneSource ? ` (${zoneSourceText(schedule.zoneSource)})` : ''}`,
    schedule.anchor === undefined ? undefined : `anchor ${schedule.anchor}`,
    schedule.local === undefined ? undefined : `due ${schedule.local}`,
  ].filter((part): part is string => part !== undefined);
  return parts.length > 0 ? parts.join(', ') : '(nothing computed)';
}

/**
 * The due time of a run without a schedule trace. A scheduled rule's run stored skipped at intake has
 * an `evaluateAt` that was never due: the computed time when it was past or beyond the horizon, else
 * only the intake time.
 */
function dueText(trigger: Trigger): string {
  const [only, ...more] = trigger.executionHistory;
  if (trigger.status !== 'skipped' || more.length > 0 || only?.outcome !== 'skipped' || !isScheduleSkip(only.reason)) return iso(trigger.evaluateAt);
  return only.reason === 'past' || only.reason === 'beyond-horizon' ? `${iso(trigger.evaluateAt)} (computed, never due: skipped at intake, ${only.reason})` : 'none: skipped at intake';
}

/** A scheduled trigger's due time in the recipient's zone and in UTC, the zone and why, and each adjustment. */
function scheduleLines(trigger: Trigger, schedule: TriggerSchedule): string[] {
  return [
    `due       ${iso(trigger.evaluateAt)} (UTC)`,
    `          ${schedule.local} (${schedule.timeZone})`,
    `zone      ${schedule.timeZone}: ${zoneSourceText(schedule.zoneSource)}`,
    `anchor    ${schedule.anchor}`,
    ...schedule.notes.map((note) => `note      ${note.code}: ${note.message}`),
  ];
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
  if (h.schedule) lines.push(`     schedule ${scheduleText(h.schedule)}`);
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
    ...(trigger.schedule ? scheduleLines(trigger, trigger.schedule) : [`due       ${dueText(trigger)}`]),
    `created   ${iso(trigger.createdAt)}`,
    `updated   ${iso(trigger.updatedAt)}`,
  ];
  // The newest entry that names another run or event says why a cancelled, superseded or skipped trigger ended.
  const why = [...trigger.executionHistory].reverse().map(otherRunText).find((text) => text !== undefined);
  if (why && (trigger.status === 'cancelled' || trigger.status === 'skipped')) lines.push(`why       ${why}`);
  if (trigger.cancelRequested) lines.push(`cancel    requested by event ${eventText(trigger.cancelRequested.event)} at ${iso(trigger.cancelRequested.at)}; stops before its next unsent action`);
  // Every keyed trigger has one; it says something only when a chain of superseded runs began earlier.
  if (trigger.firstEventAt && trigger.firstEventAt < event.timestamp) {
    // A scheduled rule has no maxWait: its runs are due at the schedule, however often they move.
    lines.push(`first     event at ${iso(trigger.firstEventAt)} (superseded runs of this entity${trigger.schedule ? '' : '; maxWait counts from it'})`);
  }
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
