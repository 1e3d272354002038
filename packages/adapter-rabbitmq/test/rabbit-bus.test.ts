import { describe, expect, it } from 'vitest';
import { isAutomationError, type AutomationEvent } from '@crm-automation/core';
import { createRabbitBus, isRabbitBusError, RABBIT_BUS_ERROR_CODES } from '../src/index.js';
import { retryDelayFor } from '@crm-automation/core/spi';
import { resolveRabbitOptions } from '../src/options.js';

// No server: a port nothing listens on, to see how the bus fails when RabbitMQ is unreachable.
const UNREACHABLE = 'amqp://guest:guest@127.0.0.1:1';
const event: AutomationEvent = { id: 'evt-1', name: 'job.status.changed', accountId: 'acc-1', payload: {} };

describe('createRabbitBus without a broker', () => {
  it('fails publish() after publishTimeoutMs with a retryable CRM_ERR_BUS_PUBLISH, never a false success', async () => {
    const bus = createRabbitBus({ url: UNREACHABLE, publishTimeoutMs: 300, reconnectDelayMs: 50 });
    const error: unknown = await bus.publish(event).catch((e: unknown) => e);
    expect(isRabbitBusError(error) && error.code).toBe('CRM_ERR_BUS_PUBLISH');
    expect((error as { retryable: boolean }).retryable).toBe(true);
    expect(bus.connected).toBe(false);
    await bus.close();
  });

  it('fails subscribe() after the timeout with CRM_ERR_BUS_SUBSCRIBE', async () => {
    const bus = createRabbitBus({ url: UNREACHABLE, publishTimeoutMs: 300, reconnectDelayMs: 50 });
    const error: unknown = await bus.subscribe(async () => {}).catch((e: unknown) => e);
    expect(isRabbitBusError(error) && error.code).toBe('CRM_ERR_BUS_SUBSCRIBE');
    await bus.close();
  });

  it('rejects work after close() with a non-retryable CRM_ERR_BUS_CLOSED', async () => {
    const bus = createRabbitBus({ url: UNREACHABLE, publishTimeoutMs: 300 });
    await bus.close();
    const error: unknown = await bus.publish(event).catch((e: unknown) => e);
    expect(isRabbitBusError(error) && error.code).toBe('CRM_ERR_BUS_CLOSED');
    expect((error as { retryable: boolean }).retryable).toBe(false);
    await expect(bus.subscribe(async () => {})).rejects.toMatchObject({ code: 'CRM_ERR_BUS_CLOSED' });
  });

  it('documents every error code', () => {
    expect(Object.keys(RABBIT_BUS_ERROR_CODES).sort()).toEqual(['CRM_ERR_BUS_CLOSED', 'CRM_ERR_BUS_PUBLISH', 'CRM_ERR_BUS_SUBSCRIBE', 'CRM_ERR_BUS_UNROUTABLE']);
  });
});

describe('RabbitMQ bus options', () => {
  it('needs a url or a connection', () => {
    const error: unknown = (() => {
      try {
        createRabbitBus({});
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isAutomationError(error) && error.code).toBe('CRM_ERR_CONFIG');
  });

  it.each([
    [{ prefetch: 0 }, /prefetch/],
    [{ maxAttempts: 1.5 }, /maxAttempts/],
    [{ retryDelaysMs: [] }, /retryDelaysMs/],
    [{ retryDelaysMs: [100, -1] }, /retryDelaysMs/],
    [{ queueType: 'stream' as 'quorum' }, /queueType/],
    [{ bindingKeys: [] }, /bindingKeys/],
  ])('refuses %j', (bad, message) => {
    expect(() => resolveRabbitOptions({ url: UNREACHABLE, ...bad })).toThrow(message);
  });

  it('has the documented defaults', () => {
    const o = resolveRabbitOptions({ url: UNREACHABLE });
    expect(o).toMatchObject({
      exchange: 'crm-automation.events',
      queuePrefix: 'crm-automation',
      queueType: 'quorum',
      bindingKeys: ['#'],
      prefetch: 32,
      maxAttempts: 5,
      retryDelaysMs: [1_000, 5_000, 30_000, 120_000],
      publishTimeoutMs: 30_000,
      mandatory: true,
    });
  });

  it('picks the retry tier by failed attempt, repeating the last', () => {
    const o = resolveRabbitOptions({ url: UNREACHABLE, retryDelaysMs: [100, 200, 400] });
    expect([1, 2, 3, 4, 9].map((a) => retryDelayFor(o, a))).toEqual([100, 200, 400, 400, 400]);
  });
});
