// One file: the contact policy ports (policies, suppressions, cap counters) are read as one
// specification; their engine-level case (a cap holding across engines) belongs with them. The cap
// counter's own cases are in contact-counter-contract.ts (a counter may live apart from the store).
import { describe, expect, it } from 'vitest';
import {
  isAutomationError,
  type AutomationStore,
  type ContactCounter,
  type ContactPolicy,
  type ContactPolicyStore,
  type NewSuppression,
  type Suppression,
  type SuppressionChange,
  type SuppressionStore,
} from '@crm-automation/core';
import { describeContactCounterContract, expectCapOfThreeAcrossEngines } from './contact-counter-contract.js';
import { ACCOUNT, OTHER_ACCOUNT, T0, at, storePerTest, type ContractFactory, type OpenHandles } from './fixtures.js';

/** A store of the three contact policy ports and of both aggregates (the engine-level case runs engines on it). */
export type ContactPolicyContractStore = AutomationStore & ContactPolicyStore & SuppressionStore & ContactCounter;

const PHONE = '+15550001111';
const EMAIL = 'client@example.com';

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
 * The engine case runs 4 engines on 4 handles: a cap of 3 per day, 50 triggers, exactly 3 sends. The
 * counter's cases are {@link describeContactCounterContract}'s, run here on the whole store.
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

    describe('engines', () => {
      it('holds a cap of 3 per day with 4 engines on 4 handles: 50 triggers to one recipient, exactly 3 sends', async () => {
        await expectCapOfThreeAcrossEngines((await handles(4)).map((handle) => ({ store: handle })));
      });
    });
  });
  // A sibling suite, not nested: nested, every counter case would open the store twice (once per suite).
  describeContactCounterContract(name, factory);
}
