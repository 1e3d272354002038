import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AutomationEvent } from '@crm-automation/core';
import { cleanUpBusesAfterEach } from '@crm-automation/testing';
import { createKafkaBus } from '../src/index.js';
import { deleteKafkaNames } from './kafka-cleanup.js';
import { kafkaBrokers, kafkaSubject, requireKafka } from './kafka-subject.js';

beforeAll(requireKafka);

const { track, defer } = cleanUpBusesAfterEach();

const event = (accountId: string, n = 0): AutomationEvent => ({ id: `evt-${randomUUID()}`, name: 'job.status.changed', accountId, payload: { n } });

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function admin() {
  return new Kafka({ clientId: 'crm-test-admin', brokers: kafkaBrokers.split(','), logLevel: logLevel.NOTHING }).admin();
}

describe('Kafka bus', () => {
  it('creates its three topics up front with the configured partitions', async () => {
    const bus = track(kafkaSubject({ partitions: 4 }));
    await (await bus.subscribe(async () => {}, { group: 'intake' })).stop();
    const client = admin();
    await client.connect();
    try {
      const { topics } = await client.fetchTopicMetadata({ topics: [bus.topics.events, bus.topics.retry, bus.topics.deadLetter] });
      expect(topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual(
        [
          [bus.topics.events, 4],
          [bus.topics.retry, 4],
          [bus.topics.deadLetter, 4],
        ].sort(),
      );
      expect(bus.topics.retry).toBe(`${bus.topics.events}.retry`);
      expect(bus.topics.deadLetter).toBe(`${bus.topics.events}.dead-letter`);
    } finally {
      await client.disconnect();
    }
  });

  it('keys events by accountId: each account is handled in publish order', async () => {
    const bus = track(kafkaSubject());
    const seen = new Map<string, number[]>();
    await bus.subscribe(async (message) => {
      const { accountId, payload } = message as AutomationEvent;
      seen.set(accountId, [...(seen.get(accountId) ?? []), payload.n as number]);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }, { group: 'intake' });
    const accounts = ['acc-a', 'acc-b', 'acc-c', 'acc-d'];
    for (let round = 0; round < 5; round += 1) {
      await Promise.all(Array.from({ length: 40 }, (_, i) => bus.publish(event(accounts[i % 4] ?? 'acc-a', round * 10 + Math.floor(i / 4)))));
    }
    await waitFor(() => [...seen.values()].reduce((n, l) => n + l.length, 0) === 200, 'every event');
    for (const account of accounts) expect(seen.get(account)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('commits offsets: a new consumer of the group resumes after what was handled, not from the start', async () => {
    const subject = kafkaSubject();
    const bus = track(subject);
    const first: string[] = [];
    const sub = await bus.subscribe(async (message) => {
      first.push((message as AutomationEvent).id ?? '');
    }, { group: 'intake' });
    const before = Array.from({ length: 30 }, (_, i) => event(`acc-${i % 5}`));
    await Promise.all(before.map((e) => bus.publish(e)));
    await waitFor(() => first.length === 30, 'the first batch');
    await sub.stop();

    const second: string[] = [];
    await bus.subscribe(async (message) => {
      second.push((message as AutomationEvent).id ?? '');
    }, { group: 'intake' });
    const after = event('acc-1');
    await bus.publish(after);
    await waitFor(() => second.includes(after.id ?? ''), 'the next event');
    expect(second).toEqual([after.id]);
  });

  it('pauses the retry partition until the message is due instead of blocking the consumer', async () => {
    const bus = track(kafkaSubject({ retryDelaysMs: [1_500] }));
    const handled: Array<{ id: string; attempt: number; at: number }> = [];
    const flaky = event('acc-a');
    await bus.subscribe(async (message, delivery) => {
      const { id } = message as AutomationEvent;
      handled.push({ id: id ?? '', attempt: delivery.attempt, at: Date.now() });
      if (id === flaky.id && delivery.attempt === 1) throw new Error('store unavailable');
    }, { group: 'intake' });
    await bus.publish(flaky);
    await waitFor(() => handled.length === 1, 'the first attempt');
    // Events published while the retry waits are handled meanwhile.
    const others = Array.from({ length: 5 }, () => event('acc-b'));
    await Promise.all(others.map((e) => bus.publish(e)));
    await waitFor(() => handled.filter((h) => h.id === flaky.id).length === 2, 'the retry');
    const [firstTry, retry] = handled.filter((h) => h.id === flaky.id);
    expect(retry?.attempt).toBe(2);
    expect((retry?.at ?? 0) - (firstTry?.at ?? 0)).toBeGreaterThanOrEqual(1_400);
    const othersDone = handled.filter((h) => h.id !== flaky.id);
    expect(othersDone).toHaveLength(5);
    expect(Math.max(...othersDone.map((h) => h.at))).toBeLessThan(retry?.at ?? 0);
  });

  it('remembers what was replayed in the replay group: another bus on the same topics lists nothing more', async () => {
    const subject = kafkaSubject();
    const bus = track(subject);
    let broken = true;
    await bus.subscribe(async () => {
      if (broken) throw Object.assign(new Error('bad payload'), { retryable: false });
    }, { group: 'intake' });
    await bus.publish(event('acc-x'));
    await bus.publish(event('acc-y'));
    await waitFor(async () => (await bus.deadLetters.list()).length === 2, 'two dead letters');
    const letters = await bus.deadLetters.list({ group: 'intake' });
    expect(letters.map((l) => [l.group, l.accountId, l.reason])).toEqual(
      expect.arrayContaining([
        ['intake', 'acc-x', 'bad payload'],
        ['intake', 'acc-y', 'bad payload'],
      ]),
    );
    expect(await bus.deadLetters.list({ group: 'other' })).toEqual([]);
    broken = false;
    expect(await bus.deadLetters.replay({ accountId: 'acc-x' })).toBe(1);

    const other = createKafkaBus({ brokers: kafkaBrokers, topic: bus.topics.events });
    try {
      expect((await other.deadLetters.list()).map((l) => l.accountId)).toEqual(['acc-y']);
      expect(await other.deadLetters.replay({ dryRun: true })).toBe(1);
    } finally {
      await other.close();
    }
    defer(() => deleteKafkaNames(kafkaBrokers, { topics: [], groups: [`${bus.topics.deadLetter}.replay`] }));
  });
});
