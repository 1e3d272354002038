import { describe, expect, it } from 'vitest';
import { isAutomationError, type AutomationEvent } from '@crm-automation/core';
import { createKafkaBus, isKafkaBusError, KAFKA_BUS_ERROR_CODES } from '../src/index.js';
import { retryDelayFor } from '@crm-automation/core/spi';
import { resolveKafkaOptions } from '../src/options.js';

// No server: a port nothing listens on, to see how the bus fails when Kafka is unreachable.
const UNREACHABLE = '127.0.0.1:1';
const event: AutomationEvent = { id: 'evt-1', name: 'job.status.changed', accountId: 'acc-1', payload: {} };

describe('createKafkaBus without a broker', () => {
  it('fails publish() after publishTimeoutMs with a retryable CRM_ERR_BUS_PUBLISH, never a false success', async () => {
    const bus = createKafkaBus({ brokers: UNREACHABLE, publishTimeoutMs: 500 });
    const error: unknown = await bus.publish(event).catch((e: unknown) => e);
    expect(isKafkaBusError(error) && error.code).toBe('CRM_ERR_BUS_PUBLISH');
    expect((error as { retryable: boolean }).retryable).toBe(true);
    await bus.close();
  });

  it('fails subscribe() after the timeout with CRM_ERR_BUS_SUBSCRIBE', async () => {
    const bus = createKafkaBus({ brokers: UNREACHABLE, publishTimeoutMs: 500 });
    const error: unknown = await bus.subscribe(async () => {}).catch((e: unknown) => e);
    expect(isKafkaBusError(error) && error.code).toBe('CRM_ERR_BUS_SUBSCRIBE');
    await bus.close();
  });

  it('rejects work after close() with a non-retryable CRM_ERR_BUS_CLOSED', async () => {
    const bus = createKafkaBus({ brokers: UNREACHABLE });
    await bus.close();
    await expect(bus.publish(event)).rejects.toMatchObject({ code: 'CRM_ERR_BUS_CLOSED', retryable: false });
    await expect(bus.subscribe(async () => {})).rejects.toMatchObject({ code: 'CRM_ERR_BUS_CLOSED' });
  });

  it('documents every error code', () => {
    expect(Object.keys(KAFKA_BUS_ERROR_CODES).sort()).toEqual(['CRM_ERR_BUS_CLOSED', 'CRM_ERR_BUS_PUBLISH', 'CRM_ERR_BUS_SUBSCRIBE']);
  });
});

describe('Kafka bus options', () => {
  it('needs brokers or a kafka client', () => {
    let error: unknown;
    try {
      createKafkaBus({});
    } catch (e) {
      error = e;
    }
    expect(isAutomationError(error) && error.code).toBe('CRM_ERR_CONFIG');
  });

  it.each([
    [{ partitions: 0 }, /partitions/],
    [{ maxAttempts: -1 }, /maxAttempts/],
    [{ retryDelaysMs: [] }, /retryDelaysMs/],
    [{ topic: 'a', retryTopic: 'a' }, /different topics/],
    [{ sessionTimeoutMs: 6_000, heartbeatIntervalMs: 6_000 }, /heartbeatIntervalMs/],
  ])('refuses %j', (bad, message) => {
    expect(() => resolveKafkaOptions({ brokers: UNREACHABLE, ...bad })).toThrow(message);
  });

  it('has the documented defaults and derived topic names', () => {
    expect(resolveKafkaOptions({ brokers: UNREACHABLE, topic: 'events' })).toMatchObject({
      topic: 'events',
      retryTopic: 'events.retry',
      deadLetterTopic: 'events.dead-letter',
      replayGroupId: 'events.dead-letter.replay',
      groupId: 'automation-intake',
      partitions: 3,
      partitionsConsumedConcurrently: 3,
      maxAttempts: 5,
      retryDelaysMs: [1_000, 5_000, 30_000, 120_000],
      publishTimeoutMs: 30_000,
      sessionTimeoutMs: 30_000,
    });
  });

  it('picks the retry delay by failed attempt, repeating the last', () => {
    const o = resolveKafkaOptions({ brokers: UNREACHABLE, retryDelaysMs: [100, 200] });
    expect([1, 2, 3, 7].map((a) => retryDelayFor(o, a))).toEqual([100, 200, 200, 200]);
  });
});
