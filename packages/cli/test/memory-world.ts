import { createAutomationEngine, GatewayError, type AutomationEngine, type RuleInput } from '@crm-automation/core';
import { createMemoryBus, createMemoryStore, type MemoryBus } from '@crm-automation/core/memory';
import { createManualClock, createRecordingChannel, type ManualClock, type RecordingChannel } from '@crm-automation/testing/doubles';
import type { CliConnections, RetentionTarget } from '../src/index.js';

export const DAY = 86_400_000;

export const smsRule = (name: string, delayMinutes = 0): RuleInput => ({
  name,
  trigger: { eventName: 'job.status.changed' },
  delay: { value: delayMinutes, unit: 'minutes' },
  conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
  actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'Job {{job.number}} done' } }],
});

export const jobDone = (accountId: string, n: number) => ({ id: `evt-${accountId}-${n}`, name: 'job.status.changed', accountId, payload: { job: { number: `J-${n}`, status: 'Done' } } });

/** An engine on the memory store and bus with a manual clock and a recording SMS gateway. */
export interface MemoryWorld {
  engine: AutomationEngine;
  clock: ManualClock;
  sms: RecordingChannel;
  bus: MemoryBus;
  accounts: Set<string>;
  /**
   * Publishes events and runs the due triggers; `fail` makes every send fail permanently, `timeout`
   * makes every send time out after it may have reached the provider (the delivery ends `unknown`).
   */
  fire(accountId: string, count: number, options?: { fail?: boolean | undefined; timeout?: boolean | undefined }): Promise<void>;
  connections(): CliConnections & { closed: number };
}

export function memoryWorld(start = '2026-10-01T00:00:00Z'): MemoryWorld {
  const clock = createManualClock(start);
  const sms = createRecordingChannel({ name: 'twilio' });
  const bus = createMemoryBus({ maxAttempts: 1 });
  const store = createMemoryStore();
  const engine = createAutomationEngine({ store, bus, clock, channels: { sms }, maxAttempts: 1 });
  const accounts = new Set<string>();
  let n = 0;
  return {
    engine,
    clock,
    sms,
    bus,
    accounts,
    async fire(accountId, count, options = {}) {
      accounts.add(accountId);
      for (let i = 0; i < count; i++) await engine.publish(jobDone(accountId, (n += 1)));
      if (options.fail) sms.failNext(new GatewayError('twilio answered 400: invalid number', { retryable: false, provider: 'twilio', status: 400 }), 1_000);
      if (options.timeout) sms.failNext(new GatewayError('twilio did not answer within 10 s', { retryable: true, ambiguous: true, provider: 'twilio' }), 1_000);
      await engine.runDue();
      if (options.fail || options.timeout) sms.clear();
    },
    connections() {
      // Cross-account count the memory store has no API for: list each known account.
      const retention: RetentionTarget = {
        purge: (request) => store.purgeTriggers(request),
        async count({ statuses, olderThan }) {
          let total = 0;
          for (const accountId of accounts) {
            const page = await engine.triggers.list(accountId, { status: [...statuses], limit: 500 });
            total += page.items.filter((t) => t.updatedAt < olderThan).length;
          }
          return total;
        },
      };
      const connections = {
        closed: 0,
        engine: () => engine,
        deliveryEngine: () => engine,
        deadLetters: () => bus.deadLetters,
        retention: () => retention,
        indexTargets: (idempotency: string | false) => [
          { name: 'store', ensureIndexes: async () => ({ dialect: 'memory' }) },
          ...(idempotency === false ? [] : [{ name: `keys ${idempotency}`, ensureIndexes: async () => ({ expiry: 'ttl' }) }]),
        ],
        async close() {
          connections.closed += 1;
        },
      };
      return connections;
    },
  };
}
