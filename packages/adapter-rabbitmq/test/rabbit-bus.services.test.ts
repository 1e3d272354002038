import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AutomationEvent, BusSubscription } from '@crm-automation/core';
import { cleanUpBusesAfterEach } from '@crm-automation/testing';
import { createRabbitBus, isRabbitBusError } from '../src/index.js';
import { deleteTopology } from './rabbit-cleanup.js';
import { rabbitSubject, rabbitUrl, requireRabbit } from './rabbit-subject.js';

beforeAll(requireRabbit);

const { track, defer } = cleanUpBusesAfterEach();

const event = (accountId = 'acc-1'): AutomationEvent => ({ id: `evt-${randomUUID()}`, name: 'job.status.changed', accountId, payload: { job: { status: 'Done' } } });

async function waitFor(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('RabbitMQ bus', () => {
  it('refuses an event no queue is bound for, rather than reporting success for a message the broker drops', async () => {
    const bus = track(rabbitSubject());
    const error: unknown = await bus.publish(event()).catch((e: unknown) => e);
    expect(isRabbitBusError(error) && error.code).toBe('CRM_ERR_BUS_UNROUTABLE');
    expect((error as { retryable?: boolean }).retryable).toBe(true);
  });

  it('declares the configured groups up front, so events published before the first consumer starts wait for it', async () => {
    const bus = track(rabbitSubject({ groups: ['intake'] }));
    const early = event();
    await bus.publish(early);
    const received: unknown[] = [];
    await bus.subscribe(async (message) => {
      received.push(message);
    }, { group: 'intake' });
    await waitFor(() => received.length === 1, 'the early event');
    expect(received).toEqual([early]);
  });

  it('uses the documented topology: a quorum group queue bound to the topic exchange, TTL retry tiers, a classic dead-letter queue', async () => {
    const subject = rabbitSubject({ retryDelaysMs: [150, 600] });
    const bus = track(subject);
    const sub = await bus.subscribe(async () => {}, { group: 'intake' });
    await sub.stop();
    const main = `${subject.namespace}.intake`;
    const model = await connect(rabbitUrl);
    try {
      // Re-declaring with the same arguments succeeds; any difference closes the channel with 406.
      const sameAs = async (queue: string, args: Record<string, unknown>) => {
        const channel = await model.createChannel();
        channel.on('error', () => {});
        const ok = await channel.assertQueue(queue, { durable: true, arguments: args }).then(
          () => true,
          () => false,
        );
        if (ok) await channel.close();
        return ok;
      };
      expect(await sameAs(main, { 'x-queue-type': 'quorum' })).toBe(true);
      expect(await sameAs(main, { 'x-queue-type': 'classic' })).toBe(false);
      const tier = (ttl: number) => ({
        'x-queue-type': 'quorum',
        'x-message-ttl': ttl,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': main,
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
      });
      expect(await sameAs(`${main}.retry.150ms`, tier(150))).toBe(true);
      expect(await sameAs(`${main}.retry.600ms`, tier(600))).toBe(true);
      expect(await sameAs(`${main}.dead-letter`, { 'x-queue-type': 'classic' })).toBe(true);
      // The exchange is a durable topic exchange: events route by name to the bound group queue.
      const channel = await model.createChannel();
      await channel.assertExchange(subject.namespace, 'topic', { durable: true });
      await channel.close();
    } finally {
      await model.close();
    }
  });

  it('binds group queues with the configured keys only', async () => {
    const bus = track(rabbitSubject({ bindingKeys: ['job.#'] }));
    const received: AutomationEvent[] = [];
    await bus.subscribe(async (message) => {
      received.push(message as AutomationEvent);
    }, { group: 'jobs' });
    const job = event();
    await bus.publish(job);
    const error: unknown = await bus.publish({ ...event(), name: 'invoice.paid' }).catch((e: unknown) => e);
    expect(isRabbitBusError(error) && error.code).toBe('CRM_ERR_BUS_UNROUTABLE');
    await waitFor(() => received.length === 1, 'the job event');
    expect(received.map((r) => r.id)).toEqual([job.id]);
  });

  it('runs at most `prefetch` handlers at once per consumer', async () => {
    const bus = track(rabbitSubject({ prefetch: 2 }));
    let running = 0;
    let most = 0;
    let done = 0;
    await bus.subscribe(async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 50));
      running -= 1;
      done += 1;
    }, { group: 'intake' });
    await Promise.all(Array.from({ length: 8 }, () => bus.publish(event())));
    await waitFor(() => done === 8, 'every event');
    expect(most).toBe(2);
  });

  it('refuses to subscribe when the group queue exists with another queue type', async () => {
    const subject = rabbitSubject({ queueType: 'quorum' });
    const bus = track(subject);
    await (await bus.subscribe(async () => {}, { group: 'intake' })).stop();
    const classic = createRabbitBus({ url: rabbitUrl, exchange: subject.namespace, queuePrefix: subject.namespace, queueType: 'classic' });
    defer(() => classic.close());
    const error: unknown = await classic.subscribe(async () => {}, { group: 'intake' }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/PRECONDITION_FAILED|inequivalent arg/);
  });

  it('lists dead letters per group, and replays only into the group that gave up on them', async () => {
    const bus = track(rabbitSubject());
    let broken = true;
    const one: AutomationEvent[] = [];
    const two: AutomationEvent[] = [];
    const subs: BusSubscription[] = [];
    subs.push(
      await bus.subscribe(async (message) => {
        one.push(message as AutomationEvent);
        if (broken) throw Object.assign(new Error('no such job'), { retryable: false });
      }, { group: 'one' }),
    );
    subs.push(
      await bus.subscribe(async (message) => {
        two.push(message as AutomationEvent);
      }, { group: 'two' }),
    );
    const e = event('acc-9');
    await bus.publish(e);
    await waitFor(() => one.length === 1 && two.length === 1, 'both groups');
    let letters = await bus.deadLetters.list({ group: 'one' });
    for (let i = 0; letters.length === 0 && i < 100; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      letters = await bus.deadLetters.list({ group: 'one' });
    }
    expect(letters).toMatchObject([{ group: 'one', accountId: 'acc-9', attempts: 1, reason: 'no such job', message: e }]);
    expect(await bus.deadLetters.list({ group: 'two' })).toEqual([]);
    broken = false;
    expect(await bus.deadLetters.replay({ group: 'one' })).toBe(1);
    await waitFor(() => one.length === 2, 'the replay in group one');
    await Promise.all(subs.map((s) => s.stop()));
    expect(two).toHaveLength(1);
  });

  it('never closes a connection it was handed', async () => {
    const model = await connect(rabbitUrl);
    let closed = false;
    model.on('close', () => {
      closed = true;
    });
    const namespace = `test.${randomUUID().slice(0, 8)}`;
    const bus = createRabbitBus({ connection: model, exchange: namespace, queuePrefix: namespace });
    const sub = await bus.subscribe(async () => {}, { group: 'intake' });
    await bus.publish(event());
    await sub.stop();
    await bus.close();
    expect(closed).toBe(false);
    await deleteTopology(rabbitUrl, { exchange: namespace, queuePrefix: namespace, groups: ['intake'], retryDelaysMs: [1_000, 5_000, 30_000, 120_000] });
    await model.close();
  });
});
