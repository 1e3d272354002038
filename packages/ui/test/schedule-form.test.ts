import { describe, expect, it } from 'vitest';
import { technicianSmsRule } from '@crm-automation/testing';
import type { Rule, SavedRule, ValidateResult } from '../app/api/types.js';
import { describeFieldPath, formFieldPaths } from '../app/model/form-fields.js';
import { issuesForPeople } from '../app/model/issue-messages.js';
import type { JsonObject, JsonValue } from '../app/model/json.js';
import { documentOf } from '../app/model/rule-document.js';
import { formToRule, ruleToForm, type RuleForm } from '../app/model/rule-form.js';
import { emptyScheduleForm, scheduleFormWords, toggleWindowDay, typedSchedule } from '../app/model/schedule-form.js';
import { describeSchedule } from '../app/model/schedule-words.js';
import { reminderSchedule, reminderTrigger } from './appointment-reminder.js';
import { rulesApiPerTest } from './rules-api-answers.js';

const roundTrip = (doc: JsonValue) => formToRule(ruleToForm(doc));
const { delay: _delay, ...withoutDelay } = technicianSmsRule as unknown as JsonObject;

/** The issue's reminder: every schedule field the form has. */
const everyScheduleField: JsonObject = { ...reminderSchedule, ifPast: 'skip' };
const reminderRule: JsonObject = {
  ...withoutDelay,
  name: 'Appointment reminder',
  trigger: reminderTrigger,
  schedule: everyScheduleField,
  conditions: { all: [] },
  actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'client', path: '$.phone' }, message: 'See you tomorrow at {{appointment.startsAt}}' } }],
};
const withSchedule = (schedule: JsonValue): JsonObject => ({ ...reminderRule, schedule });

const openRulesApi = rulesApiPerTest();

describe('schedule: rule document ↔ form', () => {
  it('keeps a scheduled rule exactly, with no delay added', () => {
    const result = roundTrip(reminderRule);
    expect(result.issues).toEqual([]);
    expect(result.rule).toEqual(reminderRule);
    expect(result.rule).not.toHaveProperty('delay');
  });

  it('reads each part of the schedule into the field a person sees', () => {
    const form = ruleToForm(reminderRule);
    expect(form.timing).toBe('schedule');
    expect(form.schedule).toMatchObject({
      anchor: '$.appointment.startsAt',
      offsetValue: '1',
      offsetUnit: 'days',
      offsetDirection: 'before',
      at: '09:00',
      zoneMode: 'path',
      zonePath: '$.client.timeZone',
      fallbackZone: 'America/Chicago',
      windowOn: true,
      windowDays: ['mon', 'tue', 'wed', 'thu', 'fri'],
      windowFrom: '08:00',
      windowTo: '18:00',
      ifPast: 'skip',
      raw: null,
    });
  });

  it.each<[string, JsonValue]>([
    ['only an anchor', { anchor: 'event.timestamp' }],
    ['after, in weeks, a literal zone', { anchor: '$.job.closedAt', offset: { value: 2, unit: 'weeks' }, timeZone: 'Asia/Kolkata' }],
    ['a zero offset', { anchor: '$.a.b', offset: { value: 0, unit: 'hours' } }],
    ['a window without days, past midnight', { anchor: '$.a.b', window: { from: '22:00', to: '06:00' } }],
    ['days out of order', { anchor: '$.a.b', window: { days: ['fri', 'mon'], from: '08:00', to: '12:00' } }],
    ['an empty day list', { anchor: '$.a.b', window: { days: [], from: '08:00', to: '12:00' } }],
    ['ifPast now', { anchor: '$.a.b', ifPast: 'now' }],
    ['a fallback without a path zone (the API refuses it; the form keeps it)', { anchor: '$.a.b', timeZone: 'UTC', fallbackTimeZone: 'Europe/London' }],
    ['keys the form has no field for', { anchor: '$.a.b', note: 'kept', window: { from: '08:00', to: '09:00', label: 'morning' } }],
    ['a schedule the form cannot show field by field', { anchor: '$.a.b', offset: { value: '1', unit: 'days' } }],
    ['not an object', 'tomorrow'],
  ])('keeps %s', (_name, schedule) => {
    const doc = withSchedule(schedule);
    const result = roundTrip(doc);
    expect(result.issues).toEqual([]);
    expect(result.rule).toEqual(doc);
  });

  it('keeps a delay rule a delay rule', () => {
    const result = roundTrip(technicianSmsRule as unknown as JsonObject);
    expect(result.rule).toEqual(technicianSmsRule);
    expect(result.rule).not.toHaveProperty('schedule');
    expect(ruleToForm(technicianSmsRule as unknown as JsonObject).timing).toBe('delay');
  });

  it('drops the zero delay a stored scheduled rule comes back with, and keeps any other for the API to refuse', () => {
    expect(roundTrip({ ...reminderRule, delay: { value: 0, unit: 'minutes' } }).rule).toEqual(reminderRule);
    expect(roundTrip({ ...reminderRule, delay: { value: 5, unit: 'minutes' } }).rule).toEqual({ ...reminderRule, delay: { value: 5, unit: 'minutes' } });
  });

  it('switches between a delay and a schedule without losing either', () => {
    const form = ruleToForm(reminderRule);
    const asDelay: RuleForm = { ...form, timing: 'delay', delayValue: '15', delayUnit: 'minutes' };
    expect(formToRule(asDelay).rule).toMatchObject({ delay: { value: 15, unit: 'minutes' } });
    expect(formToRule(asDelay).rule).not.toHaveProperty('schedule');
    // What the editor does on choosing the schedule again: the wait goes back to zero.
    const back = formToRule({ ...asDelay, timing: 'schedule', delayValue: '0' }).rule;
    expect(back).toEqual(reminderRule);
  });

  it('writes what a person sets: before is a negative offset, empty fields are left out', () => {
    const schedule = { ...emptyScheduleForm(), anchor: '$.appointment.startsAt', offsetValue: '2', offsetUnit: 'hours' as const, zoneMode: 'literal' as const, zone: 'Europe/London' };
    const form: RuleForm = { ...ruleToForm(reminderRule), schedule };
    expect(formToRule(form).rule['schedule']).toEqual({ anchor: '$.appointment.startsAt', offset: { value: -2, unit: 'hours' }, timeZone: 'Europe/London' });
    expect(formToRule({ ...form, schedule: { ...schedule, offsetDirection: 'after', offsetValue: '0' } }).rule['schedule']).toEqual({
      anchor: '$.appointment.startsAt',
      offset: { value: 0, unit: 'hours' },
      timeZone: 'Europe/London',
    });
  });

  it('finds an offset that is not a number, or has a sign, before the API is asked', () => {
    const form = ruleToForm(reminderRule);
    expect(formToRule({ ...form, schedule: { ...form.schedule, offsetValue: 'one' } }).issues).toEqual([{ path: 'schedule.offset.value', code: 'invalid_number', message: 'How many must be a number, like 1' }]);
    expect(formToRule({ ...form, schedule: { ...form.schedule, offsetValue: '-1' } }).issues.map((i) => i.path)).toEqual(['schedule.offset.value']);
    expect(scheduleFormWords({ ...form.schedule, offsetValue: 'one' }, describeSchedule)).toBeNull();
  });

  it('ticks window days in the week order; every day ticked is the seven days', () => {
    expect(toggleWindowDay(null, 'sun', false)).toEqual(['mon', 'tue', 'wed', 'thu', 'fri', 'sat']);
    expect(toggleWindowDay(['fri', 'mon'], 'wed', true)).toEqual(['mon', 'wed', 'fri']);
    expect(toggleWindowDay(['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], 'sun', true)).toHaveLength(7);
  });

  it('reads the form in words, as the rules list reads the saved rule', () => {
    const form = ruleToForm(reminderRule);
    const words = "1 day before Appointment starts at, at 09:00, in the client's time zone ($.client.timeZone, else America/Chicago), weekdays 08:00–18:00, skipped if already past";
    expect(scheduleFormWords(form.schedule, describeSchedule)).toBe(words);
    const typed = typedSchedule(everyScheduleField);
    expect(typed && describeSchedule(typed)).toBe(words);
    expect(typedSchedule({ anchor: 3 })).toBeNull();
  });

  it('has a field for each schedule path the API reports, and names it', () => {
    const form = ruleToForm(reminderRule);
    const paths = formFieldPaths(form);
    for (const path of ['schedule', 'schedule.anchor', 'schedule.offset.value', 'schedule.offset.unit', 'schedule.at', 'schedule.timeZone', 'schedule.fallbackTimeZone', 'schedule.window.days', 'schedule.window.from', 'schedule.window.to', 'schedule.ifPast']) {
      expect(paths, path).toContain(path);
    }
    expect(formFieldPaths(ruleToForm(technicianSmsRule as unknown as JsonObject))).not.toContain('schedule.anchor');
    expect(describeFieldPath('schedule.window.from')).toBe('Schedule › window › from');
  });
});

describe('schedule: what the Rules API answers', () => {
  it('saves the form’s scheduled rule, and a stored one loaded into the form saves back unchanged', async () => {
    const api = await openRulesApi();
    const created = await api.call<SavedRule>('POST', '/rules', formToRule(ruleToForm(reminderRule)).rule);
    const stored = await api.call<Rule>('GET', `/rules/${created.id}`);
    expect(stored.schedule).toEqual(everyScheduleField);
    const { rule: again, issues } = roundTrip(documentOf(stored) as JsonObject);
    expect(issues).toEqual([]);
    // The stored rule's zero delay is dropped, or the API would refuse it next to the schedule.
    expect(again).toEqual(reminderRule);
    const validated = await api.call<ValidateResult>('POST', '/rules/validate', { rule: again });
    expect(validated).toMatchObject({ valid: true });
  });

  it("places the API's schedule issues at the schedule's fields, in words that name them", async () => {
    const api = await openRulesApi();
    const doc = withSchedule({ anchor: '$.appointment.startsAt', at: '9am', timeZone: 'Mars/Olympus', window: { days: ['mon', 'mon'], from: '08:00', to: '08:00' } });
    const answer = await api.call<ValidateResult>('POST', '/rules/validate', { rule: doc });
    if (answer.valid) throw new Error('the API took a schedule with a bad time, zone and window');
    const form = ruleToForm(doc);
    const placed = issuesForPeople(answer.issues, formFieldPaths(form));
    const fields = [...placed.byField.keys()];
    expect(fields).toEqual(expect.arrayContaining(['schedule.at', 'schedule.timeZone', 'schedule.window.days']));
    expect(placed.unplaced).toEqual([]);
    const zone = placed.byField.get('schedule.timeZone')?.[0];
    expect(zone?.code).toBe('unknown_time_zone');
  });

  it('refuses a delay next to a schedule, at the schedule', async () => {
    const api = await openRulesApi();
    const doc = formToRule(ruleToForm({ ...reminderRule, delay: { value: 5, unit: 'minutes' } })).rule;
    const answer = await api.call<ValidateResult>('POST', '/rules/validate', { rule: doc });
    expect(answer.valid).toBe(false);
    if (answer.valid) return;
    const placed = issuesForPeople(answer.issues, formFieldPaths(ruleToForm(doc)));
    expect(placed.byField.get('schedule')?.[0]?.code).toBe('delay_and_schedule');
  });
});
