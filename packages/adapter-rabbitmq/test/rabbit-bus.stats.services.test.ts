import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AutomationEvent, BusStats } from '@crm-automation/core';
import { busStatsWhen, cleanUpBusesAfterEach } from '@crm-automation/testing';
import { isRabbitBusError, type RabbitBus } from '../src/index.js';
import { rabbitSubject, rabbitUrl, requireRabbit } from './rabbit-subject.js';

beforeAll(requireRabbit);

const { track } = cleanUpBusesAfterEach();

const event = (accountId = 'acc-1'): AutomationEvent => ({ id: `evt-${randomUUID()}`, name: 'job.status.changed', accountId, payload: {} });

/** Broker stats settle asynchronously; polls until they say what the test expects. */
const statsWhen = (bus: RabbitBus, ready: (stats: BusStats) => boolean, what: string) => busStatsWhen(bus, ready, what, { timeoutMs: 20_000, everyMs: 100 });

describe('RabbitMQ bus stats()', () => {
  it('reports ready messages and consumers of each group queue, and the dead letters of every group', async () => {
    const subject = rabbitSubject({ groups: ['audit', 'intake'] });
    const bus = track(subject);
    for (let i = 0; i < 3; i += 1) await bus.publish(event());
    expect(await bus.stats()).toEqual({
      backlog: [
        { name: `${subject.namespace}.audit`, messages: 3, consumers: 0 },
        { name: `${subject.namespace}.intake`, messages: 3, consumers: 0 },
      ],
      deadLetters: 0,
    });

    await bus.subscribe(async () => {
      throw Object.assign(new Error('malformed'), { retryable: false });
    }, { group: 'intake' });
    const stats = await statsWhen(bus, (s) => s.deadLetters === 3, 'three dead letters');
    expect(stats.backlog).toEqual([
      { name: `${subject.namespace}.audit`, messages: 3, consumers: 0 },
      { name: `${subject.namespace}.intake`, messages: 0, consumers: 1 },
    ]);
  });

  it('counts a group whose queue does not exist (deleted, never declared) as empty instead of failing', async () => {
    const subject = rabbitSubject({ groups: ['audit', 'intake'] });
    const bus = track(subject);
    await bus.publish(event());
    const model = await connect(rabbitUrl);
    try {
      const channel = await model.createChannel();
      await channel.deleteQueue(`${subject.namespace}.audit`);
      await channel.close();
    } finally {
      await model.close();
    }
    expect(await bus.stats()).toEqual({
      backlog: [
        { name: `${subject.namespace}.audit`, messages: 0, consumers: 0 },
        { name: `${subject.namespace}.intake`, messages: 1, consumers: 0 },
      ],
      deadLetters: 0,
    });
  });

  it('rejects once the bus is closed', async () => {
    const bus = track(rabbitSubject({ groups: ['intake'] }));
    await bus.close();
    const error: unknown = await bus.stats().catch((e: unknown) => e);
    expect(isRabbitBusError(error) && error.code).toBe('CRM_ERR_BUS_CLOSED');
  });
});
