import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AutomationEvent, BusStats } from '@crm-automation/core';
import { busStatsWhen, cleanUpBusesAfterEach } from '@crm-automation/testing';
import { isKafkaBusError, type KafkaBus } from '../src/index.js';
import { kafkaSubject, requireKafka } from './kafka-subject.js';

beforeAll(requireKafka);

const { track } = cleanUpBusesAfterEach();

const event = (accountId: string): AutomationEvent => ({ id: `evt-${randomUUID()}`, name: 'job.status.changed', accountId, payload: {} });

/** Broker stats settle asynchronously; polls until they say what the test expects. */
const statsWhen = (bus: KafkaBus, ready: (stats: BusStats) => boolean, what: string) => busStatsWhen(bus, ready, what, { timeoutMs: 60_000, everyMs: 200 });

const total = (stats: BusStats) => stats.backlog.reduce((n, b) => n + b.messages, 0);

describe('Kafka bus stats()', () => {
  it('reports the lag of each group per partition and the dead letters not replayed yet', async () => {
    const bus = track(kafkaSubject({ partitions: 2 }));
    const accounts = ['acc-a', 'acc-b', 'acc-c', 'acc-d', 'acc-e'];
    for (const account of accounts) await bus.publish(event(account));

    // No subscription in this process: the default group, which has committed nothing, lags by everything.
    const before = await bus.stats();
    expect(before.backlog.map((b) => b.name)).toEqual([`automation-intake:${bus.topics.events}/0`, `automation-intake:${bus.topics.events}/1`]);
    expect(total(before)).toBe(5);
    expect(before.deadLetters).toBe(0);

    let refuse = true;
    const handled: string[] = [];
    await bus.subscribe(async (message) => {
      if (refuse) throw Object.assign(new Error('malformed'), { retryable: false });
      handled.push((message as AutomationEvent).accountId);
    }, { group: 'intake' });
    const consumed = await statsWhen(bus, (s) => s.deadLetters === 5 && total(s) === 0, 'the group to catch up and dead-letter everything');
    expect(consumed.backlog.map((b) => b.name)).toEqual([`intake:${bus.topics.events}/0`, `intake:${bus.topics.events}/1`]);
    expect((await bus.deadLetters.list()).length).toBe(consumed.deadLetters);

    refuse = false;
    expect(await bus.deadLetters.replay({ accountId: 'acc-a' })).toBe(1);
    expect((await bus.stats()).deadLetters).toBe(4);
    const deadline = Date.now() + 30_000;
    while (handled.length < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(handled).toEqual(['acc-a']);
  });

  it('rejects once the bus is closed', async () => {
    const bus = track(kafkaSubject());
    await bus.close();
    const error: unknown = await bus.stats().catch((e: unknown) => e);
    expect(isKafkaBusError(error) && error.code).toBe('CRM_ERR_BUS_CLOSED');
  });
});
