import type { JsonValue } from './model/json.js';
import { CONTACT_REASON_TEXT } from './model/contact-outcome.js';
import { SKIP_REASON_TEXT } from './model/run-schedule.js';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

/** "in 5 minutes", "3 hours ago". */
export function formatRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const ms = new Date(iso).getTime() - now;
  if (Number.isNaN(ms)) return iso;
  const abs = Math.abs(ms);
  if (abs < 45_000) return ms >= 0 ? 'in a few seconds' : 'just now';
  const units: Array<[Intl.RelativeTimeFormatUnit, number]> = [
    ['minute', 60_000],
    ['hour', 3_600_000],
    ['day', 86_400_000],
  ];
  let chosen: [Intl.RelativeTimeFormatUnit, number] = ['minute', 60_000];
  for (const unit of units) if (abs >= unit[1]) chosen = unit;
  return relative.format(Math.round(ms / chosen[1]), chosen[0]);
}

export function formatDelay(delay: { value: number; unit: string } | undefined): string {
  if (!delay || delay.value === 0) return 'Immediately';
  const unit = delay.value === 1 ? delay.unit.replace(/s$/, '') : delay.unit;
  return `After ${delay.value} ${unit}`;
}

/** A JSON value the way a person reads it: strings quoted, the rest as JSON. */
export function formatValue(value: JsonValue | undefined): string {
  if (value === undefined) return 'nothing (missing)';
  return JSON.stringify(value);
}

const REASONS: Record<string, string> = {
  'conditions-not-met': 'The conditions were not met',
  'rule-disabled': 'The rule was disabled when the trigger was due',
  'rule-deleted': 'The rule was deleted before the trigger was due',
  'max-attempts': 'Gave up after the last attempt',
  'transient-error': 'A temporary error; it will be tried again',
  'action-failed': 'An action failed and will not be retried',
  'evaluation-error': 'The conditions could not be evaluated',
  'delivery-unknown': 'A send may have reached the provider without saying so; it is held until a receipt or an operator settles it (see Sends)',
  'cancelled-by-event': 'A later event for the same entity cancelled it',
  superseded: 'A newer event for the same entity replaced it',
  stale: 'A run for a newer event of the same entity was already waiting',
  'pending-exists': 'A run for the same entity was already waiting',
  'entity-missing': 'The entity no longer exists (its current state came back empty)',
  'recipient-missing': 'The recipient is missing from the event, so nothing was sent',
  rescheduled: 'A newer event for the same entity moved the scheduled time',
  ...SKIP_REASON_TEXT,
  ...CONTACT_REASON_TEXT,
};

export function describeReason(reason: string | undefined): string | undefined {
  if (!reason) return undefined;
  return REASONS[reason] ?? reason;
}

export function pluralize(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
