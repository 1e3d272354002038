import type { ComponentChildren } from 'preact';
import type { DryRunSchedule, ScheduleNote, Trigger, TriggerSchedule } from '../api/types.js';
import { dryRunScheduleText, dueTimes, formatInZone, NOTE_LABELS, viewerZone, ZONE_SOURCE_TEXT } from '../model/run-schedule.js';

/** One term and its value in a run's `<dl>`; `class` goes on the `<dd>`. */
function MetaEntry({ term, class: valueClass, children }: { term: string; class?: string | undefined; children: ComponentChildren }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd class={valueClass}>{children}</dd>
    </div>
  );
}

/**
 * A scheduled run's due time where the recipient is and where the viewer is, as `<dl>` entries of the
 * run's row. The recipient's time is the one the rule was written for ("at 09:00 in the client's
 * zone"); the viewer's is when it happens for them.
 */
export function RunDueTimes({ trigger }: { trigger: Trigger }) {
  const schedule = trigger.schedule;
  if (!schedule) return null;
  const times = dueTimes(schedule, trigger.evaluateAt, viewerZone());
  return (
    <>
      <MetaEntry term="Recipient's time">
        <time dateTime={times.recipient.iso}>{times.recipient.text}</time>
        {times.recipient.text.endsWith(times.recipient.timeZone) ? null : <span class="muted break"> {times.recipient.timeZone}</span>}
      </MetaEntry>
      {times.same ? null : (
        <MetaEntry term="Your time">
          <time dateTime={trigger.evaluateAt}>{times.viewer.text}</time>
          {times.viewer.text.endsWith(times.viewer.timeZone) ? null : <span class="muted break"> {times.viewer.timeZone}</span>}
        </MetaEntry>
      )}
    </>
  );
}

/** The notes on how a due time was computed (window, DST gap or repeat, past, month end), in the order applied. */
export function ScheduleNotes({ notes }: { notes: readonly ScheduleNote[] }) {
  if (notes.length === 0) return null;
  return (
    <ul class="schedule-notes">
      {notes.map((note, i) => (
        <li key={`${note.code}-${i}`} class={`schedule-note schedule-note--${note.code}`}>
          <strong>{NOTE_LABELS[note.code] ?? note.code}:</strong> {note.message}
        </li>
      ))}
    </ul>
  );
}

/**
 * How a run's due time was computed: the date read, the zone and where it came from, the notes; and
 * the due time in both zones when `evaluateAt` is given (a run's row shows them otherwise).
 */
export function ScheduleDetails({ schedule, evaluateAt }: { schedule: Partial<TriggerSchedule>; evaluateAt?: string | undefined }) {
  const zone = schedule.timeZone;
  return (
    <div class="schedule-details">
      <p class="history__label">Schedule</p>
      <dl class="run__meta">
        {schedule.anchor !== undefined ? (
          <MetaEntry term="Counted from" class="break">
            <code>{schedule.anchor}</code>
          </MetaEntry>
        ) : null}
        {zone !== undefined ? (
          <MetaEntry term="Time zone" class="break">
            {zone}
            {schedule.zoneSource ? <span class="muted"> · {ZONE_SOURCE_TEXT[schedule.zoneSource]}</span> : null}
          </MetaEntry>
        ) : null}
        {evaluateAt !== undefined && schedule.local !== undefined && zone !== undefined ? (
          <MetaEntry term="Recipient's time">
            <time dateTime={schedule.local}>{formatInZone(schedule.local, zone)}</time>
          </MetaEntry>
        ) : null}
        {evaluateAt !== undefined ? (
          <MetaEntry term="Your time">
            <time dateTime={evaluateAt}>{formatInZone(evaluateAt, viewerZone())}</time>
          </MetaEntry>
        ) : null}
      </dl>
      <ScheduleNotes notes={schedule.notes ?? []} />
    </div>
  );
}

/** A dry run's schedule: when the run would be due (recipient's and viewer's time, UTC) or why it would be skipped. */
export function DryRunScheduleView({ schedule }: { schedule: DryRunSchedule }) {
  return (
    <div class="dry-run__schedule">
      <h3 class="dry-run__heading">Schedule</h3>
      <p class={schedule.outcome === 'skipped' ? 'notice notice--warning' : undefined}>{dryRunScheduleText(schedule)}</p>
      {schedule.outcome === 'scheduled' ? (
        <dl class="run__meta">
          {schedule.local !== undefined ? (
            <MetaEntry term="Local">
              <code>{schedule.local}</code>
            </MetaEntry>
          ) : null}
          {schedule.utc !== undefined ? (
            <>
              <MetaEntry term="UTC">
                <code>{schedule.utc}</code>
              </MetaEntry>
              <MetaEntry term="Your time">
                <time dateTime={schedule.utc}>{formatInZone(schedule.utc, viewerZone())}</time>
              </MetaEntry>
            </>
          ) : null}
          {schedule.anchor !== undefined ? (
            <MetaEntry term="Counted from" class="break">
              <code>{schedule.anchor}</code>
            </MetaEntry>
          ) : null}
        </dl>
      ) : null}
      <ScheduleNotes notes={schedule.notes} />
    </div>
  );
}
