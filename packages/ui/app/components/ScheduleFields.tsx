import { childPath, fieldId } from '../model/issue-path.js';
import { scheduleFormWords, toggleWindowDay, type ScheduleForm, type ZoneMode } from '../model/schedule-form.js';
import { describeSchedule, EVENT_TIMESTAMP_ANCHOR, anchorLabel, SCHEDULE_UNITS, WEEKDAY_NAMES, WEEKDAYS } from '../model/schedule-words.js';
import { useEditor } from './editor-context.js';
import { Field, FieldError } from './Field.js';
import { ChoiceSelect, CodeInput, JsonTextarea, Suggestions } from './FormControls.js';

const ANCHOR_PATHS_LIST = 'schedule-anchor-paths';
const ZONE_PATHS_LIST = 'schedule-zone-paths';

/** The zones the browser knows (IANA names), for the zone selects; the value at hand is always offered. */
export function zoneChoices(current: string): readonly string[] {
  const known = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  // Browsers list UTC under Etc or not at all; it is the engine's default zone, so it is always offered.
  const zones = known.includes('UTC') ? known : ['UTC', ...known];
  return current === '' || zones.includes(current) ? zones : [current, ...zones];
}

export const ZONE_MODE_LABELS: Record<ZoneMode, string> = {
  '': 'UTC (default)',
  literal: 'A fixed time zone',
  path: 'From the event (the recipient’s zone)',
};

const IF_PAST_LABELS: Record<'' | 'skip' | 'now', string> = {
  '': 'Skip the run (default)',
  skip: 'Skip the run',
  now: 'Run it at once',
};

interface ScheduleFieldsProps {
  schedule: ScheduleForm;
  onChange: (schedule: ScheduleForm) => void;
}

/**
 * A schedule, field by field: the date in the event it counts from, how long before or after, the
 * local time of day, the recipient's time zone, the hours a run may start in, and what a time already
 * past does. Its words (describeSchedule) sit on top, so a person reads what they built.
 */
export function ScheduleFields({ schedule, onChange }: ScheduleFieldsProps) {
  const { placeholders } = useEditor();
  const set = (patch: Partial<ScheduleForm>) => onChange({ ...schedule, ...patch });
  // Whole-payload paths (`$.appointment.startsAt`) from the sample; text values only, since a date or a zone is text.
  const payloadPaths = placeholders.filter((p) => typeof p.example === 'string').map((p) => `$.${p.fact}${p.jsonPath.slice(1)}`);
  const words = scheduleFormWords(schedule, describeSchedule);

  if (schedule.raw !== null) {
    return (
      <Field path="schedule" label="Schedule (JSON)" hint="This schedule is not in a shape the form can show; edit it as JSON.">
        {(control) => <JsonTextarea {...control} rows={6} value={schedule.raw ?? ''} onText={(raw) => set({ raw })} />}
      </Field>
    );
  }

  return (
    <div class="schedule" id={fieldId('schedule')} tabIndex={-1}>
      <p class="schedule__words" aria-live="polite">
        <span class="visually-hidden">Schedule: </span>
        {words ?? 'Finish the fields below to read the schedule in words.'}
      </p>
      <FieldError path="schedule" />
      <Suggestions id={ANCHOR_PATHS_LIST} values={[EVENT_TIMESTAMP_ANCHOR, ...payloadPaths]} />
      <Field
        path="schedule.anchor"
        label="Date to count from"
        hint={
          schedule.anchor.trim() === ''
            ? `A JSONPath to a date in the event, like $.appointment.startsAt, or ${EVENT_TIMESTAMP_ANCHOR} for the event's own time.`
            : `${anchorLabel(schedule.anchor)}. An event without this date is skipped.`
        }
      >
        {(control) => <CodeInput {...control} list={ANCHOR_PATHS_LIST} placeholder="$.appointment.startsAt" value={schedule.anchor} onText={(anchor) => set({ anchor })} />}
      </Field>

      <div class="field-row">
        <Field path="schedule.offset.value" label="How many (optional)" class="field-row__narrow" hint="Empty: at the date itself.">
          {(control) => (
            <input {...control} type="text" inputMode="numeric" autocomplete="off" value={schedule.offsetValue} onInput={(e) => set({ offsetValue: e.currentTarget.value })} />
          )}
        </Field>
        <Field path="schedule.offset.unit" label="Unit" class="field-row__narrow">
          {(control) => <ChoiceSelect {...control} value={schedule.offsetUnit} choices={SCHEDULE_UNITS} onChoose={(offsetUnit) => set({ offsetUnit })} />}
        </Field>
        <Field path="schedule.offset" label="Before or after" class="field-row__narrow">
          {(control) => (
            <ChoiceSelect
              {...control}
              value={schedule.offsetDirection}
              choices={['before', 'after'] as const}
              labelOf={(d) => (d === 'before' ? 'before the date' : 'after the date')}
              onChoose={(offsetDirection) => set({ offsetDirection })}
            />
          )}
        </Field>
      </div>
      <p class="field__hint">Days, weeks and months are calendar units in the recipient's zone: 1 day before keeps the time of day across a daylight-saving change.</p>

      <Field path="schedule.at" label="At (local time, optional)" hint="Empty: the time of day the date and offset give.">
        {(control) => <input {...control} type="time" class="input--time" value={schedule.at} onInput={(e) => set({ at: e.currentTarget.value })} />}
      </Field>

      <fieldset class="subsection">
        <legend>Time zone</legend>
        <div class="field-row">
          <Field path="schedule$zoneMode" label="Whose time" class="field-row__wide">
            {(control) => (
              <ChoiceSelect
                {...control}
                value={schedule.zoneMode}
                choices={['', 'literal', 'path'] as const}
                labelOf={(mode) => ZONE_MODE_LABELS[mode]}
                // A fallback belongs to a zone read from the event; it is not kept for the other modes.
                onChoose={(zoneMode) => set({ zoneMode, ...(zoneMode === 'path' ? {} : { fallbackZone: '' }), ...(zoneMode === 'literal' && schedule.zone === '' ? { zone: browserZone() } : {}) })}
              />
            )}
          </Field>
        </div>
        {schedule.zoneMode === 'literal' ? (
          <Field path="schedule.timeZone" label="Time zone (IANA name)">
            {(control) => <ChoiceSelect {...control} value={schedule.zone} choices={zoneChoices(schedule.zone)} onChoose={(zone) => set({ zone })} />}
          </Field>
        ) : null}
        {schedule.zoneMode === 'path' ? (
          <div class="field-row">
            <Suggestions id={ZONE_PATHS_LIST} values={payloadPaths} />
            <Field path="schedule.timeZone" label="Zone in the event (JSONPath)" class="field-row__wide" hint="An IANA name in the payload, like America/Chicago.">
              {(control) => <CodeInput {...control} list={ZONE_PATHS_LIST} placeholder="$.client.timeZone" value={schedule.zonePath} onText={(zonePath) => set({ zonePath })} />}
            </Field>
            <Field path="schedule.fallbackTimeZone" label="Else (fallback zone)" class="field-row__wide" hint="Used when the event has no zone there; without one such an event is skipped.">
              {(control) => (
                <ChoiceSelect {...control} value={schedule.fallbackZone} choices={zoneChoices(schedule.fallbackZone)} emptyLabel="None: skip the run" onChoose={(fallbackZone) => set({ fallbackZone })} />
              )}
            </Field>
          </div>
        ) : null}
        {schedule.zoneMode !== 'path' && schedule.fallbackZone !== '' ? <FieldError path="schedule.fallbackTimeZone" /> : null}
      </fieldset>

      <fieldset class="subsection">
        <legend>Hours the run may start in</legend>
        <div class="field field--inline">
          <input id={fieldId('schedule.window')} type="checkbox" checked={schedule.windowOn} onChange={(e) => set({ windowOn: e.currentTarget.checked })} />
          <label for={fieldId('schedule.window')}>Only in these hours: a time outside them moves to the next opening</label>
          <FieldError path="schedule.window" />
        </div>
        {schedule.windowOn ? (
          <>
            <fieldset class="weekdays" id={fieldId('schedule.window.days')} tabIndex={-1} aria-describedby={`${fieldId('schedule.window.days')}-hint`}>
              <legend class="field__label">Days</legend>
              <div class="weekdays__list">
                {WEEKDAYS.map((day) => (
                  <label key={day} class="weekdays__day">
                    <input
                      type="checkbox"
                      checked={schedule.windowDays === null || schedule.windowDays.includes(day)}
                      onChange={(e) => set({ windowDays: toggleWindowDay(schedule.windowDays, day, e.currentTarget.checked) })}
                    />
                    <span aria-hidden="true">{WEEKDAY_NAMES[day].slice(0, 3)}</span>
                    <span class="visually-hidden">{WEEKDAY_NAMES[day]}</span>
                  </label>
                ))}
              </div>
              <p id={`${fieldId('schedule.window.days')}-hint`} class="field__hint">
                The day an opening starts on.
              </p>
              <FieldError path="schedule.window.days" />
            </fieldset>
            <div class="field-row">
              <Field path="schedule.window.from" label="From" class="field-row__narrow">
                {(control) => <input {...control} type="time" class="input--time" value={schedule.windowFrom} onInput={(e) => set({ windowFrom: e.currentTarget.value })} />}
              </Field>
              <Field path="schedule.window.to" label="To" class="field-row__narrow" hint="Before From: the opening ends the next day (22:00–06:00).">
                {(control) => <input {...control} type="time" class="input--time" value={schedule.windowTo} onInput={(e) => set({ windowTo: e.currentTarget.value })} />}
              </Field>
            </div>
          </>
        ) : null}
      </fieldset>

      <Field path="schedule.ifPast" label="If the time is already past when the event arrives">
        {(control) => (
          <ChoiceSelect
            {...control}
            value={schedule.ifPast}
            choices={['', 'now', ...(schedule.ifPast === 'skip' ? ['skip' as const] : [])] as const}
            labelOf={(mode) => IF_PAST_LABELS[mode]}
            onChoose={(ifPast) => set({ ifPast })}
          />
        )}
      </Field>
      {Object.keys(schedule.extra).length + Object.keys(schedule.windowExtra).length > 0 ? (
        <p class="field__hint">
          Also in the schedule: <code>{[...Object.keys(schedule.extra), ...Object.keys(schedule.windowExtra).map((k) => childPath('window', k))].join(', ')}</code> (edit in the JSON view).
        </p>
      ) : null}
    </div>
  );
}

/** The viewer's own zone: the likeliest first choice for a fixed zone. */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}
