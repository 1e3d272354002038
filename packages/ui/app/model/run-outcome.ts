import type { HistoryEntry, Trigger } from '../api/types.js';
import { formatDateTime } from '../format.js';
import { contactPolicyEntryText } from './contact-outcome.js';
import { rescheduleText, scheduleSkipText } from './run-schedule.js';

/**
 * Why another event or run ended this one, in words, from one history entry: the event that
 * cancelled it, the run that superseded or rescheduled it, the waiting run it was stale or skipped
 * for, or why its schedule skipped it. Null for entries that say none of these.
 */
export function otherRunText(entry: HistoryEntry): string | null {
  const scheduled = rescheduleText(entry, formatDateTime) ?? scheduleSkipText(entry);
  if (scheduled) return scheduled;
  const event = entry.event ? `${entry.event.name} (${entry.event.id})` : null;
  const run = entry.triggerId ? `the run ${entry.triggerId}` : 'another run';
  if (entry.outcome === 'cancelled' && event) return `Cancelled by the event ${event}.`;
  if (entry.outcome === 'superseded' && entry.reason === 'stale') return `Not run: ${run} was already waiting with a newer event for this entity.`;
  if (entry.outcome === 'superseded') return `Replaced by ${run}, for a newer event${event ? ` ${event}` : ''}.`;
  if (entry.outcome === 'skipped' && entry.reason === 'pending-exists') return `Not run: ${run} was already waiting for this entity.`;
  return null;
}

/** Why a finished run of a keyed rule ended, from its newest entry that says; null otherwise. */
export function runEndReason(trigger: Trigger): string | null {
  if (trigger.status !== 'cancelled' && trigger.status !== 'skipped') return null;
  for (const entry of [...trigger.executionHistory].reverse()) {
    const text = otherRunText(entry) ?? contactPolicyEntryText(entry, formatDateTime);
    if (text) return text;
  }
  return null;
}

/** A cancel that waits for the run being processed: it stops before its next action not yet sent. */
export function cancelRequestedText(trigger: Trigger): string | null {
  const requested = trigger.cancelRequested;
  if (!requested) return null;
  return `Cancel requested by the event ${requested.event.name} (${requested.event.id}): the run stops before its next action not yet sent.`;
}

/** A run the contact policy deferred (quiet hours, a full cap, the send rate): why it waits, from its newest entry; null otherwise. */
export function deferredRunText(trigger: Trigger): string | null {
  if (trigger.status !== 'retrying') return null;
  const last = trigger.executionHistory.at(-1);
  return last ? contactPolicyEntryText(last, formatDateTime) : null;
}
