import { afterEach, describe, expect, it } from 'vitest';
import { createAutomationEngine, GatewayError, withTracing, type ChannelGateway } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryBus, createMemoryStore } from '@crm-automation/core/memory';
import { everyChannelRule, jobDone } from './rule-fixture.js';
import { chainOf, parentIdOf, spanIdOf, spanRecorder, traceIdOf, type SpanRecorder } from './span-recorder.js';
import { SpanStatusCode } from '@opentelemetry/api';

describe('one trace through an in-process engine', () => {
  let recorder: SpanRecorder;
  afterEach(() => recorder.shutdown());

  const setup = (gateways: Record<string, ChannelGateway> = {}) => {
    recorder = spanRecorder('engine');
    const traced = (type: string, gateway: ChannelGateway) => withTracing(gateway, recorder.tracer, type === 'sms' ? 'twilio' : type === 'email' ? 'sendgrid' : 'webhook');
    const channels = Object.fromEntries(
      ['sms', 'email', 'webhook'].map((type) => [type, traced(type, gateways[type] ?? createRecordingChannel())]),
    );
    const clock = createManualClock('2026-11-27T10:00:00Z');
    const store = createMemoryStore();
    const engine = createAutomationEngine({ store, bus: createMemoryBus(), clock, channels, tracer: recorder.tracer });
    return { engine, store };
  };

  it('links publish → intake → trigger processing → every action send → every gateway call', async () => {
    const { engine } = setup();
    await engine.rules.create('acc_1', everyChannelRule);
    await engine.publish(jobDone('acc_1'));
    const counts = await engine.runDue();
    expect(counts.completed).toBe(1);

    const spans = recorder.spans();
    expect(new Set(spans.map(traceIdOf)).size).toBe(1);
    expect(chainOf(spans)).toEqual([
      ['crm.action.send', 'CLIENT', 'crm.trigger.process'],
      ['crm.action.send', 'CLIENT', 'crm.trigger.process'],
      ['crm.action.send', 'CLIENT', 'crm.trigger.process'],
      ['crm.event.publish', 'PRODUCER', undefined],
      ['crm.gateway.sendgrid', 'CLIENT', 'crm.action.send'],
      ['crm.gateway.twilio', 'CLIENT', 'crm.action.send'],
      ['crm.gateway.webhook', 'CLIENT', 'crm.action.send'],
      ['crm.intake', 'CONSUMER', 'crm.event.publish'],
      ['crm.trigger.process', 'INTERNAL', 'crm.intake'],
    ]);
    // Each gateway call is the child of the send of its own action.
    for (const [gateway, type] of [['crm.gateway.twilio', 'sms'], ['crm.gateway.sendgrid', 'email'], ['crm.gateway.webhook', 'webhook']] as const) {
      const send = recorder.named('crm.action.send').find((s) => s.attributes['crm.action_type'] === type);
      expect(parentIdOf(recorder.one(gateway))).toBe(send && spanIdOf(send));
    }
    expect(recorder.one('crm.trigger.process').attributes).toMatchObject({ 'crm.account_id': 'acc_1', 'crm.status': 'completed', 'crm.attempt': 1 });
    expect(recorder.one('crm.intake').attributes).toMatchObject({ 'crm.event_name': 'job.status.changed', 'crm.account_id': 'acc_1' });
  });

  it('a retry attempt joins the same trace, and a failed send is an ERROR span', async () => {
    const sms = createRecordingChannel();
    sms.failNext(new GatewayError('twilio answered 503', { retryable: true, provider: 'twilio', status: 503 }));
    const { engine } = setup({ sms });
    await engine.rules.create('acc_1', everyChannelRule);
    await engine.publish(jobDone('acc_1'));
    expect((await engine.runDue()).retrying).toBe(1);
    await (engine.clock as ReturnType<typeof createManualClock>).advance(60 * 60_000);
    expect((await engine.runDue()).completed).toBe(1);

    const spans = recorder.spans();
    expect(new Set(spans.map(traceIdOf)).size).toBe(1);
    const processes = recorder.named('crm.trigger.process');
    expect(processes.map((p) => p.attributes['crm.status'])).toEqual(['retrying', 'completed']);
    const intake = recorder.one('crm.intake');
    for (const p of processes) expect(parentIdOf(p)).toBe(spanIdOf(intake));
    const failed = spans.filter((s) => s.status.code === SpanStatusCode.ERROR).map((s) => s.name).sort();
    expect(failed).toEqual(['crm.action.send', 'crm.gateway.twilio']);
  });

  it('stores the trace context on the trigger only when tracing is on', async () => {
    const { engine } = setup();
    const rule = await engine.rules.create('acc_1', everyChannelRule);
    await engine.publish(jobDone('acc_1'));
    const [traced] = (await engine.triggers.list('acc_1', { ruleId: rule.id })).items;
    expect(traced?.trace?.['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    const plain = createAutomationEngine({ store: createMemoryStore(), channels: { sms: createRecordingChannel(), email: createRecordingChannel(), webhook: createRecordingChannel() } });
    const plainRule = await plain.rules.create('acc_1', everyChannelRule);
    await plain.publish(jobDone('acc_1'));
    const [untraced] = (await plain.triggers.list('acc_1', { ruleId: plainRule.id })).items;
    expect(untraced && 'trace' in untraced).toBe(false);
  });
});
