import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafkaBus } from '@crm-automation/adapter-kafka';
import { createRabbitBus } from '@crm-automation/adapter-rabbitmq';
import type { AutomationEvent, EventBus } from '@crm-automation/core';
import { cleanUpBusesAfterEach, rabbitAndKafkaFromEnv } from '@crm-automation/testing';
import type { DeadLetterRow, ReplayResult } from '../src/index.js';
import { spawnCli, spawnCliJson } from './spawn-cli.js';

const { rabbitUrl, kafkaBrokers } = rabbitAndKafkaFromEnv();
// Broker names are dropped best-effort: a leftover topic must not fail a test that passed.
const { defer } = cleanUpBusesAfterEach({ ignoreFailures: true });

interface Subject {
  bus: EventBus & { deadLetters: { list(filter?: { group?: string }): Promise<unknown[]> } };
  /** Flags that point the CLI at the subject's topology. */
  flags: string[];
}

function rabbitSubject(): Subject {
  const namespace = `cli.${randomUUID().slice(0, 8)}`;
  const bus = createRabbitBus({ url: rabbitUrl, exchange: namespace, queuePrefix: namespace, queueType: 'classic', retryDelaysMs: [100], groups: ['intake'] });
  defer(async () => {
    await bus.close();
    const model = await connect(rabbitUrl);
    const channel = await model.createChannel();
    for (const queue of ['', '.dead-letter', '.retry.100ms']) await channel.deleteQueue(`${namespace}.intake${queue}`);
    await channel.deleteExchange(namespace);
    await model.close();
  });
  return { bus, flags: ['--bus', 'rabbitmq', '--exchange', namespace, '--queue-prefix', namespace] };
}

function kafkaSubject(): Subject {
  const topic = `cli-${randomUUID().slice(0, 8)}`;
  const bus = createKafkaBus({ brokers: kafkaBrokers, topic, partitions: 1, sessionTimeoutMs: 10_000, retryDelaysMs: [100] });
  defer(async () => {
    await bus.close();
    const admin = new Kafka({ clientId: 'cli-test-cleanup', brokers: kafkaBrokers.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteGroups(['intake', 'intake.retry', `${topic}.dead-letter.replay`]).catch(() => []);
    await admin.deleteTopics({ topics: [topic, `${topic}.retry`, `${topic}.dead-letter`] }).catch(() => {});
    await admin.disconnect();
  });
  return { bus, flags: ['--bus', 'kafka', '--topic', topic] };
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const event = (accountId: string): AutomationEvent => ({ id: `evt-${randomUUID()}`, name: 'job.status.changed', accountId, payload: {} });

describe.each([
  ['RabbitMQ', rabbitSubject],
  ['Kafka', kafkaSubject],
])('crm-automation dead-letters on %s (the real binary)', (_name, makeSubject) => {
  it('lists by group and account, replays nothing on a dry run, then moves the chosen letters back', async () => {
    const { bus, flags } = makeSubject();
    let refuse = true;
    const handled: string[] = [];
    await bus.subscribe(async (message) => {
      if (refuse) throw Object.assign(new Error('downstream rejected the event'), { retryable: false });
      handled.push((message as AutomationEvent).accountId);
    }, { group: 'intake' });
    for (const accountId of ['acc_a', 'acc_b', 'acc_a']) await bus.publish(event(accountId));
    await waitFor(async () => (await bus.deadLetters.list({ group: 'intake' })).length === 3, 'three dead letters');

    const all = await spawnCliJson<DeadLetterRow[]>(['dead-letters', 'list', ...flags, '--group', 'intake']);
    expect(all.map((r) => [r.group, r.accountId, r.eventName, r.reason])).toEqual([
      ['intake', 'acc_a', 'job.status.changed', 'downstream rejected the event'],
      ['intake', 'acc_b', 'job.status.changed', 'downstream rejected the event'],
      ['intake', 'acc_a', 'job.status.changed', 'downstream rejected the event'],
    ]);
    const table = await spawnCli(['dead-letters', 'list', ...flags, '--group', 'intake', '--account', 'acc_b']);
    expect(table.stdout).toMatch(/^DEAD AT +GROUP +ACCOUNT +EVENT +ATTEMPTS +REASON\n.+intake +acc_b +job\.status\.changed evt-.+ +1 +downstream rejected the event\n1 dead letter\n$/);

    const dry = await spawnCliJson<ReplayResult>(['dead-letters', 'replay', ...flags, '--group', 'intake', '--account', 'acc_a', '--dry-run']);
    expect(dry).toMatchObject({ dryRun: true, moved: 0 });
    expect(dry.wouldMove.map((r) => r.accountId)).toEqual(['acc_a', 'acc_a']);
    expect(await bus.deadLetters.list({ group: 'intake' })).toHaveLength(3);

    refuse = false;
    const replayed = await spawnCli(['dead-letters', 'replay', ...flags, '--group', 'intake', '--account', 'acc_a']);
    expect([replayed.code, replayed.stdout]).toEqual([0, 'replayed 2 dead letters\n']);
    await waitFor(() => handled.length === 2, 'the replayed events');
    expect(handled).toEqual(['acc_a', 'acc_a']);
    expect((await spawnCliJson<DeadLetterRow[]>(['dead-letters', 'list', ...flags, '--group', 'intake'])).map((r) => r.accountId)).toEqual(['acc_b']);
  });
});
