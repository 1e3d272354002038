import { describe, expect, it } from 'vitest';
import {
  asUntrustedRule,
  ContactPolicyValidationError,
  createAutomationEngine,
  GatewayError,
  RuleValidationError,
  VersionConflictError,
  type ContactDeferredInfo,
  type ContactPolicy,
  type ContactSkippedInfo,
  type MessageCategory,
  type RuleInput,
  type SuppressionChange,
  type Trigger,
} from '@crm-automation/core';
import { createManualClock, createRecordingChannel, type ManualClock } from '@crm-automation/core/doubles';
import { createMemoryRuleStore, createMemoryStore, createMemoryTriggerStore } from '@crm-automation/core/memory';

const ACCOUNT = 'acc_1';
const PHONE = '+15550001111';
const JITTER_MS = 120_000;

const rule = (category?: MessageCategory, status = 'done') =>
  ({
    name: 'Visit follow-up',
    trigger: { eventName: 'visit.completed' },
    conditions: { all: [{ fact: 'visit', path: '$.status', operator: 'equal', value: status }] },
    actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'client', path: '$.phone' }, message: 'How was your visit?' }, ...(category ? { category } : {}) }],
  }) satisfies RuleInput;

const quietNight = (timeZone = '$.client.timeZone'): ContactPolicy => ({ channels: { sms: { quietHours: { from: '21:00', to: '08:00', timeZone } } } });

function setup(start: string, store = createMemoryStore(), clock: ManualClock = createManualClock(start), instanceId = 'engine-a') {
  const sms = createRecordingChannel({ name: 'twilio' });
  const engine = createAutomationEngine({ store, clock, channels: { sms }, instanceId });
  const deferred: ContactDeferredInfo[] = [];
  const skipped: ContactSkippedInfo[] = [];
  const changes: SuppressionChange[] = [];
  engine.on('contact:deferred', (info) => deferred.push(info));
  engine.on('contact:skipped', (info) => skipped.push(info));
  engine.on('suppression:changed', ({ change }) => changes.push(change));
  let n = 0;
  /** Ingests a visit for a client (in `timeZone`, when given) at the clock's time. */
  const visit = (client: { phone?: string; timeZone?: string } = {}) =>
    engine.ingest({ id: `e${++n}`, name: 'visit.completed', accountId: ACCOUNT, timestamp: clock.now().toISOString(), payload: { visit: { status: 'done' }, client: { phone: PHONE, ...client } } });
  const fire = async (client: { phone?: string; timeZone?: string } = {}): Promise<Trigger> => {
    const [created] = await visit(client);
    if (!created) throw new Error('the rule did not match the visit');
    await engine.runDue();
    const stored = await engine.triggers.get(ACCOUNT, created.id);
    if (!stored) throw new Error('trigger vanished');
    return stored;
  };
  return { clock, store, sms, engine, deferred, skipped, changes, visit, fire };
}

const lastEntry = (trigger: Trigger) => trigger.executionHistory[trigger.executionHistory.length - 1];

/** The deferral lands at the window end plus a jitter of 0–120 s. */
function expectDeferredTo(trigger: Trigger, windowEnd: string, reason: 'quiet-hours' | 'capped' = 'quiet-hours') {
  expect(trigger.status).toBe('retrying');
  const entry = lastEntry(trigger);
  expect(entry).toMatchObject({ outcome: 'retrying', reason });
  const at = entry?.nextAttemptAt?.getTime() ?? Number.NaN;
  expect(at).toBeGreaterThanOrEqual(Date.parse(windowEnd));
  expect(at).toBeLessThanOrEqual(Date.parse(windowEnd) + JITTER_MS);
  expect(trigger.evaluateAt.getTime()).toBe(at);
  return new Date(at);
}

describe('contact policy: validation and storage', () => {
  it('refuses a bad policy with every issue at its path, and keeps versions', async () => {
    const { engine } = setup('2026-01-15T18:00:00Z');
    const bad = {
      channels: {
        sms: { quietHours: { from: '9pm', to: '08:00', timeZone: 'America/New_Yrok' }, caps: [{ max: 1.5, per: 'day' }, { max: 3, per: 'fortnight' }], overCap: 'later' },
        webhook: { caps: [{ max: 1, per: 'day' }], quietHours: { from: '21:00', to: '08:00' } },
        email: { quietHours: { from: '21:00', to: '08:00', timeZone: 'UTC', fallbackTimeZone: 'UTC' }, timeZone: '$..zone' },
      },
    };
    const error = await engine.contactPolicy.set(ACCOUNT, bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContactPolicyValidationError);
    expect((error as ContactPolicyValidationError).code).toBe('CRM_ERR_POLICY_INVALID');
    const issues = (error as ContactPolicyValidationError).issues.map((i) => `${i.path} ${i.code}`).sort();
    expect(issues).toEqual(
      [
        'channels.email.quietHours.fallbackTimeZone fallback_needs_path',
        'channels.email.timeZone invalid_path',
        'channels.sms.caps[0].max invalid_type',
        'channels.sms.caps[1].per invalid_value',
        'channels.sms.overCap invalid_value',
        'channels.sms.quietHours.from invalid_format',
        'channels.sms.quietHours.timeZone unknown_time_zone',
        'channels.webhook.caps not_a_person',
        'channels.webhook.quietHours not_a_person',
      ].sort(),
    );
    expect(await engine.contactPolicy.get(ACCOUNT)).toBeNull();

    const first = await engine.contactPolicy.set(ACCOUNT, quietNight(), { expectedVersion: 0 });
    expect(first).toMatchObject({ accountId: ACCOUNT, version: 1, channels: { sms: { quietHours: { from: '21:00', to: '08:00' } } } });
    // What `get` returns can be written back as it is.
    const read = await engine.contactPolicy.get(ACCOUNT);
    expect(read).toEqual(first);
    const second = await engine.contactPolicy.set(ACCOUNT, read, { expectedVersion: 1 });
    expect(second.version).toBe(2);
    await expect(engine.contactPolicy.set(ACCOUNT, quietNight(), { expectedVersion: 1 })).rejects.toBeInstanceOf(VersionConflictError);
    expect(await engine.contactPolicy.get('acc_other')).toBeNull();
    expect(engine.contactPolicy.validate({ channels: { sms: { caps: [{ max: 3, per: 'day' }] } } })).toEqual({ ok: true, policy: { channels: { sms: { caps: [{ max: 3, per: 'day' }] } } } });
  });

  it('reads an action category, marketing unless it says transactional; an unknown one is refused at its path', async () => {
    const { engine } = setup('2026-01-15T18:00:00Z');
    const error = await engine.rules.create(ACCOUNT, asUntrustedRule({ ...rule(), actions: [{ ...rule().actions[0], category: 'promo' }] })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuleValidationError);
    expect((error as RuleValidationError).issues).toEqual([expect.objectContaining({ path: 'actions[0].category', code: 'invalid_value' })]);
    const saved = await engine.rules.create(ACCOUNT, rule('transactional'));
    expect(saved.actions[0]?.category).toBe('transactional');
    expect((await engine.rules.create(ACCOUNT, rule())).actions[0]?.category).toBeUndefined();
  });

  it('an engine whose stores keep no contact policy sends as before, and says so when asked for one', async () => {
    const clock = createManualClock('2026-03-07T03:00:00Z');
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ ruleStore: createMemoryRuleStore(), triggerStore: createMemoryTriggerStore(), clock, channels: { sms } });
    await engine.rules.create(ACCOUNT, rule());
    await engine.ingest({ id: 'e1', name: 'visit.completed', accountId: ACCOUNT, timestamp: clock.now().toISOString(), payload: { visit: { status: 'done' }, client: { phone: PHONE } } });
    await engine.runDue();
    expect(sms.sent).toHaveLength(1);
    await expect(engine.contactPolicy.get(ACCOUNT)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
    await expect(engine.suppressions.lookup(ACCOUNT, 'sms', PHONE)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
  });
});

describe('contact policy: quiet hours', () => {
  it.each([
    // 22:00 EST on Friday 6 March: the window ends at 08:00 EST.
    ['New York, standard time', 'America/New_York', '2026-03-07T03:00:00Z', '2026-03-07T13:00:00Z'],
    // 23:00 EST on Saturday 7 March; clocks spring forward at 02:00, so 08:00 next morning is EDT.
    ['New York, the night clocks spring forward', 'America/New_York', '2026-03-08T04:00:00Z', '2026-03-08T12:00:00Z'],
    // 01:30 EST on Sunday 8 March, before the jump: still 08:00 EDT.
    ['New York, inside the night before the jump', 'America/New_York', '2026-03-08T06:30:00Z', '2026-03-08T12:00:00Z'],
    // 22:00 EDT on Saturday 31 October; clocks fall back at 02:00, so 08:00 next morning is EST.
    ['New York, the night clocks fall back', 'America/New_York', '2026-11-01T02:00:00Z', '2026-11-01T13:00:00Z'],
    // 01:30 EST, the second 01:30 of 1 November.
    ['New York, the repeated hour', 'America/New_York', '2026-11-01T06:30:00Z', '2026-11-01T13:00:00Z'],
    // 22:00 AEDT on Saturday 4 April; Sydney falls back at 03:00, so 08:00 next morning is AEST (+10).
    ['Sydney, the night clocks fall back', 'Australia/Sydney', '2026-04-04T11:00:00Z', '2026-04-04T22:00:00Z'],
    // 21:30 AEST on Saturday 3 October; Sydney springs forward at 02:00, so 08:00 is AEDT (+11).
    ['Sydney, the night clocks spring forward', 'Australia/Sydney', '2026-10-03T11:30:00Z', '2026-10-03T21:00:00Z'],
    // 07:59 local, one minute before the window ends.
    ['Sydney, a minute before the end', 'Australia/Sydney', '2026-01-14T20:59:00Z', '2026-01-14T21:00:00Z'],
  ])('defers a marketing send at night in %s to the window end, then sends it', async (_label, zone, now, windowEnd) => {
    const { engine, fire, sms, clock, deferred } = setup(now);
    await engine.rules.create(ACCOUNT, rule());
    await engine.contactPolicy.set(ACCOUNT, quietNight());
    const trigger = await fire({ timeZone: zone });
    expect(sms.calls).toHaveLength(0);
    const until = expectDeferredTo(trigger, windowEnd);
    expect(lastEntry(trigger)?.actions).toEqual([{ index: 0, type: 'sms', status: 'not-attempted' }]);
    expect(deferred).toEqual([expect.objectContaining({ actionIndex: 0, reason: 'quiet-hours', until })]);
    // Deferrals are the policy's doing: however many, they do not use up the trigger's attempts.
    expect(lastEntry(trigger)?.error).toBeUndefined();

    await clock.set(until.getTime() - 1);
    await engine.runDue();
    expect(sms.sent).toHaveLength(0);
    await clock.set(until);
    await engine.runDue();
    expect(sms.sent).toHaveLength(1);
    expect((await engine.triggers.get(ACCOUNT, trigger.id))?.status).toBe('completed');
  });

  it.each([
    ['New York at 20:59 EST', 'America/New_York', '2026-03-07T01:59:00Z'],
    ['New York at 08:00 EDT, the morning after the jump', 'America/New_York', '2026-03-08T12:00:00Z'],
    ['Sydney at 14:00 AEDT', 'Australia/Sydney', '2026-03-07T03:00:00Z'],
  ])('sends at once outside the window: %s', async (_label, zone, now) => {
    const { engine, fire, sms } = setup(now);
    await engine.rules.create(ACCOUNT, rule());
    await engine.contactPolicy.set(ACCOUNT, quietNight());
    expect((await fire({ timeZone: zone })).status).toBe('completed');
    expect(sms.sent).toHaveLength(1);
  });

  it('holds each recipient to their own zone at the same instant', async () => {
    // 03:00 UTC: 22:00 in New York, 14:00 in Sydney, 03:00 in UTC (no zone in the payload, no fallback).
    const { engine, fire, sms } = setup('2026-03-07T03:00:00Z');
    await engine.rules.create(ACCOUNT, rule());
    await engine.contactPolicy.set(ACCOUNT, quietNight());
    expect((await fire({ timeZone: 'America/New_York', phone: '+15550000001' })).status).toBe('retrying');
    expect((await fire({ timeZone: 'Australia/Sydney', phone: '+61400000002' })).status).toBe('completed');
    const utc = await fire({ phone: '+15550000003' });
    expectDeferredTo(utc, '2026-03-07T08:00:00Z');
    const unknown = await fire({ timeZone: 'Mars/Olympus_Mons', phone: '+15550000004' });
    expectDeferredTo(unknown, '2026-03-07T08:00:00Z');
    expect(sms.sent.map((c) => c.params['recipient'])).toEqual(['+61400000002']);
  });

  it('does not count deferrals against maxAttempts', async () => {
    const clock = createManualClock('2026-03-07T03:00:00Z');
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms }, maxAttempts: 1 });
    await engine.rules.create(ACCOUNT, rule());
    await engine.contactPolicy.set(ACCOUNT, { channels: { sms: { quietHours: { from: '21:00', to: '08:00', timeZone: '$.client.timeZone', fallbackTimeZone: 'America/New_York' } } } });
    const [trigger] = await engine.ingest({ id: 'e1', name: 'visit.completed', accountId: ACCOUNT, timestamp: clock.now().toISOString(), payload: { visit: { status: 'done' }, client: { phone: PHONE } } });
    await engine.runDue();
    const deferred = trigger && (await engine.triggers.get(ACCOUNT, trigger.id));
    if (!deferred) throw new Error('no trigger');
    // No zone in the payload: the fallback zone's night, to 08:00 EST.
    const until = expectDeferredTo(deferred, '2026-03-07T13:00:00Z');
    await clock.set(until);
    await engine.runDue();
    expect(await engine.triggers.get(ACCOUNT, deferred.id)).toMatchObject({ status: 'completed', attempt: 2 });
    expect(sms.sent).toHaveLength(1);
  });

  it('re-checks the rule at the window end: a rule changed in between decides', async () => {
    const { engine, fire, sms, clock } = setup('2026-03-07T03:00:00Z');
    const saved = await engine.rules.create(ACCOUNT, rule());
    await engine.contactPolicy.set(ACCOUNT, quietNight());
    const trigger = await fire({ timeZone: 'America/New_York' });
    const until = expectDeferredTo(trigger, '2026-03-07T13:00:00Z');
    await engine.rules.update(ACCOUNT, saved.id, rule(undefined, 'cancelled'));
    await clock.set(until);
    await engine.runDue();
    expect(sms.calls).toHaveLength(0);
    expect(await engine.triggers.get(ACCOUNT, trigger.id)).toMatchObject({ status: 'skipped', executionHistory: expect.arrayContaining([expect.objectContaining({ outcome: 'skipped', reason: 'conditions-not-met' })]) });
  });

  it('re-reads the policy at the window end: a policy lifted in between sends', async () => {
    const { engine, fire, sms, clock } = setup('2026-03-07T03:00:00Z');
    await engine.rules.create(ACCOUNT, rule());
    await engine.contactPolicy.set(ACCOUNT, quietNight());
    const trigger = await fire({ timeZone: 'America/New_York' });
    // Now the window is 22:00–09:00: the run deferred to 08:00 is deferred again, to 09:00.
    await engine.contactPolicy.set(ACCOUNT, { channels: { sms: { quietHours: { from: '22:00', to: '09:00', timeZone: '$.client.timeZone' } } } });
    const until = lastEntry(trigger)?.nextAttemptAt ?? new Date(Number.NaN);
    await clock.set(until);
    await engine.runDue();
    const again = await engine.triggers.get(ACCOUNT, trigger.id);
    if (!again) throw new Error('trigger vanished');
    expectDeferredTo(again, '2026-03-07T14:00:00Z');
    expect(sms.calls).toHaveLength(0);
  });
});

describe('contact policy: caps', () => {
  // Los Angeles is UTC-8 in January: its day starts at 08:00 UTC, and 00:00 UTC is 16:00 the day before.
  const capped = (overCap?: 'skip' | 'defer'): ContactPolicy => ({ channels: { sms: { caps: [{ max: 3, per: 'day' }], timeZone: 'America/Los_Angeles', ...(overCap ? { overCap } : {}) } } });

  it('counts by calendar day in the recipient zone: the 4th is skipped, the count resets at local midnight', async () => {
    const { engine, fire, sms, clock, skipped } = setup('2026-01-15T18:00:00Z');
    await engine.rules.create(ACCOUNT, rule());
    await engine.contactPolicy.set(ACCOUNT, capped());
    for (let i = 0; i < 3; i++) expect((await fire()).status).toBe('completed');
    const fourth = await fire();
    expect(fourth.status).toBe('skipped');
    expect(lastEntry(fourth)).toMatchObject({ outcome: 'skipped', reason: 'capped', actions: [{ index: 0, type: 'sms', status: 'skipped', reason: 'capped' }] });
    expect(skipped).toEqual([expect.objectContaining({ actionIndex: 0, reason: 'capped' })]);
    expect(sms.calls).toHaveLength(3);
    // Midnight UTC is 16:00 in Los Angeles: still the same local day.
    await clock.set('2026-01-16T00:30:00Z');
    expect((await fire()).status).toBe('skipped');
    await clock.set('2026-01-16T07:59:59Z');
    expect((await fire()).status).toBe('skipped');
    // Local midnight.
    await clock.set('2026-01-16T08:00:00Z');
    expect((await fire()).status).toBe('completed');
    expect(sms.sent).toHaveLength(4);
    // Another recipient has a count of their own.
    await clock.set('2026-01-16T09:00:00Z');
    for (let i = 0; i < 2; i++) await fire();
    expect((await fire({ phone: '+15550009999' })).status).toBe('completed');
  });

  it('defers over the cap to the end of the full bucket when overCap is defer', async () => {
    const { engine, fire, sms, clock } = setup('2026-01-15T18:00:00Z');
    await engine.rules.create(ACCOUNT, rule());
    await engine.contactPolicy.set(ACCOUNT, capped('defer'));
    for (let i = 0; i < 3; i++) await fire();
    const fourth = await fire();
    const until = expectDeferredTo(fourth, '2026-01-16T08:00:00Z', 'capped');
    expect(sms.sent).toHaveLength(3);
    await clock.set(until);
    await engine.runDue();
    expect(sms.sent).toHaveLength(4);
    expect((await engine.triggers.get(ACCOUNT, fourth.id))?.status).toBe('completed');
  });

  it('counts an hour cap and a week cap together: a send takes a unit in each or in none', async () => {
    const { engine, fire, clock } = setup('2026-01-12T18:00:00Z');
    await engine.rules.create(ACCOUNT, rule());
    await engine.contactPolicy.set(ACCOUNT, { channels: { sms: { caps: [{ max: 1, per: 'hour' }, { max: 2, per: 'week' }], timeZone: 'America/Los_Angeles' } } });
    expect((await fire()).status).toBe('completed'); // Monday 10:00 PST
    expect((await fire()).status).toBe('skipped'); // same hour: the hour cap is full; the week count is not taken
    await clock.set('2026-01-14T18:00:00Z');
    expect((await fire()).status).toBe('completed'); // Wednesday: the second of the week
    await clock.set('2026-01-16T18:00:00Z');
    expect((await fire()).status).toBe('skipped'); // Friday: the week is full
    await clock.set('2026-01-19T08:00:00Z'); // Monday 00:00 PST: a new ISO week
    expect((await fire()).status).toBe('completed');
  });

  it('gives the unit back when the send fails for good', async () => {
    const { engine, fire, sms } = setup('2026-01-15T18:00:00Z');
    await engine.rules.create(ACCOUNT, rule());
    await engine.contactPolicy.set(ACCOUNT, { channels: { sms: { caps: [{ max: 1, per: 'day' }] } } });
    sms.failNext(new GatewayError('invalid number', { provider: 'twilio', status: 400, providerCode: 21211 }));
    expect((await fire()).status).toBe('failed');
    expect((await fire()).status).toBe('completed');
    expect((await fire()).status).toBe('skipped');
  });

  it('holds a cap of 3 per day with 4 engines on one store: 50 triggers to one recipient, exactly 3 sends', async () => {
    const clock = createManualClock('2026-01-15T18:00:00Z');
    const store = createMemoryStore();
    const engines = ['a', 'b', 'c', 'd'].map((id) => setup('2026-01-15T18:00:00Z', store, clock, `engine-${id}`));
    const [first] = engines;
    if (!first) throw new Error('no engine');
    await first.engine.rules.create(ACCOUNT, rule());
    await first.engine.contactPolicy.set(ACCOUNT, capped());
    for (let i = 0; i < 50; i++) {
      const engine = engines[i % engines.length]?.engine;
      await engine?.ingest({ id: `burst-${i}`, name: 'visit.completed', accountId: ACCOUNT, timestamp: clock.now().toISOString(), payload: { visit: { status: 'done' }, client: { phone: PHONE } } });
    }
    const counts = await Promise.all(engines.map((e) => e.engine.runDue()));
    expect(counts.reduce((n, c) => n + c.claimed, 0)).toBe(50);
    expect(counts.reduce((n, c) => n + c.completed, 0)).toBe(3);
    expect(engines.reduce((n, e) => n + e.sms.sent.length, 0)).toBe(3);
    // More than one engine did the work.
    expect(engines.filter((e) => e.sms.calls.length > 0 || e.skipped.length > 0).length).toBeGreaterThan(1);
    const all = await first.engine.triggers.list(ACCOUNT, { limit: 100 });
    expect(all.items.filter((t) => t.status === 'completed')).toHaveLength(3);
    expect(all.items.filter((t) => t.status === 'skipped' && lastEntry(t)?.reason === 'capped')).toHaveLength(47);
  });
});

describe('contact policy: transactional messages', () => {
  it('skip quiet hours and caps, never suppression', async () => {
    const { engine, fire, sms } = setup('2026-03-07T03:00:00Z');
    await engine.rules.create(ACCOUNT, rule('transactional'));
    await engine.contactPolicy.set(ACCOUNT, { channels: { sms: { quietHours: { from: '21:00', to: '08:00', timeZone: '$.client.timeZone' }, caps: [{ max: 1, per: 'day' }] } } });
    for (let i = 0; i < 3; i++) expect((await fire({ timeZone: 'America/New_York' })).status).toBe('completed');
    expect(sms.sent).toHaveLength(3);
    await engine.suppressions.add(ACCOUNT, { channel: 'sms', recipient: PHONE, reason: 'stop', source: 'inbound-sms' });
    const suppressed = await fire({ timeZone: 'America/New_York' });
    expect(suppressed).toMatchObject({ status: 'skipped' });
    expect(lastEntry(suppressed)).toMatchObject({ reason: 'suppressed', actions: [{ status: 'skipped', reason: 'suppressed' }] });
    expect(sms.calls).toHaveLength(3);
  });

  it('a marketing action beside a transactional one: the run defers at the marketing one, the other stays sent once', async () => {
    const { engine, fire, sms, clock } = setup('2026-03-07T03:00:00Z');
    const email = rule('marketing').actions[0];
    await engine.rules.create(ACCOUNT, { ...rule('transactional'), actions: [rule('transactional').actions[0], email] } as RuleInput);
    await engine.contactPolicy.set(ACCOUNT, quietNight());
    const trigger = await fire({ timeZone: 'America/New_York' });
    expect(sms.sent).toHaveLength(1);
    expect(lastEntry(trigger)?.actions).toEqual([expect.objectContaining({ index: 0, status: 'sent' }), { index: 1, type: 'sms', status: 'not-attempted' }]);
    const until = expectDeferredTo(trigger, '2026-03-07T13:00:00Z');
    await clock.set(until);
    await engine.runDue();
    expect(sms.sent).toHaveLength(2);
    const done = await engine.triggers.get(ACCOUNT, trigger.id);
    expect(done?.status).toBe('completed');
    expect(done && lastEntry(done)?.actions?.map((a) => a.status)).toEqual(['already-sent', 'sent']);
  });
});

describe('suppressions', () => {
  it('STOP skips every send to the recipient, START lets them through again, and every change is kept', async () => {
    const { engine, fire, sms, skipped, changes, clock } = setup('2026-01-15T18:00:00Z');
    await engine.rules.create(ACCOUNT, rule());
    const added = await engine.suppressions.add(ACCOUNT, { channel: 'sms', recipient: ` ${PHONE} `, reason: 'stop', source: 'inbound-sms', detail: 'SM123' });
    expect(added).toMatchObject({ created: true, suppression: { accountId: ACCOUNT, channel: 'sms', recipient: PHONE, reason: 'stop', source: 'inbound-sms', detail: 'SM123' } });
    expect((await engine.suppressions.add(ACCOUNT, { channel: 'sms', recipient: PHONE, reason: 'stop', source: 'inbound-sms' })).created).toBe(false);

    const stopped = await fire();
    expect(stopped.status).toBe('skipped');
    expect(lastEntry(stopped)).toMatchObject({ outcome: 'skipped', reason: 'suppressed', actions: [{ index: 0, type: 'sms', status: 'skipped', reason: 'suppressed' }] });
    expect(sms.calls).toHaveLength(0);
    expect(skipped).toEqual([expect.objectContaining({ actionIndex: 0, reason: 'suppressed' })]);
    // Never retried.
    await clock.advance(3_600_000);
    await engine.runDue();
    expect(sms.calls).toHaveLength(0);

    await clock.set('2026-01-15T20:00:00Z');
    expect(await engine.suppressions.remove(ACCOUNT, 'sms', PHONE, { reason: 'stop', source: 'inbound-sms', detail: 'START' })).toBe(true);
    expect(await engine.suppressions.remove(ACCOUNT, 'sms', PHONE, { source: 'api' })).toBe(false);
    expect(await engine.suppressions.lookup(ACCOUNT, 'sms', PHONE)).toBeNull();
    expect((await fire()).status).toBe('completed');
    expect(sms.sent).toHaveLength(1);

    const audit = await engine.suppressions.changes(ACCOUNT, { channel: 'sms', recipient: PHONE });
    expect(audit.items).toEqual([
      { accountId: ACCOUNT, channel: 'sms', recipient: PHONE, action: 'added', reason: 'stop', source: 'inbound-sms', detail: 'SM123', at: new Date('2026-01-15T18:00:00Z') },
      { accountId: ACCOUNT, channel: 'sms', recipient: PHONE, action: 'removed', reason: 'stop', source: 'inbound-sms', detail: 'START', at: new Date('2026-01-15T20:00:00Z') },
    ]);
    expect(changes.map((c) => c.action)).toEqual(['added', 'removed']);
  });

  it('normalises and checks recipients; lists newest first in pages; keeps accounts apart', async () => {
    const { engine } = setup('2026-01-15T18:00:00Z');
    await engine.suppressions.add(ACCOUNT, { channel: 'email', recipient: 'Ann@Example.COM', reason: 'unsubscribe', source: 'email-event' });
    expect(await engine.suppressions.lookup(ACCOUNT, 'email', 'ann@example.com')).toMatchObject({ recipient: 'ann@example.com', reason: 'unsubscribe' });
    expect(await engine.suppressions.lookup('acc_other', 'email', 'ann@example.com')).toBeNull();
    for (const [recipient, path] of [
      ['5550001111', 'recipient'],
      ['', 'recipient'],
    ] as const) {
      const error = await engine.suppressions.add(ACCOUNT, { channel: 'sms', recipient, reason: 'manual', source: 'api' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ContactPolicyValidationError);
      expect((error as ContactPolicyValidationError).issues.map((i) => i.path)).toEqual([path]);
    }
    const webhook = await engine.suppressions.add(ACCOUNT, { channel: 'webhook', recipient: 'hooks.example.com', reason: 'manual', source: 'api' }).catch((e: unknown) => e);
    expect((webhook as ContactPolicyValidationError).issues).toEqual([expect.objectContaining({ path: 'channel', code: 'not_a_person' })]);
    const badReason = await engine.suppressions.add(ACCOUNT, asBadInput({ channel: 'sms', recipient: PHONE, reason: 'annoyed', source: 'api' })).catch((e: unknown) => e);
    expect((badReason as ContactPolicyValidationError).issues).toEqual([expect.objectContaining({ path: 'reason', code: 'invalid_value' })]);

    for (let i = 0; i < 5; i++) await engine.suppressions.add(ACCOUNT, { channel: 'sms', recipient: `+1555000200${i}`, reason: 'manual', source: 'api', by: 'ops@example.com' });
    const page = await engine.suppressions.list(ACCOUNT, { channel: 'sms', limit: 3 });
    expect(page.items.map((s) => s.recipient)).toEqual(['+15550002004', '+15550002003', '+15550002002']);
    const rest = await engine.suppressions.list(ACCOUNT, { channel: 'sms', limit: 3, cursor: page.nextCursor });
    expect(rest.items.map((s) => s.recipient)).toEqual(['+15550002001', '+15550002000']);
    expect(rest.nextCursor).toBeUndefined();
    expect((await engine.suppressions.list(ACCOUNT)).items).toHaveLength(6);
  });

  it('a provider opt-out (Twilio 21610) suppresses the recipient: skipped, not failed, and the next send is not tried', async () => {
    const { engine, fire, sms, changes } = setup('2026-01-15T18:00:00Z');
    await engine.rules.create(ACCOUNT, rule());
    await engine.contactPolicy.set(ACCOUNT, { channels: { sms: { caps: [{ max: 1, per: 'day' }] } } });
    sms.failNext(new GatewayError('Attempt to send to unsubscribed recipient', { provider: 'twilio', status: 400, providerCode: 21610 }));
    const first = await fire();
    expect(first.status).toBe('skipped');
    expect(lastEntry(first)).toMatchObject({ reason: 'suppressed', actions: [expect.objectContaining({ status: 'skipped', reason: 'suppressed', error: expect.objectContaining({ providerCode: 21610 }) })] });
    expect(await engine.suppressions.lookup(ACCOUNT, 'sms', PHONE)).toMatchObject({ reason: 'provider-opt-out', source: 'provider-error', by: 'engine-a' });
    expect(changes).toEqual([expect.objectContaining({ action: 'added', reason: 'provider-opt-out', source: 'provider-error' })]);
    // The ledger keeps the provider's refusal.
    const [delivery] = (await engine.deliveries.ofTrigger(ACCOUNT, first.id));
    expect(delivery?.state).toBe('refused');

    expect((await fire()).status).toBe('skipped');
    expect(sms.calls).toHaveLength(1);

    // START: the opted-out send gave its cap unit back, so today's one send is still there.
    await engine.suppressions.remove(ACCOUNT, 'sms', PHONE, { reason: 'provider-opt-out', source: 'inbound-sms' });
    expect((await fire()).status).toBe('completed');
    expect(sms.sent).toHaveLength(1);
  });

  it('a string providerCode 21610 counts too; other refusals stay failures', async () => {
    const { engine, fire, sms } = setup('2026-01-15T18:00:00Z');
    await engine.rules.create(ACCOUNT, rule());
    sms.failNext(new GatewayError('blocked', { provider: 'twilio', status: 400, providerCode: '21610' }));
    expect((await fire()).status).toBe('skipped');
    await engine.suppressions.remove(ACCOUNT, 'sms', PHONE, { source: 'api' });
    sms.failNext(new GatewayError('invalid number', { provider: 'twilio', status: 400, providerCode: 21211 }));
    expect((await fire()).status).toBe('failed');
    expect(await engine.suppressions.lookup(ACCOUNT, 'sms', PHONE)).toBeNull();
  });
});

/** Input a caller in another language could send: refused at run time, whatever the types say. */
function asBadInput(input: Record<string, unknown>): Parameters<ReturnType<typeof createAutomationEngine>['suppressions']['add']>[1] {
  return input as unknown as Parameters<ReturnType<typeof createAutomationEngine>['suppressions']['add']>[1];
}

describe('contact policy in the dry run', () => {
  it('says which send quiet hours would defer, which a suppression would skip, and which caps would count', async () => {
    const { engine } = setup('2026-03-07T03:00:00Z');
    await engine.contactPolicy.set(ACCOUNT, { channels: { sms: { quietHours: { from: '21:00', to: '08:00', timeZone: '$.client.timeZone' }, caps: [{ max: 3, per: 'day' }] } } });
    const sample = (timeZone: string, phone = PHONE) => ({ payload: { visit: { status: 'done' }, client: { phone, timeZone } } });
    const night = await engine.rules.dryRun(ACCOUNT, rule(), sample('America/New_York'));
    const until = night?.valid ? night.commands[0]?.contactPolicy : undefined;
    expect(until).toMatchObject({ outcome: 'deferred', reason: 'quiet-hours' });
    expect(until && 'until' in until ? until.until.getTime() - Date.parse('2026-03-07T13:00:00Z') : -1).toBeGreaterThanOrEqual(0);
    const day = await engine.rules.dryRun(ACCOUNT, rule(), sample('Australia/Sydney'));
    expect(day?.valid && day.commands[0]?.contactPolicy).toEqual({ outcome: 'counted', caps: [{ max: 3, per: 'day' }] });
    const transactional = await engine.rules.dryRun(ACCOUNT, rule('transactional'), sample('America/New_York'));
    expect(transactional?.valid && transactional.commands[0]?.contactPolicy).toBeUndefined();
    await engine.suppressions.add(ACCOUNT, { channel: 'sms', recipient: PHONE, reason: 'stop', source: 'inbound-sms' });
    const stopped = await engine.rules.dryRun(ACCOUNT, rule('transactional'), sample('America/New_York'));
    expect(stopped?.valid && stopped.commands[0]?.contactPolicy).toEqual({ outcome: 'skipped', reason: 'suppressed' });
  });
});
