// One file: the contact policy ports (policies, suppressions, cap counters) are read as one
// specification; their engine-level case (a cap holding across engines) belongs with them.
import { describe, expect, it } from 'vitest';
import {
  createAutomationEngine,
  isAutomationError,
  type AutomationStore,
  type ContactCounter,
  type ContactPolicy,
  type ContactPolicyStore,
  type CounterBucket,
  type NewSuppression,
  type RuleInput,
  type Suppression,
  type SuppressionChange,
  type SuppressionStore,
} from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { ACCOUNT, OTHER_ACCOUNT, T0, at, storePerTest, type ContractFactory, type OpenHandles } from './fixtures.js';

/** A store of the three contact policy ports and of both aggregates (the engine-level case runs engines on it). */
export type ContactPolicyContractStore = AutomationStore & ContactPolicyStore & SuppressionStore & ContactCounter;

const PHONE = '+15550001111';
const EMAIL = 'client@example.com';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const dayKey = (recipient = PHONE, day = '2030-01-01') => `sms|${recipient}|day|${day}`;
const weekKey = (recipient = PHONE, week = '2029-12-31') => `sms|${recipient}|week|${week}`;
const bucket = (key: string, max: number, expiresAt = at(2 * DAY)): CounterBucket => ({ key, max, expiresAt });

function suppression(overrides: Partial<NewSuppression> = {}): NewSuppression {
  return { accountId: ACCOUNT, channel: 'sms', recipient: PHONE, reason: 'stop', source: 'inbound-sms', detail: 'SM0001', by: 'twilio-inbound', createdAt: T0, ...overrides };
}

const policyA: ContactPolicy = {
  channels: {
    sms: { quietHours: { from: '21:00', to: '08:00', timeZone: '$.client.timeZone', fallbackTimeZone: 'America/New_York' }, caps: [{ max: 3, per: 'day' }, { max: 10, per: 'week' }], overCap: 'defer' },
    email: { caps: [{ max: 1, per: 'hour' }], timeZone: 'Europe/Paris' },
  },
};
const policyB: ContactPolicy = { channels: { sms: { caps: [{ max: 1, per: 'day' }] } } };

/** Every page of a paged read, one after the other. */
async function allPages<T>(read: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string | undefined }>): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 100; guard++) {
    const page = await read(cursor);
    pages.push(page.items);
    if (page.nextCursor === undefined) return pages;
    cursor = page.nextCursor;
  }
  throw new Error('paging did not end after 100 pages');
}

const settle = async <T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> =>
  promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

/**
 * The behaviour every store of the contact policy ports must have, as a vitest suite: policies with
 * versions, the suppression list with its audit trail, and cap counters that are all-or-nothing and
 * hold across handles (a store over a server gives `openAnother`, so 4 handles are 4 processes).
 * The last case runs 4 engines on 4 handles: a cap of 3 per day, 50 triggers, exactly 3 sends.
 *
 * @example
 * describeContactPolicyContract('memory', () => createMemoryStore());
 */
export function describeContactPolicyContract<S extends ContactPolicyContractStore>(name: string, factory: ContractFactory<S>): void {
  describe(`contact policy contract: ${name}`, () => {
    let store: S;
    let handles: OpenHandles<S>;
    storePerTest(factory, (opened, more) => {
      store = opened;
      handles = more;
    });

    describe('policies', () => {
      it('has none until one is put; a put stores the whole policy at version 1 with its time', async () => {
        expect(await store.getContactPolicy(ACCOUNT)).toBeNull();
        const stored = await store.putContactPolicy(ACCOUNT, policyA, { now: at(1_000) });
        expect(stored).toEqual({ ...policyA, accountId: ACCOUNT, version: 1, updatedAt: at(1_000) });
        expect(stored.updatedAt).toBeInstanceOf(Date);
        const read = await store.getContactPolicy(ACCOUNT);
        expect(read).toEqual(stored);
        expect(read?.updatedAt).toBeInstanceOf(Date);
      });

      it('a put replaces the policy (a channel left out is gone) and bumps the version by one', async () => {
        await store.putContactPolicy(ACCOUNT, policyA, { now: at(1_000) });
        const second = await store.putContactPolicy(ACCOUNT, policyB, { now: at(2_000) });
        expect(second).toEqual({ ...policyB, accountId: ACCOUNT, version: 2, updatedAt: at(2_000) });
        const read = await store.getContactPolicy(ACCOUNT);
        expect(read).toEqual(second);
        expect(read?.channels['email']).toBeUndefined();
        const third = await store.putContactPolicy(ACCOUNT, { channels: {} }, { now: at(3_000) });
        expect(third).toEqual({ channels: {}, accountId: ACCOUNT, version: 3, updatedAt: at(3_000) });
      });

      it('refuses a put at a stale expected version with a version conflict and keeps the stored policy', async () => {
        const expectConflict = async (promise: Promise<unknown>, currentVersion: number) => {
          const error = await promise.then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(isAutomationError(error) && error.code).toBe('CRM_ERR_VERSION_CONFLICT');
          expect((error as { currentVersion?: unknown }).currentVersion).toBe(currentVersion);
        };
        await expectConflict(store.putContactPolicy(ACCOUNT, policyA, { now: at(1_000), expectedVersion: 1 }), 0);
        expect(await store.getContactPolicy(ACCOUNT)).toBeNull();
        expect((await store.putContactPolicy(ACCOUNT, policyA, { now: at(1_000), expectedVersion: 0 })).version).toBe(1);
        await expectConflict(store.putContactPolicy(ACCOUNT, policyB, { now: at(2_000), expectedVersion: 0 }), 1);
        await expectConflict(store.putContactPolicy(ACCOUNT, policyB, { now: at(2_000), expectedVersion: 2 }), 1);
        expect(await store.getContactPolicy(ACCOUNT)).toEqual({ ...policyA, accountId: ACCOUNT, version: 1, updatedAt: at(1_000) });
        expect((await store.putContactPolicy(ACCOUNT, policyB, { now: at(2_000), expectedVersion: 1 })).version).toBe(2);
        await expectConflict(store.putContactPolicy(ACCOUNT, policyA, { now: at(3_000), expectedVersion: 1 }), 2);
        // Without an expected version a put always writes.
        expect((await store.putContactPolicy(ACCOUNT, policyA, { now: at(3_000) })).version).toBe(3);
      });

      it('of concurrent puts at the same expected version through 4 handles, exactly one is written', async () => {
        await store.putContactPolicy(ACCOUNT, policyA, { now: at(1_000) });
        const engines = await handles(4);
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            settle((engines[i % engines.length] ?? store).putContactPolicy(ACCOUNT, { channels: { sms: { caps: [{ max: i + 1, per: 'day' }] } } }, { now: at(2_000 + i), expectedVersion: 1 })),
          ),
        );
        const written = results.flatMap((r) => (r.ok ? [r.value] : []));
        expect(written).toHaveLength(1);
        expect(results.filter((r) => !r.ok).every((r) => !r.ok && isAutomationError(r.error) && r.error.code === 'CRM_ERR_VERSION_CONFLICT')).toBe(true);
        expect(await store.getContactPolicy(ACCOUNT)).toEqual({ ...written[0], version: 2 });
      });

      it('keeps accounts apart: versions count per account and one account never reads another', async () => {
        await store.putContactPolicy(ACCOUNT, policyA, { now: at(1_000) });
        await store.putContactPolicy(ACCOUNT, policyA, { now: at(2_000) });
        expect(await store.getContactPolicy(OTHER_ACCOUNT)).toBeNull();
        expect(await store.putContactPolicy(OTHER_ACCOUNT, policyB, { now: at(3_000), expectedVersion: 0 })).toEqual({ ...policyB, accountId: OTHER_ACCOUNT, version: 1, updatedAt: at(3_000) });
        expect((await store.getContactPolicy(ACCOUNT))?.version).toBe(2);
        expect((await store.getContactPolicy(ACCOUNT))?.channels).toEqual(policyA.channels);
        for (const weird of ['', '%', "' OR 1=1 --", '\u0000x', 'x'.repeat(1_000)]) expect(await store.getContactPolicy(weird)).toBeNull();
      });
    });

    describe('suppressions', () => {
      it('adds an entry once: a second add of the same recipient is created: false with the first entry, and records nothing', async () => {
        expect(await store.findSuppression(ACCOUNT, 'sms', PHONE)).toBeNull();
        const first = await store.addSuppression(suppression());
        expect(first).toEqual({ created: true, suppression: suppression() });
        const again = await store.addSuppression(suppression({ reason: 'manual', source: 'api', by: 'ops@example.com', detail: 'again', createdAt: at(5_000) }));
        expect(again).toEqual({ created: false, suppression: suppression() });
        const found = await store.findSuppression(ACCOUNT, 'sms', PHONE);
        expect(found).toEqual(suppression());
        expect(found?.createdAt).toBeInstanceOf(Date);
        const changes = await store.suppressionChanges(ACCOUNT, {});
        expect(changes.items).toEqual([{ accountId: ACCOUNT, channel: 'sms', recipient: PHONE, action: 'added', reason: 'stop', source: 'inbound-sms', detail: 'SM0001', by: 'twilio-inbound', at: T0 }]);
        expect(changes.nextCursor).toBeUndefined();
      });

      it('keeps an entry without the optional fields as it was given', async () => {
        const bare: Suppression = { accountId: ACCOUNT, channel: 'email', recipient: EMAIL, reason: 'bounce', source: 'email-event', createdAt: at(1) };
        expect(await store.addSuppression(bare)).toEqual({ created: true, suppression: bare });
        const found = await store.findSuppression(ACCOUNT, 'email', EMAIL);
        expect(found).toEqual(bare);
        expect(found?.detail ?? null).toBeNull();
        expect(found?.by ?? null).toBeNull();
        const [change] = (await store.suppressionChanges(ACCOUNT, {})).items;
        expect(change).toEqual({ accountId: ACCOUNT, channel: 'email', recipient: EMAIL, action: 'added', reason: 'bounce', source: 'email-event', at: at(1) });
      });

      it('keys entries by account, channel and recipient exactly', async () => {
        await store.addSuppression(suppression());
        expect(await store.findSuppression(OTHER_ACCOUNT, 'sms', PHONE)).toBeNull();
        expect(await store.findSuppression(ACCOUNT, 'email', PHONE)).toBeNull();
        expect(await store.findSuppression(ACCOUNT, 'sms', '+15550001112')).toBeNull();
        expect(await store.findSuppression(ACCOUNT, 'sms', `${PHONE} `)).toBeNull();
        expect((await store.addSuppression(suppression({ accountId: OTHER_ACCOUNT }))).created).toBe(true);
        expect((await store.addSuppression(suppression({ channel: 'email' }))).created).toBe(true);
        expect(await store.removeSuppression(OTHER_ACCOUNT, 'sms', PHONE, { at: at(1_000), reason: 'stop', source: 'inbound-sms' })).toBe(true);
        expect(await store.findSuppression(ACCOUNT, 'sms', PHONE)).toEqual(suppression());
        expect(await store.findSuppression(ACCOUNT, 'email', PHONE)).toEqual(suppression({ channel: 'email' }));
        expect((await store.suppressionChanges(OTHER_ACCOUNT, {})).items.map((c) => c.action)).toEqual(['added', 'removed']);
        expect((await store.suppressionChanges(ACCOUNT, {})).items.map((c) => `${c.channel}:${c.action}`)).toEqual(['sms:added', 'email:added']);
      });

      it('removes an entry once, recording who lifted it and why; an add after that is a new entry', async () => {
        await store.addSuppression(suppression());
        expect(await store.removeSuppression(ACCOUNT, 'sms', PHONE, { at: at(1_000), reason: 'stop', source: 'inbound-sms', by: 'twilio-inbound', detail: 'START SM0002' })).toBe(true);
        expect(await store.findSuppression(ACCOUNT, 'sms', PHONE)).toBeNull();
        expect(await store.removeSuppression(ACCOUNT, 'sms', PHONE, { at: at(2_000), reason: 'manual', source: 'api' })).toBe(false);
        expect(await store.removeSuppression(ACCOUNT, 'sms', '+15559999999', { at: at(2_000), reason: 'manual', source: 'api' })).toBe(false);
        const readded = await store.addSuppression(suppression({ reason: 'manual', source: 'ui', by: 'ops@example.com', detail: undefined, createdAt: at(3_000) }));
        expect(readded.created).toBe(true);
        expect(await store.findSuppression(ACCOUNT, 'sms', PHONE)).toMatchObject({ reason: 'manual', source: 'ui', by: 'ops@example.com', createdAt: at(3_000) });
        await store.removeSuppression(ACCOUNT, 'sms', PHONE, { at: at(4_000), reason: 'manual', source: 'cli' });
        const changes = (await store.suppressionChanges(ACCOUNT, {})).items;
        expect(changes).toEqual([
          { accountId: ACCOUNT, channel: 'sms', recipient: PHONE, action: 'added', reason: 'stop', source: 'inbound-sms', detail: 'SM0001', by: 'twilio-inbound', at: T0 },
          { accountId: ACCOUNT, channel: 'sms', recipient: PHONE, action: 'removed', reason: 'stop', source: 'inbound-sms', by: 'twilio-inbound', detail: 'START SM0002', at: at(1_000) },
          { accountId: ACCOUNT, channel: 'sms', recipient: PHONE, action: 'added', reason: 'manual', source: 'ui', by: 'ops@example.com', at: at(3_000) },
          { accountId: ACCOUNT, channel: 'sms', recipient: PHONE, action: 'removed', reason: 'manual', source: 'cli', at: at(4_000) },
        ]);
        expect(changes.every((c) => c.at instanceof Date)).toBe(true);
      });

      it('lists an account’s entries newest first in pages, by channel when asked', async () => {
        for (let i = 0; i < 7; i++) {
          await store.addSuppression(suppression({ channel: i % 2 === 0 ? 'sms' : 'email', recipient: i % 2 === 0 ? `+1555000200${i}` : `c${i}@example.com`, createdAt: at(i * 1_000) }));
        }
        await store.addSuppression(suppression({ accountId: OTHER_ACCOUNT, recipient: '+15550003000', createdAt: at(10_000) }));
        const pages = await allPages((cursor) => store.listSuppressions(ACCOUNT, { limit: 3, cursor }));
        expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
        expect(pages.flat().map((s) => s.recipient)).toEqual(['+15550002006', 'c5@example.com', '+15550002004', 'c3@example.com', '+15550002002', 'c1@example.com', '+15550002000']);
        expect(pages.flat()[0]).toEqual(suppression({ recipient: '+15550002006', createdAt: at(6_000) }));
        const sms = await allPages((cursor) => store.listSuppressions(ACCOUNT, { channel: 'sms', limit: 2, cursor }));
        expect(sms.map((p) => p.length)).toEqual([2, 2]);
        expect(sms.flat().map((s) => s.recipient)).toEqual(['+15550002006', '+15550002004', '+15550002002', '+15550002000']);
        const exact = await store.listSuppressions(ACCOUNT, { channel: 'email', limit: 3 });
        expect(exact.items.map((s) => s.recipient)).toEqual(['c5@example.com', 'c3@example.com', 'c1@example.com']);
        expect(exact.nextCursor).toBeUndefined();
        expect((await store.listSuppressions(ACCOUNT, { channel: 'webhook' })).items).toEqual([]);
        expect((await store.listSuppressions(OTHER_ACCOUNT, {})).items.map((s) => s.recipient)).toEqual(['+15550003000']);
        expect((await store.listSuppressions('acc_nobody', {})).items).toEqual([]);
        // A removed entry leaves the list; the others keep their order.
        await store.removeSuppression(ACCOUNT, 'email', 'c3@example.com', { at: at(20_000), reason: 'manual', source: 'api' });
        expect((await store.listSuppressions(ACCOUNT, { channel: 'email' })).items.map((s) => s.recipient)).toEqual(['c5@example.com', 'c1@example.com']);
      });

      it('keeps every change oldest first in pages, by channel and recipient when asked', async () => {
        await store.addSuppression(suppression({ createdAt: at(1_000) }));
        await store.addSuppression(suppression({ channel: 'email', recipient: EMAIL, reason: 'unsubscribe', source: 'email-event', createdAt: at(2_000) }));
        await store.removeSuppression(ACCOUNT, 'sms', PHONE, { at: at(3_000), reason: 'stop', source: 'inbound-sms' });
        await store.addSuppression(suppression({ recipient: '+15550004444', createdAt: at(4_000) }));
        await store.addSuppression(suppression({ createdAt: at(5_000), reason: 'provider-opt-out', source: 'provider-error' }));
        await store.removeSuppression(ACCOUNT, 'email', EMAIL, { at: at(6_000), reason: 'manual', source: 'api', by: 'ops@example.com' });
        await store.addSuppression(suppression({ accountId: OTHER_ACCOUNT, createdAt: at(7_000) }));
        const describeChange = (c: SuppressionChange) => `${c.channel}:${c.recipient}:${c.action}:${c.at.getTime() - T0.getTime()}`;
        const expected = [`sms:${PHONE}:added:1000`, `email:${EMAIL}:added:2000`, `sms:${PHONE}:removed:3000`, 'sms:+15550004444:added:4000', `sms:${PHONE}:added:5000`, `email:${EMAIL}:removed:6000`];
        const pages = await allPages((cursor) => store.suppressionChanges(ACCOUNT, { limit: 4, cursor }));
        expect(pages.map((p) => p.length)).toEqual([4, 2]);
        expect(pages.flat().map(describeChange)).toEqual(expected);
        const single = await allPages((cursor) => store.suppressionChanges(ACCOUNT, { limit: 1, cursor }));
        expect(single.flat().map(describeChange)).toEqual(expected);
        const sms = await allPages((cursor) => store.suppressionChanges(ACCOUNT, { channel: 'sms', limit: 2, cursor }));
        expect(sms.flat().map(describeChange)).toEqual(expected.filter((e) => e.startsWith('sms:')));
        const one = await allPages((cursor) => store.suppressionChanges(ACCOUNT, { channel: 'sms', recipient: PHONE, limit: 2, cursor }));
        expect(one.flat().map(describeChange)).toEqual([`sms:${PHONE}:added:1000`, `sms:${PHONE}:removed:3000`, `sms:${PHONE}:added:5000`]);
        expect((await store.suppressionChanges(ACCOUNT, { recipient: EMAIL })).items.map((c) => c.action)).toEqual(['added', 'removed']);
        expect((await store.suppressionChanges(ACCOUNT, { channel: 'email', recipient: PHONE })).items).toEqual([]);
        expect((await store.suppressionChanges(OTHER_ACCOUNT, {})).items.map(describeChange)).toEqual([`sms:${PHONE}:added:7000`]);
      });

      it('reads a cursor it never issued as no error, within the account', async () => {
        await store.addSuppression(suppression());
        await store.addSuppression(suppression({ accountId: OTHER_ACCOUNT, recipient: '+15550003000' }));
        for (const cursor of ['', 'nope', '-1', "' OR 1=1 --", '{"$gt":""}', 'x'.repeat(500)]) {
          const list = await store.listSuppressions(ACCOUNT, { cursor });
          expect(list.items.every((s) => s.accountId === ACCOUNT)).toBe(true);
          const changes = await store.suppressionChanges(ACCOUNT, { cursor });
          expect(changes.items.every((c) => c.accountId === ACCOUNT)).toBe(true);
        }
      });

      it('of concurrent adds of one recipient through 4 handles, exactly one is created and recorded', async () => {
        const engines = await handles(4);
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => (engines[i % engines.length] ?? store).addSuppression(suppression({ detail: `race-${i}`, createdAt: at(i) }))),
        );
        const created = results.filter((r) => r.created);
        expect(created).toHaveLength(1);
        const winner = created[0]?.suppression;
        expect(results.every((r) => r.suppression.detail === winner?.detail)).toBe(true);
        expect(await store.findSuppression(ACCOUNT, 'sms', PHONE)).toEqual(winner);
        const changes = (await store.suppressionChanges(ACCOUNT, {})).items;
        expect(changes.map((c) => [c.action, c.detail])).toEqual([['added', winner?.detail]]);
      });
    });

    describe('cap counters', () => {
      const reserve = (holder: string, buckets: CounterBucket[], now = at(HOUR), on: ContactCounter = store, accountId = ACCOUNT) =>
        on.reserve({ accountId, channel: 'sms', recipient: PHONE, buckets, holder, now });
      const release = (holder: string, bucketKeys: string[], on: ContactCounter = store, accountId = ACCOUNT) => on.release({ accountId, channel: 'sms', recipient: PHONE, bucketKeys, holder });

      it('takes a unit in every bucket or in none: a full bucket is named and the others keep their count', async () => {
        const buckets = () => [bucket(dayKey(), 2), bucket(weekKey(), 3)];
        expect(await reserve('send-1', buckets())).toEqual({ ok: true });
        expect(await reserve('send-2', buckets())).toEqual({ ok: true });
        expect(await reserve('send-3', buckets())).toEqual({ ok: false, full: dayKey() });
        // The bucket with room listed first: it must not keep the unit of a refused reserve either.
        expect(await reserve('send-3', [bucket(weekKey(), 3), bucket(dayKey(), 2)])).toEqual({ ok: false, full: dayKey() });
        // The refused reserves took nothing in the week bucket: one unit is left there.
        expect(await reserve('send-4', [bucket(weekKey(), 3)])).toEqual({ ok: true });
        expect(await reserve('send-5', [bucket(weekKey(), 3)])).toEqual({ ok: false, full: weekKey() });
        // Listed the other way round, the week bucket is the full one now, and the day bucket gains nothing.
        expect(await reserve('send-6', [bucket(weekKey(), 3), bucket(dayKey(), 3)])).toEqual({ ok: false, full: weekKey() });
        expect(await reserve('send-7', [bucket(dayKey(), 3)])).toEqual({ ok: true });
        expect(await reserve('send-8', [bucket(dayKey(), 3)])).toEqual({ ok: false, full: dayKey() });
      });

      it('counts a holder once: a second reserve by the same holder is ok and takes nothing, even in a full bucket', async () => {
        const buckets = () => [bucket(dayKey(), 2), bucket(weekKey(), 5)];
        expect(await reserve('send-1', buckets())).toEqual({ ok: true });
        expect(await reserve('send-1', buckets())).toEqual({ ok: true });
        expect(await reserve('send-2', buckets())).toEqual({ ok: true });
        expect(await reserve('send-1', buckets())).toEqual({ ok: true });
        expect(await reserve('send-2', buckets())).toEqual({ ok: true });
        expect(await reserve('send-3', buckets())).toEqual({ ok: false, full: dayKey() });
        // Week: send-1 and send-2 only.
        for (const holder of ['send-4', 'send-5', 'send-6']) expect(await reserve(holder, [bucket(weekKey(), 5)])).toEqual({ ok: true });
        expect(await reserve('send-7', [bucket(weekKey(), 5)])).toEqual({ ok: false, full: weekKey() });
      });

      it('gives a released unit back in each bucket named; releasing what a holder does not hold changes nothing', async () => {
        const buckets = () => [bucket(dayKey(), 1), bucket(weekKey(), 1)];
        expect(await reserve('send-1', buckets())).toEqual({ ok: true });
        expect(await reserve('send-2', buckets())).toEqual({ ok: false, full: dayKey() });
        await release('send-2', [dayKey(), weekKey()]);
        await release('send-9', [dayKey(), weekKey(), 'sms|+15550009999|day|2030-01-01']);
        await release('send-1', [dayKey()], store, OTHER_ACCOUNT);
        expect(await reserve('send-2', buckets())).toEqual({ ok: false, full: dayKey() });
        // Released in the day bucket only: the week bucket still holds send-1.
        await release('send-1', [dayKey()]);
        expect(await reserve('send-2', buckets())).toEqual({ ok: false, full: weekKey() });
        await release('send-1', [weekKey()]);
        expect(await reserve('send-2', buckets())).toEqual({ ok: true });
        expect(await reserve('send-1', buckets())).toEqual({ ok: false, full: dayKey() });
        await release('send-2', [dayKey(), weekKey()]);
        await release('send-2', [dayKey(), weekKey()]);
        expect(await reserve('send-1', buckets())).toEqual({ ok: true });
        expect(await reserve('send-3', buckets())).toEqual({ ok: false, full: dayKey() });
      });

      it('keeps accounts and bucket keys apart', async () => {
        expect(await reserve('send-1', [bucket(dayKey(), 1)])).toEqual({ ok: true });
        expect(await reserve('send-2', [bucket(dayKey(), 1)], at(HOUR), store, OTHER_ACCOUNT)).toEqual({ ok: true });
        expect(await reserve('send-3', [bucket(dayKey(), 1)], at(HOUR), store, OTHER_ACCOUNT)).toEqual({ ok: false, full: dayKey() });
        expect(await reserve('send-4', [bucket(dayKey('+15550002222'), 1)])).toEqual({ ok: true });
        expect(await reserve('send-5', [bucket(dayKey(PHONE, '2030-01-02'), 1)])).toEqual({ ok: true });
        expect(await reserve('send-6', [bucket(dayKey(), 1)])).toEqual({ ok: false, full: dayKey() });
        // A holder id is only unique within an account: the same id elsewhere is another send.
        expect(await reserve('send-1', [bucket(dayKey('+15550003333'), 1)], at(HOUR), store, OTHER_ACCOUNT)).toEqual({ ok: true });
        expect(await reserve('send-7', [bucket(dayKey('+15550003333'), 1)], at(HOUR), store, OTHER_ACCOUNT)).toEqual({ ok: false, full: dayKey('+15550003333') });
      });

      it('forgets a bucket at its expiresAt: a reserve then starts the key afresh, with the new request’s expiry', async () => {
        const firstEnd = at(DAY);
        const secondEnd = at(3 * DAY);
        expect(await reserve('send-1', [bucket(dayKey(), 1, firstEnd)], at(HOUR))).toEqual({ ok: true });
        expect(await reserve('send-2', [bucket(dayKey(), 1, firstEnd)], at(DAY - 1))).toEqual({ ok: false, full: dayKey() });
        // At expiresAt the old bucket is gone: the key counts from zero, with the expiry this reserve gives.
        expect(await reserve('send-2', [bucket(dayKey(), 1, secondEnd)], firstEnd)).toEqual({ ok: true });
        expect(await reserve('send-3', [bucket(dayKey(), 1, secondEnd)], at(2 * DAY))).toEqual({ ok: false, full: dayKey() });
        expect(await reserve('send-3', [bucket(dayKey(), 1, at(5 * DAY))], at(3 * DAY - 1))).toEqual({ ok: false, full: dayKey() });
        expect(await reserve('send-3', [bucket(dayKey(), 1, at(5 * DAY))], secondEnd)).toEqual({ ok: true });
        // An expired bucket does not make its neighbours in the same request fail or skip.
        expect(await reserve('send-4', [bucket(weekKey(), 2, at(10 * DAY))], at(3 * DAY))).toEqual({ ok: true });
        expect(await reserve('send-5', [bucket(dayKey(), 1, at(7 * DAY)), bucket(weekKey(), 2, at(10 * DAY))], at(5 * DAY))).toEqual({ ok: true });
        expect(await reserve('send-6', [bucket(weekKey(), 2, at(10 * DAY))], at(5 * DAY))).toEqual({ ok: false, full: weekKey() });
      });

      it('holds a max of 3 with 50 holders reserving at once through 4 handles: exactly 3 ok, the others take nothing', async () => {
        const engines = await handles(4);
        const buckets = () => [bucket(weekKey(), 10), bucket(dayKey(), 3)];
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => reserve(`send-${i}`, buckets(), at(HOUR), engines[i % engines.length] ?? store)));
        expect(results.filter((r) => r.ok)).toHaveLength(3);
        expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.full === dayKey())).toBe(true);
        // The 47 refused reserves took nothing in the week bucket: 7 units are left there.
        const week = await Promise.all(Array.from({ length: 12 }, (_, i) => reserve(`later-${i}`, [bucket(weekKey(), 10)], at(HOUR), engines[i % engines.length] ?? store)));
        expect(week.filter((r) => r.ok)).toHaveLength(7);
      });

      it('counts one holder once when its retries race through 4 handles', async () => {
        const engines = await handles(4);
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => reserve('send-1', [bucket(dayKey(), 2)], at(HOUR), engines[i % engines.length] ?? store)));
        expect(results.every((r) => r.ok)).toBe(true);
        expect(await reserve('send-2', [bucket(dayKey(), 2)])).toEqual({ ok: true });
        expect(await reserve('send-3', [bucket(dayKey(), 2)])).toEqual({ ok: false, full: dayKey() });
      });
    });

    describe('engines', () => {
      const rule: RuleInput = {
        name: 'Visit follow-up',
        trigger: { eventName: 'visit.completed' },
        conditions: { all: [{ fact: 'visit', path: '$.status', operator: 'equal', value: 'done' }] },
        actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'client', path: '$.phone' }, message: 'How was your visit?' } }],
      };

      it('holds a cap of 3 per day with 4 engines on 4 handles: 50 triggers to one recipient, exactly 3 sends', async () => {
        const clock = createManualClock('2026-01-15T18:00:00Z');
        const workers = (await handles(4)).map((handle, i) => {
          const sms = createRecordingChannel({ name: `engine-${i}-sms` });
          const engine = createAutomationEngine({ store: handle, clock, channels: { sms }, instanceId: `engine-${i}` });
          return { engine, sms };
        });
        try {
          const [first] = workers;
          if (!first) throw new Error('no engine');
          await first.engine.rules.create(ACCOUNT, rule);
          await first.engine.contactPolicy.set(ACCOUNT, { channels: { sms: { caps: [{ max: 3, per: 'day' }], timeZone: 'America/Los_Angeles' } } });
          for (let i = 0; i < 50; i++) {
            const worker = workers[i % workers.length] ?? first;
            await worker.engine.ingest({ id: `burst-${i}`, name: 'visit.completed', accountId: ACCOUNT, timestamp: clock.now().toISOString(), payload: { visit: { status: 'done' }, client: { phone: PHONE } } });
          }
          const counts = await Promise.all(workers.map((w) => w.engine.runDue()));
          expect(counts.reduce((n, c) => n + c.claimed, 0)).toBe(50);
          expect(counts.reduce((n, c) => n + c.completed, 0)).toBe(3);
          expect(workers.reduce((n, w) => n + w.sms.sent.length, 0)).toBe(3);
          expect(workers.reduce((n, w) => n + w.sms.calls.length, 0)).toBe(3);
          const all = await first.engine.triggers.list(ACCOUNT, { limit: 100 });
          expect(all.items).toHaveLength(50);
          expect(all.items.filter((t) => t.status === 'completed')).toHaveLength(3);
          expect(all.items.filter((t) => t.status === 'skipped' && t.executionHistory[t.executionHistory.length - 1]?.reason === 'capped')).toHaveLength(47);
          // The next local day (midnight in Los Angeles is 08:00 UTC) has a fresh cap.
          await clock.set('2026-01-16T08:00:00Z');
          await first.engine.ingest({ id: 'next-day', name: 'visit.completed', accountId: ACCOUNT, timestamp: clock.now().toISOString(), payload: { visit: { status: 'done' }, client: { phone: PHONE } } });
          expect((await first.engine.runDue()).completed).toBe(1);
        } finally {
          await Promise.all(workers.map((w) => w.engine.stop()));
        }
      });
    });
  });
}
