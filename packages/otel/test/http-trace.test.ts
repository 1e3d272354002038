import { afterEach, describe, expect, it } from 'vitest';
import { createHttpChannels } from '@crm-automation/channels';
import { createAutomationEngine, createMemoryStore } from '@crm-automation/core';
import { SERVICE_TOKEN, startNotificationService } from './notification-process.js';
import { everyChannelRule, jobDone } from './rule-fixture.js';
import { chainOf, parentIdOf, spanIdOf, spanRecorder, traceIdOf, type SpanRecorder } from './span-recorder.js';

describe('one trace across HTTP: createHttpChannels → notification routes → withTracing gateway', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('parents each notification-service gateway span on the trigger service send that called it', async () => {
    const triggerService: SpanRecorder = spanRecorder('trigger-service');
    const notificationService: SpanRecorder = spanRecorder('notification-service');
    const notifications = await startNotificationService(notificationService);
    cleanups.push(() => triggerService.shutdown(), () => notificationService.shutdown(), () => notifications.close());

    const engine = createAutomationEngine({
      store: createMemoryStore(),
      channels: createHttpChannels({ baseUrl: notifications.url, token: SERVICE_TOKEN }),
      tracer: triggerService.tracer,
    });
    await engine.rules.create('acc_1', everyChannelRule);
    await engine.publish(jobDone('acc_1'));
    expect((await engine.runDue()).completed).toBe(1);
    expect(Object.values(notifications.sent).map((c) => c.sent.length)).toEqual([1, 1, 1]);

    const local = triggerService.spans();
    const remote = notificationService.spans();
    expect(new Set([...local, ...remote].map(traceIdOf)).size).toBe(1);
    expect(chainOf(remote)).toEqual([
      ['crm.gateway.sendgrid', 'CLIENT', expect.stringMatching(/^remote:/)],
      ['crm.gateway.twilio', 'CLIENT', expect.stringMatching(/^remote:/)],
      ['crm.gateway.webhook', 'CLIENT', expect.stringMatching(/^remote:/)],
    ]);
    for (const [gateway, type] of [['crm.gateway.twilio', 'sms'], ['crm.gateway.sendgrid', 'email'], ['crm.gateway.webhook', 'webhook']] as const) {
      const send = triggerService.named('crm.action.send').find((s) => s.attributes['crm.action_type'] === type);
      expect(send).toBeDefined();
      expect(parentIdOf(notificationService.one(gateway))).toBe(send && spanIdOf(send));
    }
  });
});
