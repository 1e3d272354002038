import { describe, expect, it } from 'vitest';
import type { DryRunOk, EventAccepted, SavedRule, Trigger, TriggerPage, ValidateResult } from '../app/api/types.js';
import { describeReason } from '../app/format.js';
import { dryRunVerdict } from '../app/model/dry-run-verdict.js';
import { dryRunScheduleText, dueTimes, formatInZone, rescheduleText, scheduleSkipText } from '../app/model/run-schedule.js';
import { otherRunText, runEndReason } from '../app/model/run-outcome.js';
import { reminderSchedule, reminderTrigger } from './appointment-reminder.js';
import { rulesApiPerTest } from './rules-api-answers.js';

/** 1 day before the appointment at 09:00 in the client's zone, weekdays 8–18; keyed by appointment, so a move reschedules. */
const reminder = {
  name: 'Appointment reminder',
  trigger: reminderTrigger,
  schedule: reminderSchedule,
  conditions: { all: [] },
  actions: [{ type: 'sms', params: { recipient: '+15550001111', message: 'See you tomorrow' } }],
};
const booked = (id: string, appointment: Record<string, unknown>, timeZone = 'America/New_York') => ({ appointment: { id, ...appointment }, client: { timeZone } });
const iso = (text: string) => new Date(text).toISOString();

const openRulesApi = rulesApiPerTest();

/** The rules API over a real engine (its manual clock at 2030-01-01T09:00Z, a Tuesday), with the reminder saved. */
async function withReminder() {
  const api = await openRulesApi();
  const rule = await api.call<SavedRule>('POST', '/rules', reminder);
  const publish = (id: string, payload: unknown, timestamp: string) => api.call<EventAccepted>('POST', '/events', { name: 'appointment.booked', id, payload, timestamp });
  const runs = async () => (await api.call<TriggerPage>('GET', `/triggers?ruleId=${rule.id}`)).items;
  return { rule, publish, runs };
}

const byEvent = (runs: readonly Trigger[], eventId: string) => {
  const run = runs.find((t) => t.triggeringEvent.id === eventId);
  if (!run) throw new Error(`no run for the event ${eventId}`);
  return run;
};

describe("a scheduled run's due time", () => {
  it("is shown in the recipient's zone and in the viewer's", async () => {
    const { publish, runs } = await withReminder();
    await publish('e1', booked('ap_1', { startsAt: '2030-01-10T15:00:00Z' }, 'America/New_York'), '2030-01-01T09:00:00.000Z');
    const run = byEvent(await runs(), 'e1');
    expect(run.schedule).toMatchObject({ timeZone: 'America/New_York', zoneSource: 'payload', local: '2030-01-09T09:00:00.000-05:00' });
    const schedule = run.schedule;
    if (!schedule) throw new Error('the run has no schedule');
    expect(dueTimes(schedule, run.evaluateAt, 'Asia/Kolkata', 'en-US')).toEqual({
      recipient: { text: 'Jan 9, 2030, 9:00 AM EST', timeZone: 'America/New_York', iso: '2030-01-09T09:00:00.000-05:00' },
      viewer: { text: 'Jan 9, 2030, 7:30 PM GMT+5:30', timeZone: 'Asia/Kolkata' },
      same: false,
    });
    expect(dueTimes(schedule, run.evaluateAt, 'America/New_York', 'en-US').same).toBe(true);
  });

  it('says why it is not plain anchor + offset: a due time outside the window moves, with a note', async () => {
    const { publish, runs } = await withReminder();
    // The day before Monday 2030-01-14 is a Sunday: the window moves it to Monday 09:00.
    await publish('e1', booked('ap_1', { startsAt: '2030-01-14T15:00:00Z' }), '2030-01-01T09:00:00.000Z');
    const run = byEvent(await runs(), 'e1');
    expect(run.schedule?.local).toBe('2030-01-14T09:00:00.000-05:00');
    expect(run.schedule?.notes.map((n) => n.code)).toEqual(['window']);
    expect(run.schedule?.notes[0]?.message).not.toBe('');
  });

  it('shows a reschedule on both runs: the one moved and the one that took over', async () => {
    const { publish, runs } = await withReminder();
    await publish('e1', booked('ap_1', { startsAt: '2030-01-10T15:00:00Z' }), '2030-01-01T09:00:00.000Z');
    await publish('e2', booked('ap_1', { startsAt: '2030-01-17T15:00:00Z' }), '2030-01-01T09:05:00.000Z');
    const all = await runs();
    const [first, second] = [byEvent(all, 'e1'), byEvent(all, 'e2')];
    const format = (at: string) => formatInZone(at, 'America/New_York', 'en-US');
    const moved = second.executionHistory.find((e) => e.outcome === 'rescheduled');
    expect(moved).toMatchObject({ from: iso('2030-01-09T14:00:00Z'), to: iso('2030-01-16T14:00:00Z'), eventId: 'e2', triggerId: first.id });
    if (!moved) throw new Error('no rescheduled entry');
    expect(rescheduleText(moved, format)).toBe(`Moved from Jan 9, 2030, 9:00 AM EST to Jan 16, 2030, 9:00 AM EST by the event appointment.booked (e2), replacing the run ${first.id}.`);
    const replaced = first.executionHistory.at(-1);
    if (!replaced) throw new Error('the first run has no history');
    expect(replaced).toMatchObject({ outcome: 'superseded', reason: 'rescheduled' });
    expect(rescheduleText(replaced, format)).toBe(`Rescheduled by the event appointment.booked (e2): the run ${second.id} is due Jan 16, 2030, 9:00 AM EST instead of Jan 9, 2030, 9:00 AM EST.`);
    // The run's row and its history say it with the viewer's clock.
    expect(otherRunText(replaced)).toMatch(/^Rescheduled by the event appointment\.booked \(e2\)/);
    expect(describeReason('rescheduled')).toBe('A newer event for the same entity moved the scheduled time');
  });

  it('shows why a run was skipped (reason and message), and why an older run was cancelled when its date went away', async () => {
    const { publish, runs } = await withReminder();
    await publish('e1', booked('ap_1', { startsAt: '2030-01-10T15:00:00Z' }), '2030-01-01T09:00:00.000Z');
    await publish('e2', booked('ap_1', {}), '2030-01-01T09:05:00.000Z');
    await publish('e3', booked('ap_2', { startsAt: '2029-12-01T15:00:00Z' }), '2030-01-01T09:06:00.000Z');
    const all = await runs();
    const [older, missing, past] = [byEvent(all, 'e1'), byEvent(all, 'e2'), byEvent(all, 'e3')];

    expect(missing.status).toBe('skipped');
    const skip = missing.executionHistory[0];
    expect(skip).toMatchObject({ outcome: 'skipped', reason: 'anchor-missing', error: { code: 'CRM_ERR_SCHEDULE_ANCHOR' } });
    if (!skip?.error) throw new Error('the skip has no error');
    const message = skip.error.message;
    expect(scheduleSkipText(skip)).toBe(`Skipped: the date the schedule counts from is missing from the event, or is not a date. ${message.charAt(0).toUpperCase()}${message.slice(1)}${message.endsWith('.') ? '' : '.'}`);
    expect(runEndReason(missing)).toBe(scheduleSkipText(skip));

    expect(older.status).toBe('cancelled');
    expect(runEndReason(older)).toBe('Cancelled by the event appointment.booked (e2): its date to schedule from is gone.');

    expect(past.status).toBe('skipped');
    expect(runEndReason(past)).toMatch(/^Skipped: the scheduled time was already past when the event arrived\. /);
  });
});

describe("a dry run's schedule", () => {
  const validate = async (payload: unknown) => {
    const api = await openRulesApi();
    const answer = await api.call<ValidateResult>('POST', '/rules/validate', { rule: reminder, sample: { payload } });
    if (!answer.valid || !answer.dryRun?.valid) throw new Error(`the rule did not dry-run: ${JSON.stringify(answer)}`);
    return answer.dryRun as DryRunOk;
  };

  it('says when the run would be due, in whose zone and why that zone', async () => {
    const result = await validate(booked('ap_1', { startsAt: '2030-01-10T15:00:00Z' }, 'Europe/London'));
    expect(result.schedule).toMatchObject({ outcome: 'scheduled', local: expect.stringMatching(/^2030-01-09T09:00:00\.000(Z|\+00:00)$/), utc: '2030-01-09T09:00:00.000Z', timeZone: 'Europe/London', zoneSource: 'payload' });
    if (!result.schedule) throw new Error('no schedule in the dry run');
    expect(dryRunScheduleText(result.schedule, 'en-US')).toBe("Due Jan 9, 2030, 9:00 AM GMT in Europe/London (the event's zone).");
  });

  it('says why the event would be skipped, and the banner says no run would start', async () => {
    const result = await validate(booked('ap_1', { startsAt: 'not a date' }));
    expect(result.schedule).toMatchObject({ outcome: 'skipped', reason: 'anchor-missing' });
    if (!result.schedule) throw new Error('no schedule in the dry run');
    expect(dryRunScheduleText(result.schedule)).toMatch(/^Would be skipped: the date the schedule counts from is missing from the event, or is not a date\. ./);
    expect(dryRunVerdict(result)).toMatchObject({ tone: 'neutral', text: 'The schedule skips this event (the date the schedule counts from is missing from the event, or is not a date): no run would start' });
  });
});
