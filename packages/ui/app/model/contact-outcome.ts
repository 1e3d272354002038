// What the contact policy did to a run (or would do to a dry run), in words. Pure: no DOM.
import type { ActionOutcome, DryRunContactPolicy, HistoryEntry, Suppression, SuppressionChange, SuppressionReason, SuppressionSource } from '../api/types.js';

/** Why the contact policy skipped an action. */
export const SKIPPED_ACTION_TEXT: Record<NonNullable<ActionOutcome['reason']>, string> = {
  suppressed: 'Skipped: the recipient opted out (STOP) or bounced, so nothing was sent',
  capped: 'Skipped: the recipient already got as many messages as the frequency cap allows',
};

/** An action's status with its reason: a skipped action says which policy skipped it. */
export function skippedActionText(outcome: Pick<ActionOutcome, 'status' | 'reason'>): string | null {
  if (outcome.status !== 'skipped') return null;
  return outcome.reason ? SKIPPED_ACTION_TEXT[outcome.reason] : 'Skipped by the contact policy';
}

/** The history reasons the contact policy writes, for the run's reason line. */
export const CONTACT_REASON_TEXT: Record<string, string> = {
  'quiet-hours': "Deferred: quiet hours in the recipient's zone",
  capped: "Deferred: the recipient's frequency cap is full for now",
  throttled: "Deferred: the account's sending rate for this channel was reached",
  suppressed: 'Skipped: the recipient opted out (STOP) or bounced',
};

/**
 * A history entry the contact policy wrote: "Deferred: quiet hours in the recipient's zone until Jan 2,
 * 2030, 8:01 AM" for a deferral (not an attempt used up), and why a run ended skipped. Null for any other entry.
 */
export function contactPolicyEntryText(entry: Pick<HistoryEntry, 'outcome' | 'reason' | 'nextAttemptAt'>, format: (iso: string) => string): string | null {
  if (entry.outcome === 'retrying' && (entry.reason === 'quiet-hours' || entry.reason === 'capped' || entry.reason === 'throttled')) {
    const what = entry.reason === 'quiet-hours' ? "quiet hours in the recipient's zone" : entry.reason === 'capped' ? "the recipient's frequency cap is full" : "over the account's sending rate for this channel";
    const until = entry.nextAttemptAt ? ` until ${format(entry.nextAttemptAt)}` : '';
    return `Deferred: ${what}${until}. This does not count as a failed attempt.`;
  }
  if (entry.outcome === 'skipped' && entry.reason === 'suppressed') return 'Skipped: every message of the run went to a recipient who opted out (STOP) or bounced.';
  if (entry.outcome === 'skipped' && entry.reason === 'capped') return 'Skipped: every message of the run was over the recipient’s frequency cap.';
  return null;
}

const PER_WORDS = { hour: 'hour', day: 'day', week: 'week' } as const;

/** What the policy would do to a dry-run command, in words. */
export function dryRunContactPolicyText(policy: DryRunContactPolicy, format: (iso: string) => string): string {
  switch (policy.outcome) {
    case 'skipped':
      return 'Would be skipped: the recipient is on the suppression list (opted out or bounced).';
    case 'deferred':
      return `Would be deferred: quiet hours in the recipient's zone, until ${format(policy.until)}.`;
    case 'counted': {
      const caps = policy.caps.map((c) => `${c.max} a ${PER_WORDS[c.per]}`).join(', ');
      return `Counts against the frequency caps (${caps}). A dry run does not check whether a cap is full.`;
    }
  }
}

export const SUPPRESSION_REASON_TEXT: Record<SuppressionReason, string> = {
  stop: 'Replied STOP',
  unsubscribe: 'Unsubscribed',
  bounce: 'Bounced',
  'spam-report': 'Reported as spam',
  'provider-opt-out': 'Opted out with the provider',
  manual: 'Added by hand',
};

export const SUPPRESSION_SOURCE_TEXT: Record<SuppressionSource, string> = {
  'inbound-sms': 'a text reply',
  'provider-error': 'a provider error',
  'email-event': 'an email event',
  api: 'the API',
  cli: 'the CLI',
  ui: 'the Management UI',
  engine: 'the engine',
};

/** "Replied STOP, recorded by a text reply (twilio)". */
export function suppressionText(entry: Pick<Suppression, 'reason' | 'source' | 'by'>): string {
  return `${SUPPRESSION_REASON_TEXT[entry.reason]}, recorded by ${SUPPRESSION_SOURCE_TEXT[entry.source]}${entry.by ? ` (${entry.by})` : ''}`;
}

/** Why a suppression was lifted: a removal's reason is the lift's own (START is a `stop` removal). */
const REMOVAL_REASON_TEXT: Record<SuppressionReason, string> = {
  stop: 'replied START',
  unsubscribe: 'subscribed again',
  bounce: 'the address works again',
  'spam-report': 'spam report withdrawn',
  'provider-opt-out': 'opted in with the provider',
  manual: 'lifted by hand',
};

/** One line of the audit trail: "Added (replied stop) by a text reply (twilio): twilio SM1". */
export function suppressionChangeText(change: SuppressionChange): string {
  const what = change.action === 'added' ? `Added (${SUPPRESSION_REASON_TEXT[change.reason].toLowerCase()})` : `Removed (${REMOVAL_REASON_TEXT[change.reason]})`;
  return `${what} by ${SUPPRESSION_SOURCE_TEXT[change.source]}${change.by ? ` (${change.by})` : ''}${change.detail ? `: ${change.detail}` : ''}`;
}

/** The file name of an audit export: `suppression-changes-sms-2030-01-01.csv`. */
export function changesCsvName(channel: string, now: Date): string {
  return `suppression-changes-${channel === '' ? 'all' : channel.replace(/[^A-Za-z0-9_-]/g, '_')}-${now.toISOString().slice(0, 10)}.csv`;
}
