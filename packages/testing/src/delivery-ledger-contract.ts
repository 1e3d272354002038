import { describe, expect, it } from 'vitest';
import { isAutomationError, type DeliveryLedger, type NewDelivery } from '@crm-automation/core';
import { storePerTest, type ContractFactory } from './store-contract/fixtures.js';
import { DELIVERY_T0, deliveryAt, deliveryIntent } from './adapter-fixtures.js';

const ACCOUNT = 'acc_ledger_a';
const OTHER = 'acc_ledger_b';
const T0 = DELIVERY_T0;
const at = deliveryAt;
const intent = (overrides: Partial<NewDelivery> = {}): NewDelivery => deliveryIntent({ accountId: ACCOUNT, ...overrides });

export interface DeliveryLedgerContractOptions {
  /** Ids of the right general form that this ledger could never have issued. */
  malformedIds?: readonly string[] | undefined;
}

/**
 * The behaviour every {@link DeliveryLedger} must have, as a vitest suite: intents before sends,
 * outcomes only from `intent`, receipts forward only, lookups by trigger, recipient and provider id,
 * reconciliation of stale intents and an operator's resolution of `unknown` sends.
 *
 * @example
 * describeDeliveryLedgerContract('memory', () => createMemoryDeliveryLedger());
 */
export function describeDeliveryLedgerContract<S extends DeliveryLedger>(name: string, factory: ContractFactory<S>, options: DeliveryLedgerContractOptions = {}): void {
  describe(`delivery ledger contract: ${name}`, () => {
    let ledger: S;
    storePerTest(factory, (opened) => (ledger = opened));

    it('records intents in order, each with an id of its own, as `intent`', async () => {
      const recorded = await ledger.recordIntents([intent(), intent({ actionIndex: 1, type: 'email', provider: 'sendgrid', idempotencyKey: 'trigger-1:1', recipient: 'a@example.com' })]);
      expect(recorded.map((d) => [d.actionIndex, d.state])).toEqual([[0, 'intent'], [1, 'intent']]);
      expect(new Set(recorded.map((d) => d.id)).size).toBe(2);
      const stored = await ledger.getDelivery(ACCOUNT, recorded[0]?.id as string);
      expect(stored).toMatchObject({ accountId: ACCOUNT, triggerId: 'trigger-1', ruleId: 'rule-1', actionIndex: 0, attempt: 1, type: 'sms', provider: 'twilio', idempotencyKey: 'trigger-1:0', recipient: '+15557654321', state: 'intent', dedupes: false, createdAt: T0, updatedAt: T0 });
      expect(stored?.events).toEqual([{ at: T0, state: 'intent', source: 'engine' }]);
      expect(await ledger.recordIntents([])).toEqual([]);
    });

    it('moves an intent to accepted, refused or unknown once; later engine outcomes do not move it', async () => {
      const [a, b, c] = await ledger.recordIntents([intent(), intent({ actionIndex: 1 }), intent({ actionIndex: 2 })]);
      const error = { code: 'CRM_ERR_GATEWAY', message: 'nope', retryable: false };
      expect(await ledger.recordOutcomes([
        { id: a?.id as string, state: 'accepted', providerId: 'SM1', at: at(10) },
        { id: b?.id as string, state: 'refused', error, at: at(10) },
        { id: c?.id as string, state: 'unknown', error: { ...error, ambiguous: true }, at: at(10) },
        { id: 'nope', state: 'accepted', at: at(10) },
      ])).toEqual([true, true, true, false]);
      expect(await ledger.getDelivery(ACCOUNT, a?.id as string)).toMatchObject({ state: 'accepted', providerId: 'SM1', updatedAt: at(10) });
      expect(await ledger.getDelivery(ACCOUNT, b?.id as string)).toMatchObject({ state: 'refused', error });
      expect(await ledger.recordOutcomes([{ id: a?.id as string, state: 'refused', at: at(20) }, { id: c?.id as string, state: 'accepted', at: at(20) }])).toEqual([false, false]);
      // Reconciliation and operators may settle an unknown send; the engine may not.
      expect(await ledger.recordOutcomes([{ id: c?.id as string, state: 'accepted', at: at(30), source: 'reconcile' }])).toEqual([true]);
      expect((await ledger.getDelivery(ACCOUNT, c?.id as string))?.events.map((e) => [e.state, e.source])).toEqual([['intent', 'engine'], ['unknown', 'engine'], ['accepted', 'reconcile']]);
    });

    it('applies receipts forward only: late and duplicate receipts are stale, unknown ids are reported, refused sends never move', async () => {
      const [a, b] = await ledger.recordIntents([intent(), intent({ actionIndex: 1 })]);
      await ledger.recordOutcomes([{ id: a?.id as string, state: 'accepted', providerId: 'SM1', at: at(1) }, { id: b?.id as string, state: 'refused', at: at(1) }]);
      expect(await ledger.applyReceipt({ provider: 'twilio', providerId: 'SM1', state: 'delivered', at: at(5), detail: 'delivered' })).toMatchObject({ applied: true, delivery: { state: 'delivered' } });
      expect(await ledger.applyReceipt({ provider: 'twilio', providerId: 'SM1', state: 'accepted', at: at(6), detail: 'sent' })).toMatchObject({ applied: false, reason: 'stale', delivery: { state: 'delivered' } });
      expect(await ledger.applyReceipt({ provider: 'twilio', providerId: 'SM1', state: 'delivered', at: at(7) })).toMatchObject({ applied: false, reason: 'stale' });
      expect(await ledger.applyReceipt({ provider: 'twilio', providerId: 'SM-other', state: 'delivered', at: at(7) })).toEqual({ applied: false, reason: 'unknown-id' });
      expect(await ledger.applyReceipt({ provider: 'sendgrid', providerId: 'SM1', state: 'delivered', at: at(7) })).toEqual({ applied: false, reason: 'unknown-id' });
      expect(await ledger.applyReceipt({ provider: 'twilio', deliveryId: b?.id as string, state: 'delivered', at: at(8) })).toMatchObject({ applied: false, reason: 'stale', delivery: { state: 'refused' } });
      const events = (await ledger.getDelivery(ACCOUNT, a?.id as string))?.events.map((e) => [e.state, e.source]);
      expect(events).toEqual([['intent', 'engine'], ['accepted', 'engine'], ['delivered', 'receipt']]);
    });

    it('moves forward only for every pair of receipts, from intent, unknown and accepted, found by provider id or by delivery id', async () => {
      const receipts = ['accepted', 'delivered', 'undelivered', 'bounced', 'failed'] as const;
      const rank = (state: string) => (state === 'intent' ? 0 : state === 'unknown' ? 1 : state === 'accepted' ? 2 : 4);
      let n = 0;
      for (const start of ['intent', 'unknown', 'accepted'] as const) {
        for (const first of receipts) {
          for (const second of receipts) {
            n += 1;
            const providerId = `SM-pair-${n}`;
            const [d] = await ledger.recordIntents([intent({ triggerId: `trigger-pair-${n}`, idempotencyKey: `trigger-pair-${n}:0` })]);
            const id = d?.id as string;
            if (start !== 'intent') await ledger.recordOutcomes([{ id, state: start, at: at(1), ...(start === 'accepted' ? { providerId } : {}) }]);
            // Before the provider id is known to the ledger, only our delivery id finds the send.
            const by = (k: number) => (start === 'accepted' && k % 2 === 0 ? { providerId } : { deliveryId: id, providerId });
            let expected: string = start;
            const applied: boolean[] = [];
            for (const [k, state] of [first, second].entries()) {
              const result = await ledger.applyReceipt({ provider: 'twilio', ...by(k), state, at: at(10 + k) });
              const moves = rank(state) > rank(expected);
              applied.push(result.applied);
              if (moves) expected = state;
              expect(result.applied, `${start} → ${first} → ${second}: receipt ${k + 1} (${state})`).toBe(moves);
            }
            const stored = await ledger.getDelivery(ACCOUNT, id);
            expect(stored?.state, `${start} → ${first} → ${second}`).toBe(expected);
            expect(stored?.providerId).toBe(providerId);
            expect(stored?.events.filter((e) => e.source === 'receipt')).toHaveLength(applied.filter(Boolean).length);
          }
        }
      }
    });

    it('resolves an unknown send by a receipt found through our delivery id, recording the provider id it brings', async () => {
      const [a] = await ledger.recordIntents([intent()]);
      await ledger.recordOutcomes([{ id: a?.id as string, state: 'unknown', at: at(1) }]);
      expect(await ledger.applyReceipt({ provider: 'twilio', deliveryId: a?.id as string, providerId: 'SM9', state: 'accepted', at: at(2), detail: 'queued' })).toMatchObject({ applied: true, delivery: { state: 'accepted', providerId: 'SM9' } });
      expect(await ledger.applyReceipt({ provider: 'twilio', providerId: 'SM9', state: 'undelivered', at: at(3) })).toMatchObject({ applied: true, delivery: { state: 'undelivered' } });
    });

    it('finds deliveries by trigger (oldest first), and lists an account\'s newest first, filtered, in pages', async () => {
      const first = await ledger.recordIntents([intent({ at: at(1) }), intent({ actionIndex: 1, recipient: 'a@example.com', type: 'email', provider: 'sendgrid', at: at(1) })]);
      const retry = await ledger.recordIntents([intent({ attempt: 2, at: at(2) })]);
      const other = await ledger.recordIntents([intent({ triggerId: 'trigger-2', idempotencyKey: 'trigger-2:0', at: at(3) })]);
      await ledger.recordIntents([intent({ accountId: OTHER, at: at(4) })]);
      await ledger.recordOutcomes([{ id: first[0]?.id as string, state: 'refused', at: at(5) }, { id: retry[0]?.id as string, state: 'accepted', providerId: 'SMx', at: at(5) }]);

      const ofTrigger = await ledger.deliveriesOfTrigger(ACCOUNT, 'trigger-1');
      expect(ofTrigger.map((d) => [d.attempt, d.actionIndex])).toEqual([[1, 0], [1, 1], [2, 0]]);
      expect(await ledger.deliveriesOfTrigger(OTHER, 'trigger-1')).toHaveLength(1);

      const all = await ledger.listDeliveries(ACCOUNT, { limit: 100 });
      expect(all.items.map((d) => d.id)).toEqual([other[0]?.id, retry[0]?.id, first[1]?.id, first[0]?.id]);
      expect((await ledger.listDeliveries(ACCOUNT, { recipient: 'a@example.com' })).items.map((d) => d.id)).toEqual([first[1]?.id]);
      expect((await ledger.listDeliveries(ACCOUNT, { providerId: 'SMx' })).items.map((d) => d.id)).toEqual([retry[0]?.id]);
      expect((await ledger.listDeliveries(ACCOUNT, { state: ['refused', 'accepted'] })).items).toHaveLength(2);
      expect((await ledger.listDeliveries(ACCOUNT, { provider: 'sendgrid' })).items).toHaveLength(1);
      expect((await ledger.listDeliveries(ACCOUNT, { triggerId: 'trigger-2' })).items).toHaveLength(1);
      const page = await ledger.listDeliveries(ACCOUNT, { limit: 3 });
      expect(page.items).toHaveLength(3);
      const rest = await ledger.listDeliveries(ACCOUNT, { limit: 3, cursor: page.nextCursor });
      expect(rest.items.map((d) => d.id)).toEqual([first[0]?.id]);
      expect(rest.nextCursor).toBeUndefined();
    });

    it("treats another account's and malformed ids as not found, never as an error", async () => {
      const [a] = await ledger.recordIntents([intent()]);
      expect(await ledger.getDelivery(OTHER, a?.id as string)).toBeNull();
      expect(await ledger.resolveDelivery(OTHER, a?.id as string, { as: 'sent', at: at(1), by: 'user' })).toBeNull();
      for (const id of ['', 'nope', '{"$ne":null}', "' OR 1=1 --", 'x'.repeat(500), ...(options.malformedIds ?? [])]) {
        expect(await ledger.getDelivery(ACCOUNT, id)).toBeNull();
        expect(await ledger.recordOutcomes([{ id, state: 'accepted', at: at(1) }])).toEqual([false]);
        expect(await ledger.applyReceipt({ provider: 'twilio', deliveryId: id, state: 'delivered', at: at(1) })).toEqual({ applied: false, reason: 'unknown-id' });
      }
    });

    it('hands back stale intents (no outcome, older than a time), oldest first, for reconciliation', async () => {
      const [old, done] = await ledger.recordIntents([intent({ at: at(0) }), intent({ actionIndex: 1, at: at(0) })]);
      await ledger.recordIntents([intent({ actionIndex: 2, at: at(10_000) })]);
      await ledger.recordOutcomes([{ id: done?.id as string, state: 'accepted', at: at(1) }]);
      expect((await ledger.staleIntents(at(5_000), 10)).map((d) => d.id)).toEqual([old?.id]);
      expect(await ledger.staleIntents(at(5_000), 0)).toEqual([]);
      expect((await ledger.staleIntents(at(20_000), 10)).map((d) => d.actionIndex)).toEqual([0, 2]);
    });

    it('lets an operator settle an unknown send as sent or resend, and nothing else', async () => {
      const [a, b, c] = await ledger.recordIntents([intent(), intent({ actionIndex: 1 }), intent({ actionIndex: 2 })]);
      await ledger.recordOutcomes([{ id: a?.id as string, state: 'unknown', at: at(1) }, { id: b?.id as string, state: 'unknown', at: at(1) }, { id: c?.id as string, state: 'accepted', at: at(1) }]);
      expect(await ledger.resolveDelivery(ACCOUNT, a?.id as string, { as: 'sent', at: at(2), by: 'ops@example.com', note: 'seen in the provider console' })).toMatchObject({ state: 'accepted' });
      expect(await ledger.resolveDelivery(ACCOUNT, b?.id as string, { as: 'resend', at: at(2), by: 'ops@example.com' })).toMatchObject({ state: 'abandoned' });
      expect(await ledger.resolveDelivery(ACCOUNT, c?.id as string, { as: 'resend', at: at(2), by: 'ops@example.com' })).toMatchObject({ state: 'accepted' });
      const events = (await ledger.getDelivery(ACCOUNT, a?.id as string))?.events;
      expect(events?.at(-1)).toMatchObject({ state: 'accepted', source: 'operator', detail: expect.stringContaining('ops@example.com') as string });
      // A receipt never moves an abandoned send.
      expect(await ledger.applyReceipt({ provider: 'twilio', deliveryId: b?.id as string, state: 'delivered', at: at(3) })).toMatchObject({ applied: false, reason: 'stale' });
    });

    it('refuses dates that are not valid with CRM_ERR_CONFIG, writing nothing', async () => {
      const error = await ledger.recordIntents([intent(), intent({ at: new Date(Number.NaN) })]).catch((e: unknown) => e);
      expect(isAutomationError(error) && error.code).toBe('CRM_ERR_CONFIG');
      expect((await ledger.listDeliveries(ACCOUNT, {})).items).toEqual([]);
    });
  });
}
