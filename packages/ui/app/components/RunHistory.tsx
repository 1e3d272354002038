import { useState } from 'preact/hooks';
import type { ApiClient } from '../api/client.js';
import type { ActionOutcome, DryRunOk, HistoryEntry, Rule, Trigger } from '../api/types.js';
import { describeReason, formatDateTime } from '../format.js';
import { contactPolicyEntryText, skippedActionText } from '../model/contact-outcome.js';
import { prettyJson } from '../model/json.js';
import { cancelRequestedText, otherRunText } from '../model/run-outcome.js';
import { ACTION_LABELS } from './ActionCard.js';
import { CommandView, ConditionTraceList, ErrorBlock } from './DryRunView.js';
import { RunDeliveries } from './RunDeliveries.js';
import { ScheduleDetails } from './RunSchedule.js';
import { StatusBadge } from './StatusBadge.js';

const ACTION_STATUS: Record<ActionOutcome['status'], string> = {
  sent: 'Sent',
  'already-sent': 'Already sent by an earlier attempt',
  failed: 'Failed',
  'not-attempted': 'Not attempted (an earlier action failed, or the run was deferred before it)',
  unknown: 'Unknown: may have reached the provider; held for a receipt or an operator',
  skipped: 'Skipped by the contact policy (the recipient is suppressed, or over a frequency cap)',
};

/** A run's history: every attempt, why it was skipped, what was sent, the errors; then its sends, from the delivery ledger. */
export function RunHistory({
  api,
  trigger,
  rule,
  onChanged,
  announce,
}: {
  api: ApiClient;
  trigger: Trigger;
  rule: Rule | null;
  /** A resolution changed the run (a resend makes it pending again). */
  onChanged: () => void;
  announce: (message: string) => void;
}) {
  const [rendered, setRendered] = useState<{ result: DryRunOk; version: number } | { error: string } | null>(null);
  const entries = trigger.executionHistory;
  const lastAttempted = [...entries].reverse().find((e) => e.ruleVersion !== undefined);

  const showRendered = async () => {
    if (!rule) return;
    try {
      const result = await api.testRule(rule.id, {
        payload: trigger.triggeringEvent.payload,
        name: trigger.triggeringEvent.name,
        timestamp: trigger.triggeringEvent.timestamp,
      });
      setRendered(result.valid ? { result, version: rule.version } : { error: 'The rule is no longer valid.' });
    } catch {
      setRendered({ error: 'The messages could not be rendered.' });
    }
  };

  const cancelRequested = cancelRequestedText(trigger);
  return (
    <div class="history">
      {trigger.entityKey !== undefined ? (
        <p class="muted">
          Entity <code>{trigger.entityKey}</code>
          {/* Every keyed run has one; it says something only when it is older than the run's own event. */}
          {trigger.firstEventAt && Date.parse(trigger.firstEventAt) < Date.parse(trigger.triggeringEvent.timestamp) ? (
            <>
              {' '}
              · first event of the replaced runs at <time dateTime={trigger.firstEventAt}>{formatDateTime(trigger.firstEventAt)}</time>
            </>
          ) : null}
        </p>
      ) : null}
      {cancelRequested ? <p class="notice notice--warning">{cancelRequested}</p> : null}
      {trigger.schedule ? <ScheduleDetails schedule={trigger.schedule} /> : null}
      {entries.length === 0 ? (
        <p class="muted">No attempts yet: the run is waiting until {formatDateTime(trigger.evaluateAt)}.</p>
      ) : (
        <ol class="history__list">
          {entries.map((entry, i) => (
            <li key={i} class="history__entry">
              <HistoryEntryView entry={entry} showsSchedule={trigger.schedule !== undefined} />
            </li>
          ))}
        </ol>
      )}
      {entries.length > 0 || trigger.status === 'processing' ? <RunDeliveries api={api} trigger={trigger} onChanged={onChanged} announce={announce} /> : null}
      <details class="history__event">
        <summary>Event payload</summary>
        <p class="muted">
          <code>{trigger.triggeringEvent.name}</code> at {formatDateTime(trigger.triggeringEvent.timestamp)}
        </p>
        <pre class="code-block">{prettyJson(trigger.triggeringEvent.payload)}</pre>
      </details>
      {rule && entries.some((e) => e.actions?.some((a) => a.status === 'sent' || a.status === 'already-sent' || a.status === 'failed')) ? (
        <div class="history__rendered">
          <button type="button" class="button button--quiet button--small" onClick={() => void showRendered()}>
            Show the messages
          </button>
          {rendered && 'error' in rendered ? <p class="field__error">{rendered.error}</p> : null}
          {rendered && 'result' in rendered ? (
            <div>
              <p class="muted">
                {lastAttempted?.ruleVersion === rendered.version
                  ? `Rendered from this run's event with rule version ${rendered.version}, the version that ran: as sent.`
                  : `Rendered from this run's event with the current rule (version ${rendered.version}); the run used version ${lastAttempted?.ruleVersion ?? trigger.ruleVersion}.`}
              </p>
              <ol class="commands">
                {rendered.result.commands.map((c) => (
                  <li key={c.index}>
                    <CommandView command={c} />
                  </li>
                ))}
              </ol>
            </div>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

function HistoryEntryView({ entry, showsSchedule }: { entry: HistoryEntry; showsSchedule: boolean }) {
  const contact = contactPolicyEntryText(entry, formatDateTime);
  const reason = contact ? null : describeReason(entry.reason);
  const other = otherRunText(entry);
  const failing = entry.conditions?.filter((c) => !c.result && c.evaluated !== false) ?? [];
  return (
    <div>
      <p class="history__head">
        <StatusBadge status={entry.outcome} />
        <span>
          Attempt {entry.attempt} · <time dateTime={entry.at}>{formatDateTime(entry.at)}</time>
          {entry.by === 'user' ? ' · by a user' : ''}
          {entry.ruleVersion !== undefined ? ` · rule version ${entry.ruleVersion}` : ''}
        </span>
      </p>
      {reason ? <p class="history__reason">{reason}</p> : null}
      {contact ? <p class="history__reason history__reason--contact">{contact}</p> : null}
      {other ? <p>{other}</p> : null}
      {entry.reason === 'conditions-not-met' && failing.length > 0 ? (
        <div>
          <p class="history__label">Failing conditions</p>
          <ConditionTraceList traces={failing} />
        </div>
      ) : null}
      {entry.conditions && entry.reason !== 'conditions-not-met' && entry.conditions.length > 0 ? (
        <details>
          <summary>Conditions ({entry.conditions.filter((c) => c.result).length} of {entry.conditions.length} passed)</summary>
          <ConditionTraceList traces={entry.conditions} />
        </details>
      ) : null}
      {entry.actions && entry.actions.length > 0 ? (
        <div>
          <p class="history__label">Actions</p>
          <ul class="history__actions">
            {entry.actions.map((a) => (
              <li key={a.index} class={`history__action history__action--${a.status}`}>
                <span>
                  {a.index + 1}. {ACTION_LABELS[a.type] ?? a.type}: <strong>{skippedActionText(a) ?? ACTION_STATUS[a.status] ?? a.status}</strong>
                  {a.durationMs !== undefined ? ` in ${a.durationMs} ms` : ''}
                </span>
                {a.result !== undefined ? (
                  <span class="muted">
                    {' '}
                    · gateway answered <code>{JSON.stringify(a.result)}</code>
                  </span>
                ) : null}
                {a.error ? <ErrorBlock error={a.error} /> : null}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {entry.error && !entry.actions?.some((a) => a.error) ? <ErrorBlock error={entry.error} /> : null}
      {/* A run skipped at intake carries what its schedule had computed; a run with its own schedule shows it above. */}
      {entry.schedule && !showsSchedule ? <ScheduleDetails schedule={entry.schedule} evaluateAt={entry.schedule.local} /> : null}
      {entry.nextAttemptAt && !contact ? (
        <p class="muted">
          Next attempt at <time dateTime={entry.nextAttemptAt}>{formatDateTime(entry.nextAttemptAt)}</time>
        </p>
      ) : null}
    </div>
  );
}
