import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafkaBus } from '@crm-automation/adapter-kafka';
import { createRabbitBus } from '@crm-automation/adapter-rabbitmq';
import { createHttpChannels } from '@crm-automation/channels';
import { createAutomationEngine, createMemoryStore, type EventBus } from '@crm-automation/core';
import { cleanUpBusesAfterEach, rabbitAndKafkaFromEnv } from '@crm-automation/testing';
import { SERVICE_TOKEN, startNotificationService } from './notification-process.js';
import { everyChannelRule, jobDone } from './rule-fixture.js';
import { chainOf, parentIdOf, spanIdOf, spanRecorder, traceIdOf } from './span-recorder.js';

const { rabbitUrl, kafkaBrokers } = rabbitAndKafkaFromEnv();
// Broker names are dropped best-effort: a leftover topic must not fail a test that passed.
const { defer } = cleanUpBusesAfterEach({ ignoreFailures: true });

interface BusPair {
  /** The CRM's bus (publishes only). */
  crm: EventBus;
  /** The trigger service's bus (consumes). */
  triggers: EventBus;
}

function rabbitPair(): BusPair {
  const namespace = `otel.${randomUUID().slice(0, 8)}`;
  const options = { url: rabbitUrl, exchange: namespace, queuePrefix: namespace, queueType: 'classic' as const, retryDelaysMs: [100], groups: ['automation-intake'] };
  const pair = { crm: createRabbitBus(options), triggers: createRabbitBus(options) };
  defer(async () => {
    const model = await connect(rabbitUrl);
    const channel = await model.createChannel();
    for (const queue of ['', '.dead-letter', '.retry.100ms']) await channel.deleteQueue(`${namespace}.automation-intake${queue}`);
    await channel.deleteExchange(namespace);
    await model.close();
  });
  return pair;
}

function kafkaPair(): BusPair {
  const topic = `otel-${randomUUID().slice(0, 8)}`;
  const options = { brokers: kafkaBrokers, topic, partitions: 1, sessionTimeoutMs: 10_000, retryDelaysMs: [100] };
  const pair = { crm: createKafkaBus(options), triggers: createKafkaBus(options) };
  defer(async () => {
    const admin = new Kafka({ clientId: 'otel-test-cleanup', brokers: kafkaBrokers.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteGroups(['automation-intake', 'automation-intake.retry']).catch(() => []);
    await admin.deleteTopics({ topics: [topic, `${topic}.retry`, `${topic}.dead-letter`] }).catch(() => {});
    await admin.disconnect();
  });
  return pair;
}

async function waitFor(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each([
  ['RabbitMQ', rabbitPair],
  ['Kafka', kafkaPair],
])('one trace from the CRM through %s, the trigger service and the notification service', (_name, makePair) => {
  it('carries the context in message headers and HTTP headers: publish → intake → processing → sends → gateways', async () => {
    const crm = spanRecorder('crm');
    const triggerService = spanRecorder('trigger-service');
    const notificationService = spanRecorder('notification-service');
    const notifications = await startNotificationService(notificationService);
    const buses = makePair();
    defer(() => notifications.close(), () => buses.crm.close(), () => buses.triggers.close());

    // Three processes in one test: each has its own OTel SDK, so only propagated headers link them.
    const crmEngine = createAutomationEngine({ store: createMemoryStore(), bus: buses.crm, tracer: crm.tracer });
    const engine = createAutomationEngine({
      store: createMemoryStore(),
      bus: buses.triggers,
      channels: createHttpChannels({ baseUrl: notifications.url, token: SERVICE_TOKEN }),
      tracer: triggerService.tracer,
      pollIntervalMs: 50,
    });
    defer(() => engine.stop());
    await engine.rules.create('acc_1', everyChannelRule);
    await engine.start();

    await crmEngine.publish(jobDone('acc_1'));
    await waitFor(() => Object.values(notifications.sent).every((c) => c.sent.length === 1), 'one send per gateway');
    await waitFor(() => triggerService.named('crm.trigger.process').length === 1, 'the processing span to end');

    const all = [...crm.spans(), ...triggerService.spans(), ...notificationService.spans()];
    expect(new Set(all.map(traceIdOf)).size).toBe(1);
    expect(chainOf(crm.spans())).toEqual([['crm.event.publish', 'PRODUCER', undefined]]);
    expect(parentIdOf(triggerService.one('crm.intake'))).toBe(spanIdOf(crm.one('crm.event.publish')));
    expect(chainOf(triggerService.spans())).toEqual([
      ['crm.action.send', 'CLIENT', 'crm.trigger.process'],
      ['crm.action.send', 'CLIENT', 'crm.trigger.process'],
      ['crm.action.send', 'CLIENT', 'crm.trigger.process'],
      ['crm.intake', 'CONSUMER', expect.stringMatching(/^remote:/)],
      ['crm.trigger.process', 'INTERNAL', 'crm.intake'],
    ]);
    for (const [gateway, type] of [['crm.gateway.twilio', 'sms'], ['crm.gateway.sendgrid', 'email'], ['crm.gateway.webhook', 'webhook']] as const) {
      const send = triggerService.named('crm.action.send').find((s) => s.attributes['crm.action_type'] === type);
      expect(send).toBeDefined();
      expect(parentIdOf(notificationService.one(gateway))).toBe(send && spanIdOf(send));
    }
  });
});
