import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createAutomationEngine, GatewayError } from '@crm-automation/core';
import { createMemoryBus, createMemoryStore } from '@crm-automation/core/memory';
import { createAutomationMetrics, httpMetrics, instrumentBus, instrumentEngine } from '@crm-automation/metrics';
import { cancellableReminderRule, doneJobPayload, highValueJobPayload, highValueJobRule, technicianSmsRule } from '@crm-automation/testing';
import { createManualClock, createRecordingChannel } from '@crm-automation/testing/doubles';

async function value(metrics: ReturnType<typeof createAutomationMetrics>, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  const data = await metric?.get();
  const match = data?.values.find((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val) && (!('metricName' in v) || v.metricName === name || v.metricName === undefined));
  return match?.value;
}

describe('engine metrics', () => {
  it('counts events, triggers by outcome, retries, fire lag, batches and gateway latency by provider', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const sms = { ...createRecordingChannel(), name: 'twilio' };
    const email = createRecordingChannel({ name: 'sendgrid' });
    const webhook = createRecordingChannel({ name: 'webhook' });
    const bus = createMemoryBus();
    const engine = createAutomationEngine({ store: createMemoryStore(), bus, clock, channels: { sms, email, webhook }, backoff: { baseMs: 1_000, jitter: 0 } });
    const metrics = createAutomationMetrics({ processMetrics: false });
    instrumentEngine(engine, { metrics });
    instrumentBus(bus, { metrics, name: 'memory' });

    await engine.rules.create('acc_1', technicianSmsRule);
    await engine.rules.create('acc_1', highValueJobRule);
    await engine.publish({ name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload, id: 'e1' });
    await engine.publish({ name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload, id: 'e1' });
    await engine.publish({ name: 'job.created', accountId: 'acc_1', payload: highValueJobPayload(2500, 'Commercial') });
    await engine.publish({ name: 'job.created', accountId: 'acc_1', payload: highValueJobPayload(10, 'Commercial') });
    await engine.publish({ name: 'job.unknown', accountId: 'acc_1', payload: {} });
    webhook.failNext(new GatewayError('503', { retryable: true }));
    await clock.advance(30_000);
    await engine.runDue();

    expect(await value(metrics, 'crm_events_ingested_total', { outcome: 'matched' })).toBe(3);
    expect(await value(metrics, 'crm_events_ingested_total', { outcome: 'duplicate' })).toBe(1);
    expect(await value(metrics, 'crm_events_ingested_total', { outcome: 'unmatched' })).toBe(1);
    expect(await value(metrics, 'crm_triggers_created_total')).toBe(3);
    expect(await value(metrics, 'crm_triggers_finished_total', { status: 'retrying', reason: 'transient-error' })).toBe(1);
    expect(await value(metrics, 'crm_triggers_finished_total', { status: 'skipped', reason: 'conditions-not-met' })).toBe(1);
    expect(await value(metrics, 'crm_trigger_retries_total')).toBe(1);
    expect(await value(metrics, 'crm_gateway_errors_total', { provider: 'webhook', type: 'webhook', retryable: 'true' })).toBe(1);

    const text = await metrics.registry.metrics();
    // The two due triggers were claimed 30 s late: both land in the 30 s bucket, not below.
    expect(text).toMatch(/crm_trigger_fire_lag_seconds_bucket\{le="10"\} 0/);
    expect(text).toMatch(/crm_trigger_fire_lag_seconds_bucket\{le="30"\} 2/);
    expect(text).toMatch(/crm_claim_batch_size_count 1/);
    expect(text).toMatch(/crm_gateway_request_duration_seconds_count\{provider="sendgrid",type="email",outcome="sent"\} 1/);
    expect(text).toMatch(/crm_bus_dead_letters\{bus="memory"\} 0/);
    expect(text).toMatch(/crm_bus_backlog_messages\{bus="memory",name="automation-intake"\} 0/);

    await clock.advance(5 * 60_000);
    await engine.runDue();
    expect(await value(metrics, 'crm_triggers_finished_total', { status: 'completed', reason: 'none' })).toBe(2);
  });
});

describe('HTTP metrics', () => {
  it('counts requests by route template and status, and serves /metrics', async () => {
    const metrics = createAutomationMetrics({ processMetrics: true });
    const app = Fastify();
    await app.register(httpMetrics, { metrics, service: 'rules-service' });
    app.get('/rules/:id', async (request, reply) => ((request.params as { id: string }).id === 'x' ? reply.status(404).send({}) : { ok: true }));
    await app.inject({ url: '/rules/abc' });
    await app.inject({ url: '/rules/def' });
    await app.inject({ url: '/rules/x' });
    await app.inject({ url: '/nowhere' });
    const response = await app.inject({ url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    expect(response.body).toContain('crm_http_requests_total{service="rules-service",method="GET",route="/rules/:id",status="200"} 2');
    expect(response.body).toContain('crm_http_requests_total{service="rules-service",method="GET",route="/rules/:id",status="404"} 1');
    expect(response.body).toContain('route="unmatched",status="404"');
    expect(response.body).toContain('crm_process_process_cpu_seconds_total');
    await app.close();
  });
});

describe('gateway metrics', () => {
  it('times sends and counts failures by provider', async () => {
    const { instrumentGateway } = await import('@crm-automation/metrics');
    const metrics = createAutomationMetrics({ processMetrics: false });
    const channel = createRecordingChannel();
    const gateway = instrumentGateway(channel, { metrics, provider: 'twilio' });
    const command = { type: 'sms', params: { recipient: '+15557654321', message: 'hi' }, metadata: { source: 'automation-engine' as const, ruleId: 'r', triggerId: 't', accountId: 'a', actionIndex: 0, idempotencyKey: 't:0' } };
    await gateway.send(command);
    channel.failNext(new GatewayError('429', { retryable: true }));
    await expect(gateway.send(command)).rejects.toThrow('429');
    const text = await metrics.registry.metrics();
    expect(text).toContain('crm_gateway_request_duration_seconds_count{provider="twilio",type="sms",outcome="sent"} 1');
    expect(text).toContain('crm_gateway_errors_total{provider="twilio",type="sms",retryable="true"} 1');
  });
});

describe('entity metrics', () => {
  it('counts runs superseded, stale, cancelled by event and skipped, by reason', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms: createRecordingChannel() } });
    const metrics = createAutomationMetrics({ processMetrics: false });
    instrumentEngine(engine, { metrics });
    const keyed = { ...technicianSmsRule, trigger: { eventName: 'job.status.changed', key: '$.job.id' } };
    await engine.rules.create('acc_1', { ...keyed, name: 'Debounced', concurrency: { mode: 'supersede' } });
    await engine.rules.create('acc_1', { ...keyed, name: 'Once', concurrency: { mode: 'skipIfPending' }, cancelOn: [{ eventName: 'job.reopened' }] });
    const at = (seconds: number) => new Date(clock.now().getTime() + seconds * 1000);
    const job = (id: string, extra: Record<string, unknown> = {}) => ({ job: { ...doneJobPayload.job, id, ...extra } });
    await engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', id: 'e1', timestamp: at(0), payload: job('J1') });
    await engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', id: 'e2', timestamp: at(2), payload: job('J1') });
    // Older than the pending one: stale for the supersede rule, skipped for the skipIfPending rule.
    await engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', id: 'e0', timestamp: at(1), payload: job('J1') });
    await engine.ingest({ name: 'job.reopened', accountId: 'acc_1', id: 'r1', timestamp: at(3), payload: job('J1') });
    // A run whose recipient is missing is skipped when it fires, not failed.
    await engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', id: 'e3', timestamp: at(0), payload: job('J2', { assignedTechnician: { name: 'Nobody' } }) });
    await clock.advance(10 * 60_000);
    await engine.runDue();

    expect(await value(metrics, 'crm_triggers_superseded_total', { reason: 'superseded' })).toBe(1);
    expect(await value(metrics, 'crm_triggers_superseded_total', { reason: 'stale' })).toBe(1);
    expect(await value(metrics, 'crm_triggers_skipped_total', { reason: 'pending-exists' })).toBe(2);
    expect(await value(metrics, 'crm_triggers_cancelled_total', { reason: 'cancelled-by-event', stage: 'intake' })).toBe(1);
    // Pending ones: e1, e2 (replacing e1) and J2's for the supersede rule; e1 and J2's for the other. Stale and skipped ones are stored finished.
    expect(await value(metrics, 'crm_triggers_created_total')).toBe(5);
    // The re-opening event starts nothing but cancels a run: matched, like the four that started runs.
    expect(await value(metrics, 'crm_events_ingested_total', { outcome: 'matched' })).toBe(5);
    expect(await value(metrics, 'crm_events_ingested_total', { outcome: 'unmatched' })).toBeUndefined();
    // J2's runs of both rules: the design doc's `notEqual: null` passes for an absent phone, the recipient does not resolve.
    expect(await value(metrics, 'crm_triggers_skipped_total', { reason: 'recipient-missing' })).toBe(2);
    expect(await value(metrics, 'crm_triggers_finished_total', { status: 'completed', reason: 'none' })).toBe(1);
  });
});

describe('entity metrics while a run is processing', () => {
  it('counts a cancel that stops a run between its actions as stage processing, once', async () => {
    const clock = createManualClock('2026-03-01T10:00:00Z');
    let engine: ReturnType<typeof createAutomationEngine> | undefined;
    // The appointment is cancelled while the reminder's SMS is being sent.
    const sms = createRecordingChannel({
      respond: async () => {
        await engine?.ingest({ id: 'c1', name: 'appointment.cancelled', accountId: 'acc_1', payload: { appointment: { id: 'apt-1' } }, timestamp: '2026-03-01T10:00:01Z' });
        return { id: 'sms-1' };
      },
    });
    engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms, email: createRecordingChannel() } });
    const metrics = createAutomationMetrics({ processMetrics: false });
    instrumentEngine(engine, { metrics });
    await engine.rules.create('acc_1', cancellableReminderRule);
    await engine.ingest({ id: 'b1', name: 'appointment.booked', accountId: 'acc_1', payload: { appointment: { id: 'apt-1' } }, timestamp: '2026-03-01T10:00:00Z' });
    expect(await engine.runDue()).toMatchObject({ cancelled: 1 });
    expect(await value(metrics, 'crm_triggers_cancelled_total', { reason: 'cancelled-by-event', stage: 'processing' })).toBe(1);
    expect(await value(metrics, 'crm_triggers_cancelled_total', { reason: 'cancelled-by-event', stage: 'intake' })).toBeUndefined();
    expect(await value(metrics, 'crm_triggers_finished_total', { status: 'cancelled', reason: 'cancelled-by-event' })).toBe(1);
  });
});

describe('schedule metrics', () => {
  it('counts schedule skips by account and reason, reschedules by account, and cancels by the skip reason', async () => {
    const clock = createManualClock('2026-03-02T12:00:00Z');
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms: createRecordingChannel() } });
    const metrics = createAutomationMetrics({ processMetrics: false });
    instrumentEngine(engine, { metrics });
    const reminder = {
      name: 'Appointment reminder',
      trigger: { eventName: 'appointment.scheduled', key: '$.appointment.id' },
      schedule: { anchor: '$.appointment.startsAt', offset: { value: -1, unit: 'days' as const }, at: '09:00', timeZone: '$.client.timeZone' },
      conditions: { all: [] },
      actions: [{ type: 'sms' as const, params: { recipient: '+15550001111', message: 'See you tomorrow' } }],
    };
    // One run per booking: a second booking event while one waits is skipped as pending-exists.
    const once = { ...reminder, name: 'Booking receipt', trigger: { eventName: 'appointment.booked', key: '$.appointment.id' }, concurrency: { mode: 'skipIfPending' as const } };
    await engine.rules.create('acc_1', reminder);
    await engine.rules.create('acc_2', reminder);
    await engine.rules.create('acc_1', once);
    const appointment = (accountId: string, id: string, eventId: string, timestamp: string, startsAt: string | undefined, timeZone = 'America/New_York', name = 'appointment.scheduled') =>
      engine.ingest({ id: eventId, name, accountId, timestamp, payload: { appointment: { id, ...(startsAt === undefined ? {} : { startsAt }) }, client: { timeZone } } });

    await appointment('acc_1', 'apt-1', 'e1', '2026-03-02T11:00:00Z', '2026-03-10T15:00:00-04:00');
    // Moved later, then earlier: two reschedules of acc_1's run.
    await appointment('acc_1', 'apt-1', 'e2', '2026-03-02T11:10:00Z', '2026-03-12T15:00:00-04:00');
    await appointment('acc_1', 'apt-1', 'e3', '2026-03-02T11:20:00Z', '2026-03-05T15:00:00-05:00');
    // Same anchor again: superseded, not rescheduled.
    await appointment('acc_1', 'apt-1', 'e4', '2026-03-02T11:30:00Z', '2026-03-05T20:00:00Z');
    // The appointment is removed: skipped for anchor-missing, and the waiting run is cancelled with that reason.
    await appointment('acc_1', 'apt-1', 'e5', '2026-03-02T11:40:00Z', undefined);
    // Moved into the past with nothing waiting: skipped, nothing cancelled.
    await appointment('acc_1', 'apt-2', 'e6', '2026-03-02T11:40:00Z', '2026-03-02T13:00:00Z');
    await appointment('acc_2', 'apt-3', 'e7', '2026-03-02T11:40:00Z', '2026-03-10T15:00:00Z', 'Mars/Olympus_Mons');
    await appointment('acc_2', 'apt-3', 'e8', '2026-03-02T11:50:00Z', '2030-03-10T15:00:00Z');
    // A redelivered skip is not counted again.
    await appointment('acc_2', 'apt-3', 'e8', '2026-03-02T11:50:00Z', '2030-03-10T15:00:00Z');
    // The skipIfPending rule: its second event is the only pending-exists skip.
    await appointment('acc_1', 'apt-9', 'b1', '2026-03-02T11:00:00Z', '2026-03-10T15:00:00Z', 'America/New_York', 'appointment.booked');
    await appointment('acc_1', 'apt-9', 'b2', '2026-03-02T11:05:00Z', '2026-03-11T15:00:00Z', 'America/New_York', 'appointment.booked');

    expect(await value(metrics, 'crm_triggers_rescheduled_total', { account_id: 'acc_1' })).toBe(2);
    expect(await value(metrics, 'crm_triggers_rescheduled_total', { account_id: 'acc_2' })).toBeUndefined();
    expect(await value(metrics, 'crm_triggers_superseded_total', { reason: 'superseded' })).toBe(3);
    expect(await value(metrics, 'crm_schedule_skipped_total', { account_id: 'acc_1', reason: 'anchor-missing' })).toBe(1);
    expect(await value(metrics, 'crm_schedule_skipped_total', { account_id: 'acc_1', reason: 'past' })).toBe(1);
    expect(await value(metrics, 'crm_schedule_skipped_total', { account_id: 'acc_2', reason: 'zone-unknown' })).toBe(1);
    expect(await value(metrics, 'crm_schedule_skipped_total', { account_id: 'acc_2', reason: 'beyond-horizon' })).toBe(1);
    expect(await value(metrics, 'crm_schedule_skipped_total', { account_id: 'acc_2', reason: 'past' })).toBeUndefined();
    expect(await value(metrics, 'crm_triggers_skipped_total', { reason: 'anchor-missing' })).toBe(1);
    expect(await value(metrics, 'crm_triggers_skipped_total', { reason: 'past' })).toBe(1);
    expect(await value(metrics, 'crm_triggers_skipped_total', { reason: 'pending-exists' })).toBe(1);
    expect(await value(metrics, 'crm_triggers_cancelled_total', { reason: 'anchor-missing', stage: 'intake' })).toBe(1);
    expect(await value(metrics, 'crm_triggers_cancelled_total', { reason: 'past', stage: 'intake' })).toBeUndefined();
    // e1 to e4 (each replacing the one before) and b1 waited; no skipped one did.
    expect(await value(metrics, 'crm_triggers_created_total')).toBe(5);
    const text = await metrics.registry.metrics();
    expect(text).toContain('crm_schedule_skipped_total{account_id="acc_2",reason="beyond-horizon"} 1');
    expect(text).toContain('crm_triggers_rescheduled_total{account_id="acc_1"} 2');
  });
});
