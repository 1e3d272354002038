import { describe, expect, it } from 'vitest';
import {
  ContactPolicyValidationError,
  createAutomationEngine,
  type AutomationEngineOptions,
  type ContactDeferredInfo,
  type ContactPolicy,
  type MessageCategory,
  type RuleInput,
  type SendThrottle,
  type Trigger,
} from '@crm-automation/core';
import { createManualClock, createRecordingChannel, type ManualClock } from '@crm-automation/core/doubles';
import { createMemoryStore } from '@crm-automation/core/memory';

const A = 'acc_a';
const B = 'acc_b';
const START = '2026-01-15T18:00:00Z';
const THROTTLE_JITTER_MS = 1_000;

const rule = (category?: MessageCategory, actions = 1) =>
  ({
    name: 'Visit follow-up',
    trigger: { eventName: 'visit.completed' },
    conditions: { all: [{ fact: 'visit', path: '$.status', operator: 'equal', value: 'done' }] },
    actions: Array.from({ length: actions }, (_, i) => ({
      type: 'sms' as const,
      params: { recipient: { source: 'fact' as const, fact: 'client', path: '$.phone' }, message: `How was your visit? (${i + 1})` },
      ...(category ? { category } : {}),
    })),
  }) satisfies RuleInput;

const throttled = (perSecond: number, burst?: number): ContactPolicy => ({ channels: { sms: { throttle: { perSecond, ...(burst === undefined ? {} : { burst }) } } } });

type Store = ReturnType<typeof createMemoryStore>;

function setup(options: { store?: Store; clock?: ManualClock; instanceId?: string; engine?: Partial<AutomationEngineOptions> } = {}) {
  const clock = options.clock ?? createManualClock(START);
  const store = options.store ?? createMemoryStore();
  const sms = createRecordingChannel({ name: 'twilio' });
  const engine = createAutomationEngine({ store, clock, channels: { sms }, instanceId: options.instanceId ?? 'engine-a', ...options.engine });
  const deferred: ContactDeferredInfo[] = [];
  /** Every send with its account and the simulated time it went at. */
  const sends: Array<{ accountId: string; at: number }> = [];
  engine.on('contact:deferred', (info) => deferred.push(info));
  engine.on('action:sent', ({ accountId }) => sends.push({ accountId, at: clock.now().getTime() }));
  let n = 0;
  const visits = (accountId: string, count: number, phone = (i: number) => `+1555000${String(i).padStart(4, '0')}`) =>
    engine.ingestMany(
      Array.from({ length: count }, (_, i) => ({
        id: `${options.instanceId ?? 'e'}-${accountId}-${++n}`,
        name: 'visit.completed',
        accountId,
        timestamp: clock.now().toISOString(),
        payload: { visit: { status: 'done' }, client: { phone: phone(i) } },
      })),
    );
  return { clock, store, sms, engine, deferred, sends, visits };
}

/** Sends per aligned simulated second, from `start`. */
function perSecond(times: readonly number[], start: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (const at of times) {
    const second = Math.floor((at - start) / 1_000);
    counts.set(second, (counts.get(second) ?? 0) + 1);
  }
  return counts;
}

/** Most sends in any window of one second (half-open), sliding. */
function busiestSecond(times: readonly number[]): number {
  const sorted = [...times].sort((x, y) => x - y);
  let most = 0;
  let from = 0;
  for (let to = 0; to < sorted.length; to++) {
    while ((sorted[to] ?? 0) - (sorted[from] ?? 0) >= 1_000) from += 1;
    most = Math.max(most, to - from + 1);
  }
  return most;
}

/** The id of the one trigger an ingested event created. */
function triggerId(result: Awaited<ReturnType<ReturnType<typeof setup>['visits']>>[number] | undefined): string {
  if (!result?.ok) throw new Error('the event was refused');
  const [trigger] = result.triggers;
  if (!trigger) throw new Error('the rule did not match the visit');
  return trigger.id;
}

const lastEntry = (trigger: Trigger) => trigger.executionHistory[trigger.executionHistory.length - 1];

async function allTriggers(engine: ReturnType<typeof setup>['engine'], accountId: string): Promise<Trigger[]> {
  const out: Trigger[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.triggers.list(accountId, { limit: 100, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

describe('send throttle: policy', () => {
  it('refuses a bad throttle with each issue at its path, and keeps a good one as written', async () => {
    const { engine } = setup();
    const bad = {
      channels: {
        sms: { throttle: { perSecond: 0, burst: 1.5 } },
        email: { throttle: { perSecond: 1_001, burst: 0 } },
        chat: { throttle: { perSecond: '10' } },
        push: { throttle: { burst: 2, every: 'second' } },
      },
    };
    const error = await engine.contactPolicy.set(A, bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContactPolicyValidationError);
    const issues = (error as ContactPolicyValidationError).issues.map((i) => `${i.path} ${i.code}`).sort();
    expect(issues).toEqual(
      [
        'channels.chat.throttle.perSecond invalid_type',
        'channels.email.throttle.burst too_small',
        'channels.email.throttle.perSecond too_big',
        'channels.push.throttle unrecognized_keys',
        'channels.push.throttle.perSecond invalid_type',
        'channels.sms.throttle.burst invalid_type',
        'channels.sms.throttle.perSecond too_small',
      ].sort(),
    );
    // A webhook has no person behind it, but it has an endpoint a rate protects.
    const policy = { channels: { sms: { throttle: { perSecond: 0.5 } }, webhook: { throttle: { perSecond: 20, burst: 5 } } } };
    expect(engine.contactPolicy.validate(policy)).toEqual({ ok: true, policy });
    expect(await engine.contactPolicy.set(A, policy)).toMatchObject({ version: 1, channels: policy.channels });
  });
});

describe('send throttle: the memory bucket', () => {
  it('is a token bucket per account and channel: burst at once, then one per 1/perSecond, a refused take costs nothing', async () => {
    const throttle: SendThrottle = createMemoryStore();
    const t0 = Date.parse(START);
    const take = (accountId: string, ms: number, channel = 'sms') => throttle.take({ accountId, channel, now: new Date(t0 + ms), perSecond: 4, burst: 3 });
    expect(await take(A, 0)).toEqual({ ok: true });
    expect(await take(A, 0)).toEqual({ ok: true });
    expect(await take(A, 0)).toEqual({ ok: true });
    expect(await take(A, 0)).toEqual({ ok: false, retryAtMs: t0 + 250 });
    expect(await take(A, 100)).toEqual({ ok: false, retryAtMs: t0 + 250 });
    // Other accounts, and other channels of the same account, have their own buckets.
    expect(await take(B, 0)).toEqual({ ok: true });
    expect(await take(A, 0, 'email')).toEqual({ ok: true });
    expect(await take(A, 250)).toEqual({ ok: true });
    expect(await take(A, 250)).toEqual({ ok: false, retryAtMs: t0 + 500 });
    // Another engine's clock behind this one refills nothing.
    expect(await take(A, -5_000)).toEqual({ ok: false, retryAtMs: t0 + 500 });
    // Idle long enough, the bucket is full again, and no fuller than its burst.
    for (let i = 0; i < 3; i++) expect(await take(A, 60_000)).toEqual({ ok: true });
    expect(await take(A, 60_000)).toEqual({ ok: false, retryAtMs: t0 + 60_250 });
    // Without a burst the bucket holds one: sends are spaced 1/perSecond apart.
    expect(await throttle.take({ accountId: 'acc_c', channel: 'sms', now: new Date(t0), perSecond: 0.5 })).toEqual({ ok: true });
    expect(await throttle.take({ accountId: 'acc_c', channel: 'sms', now: new Date(t0), perSecond: 0.5 })).toEqual({ ok: false, retryAtMs: t0 + 2_000 });
  });
});

describe('send throttle: fire time', () => {
  it('defers a run over the rate, transactional or not, with reason throttled and a jitter of up to 1 s', async () => {
    const { engine, clock, visits, sms, deferred } = setup({ engine: { maxAttempts: 1 } });
    await engine.rules.create(A, rule('transactional'));
    await engine.contactPolicy.set(A, throttled(1));
    const [first, second] = await visits(A, 2);
    await engine.runDue();
    expect(sms.sent).toHaveLength(1);
    const held = await engine.triggers.get(A, triggerId(second));
    expect(held?.status).toBe('retrying');
    const entry = held ? lastEntry(held) : undefined;
    expect(entry).toMatchObject({ outcome: 'retrying', reason: 'throttled' });
    const at = entry?.nextAttemptAt?.getTime() ?? Number.NaN;
    expect(at).toBeGreaterThanOrEqual(clock.now().getTime() + 1_000);
    expect(at).toBeLessThanOrEqual(clock.now().getTime() + 1_000 + THROTTLE_JITTER_MS);
    expect(held?.evaluateAt.getTime()).toBe(at);
    expect(deferred).toEqual([expect.objectContaining({ actionIndex: 0, reason: 'throttled', until: new Date(at) })]);
    expect((await engine.triggers.get(A, triggerId(first)))?.status).toBe('completed');
    // With maxAttempts 1, a deferral that counted would fail the run on its next claim.
    await clock.set(new Date(at));
    expect(await engine.runDue()).toMatchObject({ claimed: 1, completed: 1, failed: 0 });
    expect(sms.sent).toHaveLength(2);
  });

  it('paces webhooks too, though nothing else of the policy holds them', async () => {
    const clock = createManualClock(START);
    const webhook = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { webhook } });
    const deferred: ContactDeferredInfo[] = [];
    engine.on('contact:deferred', (info) => deferred.push(info));
    await engine.rules.create(A, { ...rule(), actions: [{ type: 'webhook', params: { url: 'https://example.com/visits/{{visit.id}}' } }] });
    await engine.contactPolicy.set(A, { channels: { webhook: { throttle: { perSecond: 2, burst: 2 } } } });
    for (let i = 0; i < 5; i++) await engine.ingest({ id: `w${i}`, name: 'visit.completed', accountId: A, timestamp: clock.now().toISOString(), payload: { visit: { status: 'done', id: `v${i}` } } });
    await engine.runDue();
    expect(webhook.sent).toHaveLength(2);
    expect(deferred.map((d) => d.reason)).toEqual(['throttled', 'throttled', 'throttled']);
  });

  it('keeps what a run sent when the throttle holds its next action, and sends only the rest later', async () => {
    const { engine, clock, visits, sms } = setup();
    await engine.rules.create(A, rule(undefined, 3));
    await engine.contactPolicy.set(A, throttled(1, 2));
    const [visit] = await visits(A, 1);
    const id = triggerId(visit);
    await engine.runDue();
    expect(sms.sent.map((c) => c.metadata.actionIndex)).toEqual([0, 1]);
    const held = await engine.triggers.get(A, id);
    expect(held?.sentActions).toEqual([0, 1]);
    expect(held ? lastEntry(held)?.actions?.map((a) => a.status) : undefined).toEqual(['sent', 'sent', 'not-attempted']);
    await clock.set(held?.evaluateAt ?? new Date(0));
    await engine.runDue();
    expect(sms.sent.map((c) => c.metadata.actionIndex)).toEqual([0, 1, 2]);
    expect((await engine.triggers.get(A, id))?.status).toBe('completed');
  });

  it('takes no token without a throttle in the policy, and reads no policy for transactional sends with sendThrottle: false', async () => {
    const base = createMemoryStore();
    let takes = 0;
    let policyReads = 0;
    const store: Store = {
      ...base,
      size: base.size,
      take: (request) => {
        takes += 1;
        return base.take(request);
      },
      getContactPolicy: (accountId) => {
        policyReads += 1;
        return base.getContactPolicy(accountId);
      },
    };
    const on = setup({ store });
    await on.engine.rules.create(A, rule());
    await on.engine.rules.create(B, rule('transactional'));
    await on.engine.contactPolicy.set(A, { channels: { sms: { caps: [{ max: 5, per: 'day' }] } } });
    await on.engine.contactPolicy.set(B, throttled(1));
    await on.visits(A, 3);
    await on.engine.runDue();
    expect(on.sms.sent).toHaveLength(3);
    expect(takes).toBe(0);
    await on.visits(B, 2);
    await on.engine.runDue();
    expect(takes).toBe(2);
    expect(on.sms.sent).toHaveLength(4);

    const off = setup({ store, instanceId: 'engine-off', engine: { sendThrottle: false } });
    takes = 0;
    policyReads = 0;
    await off.visits(B, 3);
    await off.engine.runDue();
    // The earlier deferred run of B is not due yet; the three new ones go unthrottled.
    expect(off.sms.sent).toHaveLength(3);
    expect(takes).toBe(0);
    expect(policyReads).toBe(0);
  });

  it('is fair across accounts: 200 due runs of a throttled account do not hold back another account, and the rate holds per second', async () => {
    const { engine, clock, visits, sends, deferred } = setup();
    await engine.rules.create(A, rule());
    await engine.rules.create(B, rule());
    await engine.contactPolicy.set(A, throttled(5));
    await visits(A, 200);
    await visits(B, 5);
    const start = clock.now().getTime();

    const firstPass = await engine.runDue();
    expect(firstPass.claimed).toBe(205);
    // B's five are sent in the first pass, while all of A's but the one token wait.
    expect(sends.filter((s) => s.accountId === B)).toHaveLength(5);
    expect(sends.filter((s) => s.accountId === A)).toHaveLength(1);
    expect(firstPass.retrying).toBe(199);
    expect(deferred.every((d) => d.reason === 'throttled' && d.trigger.accountId === A)).toBe(true);

    for (let step = 0; step < 600 && sends.filter((s) => s.accountId === A).length < 200; step++) {
      await clock.advance(100);
      await engine.runDue();
    }
    const aTimes = sends.filter((s) => s.accountId === A).map((s) => s.at);
    expect(aTimes).toHaveLength(200);
    for (const [, count] of perSecond(aTimes, start)) expect(count).toBeLessThanOrEqual(5);
    expect(busiestSecond(aTimes)).toBeLessThanOrEqual(5);
    // 200 at 5/s takes about 40 s; the jitter costs some tokens, not most of them.
    const lastMs = Math.max(...aTimes) - start;
    expect(lastMs).toBeGreaterThanOrEqual(39_800);
    expect(lastMs).toBeLessThan(60_000);
    const triggers = await allTriggers(engine, A);
    expect(triggers.filter((t) => t.status === 'completed')).toHaveLength(200);
    expect(triggers.some((t) => t.executionHistory.filter((h) => h.reason === 'throttled').length > 5)).toBe(true);
  });

  it("gives each account its own bucket: a throttled account's burst is not taken by another's backlog", async () => {
    const { engine, visits, sends } = setup();
    await engine.rules.create(A, rule());
    await engine.rules.create(B, rule());
    await engine.contactPolicy.set(A, throttled(5));
    await engine.contactPolicy.set(B, throttled(5, 5));
    await visits(A, 200);
    await visits(B, 5);
    await engine.runDue();
    expect(sends.filter((s) => s.accountId === A)).toHaveLength(1);
    expect(sends.filter((s) => s.accountId === B)).toHaveLength(5);
  });

  it('holds one rate with 3 engines on one store', async () => {
    const clock = createManualClock(START);
    const store = createMemoryStore();
    // Small batches, so that engines running at once interleave their claims and sends.
    const engines = ['a', 'b', 'c'].map((id) => setup({ store, clock, instanceId: `engine-${id}`, engine: { batchSize: 4 } }));
    const [first] = engines;
    if (!first) throw new Error('no engine');
    await first.engine.rules.create(A, rule());
    await first.engine.contactPolicy.set(A, throttled(10, 2));
    for (const e of engines) await e.visits(A, 30);
    const start = clock.now().getTime();
    const total = () => engines.reduce((n, e) => n + e.sends.length, 0);
    await Promise.all(engines.map((e) => e.engine.runDue()));
    expect(total()).toBe(2);
    for (let step = 0; step < 400 && total() < 90; step++) {
      await clock.advance(50);
      // A different engine first each time: whichever claims first would otherwise take every due run.
      const order = [...engines.slice(step % 3), ...engines.slice(0, step % 3)];
      await Promise.all(order.map((e) => e.engine.runDue()));
    }
    const times = engines.flatMap((e) => e.sends.map((s) => s.at));
    expect(times).toHaveLength(90);
    // Burst 2 at 10/s: at most 2 - 1 + 10 in any one second.
    expect(busiestSecond(times)).toBeLessThanOrEqual(11);
    for (const [second, count] of perSecond(times, start)) expect(count, `second ${second}`).toBeLessThanOrEqual(11);
    // Each engine alone would have sent 2 at once plus 10/s of its own.
    expect(Math.max(...times) - start).toBeGreaterThanOrEqual(8_800);
    expect(engines.filter((e) => e.sends.length > 0)).toHaveLength(3);
  });
});
