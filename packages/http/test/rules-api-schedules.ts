/**
 * The Rules API's part of schedules (issue 17): scheduled rules saved, read, listed and replaced; save
 * errors with their paths; dry runs showing the due time in the recipient's zone and in UTC; runs
 * carrying their schedule, moved by a later event (`rescheduled`) and skipped at intake. Runs inside
 * the Rules API suite (both topologies), so every answer here is also checked against the OpenAPI
 * document by the suite's last test.
 */
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { ManualClock } from '@crm-automation/testing/doubles';
import { eventPoster, isoAfter, json, type Json, type RulesApiCall } from './support/rules-api-calls.js';

export interface ScheduleRoutesContext {
  call: RulesApiCall;
  clock: ManualClock;
}


const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri'];

/** "1 day before the appointment, at 09:00 in the client's zone (Chicago when the client has none), weekdays 8–18". */
const reminderSchedule = {
  anchor: '$.appointment.startsAt',
  offset: { value: -1, unit: 'days' },
  at: '09:00',
  timeZone: '$.client.timeZone',
  fallbackTimeZone: 'America/Chicago',
  window: { days: WEEKDAYS, from: '08:00', to: '18:00' },
};

const reminderRule = (eventName: string, schedule: Record<string, unknown> = reminderSchedule) => ({
  name: 'Appointment reminder',
  enabled: true,
  trigger: { eventName, key: '$.appointment.id' },
  schedule,
  conditions: { all: [{ fact: 'appointment', path: '$.id', operator: 'present', value: true }] },
  actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'client', path: '$.phone' }, message: 'Reminder: your appointment {{appointment.id}} is tomorrow.' } }],
});

/** An appointment payload; `startsAt` undefined leaves the anchor out, `timeZone` null the client's zone. */
const appointment = (id: string, startsAt: string | undefined, timeZone: string | null = 'America/New_York') => ({
  appointment: { id, ...(startsAt === undefined ? {} : { startsAt }) },
  client: { phone: '+15551230001', ...(timeZone === null ? {} : { timeZone }) },
});

export function describeScheduleRoutes(ctx: ScheduleRoutesContext): void {
  const { call, clock } = ctx;
  const at = isoAfter;
  const event = eventPoster(call);
  const trigger = async (id: string) => {
    const response = await call({ url: `/triggers/${id}` });
    expect(response.statusCode, response.body).toBe(200);
    return json(response);
  };
  const issuesOf = (response: LightMyRequestResponse) => (json(response)['error']['issues'] as Json[]).map((i) => ({ path: i['path'], code: i['code'] }));

  describe('schedules: saved rules, dry runs, rescheduled and skipped runs', () => {
    it('creates, reads, lists and replaces a rule with a schedule; its delay is zero', async () => {
      const created = await call({ method: 'POST', url: '/rules', payload: reminderRule('sched.crud') });
      expect(created.statusCode, created.body).toBe(201);
      const rule = json(created);
      expect(rule).toMatchObject({ schedule: reminderSchedule, delay: { value: 0, unit: 'minutes' }, version: 1 });
      const got = json(await call({ url: `/rules/${rule['id']}` }));
      expect(got['schedule']).toEqual(reminderSchedule);
      const listed = json(await call({ url: '/rules?eventName=sched.crud' }))['items'] as Json[];
      expect(listed.map((r) => r['schedule'])).toEqual([reminderSchedule]);

      const twoDaysBefore = { ...reminderSchedule, offset: { value: -2, unit: 'days' }, ifPast: 'now' };
      const replaced = await call({ method: 'PUT', url: `/rules/${rule['id']}`, headers: { 'if-match': '"1"' }, payload: { ...rule, schedule: twoDaysBefore } });
      expect(replaced.statusCode, replaced.body).toBe(200);
      expect(json(replaced)).toMatchObject({ version: 2, schedule: twoDaysBefore });
      expect(json(await call({ url: `/rules/${rule['id']}` }))['schedule']).toEqual(twoDaysBefore);

      // Back to a plain delay: the schedule is gone.
      const { schedule: _schedule, ...withoutSchedule } = json(replaced);
      const delayed = json(await call({ method: 'PUT', url: `/rules/${rule['id']}`, payload: { ...withoutSchedule, delay: { value: 5, unit: 'minutes' } } }));
      expect(delayed).toMatchObject({ version: 3, delay: { value: 5, unit: 'minutes' } });
      expect(delayed['schedule']).toBeUndefined();
    });

    it('refuses a bad schedule on create, replace and validate with each issue’s path and code', async () => {
      const badZone = reminderRule('sched.bad', { ...reminderSchedule, timeZone: 'Mars/Olympus', fallbackTimeZone: undefined });
      const created = await call({ method: 'POST', url: '/rules', payload: badZone });
      expect(created.statusCode).toBe(400);
      expect(json(created)['error']['code']).toBe('CRM_ERR_RULE_INVALID');
      expect(issuesOf(created)).toEqual([{ path: 'schedule.timeZone', code: 'unknown_time_zone' }]);

      const saved = json(await call({ method: 'POST', url: '/rules', payload: reminderRule('sched.bad') }));
      const replaced = await call({ method: 'PUT', url: `/rules/${saved['id']}`, payload: badZone });
      expect(replaced.statusCode).toBe(400);
      expect(issuesOf(replaced)).toEqual([{ path: 'schedule.timeZone', code: 'unknown_time_zone' }]);
      expect(json(await call({ url: `/rules/${saved['id']}` }))).toMatchObject({ version: 1, schedule: reminderSchedule });

      const validated = json(await call({ method: 'POST', url: '/rules/validate', payload: { rule: badZone } }));
      expect(validated).toMatchObject({ valid: false, issues: [{ path: 'schedule.timeZone', code: 'unknown_time_zone' }] });

      const several = await call({
        method: 'POST',
        url: '/rules',
        payload: {
          ...reminderRule('sched.bad', { anchor: '$.appointment.startsAt', timeZone: 'America/Chicago', fallbackTimeZone: 'Europe/London', window: { days: ['mon', 'mon'], from: '08:00', to: '08:00' } }),
          delay: { value: 5, unit: 'minutes' },
        },
      });
      expect(several.statusCode).toBe(400);
      expect(issuesOf(several)).toEqual(
        expect.arrayContaining([
          { path: 'schedule.fallbackTimeZone', code: 'fallback_needs_path' },
          { path: 'schedule.window.days', code: 'duplicate_day' },
          { path: 'schedule.window.to', code: 'empty_window' },
          expect.objectContaining({ code: 'delay_and_schedule' }),
        ]),
      );
    });

    it('dry-runs a scheduled rule: the due time in the recipient’s zone and in UTC, the zone and why, the notes', async () => {
      const saved = json(await call({ method: 'POST', url: '/rules', payload: reminderRule('sched.dry') }));
      const test = async (payload: Record<string, unknown>) => {
        const response = await call({ method: 'POST', url: `/rules/${saved['id']}/test`, payload: { payload } });
        expect(response.statusCode, response.body).toBe(200);
        return json(response);
      };
      // Thursday's appointment: Wednesday 09:00 in New York (EDT, UTC-4).
      const thursday = await test(appointment('A-dry', '2026-06-18T15:00:00-04:00'));
      expect(thursday).toMatchObject({ valid: true, matched: true, evaluateAt: '2026-06-17T13:00:00.000Z' });
      expect(thursday['schedule']).toEqual({
        outcome: 'scheduled',
        local: '2026-06-17T09:00:00.000-04:00',
        utc: '2026-06-17T13:00:00.000Z',
        timeZone: 'America/New_York',
        zoneSource: 'payload',
        anchor: '2026-06-18T15:00:00-04:00',
        notes: [],
      });
      expect(thursday['skipped']).toBeUndefined();

      // No zone in the payload: the rule's fallback (CDT, UTC-5).
      const fallback = await test(appointment('A-dry', '2026-06-18T15:00:00-04:00', null));
      expect(fallback['schedule']).toMatchObject({ outcome: 'scheduled', timeZone: 'America/Chicago', zoneSource: 'fallback', local: '2026-06-17T09:00:00.000-05:00', utc: '2026-06-17T14:00:00.000Z' });

      // Monday's appointment: Sunday is outside the window, so Monday at 09:00.
      const monday = await test(appointment('A-dry', '2026-06-22T15:00:00-04:00'));
      expect(monday['schedule']).toMatchObject({ outcome: 'scheduled', local: '2026-06-22T09:00:00.000-04:00', utc: '2026-06-22T13:00:00.000Z' });
      expect(monday['schedule']['notes']).toEqual([{ code: 'window', message: expect.stringContaining('outside the window') }]);

      // No anchor: intake would record the run skipped; the conditions are still shown.
      const noAnchor = await test(appointment('A-dry', undefined));
      expect(noAnchor).toMatchObject({ valid: true, skipped: 'anchor-missing', schedule: { outcome: 'skipped', reason: 'anchor-missing', message: expect.any(String), notes: [] } });
      expect(noAnchor['schedule']['utc']).toBeUndefined();

      // An unsaved rule on a spring-forward day: 02:30 does not exist in New York on 14 March 2027.
      const springForward = { anchor: '$.appointment.startsAt', offset: { value: -1, unit: 'days' }, at: '02:30', timeZone: 'America/New_York' };
      const validated = await call({ method: 'POST', url: '/rules/validate', payload: { rule: reminderRule('sched.dry', springForward), sample: { payload: appointment('A-dst', '2027-03-15T12:00:00-04:00') } } });
      expect(validated.statusCode, validated.body).toBe(200);
      const dryRun = json(validated)['dryRun'];
      expect(dryRun['schedule']).toMatchObject({ outcome: 'scheduled', timeZone: 'America/New_York', zoneSource: 'rule', local: expect.stringMatching(/^2027-03-14T03:\d\d:00\.000-04:00$/) });
      expect(dryRun['schedule']['notes'].map((n: Json) => n['code'])).toEqual(['dst-gap']);
      expect(new Date(dryRun['schedule']['utc']).getTime()).toBe(new Date(dryRun['schedule']['local']).getTime());
      expect(dryRun['evaluateAt']).toBe(dryRun['schedule']['utc']);
    });

    it('runs carry their schedule; a later event moves the due time (rescheduled), an older one does not, and one without the anchor skips and cancels', async () => {
      const rule = json(await call({ method: 'POST', url: '/rules', payload: reminderRule('sched.booked') }));
      const t0 = clock.now();
      const first = (await event('sched.booked', 'sch-1', appointment('A1', '2026-06-18T15:00:00-04:00'), at(t0, 0)))['triggers'][0];
      expect(first).toMatchObject({ ruleId: rule['id'], status: 'pending', entityKey: 'A1', evaluateAt: '2026-06-17T13:00:00.000Z' });
      expect((await trigger(first['id']))['schedule']).toEqual({
        timeZone: 'America/New_York',
        zoneSource: 'payload',
        anchor: '2026-06-18T15:00:00-04:00',
        local: '2026-06-17T09:00:00.000-04:00',
        notes: [],
      });

      // The appointment moves a day later.
      const moved = (await event('sched.booked', 'sch-2', appointment('A1', '2026-06-19T15:00:00-04:00'), at(t0, 2_000)))['triggers'][0];
      expect(moved).toMatchObject({ status: 'pending', evaluateAt: '2026-06-18T13:00:00.000Z' });
      const movedRun = await trigger(moved['id']);
      expect(movedRun['schedule']).toMatchObject({ local: '2026-06-18T09:00:00.000-04:00', anchor: '2026-06-19T15:00:00-04:00' });
      expect(movedRun['executionHistory']).toEqual([
        expect.objectContaining({ outcome: 'rescheduled', reason: 'rescheduled', from: '2026-06-17T13:00:00.000Z', to: '2026-06-18T13:00:00.000Z', eventId: 'sch-2', triggerId: first['id'], attempt: 0 }),
      ]);
      const replaced = await trigger(first['id']);
      expect(replaced['status']).toBe('cancelled');
      expect(replaced['executionHistory']).toEqual([
        expect.objectContaining({ outcome: 'superseded', reason: 'rescheduled', from: '2026-06-17T13:00:00.000Z', to: '2026-06-18T13:00:00.000Z', eventId: 'sch-2', triggerId: moved['id'], event: { id: 'sch-2', name: 'sched.booked' } }),
      ]);

      // An older event arriving late cannot move it back.
      const late = (await event('sched.booked', 'sch-old', appointment('A1', '2026-06-25T15:00:00-04:00'), at(t0, 1_000)))['triggers'][0];
      expect(late['status']).toBe('cancelled');
      expect((await trigger(moved['id']))).toMatchObject({ status: 'pending', evaluateAt: '2026-06-18T13:00:00.000Z' });

      // The anchor is removed: this run is stored skipped, and the pending one is cancelled for the same reason.
      const removed = (await event('sched.booked', 'sch-3', appointment('A1', undefined), at(t0, 3_000)))['triggers'];
      expect(removed).toEqual([expect.objectContaining({ ruleId: rule['id'], status: 'skipped', entityKey: 'A1' })]);
      const skipped = await trigger(removed[0]['id']);
      expect(skipped['executionHistory']).toEqual([expect.objectContaining({ outcome: 'skipped', reason: 'anchor-missing', schedule: expect.objectContaining({ timeZone: 'America/New_York', zoneSource: 'payload' }) })]);
      const cancelled = await trigger(moved['id']);
      expect(cancelled['status']).toBe('cancelled');
      expect(cancelled['executionHistory'].at(-1)).toMatchObject({ outcome: 'cancelled', reason: 'anchor-missing' });

      const ofA1 = json(await call({ url: `/triggers?ruleId=${rule['id']}&entityKey=A1` }))['items'] as Json[];
      expect(ofA1.map((t) => t['id']).sort()).toEqual([first['id'], moved['id'], late['id'], removed[0]['id']].sort());
      expect(json(await call({ url: `/triggers?ruleId=${rule['id']}&status=pending` }))['items']).toEqual([]);
    });

    it('skips at intake a run whose zone in the payload is not a time zone', async () => {
      await call({ method: 'POST', url: '/rules', payload: reminderRule('sched.zone') });
      const stored = (await event('sched.zone', 'sch-zone', appointment('A2', '2026-06-18T15:00:00-04:00', 'Nowhere/Land'), clock.now().toISOString()))['triggers'];
      expect(stored).toEqual([expect.objectContaining({ status: 'skipped' })]);
      expect((await trigger(stored[0]['id']))['executionHistory']).toEqual([expect.objectContaining({ outcome: 'skipped', reason: 'zone-unknown' })]);
    });

    it('documents schedules: the rule document and rule, the run and its history, the dry run', async () => {
      const doc = json(await call({ url: '/openapi.json', key: null }));
      const schemaOf = (path: string, method: string, status: string) => doc['paths'][path][method]['responses'][status]['content']['application/json']['schema'];
      const ruleDocument = doc['components']['schemas']['RuleDocument'];
      expect(Object.keys(ruleDocument['properties']['schedule']['properties'])).toEqual(['anchor', 'offset', 'at', 'timeZone', 'fallbackTimeZone', 'window', 'ifPast']);

      const rule = schemaOf('/rules/{id}', 'get', '200');
      expect(rule['properties']['schedule']['description']).toMatch(/time zone/);
      expect(Object.keys(rule['properties']['schedule']['properties'])).toEqual(['anchor', 'offset', 'at', 'timeZone', 'fallbackTimeZone', 'window', 'ifPast']);

      const run = schemaOf('/triggers/{id}', 'get', '200');
      expect(run['properties']['schedule']['required']).toEqual(['timeZone', 'zoneSource', 'anchor', 'local', 'notes']);
      expect(run['properties']['schedule']['properties']['local']['format']).toBe('date-time');
      const entry = run['properties']['executionHistory']['items'];
      expect(entry['properties']['outcome']['enum']).toContain('rescheduled');
      expect(entry['properties']['from']['format']).toBe('date-time');
      expect(entry['properties']['to']['format']).toBe('date-time');
      expect(Object.keys(entry['properties'])).toEqual(expect.arrayContaining(['eventId', 'schedule']));

      const dryRun = schemaOf('/rules/{id}/test', 'post', '200')['anyOf'].find((variant: Json) => variant['properties']['valid']['const'] === true);
      expect(Object.keys(dryRun['properties']['schedule']['properties'])).toEqual(['outcome', 'reason', 'message', 'local', 'utc', 'timeZone', 'zoneSource', 'anchor', 'notes']);
      expect(dryRun['properties']['skipped']['enum']).toEqual(['entity-missing', 'recipient-missing', 'anchor-missing', 'zone-unknown', 'past', 'beyond-horizon']);
    });
  });
}
