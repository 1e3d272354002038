import { describe, expect, it } from 'vitest';
import type { HistoryEntry, RuleInput, Trigger } from '@crm-automation/core';
import { createRecordingOutput, exportRules, formatTrigger, importRules, printTriggers } from '../src/index.js';
import { shortIso } from '../src/format-trigger.js';
import { guardedConnect, runCaptured } from './cli-run.js';
import { memoryWorld, smsRule } from './memory-world.js';

/** A run of a scheduled appointment reminder, as a store returns it. */
const scheduledTrigger = (status: Trigger['status'], history: HistoryEntry[], more: Partial<Trigger> = {}): Trigger => ({
  id: 'trg_2',
  accountId: 'acc_1',
  ruleId: 'rule_1',
  ruleVersion: 1,
  status,
  evaluateAt: new Date('2026-03-11T13:00:00Z'),
  attempt: 0,
  triggeringEvent: { id: 'e2', name: 'appointment.booked', timestamp: new Date('2026-03-01T00:01:00Z'), payload: { appointment: { id: 'A1', startsAt: '2026-03-12T15:00:00-04:00' } } },
  executionHistory: history,
  sentActions: [],
  createdAt: new Date('2026-03-01T00:01:00Z'),
  updatedAt: new Date('2026-03-01T00:01:00Z'),
  entityKey: 'A1',
  schedule: {
    timeZone: 'America/New_York',
    zoneSource: 'payload',
    anchor: '2026-03-12T15:00:00-04:00',
    local: '2026-03-11T09:00:00.000-04:00',
    notes: [{ code: 'window', message: 'Sun 2026-03-08 09:00 is outside the window (mon–fri 08:00–18:00); moved to Mon 2026-03-09 09:00' }],
  },
  ...more,
});
const at = new Date('2026-03-01T00:01:00Z');
const moved: Pick<HistoryEntry, 'from' | 'to' | 'eventId' | 'event'> = { from: new Date('2026-03-09T13:00:00Z'), to: new Date('2026-03-11T13:00:00Z'), eventId: 'e2', event: { id: 'e2', name: 'appointment.booked' } };

describe('a scheduled trigger as the CLI shows it', () => {
  it('shows the due time in UTC and in the recipient’s zone, the zone and where it came from, the anchor and each note', () => {
    const text = formatTrigger(scheduledTrigger('pending', []));
    expect(text).toContain('due       2026-03-11T13:00:00.000Z (UTC)\n          2026-03-11T09:00:00.000-04:00 (America/New_York)\n');
    expect(text).toContain("zone      America/New_York: the recipient's zone, from the event");
    expect(text).toContain('anchor    2026-03-12T15:00:00-04:00');
    expect(text).toContain('note      window: Sun 2026-03-08 09:00 is outside the window');
    for (const [source, words] of [['rule', "the rule's zone"], ['fallback', "the rule's fallback zone (the event has none)"], ['default', 'UTC (the rule names no zone)']] as const) {
      const other = scheduledTrigger('pending', [], { schedule: { timeZone: 'America/Chicago', zoneSource: source, anchor: 'x', local: '2026-03-11T09:00:00.000-05:00', notes: [] } });
      expect(formatTrigger(other)).toContain(`zone      America/Chicago: ${words}`);
      expect(formatTrigger(other)).not.toContain('note      ');
    }
    // A run of a delay rule reads as before: one due line.
    const { schedule: _none, ...delayed } = scheduledTrigger('pending', []);
    expect(formatTrigger(delayed)).toMatch(/due {7}2026-03-11T13:00:00\.000Z\ncreated/);
  });

  it('writes rescheduled entries as “rescheduled <from> → <to> by event <id>”, on the moved run and on the one it replaced', () => {
    const movedRun = formatTrigger(scheduledTrigger('pending', [{ at, attempt: 0, outcome: 'rescheduled', reason: 'rescheduled', triggerId: 'trg_1', ...moved }]));
    expect(movedRun).toMatch(/1\. 2026-03-01T00:01:00\.000Z {2}attempt 0 {2}rescheduled \(rescheduled\)\n {5}rescheduled 2026-03-09T13:00Z → 2026-03-11T13:00Z by event e2 \(replaces trigger trg_1\)/);
    expect(movedRun).not.toContain('why ');

    const replaced = formatTrigger(scheduledTrigger('cancelled', [{ at, attempt: 0, outcome: 'superseded', reason: 'rescheduled', triggerId: 'trg_2', ...moved }], { id: 'trg_1' }));
    expect(replaced).toContain('why       rescheduled 2026-03-09T13:00Z → 2026-03-11T13:00Z by event e2: replaced by trigger trg_2');
  });

  it('says why a run was skipped at intake, with the reason, the message and what the schedule got to', () => {
    const skipped = formatTrigger(
      scheduledTrigger(
        'skipped',
        [
          {
            at,
            attempt: 0,
            outcome: 'skipped',
            reason: 'anchor-missing',
            error: { code: 'CRM_ERR_SCHEDULE_ANCHOR', message: 'the payload has no date at $.appointment.startsAt', retryable: false },
            event: { id: 'e3', name: 'appointment.booked' },
            schedule: { timeZone: 'America/New_York', zoneSource: 'payload' },
          },
        ],
        { schedule: undefined },
      ),
    );
    expect(skipped).toContain('why       skipped at intake (anchor-missing): the payload has no date at $.appointment.startsAt');
    // Its evaluateAt is only when intake stored it.
    expect(skipped).toContain('due       none: skipped at intake\n');
    expect(skipped).toContain("     schedule zone America/New_York (the recipient's zone, from the event)");
    expect(skipped).toContain('     error CRM_ERR_SCHEDULE_ANCHOR: the payload has no date at $.appointment.startsAt');

    const past = formatTrigger(scheduledTrigger('skipped', [{ at, attempt: 0, outcome: 'skipped', reason: 'past', error: { code: 'CRM_ERR_SCHEDULE_PAST', message: 'the due time had passed at intake', retryable: false } }], { schedule: undefined }));
    expect(past).toContain('due       2026-03-11T13:00:00.000Z (computed, never due: skipped at intake, past)\n');

    const cancelled = formatTrigger(scheduledTrigger('cancelled', [{ at, attempt: 0, outcome: 'cancelled', reason: 'past', event: { id: 'e4', name: 'appointment.booked' } }]));
    expect(cancelled).toContain('why       cancelled: a newer event (appointment.booked e4) gives no due time (past)');
  });

  it('lists a LOCAL column only when a listed trigger is scheduled', () => {
    const listed = createRecordingOutput();
    printTriggers(listed, [scheduledTrigger('pending', [])]);
    const [head, row] = (listed.stdout[0] ?? '').split('\n');
    expect(head).toMatch(/^ID +STATUS +RULE +ENTITY +DUE +LOCAL +ATTEMPTS +LAST$/);
    expect(row).toMatch(/^trg_2 +pending +rule_1 +A1 +2026-03-11T13:00:00\.000Z +2026-03-11T09:00:00\.000-04:00 America\/New_York +0/);
    const { schedule: _none, ...delayed } = scheduledTrigger('pending', []);
    const plain = createRecordingOutput();
    printTriggers(plain, [delayed]);
    expect(plain.stdout[0]).not.toContain('LOCAL');
  });

  it('keeps short UTC times exact', () => {
    expect(shortIso(new Date('2026-03-09T13:00:00Z'))).toBe('2026-03-09T13:00Z');
    expect(shortIso(new Date('2026-03-09T13:00:30Z'))).toBe('2026-03-09T13:00:30Z');
    expect(shortIso(new Date('2026-03-09T13:00:00.250Z'))).toBe('2026-03-09T13:00:00.250Z');
  });
});

const reminderSchedule = { anchor: '$.appointment.startsAt', offset: { value: -1, unit: 'days' as const }, at: '09:00', timeZone: '$.client.timeZone', fallbackTimeZone: 'America/Chicago' };
const { delay: _delay, ...reminderBase } = smsRule('Appointment reminder');
const reminderRule: RuleInput = {
  ...reminderBase,
  trigger: { eventName: 'appointment.booked', key: '$.appointment.id' },
  schedule: reminderSchedule,
  conditions: { all: [{ fact: 'appointment', path: '$.id', operator: 'present', value: true }] },
};
const booked = (id: string, startsAt: string | undefined, minute: number) => ({
  id,
  name: 'appointment.booked',
  accountId: 'acc_1',
  timestamp: new Date(Date.parse('2026-03-01T00:00:00Z') + minute * 60_000),
  payload: { appointment: { id: 'A1', ...(startsAt === undefined ? {} : { startsAt }) }, client: { timeZone: 'America/New_York' } },
});

describe('triggers inspect and list of a scheduled rule’s runs, from the engine', () => {
  it('shows a run moved by a later event, the run it replaced, and a run skipped for a missing anchor', async () => {
    const world = memoryWorld('2026-03-01T00:00:00Z');
    await world.engine.rules.create('acc_1', reminderRule);
    const [first] = await world.engine.ingest(booked('e1', '2026-03-10T15:00:00-04:00', 0));
    const [second] = await world.engine.ingest(booked('e2', '2026-03-12T15:00:00-04:00', 1));
    const connect = guardedConnect(world.connections()).connect;

    const shown = await runCaptured(['triggers', 'inspect', second?.id ?? '', '--account', 'acc_1'], connect);
    expect(shown.code, shown.stderr).toBe(0);
    // After the US change to daylight time on 8 March: 09:00 in New York is 13:00 UTC.
    expect(shown.stdout).toContain('due       2026-03-11T13:00:00.000Z (UTC)\n          2026-03-11T09:00:00.000-04:00 (America/New_York)');
    expect(shown.stdout).toContain("zone      America/New_York: the recipient's zone, from the event");
    expect(shown.stdout).toContain('anchor    2026-03-12T15:00:00-04:00');
    expect(shown.stdout).toContain(`rescheduled 2026-03-09T13:00Z → 2026-03-11T13:00Z by event e2 (replaces trigger ${first?.id})`);

    const old = await runCaptured(['triggers', 'inspect', first?.id ?? '', '--account', 'acc_1'], connect);
    expect(old.stdout).toContain(`why       rescheduled 2026-03-09T13:00Z → 2026-03-11T13:00Z by event e2: replaced by trigger ${second?.id}`);
    // The chain started with e1; a scheduled rule has no maxWait to count from it.
    expect(shown.stdout).toContain('first     event at 2026-03-01T00:00:00.000Z (superseded runs of this entity)\n');

    const [skipped] = await world.engine.ingest(booked('e3', undefined, 2));
    expect(skipped?.status).toBe('skipped');
    const skippedText = await runCaptured(['triggers', 'inspect', skipped?.id ?? '', '--account', 'acc_1'], connect);
    expect(skippedText.stdout).toMatch(/why {7}skipped at intake \(anchor-missing\): \S.*\$\.appointment\.startsAt/);
    expect(skippedText.stdout).toContain('error CRM_ERR_SCHEDULE_ANCHOR: ');
    const cancelled = await runCaptured(['triggers', 'inspect', second?.id ?? '', '--account', 'acc_1'], connect);
    expect(cancelled.stdout).toContain('why       cancelled: a newer event (appointment.booked e3) gives no due time (anchor-missing)');

    const table = await runCaptured(['triggers', 'list', '--account', 'acc_1', '--entity', 'A1'], connect);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/ENTITY +DUE +LOCAL/);
    expect(table.stdout).toContain('2026-03-11T09:00:00.000-04:00 America/New_York');
    expect(table.stdout).toContain('3 triggers');

    const json = await runCaptured(['triggers', 'inspect', first?.id ?? '', '--account', 'acc_1', '--json'], connect);
    const parsed = JSON.parse(json.stdout) as { schedule: { local: string }; executionHistory: Array<{ from: string; to: string }> };
    expect(parsed.schedule.local).toBe('2026-03-09T09:00:00.000-04:00');
    expect(parsed.executionHistory[0]).toMatchObject({ from: '2026-03-09T13:00:00.000Z', to: '2026-03-11T13:00:00.000Z' });
  });
});

describe('rules export and import of scheduled rules', () => {
  it('keep the schedule and write no delay; an export or a Rules API list of them imports back unchanged', async () => {
    const world = memoryWorld('2026-03-01T00:00:00Z');
    const rule = await world.engine.rules.create('acc_1', reminderRule);
    const file = await exportRules(world.engine, 'acc_1');
    expect(file.rules[0]).toMatchObject({ schedule: reminderSchedule });
    expect(file.rules[0]).not.toHaveProperty('delay');

    expect(await importRules(world.engine, 'acc_2', JSON.parse(JSON.stringify(file)))).toMatchObject({ created: 1 });
    const [copy] = (await world.engine.rules.list('acc_2')).items;
    expect(copy?.schedule).toEqual(reminderSchedule);
    expect(await importRules(world.engine, 'acc_1', JSON.parse(JSON.stringify(file)))).toMatchObject({ unchanged: 1 });

    // A saved GET /rules answer has the stored zero delay beside the schedule.
    const listAnswer = JSON.parse(JSON.stringify(await world.engine.rules.list('acc_1'))) as { items: Array<Record<string, unknown>> };
    expect(listAnswer.items[0]).toMatchObject({ delay: { value: 0, unit: 'minutes' }, schedule: reminderSchedule });
    expect(await importRules(world.engine, 'acc_1', listAnswer)).toMatchObject({ unchanged: 1 });
    const later = { ...listAnswer, items: listAnswer.items.map((r) => ({ ...r, schedule: { ...reminderSchedule, at: '10:00' } })) };
    expect(await importRules(world.engine, 'acc_1', later)).toMatchObject({ updated: 1 });
    expect((await world.engine.rules.get('acc_1', rule.id))?.schedule).toEqual({ ...reminderSchedule, at: '10:00' });

    // A real delay beside a schedule is still the user's mistake, with its path.
    const both = { rules: [{ ...file.rules[0], delay: { value: 5, unit: 'minutes' } }] };
    await expect(importRules(world.engine, 'acc_1', both)).rejects.toMatchObject({ code: 'CRM_ERR_CLI_IMPORT_INVALID', details: [expect.objectContaining({ path: 'rules[0].schedule', code: 'delay_and_schedule' })] });
  });
});
