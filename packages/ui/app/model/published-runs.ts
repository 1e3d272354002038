import type { EventAccepted } from '../api/types.js';
import { pluralize } from '../format.js';

/**
 * What publishing an event started, said on the screen of one rule: the runs of every rule of the
 * account it started, how many are this rule's, and when the first of those is due. The API lists the
 * runs in the order the rules matched, not by due time, so the earliest is looked for.
 */
export function publishedRunsText(accepted: EventAccepted, ruleId: string, formatDue: (iso: string) => string): string {
  const total = accepted.triggers.length;
  if (total === 0) return 'no run started: no enabled rule of this account runs on this event';
  const started = `${pluralize(total, 'run')} started`;
  const [first, ...rest] = accepted.triggers.filter((t) => t.ruleId === ruleId);
  if (first === undefined) return `${started}, none of this rule: it is disabled or runs on another event`;
  const firstDue = rest.reduce((earliest, t) => (Date.parse(t.evaluateAt) < Date.parse(earliest) ? t.evaluateAt : earliest), first.evaluateAt);
  const own = rest.length + 1;
  if (own === total) return total === 1 ? `${started}, due ${formatDue(firstDue)}` : `${started}, the first due ${formatDue(firstDue)}`;
  return `${started} (${own} of this rule), the first of this rule due ${formatDue(firstDue)}`;
}
