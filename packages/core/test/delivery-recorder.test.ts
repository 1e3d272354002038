import { describe, expect, it } from 'vitest';
import { DeliveryRecorder, INTENT_BATCH_EARLY } from '../src/dispatch/delivery-recorder.js';
import { createMemoryDeliveryLedger } from '../src/entries/memory.js';
import { silentLogger } from '../src/ports/logger.js';
import type { DeliveryLedger, NewDelivery } from '../src/ports/delivery-ledger.js';

const intent = (n: number): NewDelivery => ({
  accountId: 'acc_1',
  triggerId: `t${n}`,
  ruleId: 'r1',
  actionIndex: 0,
  attempt: 1,
  type: 'sms',
  provider: 'stand-in',
  idempotencyKey: `t${n}:0`,
  dedupes: false,
  at: new Date('2026-01-01T00:00:00Z'),
});

/** A ledger that counts the size of every intent batch it is given. */
function counting(): { ledger: DeliveryLedger; batches: number[] } {
  const inner = createMemoryDeliveryLedger();
  const batches: number[] = [];
  return { batches, ledger: { ...inner, recordIntents: (intents) => (batches.push(intents.length), inner.recordIntents(intents)) } };
}

describe('the delivery recorder', () => {
  it(`batches the intents of one turn, sending a batch as soon as ${INTENT_BATCH_EARLY} are queued`, async () => {
    const { ledger, batches } = counting();
    const recorder = new DeliveryRecorder(ledger, silentLogger);
    const all = await Promise.all(Array.from({ length: 2 * INTENT_BATCH_EARLY + 5 }, (_, n) => recorder.intent(intent(n))));
    expect(batches).toEqual([INTENT_BATCH_EARLY, INTENT_BATCH_EARLY, 5]);
    // Each caller gets its own record, in the order asked.
    expect(all.map((d) => d.triggerId)).toEqual(Array.from({ length: 2 * INTENT_BATCH_EARLY + 5 }, (_, n) => `t${n}`));
  });

  it('fails only the batch whose write failed', async () => {
    const inner = createMemoryDeliveryLedger();
    let calls = 0;
    const ledger: DeliveryLedger = { ...inner, recordIntents: (intents) => (++calls === 1 ? Promise.reject(new Error('connection reset')) : inner.recordIntents(intents)) };
    const recorder = new DeliveryRecorder(ledger, silentLogger);
    const results = await Promise.allSettled(Array.from({ length: INTENT_BATCH_EARLY + 1 }, (_, n) => recorder.intent(intent(n))));
    expect(results.slice(0, INTENT_BATCH_EARLY).every((r) => r.status === 'rejected')).toBe(true);
    expect(results.at(-1)?.status).toBe('fulfilled');
  });
});
