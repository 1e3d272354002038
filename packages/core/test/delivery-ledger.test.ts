import { describe, expect, it } from 'vitest';
import { AutomationError, createAutomationEngine, GatewayError, type AutomationStore, type ChannelGateway, type RuleInput } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { createManualClock } from '@crm-automation/core/doubles';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';

const ACCOUNT = 'acc_1';
const immediate = { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } } satisfies RuleInput;
const event = (id = 'evt-1') => ({ id, name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload });

/** A provider stand-in: accepts every message, keeps what it took, answers with a message id. */
function provider(options: { dedupes?: boolean } = {}) {
  const taken: Array<{ key: string; deliveryId: string | undefined }> = [];
  const gateway: ChannelGateway = {
    name: 'stand-in',
    ...(options.dedupes ? { dedupes: true } : {}),
    send: async (command) => {
      taken.push({ key: command.metadata.idempotencyKey, deliveryId: command.metadata.deliveryId });
      return { provider: 'stand-in', id: `SM${taken.length}` };
    },
  };
  return { gateway, taken };
}

/** The store, as seen by an engine that dies after the provider took its sends: nothing it writes after sending lands. */
function dyingAfterSend(store: AutomationStore & Record<string, unknown>): AutomationStore {
  const down = async () => {
    throw new AutomationError('CRM_ERR_CONFIG', 'the process died');
  };
  return { ...store, finishAttempt: down, finishAttempts: down, recordOutcomes: down } as unknown as AutomationStore;
}

describe('the delivery ledger in the engine', () => {
  it('records each send: intent before the gateway is called, accepted with the provider id after', async () => {
    const store = createMemoryStore();
    const { gateway, taken } = provider();
    const engine = createAutomationEngine({ store, channels: { sms: gateway }, clock: createManualClock('2026-01-01T00:00:00Z') });
    await engine.rules.create(ACCOUNT, immediate);
    const [trigger] = await engine.ingest(event());
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    await engine.stop();
    const [delivery] = await engine.deliveries.ofTrigger(ACCOUNT, trigger?.id ?? '');
    expect(delivery).toMatchObject({ state: 'accepted', providerId: 'SM1', provider: 'stand-in', type: 'sms', recipient: '+15557654321', attempt: 1, actionIndex: 0, idempotencyKey: `${trigger?.id}:0` });
    expect(delivery?.events.map((e) => e.state)).toEqual(['intent', 'accepted']);
    expect(taken[0]?.deliveryId).toBe(delivery?.id);
    expect((await engine.deliveries.list(ACCOUNT, { recipient: '+15557654321' })).items.map((d) => d.id)).toEqual([delivery?.id]);
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.executionHistory.at(-1)?.actions?.[0]).toMatchObject({ status: 'sent', deliveryId: delivery?.id });
  });

  it('never sends twice when an engine died after the provider took the send: the next one holds it as unknown', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const store = createMemoryStore();
    const { gateway, taken } = provider();
    const first = createAutomationEngine({ store: dyingAfterSend(store as never), channels: { sms: gateway }, clock, leaseMs: 300, sendTimeoutMs: 100 });
    await first.rules.create(ACCOUNT, immediate);
    await first.ingest(event());
    await first.runDue().catch(() => undefined);
    expect(taken).toHaveLength(1);

    // A second engine on the same store, after the dead one's lease: reconciliation, then the claim.
    await clock.advance(301);
    const second = createAutomationEngine({ store, channels: { sms: gateway }, clock, leaseMs: 300, sendTimeoutMs: 100 });
    expect(await second.deliveries.reconcile()).toBe(1);
    expect(await second.runDue()).toMatchObject({ claimed: 1, completed: 1 });
    expect(taken).toHaveLength(1);
    const [trigger] = (await second.triggers.list(ACCOUNT)).items;
    expect(trigger?.executionHistory.at(-1)).toMatchObject({ reason: 'delivery-unknown', actions: [{ status: 'unknown', error: { code: 'CRM_ERR_DELIVERY_UNKNOWN' } }] });
    const [delivery] = await second.deliveries.ofTrigger(ACCOUNT, trigger?.id ?? '');
    expect(delivery?.state).toBe('unknown');

    // A receipt the provider sends later settles it, without any resend.
    expect(await second.deliveries.applyReceipt({ provider: 'stand-in', deliveryId: delivery?.id, providerId: 'SM1', state: 'delivered', at: clock.now() })).toMatchObject({ applied: true });
    expect((await second.deliveries.get(ACCOUNT, delivery?.id ?? ''))?.state).toBe('delivered');
    expect(taken).toHaveLength(1);
  });

  it('resends such a send when the provider deduplicates by our key', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const store = createMemoryStore();
    const { gateway, taken } = provider({ dedupes: true });
    const first = createAutomationEngine({ store: dyingAfterSend(store as never), channels: { sms: gateway }, clock, leaseMs: 300, sendTimeoutMs: 100 });
    await first.rules.create(ACCOUNT, immediate);
    await first.ingest(event());
    await first.runDue().catch(() => undefined);
    await clock.advance(301);
    const second = createAutomationEngine({ store, channels: { sms: gateway }, clock, leaseMs: 300, sendTimeoutMs: 100 });
    expect(await second.runDue()).toMatchObject({ completed: 1 });
    expect(taken.map((t) => t.key)).toEqual([taken[0]?.key, taken[0]?.key]);
    await second.stop();
    // Both records are of one message (the provider deduplicated it by key): neither is left unknown.
    const records = await store.listDeliveries(ACCOUNT, {});
    expect(records.items.map((d) => [d.attempt, d.state]).sort()).toEqual([[1, 'accepted'], [2, 'accepted']]);
    expect(records.items.find((d) => d.attempt === 1)?.events.at(-1)).toMatchObject({ state: 'accepted', source: 'reconcile' });
  });

  it('lets an operator settle an unknown send: `sent` resends nothing, `resend` sends the action once more', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const store = createMemoryStore();
    let calls = 0;
    const timesOut: ChannelGateway = { name: 'slow', send: (command) => (++calls === 1 ? new Promise(() => {}) : Promise.resolve({ id: `SM${calls}`, key: command.metadata.idempotencyKey })) };
    const engine = createAutomationEngine({ store, channels: { sms: timesOut }, clock, sendTimeoutMs: 1_000 });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(event('a'));
    await engine.ingest(event('b'));
    const pass = engine.runDue();
    while (clock.pendingTimers === 0) await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(1_000);
    await pass;
    const unknown = (await engine.deliveries.list(ACCOUNT, { state: 'unknown' })).items;
    expect(unknown).toHaveLength(1);
    const held = unknown[0];

    expect(await engine.deliveries.resolve(ACCOUNT, held?.id ?? '', { as: 'resend', by: 'ops' })).toMatchObject({ state: 'abandoned' });
    expect(await engine.runDue()).toMatchObject({ claimed: 1, completed: 1 });
    const ofTrigger = await engine.deliveries.ofTrigger(ACCOUNT, held?.triggerId ?? '');
    expect(ofTrigger.map((d) => [d.attempt, d.state])).toEqual([[1, 'abandoned'], [2, 'accepted']]);
    // Resolving it again is refused, and changes nothing.
    await expect(engine.deliveries.resolve(ACCOUNT, held?.id ?? '', { as: 'resend' })).rejects.toMatchObject({ code: 'CRM_ERR_DELIVERY_STATE', state: 'abandoned' });
    expect(await engine.runDue()).toMatchObject({ claimed: 0 });
    expect(await engine.deliveries.resolve('acc_other', held?.id ?? '', { as: 'sent' })).toBeNull();
  });

  it('tries a failed outcome write again, so a send the engine saw accepted does not end up unknown', async () => {
    const store = createMemoryStore();
    let failures = 2;
    const flaky: typeof store = {
      ...store,
      recordOutcomes: async (outcomes) => {
        if (failures-- > 0) throw new Error('connection reset');
        return store.recordOutcomes(outcomes);
      },
    };
    const { gateway, taken } = provider();
    const engine = createAutomationEngine({ store: flaky, channels: { sms: gateway } });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(event());
    await engine.runDue();
    await expect.poll(async () => (await engine.deliveries.list(ACCOUNT)).items.map((d) => d.state), { timeout: 5_000, interval: 50 }).toEqual(['accepted']);
    expect(failures).toBe(-1);
    expect(taken).toHaveLength(1);
  });

  it('stops promptly while outcome writes keep failing: they are tried without their backoff, then left to reconciliation', async () => {
    const store = createMemoryStore();
    let tries = 0;
    const down: typeof store = {
      ...store,
      recordOutcomes: async () => {
        tries++;
        throw new Error('connection refused');
      },
    };
    const { gateway } = provider();
    const engine = createAutomationEngine({ store: down, channels: { sms: gateway } });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(event());
    await engine.runDue();
    const started = Date.now();
    await engine.stop();
    // Every try was made (the first and each retry) well before the backoff would have allowed it.
    expect(tries).toBe(8);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await engine.deliveries.list(ACCOUNT)).items.map((d) => d.state)).toEqual(['intent']);
  });

  it('reconciles an intent whose outcome write was lost from the trigger\'s history: accepted, with the provider id, not unknown', async () => {
    const store = createMemoryStore();
    const { gateway, taken } = provider();
    // The ledger's outcome writes never land (the process died after recording the trigger's outcome).
    const lost: typeof store = { ...store, recordOutcomes: () => new Promise<boolean[]>(() => {}) };
    const first = createAutomationEngine({ store, ledger: lost, channels: { sms: gateway }, leaseMs: 2_000, sendTimeoutMs: 1_000 });
    await first.rules.create(ACCOUNT, immediate);
    await first.ingest(event());
    expect(await first.runDue()).toMatchObject({ completed: 1 });
    expect((await store.listDeliveries(ACCOUNT, {})).items.map((d) => d.state)).toEqual(['intent']);

    const clock = createManualClock(new Date(Date.now() + 5_000));
    const second = createAutomationEngine({ store, channels: { sms: gateway }, clock, leaseMs: 2_000, sendTimeoutMs: 1_000 });
    expect(await second.deliveries.reconcile()).toBe(1);
    const [settled] = (await second.deliveries.list(ACCOUNT)).items;
    expect(settled).toMatchObject({ state: 'accepted', providerId: 'SM1' });
    expect(settled?.events.at(-1)).toMatchObject({ state: 'accepted', source: 'reconcile' });
    expect(taken).toHaveLength(1);
  });

  it('reconciles from the history with the provider that took the send (behind a failover gateway), in the ledger and in the event metrics count', async () => {
    const store = createMemoryStore();
    const front: ChannelGateway = { name: 'failover(main,backup)', send: async () => ({ provider: 'backup', id: 'SM-b1' }) };
    const lost: typeof store = { ...store, recordOutcomes: () => new Promise<boolean[]>(() => {}) };
    const first = createAutomationEngine({ store, ledger: lost, channels: { sms: front }, leaseMs: 2_000, sendTimeoutMs: 1_000 });
    await first.rules.create(ACCOUNT, immediate);
    await first.ingest(event());
    await first.runDue();
    const second = createAutomationEngine({ store, channels: { sms: front }, clock: createManualClock(new Date(Date.now() + 5_000)), leaseMs: 2_000, sendTimeoutMs: 1_000 });
    const changed: Array<{ provider: string; state: string }> = [];
    second.on('delivery:changed', ({ delivery }) => changed.push({ provider: delivery.provider, state: delivery.state }));
    expect(await second.deliveries.reconcile()).toBe(1);
    expect((await second.deliveries.list(ACCOUNT)).items[0]).toMatchObject({ state: 'accepted', provider: 'backup', providerId: 'SM-b1' });
    expect(changed).toEqual([{ provider: 'backup', state: 'accepted' }]);
  });

  it('reconciles an intent whose trigger recorded nothing about the send as unknown', async () => {
    const store = createMemoryStore();
    const engine = createAutomationEngine({ store, channels: { sms: provider().gateway } });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(event());
    const [trigger] = (await engine.triggers.list(ACCOUNT)).items;
    await store.recordIntents([{ accountId: ACCOUNT, triggerId: trigger?.id ?? '', ruleId: trigger?.ruleId ?? '', actionIndex: 0, attempt: 1, type: 'sms', provider: 'stand-in', idempotencyKey: 'k1', dedupes: false, at: new Date(Date.now() - 120_000) }]);
    expect(await engine.deliveries.reconcile()).toBe(1);
    expect((await engine.deliveries.list(ACCOUNT)).items.map((d) => d.state)).toEqual(['unknown']);
  });

  it('completes, not fails with max-attempts, a trigger reclaimed past its budget whose sends the provider took', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const store = createMemoryStore();
    const { gateway, taken } = provider();
    // The worker dies after the send: its trigger outcome never lands, its ledger outcome does.
    const hangs = () => new Promise<never>(() => {});
    const dying: typeof store = { ...store, finishAttempt: hangs, finishAttempts: hangs };
    const first = createAutomationEngine({ store: dying, ledger: store, channels: { sms: gateway }, clock, maxAttempts: 1, leaseMs: 300, sendTimeoutMs: 100 });
    await first.rules.create(ACCOUNT, immediate);
    await first.ingest(event());
    void first.runDue();
    await expect.poll(async () => (await store.listDeliveries(ACCOUNT, {})).items.map((d) => d.state), { timeout: 5_000, interval: 20 }).toEqual(['accepted']);
    await clock.advance(301);
    const second = createAutomationEngine({ store, channels: { sms: gateway }, clock, maxAttempts: 1, leaseMs: 300, sendTimeoutMs: 100 });
    expect(await second.runDue()).toMatchObject({ claimed: 1, completed: 1, failed: 0 });
    const [trigger] = (await second.triggers.list(ACCOUNT)).items;
    expect(trigger).toMatchObject({ status: 'completed', sentActions: [0] });
    expect(trigger?.executionHistory.at(-1)).toMatchObject({ outcome: 'completed', reason: 'sent-before-lease-expired', actions: [{ index: 0, status: 'already-sent' }] });
    expect(taken).toHaveLength(1);
  });

  it('still fails with max-attempts a trigger reclaimed past its budget whose send is not known taken', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const store = createMemoryStore();
    const hangs = () => new Promise<never>(() => {});
    const stuck: ChannelGateway = { name: 'stuck', send: hangs };
    const dying: typeof store = { ...store, finishAttempt: hangs, finishAttempts: hangs };
    const first = createAutomationEngine({ store: dying, ledger: store, channels: { sms: stuck }, clock, maxAttempts: 1, leaseMs: 300, sendTimeoutMs: 100 });
    await first.rules.create(ACCOUNT, immediate);
    await first.ingest(event());
    void first.runDue();
    await expect.poll(async () => (await store.listDeliveries(ACCOUNT, {})).items.length, { timeout: 5_000, interval: 20 }).toBe(1);
    await clock.advance(301);
    const second = createAutomationEngine({ store, channels: { sms: provider().gateway }, clock, maxAttempts: 1, leaseMs: 300, sendTimeoutMs: 100 });
    expect(await second.runDue()).toMatchObject({ claimed: 1, failed: 1 });
    const [trigger] = (await second.triggers.list(ACCOUNT)).items;
    expect(trigger?.executionHistory.at(-1)).toMatchObject({ outcome: 'failed', reason: 'max-attempts' });
  });

  it('refuses to resend an unknown send while its trigger has not finished, and changes nothing', async () => {
    const store = createMemoryStore();
    const { gateway } = provider();
    const engine = createAutomationEngine({ store, channels: { sms: gateway } });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(event());
    const [trigger] = (await engine.triggers.list(ACCOUNT)).items;
    const [recorded] = await store.recordIntents([{ accountId: ACCOUNT, triggerId: trigger?.id ?? '', ruleId: trigger?.ruleId ?? '', actionIndex: 0, attempt: 1, type: 'sms', provider: 'stand-in', idempotencyKey: 'k1', dedupes: false, at: new Date() }]);
    await store.recordOutcomes([{ id: recorded?.id ?? '', state: 'unknown', at: new Date(), source: 'reconcile' }]);
    await expect(engine.deliveries.resolve(ACCOUNT, recorded?.id ?? '', { as: 'resend' })).rejects.toMatchObject({ code: 'CRM_ERR_TRIGGER_STATE' });
    expect(await engine.deliveries.get(ACCOUNT, recorded?.id ?? '')).toMatchObject({ state: 'unknown' });
    expect((await engine.triggers.get(ACCOUNT, trigger?.id ?? ''))?.status).toBe('pending');
  });

  it('waits, without spending attempts, while another worker holds the same idempotency key', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    let held = 12;
    const busy: ChannelGateway = {
      send: async () => {
        if (held-- > 0) throw new AutomationError('CRM_ERR_IDEMPOTENCY_IN_FLIGHT', 'command is being sent by another worker', { retryable: true });
        return { id: 'SM1' };
      },
    };
    const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms: busy }, clock, maxAttempts: 2, backoff: { baseMs: 100, maxMs: 100, jitter: 0 } });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(event());
    let completed = 0;
    for (let i = 0; i < 20 && completed === 0; i++) {
      completed += (await engine.runDue()).completed;
      await clock.advance(100);
    }
    expect(completed).toBe(1);
    const [trigger] = (await engine.triggers.list(ACCOUNT)).items;
    expect(trigger?.attempt).toBe(13);
    expect(trigger?.executionHistory.filter((h) => h.reason === 'in-flight')).toHaveLength(12);
  });

  it('sends an action once more through the next provider when a receipt says undelivered within the failover window', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const sent: Array<{ provider: string; excluded: readonly string[] }> = [];
    const failover: ChannelGateway = {
      name: 'failover',
      failover: { providers: ['first', 'second'], undeliveredWithinMs: 60_000 },
      send: async (command) => {
        const excluded = command.metadata.excludeProviders ?? [];
        const provider = ['first', 'second'].find((p) => !excluded.includes(p)) ?? 'none';
        sent.push({ provider, excluded });
        return { provider, id: `${provider}-${sent.length}` };
      },
    };
    const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms: failover }, clock });
    await engine.rules.create(ACCOUNT, immediate);
    const [trigger] = await engine.ingest(event());
    await engine.runDue();
    await engine.stop();
    expect(sent.map((s) => s.provider)).toEqual(['first']);

    await clock.advance(30_000);
    expect(await engine.deliveries.applyReceipt({ provider: 'first', providerId: 'first-1', state: 'undelivered', at: clock.now(), detail: '30007 carrier violation' })).toMatchObject({ applied: true });
    await engine.runDue();
    await engine.stop();
    expect(sent).toEqual([{ provider: 'first', excluded: [] }, { provider: 'second', excluded: ['first'] }]);

    // The second provider is the last: its undelivered receipt is recorded and nothing more is sent.
    await engine.deliveries.applyReceipt({ provider: 'second', providerId: 'second-2', state: 'undelivered', at: clock.now() });
    expect((await engine.runDue()).claimed).toBe(0);
    // Outside the window nothing is resent either.
    const deliveries = await engine.deliveries.ofTrigger(ACCOUNT, trigger?.id ?? '');
    expect(deliveries.map((d) => [d.provider, d.state])).toEqual([['first', 'undelivered'], ['second', 'undelivered']]);
    expect(sent).toHaveLength(2);
  });

  it('keeps no ledger when told so, and says so when asked for one', async () => {
    const engine = createAutomationEngine({ store: createMemoryStore(), ledger: false });
    await expect(engine.deliveries.list(ACCOUNT)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
  });
});

describe('engine.deliveries: what an operator or a caller may ask', () => {
  /** One delivery in each state the ledger can hold, recorded through the store's own ledger. */
  async function oneOfEach() {
    const store = createMemoryStore();
    const engine = createAutomationEngine({ store, channels: { sms: provider().gateway } });
    const at = new Date('2026-01-01T00:00:00Z');
    const intent = (n: number) => ({ accountId: ACCOUNT, triggerId: `trg_${n}`, ruleId: 'rule_1', actionIndex: 0, attempt: 1, type: 'sms', provider: 'stand-in', idempotencyKey: `trg_${n}:0`, recipient: '+15557654321', dedupes: false, at });
    const ids = (await store.recordIntents([0, 1, 2, 3, 4, 5, 6, 7, 8].map(intent))).map((d) => d.id);
    const [inIntent, accepted, refused, unknown, delivered, undelivered, bounced, failed, abandoned] = ids as [string, string, string, string, string, string, string, string, string];
    await store.recordOutcomes([
      { id: accepted, state: 'accepted', providerId: 'SM-a', at },
      { id: refused, state: 'refused', at },
      { id: unknown, state: 'unknown', at },
      ...[delivered, undelivered, bounced, failed].map((id, n) => ({ id, state: 'accepted' as const, providerId: `SM-${n}`, at })),
      { id: abandoned, state: 'unknown', at },
    ]);
    for (const [id, state] of [[delivered, 'delivered'], [undelivered, 'undelivered'], [bounced, 'bounced'], [failed, 'failed']] as const) await store.applyReceipt({ provider: 'stand-in', deliveryId: id, state, at });
    await store.resolveDelivery(ACCOUNT, abandoned, { as: 'resend', at, by: 'ops' });
    return { engine, store, byState: { intent: inIntent, accepted, refused, unknown, delivered, undelivered, bounced, failed, abandoned } };
  }

  it('refuses to resolve a delivery that is not unknown, either way, with CRM_ERR_DELIVERY_STATE, and changes nothing', async () => {
    const { engine, byState } = await oneOfEach();
    for (const [state, id] of Object.entries(byState)) {
      if (state === 'unknown') continue;
      for (const as of ['sent', 'resend'] as const) {
        const before = await engine.deliveries.get(ACCOUNT, id);
        await expect(engine.deliveries.resolve(ACCOUNT, id, { as }), `${as} of a delivery ${state}`).rejects.toMatchObject({ name: 'DeliveryStateError', code: 'CRM_ERR_DELIVERY_STATE', state });
        expect(await engine.deliveries.get(ACCOUNT, id)).toEqual(before);
      }
    }
    // The unknown one resolves; a second decision on it is refused.
    expect(await engine.deliveries.resolve(ACCOUNT, byState.unknown, { as: 'sent', by: 'ops' })).toMatchObject({ state: 'accepted' });
    await expect(engine.deliveries.resolve(ACCOUNT, byState.unknown, { as: 'sent' })).rejects.toMatchObject({ code: 'CRM_ERR_DELIVERY_STATE', state: 'accepted' });
    // Another account's delivery, and no delivery at all, are null.
    expect(await engine.deliveries.resolve('acc_other', byState.unknown, { as: 'sent' })).toBeNull();
    expect(await engine.deliveries.resolve(ACCOUNT, 'no-such-delivery', { as: 'sent' })).toBeNull();
  });

  it.each([['SENT'], ['Resend'], ['delivered'], [''], [undefined], [null], [1], [{}]])('refuses a resolution as %j with CRM_ERR_CONFIG before reading anything', async (as) => {
    const { engine, byState } = await oneOfEach();
    await expect(engine.deliveries.resolve(ACCOUNT, byState.unknown, { as } as never)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
    expect((await engine.deliveries.get(ACCOUNT, byState.unknown))?.state).toBe('unknown');
  });

  it('finds deliveries by recipient as they are kept: an email address in any case, with spaces around it', async () => {
    const store = createMemoryStore();
    const engine = createAutomationEngine({ store, channels: { email: provider().gateway } });
    await engine.rules.create(ACCOUNT, { ...immediate, actions: [{ type: 'email', params: { recipient: 'Jane.Doe@Example.COM', subject: 'Done', body: 'Job done.' } }] });
    await engine.ingest(event());
    await engine.runDue();
    await engine.stop();
    for (const recipient of ['jane.doe@example.com', 'Jane.Doe@Example.COM', 'JANE.DOE@EXAMPLE.COM', '  jane.doe@example.com ']) {
      expect((await engine.deliveries.list(ACCOUNT, { recipient })).items.map((d) => d.recipient), recipient).toEqual(['jane.doe@example.com']);
    }
    expect((await engine.deliveries.list(ACCOUNT, { recipient: 'john@example.com' })).items).toEqual([]);
  });

  it.each([[{ state: 'sent' }], [{ state: ['accepted', 'bogus'] }], [{ triggerId: 42 }], [{ recipient: ['a'] }], [{ providerId: {} }]])('refuses the filter %j with CRM_ERR_CONFIG instead of answering an empty page', async (filter) => {
    const { engine } = await oneOfEach();
    await expect(engine.deliveries.list(ACCOUNT, filter as never)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
  });

  it('combines every filter and pages through the result without repeats or gaps', async () => {
    const { engine, byState } = await oneOfEach();
    const pages: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await engine.deliveries.list(ACCOUNT, { recipient: '+15557654321', provider: 'stand-in', state: ['accepted', 'delivered', 'undelivered'], limit: 1, ...(cursor ? { cursor } : {}) });
      pages.push(...page.items.map((d) => d.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages.sort()).toEqual([byState.accepted, byState.delivered, byState.undelivered].sort());
    expect((await engine.deliveries.list(ACCOUNT, { providerId: 'SM-a', triggerId: 'trg_1' })).items.map((d) => d.id)).toEqual([byState.accepted]);
    expect((await engine.deliveries.list(ACCOUNT, { providerId: 'SM-a', triggerId: 'trg_2' })).items).toEqual([]);
  });
});

describe('reconciliation on engine start', () => {
  const intentOf = (n: number, at: Date) => ({ accountId: ACCOUNT, triggerId: `trg_${n}`, ruleId: 'rule_1', actionIndex: 0, attempt: 1, type: 'sms', provider: 'stand-in', idempotencyKey: `trg_${n}:0`, dedupes: false, at });

  it.each([[1], [999], [1_000], [1_001], [2_500]])('settles every one of %i intents older than the lease, not only a first batch; younger ones stay', async (stale) => {
    const clock = createManualClock('2026-01-01T00:10:00Z');
    const store = createMemoryStore();
    const old = new Date('2026-01-01T00:00:00Z');
    await store.recordIntents(Array.from({ length: stale }, (_, n) => intentOf(n, old)));
    const [young] = await store.recordIntents([intentOf(-1, new Date('2026-01-01T00:09:30Z'))]);
    const engine = createAutomationEngine({ store, channels: { sms: provider().gateway }, clock, leaseMs: 60_000 });
    await engine.start();
    await engine.stop();
    expect(await store.staleIntents(clock.now(), 10_000)).toEqual([young]);
    const unknown: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listDeliveries(ACCOUNT, { state: 'unknown', limit: 500, ...(cursor ? { cursor } : {}) });
      unknown.push(...page.items.map((d) => d.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(unknown).size).toBe(stale);
  });
});

describe('receipts for a send a failover gateway sent through its second provider', () => {
  it('are found by the message id when the receipt names a sibling provider (one receipt route for both), and by no one else', async () => {
    const front: ChannelGateway = { name: 'failover(main,backup)', failover: { providers: ['main', 'backup'] }, send: async () => ({ provider: 'backup', id: 'SM-b1' }) };
    const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms: front } });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(event());
    await engine.runDue();
    const [sent] = (await engine.deliveries.list(ACCOUNT)).items;
    expect(sent).toMatchObject({ provider: 'backup', providerId: 'SM-b1', state: 'accepted' });
    expect(await engine.deliveries.applyReceipt({ provider: 'elsewhere', providerId: 'SM-b1', state: 'delivered', at: new Date() })).toEqual({ applied: false, reason: 'unknown-id' });
    expect(await engine.deliveries.applyReceipt({ provider: 'main', providerId: 'SM-unknown', state: 'delivered', at: new Date() })).toEqual({ applied: false, reason: 'unknown-id' });
    expect(await engine.deliveries.applyReceipt({ provider: 'main', providerId: 'SM-b1', state: 'delivered', at: new Date() })).toMatchObject({ applied: true, delivery: { provider: 'backup', state: 'delivered' } });
    // Forward only, whichever name finds it.
    expect(await engine.deliveries.applyReceipt({ provider: 'backup', providerId: 'SM-b1', state: 'undelivered', at: new Date() })).toMatchObject({ applied: false, reason: 'stale' });
    await engine.stop();
  });
});

describe('a resend whose trigger is gone', () => {
  it('is refused with CRM_ERR_TRIGGER_NOT_FOUND and leaves the send unknown (nothing would send it again); as sent still settles it', async () => {
    const store = createMemoryStore();
    const engine = createAutomationEngine({ store, channels: { sms: provider().gateway } });
    const [held] = await store.recordIntents([{ accountId: ACCOUNT, triggerId: 'trg_purged', ruleId: 'rule_1', actionIndex: 0, attempt: 1, type: 'sms', provider: 'stand-in', idempotencyKey: 'trg_purged:0', dedupes: false, at: new Date() }]);
    await store.recordOutcomes([{ id: held?.id ?? '', state: 'unknown', at: new Date() }]);
    await expect(engine.deliveries.resolve(ACCOUNT, held?.id ?? '', { as: 'resend' })).rejects.toMatchObject({ code: 'CRM_ERR_TRIGGER_NOT_FOUND' });
    expect((await engine.deliveries.get(ACCOUNT, held?.id ?? ''))?.state).toBe('unknown');
    expect(await engine.deliveries.resolve(ACCOUNT, held?.id ?? '', { as: 'sent' })).toMatchObject({ state: 'accepted' });
  });
});

describe('delivery:changed for sends dispatch settles outside a send', () => {
  it('an intent a dead engine left, found when its trigger is claimed again (no reconcile pass), is announced unknown once', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const store = createMemoryStore();
    const { gateway, taken } = provider();
    const first = createAutomationEngine({ store: dyingAfterSend(store as never), channels: { sms: gateway }, clock, leaseMs: 300, sendTimeoutMs: 100 });
    await first.rules.create(ACCOUNT, immediate);
    await first.ingest(event());
    await first.runDue().catch(() => undefined);
    await clock.advance(301);
    const second = createAutomationEngine({ store, channels: { sms: gateway }, clock, leaseMs: 300, sendTimeoutMs: 100 });
    const changed: Array<{ state: string; provider: string; source: string }> = [];
    second.on('delivery:changed', ({ delivery, source }) => changed.push({ state: delivery.state, provider: delivery.provider, source }));
    await second.runDue();
    await second.runDue();
    await second.stop();
    expect(taken).toHaveLength(1);
    expect(changed).toEqual([{ state: 'unknown', provider: 'stand-in', source: 'reconcile' }]);
  });

  it('a timed-out send the provider accepted late is announced accepted', async () => {
    const clock = createManualClock(0);
    let accept: (value: unknown) => void = () => undefined;
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, sendTimeoutMs: 1_000, channels: { sms: { name: 'slow', send: () => new Promise((resolve) => (accept = resolve)) } } });
    const changed: string[] = [];
    engine.on('delivery:changed', ({ delivery }) => changed.push(`${delivery.state}:${delivery.providerId ?? ''}`));
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(event());
    const pass = engine.runDue();
    while (clock.pendingTimers === 0) await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(1_000);
    await pass;
    accept({ id: 'SM-late' });
    await engine.stop();
    expect(changed).toEqual(['accepted:SM-late']);
  });
});

describe('a refused or unknown send behind a gateway in front of providers', () => {
  it.each([
    ['refused', new GatewayError('twilio answered 400: invalid number (code 21211)', { provider: 'twilio', retryable: false, providerCode: 21211 })],
    ['unknown', new GatewayError('twilio request failed after the request was sent', { provider: 'twilio', retryable: true, ambiguous: true })],
  ] as const)('is recorded %s under the provider the error names, so GET /deliveries?provider= finds it', async (state, error) => {
    const front: ChannelGateway = { name: 'notification-service', send: async () => Promise.reject(error) };
    const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms: front } });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(event());
    await engine.runDue();
    await engine.stop();
    expect((await engine.deliveries.list(ACCOUNT, { provider: 'twilio' })).items.map((d) => d.state)).toEqual([state]);
  });
});
