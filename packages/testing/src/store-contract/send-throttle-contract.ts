// The send throttle's contract on its own: the port is one method whose rules (refill, refusal,
// time order, atomicity) are read as one token-bucket argument, apart from the other contact ports.
import { describe, expect, it } from 'vitest';
import type { SendThrottle, ThrottleRequest, ThrottleResult } from '@crm-automation/core';
import { ACCOUNT, OTHER_ACCOUNT, T0, at, storePerTest, type ContractFactory, type OpenHandles } from './fixtures.js';

const refused = (ms: number): ThrottleResult => ({ ok: false, retryAtMs: T0.getTime() + ms });
const granted: ThrottleResult = { ok: true };

/**
 * The behaviour every `SendThrottle` must have, as a vitest suite: a token bucket per (account,
 * channel) that grants `burst` takes when full, refills at `perSecond`, answers a refusal with the
 * exact instant of the next token, keeps no debt, ignores a clock that runs backwards and, taken at
 * once through 3 handles (3 processes for a store over a server, via `openAnother`), never grants
 * more tokens than the bucket holds.
 *
 * @example
 * describeSendThrottleContract('memory', () => createMemorySendThrottle());
 */
export function describeSendThrottleContract<S extends SendThrottle>(name: string, factory: ContractFactory<S>): void {
  describe(`send throttle contract: ${name}`, () => {
    let throttle: S;
    let handles: OpenHandles<S>;
    storePerTest(factory, (opened, more) => {
      throttle = opened;
      handles = more;
    });

    const take = (ms: number, overrides: Partial<ThrottleRequest> = {}, on: SendThrottle = throttle) =>
      on.take({ accountId: ACCOUNT, channel: 'sms', now: at(ms), perSecond: 2, burst: 3, ...overrides });

    it('grants burst takes from a full bucket, then refuses with retryAtMs at the next token', async () => {
      expect(await take(0)).toEqual(granted);
      expect(await take(0)).toEqual(granted);
      expect(await take(0)).toEqual(granted);
      expect(await take(0)).toEqual(refused(500));
      expect(await take(0)).toEqual(refused(500));
    });

    it('holds one token when no burst is given', async () => {
      expect(await take(0, { burst: undefined })).toEqual(granted);
      expect(await take(0, { burst: undefined })).toEqual(refused(500));
    });

    it('refills at perSecond, fractions counting, capped at burst', async () => {
      for (let i = 0; i < 3; i++) expect(await take(0)).toEqual(granted);
      // Half a token at 250 ms: the other half is due 250 ms later.
      expect(await take(250)).toEqual(refused(500));
      expect(await take(500)).toEqual(granted);
      expect(await take(500)).toEqual(refused(1_000));
      // Two tokens accrued by 1 500 ms.
      expect(await take(1_500)).toEqual(granted);
      expect(await take(1_500)).toEqual(granted);
      expect(await take(1_500)).toEqual(refused(2_000));
      // Ten idle seconds fill the bucket to burst, no more.
      for (let i = 0; i < 3; i++) expect(await take(11_500)).toEqual(granted);
      expect(await take(11_500)).toEqual(refused(12_000));
    });

    it('rounds retryAtMs up to the whole ms at which a token is there', async () => {
      const thirds = { perSecond: 3, burst: 1 };
      expect(await take(0, thirds)).toEqual(granted);
      expect(await take(0, thirds)).toEqual(refused(334));
      // 0.3 of a token at 100 ms; 0.7 more takes 233.3 ms.
      expect(await take(100, thirds)).toEqual(refused(334));
      expect(await take(333, thirds)).toEqual(refused(334));
      expect(await take(334, thirds)).toEqual(granted);
    });

    it('keeps no debt: after any number of refusals, a take at retryAtMs is granted', async () => {
      const slow = { perSecond: 0.5, burst: 1 };
      expect(await take(0, slow)).toEqual(granted);
      let last: ThrottleResult = granted;
      // Steps of 1/8 of a token, exact in binary: the ceil in retryAtMs would turn float drift into a ms.
      for (let ms = 0; ms < 2_000; ms += 250) {
        last = await take(ms, slow);
        expect(last).toEqual(refused(2_000));
      }
      if (last.ok) throw new Error('expected a refusal');
      expect(await take(last.retryAtMs - T0.getTime(), slow)).toEqual(granted);
      expect(await take(2_000, slow)).toEqual(refused(4_000));
    });

    it('keeps a bucket per account and per channel', async () => {
      const one = { burst: 1 };
      expect(await take(0, one)).toEqual(granted);
      expect(await take(0, one)).toEqual(refused(500));
      expect(await take(0, { ...one, channel: 'email' })).toEqual(granted);
      expect(await take(0, { ...one, accountId: OTHER_ACCOUNT })).toEqual(granted);
      expect(await take(0, { ...one, channel: 'email' })).toEqual(refused(500));
      expect(await take(0, { ...one, accountId: OTHER_ACCOUNT })).toEqual(refused(500));
      expect(await take(0, one)).toEqual(refused(500));
    });

    it('mints no tokens for a now earlier than the last seen, and keeps the last update where it is', async () => {
      const one = { perSecond: 1, burst: 1 };
      expect(await take(1_000, one)).toEqual(granted);
      expect(await take(0, one)).toEqual(refused(2_000));
      expect(await take(500, one)).toEqual(refused(2_000));
      expect(await take(1_500, one)).toEqual(refused(2_000));
      expect(await take(2_000, one)).toEqual(granted);
      expect(await take(1_000, one)).toEqual(refused(3_000));
    });

    it('caps the bucket at a smaller burst from the next call on', async () => {
      expect(await take(0, { burst: 5 })).toEqual(granted);
      // Four tokens left; a burst of 2 holds two of them.
      expect(await take(0, { burst: 2 })).toEqual(granted);
      expect(await take(0, { burst: 2 })).toEqual(granted);
      expect(await take(0, { burst: 2 })).toEqual(refused(500));
    });

    it('grants no more than burst to 3 handles taking at once at one now', async () => {
      const three = await handles(3);
      const burst = 5;
      const results = await Promise.all(three.flatMap((handle) => Array.from({ length: 6 }, () => take(0, { burst }, handle))));
      expect(results.filter((r) => r.ok)).toHaveLength(burst);
      expect(results.filter((r) => !r.ok)).toEqual(Array.from({ length: 18 - burst }, () => refused(500)));
      for (const handle of three) expect(await take(0, { burst }, handle)).toEqual(refused(500));
      const [, second, third] = three;
      if (!second || !third) throw new Error('expected 3 handles');
      expect(await take(500, { burst }, second)).toEqual(granted);
      expect(await take(500, { burst }, third)).toEqual(refused(1_000));
    });
  });
}
