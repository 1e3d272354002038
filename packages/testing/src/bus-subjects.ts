import { afterEach, beforeAll } from 'vitest';
import type { BusStats } from '@crm-automation/core';
import type { BusContractSubject } from './bus-contract.js';

/** What {@link cleanUpBusesAfterEach} hands a test file. */
export interface BusCleanup {
  /** Closes `subject`'s bus after the test and releases what the subject created besides it; returns the bus. */
  track<B extends BusContractSubject['bus']>(subject: BusContractSubject & { bus: B }): B;
  /** Runs each cleanup after the test, newest first (after what is registered later, before what was registered earlier). */
  defer(...cleanups: Array<() => Promise<void>>): void;
}

export interface BusCleanupOptions {
  /**
   * Ignore a cleanup that fails (best-effort teardown of broker names, where a leftover must not fail
   * the test that already passed). Default false: a failing cleanup fails the test.
   */
  ignoreFailures?: boolean | undefined;
}

/**
 * For tests on real buses: registers an `afterEach` that undoes, newest first, what the test
 * registered (buses to close, topics or connections to drop). Call once at the top of a test file.
 *
 * @example
 * const { track } = cleanUpBusesAfterEach();
 * it('...', async () => { const bus = track(kafkaSubject()); ... });
 */
export function cleanUpBusesAfterEach(options: BusCleanupOptions = {}): BusCleanup {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      if (options.ignoreFailures) await cleanup().catch(() => {});
      else await cleanup();
    }
  });
  return {
    track(subject) {
      cleanups.push(async () => {
        await subject.bus.close();
        await subject.cleanup?.();
      });
      return subject.bus;
    },
    defer(...more) {
      cleanups.push(...more);
    },
  };
}

/**
 * Polls `bus.stats()` until `ready` holds and returns those stats; throws with `what` and the last
 * stats after `timeoutMs` (a guard against a hung broker, not an assertion on speed).
 */
export async function busStatsWhen(
  bus: { stats(): Promise<BusStats> },
  ready: (stats: BusStats) => boolean,
  what: string,
  { timeoutMs, everyMs }: { timeoutMs: number; everyMs: number },
): Promise<BusStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await bus.stats();
    if (ready(stats)) return stats;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last stats ${JSON.stringify(stats)}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * The RabbitMQ URL and Kafka brokers of a services test that runs on both buses, from the
 * environment; a `beforeAll` fails the file, loudly, when either is not set.
 */
export function rabbitAndKafkaFromEnv(): { rabbitUrl: string; kafkaBrokers: string } {
  const rabbitUrl = process.env['RABBITMQ_URL'] ?? '';
  const kafkaBrokers = process.env['KAFKA_BROKERS'] ?? '';
  beforeAll(() => {
    if (!rabbitUrl) throw new Error('RABBITMQ_URL is not set: run `scripts/services.sh up rabbitmq` and export what it prints');
    if (!kafkaBrokers) throw new Error('KAFKA_BROKERS is not set: run `scripts/services.sh up kafka` and export what it prints');
  });
  return { rabbitUrl, kafkaBrokers };
}
