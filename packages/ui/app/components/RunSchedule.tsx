import type { DryRunSchedule, ScheduleNote, Trigger, TriggerSchedule } from '../api/types.js';
import { dryRunScheduleText, dueTimes, formatInZone, NOTE_LABELS, viewerZone, ZONE_SOURCE_TEXT } from '../model/run-schedule.js';

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
      <div>
        <dt>Recipient's time</dt>
        <dd>
          <time dateTime={times.recipient.iso}>{times.recipient.text}</time>
          {times.recipient.text.endsWith(times.recipient.timeZone) ? null : <span class="muted break"> {times.recipient.timeZone}</span>}
        </dd>
      </div>
      {times.same ? null : (
        <div>
          <dt>Your time</dt>
          <dd>
            <time dateTime={trigger.evaluateAt}>{times.viewer.text}</time>
            {times.viewer.text.endsWith(times.viewer.timeZone) ? null : <span class="muted break"> {times.viewer.timeZone}</span>}
          </dd>
        </div>
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
          <div>
            <dt>Counted from</dt>
            <dd class="break">
              <code>{schedule.anchor}</code>
            </dd>
          </div>
        ) : null}
        {zone !== undefined ? (
          <div>
            <dt>Time zone</dt>
            <dd class="break">
              {zone}
              {schedule.zoneSource ? <span class="muted"> · {ZONE_SOURCE_TEXT[schedule.zoneSource]}</span> : null}
            </dd>
          </div>
        ) : null}
        {evaluateAt !== undefined && schedule.local !== undefined && zone !== undefined ? (
          <div>
            <dt>Recipient's time</dt>
            <dd>
              <time dateTime={schedule.local}>{formatInZone(schedule.local, zone)}</time>
            </dd>
          </div>
        ) : null}
        {evaluateAt !== undefined ? (
          <div>
            <dt>Your time</dt>
            <dd>
              <time dateTime={evaluateAt}>{formatInZone(evaluateAt, viewerZone())}</time>
            </dd>
          </div>
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
            <div>
              <dt>Local</dt>
              <dd>
                <code>{schedule.local}</code>
              </dd>
            </div>
          ) : null}
          {schedule.utc !== undefined ? (
            <div>
              <dt>UTC</dt>
              <dd>
                <code>{schedule.utc}</code>
              </dd>
            </div>
          ) : null}
          {schedule.utc !== undefined ? (
            <div>
              <dt>Your time</dt>
              <dd>
                <time dateTime={schedule.utc}>{formatInZone(schedule.utc, viewerZone())}</time>
              </dd>
            </div>
          ) : null}
          {schedule.anchor !== undefined ? (
            <div>
              <dt>Counted from</dt>
              <dd class="break">
                <code>{schedule.anchor}</code>
              </dd>
            </div>
          ) : null}
        </dl>
      ) : null}
      <ScheduleNotes notes={schedule.notes} />
    </div>
  );
}
