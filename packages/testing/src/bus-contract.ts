// One file: the bus contract is one suite that every bus adapter runs; its cases share one fixture
// (subject, groups, cleanup) and read as the specification of a bus.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createAutomationEngine,
  createMemoryStore,
  EventValidationError,
  type AutomationEngine,
  type AutomationEvent,
  type BusDelivery,
  type BusHandler,
  type BusSubscription,
  type EventBus,
  type RuleInput,
} from '@crm-automation/core';

/** Settings every bus under test is created with; the suite's expectations depend on them. */
export interface BusContractSettings {
  /** Deliveries of one message before it is dead-lettered. The suite asks for 3. */
  maxAttempts: number;
  /** Delay before a redelivery after a transient failure; short, because the suite waits for them. */
  retryDelayMs: number;
}

/** One bus under test, with the hooks the suite uses for what the port itself cannot express. */
export interface BusContractSubject {
  /** A fresh bus whose exchanges/queues/topics no other test uses. */
  bus: EventBus;
  /**
   * Publishes raw text to the main stream, as a misbehaving producer would. Declares the capability
   * "malformed bytes are dead-lettered"; the test is reported as skipped without it.
   */
  publishRaw?: ((text: string) => Promise<void>) | undefined;
  /**
   * Runs a consumer of `group` in another process on the same bus names, calls `publish` once that
   * consumer is attached, waits until it has received the event and kills it (SIGKILL) while its
   * handler is still running. Declares the capability "a consumer that dies mid-handle has its event
   * redelivered"; in-process buses cannot have it and the test is reported as skipped.
   */
  crashConsumer?: ((group: string, publish: () => Promise<void>) => Promise<void>) | undefined;
  /** Releases whatever the factory created besides the bus (which the suite closes). */
  cleanup?: (() => Promise<void>) | undefined;
}

export type BusContractFactory = (settings: BusContractSettings) => BusContractSubject | Promise<BusContractSubject>;

export interface BusContractOptions {
  /** Per-test timeout. Default 60 s; real brokers need seconds for group joins and retries. */
  timeoutMs?: number | undefined;
  /** Longest wait for an expected delivery. Default 30 s. */
  waitMs?: number | undefined;
}

const SETTINGS: BusContractSettings = { maxAttempts: 3, retryDelayMs: 100 };

const CONTRACT_RULE = {
  name: 'bus contract rule',
  enabled: true,
  trigger: { eventName: 'job.status.changed' },
  // A day away, so the engine's claim loop never runs the triggers the suite counts.
  delay: { value: 1, unit: 'days' },
  conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
  actions: [{ type: 'sms', params: { recipient: '+15550000000', message: 'Job {{job.number}} is done' } }],
} satisfies RuleInput;

interface Received {
  message: AutomationEvent;
  delivery: BusDelivery;
  consumer: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise with its resolve function outside, to hold a handler mid-flight. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

function transientError(message: string): Error {
  return Object.assign(new Error(message), { retryable: true });
}

/**
 * The behaviour every `EventBus` must have, as a vitest suite: publish/consume as JSON, ack after the
 * handler resolves, redelivery after a transient failure or a consumer crash, intake dedupe of
 * redelivered events, dead letters with the reason (non-retryable failures, exhausted attempts,
 * bytes that are not JSON), dry-run and replay, competing consumers in a group, every group getting
 * every event, and a graceful `stop()`.
 *
 * The factory is called once per test and must return a bus on names no other test uses.
 *
 * @example
 * describeBusContract('memory bus', ({ maxAttempts, retryDelayMs }) => {
 *   const bus = createMemoryBus({ maxAttempts, retryDelayMs });
 *   return { bus, publishRaw: (text) => bus.publishRaw(text) };
 * });
 */
export function describeBusContract(name: string, factory: BusContractFactory, options: BusContractOptions = {}): void {
  const timeout = options.timeoutMs ?? 60_000;
  const waitMs = options.waitMs ?? 30_000;

  describe(`${name}: bus contract`, () => {
    let subject: BusContractSubject | undefined;
    const subscriptions: BusSubscription[] = [];
    const engines: AutomationEngine[] = [];
    const uid = () => randomUUID().slice(0, 8);

    const open = async (): Promise<BusContractSubject> => {
      subject = await factory(SETTINGS);
      return subject;
    };

    afterEach(async () => {
      await Promise.allSettled(engines.splice(0).map((e) => e.stop()));
      await Promise.allSettled(subscriptions.splice(0).map((s) => s.stop()));
      const current = subject;
      subject = undefined;
      if (current) {
        await current.bus.close();
        await current.cleanup?.();
      }
    });

    const waitFor = async (what: string, check: () => boolean | Promise<boolean>): Promise<void> => {
      const deadline = Date.now() + waitMs;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out after ${waitMs} ms waiting for ${what}`);
        await sleep(20);
      }
    };

    /** Subscribes and records every delivery; `behave` decides what the handler does. */
    const consume = async (
      bus: EventBus,
      group: string,
      received: Received[],
      behave: (message: AutomationEvent, delivery: BusDelivery) => Promise<void> | void = () => {},
      consumer = 'c1',
    ): Promise<BusSubscription> => {
      const handler: BusHandler = async (message, delivery) => {
        received.push({ message: message as AutomationEvent, delivery, consumer });
        await behave(message as AutomationEvent, delivery);
      };
      const subscription = await bus.subscribe(handler, { group });
      subscriptions.push(subscription);
      return subscription;
    };

    const makeEvent = (accountId: string, extra: Partial<AutomationEvent> = {}): AutomationEvent => ({
      id: `evt-${uid()}`,
      name: 'job.status.changed',
      accountId,
      payload: { job: { number: `J-${uid()}`, status: 'Done' } },
      timestamp: new Date().toISOString(),
      ...extra,
    });

    const idsOf = (received: Received[], id: string | undefined) => received.filter((r) => r.message.id === id);

    it('delivers published events as JSON, with their headers, on the first attempt', { timeout }, async () => {
      const { bus } = await open();
      const received: Received[] = [];
      await consume(bus, `g-${uid()}`, received);
      const events = [makeEvent('acc-a'), makeEvent('acc-b'), makeEvent('acc-a')];
      await Promise.all(events.map((e) => bus.publish(e, { headers: { traceparent: `00-${e.id ?? ''}` } })));
      await waitFor('three deliveries', () => received.length >= 3);
      for (const event of events) {
        const got = idsOf(received, event.id);
        expect(got).toHaveLength(1);
        expect(got[0]?.message).toEqual(JSON.parse(JSON.stringify(event)));
        expect(got[0]?.delivery.attempt).toBe(1);
        expect(got[0]?.delivery.headers.traceparent).toBe(`00-${event.id ?? ''}`);
      }
    });

    it('keeps an event unacknowledged while its handler runs: a slow handler that then fails gets it again', { timeout }, async () => {
      const { bus } = await open();
      const received: Received[] = [];
      const held = gate();
      await consume(bus, `g-${uid()}`, received, async (_message, delivery) => {
        if (delivery.attempt === 1) {
          await held.promise;
          throw transientError('store is down');
        }
      });
      const event = makeEvent('acc-a');
      const published = bus.publish(event);
      await waitFor('the first delivery', () => received.length >= 1);
      await sleep(300);
      expect(received).toHaveLength(1);
      held.open();
      await waitFor('the redelivery', () => received.length >= 2);
      await published;
      expect(received.map((r) => [r.message.id, r.delivery.attempt])).toEqual([
        [event.id, 1],
        [event.id, 2],
      ]);
      expect(await bus.deadLetters?.list()).toEqual([]);
    });

    it('redelivers after transient failures, with a growing attempt number, until the handler succeeds', { timeout }, async () => {
      const { bus } = await open();
      const received: Received[] = [];
      const flaky = makeEvent('acc-a');
      await consume(bus, `g-${uid()}`, received, (message, delivery) => {
        if (message.id === flaky.id && delivery.attempt < 3) throw transientError(`timeout on attempt ${delivery.attempt}`);
      });
      const steady = makeEvent('acc-b');
      await Promise.all([bus.publish(flaky), bus.publish(steady)]);
      await waitFor('the third attempt', () => idsOf(received, flaky.id).length >= 3);
      expect(idsOf(received, flaky.id).map((r) => r.delivery.attempt)).toEqual([1, 2, 3]);
      expect(idsOf(received, steady.id)).toHaveLength(1);
      expect(await bus.deadLetters?.list()).toEqual([]);
    });

    it('redelivers the event of a consumer that dies mid-handle (ack after intake)', { timeout: timeout * 2 }, async (ctx) => {
      const { bus, crashConsumer } = await open();
      if (!crashConsumer) {
        ctx.skip(true, 'capability not declared: crashConsumer (in-process bus)');
        return;
      }
      const group = `g-${uid()}`;
      const event = makeEvent('acc-a');
      await crashConsumer(group, () => bus.publish(event));
      const received: Received[] = [];
      await consume(bus, group, received);
      await waitFor('the redelivery to a surviving consumer', () => received.length >= 1);
      expect(received[0]?.message).toEqual(JSON.parse(JSON.stringify(event)));
    });

    it('redelivered events are harmless: an engine stores one trigger per (event id, rule)', { timeout }, async () => {
      const { bus } = await open();
      const store = createMemoryStore();
      const engine = createAutomationEngine({ store, bus, group: `intake-${uid()}` });
      engines.push(engine);
      const rule = await engine.rules.create('acc-a', CONTRACT_RULE);
      let ingested = 0;
      engine.on('event:ingested', () => {
        ingested += 1;
      });
      await engine.start();
      const event = makeEvent('acc-a');
      const other = makeEvent('acc-a');
      await bus.publish(event);
      await bus.publish(event);
      await bus.publish(other);
      await waitFor('three intakes', () => ingested >= 3);
      const triggers = (await engine.triggers.list('acc-a')).items;
      expect(triggers.map((t) => [t.triggeringEvent.id, t.ruleId]).sort()).toEqual(
        [
          [event.id, rule.id],
          [other.id, rule.id],
        ].sort(),
      );
    });

    it('dead-letters an event that fails the event schema at intake, with the reason, and keeps flowing', { timeout }, async () => {
      const { bus } = await open();
      const engine = createAutomationEngine({ store: createMemoryStore(), bus, group: `intake-${uid()}` });
      engines.push(engine);
      await engine.rules.create('acc-a', CONTRACT_RULE);
      let ingested = 0;
      engine.on('event:ingested', () => {
        ingested += 1;
      });
      await engine.start();
      const malformed = { id: `evt-${uid()}`, name: 'job.status.changed', accountId: 'acc-a', payload: 'not an object' };
      await bus.publish(malformed as unknown as AutomationEvent);
      await bus.publish(makeEvent('acc-a'));
      await waitFor('the valid event to be ingested', () => ingested >= 1);
      await waitFor('the dead letter', async () => ((await bus.deadLetters?.list()) ?? []).length >= 1);
      const [letter] = (await bus.deadLetters?.list()) ?? [];
      expect(letter?.message).toEqual(malformed);
      expect(letter?.reason).toMatch(/payload/);
      expect(letter?.attempts).toBe(1);
      expect(letter?.accountId).toBe('acc-a');
    });

    it('dead-letters at once, with the reason, what the handler rejects as non-retryable', { timeout }, async () => {
      const { bus } = await open();
      const received: Received[] = [];
      const poison = makeEvent('acc-p');
      await consume(bus, `g-${uid()}`, received, (message) => {
        if (message.id === poison.id) throw new EventValidationError([{ path: 'payload.job', code: 'custom', message: 'job is unusable' }]);
      });
      const after = makeEvent('acc-q');
      await bus.publish(poison);
      await bus.publish(after);
      await waitFor('the next event', () => idsOf(received, after.id).length >= 1);
      await waitFor('the dead letter', async () => ((await bus.deadLetters?.list()) ?? []).length >= 1);
      const letters = (await bus.deadLetters?.list()) ?? [];
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ message: JSON.parse(JSON.stringify(poison)), attempts: 1, accountId: 'acc-p' });
      expect(letters[0]?.reason).toContain('job is unusable');
      expect(letters[0]?.deadAt).toBeInstanceOf(Date);
      expect(typeof letters[0]?.id).toBe('string');
      expect(idsOf(received, poison.id)).toHaveLength(1);
      expect(await bus.deadLetters?.list({ accountId: 'acc-q' })).toEqual([]);
    });

    it('dead-letters an event after maxAttempts transient failures, with the last reason', { timeout }, async () => {
      const { bus } = await open();
      const received: Received[] = [];
      await consume(bus, `g-${uid()}`, received, () => {
        throw transientError('store unavailable');
      });
      const event = makeEvent('acc-a');
      await bus.publish(event);
      await waitFor('the dead letter', async () => ((await bus.deadLetters?.list()) ?? []).length >= 1);
      const [letter] = (await bus.deadLetters?.list()) ?? [];
      expect(letter?.reason).toContain('store unavailable');
      expect(letter?.attempts).toBe(SETTINGS.maxAttempts);
      expect(received.map((r) => r.delivery.attempt)).toEqual([1, 2, 3]);
    });

    it('dead-letters bytes that are not JSON without calling the handler', { timeout }, async (ctx) => {
      const { bus, publishRaw } = await open();
      if (!publishRaw) {
        ctx.skip(true, 'capability not declared: publishRaw');
        return;
      }
      const received: Received[] = [];
      await consume(bus, `g-${uid()}`, received);
      await publishRaw('{"name": "job.status.changed", oops');
      const after = makeEvent('acc-a');
      await bus.publish(after);
      await waitFor('the next event', () => idsOf(received, after.id).length >= 1);
      await waitFor('the dead letter', async () => ((await bus.deadLetters?.list()) ?? []).length >= 1);
      const [letter] = (await bus.deadLetters?.list()) ?? [];
      expect(letter?.message).toBe('{"name": "job.status.changed", oops');
      expect(letter?.reason).toMatch(/JSON/);
      expect(received).toHaveLength(1);
    });

    it('replays dead letters after a fix: a dry run counts and moves nothing, replay delivers them again', { timeout }, async () => {
      const { bus } = await open();
      const received: Received[] = [];
      let broken = true;
      await consume(bus, `g-${uid()}`, received, () => {
        if (broken) throw new EventValidationError([{ path: 'payload', code: 'custom', message: 'rejected until the fix' }]);
      });
      const first = makeEvent('acc-1');
      const second = makeEvent('acc-2');
      await bus.publish(first);
      await bus.publish(second);
      await waitFor('two dead letters', async () => ((await bus.deadLetters?.list()) ?? []).length >= 2);

      expect(await bus.deadLetters?.replay({ dryRun: true })).toBe(2);
      expect(await bus.deadLetters?.replay({ dryRun: true, accountId: 'acc-1' })).toBe(1);
      expect((await bus.deadLetters?.list())?.map((l) => l.accountId).sort()).toEqual(['acc-1', 'acc-2']);
      expect(idsOf(received, first.id)).toHaveLength(1);

      broken = false;
      expect(await bus.deadLetters?.replay({ accountId: 'acc-1' })).toBe(1);
      await waitFor('the replayed event', () => idsOf(received, first.id).length >= 2);
      expect(idsOf(received, first.id)[1]?.delivery.attempt).toBe(1);
      expect((await bus.deadLetters?.list())?.map((l) => l.accountId)).toEqual(['acc-2']);

      expect(await bus.deadLetters?.replay()).toBe(1);
      await waitFor('the second replayed event', () => idsOf(received, second.id).length >= 2);
      expect(await bus.deadLetters?.list()).toEqual([]);
      expect(await bus.deadLetters?.replay()).toBe(0);
    });

    it('shares a group between competing consumers: each event is handled once, by one of them', { timeout }, async () => {
      const { bus } = await open();
      const group = `g-${uid()}`;
      const received: Received[] = [];
      const slow = () => sleep(20);
      await consume(bus, group, received, slow, 'c1');
      await consume(bus, group, received, slow, 'c2');
      // Fixed account names, so partitioned buses spread them the same way on every run.
      const events = Array.from({ length: 24 }, (_, i) => makeEvent(`acc-${i % 12}`));
      await Promise.all(events.map((e) => bus.publish(e)));
      await waitFor('every event', () => received.length >= events.length);
      await sleep(300);
      expect(received.map((r) => r.message.id).sort()).toEqual(events.map((e) => e.id).sort());
      expect(new Set(received.map((r) => r.consumer))).toEqual(new Set(['c1', 'c2']));
    });

    it('loses no event while consumers join and leave the group mid-stream (rebalances)', { timeout }, async () => {
      const { bus } = await open();
      const group = `g-${uid()}`;
      const received: Received[] = [];
      const first = await consume(bus, group, received, () => sleep(2), 'c1');
      const events = Array.from({ length: 300 }, (_, i) => makeEvent(`acc-${i % 12}`));
      const publishing = (async () => {
        for (let i = 0; i < events.length; i += 10) {
          await Promise.all(events.slice(i, i + 10).map((e) => bus.publish(e)));
          await sleep(10);
        }
      })();
      await waitFor('a third of the stream', () => received.length >= 100);
      await consume(bus, group, received, () => sleep(2), 'c2');
      await waitFor('two thirds of the stream', () => received.length >= 200);
      await first.stop();
      await publishing;
      const expected = new Set(events.map((e) => e.id));
      await waitFor('every event', () => [...expected].every((id) => received.some((r) => r.message.id === id)));
      // At least once: a rebalance may hand a message to the next owner before its commit landed.
      expect(new Set(received.map((r) => r.message.id))).toEqual(expected);
    });

    it('gives every event to every group', { timeout }, async () => {
      const { bus } = await open();
      const one: Received[] = [];
      const two: Received[] = [];
      await consume(bus, `g1-${uid()}`, one);
      await consume(bus, `g2-${uid()}`, two);
      const events = Array.from({ length: 6 }, (_, i) => makeEvent(`acc-${i % 3}`));
      await Promise.all(events.map((e) => bus.publish(e)));
      await waitFor('every event in both groups', () => one.length >= 6 && two.length >= 6);
      const expected = events.map((e) => e.id).sort();
      expect(one.map((r) => r.message.id).sort()).toEqual(expected);
      expect(two.map((r) => r.message.id).sort()).toEqual(expected);
    });

    it('stops gracefully: stop() waits for the in-flight handler, whose event is then acknowledged', { timeout }, async () => {
      const { bus } = await open();
      const group = `g-${uid()}`;
      const received: Received[] = [];
      const held = gate();
      let finished = false;
      const subscription = await consume(bus, group, received, async () => {
        await held.promise;
        finished = true;
      });
      const first = makeEvent('acc-a');
      const published = bus.publish(first);
      await waitFor('the first delivery', () => received.length >= 1);

      let stopped = false;
      const stopping = subscription.stop().then(() => {
        stopped = true;
      });
      await sleep(300);
      expect(stopped).toBe(false);
      held.open();
      await stopping;
      expect(finished).toBe(true);
      await published;

      // A new consumer of the group gets the next event of the same account, and not the first again.
      const later: Received[] = [];
      await consume(bus, group, later);
      const second = makeEvent('acc-a');
      await bus.publish(second);
      await waitFor('the next event', () => later.length >= 1);
      await sleep(300);
      expect(later.map((r) => r.message.id)).toEqual([second.id]);
      expect(received.map((r) => r.message.id)).toEqual([first.id]);
    });
  });
}

/** Options of {@link describeBrokerRestart}. */
export interface BrokerRestartOptions {
  /** Events published in the stream. Default 10,000. */
  events?: number | undefined;
  /** The broker is restarted once this many publishes were confirmed. Default 3,000. */
  restartAfter?: number | undefined;
  /** Publishes in flight at once. Default 100. */
  concurrency?: number | undefined;
  /**
   * Publishes started per second, so the stream is still flowing while the broker is down (an
   * unpaced stream outruns a restart). Default 250: 10,000 events take 40 s.
   */
  ratePerSecond?: number | undefined;
  /** Test timeout. Default 10 minutes. */
  timeoutMs?: number | undefined;
}

/**
 * The broker goes down and comes back in the middle of a stream of events consumed by an engine
 * (memory store, two matching rules per account and one that does not match): every event whose
 * `publish()` resolved ends up as exactly one trigger per matching rule, none is lost and none is
 * doubled, and publishing carries on across the outage. `restartBroker` stops and starts the real
 * server (e.g. `scripts/services.sh restart rabbitmq`).
 */
export function describeBrokerRestart(
  name: string,
  factory: () => BusContractSubject | Promise<BusContractSubject>,
  restartBroker: () => Promise<void>,
  options: BrokerRestartOptions = {},
): void {
  const total = options.events ?? 10_000;
  const restartAfter = options.restartAfter ?? 3_000;
  const concurrency = options.concurrency ?? 100;
  const interval = 1_000 / (options.ratePerSecond ?? 250);

  describe(`${name}: broker restart mid-stream`, () => {
    it(`turns each of ${total} confirmed events into exactly one trigger per matching rule across a broker restart`, { timeout: options.timeoutMs ?? 600_000 }, async () => {
      const subject = await factory();
      const { bus } = subject;
      const store = createMemoryStore();
      const engine = createAutomationEngine({ store, bus, group: `restart-${randomUUID().slice(0, 8)}`, pollIntervalMs: 60_000 });
      try {
        const accounts = ['acc-r0', 'acc-r1', 'acc-r2', 'acc-r3'];
        const matching = new Map<string, string[]>();
        for (const accountId of accounts) {
          const first = await engine.rules.create(accountId, CONTRACT_RULE);
          const second = await engine.rules.create(accountId, { ...CONTRACT_RULE, name: 'second rule', delay: { value: 2, unit: 'days' } });
          await engine.rules.create(accountId, { ...CONTRACT_RULE, name: 'other event', trigger: { eventName: 'job.created' } });
          matching.set(accountId, [first.id, second.id].sort());
        }
        const ingested = new Set<string>();
        engine.on('event:ingested', ({ event }) => {
          ingested.add(event.id);
        });
        await engine.start();

        const confirmed: Array<{ id: string; accountId: string }> = [];
        const failed: string[] = [];
        let restart: Promise<void> | undefined;
        let confirmedBeforeRestartDone = 0;
        let next = 0;
        const startedAt = Date.now();
        const publishAll = async () => {
          while (next < total) {
            const i = next;
            next += 1;
            await sleep(startedAt + i * interval - Date.now());
            const accountId = accounts[i % accounts.length] ?? 'acc-r0';
            const id = `evt-restart-${i}`;
            try {
              await bus.publish({ id, name: 'job.status.changed', accountId, payload: { job: { number: `J-${i}`, status: 'Done' } } });
              confirmed.push({ id, accountId });
              if (!restart && confirmed.length >= restartAfter) {
                restart = restartBroker().then(() => {
                  confirmedBeforeRestartDone = confirmed.length;
                });
              }
            } catch {
              failed.push(id);
            }
          }
        };
        await Promise.all(Array.from({ length: concurrency }, publishAll));
        await restart;

        expect(restart).toBeDefined();
        expect(confirmed.length + failed.length).toBe(total);
        // Publishing carried on through the outage rather than failing fast.
        expect(failed).toEqual([]);
        expect(confirmed.length).toBeGreaterThan(confirmedBeforeRestartDone);

        const deadline = Date.now() + 300_000;
        while (confirmed.some((e) => !ingested.has(e.id))) {
          if (Date.now() > deadline) {
            throw new Error(`only ${confirmed.filter((e) => ingested.has(e.id)).length} of ${confirmed.length} confirmed events reached intake`);
          }
          await sleep(200);
        }

        const perEvent = new Map<string, string[]>();
        for (const accountId of accounts) {
          let cursor: string | undefined;
          do {
            const page = await engine.triggers.list(accountId, { limit: 500, cursor });
            for (const trigger of page.items) {
              const key = `${accountId}/${trigger.triggeringEvent.id}`;
              perEvent.set(key, [...(perEvent.get(key) ?? []), trigger.ruleId]);
            }
            cursor = page.nextCursor;
          } while (cursor);
        }
        const wrong = confirmed.filter((e) => JSON.stringify((perEvent.get(`${e.accountId}/${e.id}`) ?? []).sort()) !== JSON.stringify(matching.get(e.accountId)));
        expect(wrong).toEqual([]);
        expect(perEvent.size).toBe(confirmed.length);
      } finally {
        await engine.stop().catch(() => {});
        await bus.close();
        await subject.cleanup?.();
      }
    });
  });
}
