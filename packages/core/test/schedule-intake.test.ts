import { describe, expect, it } from 'vitest';
import { asUntrustedRule, createAutomationEngine, RuleValidationError, type RuleInput } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryStore } from '@crm-automation/core/memory';

const ACCOUNT = 'acc_1';
/** Intake happens on Monday 2026-03-02, 12:00 UTC. */
const NOW = '2026-03-02T12:00:00Z';

/** "At 09:00 the day before the appointment, in the client's time zone." */
const reminder = {
  name: 'Appointment reminder',
  trigger: { eventName: 'appointment.scheduled', key: '$.appointment.id' },
  schedule: { anchor: '$.appointment.startsAt', offset: { value: -1, unit: 'days' }, at: '09:00', timeZone: '$.client.timeZone', fallbackTimeZone: 'America/Chicago' },
  conditions: { all: [{ fact: 'appointment', path: '$.status', operator: 'equal', value: 'booked' }] },
  actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'client', path: '$.phone' }, message: 'Reminder: your appointment is at {{appointment.startsAt}}' } }],
} satisfies RuleInput;

/** `timeZone: null` leaves the client's zone out of the payload. */
const appointment = (startsAt: string | undefined, timeZone: string | null = 'America/New_York', id = 'apt-1') => ({
  appointment: { id, status: 'booked', ...(startsAt === undefined ? {} : { startsAt }) },
  client: { phone: '+15550001111', ...(timeZone === null ? {} : { timeZone }) },
});

function setup() {
  const clock = createManualClock(NOW);
  const store = createMemoryStore();
  const sms = createRecordingChannel();
  const engine = createAutomationEngine({ store, clock, channels: { sms }, instanceId: 'engine-a' });
  const scheduled = (id: string, startsAt: string | undefined, timestamp: string, extra: { timeZone?: string | null; apt?: string } = {}) =>
    engine.ingest({ id, name: 'appointment.scheduled', accountId: ACCOUNT, timestamp, payload: appointment(startsAt, extra.timeZone, extra.apt) });
  return { clock, store, sms, engine, scheduled };
}

describe('scheduled rules at intake', () => {
  it('is due at 09:00 the day before the anchor, in the payload zone, and fires then', async () => {
    const { engine, scheduled, clock, sms } = setup();
    await engine.rules.create(ACCOUNT, reminder);
    const [trigger] = await scheduled('e1', '2026-03-10T15:00:00-04:00', '2026-03-02T11:59:00Z');
    expect(trigger?.status).toBe('pending');
    expect(trigger?.evaluateAt.toISOString()).toBe('2026-03-09T13:00:00.000Z');
    expect(trigger?.schedule).toMatchObject({ timeZone: 'America/New_York', zoneSource: 'payload', local: '2026-03-09T09:00:00.000-04:00', anchor: '2026-03-10T15:00:00-04:00' });
    await clock.set('2026-03-09T12:59:59Z');
    await engine.runDue();
    expect(sms.sent).toHaveLength(0);
    await clock.set('2026-03-09T13:00:00Z');
    await engine.runDue();
    expect(sms.sent).toHaveLength(1);
  });

  it('falls back to the rule zone when the payload has none, and to UTC when the schedule names none', async () => {
    const { engine, scheduled } = setup();
    await engine.rules.create(ACCOUNT, reminder);
    const [fallback] = await scheduled('e1', '2026-03-10T15:00:00Z', NOW, { timeZone: null });
    expect(fallback?.schedule).toMatchObject({ timeZone: 'America/Chicago', zoneSource: 'fallback', local: '2026-03-09T09:00:00.000-05:00' });
    const { timeZone: _zone, fallbackTimeZone: _fallback, ...utcSchedule } = reminder.schedule;
    await engine.rules.create(ACCOUNT, { ...reminder, name: 'utc', trigger: { eventName: 'appointment.scheduled' }, schedule: utcSchedule });
    const triggers = await scheduled('e2', '2026-03-10T15:00:00Z', NOW, { apt: 'apt-2' });
    expect(triggers.map((t) => t.schedule?.zoneSource).sort()).toEqual(['default', 'payload']);
    expect(triggers.find((t) => t.schedule?.zoneSource === 'default')?.evaluateAt.toISOString()).toBe('2026-03-09T09:00:00.000Z');
  });

  it.each([
    ['no anchor', undefined, 'America/New_York', 'anchor-missing', 'CRM_ERR_SCHEDULE_ANCHOR'],
    ['an unparsable anchor', 'next tuesday', 'America/New_York', 'anchor-missing', 'CRM_ERR_SCHEDULE_ANCHOR'],
    ['a date that does not exist', '2027-02-29T10:00:00Z', 'America/New_York', 'anchor-missing', 'CRM_ERR_SCHEDULE_ANCHOR'],
    ['an unknown zone in the payload', '2026-03-10T15:00:00Z', 'Mars/Olympus_Mons', 'zone-unknown', 'CRM_ERR_SCHEDULE_ZONE'],
    ['a due time already past', '2026-03-02T15:00:00Z', 'America/New_York', 'past', 'CRM_ERR_SCHEDULE_PAST'],
    ['a due time beyond the horizon', '2206-03-10T15:00:00Z', 'America/New_York', 'beyond-horizon', 'CRM_ERR_SCHEDULE_HORIZON'],
  ])('records the run skipped for %s (%s), never pending', async (_label, startsAt, zone, reason, code) => {
    const { engine, scheduled } = setup();
    await engine.rules.create(ACCOUNT, reminder);
    const result = await scheduled('e1', startsAt, NOW, { timeZone: zone });
    expect(result.summary).toMatchObject({ created: 0, skipped: 1 });
    expect(result[0]?.status).toBe('skipped');
    expect(result[0]?.executionHistory).toEqual([expect.objectContaining({ outcome: 'skipped', reason, error: expect.objectContaining({ code }), event: { id: 'e1', name: 'appointment.scheduled' } })]);
    expect((await engine.triggers.list(ACCOUNT, { status: 'pending' })).items).toHaveLength(0);
    // A redelivery finds it, and stores nothing more.
    const again = await scheduled('e1', startsAt, NOW, { timeZone: zone });
    expect(again.summary).toMatchObject({ redelivered: 1, skipped: 0 });
  });

  it('ifPast "now" runs a past due time at once (inside the window)', async () => {
    const { engine, scheduled } = setup();
    await engine.rules.create(ACCOUNT, { ...reminder, schedule: { ...reminder.schedule, ifPast: 'now' } });
    const [trigger] = await scheduled('e1', '2026-03-02T15:00:00Z', NOW);
    expect(trigger?.status).toBe('pending');
    expect(trigger?.evaluateAt.toISOString()).toBe(new Date(NOW).toISOString());
    expect(trigger?.schedule?.notes.map((n) => n.code)).toEqual(['past-now']);
  });

  it('a delay rule keeps its behaviour (the shorthand of anchor = event time)', async () => {
    const { engine } = setup();
    await engine.rules.create(ACCOUNT, { ...reminder, schedule: undefined, delay: { value: 5, unit: 'minutes' } });
    const [trigger] = await engine.ingest({ id: 'e1', name: 'appointment.scheduled', accountId: ACCOUNT, timestamp: NOW, payload: appointment('2026-03-10T15:00:00Z') });
    expect(trigger?.evaluateAt.toISOString()).toBe('2026-03-02T12:05:00.000Z');
    expect(trigger?.schedule).toBeUndefined();
  });
});

describe('moving with the anchor (keyed scheduled rules)', () => {
  const pendingOf = async (engine: ReturnType<typeof setup>['engine']) => (await engine.triggers.list(ACCOUNT, { status: 'pending', entityKey: 'apt-1' })).items;

  it.each([
    ['later', '2026-03-12T10:00:00-04:00', '2026-03-11T13:00:00.000Z'],
    ['earlier', '2026-03-05T10:00:00-05:00', '2026-03-04T14:00:00.000Z'],
  ])('the appointment moves %s: the pending run moves, history records rescheduled { from, to, eventId }', async (_label, startsAt, expected) => {
    const { engine, scheduled } = setup();
    await engine.rules.create(ACCOUNT, reminder);
    const [first] = await scheduled('e1', '2026-03-10T15:00:00-04:00', '2026-03-02T11:00:00Z');
    const moved = await scheduled('e2', startsAt, '2026-03-02T11:30:00Z');
    expect(moved.summary).toMatchObject({ created: 1, superseded: 1, rescheduled: 1 });
    const pending = await pendingOf(engine);
    expect(pending).toHaveLength(1);
    expect(pending[0]?.evaluateAt.toISOString()).toBe(expected);
    expect(pending[0]?.executionHistory[0]).toMatchObject({ outcome: 'rescheduled', from: new Date('2026-03-09T13:00:00Z'), to: new Date(expected), eventId: 'e2', triggerId: first?.id });
    const old = await engine.triggers.get(ACCOUNT, first?.id ?? '');
    expect(old?.status).toBe('cancelled');
    expect(old?.executionHistory.at(-1)).toMatchObject({ outcome: 'superseded', reason: 'rescheduled', from: new Date('2026-03-09T13:00:00Z'), to: new Date(expected), eventId: 'e2' });
  });

  it('an event with the same anchor refreshes the run without a reschedule entry', async () => {
    const { engine, scheduled } = setup();
    await engine.rules.create(ACCOUNT, reminder);
    await scheduled('e1', '2026-03-10T15:00:00-04:00', '2026-03-02T11:00:00Z');
    const same = await scheduled('e2', '2026-03-10T19:00:00Z', '2026-03-02T11:30:00Z');
    expect(same.summary).toMatchObject({ superseded: 1, rescheduled: 0 });
    expect((await pendingOf(engine))[0]?.executionHistory).toEqual([]);
  });

  it.each([
    ['into the past', '2026-03-02T18:00:00Z', 'past'],
    ['removed', undefined, 'anchor-missing'],
  ])('the appointment moves %s: the pending run is cancelled, the new event recorded skipped', async (_label, startsAt, reason) => {
    const { engine, scheduled } = setup();
    await engine.rules.create(ACCOUNT, reminder);
    const [first] = await scheduled('e1', '2026-03-10T15:00:00-04:00', '2026-03-02T11:00:00Z');
    const result = await scheduled('e2', startsAt, '2026-03-02T11:30:00Z');
    expect(result.summary).toMatchObject({ cancelled: 1, skipped: 1, created: 0 });
    expect(await pendingOf(engine)).toHaveLength(0);
    const old = await engine.triggers.get(ACCOUNT, first?.id ?? '');
    expect(old?.status).toBe('cancelled');
    expect(old?.executionHistory.at(-1)).toMatchObject({ outcome: 'cancelled', reason, event: { id: 'e2', name: 'appointment.scheduled' } });
  });

  it('a late older event neither moves the run back nor cancels it', async () => {
    const { engine, scheduled } = setup();
    await engine.rules.create(ACCOUNT, reminder);
    await scheduled('e2', '2026-03-12T10:00:00-04:00', '2026-03-02T11:30:00Z');
    const late = await scheduled('e1', '2026-03-10T15:00:00-04:00', '2026-03-02T11:00:00Z');
    expect(late.summary).toMatchObject({ stale: 1, created: 0 });
    const lateRemoved = await scheduled('e0', undefined, '2026-03-02T10:00:00Z');
    expect(lateRemoved.summary).toMatchObject({ cancelled: 0, skipped: 1 });
    const pending = await pendingOf(engine);
    expect(pending.map((t) => [t.triggeringEvent.id, t.evaluateAt.toISOString()])).toEqual([['e2', '2026-03-11T13:00:00.000Z']]);
  });

  it('concurrency "all" keeps one run per event; other entities are not touched', async () => {
    const { engine, scheduled } = setup();
    await engine.rules.create(ACCOUNT, { ...reminder, concurrency: { mode: 'all' } });
    await scheduled('e1', '2026-03-10T15:00:00-04:00', '2026-03-02T11:00:00Z');
    await scheduled('e2', '2026-03-12T10:00:00-04:00', '2026-03-02T11:30:00Z');
    await scheduled('e3', undefined, '2026-03-02T11:40:00Z', { apt: 'apt-2' });
    expect(await pendingOf(engine)).toHaveLength(2);
  });
});

describe('schedule validation and dry run', () => {
  const refused = async (rule: unknown) => {
    const { engine } = setup();
    const error = await engine.rules.create(ACCOUNT, asUntrustedRule(rule)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuleValidationError);
    return (error as RuleValidationError).issues.map((i) => [i.path, i.code]);
  };

  it.each([
    [{ ...reminder, schedule: { ...reminder.schedule, timeZone: 'America/Chicgo' } }, 'schedule.timeZone', 'unknown_time_zone'],
    [{ ...reminder, schedule: { ...reminder.schedule, fallbackTimeZone: 'Mars/Base' } }, 'schedule.fallbackTimeZone', 'unknown_time_zone'],
    [{ ...reminder, delay: { value: 5, unit: 'minutes' } }, 'schedule', 'delay_and_schedule'],
    [{ ...reminder, schedule: { ...reminder.schedule, at: '9:00' } }, 'schedule.at', 'invalid_format'],
    [{ ...reminder, schedule: { ...reminder.schedule, at: '24:00' } }, 'schedule.at', 'invalid_format'],
    [{ ...reminder, schedule: { ...reminder.schedule, offset: { value: 1.5, unit: 'days' } } }, 'schedule.offset.value', 'not_integer'],
    [{ ...reminder, schedule: { ...reminder.schedule, offset: { value: 2, unit: 'years' } } }, 'schedule.offset.unit', 'invalid_value'],
    [{ ...reminder, schedule: { ...reminder.schedule, offset: { value: -500, unit: 'days' } } }, 'schedule.offset.value', 'offset_too_long'],
    [{ ...reminder, schedule: { ...reminder.schedule, anchor: 'startsAt' } }, 'schedule.anchor', 'invalid_path'],
    [{ ...reminder, schedule: { ...reminder.schedule, window: { from: '08:00', to: '08:00' } } }, 'schedule.window.to', 'empty_window'],
    [{ ...reminder, schedule: { ...reminder.schedule, window: { days: [], from: '08:00', to: '18:00' } } }, 'schedule.window.days', 'too_small'],
    [{ ...reminder, schedule: { ...reminder.schedule, timeZone: 'America/Chicago' } }, 'schedule.fallbackTimeZone', 'fallback_needs_path'],
    [{ ...reminder, concurrency: { mode: 'supersede', maxWait: { value: 1, unit: 'days' } } }, 'concurrency.maxWait', 'max_wait_with_schedule'],
  ])('refuses rule %# at %s (%s)', async (rule, path, code) => {
    expect(await refused(rule)).toContainEqual([path, code]);
  });

  it('a literal zone name is suggested when misspelled', async () => {
    const { engine } = setup();
    const error = (await engine.rules.create(ACCOUNT, asUntrustedRule({ ...reminder, schedule: { ...reminder.schedule, timeZone: 'Europe/Londn', fallbackTimeZone: undefined } })).catch((e: unknown) => e)) as RuleValidationError;
    expect(error.issues[0]?.message).toContain('did you mean "Europe/London"');
  });

  it('dry run shows local and UTC times, the zone and why', async () => {
    const { engine } = setup();
    const rule = await engine.rules.create(ACCOUNT, { ...reminder, schedule: { ...reminder.schedule, at: '02:30' } });
    const result = await engine.rules.dryRun(ACCOUNT, rule.id, { payload: appointment('2026-03-09T15:00:00-04:00') });
    if (!result?.valid) throw new Error('expected a valid dry run');
    expect(result.schedule).toMatchObject({ outcome: 'scheduled', timeZone: 'America/New_York', zoneSource: 'payload', local: '2026-03-08T03:00:00.000-04:00', utc: '2026-03-08T07:00:00.000Z' });
    expect(result.schedule?.notes.map((n) => n.code)).toEqual(['dst-gap']);
    expect(result.evaluateAt.toISOString()).toBe('2026-03-08T07:00:00.000Z');
    const skipped = await engine.rules.dryRun(ACCOUNT, rule.id, { payload: appointment(undefined) });
    if (!skipped?.valid) throw new Error('expected a valid dry run');
    expect(skipped.skipped).toBe('anchor-missing');
    expect(skipped.schedule).toMatchObject({ outcome: 'skipped', reason: 'anchor-missing' });
  });
});
